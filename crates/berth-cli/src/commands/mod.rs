//! One function per command; each returns the process exit code.

pub mod build;
pub mod containers;
mod filters;
pub mod images;
pub mod lint;
pub mod networks;
pub mod pods;
pub mod registry;
mod run_flags;
pub mod scout;
pub mod secrets;
pub mod service;
pub mod system;
pub mod volumes;

use std::fmt;

use berth_engine::{Engine, EngineError};

use crate::cli::{BuilderCommand, Command, ContainerCommand, ImageCommand, SystemCommand};

/// An error with the exit code docker would give.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }

    /// An engine error: `code` for engine failures, 126/127 when the container's
    /// command could not be invoked or found (as `docker run`).
    pub fn engine(code: i32, e: EngineError) -> Self {
        let code = match e {
            EngineError::CommandNotFound(_) => 127,
            EngineError::CommandNotInvokable(_) => 126,
            _ => code,
        };
        CliError {
            code,
            message: e.to_string(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error: {}", self.message)
    }
}

/// For commands other than run/create/start, docker exits 1 on failure.
pub fn fail(e: EngineError) -> CliError {
    CliError::engine(1, e)
}

/// Prints a listing as `--format` asks, docker's `default` table when it asks nothing.
fn print_listing(
    format: Option<&str>,
    default: &str,
    rows: &[serde_json::Value],
    headers: &[(&str, &str)],
) -> Result<i32, CliError> {
    let format = crate::format::Format::parse(format, default);
    crate::format::print_rows(&mut std::io::stdout().lock(), &format, rows, headers)
        .map_err(|e| CliError::new(1, e))?;
    Ok(0)
}

/// `volume inspect`, `network inspect`: a JSON array of what was found (or
/// each through `--format`); a name not found is reported and makes exit 1.
fn inspect_each<T: serde::Serialize>(
    names: &[String],
    format: Option<&str>,
    find: impl Fn(&str) -> Result<T, EngineError>,
) -> Result<i32, CliError> {
    let mut out = Vec::new();
    let mut failed = false;
    for name in names {
        match find(name) {
            Ok(v) => out.push(serde_json::to_value(v).expect("json")),
            Err(e) => {
                eprintln!("{}", fail(e));
                failed = true;
            }
        }
    }
    match format {
        Some(f) => {
            for v in &out {
                println!(
                    "{}",
                    crate::format::render_one(f, v).map_err(|e| CliError::new(1, e))?
                );
            }
        }
        None => println!("{}", serde_json::to_string_pretty(&out).expect("json")),
    }
    Ok(if failed { 1 } else { 0 })
}

/// docker's prune report for one kind: `Deleted Images:`, the items, a blank line.
fn print_deleted(kind: &str, items: &[String]) {
    if !items.is_empty() {
        println!("Deleted {kind}:");
        items.iter().for_each(|i| println!("{i}"));
        println!();
    }
}

/// What `image prune` and `system prune` remove of images, in docker's words.
fn images_to_prune(all: bool) -> &'static str {
    if all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    }
}

/// The YAML documents of `files` (`-` is STDIN), as one stream.
fn read_yaml(files: &[String]) -> Result<String, CliError> {
    use std::io::Read;
    let mut docs = Vec::new();
    for f in files {
        let mut text = String::new();
        let read = if f == "-" {
            std::io::stdin().read_to_string(&mut text).map(|_| ())
        } else {
            std::fs::read_to_string(f).map(|t| text = t)
        };
        read.map_err(|e| CliError::new(1, format!("reading {f}: {e}")))?;
        docs.push(text);
    }
    Ok(docs.join("\n---\n"))
}

/// What a play made or a down removed, as podman prints it.
fn print_played(p: &berth_engine::kube::Played, pods: &str) {
    for w in &p.warnings {
        eprintln!("WARNING: {w}");
    }
    for (title, items) in [
        (pods, &p.pods),
        ("Secrets", &p.secrets),
        ("Volumes", &p.volumes),
        ("Networks", &p.networks),
    ] {
        if !items.is_empty() {
            println!("{title}:");
            items.iter().for_each(|i| println!("{i}"));
        }
    }
}

/// `kube generate`.
fn kube_generate(
    engine: &Engine,
    kind: &str,
    replicas: Option<u32>,
    service: bool,
    file: Option<&std::path::Path>,
    names: &[String],
) -> Result<i32, CliError> {
    let kind = match (kind, replicas) {
        ("pod", None) => berth_kube::Kind::Pod,
        ("job", None) => berth_kube::Kind::Job,
        ("deployment", r) => berth_kube::Kind::Deployment {
            replicas: r.unwrap_or(1),
        },
        ("pod" | "job", Some(_)) => {
            return Err(CliError::new(
                1,
                "--replicas can only be set when --type is deployment",
            ))
        }
        (other, _) => {
            return Err(CliError::new(
                1,
                format!("invalid --type {other:?}: use pod, deployment or job"),
            ))
        }
    };
    let yaml = engine.kube_generate(names, kind, service).map_err(fail)?;
    scout::emit(file, &yaml)?;
    Ok(0)
}

/// Where output for `path` is written first, to be renamed into place.
pub(crate) fn beside(path: &std::path::Path) -> std::path::PathBuf {
    path.with_file_name(format!(
        ".{}.berth-tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ))
}

/// Writes a tar stream to `path` (beside it first, then renamed, so a
/// failure leaves no half file) or to stdout, which must not be a terminal.
/// `what` names the job in errors: `failed to save image: ...`.
fn write_output(
    path: Option<&std::path::Path>,
    what: &str,
    produce: impl FnOnce(&mut dyn std::io::Write) -> Result<(), CliError>,
) -> Result<i32, CliError> {
    use std::io::{IsTerminal, Write};
    let flush = |w: &mut dyn Write| {
        w.flush()
            .map_err(|e| CliError::new(1, format!("failed to {what}: {e}")))
    };
    match path {
        Some(path) => {
            let tmp = beside(path);
            let file = std::fs::File::create(&tmp).map_err(|e| {
                CliError::new(1, format!("failed to {what}: {}: {e}", path.display()))
            })?;
            let mut w = std::io::BufWriter::new(file);
            let result = produce(&mut w).and_then(|()| flush(&mut w));
            if let Err(e) = result {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
            std::fs::rename(&tmp, path)
                .map_err(|e| CliError::new(1, format!("failed to {what}: {e}")))?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                return Err(CliError::new(
                    1,
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            produce(&mut out)?;
            flush(&mut out)?;
        }
    }
    Ok(0)
}

pub fn run(engine: &Engine, command: Command) -> Result<i32, CliError> {
    use containers as c;
    use images as i;
    match command {
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => c::run(engine, a),
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            c::create(engine, a)
        }
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => c::start(engine, a),
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => c::ps(engine, a),
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => {
            c::stop(engine, a, false)
        }
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => {
            c::stop(engine, a, true)
        }
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => c::kill(engine, a),
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => c::wait(engine, a),
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => c::exec(engine, a),
        Command::Pause(a) | Command::Container(ContainerCommand::Pause(a)) => {
            c::pause(engine, a, true)
        }
        Command::Unpause(a) | Command::Container(ContainerCommand::Unpause(a)) => {
            c::pause(engine, a, false)
        }
        Command::Diff(a) | Command::Container(ContainerCommand::Diff(a)) => c::diff(engine, a),
        Command::Stats(a) | Command::Container(ContainerCommand::Stats(a)) => c::stats(engine, a),
        Command::Cp(a) | Command::Container(ContainerCommand::Cp(a)) => c::cp(engine, a),
        Command::Port(a) | Command::Container(ContainerCommand::Port(a)) => c::port(engine, a),
        Command::Attach(a) | Command::Container(ContainerCommand::Attach(a)) => {
            c::attach(engine, a)
        }
        Command::Update(a) | Command::Container(ContainerCommand::Update(a)) => {
            c::update(engine, a)
        }
        Command::Export(a) | Command::Container(ContainerCommand::Export(a)) => {
            c::export(engine, a)
        }
        Command::Commit(a) | Command::Container(ContainerCommand::Commit(a)) => {
            c::commit(engine, a)
        }
        Command::Top(a) | Command::Container(ContainerCommand::Top(a)) => c::top(engine, a),
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => c::rm(engine, a),
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => c::logs(engine, a),
        Command::Rename(a) | Command::Container(ContainerCommand::Rename(a)) => {
            c::rename(engine, a)
        }
        Command::Container(ContainerCommand::Inspect(a)) => {
            c::inspect(engine, a.names, a.format, a.size, Some("container"))
        }
        Command::Container(ContainerCommand::Prune(a)) => c::prune(engine, a),
        Command::Inspect(a) => c::inspect(engine, a.names, a.format, a.size, a.kind.as_deref()),
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => i::images(engine, a),
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => registry::pull(engine, a),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => registry::push(engine, a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => i::tag(engine, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => i::rmi(engine, a),
        Command::History(a) | Command::Image(ImageCommand::History(a)) => i::history(engine, a),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => i::save(engine, a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => i::load(engine, a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => i::import(engine, a),
        Command::Build(a)
        | Command::Image(ImageCommand::Build(a))
        | Command::Builder(BuilderCommand::Build(a)) => build::build(engine, *a),
        Command::Image(ImageCommand::Inspect(a)) => {
            c::inspect(engine, a.names, a.format, a.size, Some("image"))
        }
        Command::System(SystemCommand::Check) => system::check(engine),
        Command::System(SystemCommand::Df(a)) => system::df(engine, a),
        Command::System(SystemCommand::Prune(a)) => system::prune(engine, a),
        Command::Image(ImageCommand::Prune(a)) => i::prune(engine, a),
        Command::Builder(BuilderCommand::Prune(a)) => build::prune(engine, a),
        Command::System(SystemCommand::Info(a)) | Command::Info(a) => system::info(engine, a),
        Command::Version(a) => system::version(&a),
        Command::Volume(v) => volumes::run(engine, v),
        Command::Network(n) => networks::run(engine, n),
        Command::Scout(s) => scout::run(engine, s),
        Command::Secret(s) => secrets::run(engine, s),
        Command::Pod(p) => pods::run(engine, p),
        Command::Kube(crate::cli::KubeCommand::Generate {
            kind,
            replicas,
            service,
            filename,
            names,
        }) => kube_generate(
            engine,
            &kind,
            replicas,
            service,
            filename.as_deref(),
            &names,
        ),
        Command::Kube(crate::cli::KubeCommand::Play {
            replace,
            start,
            network,
            publish,
            configmap,
            build,
            files,
        }) => {
            let mut ports = Vec::new();
            for p in &publish {
                ports.extend(berth_net::parse_publish(p).map_err(|e| CliError::new(125, e))?);
            }
            let config_maps = configmap
                .iter()
                .map(|f| read_yaml(std::slice::from_ref(f)))
                .collect::<Result<Vec<_>, _>>()?;
            let o = berth_engine::kube::PlayOptions {
                replace,
                no_start: !start,
                network,
                publish: ports,
                config_maps,
                build,
                build_dir: std::env::current_dir()
                    .map_err(|e| CliError::new(1, format!("the working directory: {e}")))?,
            };
            let played = engine.kube_play(&read_yaml(&files)?, &o).map_err(fail)?;
            print_played(&played, "Pods");
            Ok(0)
        }
        Command::Kube(crate::cli::KubeCommand::Down { force, files }) => {
            let gone = engine.kube_down(&read_yaml(&files)?, force).map_err(fail)?;
            print_played(&gone, "Pods stopped and removed");
            Ok(0)
        }
        Command::Events(a) | Command::System(SystemCommand::Events(a)) => system::events(engine, a),
        Command::Completion { .. }
        | Command::Lint(_)
        | Command::Login(_)
        | Command::Logout(_)
        | Command::Compose(_)
        | Command::System(SystemCommand::Service(_))
        | Command::ContainerMonitor { .. } => {
            unreachable!("handled before the engine opens")
        }
    }
}
