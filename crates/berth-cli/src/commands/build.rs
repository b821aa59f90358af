//! `build`: docker's flags over the engine's build.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use berth_engine::build::progress::Progress;
use berth_engine::build::BuildOptions;
use berth_engine::Engine;

use super::CliError;
use crate::cli::BuildArgs;

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

/// `build --check`: the lint rules on the build's Dockerfile, nothing built.
pub fn check(a: &BuildArgs) -> Result<i32, CliError> {
    let file = a.file.as_ref().filter(|f| *f != "-").map(PathBuf::from);
    super::lint::run(&PathBuf::from(&a.path), file, "text", &[], &[])
}

pub fn build(engine: &Engine, a: BuildArgs) -> Result<i32, CliError> {
    let fail = |m: String| CliError::new(1, m);
    if let Some(p) = &a.platform {
        let host = berth_image::spec::host_platform();
        if p != &format!("{}/{}", host.os, host.architecture) {
            return Err(fail(format!(
                "--platform {p}: berth builds for this host ({}/{}) only, for now",
                host.os, host.architecture
            )));
        }
    }
    if a.pull {
        return Err(fail(
            "--pull: pulling from registries is not built yet; build from local images".into(),
        ));
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
    let epoch = std::env::var("SOURCE_DATE_EPOCH").ok().or_else(|| build_args.get("SOURCE_DATE_EPOCH").cloned());
    let source_date_epoch = epoch.map(|e| e.parse::<i64>().map_err(|_| fail(format!("invalid SOURCE_DATE_EPOCH {e:?}: seconds since 1970")))).transpose()?;
    let opts = BuildOptions {
        context,
        dockerfile,
        dockerfile_text,
        tags: a.tag.clone(),
        target: a.target.clone(),
        build_args,
        source_date_epoch,
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
    let quiet = a.quiet || a.progress == "quiet";
    let progress = Progress::new(Box::new(std::io::stderr()), quiet);
    let id = engine
        .build(&opts, &progress)
        .map_err(|e| CliError::new(1, format!("failed to solve: {e}")))?;
    if let Some(f) = &a.iidfile {
        std::fs::write(f, id.as_str())
            .map_err(|e| fail(format!("writing --iidfile {}: {e}", f.display())))?;
    }
    if quiet {
        println!("{id}");
    }
    Ok(0)
}
