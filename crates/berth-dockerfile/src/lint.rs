//! Best-practice checks for Dockerfiles: the mistakes Docker's own guidance
//! warns about, each with a rule id (BuildKit's where one exists, so that
//! `# check=skip=...` settings carry over), a line, a reason and a fix.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::parser::{validate, Dockerfile, Instruction};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// A rule: its id, default level (None: off unless enabled) and what it is about.
pub struct Rule {
    pub id: &'static str,
    pub level: Option<Level>,
    pub description: &'static str,
}

/// Every rule berth knows.
pub const RULES: &[Rule] = &[
    Rule {
        id: "InvalidInstruction",
        level: Some(Level::Error),
        description: "Unknown instruction or flag, or an instruction without its arguments",
    },
    Rule {
        id: "MultipleConsecutiveRun",
        level: Some(Level::Warning),
        description: "Consecutive RUN instructions that could be one layer",
    },
    Rule {
        id: "AptGetUpdateAlone",
        level: Some(Level::Warning),
        description: "apt-get update in a RUN of its own",
    },
    Rule {
        id: "AptGetNoInstallRecommends",
        level: Some(Level::Warning),
        description: "apt-get install without --no-install-recommends",
    },
    Rule {
        id: "AptGetListsNotRemoved",
        level: Some(Level::Warning),
        description: "apt-get install without removing /var/lib/apt/lists",
    },
    Rule {
        id: "PipNoCacheDir",
        level: Some(Level::Warning),
        description: "pip install without --no-cache-dir",
    },
    Rule {
        id: "FromLatestTag",
        level: Some(Level::Warning),
        description: "Base image without a tag, or with latest",
    },
    Rule {
        id: "FromFloatingTag",
        level: None,
        description: "Base image tag that is not fully pinned (x.y.z or a digest)",
    },
    Rule {
        id: "NoUserInFinalStage",
        level: Some(Level::Warning),
        description: "The final stage runs as root: no USER",
    },
    Rule {
        id: "UserRootLast",
        level: Some(Level::Warning),
        description: "The last USER of the final stage is root",
    },
    Rule {
        id: "SecretsUsedInArgOrEnv",
        level: Some(Level::Warning),
        description: "Secrets in ARG or ENV end up in the image",
    },
    Rule {
        id: "SecretFileCopied",
        level: Some(Level::Warning),
        description: "A secret file (.env, SSH keys, *.pem) copied into the image",
    },
    Rule {
        id: "CopyAllBeforeInstall",
        level: Some(Level::Warning),
        description: "COPY . before installing dependencies breaks layer caching",
    },
    Rule {
        id: "NoDockerignore",
        level: Some(Level::Warning),
        description: "No .dockerignore beside the context",
    },
    Rule {
        id: "AddInsteadOfCopy",
        level: Some(Level::Warning),
        description: "ADD where COPY would do",
    },
    Rule {
        id: "JSONArgsRecommended",
        level: Some(Level::Warning),
        description: "CMD or ENTRYPOINT in shell form does not pass signals",
    },
    Rule {
        id: "JSONArgsSingleQuotes",
        level: Some(Level::Warning),
        description: "JSON-form arguments with single quotes run as a shell string",
    },
    Rule {
        id: "WorkdirRelativePath",
        level: Some(Level::Warning),
        description: "Relative WORKDIR",
    },
    Rule {
        id: "CdInRun",
        level: Some(Level::Warning),
        description: "cd in RUN instead of WORKDIR",
    },
    Rule {
        id: "SudoInRun",
        level: Some(Level::Warning),
        description: "sudo in RUN",
    },
    Rule {
        id: "ExposeInvalidPort",
        level: Some(Level::Error),
        description: "EXPOSE of an invalid port",
    },
    Rule {
        id: "ExposeProtoCasing",
        level: Some(Level::Warning),
        description: "EXPOSE protocol not in lower case",
    },
    Rule {
        id: "MaintainerDeprecated",
        level: Some(Level::Warning),
        description: "MAINTAINER is deprecated",
    },
    Rule {
        id: "NoHealthcheck",
        level: Some(Level::Info),
        description: "A final stage that EXPOSEs a port has no HEALTHCHECK",
    },
    Rule {
        id: "DuplicateStageName",
        level: Some(Level::Error),
        description: "Two stages with one name",
    },
    Rule {
        id: "StageUsedBeforeDefined",
        level: Some(Level::Error),
        description: "A stage used before it is defined",
    },
    Rule {
        id: "ReservedStageName",
        level: Some(Level::Error),
        description: "A stage named scratch or context",
    },
    Rule {
        id: "UndefinedVar",
        level: Some(Level::Warning),
        description: "A variable used but never defined",
    },
    Rule {
        id: "StageNameCasing",
        level: Some(Level::Warning),
        description: "Stage names should be lower case",
    },
    Rule {
        id: "FromAsCasing",
        level: Some(Level::Warning),
        description: "FROM and AS keywords in different cases",
    },
    Rule {
        id: "ConsistentInstructionCasing",
        level: Some(Level::Warning),
        description: "Instructions in mixed cases",
    },
    Rule {
        id: "LegacyKeyValueFormat",
        level: Some(Level::Warning),
        description: "ENV/LABEL key value without =",
    },
    Rule {
        id: "MultipleInstructionsDisallowed",
        level: Some(Level::Warning),
        description: "Several CMD, ENTRYPOINT or HEALTHCHECK in one stage: only the last counts",
    },
];

/// One finding.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub level: Level,
    pub line: usize,
    pub message: String,
    pub fix: String,
}

/// How to lint: rules to skip, rules to turn on, the context's facts.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--ignore RULE` (and `all`).
    pub ignore: Vec<String>,
    /// `--enable RULE`, for rules that are off by default.
    pub enable: Vec<String>,
    /// Whether the build context has a .dockerignore (None: unknown, not checked).
    pub has_dockerignore: Option<bool>,
}

struct Stage<'a> {
    name: Option<String>,
    from: &'a Instruction,
    body: Vec<&'a Instruction>,
}

fn stages(df: &Dockerfile) -> Vec<Stage<'_>> {
    let mut out: Vec<Stage> = Vec::new();
    for inst in &df.instructions {
        if inst.name() == "from" {
            let name = (inst.args.len() == 3).then(|| inst.args[2].clone());
            out.push(Stage {
                name,
                from: inst,
                body: Vec::new(),
            });
        } else if let Some(s) = out.last_mut() {
            s.body.push(inst);
        }
    }
    out
}

/// Words of a RUN's shell script (or exec-form args), for pattern checks.
fn script(inst: &Instruction) -> String {
    let mut s = inst.args.join(" ");
    for h in &inst.heredocs {
        s.push('\n');
        s.push_str(&h.content);
    }
    s
}

/// The shell commands of a script, split on `&&`, `||`, `;`, `|` and newlines.
fn commands(script: &str) -> Vec<Vec<String>> {
    script
        .split(['\n', ';', '|', '&'])
        .map(|c| {
            c.split_whitespace()
                .map(|w| w.trim_matches(['"', '\'', '(', ')']).to_string())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|c| !c.is_empty())
        .collect()
}

fn is_cmd(c: &[String], program: &str, sub: &str) -> bool {
    let words: Vec<&str> = c
        .iter()
        .map(String::as_str)
        .filter(|w| !w.starts_with('-'))
        .collect();
    let start = words
        .iter()
        .position(|w| *w == program || w.ends_with(&format!("/{program}")));
    start.is_some_and(|i| words.get(i + 1) == Some(&sub))
}

fn cache_mount(inst: &Instruction, target_hint: &str) -> bool {
    inst.flags
        .iter()
        .any(|f| f.starts_with("--mount=") && f.contains("type=cache") && f.contains(target_hint))
}

const SECRET_WORDS: &[&str] = &[
    "apikey",
    "api_key",
    "auth",
    "credential",
    "credentials",
    "key",
    "password",
    "pass",
    "passwd",
    "pword",
    "secret",
    "token",
];

/// BuildKit's rule: a name part (split on `_`) that is a secret word, as in DB_PASSWORD or GITHUB_TOKEN.
fn secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if lower.contains("public") {
        return false;
    }
    let parts: Vec<&str> = lower.split('_').collect();
    SECRET_WORDS.iter().any(|w| parts.contains(w))
        || lower.contains("api_key")
        || lower.contains("apikey")
}

fn secret_value(value: &str) -> bool {
    let v = value.trim_matches(['"', '\'']);
    let prefixed = [
        "AKIA",
        "ghp_",
        "gho_",
        "github_pat_",
        "sk_live_",
        "xoxb-",
        "xoxp-",
        "glpat-",
        "-----BEGIN",
    ];
    prefixed
        .iter()
        .any(|p| v.starts_with(p) && v.len() >= p.len() + 12)
}

fn levenshtein_free_expose(spec: &str) -> Result<Option<String>, ()> {
    // Returns Ok(Some(proto)) when valid, Err when invalid.
    if spec.contains('$') {
        return Ok(None);
    }
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, Some(proto)),
        None => (spec, None),
    };
    let ports = ports.split_once(':').map(|(_, p)| p).unwrap_or(ports);
    let (lo, hi) = ports.split_once('-').unwrap_or((ports, ports));
    let ok = |p: &str| p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n));
    if !ok(lo) || !ok(hi) || lo.parse::<u32>().unwrap() > hi.parse::<u32>().unwrap() {
        return Err(());
    }
    match proto {
        Some(p) if !matches!(p.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp") => Err(()),
        other => Ok(other.map(String::from)),
    }
}

/// Variables a stage can use without declaring them (besides the proxy args).
const PREDEFINED: &[&str] = &[
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "PATH",
    "HOME",
    "HOSTNAME",
    "TERM",
    "SOURCE_DATE_EPOCH",
];

/// Names a word refers to with `$NAME` or `${NAME...}` (not inside single quotes).
fn vars_used(word: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    let mut single = false;
    while i < chars.len() {
        match chars[i] {
            '\'' => single = !single,
            '\\' => i += 1,
            '$' if !single => {
                let braced = chars.get(i + 1) == Some(&'{');
                let start = if braced { i + 2 } else { i + 1 };
                let mut j = start;
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                let name: String = chars[start..j].iter().collect();
                let has_default = braced && matches!(chars.get(j), Some(':' | '-' | '+' | '?'));
                if !name.is_empty()
                    && !name.starts_with(|c: char| c.is_ascii_digit())
                    && !has_default
                {
                    out.push(name);
                }
                i = j.saturating_sub(1);
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// `# check=skip=A,B;error=true` from the Dockerfile's directives.
fn check_directive(df: &Dockerfile) -> (Vec<String>, bool) {
    let mut skip = Vec::new();
    let mut error = false;
    if let Some(c) = &df.directives.check {
        for part in c.split(';') {
            match part.trim().split_once('=') {
                Some(("skip", v)) => skip.extend(v.split(',').map(|s| s.trim().to_string())),
                Some(("error", v)) => error = v.trim() == "true",
                _ => {}
            }
        }
    }
    (skip, error)
}

/// Lints a parsed Dockerfile.
pub fn lint(df: &Dockerfile, opts: &Options) -> Vec<Finding> {
    let mut raw: Vec<(&'static str, usize, String, String)> = Vec::new();
    let mut add = |rule: &'static str, line: usize, message: String, fix: String| {
        raw.push((rule, line, message, fix))
    };

    if let Err(e) = validate(df) {
        let msg = e.message.lines().next().unwrap_or("").to_string();
        add(
            "InvalidInstruction",
            e.start_line,
            msg,
            "check the instruction against the Dockerfile reference".into(),
        );
    }

    let all = stages(df);
    let names: Vec<(usize, String)> = all
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.name.clone().map(|n| (i, n.to_ascii_lowercase())))
        .collect();
    let mut global_args: BTreeSet<String> = BTreeSet::new();
    for inst in df.instructions.iter().take_while(|i| i.name() != "from") {
        if inst.name() == "arg" {
            global_args.extend(
                inst.args
                    .iter()
                    .map(|a| a.split('=').next().unwrap_or("").to_string()),
            );
        }
    }

    // Casing: the majority case of instruction words wins.
    let upper = df
        .instructions
        .iter()
        .filter(|i| i.command == i.command.to_uppercase())
        .count();
    let lower = df
        .instructions
        .iter()
        .filter(|i| i.command == i.command.to_lowercase())
        .count();
    let majority_upper = upper >= lower;
    for inst in &df.instructions {
        let consistent = if majority_upper {
            inst.command == inst.command.to_uppercase()
        } else {
            inst.command == inst.command.to_lowercase()
        };
        if !consistent {
            let want = if majority_upper {
                inst.command.to_uppercase()
            } else {
                inst.command.to_lowercase()
            };
            add(
                "ConsistentInstructionCasing",
                inst.start_line,
                format!(
                    "Command '{}' should match the case of the command majority ({})",
                    inst.command,
                    if majority_upper {
                        "uppercase"
                    } else {
                        "lowercase"
                    }
                ),
                format!("write {want}"),
            );
        }
    }

    for (idx, stage) in all.iter().enumerate() {
        let from = stage.from;
        let final_stage = idx + 1 == all.len();
        // Stage names.
        if let Some(name) = &stage.name {
            let lname = name.to_ascii_lowercase();
            if names.iter().filter(|(_, n)| *n == lname).count() > 1
                && names.iter().find(|(_, n)| *n == lname).map(|(i, _)| *i) != Some(idx)
            {
                add(
                    "DuplicateStageName",
                    from.start_line,
                    format!("Duplicate stage name {name:?}, stage names should be unique"),
                    format!("rename the stage, e.g. {lname}-{idx}"),
                );
            }
            if lname == "scratch" || lname == "context" {
                add(
                    "ReservedStageName",
                    from.start_line,
                    format!("Stage name should not use the same name as reserved stage {lname:?}"),
                    "choose another name".into(),
                );
            }
            if name != &lname {
                add(
                    "StageNameCasing",
                    from.start_line,
                    format!("Stage name '{name}' should be lowercase"),
                    format!("AS {lname}"),
                );
            }
            let as_word = &from.args[1];
            let from_upper = from.command == from.command.to_uppercase();
            if (from_upper && as_word != &as_word.to_uppercase())
                || (!from_upper && as_word != &as_word.to_lowercase())
            {
                add(
                    "FromAsCasing",
                    from.start_line,
                    format!(
                        "'{}' and '{}' keywords' casing do not match",
                        as_word, from.command
                    ),
                    format!(
                        "{} ... {}",
                        from.command,
                        if from_upper { "AS" } else { "as" }
                    ),
                );
            }
        }
        // The base image.
        if let Some(base) = from.args.first() {
            let lbase = base.to_ascii_lowercase();
            let stage_ref = names.iter().find(|(_, n)| *n == lbase);
            match stage_ref {
                Some((i, _)) if *i >= idx => add(
                    "StageUsedBeforeDefined",
                    from.start_line,
                    format!("FROM {base} names a stage that is defined later (or is this one)"),
                    "move the stage above, or use an image".into(),
                ),
                Some(_) => {}
                None if lbase == "scratch" || base.contains('$') => {}
                None => {
                    let (name_part, tag) = match base.rsplit_once(':') {
                        Some((n, t)) if !t.contains('/') => (n, Some(t)),
                        _ => (base.as_str(), None),
                    };
                    let digest = base.contains('@');
                    if !digest && tag.is_none() {
                        add(
                            "FromLatestTag",
                            from.start_line,
                            format!(
                                "FROM {base} has no tag: it means latest, which changes under you"
                            ),
                            format!("FROM {name_part}:<version>"),
                        );
                    } else if !digest && tag == Some("latest") {
                        add(
                            "FromLatestTag",
                            from.start_line,
                            format!("FROM {base} uses latest, which changes under you"),
                            format!("FROM {name_part}:<version>"),
                        );
                    } else if !digest {
                        let pinned = tag.is_some_and(|t| {
                            t.split(['-', '_'])
                                .next()
                                .unwrap_or("")
                                .split('.')
                                .filter(|p| p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty())
                                .count()
                                >= 3
                        });
                        if !pinned {
                            add(
                                "FromFloatingTag",
                                from.start_line,
                                format!("FROM {base} uses a floating tag"),
                                format!("pin it: FROM {name_part}:x.y.z or {name_part}@sha256:..."),
                            );
                        }
                    }
                }
            }
        }

        let mut defined: BTreeSet<String> = BTreeSet::new();
        let mut run_streak: Vec<&Instruction> = Vec::new();
        let mut copied_all: Option<&Instruction> = None;
        let mut last_user: Option<&Instruction> = None;
        let mut counts: HashMap<String, Vec<usize>> = HashMap::new();
        let mut exposes = false;
        let mut healthcheck = false;
        for inst in &stage.body {
            let name = inst.name();
            if name == "run" {
                run_streak.push(inst);
            } else {
                flush_runs(&mut run_streak, &mut add);
            }
            match name.as_str() {
                "run" => {
                    let s = script(inst);
                    let cmds = commands(&s);
                    let updates = cmds
                        .iter()
                        .any(|c| is_cmd(c, "apt-get", "update") || is_cmd(c, "apt", "update"));
                    let installs: Vec<&Vec<String>> = cmds
                        .iter()
                        .filter(|c| is_cmd(c, "apt-get", "install") || is_cmd(c, "apt", "install"))
                        .collect();
                    if updates && installs.is_empty() {
                        add("AptGetUpdateAlone", inst.start_line, "apt-get update in a RUN of its own is cached apart from the install, which then uses a stale package list".into(), "RUN apt-get update && apt-get install -y --no-install-recommends <pkgs> && rm -rf /var/lib/apt/lists/*".into());
                    }
                    for c in &installs {
                        if !c.iter().any(|w| w == "--no-install-recommends") {
                            add("AptGetNoInstallRecommends", inst.start_line, "apt-get install without --no-install-recommends pulls in packages you did not ask for".into(), "apt-get install -y --no-install-recommends <pkgs>".into());
                        }
                    }
                    if !installs.is_empty()
                        && !s.contains("/var/lib/apt/lists")
                        && !cache_mount(inst, "/var/lib/apt")
                        && !cache_mount(inst, "/var/cache/apt")
                    {
                        add(
                            "AptGetListsNotRemoved",
                            inst.start_line,
                            "apt-get install leaves /var/lib/apt/lists in the layer (tens of MB)"
                                .into(),
                            "end the RUN with && rm -rf /var/lib/apt/lists/*".into(),
                        );
                    }
                    let pip = cmds.iter().any(|c| {
                        (is_cmd(c, "pip", "install")
                            || is_cmd(c, "pip3", "install")
                            || (c.contains(&"-m".to_string())
                                && c.contains(&"pip".to_string())
                                && c.contains(&"install".to_string())))
                            && !c.iter().any(|w| w == "--no-cache-dir")
                    });
                    if pip && !cache_mount(inst, "pip") && !defined.contains("PIP_NO_CACHE_DIR") {
                        add("PipNoCacheDir", inst.start_line, "pip install keeps its download cache in the layer".into(), "pip install --no-cache-dir ... (or RUN --mount=type=cache,target=/root/.cache/pip)".into());
                    }
                    if cmds.iter().any(|c| c.first().is_some_and(|w| w == "cd")) {
                        add(
                            "CdInRun",
                            inst.start_line,
                            "cd in RUN only lasts for that RUN and hides where later steps run"
                                .into(),
                            "WORKDIR /path".into(),
                        );
                    }
                    if cmds.iter().any(|c| c.first().is_some_and(|w| w == "sudo")) {
                        add("SudoInRun", inst.start_line, "sudo in RUN: build steps already run as the current USER, and sudo adds a TTY-dependent, hard-to-predict layer".into(), "switch with USER root ... USER app around the step".into());
                    }
                    if copied_all.is_some() && installs_dependencies(&cmds) {
                        let c = copied_all.take().unwrap();
                        add("CopyAllBeforeInstall", c.start_line, format!("COPY {} before installing dependencies (line {}): any source change re-runs the install", c.args.join(" "), inst.start_line), "COPY only the dependency manifests (requirements.txt, package*.json, go.mod) first, install, then COPY . .".into());
                    }
                    json_single_quotes(inst, &mut add);
                }
                "copy" | "add" => {
                    let sources = &inst.args[..inst.args.len().saturating_sub(1)];
                    let from_context = inst.flag("from").is_none();
                    if from_context {
                        for src in sources {
                            let base = src.rsplit('/').next().unwrap_or(src);
                            if base == ".env"
                                || base.starts_with("id_rsa")
                                || base.starts_with("id_ed25519")
                                || base.starts_with("id_ecdsa")
                                || base.ends_with(".pem")
                                || base.ends_with(".key")
                                || src.contains(".aws/credentials")
                            {
                                add("SecretFileCopied", inst.start_line, format!("{src} looks like a secret and would be stored in a layer"), "pass it at build time: RUN --mount=type=secret,id=... (and list it in .dockerignore)".into());
                            }
                        }
                        if sources.iter().any(|s| s == "." || s == "./") && copied_all.is_none() {
                            copied_all = Some(inst);
                        }
                    }
                    if let Some(f) = inst.flag("from") {
                        let lf = f.to_ascii_lowercase();
                        if let Some((i, _)) = names.iter().find(|(_, n)| *n == lf) {
                            if *i >= idx {
                                add("StageUsedBeforeDefined", inst.start_line, format!("COPY --from={f} names a stage that is defined later (or is this one)"), "move that stage above this one".into());
                            }
                        }
                    }
                    if name == "add" && inst.heredocs.is_empty() {
                        let archive = |s: &str| {
                            [
                                ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz",
                                ".tar.zst",
                            ]
                            .iter()
                            .any(|e| s.ends_with(e))
                        };
                        let remote = |s: &str| s.contains("://") || s.starts_with("git@");
                        if !sources.is_empty() && sources.iter().all(|s| !archive(s) && !remote(s))
                        {
                            add("AddInsteadOfCopy", inst.start_line, "ADD of plain local files: COPY does the same with no surprises (ADD also unpacks archives and fetches URLs)".into(), format!("COPY {}", inst.args.join(" ")));
                        }
                    }
                    check_vars(inst, &defined, &global_args, &mut add);
                }
                "cmd" | "entrypoint" => {
                    counts
                        .entry(name.clone())
                        .or_default()
                        .push(inst.start_line);
                    if !inst.json && !inst.args.is_empty() {
                        json_single_quotes(inst, &mut add);
                        if !inst.args[0].trim_start().starts_with('[') {
                            add("JSONArgsRecommended", inst.start_line, format!("JSON arguments recommended for {} to prevent unintended behavior related to OS signals", inst.command.to_uppercase()), format!("{} [\"{}\"]", inst.command.to_uppercase(), inst.args[0].split_whitespace().collect::<Vec<_>>().join("\", \"")));
                        }
                    }
                }
                "healthcheck" => {
                    counts
                        .entry(name.clone())
                        .or_default()
                        .push(inst.start_line);
                    healthcheck = true;
                }
                "workdir" => {
                    if let Some(p) = inst.args.first() {
                        if !p.starts_with('/')
                            && !p.starts_with('$')
                            && !defined.contains("__workdir_set")
                        {
                            add("WorkdirRelativePath", inst.start_line, format!("Relative workdir {p:?} can have unexpected results if the base image changes"), format!("WORKDIR /{p}"));
                        }
                        if p.starts_with('/') {
                            defined.insert("__workdir_set".into());
                        }
                    }
                    check_vars(inst, &defined, &global_args, &mut add);
                }
                "expose" => {
                    exposes = true;
                    for spec in &inst.args {
                        match levenshtein_free_expose(spec) {
                            Err(()) => add("ExposeInvalidPort", inst.start_line, format!("EXPOSE {spec}: not a port (1-65535, a range a-b, optionally /tcp, /udp or /sctp)"), "EXPOSE 8080/tcp".into()),
                            Ok(Some(proto)) if proto != proto.to_ascii_lowercase() => add("ExposeProtoCasing", inst.start_line, format!("Defined protocol '{spec}' in EXPOSE instruction should be lowercase"), format!("EXPOSE {}", spec.to_ascii_lowercase())),
                            _ => {}
                        }
                    }
                }
                "maintainer" => add(
                    "MaintainerDeprecated",
                    inst.start_line,
                    "Maintainer instruction is deprecated in favor of using label".into(),
                    format!(
                        "LABEL org.opencontainers.image.authors={:?}",
                        inst.args.join(" ")
                    ),
                ),
                "user" => last_user = Some(inst),
                "arg" | "env" => {
                    if name == "env" {
                        check_vars(inst, &defined, &global_args, &mut add);
                    }
                    let pairs: Vec<(String, String)> = if name == "env" {
                        inst.args
                            .chunks(3)
                            .map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or_default()))
                            .collect()
                    } else {
                        inst.args
                            .iter()
                            .map(|a| {
                                a.split_once('=')
                                    .map(|(k, v)| (k.to_string(), v.to_string()))
                                    .unwrap_or((a.clone(), String::new()))
                            })
                            .collect()
                    };
                    if name == "env" && inst.args.get(2).is_some_and(|s| s.is_empty()) {
                        add("LegacyKeyValueFormat", inst.start_line, "\"ENV key=value\" should be used instead of legacy \"ENV key value\" format".into(), format!("ENV {}={:?}", inst.args[0], inst.args[1]));
                    }
                    for (k, v) in pairs {
                        if secret_name(&k) || secret_value(&v) {
                            add("SecretsUsedInArgOrEnv", inst.start_line, format!("Do not use ARG or ENV instructions for sensitive data ({} {k:?})", inst.command.to_uppercase()), "use a build secret: RUN --mount=type=secret,id=...".into());
                        }
                        if name == "arg" && global_args.contains(&k) {
                            defined.insert(k.clone());
                        }
                        defined.insert(k);
                    }
                }
                "label" => {
                    if inst.args.get(2).is_some_and(|s| s.is_empty()) {
                        add("LegacyKeyValueFormat", inst.start_line, "\"LABEL key=value\" should be used instead of legacy \"LABEL key value\" format".into(), format!("LABEL {}={:?}", inst.args[0], inst.args[1]));
                    }
                    check_vars(inst, &defined, &global_args, &mut add);
                }
                "volume" | "stopsignal" => check_vars(inst, &defined, &global_args, &mut add),
                _ => {}
            }
        }
        flush_runs(&mut run_streak, &mut add);
        for (kind, lines) in &counts {
            if lines.len() > 1 {
                for l in &lines[..lines.len() - 1] {
                    add("MultipleInstructionsDisallowed", *l, format!("Multiple {} instructions should not be used in the same stage because only the last one will be used", kind.to_uppercase()), "keep only the last one".into());
                }
            }
        }
        if final_stage {
            match last_user {
                None => add(
                    "NoUserInFinalStage",
                    from.start_line,
                    "The final stage has no USER: the container runs as root".into(),
                    "RUN useradd --create-home app (or adduser -D app) and USER app".into(),
                ),
                Some(u)
                    if matches!(
                        u.args.first().map(|s| s.split(':').next().unwrap_or("")),
                        Some("root" | "0")
                    ) =>
                {
                    add(
                        "UserRootLast",
                        u.start_line,
                        "The last USER of the final stage is root: the container runs as root"
                            .into(),
                        "end with USER app (a non-root user)".into(),
                    )
                }
                _ => {}
            }
            if exposes && !healthcheck {
                add("NoHealthcheck", from.start_line, "This stage EXPOSEs a port but has no HEALTHCHECK, so nothing notices a hung server".into(), "HEALTHCHECK CMD wget -qO- http://localhost:PORT/health || exit 1".into());
            }
        }
    }
    if opts.has_dockerignore == Some(false) {
        let copies = df.instructions.iter().find(|i| {
            matches!(i.name().as_str(), "copy" | "add")
                && i.flag("from").is_none()
                && i.heredocs.is_empty()
        });
        if let Some(c) = copies {
            add("NoDockerignore", c.start_line, "No .dockerignore beside the context: everything in it (.git, build output, secrets) is sent and may be copied".into(), "add a .dockerignore (e.g. .git, target/, node_modules/, .env)".into());
        }
    }
    finalize(df, opts, raw)
}

fn flush_runs(
    streak: &mut Vec<&Instruction>,
    add: &mut impl FnMut(&'static str, usize, String, String),
) {
    let plain: Vec<&&Instruction> = streak.iter().filter(|r| r.flags.is_empty()).collect();
    if plain.len() >= 2 && plain.len() == streak.len() {
        add(
            "MultipleConsecutiveRun",
            streak[1].start_line,
            format!(
                "{} consecutive RUN instructions (lines {}-{}) make {} layers",
                streak.len(),
                streak[0].start_line,
                streak.last().unwrap().end_line,
                streak.len()
            ),
            "join them into one RUN with && (and \\ line continuations)".into(),
        );
    }
    streak.clear();
}

fn installs_dependencies(cmds: &[Vec<String>]) -> bool {
    cmds.iter().any(|c| {
        is_cmd(c, "pip", "install")
            || is_cmd(c, "pip3", "install")
            || is_cmd(c, "npm", "install")
            || is_cmd(c, "npm", "ci")
            || is_cmd(c, "yarn", "install")
            || is_cmd(c, "pnpm", "install")
            || is_cmd(c, "bundle", "install")
            || is_cmd(c, "composer", "install")
            || (is_cmd(c, "go", "mod") && c.iter().any(|w| w == "download"))
            || is_cmd(c, "poetry", "install")
            || is_cmd(c, "uv", "sync")
    })
}

fn json_single_quotes(
    inst: &Instruction,
    add: &mut impl FnMut(&'static str, usize, String, String),
) {
    if let Some(a) = inst.args.first() {
        let t = a.trim();
        if !inst.json && t.starts_with('[') && t.ends_with(']') && t.contains('\'') {
            add(
                "JSONArgsSingleQuotes",
                inst.start_line,
                format!(
                    "{} {t} is not JSON (single quotes), so it runs as a shell string",
                    inst.command.to_uppercase()
                ),
                format!("{} {}", inst.command.to_uppercase(), t.replace('\'', "\"")),
            );
        }
    }
}

fn check_vars(
    inst: &Instruction,
    defined: &BTreeSet<String>,
    global: &BTreeSet<String>,
    add: &mut impl FnMut(&'static str, usize, String, String),
) {
    let mut reported = BTreeSet::new();
    for a in &inst.args {
        for v in vars_used(a) {
            if !defined.contains(&v)
                && !PREDEFINED.contains(&v.as_str())
                && !crate::scope::PROXY_ARGS.contains(&v.as_str())
                && reported.insert(v.clone())
            {
                let hint = if global.contains(&v) {
                    format!(
                        "ARG {v} before FROM is not visible in the stage: add ARG {v} after FROM"
                    )
                } else {
                    format!("declare it: ARG {v} or ENV {v}=...")
                };
                add(
                    "UndefinedVar",
                    inst.start_line,
                    format!("Usage of undefined variable '${v}'"),
                    hint,
                );
            }
        }
    }
}

fn finalize(
    df: &Dockerfile,
    opts: &Options,
    raw: Vec<(&'static str, usize, String, String)>,
) -> Vec<Finding> {
    let (skip, error) = check_directive(df);
    let skipped = |id: &str| {
        skip.iter()
            .chain(&opts.ignore)
            .any(|s| s == id || s == "all")
    };
    let mut out: Vec<Finding> = raw
        .into_iter()
        .filter_map(|(rule, line, message, fix)| {
            let meta = RULES.iter().find(|r| r.id == rule)?;
            let level = match meta.level {
                Some(l) => l,
                None if opts.enable.iter().any(|e| e == rule) => Level::Warning,
                None => return None,
            };
            if skipped(rule) {
                return None;
            }
            let level = if error && level == Level::Warning {
                Level::Error
            } else {
                level
            };
            Some(Finding {
                rule,
                level,
                line,
                message,
                fix,
            })
        })
        .collect();
    out.sort_by_key(|f| (f.line, f.rule));
    out.dedup();
    out
}

#[cfg(test)]
mod tests;
