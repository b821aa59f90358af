//! Secrets shipped in an image: private keys, cloud and forge tokens, JWTs,
//! `password=` assignments in config files — in every layer's files (a file
//! a later layer deletes still ships) and in the image config and history.
//!
//! A finding never carries the secret: only its first and last characters.

use std::path::Path;
use std::sync::OnceLock;

use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::severity::Severity;
use crate::tree::Whiteouts;

/// Bumped whenever the rules change, so that cached layer results are made
/// again.
pub const RULES_VERSION: u32 = 1;

/// Files larger than this are not read (no credential file is).
const FILE_LIMIT: u64 = 8 << 20;

struct Rule {
    id: &'static str,
    title: &'static str,
    severity: Severity,
    /// The secret is the first group, or the whole match.
    pattern: &'static str,
    /// Only in configuration files (where `key = value` means something).
    config_only: bool,
}

const RULES: &[Rule] = &[
    Rule {
        id: "private-key",
        title: "Private key",
        severity: Severity::Critical,
        pattern: r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----\s*(?:[A-Za-z0-9-]+: [^\n]*\n\s*)*([A-Za-z0-9+/=\r\n]{64,})",
        config_only: false,
    },
    Rule {
        id: "aws-access-key-id",
        title: "AWS access key ID",
        severity: Severity::Critical,
        pattern: r"\b((?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b",
        config_only: false,
    },
    Rule {
        id: "aws-secret-access-key",
        title: "AWS secret access key",
        severity: Severity::Critical,
        pattern: r#"(?i)aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})\b"#,
        config_only: false,
    },
    Rule {
        id: "gcp-service-account",
        title: "GCP service account key",
        severity: Severity::Critical,
        pattern: r#""private_key_id"\s*:\s*"([a-f0-9]{40})""#,
        config_only: false,
    },
    Rule {
        id: "github-token",
        title: "GitHub token",
        severity: Severity::Critical,
        pattern: r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82})\b",
        config_only: false,
    },
    Rule {
        id: "gitlab-token",
        title: "GitLab personal access token",
        severity: Severity::Critical,
        pattern: r"\b(glpat-[A-Za-z0-9_-]{20})\b",
        config_only: false,
    },
    Rule {
        id: "slack-token",
        title: "Slack token",
        severity: Severity::High,
        pattern: r"\b(xox[baprs]-[0-9A-Za-z-]{10,250})",
        config_only: false,
    },
    Rule {
        id: "slack-webhook",
        title: "Slack webhook",
        severity: Severity::Medium,
        pattern: r"(https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+)",
        config_only: false,
    },
    Rule {
        id: "stripe-key",
        title: "Stripe secret key",
        severity: Severity::Critical,
        pattern: r"\b((?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{24,99})\b",
        config_only: false,
    },
    Rule {
        id: "npm-token",
        title: "npm access token",
        severity: Severity::Critical,
        pattern: r"\b(npm_[A-Za-z0-9]{36})\b",
        config_only: false,
    },
    Rule {
        id: "pypi-token",
        title: "PyPI upload token",
        severity: Severity::Critical,
        pattern: r"\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})",
        config_only: false,
    },
    Rule {
        id: "docker-token",
        title: "Docker personal access token",
        severity: Severity::Critical,
        pattern: r"\b(dckr_pat_[A-Za-z0-9_-]{27})\b",
        config_only: false,
    },
    Rule {
        id: "docker-config-auth",
        title: "Registry credentials in a Docker config",
        severity: Severity::High,
        pattern: r#""auth"\s*:\s*"([A-Za-z0-9+/]{8,}={0,2})""#,
        config_only: true,
    },
    Rule {
        id: "huggingface-token",
        title: "Hugging Face access token",
        severity: Severity::Critical,
        pattern: r"\b(hf_[A-Za-z]{34})\b",
        config_only: false,
    },
    Rule {
        id: "jwt",
        title: "JSON Web Token",
        severity: Severity::Medium,
        pattern: r"\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})",
        config_only: false,
    },
    Rule {
        id: "password-assignment",
        title: "Password or secret assigned in a config file",
        severity: Severity::High,
        pattern: r#"(?i)[A-Za-z0-9_.-]*(?:password|passwd|secret|api_?key|access_?token|auth_?token|private_?key)[A-Za-z0-9_.-]*["']?\s*[:=]\s*["']?([^\s"'#;,]{4,})"#,
        config_only: true,
    },
];

struct Compiled {
    any: RegexSet,
    each: Vec<Regex>,
}

fn compiled() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| Compiled {
        any: RegexSet::new(RULES.iter().map(|r| r.pattern)).expect("the rules compile"),
        each: RULES
            .iter()
            .map(|r| Regex::new(r.pattern).expect("the rules compile"))
            .collect(),
    })
}

/// One secret found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    /// A file's path, or `config:Env`, `history[3]`, `config:Labels`.
    pub path: String,
    pub line: usize,
    /// The first and last characters only.
    pub redacted: String,
    /// The layer's diff id (empty for the config and history).
    #[serde(default)]
    pub layer: String,
    /// Whether a later layer deletes or replaces the file (it still ships).
    #[serde(default)]
    pub removed_later: bool,
}

/// One layer's secrets, and what it deletes of the layers below.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LayerSecrets {
    pub secrets: Vec<Secret>,
    pub whiteouts: Whiteouts,
    pub warnings: Vec<String>,
}

/// Every secret in the files of the tree at `root`.
pub fn scan_tree(root: &Path) -> LayerSecrets {
    let mut out = LayerSecrets::default();
    let (whiteouts, problems) = crate::tree::walk(root, &mut |path, relpath, meta| {
        if meta.len() == 0 || meta.len() > FILE_LIMIT || skipped(relpath) {
            return;
        }
        let Ok(bytes) = std::fs::read(path) else {
            out.warnings.push(format!("{relpath}: could not be read"));
            return;
        };
        // Binary files: only the rules that stand alone, on the text runs.
        let head = &bytes[..bytes.len().min(8192)];
        if head.contains(&0) {
            return;
        }
        let text = String::from_utf8_lossy(&bytes);
        out.secrets
            .extend(scan_text(&text, relpath, is_config(relpath)));
    });
    out.whiteouts = whiteouts;
    out.warnings.extend(problems);
    out
}

/// Documentation and translations: where example keys live.
fn skipped(path: &str) -> bool {
    [
        "usr/share/doc/",
        "usr/share/man/",
        "usr/share/locale/",
        "usr/share/i18n/",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

/// Configuration files, where `key = value` is an assignment.
fn is_config(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    matches!(
        ext,
        "env"
            | "ini"
            | "cfg"
            | "conf"
            | "config"
            | "cnf"
            | "properties"
            | "yaml"
            | "yml"
            | "toml"
            | "json"
            | "xml"
            | "npmrc"
            | "pypirc"
    ) || matches!(
        name,
        ".env"
            | ".netrc"
            | ".pgpass"
            | "credentials"
            | ".git-credentials"
            | ".npmrc"
            | ".pypirc"
            | "wp-config.php"
            | "settings.py"
    ) || name.starts_with(".env.")
}

/// Every rule's matches in `text`, at `place`.
pub fn scan_text(text: &str, place: &str, config: bool) -> Vec<Secret> {
    let c = compiled();
    let hits = c.any.matches(text);
    if !hits.matched_any() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for i in hits.iter() {
        let rule = &RULES[i];
        if rule.config_only && !config {
            continue;
        }
        for caps in c.each[i].captures_iter(text) {
            let m = caps.get(1).unwrap_or_else(|| caps.get(0).expect("a match"));
            let value = m.as_str().trim();
            if rule.id == "password-assignment" && placeholder(value) {
                continue;
            }
            let line = text[..m.start()].matches('\n').count() + 1;
            out.push(Secret {
                rule: rule.id.to_string(),
                title: rule.title.to_string(),
                severity: rule.severity,
                path: place.to_string(),
                line,
                redacted: redact(value),
                layer: String::new(),
                removed_later: false,
            });
        }
    }
    // The first (most specific) rule that found a value keeps it.
    out.sort_by_key(|s| s.line);
    out.dedup_by(|b, a| a.line == b.line && a.redacted == b.redacted);
    out
}

/// Values that name a secret rather than hold one.
fn placeholder(v: &str) -> bool {
    let l = v.to_ascii_lowercase();
    v.starts_with('$')
        || v.starts_with('{')
        || v.starts_with('<')
        || v.starts_with('%')
        || v.starts_with('/')
        || v.starts_with('*')
        || l.chars().all(|c| c == 'x')
        || matches!(
            l.as_str(),
            "null"
                | "none"
                | "true"
                | "false"
                | "required"
                | "optional"
                | "string"
                | "password"
                | "secret"
        )
}

/// `hunter2` → `h*****2`: never the secret itself.
pub fn redact(v: &str) -> String {
    let chars: Vec<char> = v.chars().filter(|c| !c.is_whitespace()).collect();
    match chars.len() {
        0 => String::new(),
        1..=3 => "*".repeat(chars.len()),
        n => format!(
            "{}{}{}",
            chars[0],
            "*".repeat((n - 2).min(16)),
            chars[n - 1]
        ),
    }
}

/// Secrets in an image config: `Env` (a secret-named variable with a
/// value, or any token rule), labels, and each history step's
/// `created_by` (where build arguments show).
pub fn scan_config(config: &Value) -> Vec<Secret> {
    let mut out = Vec::new();
    let env = config["config"]["Env"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, e) in env.iter().enumerate() {
        let Some(e) = e.as_str() else { continue };
        let place = "config:Env";
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        if secret_name(k) && !v.is_empty() && !placeholder(v) {
            out.push(Secret {
                rule: "env-secret".into(),
                title: "Secret in an environment variable".into(),
                severity: Severity::High,
                path: place.into(),
                line: i + 1,
                redacted: format!("{k}={}", redact(v)),
                layer: String::new(),
                removed_later: false,
            });
            continue;
        }
        out.extend(scan_text(e, place, false).into_iter().map(|mut s| {
            s.line = i + 1;
            s
        }));
    }
    if let Some(labels) = config["config"]["Labels"].as_object() {
        for (i, (k, v)) in labels.iter().enumerate() {
            let text = format!("{k}={}", v.as_str().unwrap_or_default());
            out.extend(
                scan_text(&text, "config:Labels", true)
                    .into_iter()
                    .map(|mut s| {
                        s.line = i + 1;
                        s
                    }),
            );
        }
    }
    if let Some(history) = config["history"].as_array() {
        for (i, h) in history.iter().enumerate() {
            let Some(cmd) = h["created_by"].as_str() else {
                continue;
            };
            let place = format!("history[{i}]");
            out.extend(scan_text(cmd, &place, true));
        }
    }
    out
}

fn secret_name(k: &str) -> bool {
    let k = k.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
        "ACCESS_KEY",
    ]
    .iter()
    .any(|w| k.contains(w))
        && !k.ends_with("_FILE")
        && !k.ends_with("_PATH")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_keys() {
        let gh = format!("ghp_{}", "a1B2".repeat(9));
        let text = format!("line one\ntoken: {gh}\nAKIA{}\n", "Z".repeat(16));
        let s = scan_text(&text, "app/x.txt", false);
        let rules: Vec<&str> = s.iter().map(|s| s.rule.as_str()).collect();
        assert_eq!(rules, vec!["github-token", "aws-access-key-id"]);
        assert_eq!(s[0].line, 2);
        assert_eq!(s[0].redacted, format!("g{}2", "*".repeat(16)));
        assert!(!s[0].redacted.contains(&gh[1..10]));
        let key = format!(
            "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
            "MIIEow".repeat(20)
        );
        assert_eq!(scan_text(&key, "k.pem", false)[0].rule, "private-key");
        // Code that only names the header is not a key.
        assert!(scan_text("if line == \"-----BEGIN PRIVATE KEY-----\":", "x.py", false).is_empty());
    }

    #[test]
    fn every_rule_finds_its_kind() {
        let r = |n: usize| "aB3dE6gH9j".repeat(10)[..n].to_string();
        let lower = |n: usize| "abcdefghij".repeat(10)[..n].to_string();
        let hex = |n: usize| "0123456789abcdef".repeat(10)[..n].to_string();
        let samples = [
            (
                "aws-access-key-id",
                format!("key AKIA{}", "J7K2L9M4N6P8Q3R5"),
            ),
            (
                "aws-secret-access-key",
                format!("aws_secret_access_key = {}", r(40)),
            ),
            (
                "gcp-service-account",
                format!(
                    r#"{{"type": "service_account", "private_key_id": "{}"}}"#,
                    hex(40)
                ),
            ),
            ("github-token", format!("ghs_{}", r(36))),
            ("github-token", format!("github_pat_{}", r(82))),
            ("gitlab-token", format!("glpat-{}", r(20))),
            ("slack-token", "xoxb-1234567890-abcdefghij".to_string()),
            (
                "slack-webhook",
                "https://hooks.slack.com/services/T0123ABCD/B0123ABCD/abcdefghijklmnop".to_string(),
            ),
            ("stripe-key", format!("sk_live_{}", r(24))),
            ("npm-token", format!("npm_{}", r(36))),
            ("pypi-token", format!("pypi-AgEIcHlwaS5vcmc{}", r(60))),
            ("docker-token", format!("dckr_pat_{}", r(27))),
            ("huggingface-token", format!("hf_{}", lower(34))),
            ("jwt", format!("eyJ{}.eyJ{}.{}", r(20), r(20), r(20))),
            (
                "docker-config-auth",
                format!(r#"{{"auths": {{"ghcr.io": {{"auth": "{}"}}}}}}"#, r(24)),
            ),
            ("password-assignment", "secret_key: Tr0ub4dor3".to_string()),
        ];
        let mut covered = std::collections::BTreeSet::from(["private-key"]); // tokens_and_keys
        for (rule, text) in &samples {
            let found = scan_text(text, "etc/app.json", true);
            assert!(
                found.iter().any(|s| s.rule == *rule),
                "{rule}: {text:?} gave {found:?}"
            );
            covered.insert(rule);
        }
        for rule in RULES {
            assert!(covered.contains(rule.id), "no sample for {}", rule.id);
        }
    }

    #[test]
    fn assignments_only_in_config_files() {
        let t = "db_password = hunter22\napi_key: ${API_KEY}\n";
        assert!(scan_text(t, "app/main.c", is_config("app/main.c")).is_empty());
        let s = scan_text(t, "etc/app.conf", is_config("etc/app.conf"));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].redacted, "h******2");
        assert!(is_config("srv/.env"));
        assert!(is_config("srv/.env.production"));
    }

    #[test]
    fn config_env_and_history() {
        let cfg: Value = serde_json::json!({
            "config": {"Env": ["PATH=/bin", "DATABASE_PASSWORD=s3cretpass", "TOKEN_FILE=/run/secrets/t", "EMPTY_SECRET="]},
            "history": [{"created_by": "|1 NPM_TOKEN=npm_abcdefghijklmnopqrstuvwxyz0123456789 /bin/sh -c npm ci"}]
        });
        let s = scan_config(&cfg);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!((s[0].rule.as_str(), s[0].line), ("env-secret", 2));
        assert_eq!(s[0].redacted, "DATABASE_PASSWORD=s********s");
        assert_eq!(
            (s[1].rule.as_str(), s[1].path.as_str()),
            ("npm-token", "history[0]")
        );
    }
}
