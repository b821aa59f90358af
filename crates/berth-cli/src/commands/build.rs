//! `build`: docker's flags over the engine's build.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use berth_engine::build::progress::{Mode, Progress};
use berth_engine::build::BuildOptions;
use berth_engine::Engine;

use super::CliError;
use crate::cli::{BuildArgs, BuilderPruneArgs};

fn key_values(list: &[String], what: &str) -> Result<BTreeMap<String, String>, CliError> {
    let mut out = BTreeMap::new();
    for item in list {
        match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            // `--build-arg NAME` takes NAME from the environment, as docker does.
            None if what == "--build-arg" && !item.is_empty() => {
                if let Ok(v) = std::env::var(item) {
                    out.insert(item.clone(), v);
                }
            }
            None if what == "--label" && !item.is_empty() => {
                out.insert(item.clone(), String::new());
            }
            _ => {
                return Err(CliError::new(
                    1,
                    format!("invalid {what} {item:?}: want KEY=VALUE"),
                ))
            }
        }
    }
    Ok(out)
}

/// Where `--output` sends the result.
enum Output {
    Local(PathBuf),
    Tar(Option<PathBuf>),
    Archive(Option<PathBuf>),
}

fn parse_output(spec: &str) -> Result<Output, CliError> {
    if !spec.contains('=') {
        return Ok(if spec == "-" {
            Output::Tar(None)
        } else {
            Output::Local(PathBuf::from(spec))
        });
    }
    let fields: BTreeMap<&str, &str> = spec.split(',').filter_map(|f| f.split_once('=')).collect();
    let dest = fields
        .get("dest")
        .map(|d| PathBuf::from(*d))
        .filter(|d| d.as_os_str() != "-");
    match fields.get("type").copied() {
        Some("local") => dest
            .map(Output::Local)
            .ok_or_else(|| CliError::new(1, "--output type=local needs dest=DIR")),
        Some("tar") => Ok(Output::Tar(dest)),
        Some("oci") | Some("docker") => Ok(Output::Archive(dest)),
        Some("image") | Some("registry") | None => Err(CliError::new(
            1,
            format!("--output {spec}: use type=local, tar, oci or docker"),
        )),
        Some(other) => Err(CliError::new(
            1,
            format!("--output: unknown type {other:?} (local, tar, oci, docker)"),
        )),
    }
}

fn export(
    engine: &Engine,
    id: &berth_image::Digest,
    out: Output,
    untagged: bool,
) -> Result<(), CliError> {
    let fail = |e: berth_engine::EngineError| CliError::new(1, format!("exporting: {e}"));
    let to = |path: &Option<PathBuf>| -> Result<Box<dyn std::io::Write>, CliError> {
        Ok(match path {
            Some(p) => Box::new(
                std::fs::File::create(p)
                    .map_err(|e| CliError::new(1, format!("--output {}: {e}", p.display())))?,
            ),
            None => Box::new(std::io::stdout()),
        })
    };
    let is_archive = matches!(out, Output::Archive(_));
    match out {
        Output::Local(dir) => engine.export_to_dir(id, &dir).map_err(fail)?,
        Output::Tar(path) => engine.export_rootfs(id, &mut to(&path)?).map_err(fail)?,
        Output::Archive(path) => engine
            .save(&[id.to_string()], &mut to(&path)?)
            .map_err(fail)?,
    }
    // An exported result with no name is not kept in the store, as docker does.
    if untagged && !is_archive {
        let _ = engine.remove_image(id.as_str(), false);
    }
    Ok(())
}

/// `--call outline|targets`: what the Dockerfile offers, nothing built.
fn call(a: &BuildArgs, what: &str) -> Result<i32, CliError> {
    let path = a
        .file
        .clone()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(&a.path).join("Dockerfile"));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| CliError::new(1, format!("failed to read {}: {e}", path.display())))?;
    let df = berth_dockerfile::parse(&text)
        .map_err(|e| CliError::new(1, e.located(&path.display().to_string())))?;
    let stages: Vec<&berth_dockerfile::Instruction> = df
        .instructions
        .iter()
        .filter(|i| i.name() == "from")
        .collect();
    match what {
        "targets" => {
            println!("TARGET{}DESCRIPTION", " ".repeat(14));
            for (n, s) in stages.iter().enumerate() {
                let name = s.args.get(2).cloned().unwrap_or_else(|| n.to_string());
                let desc = s.comments.last().cloned().unwrap_or_default();
                let default = if n + 1 == stages.len() {
                    " (default)"
                } else {
                    ""
                };
                println!("{:<20}{desc}", format!("{name}{default}"));
            }
        }
        "outline" => {
            let args: Vec<&berth_dockerfile::Instruction> = df
                .instructions
                .iter()
                .filter(|i| i.name() == "arg")
                .collect();
            println!(
                "TARGET:      {}",
                a.target
                    .clone()
                    .or_else(|| stages.last().and_then(|s| s.args.get(2).cloned()))
                    .unwrap_or_default()
            );
            println!(
                "\nBUILD ARG{}VALUE{}DESCRIPTION",
                " ".repeat(11),
                " ".repeat(11)
            );
            for i in args {
                for arg in &i.args {
                    let (k, v) = arg.split_once('=').unwrap_or((arg, "<null>"));
                    println!(
                        "{k:<20}{v:<16}{}",
                        i.comments.last().cloned().unwrap_or_default()
                    );
                }
            }
        }
        other => {
            return Err(CliError::new(
                1,
                format!("--call {other}: use outline or targets"),
            ))
        }
    }
    Ok(0)
}

/// `build --check`: the lint rules on the build's Dockerfile, nothing built.
pub fn check(a: &BuildArgs) -> Result<i32, CliError> {
    let file = a.file.as_ref().filter(|f| *f != "-").map(PathBuf::from);
    super::lint::run(&PathBuf::from(&a.path), file, "text", &[], &[])
}

pub fn build(engine: &Engine, a: BuildArgs) -> Result<i32, CliError> {
    let fail = |m: String| CliError::new(1, m);
    if let Some(what) = &a.call {
        return call(&a, what);
    }
    if let Some(p) = &a.platform {
        let host = berth_image::spec::host_platform();
        if p != &format!("{}/{}", host.os, host.architecture) {
            return Err(fail(format!(
                "--platform {p}: berth builds for this host ({}/{}) only, for now",
                host.os, host.architecture
            )));
        }
    }
    if !matches!(
        a.progress.as_str(),
        "auto" | "plain" | "tty" | "quiet" | "rawjson"
    ) {
        return Err(fail(format!(
            "invalid --progress {:?}: use auto, plain, tty or quiet",
            a.progress
        )));
    }
    if let Some(n) = &a.network {
        if !matches!(n.as_str(), "default" | "none" | "host") {
            return Err(fail(format!(
                "network mode {n:?} not supported by berth build: use default, none or host"
            )));
        }
    }
    // A tar context on stdin is unpacked into the store's tmp/ first.
    let mut _unpacked = None;
    let (context, dockerfile_text) = if a.path == "-" {
        let dir = engine
            .store
            .temp_dir("context")
            .map_err(|e| fail(e.to_string()))?;
        let mut input = Vec::new();
        std::io::stdin()
            .read_to_end(&mut input)
            .map_err(|e| fail(format!("reading the context from STDIN: {e}")))?;
        tar::Archive::new(&input[..])
            .unpack(dir.path())
            .map_err(|e| {
                fail(format!(
                    "invalid build context on STDIN (want a tar archive): {e}"
                ))
            })?;
        let path = dir.path().to_path_buf();
        _unpacked = Some(dir);
        (path, None)
    } else if a.file.as_deref() == Some("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| fail(format!("reading the Dockerfile from STDIN: {e}")))?;
        (PathBuf::from(&a.path), Some(text))
    } else {
        (PathBuf::from(&a.path), None)
    };
    let dockerfile = a.file.as_ref().filter(|f| *f != "-").map(PathBuf::from);
    let build_args = key_values(&a.build_arg, "--build-arg")?;
    let epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .or_else(|| build_args.get("SOURCE_DATE_EPOCH").cloned());
    let source_date_epoch = epoch
        .map(|e| {
            e.parse::<i64>().map_err(|_| {
                fail(format!(
                    "invalid SOURCE_DATE_EPOCH {e:?}: seconds since 1970"
                ))
            })
        })
        .transpose()?;
    let opts = BuildOptions {
        context,
        dockerfile,
        dockerfile_text,
        tags: a.tag.clone(),
        target: a.target.clone(),
        build_args,
        source_date_epoch,
        pull: a.pull,
        no_cache: a.no_cache,
        labels: key_values(&a.label, "--label")?,
        network: a.network.clone(),
        secrets: a
            .secret
            .iter()
            .map(|s| berth_engine::build::mounts::parse_secret(s))
            .collect::<Result<_, _>>()
            .map_err(|e| fail(e.to_string()))?,
    };
    let output = a.output.as_deref().map(parse_output).transpose()?;
    let quiet = a.quiet || a.progress == "quiet";
    let mode = match a.progress.as_str() {
        _ if quiet => Mode::Quiet,
        "plain" | "rawjson" => Mode::Plain,
        "tty" => Mode::Tty,
        _ if std::io::IsTerminal::is_terminal(&std::io::stderr()) => Mode::Tty,
        _ => Mode::Plain,
    };
    let progress = Progress::new(Box::new(std::io::stderr()), mode);
    let id = engine.build(&opts, &progress).map_err(|e| match e {
        // Ctrl-C: the shell's convention, 128 + SIGINT.
        berth_engine::EngineError::Interrupted => CliError::new(130, "failed to solve: canceled"),
        e => CliError::new(1, format!("failed to solve: {e}")),
    })?;
    if let Some(out) = output {
        export(engine, &id, out, a.tag.is_empty())?;
    }
    if let Some(f) = &a.iidfile {
        std::fs::write(f, id.as_str())
            .map_err(|e| fail(format!("writing --iidfile {}: {e}", f.display())))?;
    }
    if quiet {
        println!("{id}");
    }
    Ok(0)
}

/// `builder prune`.
pub fn prune(engine: &Engine, a: BuilderPruneArgs) -> Result<i32, CliError> {
    let until = super::filters::prune(&a.filter)?
        .until_only("builder prune")
        .map_err(super::fail)?;
    if !a.force && !super::containers::confirm("WARNING! This will remove all dangling build cache.\nAre you sure you want to continue? [y/N] ") {
        return Ok(0);
    }
    let pruned = engine
        .prune_build_cache(a.all, until)
        .map_err(super::fail)?;
    if !pruned.keys.is_empty() {
        println!("Deleted build cache objects:");
        for k in &pruned.keys {
            println!("{}", &k.hex()[..25]);
        }
        println!();
    }
    println!(
        "Total:\t{}",
        berth_engine::time::human_size(pruned.reclaimed)
    );
    Ok(0)
}
