//! run, create, start, ps, rm, logs, rename, inspect, container prune.

use std::io::{IsTerminal, Write};

use berth_engine::logs::{self, LogOptions};
use berth_engine::model::Container;
use berth_engine::model::CreateBody;
use berth_engine::session;
use berth_engine::{time, Engine, EngineError};
use berth_image::spec::Platform;
use serde_json::{json, Value};

use super::{fail, CliError};
use crate::cli::{
    AttachArgs, CommitArgs, CpArgs, ExecArgs, ExportArgs, KillArgs, LogsArgs, NamesArgs, OneArg,
    PortArgs, PruneArgs, PsArgs, RenameArgs, RmArgs, RunArgs, StartArgs, StatsArgs, StopArgs,
    TopArgs, UpdateArgs,
};
use crate::format;

/// The create body for `a` (docker's words when `-p` meets `--network host`).
fn create_body(a: &mut RunArgs) -> Result<CreateBody, CliError> {
    if a.network.as_deref() == Some("host") && (!a.publish.is_empty() || a.publish_all) {
        // docker's words: the container shares the host's ports already.
        eprintln!("WARNING: Published ports are discarded when using host network mode");
        a.publish.clear();
        a.publish_all = false;
    }
    super::run_flags::create_body(a).map_err(run_error)
}

/// docker's `run` and `create` fail with 125 for engine errors.
fn run_error(e: EngineError) -> CliError {
    CliError::engine(125, e)
}

/// `--pull missing|always|never` and `--platform` for run and create, with
/// docker's messages and the pull's progress on stderr (none with `-q`).
fn ensure_image(engine: &Engine, a: &RunArgs) -> Result<(), CliError> {
    let wanted = a
        .platform
        .as_deref()
        .map(Platform::parse)
        .transpose()
        .map_err(|e| CliError::new(125, e))?;
    let image = image_for_run(engine, a, wanted.as_ref())?;
    let Ok(config) = engine.image_config(&image) else {
        return Ok(());
    };
    let actual = Platform {
        os: config.os.clone(),
        architecture: config.architecture.clone(),
        variant: config.variant.clone(),
    };
    match wanted {
        Some(w) if !w.matches(&actual) => Err(CliError::new(
            125,
            format!(
                "image with reference {} was found but does not match the specified platform: wanted {w}, actual: {actual}",
                a.image
            ),
        )),
        Some(_) => Ok(()),
        None => {
            // As docker: an image for another platform runs only if the kernel can.
            let host = berth_image::spec::host_platform();
            if actual.architecture != host.architecture || actual.os != host.os {
                eprintln!(
                    "WARNING: The requested image's platform ({}/{}) does not match the detected host platform ({}/{}) and no specific platform was requested",
                    actual.os, actual.architecture, host.os, host.architecture
                );
            }
            Ok(())
        }
    }
}

/// The local image, or the one pulled for it (for `platform` when given
/// and the local one is for another).
fn image_for_run(
    engine: &Engine,
    a: &RunArgs,
    platform: Option<&Platform>,
) -> Result<berth_store::ImageRecord, CliError> {
    let image = &a.image;
    let pullable = berth_engine::pull::is_pullable(image);
    match a.pull.as_str() {
        "always" => {}
        _ => match engine.resolve_image(image) {
            Ok(local) if platform.is_some_and(|p| !image_platform_is(engine, &local, p)) => {
                if a.pull == "never" || !pullable {
                    return Ok(local);
                }
            }
            Err(EngineError::NoSuchImage(_)) if a.pull == "missing" && pullable && a.quiet => {}
            Err(EngineError::NoSuchImage(_)) if a.pull == "missing" && pullable => {
                let shown = berth_image::Reference::parse(image)
                    .map(|r| r.familiar())
                    .unwrap_or_else(|_| image.clone());
                eprintln!("Unable to find image '{shown}' locally");
            }
            other => return other.map_err(run_error),
        },
    }
    let tty = std::io::stderr().is_terminal();
    let progress: Box<dyn Write + Send> = if a.quiet {
        Box::new(std::io::sink())
    } else {
        Box::new(std::io::stderr())
    };
    let opts = berth_engine::pull::PullOptions {
        platform: platform.cloned(),
        ..Default::default()
    };
    let pulled = super::registry::pull_with_progress(engine, image, &opts, progress, tty)
        .map_err(run_error)?;
    engine
        .store
        .db
        .image(&pulled.image)
        .map_err(|e| run_error(e.into()))?
        .ok_or_else(|| run_error(EngineError::NoSuchImage(image.clone())))
}

fn image_platform_is(engine: &Engine, image: &berth_store::ImageRecord, p: &Platform) -> bool {
    engine.image_config(image).is_ok_and(|c| {
        p.matches(&Platform {
            os: c.os,
            architecture: c.architecture,
            variant: c.variant,
        })
    })
}

pub fn run(engine: &Engine, mut a: RunArgs) -> Result<i32, CliError> {
    if a.detach && !a.attach.is_empty() {
        return Err(CliError::new(125, "Conflicting options: -a and -d"));
    }
    let keys_given = a.detach_keys.is_some();
    let keys = detach_keys(a.detach_keys.as_deref()).map_err(run_error)?;
    let c = create_container(engine, &mut a)?;
    if a.detach {
        engine.start_detached(&c.id).map_err(run_error)?;
        println!("{}", c.id);
        return Ok(0);
    }
    // A session with the container under its monitor where the user may
    // detach from it or keep their signals; else the faster run in this process.
    if (a.tty && a.interactive) || !a.sig_proxy || keys_given {
        let opts = session::SessionOptions {
            stdin: a.interactive,
            sig_proxy: a.sig_proxy,
            detach_keys: keys,
        };
        return session_ended(
            engine.start_and_attach(&c.id, &opts).map_err(run_error)?,
            false,
        );
    }
    engine.run_created(&c).map_err(run_error)
}

pub fn create(engine: &Engine, mut a: RunArgs) -> Result<i32, CliError> {
    let c = create_container(engine, &mut a)?;
    println!("{}", c.id);
    Ok(0)
}

/// What `run` and `create` share: the image (pulled if need be), the
/// container, docker's warnings, the `--cidfile`.
fn create_container(engine: &Engine, a: &mut RunArgs) -> Result<Container, CliError> {
    if let Some(path) = &a.cidfile {
        if path.exists() {
            return Err(CliError::new(
                125,
                format!(
                    "Container ID file found, make sure the other container isn't running or delete {}",
                    path.display()
                ),
            ));
        }
    }
    let mut body = create_body(a)?;
    if a.use_api_socket {
        with_api_socket(engine, &mut body)?;
    }
    ensure_image(engine, a)?;
    let (c, warnings) = engine
        .create_with_warnings(a.name.as_deref(), body)
        .map_err(run_error)?;
    for w in warnings {
        eprintln!("WARNING: {w}");
    }
    let written = match &a.cidfile {
        Some(path) => std::fs::write(path, &c.id).map_err(|e| {
            CliError::new(
                125,
                format!(
                    "failed to write the container ID to {}: {e}",
                    path.display()
                ),
            )
        }),
        None => Ok(()),
    }
    .and_then(|()| match a.use_api_socket {
        true => copy_credentials(engine, &c),
        false => Ok(()),
    });
    if let Err(e) = written {
        let _ = engine.remove_container_with(&c.id, true, true);
        return Err(e);
    }
    Ok(c)
}

/// Where the container's config.json goes with `--use-api-socket`, as docker 28.
const CONTAINER_DOCKER_CONFIG: &str = "/run/secrets/docker/config.json";

/// `--use-api-socket`: the Engine API socket this CLI's clients use
/// (DOCKER_HOST's, else the service's default) bound at
/// /var/run/docker.sock, and DOCKER_CONFIG set for the credentials.
fn with_api_socket(engine: &Engine, body: &mut CreateBody) -> Result<(), CliError> {
    use std::os::unix::fs::FileTypeExt;
    let socket = match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => match host.strip_prefix("unix://") {
            Some(path) => std::path::PathBuf::from(path),
            None => {
                return Err(CliError::new(
                    125,
                    format!("flag --use-api-socket can only be used with unix sockets: docker endpoint {host} incompatible"),
                ))
            }
        },
        _ => berth_api::default_socket(engine.state_dir()),
    };
    if !std::fs::metadata(&socket).is_ok_and(|m| m.file_type().is_socket()) {
        return Err(CliError::new(
            125,
            format!(
                "--use-api-socket: no Engine API socket at {}; start one with `berth system service` (or enable berth.socket) first",
                socket.display()
            ),
        ));
    }
    body.host_config
        .binds
        .get_or_insert_with(Vec::new)
        .push(format!("{}:/var/run/docker.sock", socket.display()));
    let dir = std::path::Path::new(CONTAINER_DOCKER_CONFIG)
        .parent()
        .expect("a directory");
    body.config
        .env
        .push(format!("DOCKER_CONFIG={}", dir.display()));
    Ok(())
}

/// The user's registry credentials, resolved, copied into the container
/// (mode 0600), as docker 28 does for `--use-api-socket`.
fn copy_credentials(engine: &Engine, c: &Container) -> Result<(), CliError> {
    let config = berth_engine::pull::resolved_logins().map_err(run_error)?;
    let data = serde_json::to_vec_pretty(&config).expect("json serialises");
    let mut tar = tar::Builder::new(Vec::new());
    let path = CONTAINER_DOCKER_CONFIG.trim_start_matches('/');
    let mut dir = std::path::PathBuf::new();
    let parents: Vec<_> = std::path::Path::new(path)
        .parent()
        .into_iter()
        .flat_map(|p| p.components())
        .collect();
    for part in parents {
        dir.push(part);
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        tar.append_data(&mut h, &dir, std::io::empty())
            .expect("in memory");
    }
    let mut h = tar::Header::new_gnu();
    h.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    h.set_mode(0o600);
    h.set_size(data.len() as u64);
    tar.append_data(&mut h, path, data.as_slice())
        .expect("in memory");
    let archive = tar.into_inner().expect("in memory");
    engine
        .copy_to_container(&c.id, "/", None, &mut archive.as_slice(), false, false)
        .map_err(run_error)
}

/// A session's end as the CLI reports it: the container's code; after the
/// detach keys, docker's quiet 0 for `run` and `start`, its message and 1
/// for `attach` and `exec`.
fn session_ended(a: session::Attached, says_so: bool) -> Result<i32, CliError> {
    match a {
        session::Attached::Exited(code) => Ok(code),
        session::Attached::Detached if says_so => {
            eprintln!("read escape sequence");
            Ok(1)
        }
        session::Attached::Detached => Ok(0),
    }
}

/// `start --all [--filter restart-policy=P]...`: after a reboot, the stopped
/// containers whose policy says they run (`unless-stopped` ones only if
/// nobody stopped them); their names, as `start` prints them.
fn start_all(engine: &Engine, filters: &[String]) -> Result<i32, CliError> {
    let mut policies = Vec::new();
    for f in filters {
        match f.split_once('=') {
            Some(("restart-policy", p)) => policies.push(p.to_string()),
            _ => {
                return Err(CliError::new(
                    1,
                    format!("invalid filter '{f}': start --all takes restart-policy=NAME"),
                ))
            }
        }
    }
    let mut names = Vec::new();
    for c in engine.list_containers().map_err(fail)? {
        let policy = &c.host_config.restart_policy.name;
        let wanted = policies.is_empty() || policies.contains(policy);
        let stopped_by_user = c.state.manually_stopped && policy == "unless-stopped";
        if wanted && !c.state.running && !c.state.restarting && !stopped_by_user {
            names.push(c.short_name().to_string());
        }
    }
    if names.is_empty() {
        return Ok(0);
    }
    each(&names, |name| {
        engine.start_detached(name).map(|()| vec![name.to_string()])
    })
}

pub fn start(engine: &Engine, a: StartArgs) -> Result<i32, CliError> {
    if a.all {
        return start_all(engine, &a.filter);
    }
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            return Err(CliError::new(
                1,
                "you cannot start and attach multiple containers at once",
            ));
        }
        let opts = session::SessionOptions {
            stdin: a.interactive,
            sig_proxy: true,
            detach_keys: detach_keys(a.detach_keys.as_deref()).map_err(fail)?,
        };
        return session_ended(
            engine
                .start_and_attach(&a.containers[0], &opts)
                .map_err(run_error)?,
            false,
        );
    }
    each(&a.containers, |name| {
        engine.start_detached(name).map(|()| vec![name.to_string()])
    })
}

/// `stop` and `restart`.
pub fn stop(engine: &Engine, a: StopArgs, restart: bool) -> Result<i32, CliError> {
    let signal = a
        .signal
        .as_deref()
        .map(berth_engine::lifecycle::parse_signal)
        .transpose()
        .map_err(fail)?;
    each(&a.containers, |name| {
        engine.stop_container(name, a.time, signal)?;
        if restart {
            engine.start_detached(name)?;
        }
        Ok(vec![name.to_string()])
    })
}

pub fn kill(engine: &Engine, a: KillArgs) -> Result<i32, CliError> {
    let signal = berth_engine::lifecycle::parse_signal(&a.signal).map_err(fail)?;
    each(&a.containers, |name| {
        engine
            .kill_container(name, signal)
            .map(|()| vec![name.to_string()])
    })
}

pub fn wait(engine: &Engine, a: NamesArgs) -> Result<i32, CliError> {
    each(&a.containers, |name| {
        engine
            .wait_container(name, None)
            .map(|code| vec![code.to_string()])
    })
}

pub fn exec(engine: &Engine, a: ExecArgs) -> Result<i32, CliError> {
    let opts = berth_engine::run::ExecOptions {
        command: a.command,
        interactive: a.interactive,
        tty: a.tty,
        env: super::run_flags::env(&a.env, &a.env_file).map_err(fail)?,
        workdir: a.workdir,
        user: a.user,
        privileged: a.privileged,
        console_size: None,
        detach_keys: Some(detach_keys(a.detach_keys.as_deref()).map_err(fail)?),
    };
    session_ended(
        engine.exec(&a.container, &opts, a.detach).map_err(fail)?,
        true,
    )
}

pub fn pause(engine: &Engine, a: NamesArgs, pause: bool) -> Result<i32, CliError> {
    each(&a.containers, |name| {
        engine
            .pause_container(name, pause)
            .map(|()| vec![name.to_string()])
    })
}

/// `diff`: A, C and D lines from the container's writable layer.
pub fn diff(engine: &Engine, a: OneArg) -> Result<i32, CliError> {
    for (kind, path) in engine.container_changes(&a.container).map_err(fail)? {
        println!("{kind} {path}");
    }
    Ok(0)
}

const STATS_TABLE: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// `stats`: one table (--no-stream), or a new one every second (redrawn in
/// place on a terminal) until interrupted.
pub fn stats(engine: &Engine, a: StatsArgs) -> Result<i32, CliError> {
    let headers = [
        ("ID", "CONTAINER ID"),
        ("Container", "CONTAINER"),
        ("Name", "NAME"),
        ("CPUPerc", "CPU %"),
        ("MemUsage", "MEM USAGE / LIMIT"),
        ("MemPerc", "MEM %"),
        ("NetIO", "NET I/O"),
        ("BlockIO", "BLOCK I/O"),
        ("PIDs", "PIDS"),
    ];
    let tty = std::io::stdout().is_terminal();
    let window = std::time::Duration::from_millis(if a.no_stream { 500 } else { 1000 });
    loop {
        let rows: Vec<Value> = engine
            .stats(&a.containers, a.all, window)
            .map_err(fail)?
            .iter()
            .map(|r| stats_row(r, a.no_trunc, &a.containers))
            .collect();
        if !a.no_stream && tty {
            print!("\x1b[2J\x1b[H");
        }
        super::print_listing(a.format.as_deref(), STATS_TABLE, &rows, &headers)?;
        if a.no_stream {
            return Ok(0);
        }
    }
}

fn stats_row(r: &berth_engine::lifecycle::StatsRow, no_trunc: bool, asked: &[String]) -> Value {
    let u = &r.usage;
    let running = r.cpu_percent.is_some();
    let pair = |a: String, b: String| {
        if running {
            format!("{a} / {b}")
        } else {
            "-- / --".into()
        }
    };
    let percent = |v: Option<f64>| v.map_or("--".to_string(), |v| format!("{v:.2}%"));
    let mem_percent = running.then(|| {
        if u.memory_limit == 0 {
            0.0
        } else {
            u.memory as f64 / u.memory_limit as f64 * 100.0
        }
    });
    let id = if no_trunc {
        r.id.clone()
    } else {
        r.id[..12].to_string()
    };
    // docker's .Container is the name or id as the user gave it.
    let container = asked
        .iter()
        .find(|k| r.id.starts_with(k.as_str()) || r.name == k.as_str())
        .cloned()
        .unwrap_or_else(|| id.clone());
    json!({
        "ID": id,
        "Container": container,
        "Name": r.name,
        "CPUPerc": percent(r.cpu_percent),
        "MemUsage": pair(time::binary_size(u.memory), time::binary_size(u.memory_limit)),
        "MemPerc": percent(mem_percent),
        "NetIO": pair(time::human_size(u.net_rx), time::human_size(u.net_tx)),
        "BlockIO": pair(time::human_size(u.block_read), time::human_size(u.block_write)),
        "PIDs": if running { u.pids.to_string() } else { "--".into() },
    })
}

pub fn update(engine: &Engine, a: UpdateArgs) -> Result<i32, CliError> {
    let bytes = |s: &Option<String>| {
        s.as_deref()
            .map(|s| match s {
                "-1" => Ok(-1),
                s => berth_engine::containers::parse_bytes(s),
            })
            .transpose()
            .map_err(fail)
    };
    let nano_cpus = match a.cpus.as_deref() {
        Some(s) => Some(
            s.parse::<f64>()
                .map(|v| (v * 1e9).round() as i64)
                .map_err(|_| {
                    CliError::new(1, format!("invalid argument \"{s}\" for \"--cpus\" flag"))
                })?,
        ),
        None => None,
    };
    let opts = berth_engine::lifecycle::UpdateBody {
        memory: bytes(&a.memory)?,
        memory_swap: bytes(&a.memory_swap)?,
        memory_reservation: bytes(&a.memory_reservation)?,
        kernel_memory: bytes(&a.kernel_memory)?,
        nano_cpus,
        cpu_shares: a.cpu_shares,
        cpu_period: a.cpu_period,
        cpu_quota: a.cpu_quota,
        cpu_realtime_period: a.cpu_rt_period,
        cpu_realtime_runtime: a.cpu_rt_runtime,
        cpuset_cpus: a.cpuset_cpus,
        cpuset_mems: a.cpuset_mems,
        blkio_weight: a.blkio_weight,
        pids_limit: a.pids_limit,
        restart_policy: a
            .restart
            .as_deref()
            .map(berth_engine::model::RestartPolicy::parse)
            .transpose()
            .map_err(|e| CliError::new(1, e))?,
    };
    each(&a.containers, |name| {
        for w in engine.update_container(name, &opts)? {
            eprintln!("WARNING: {w}");
        }
        Ok(vec![name.to_string()])
    })
}

/// `CONTAINER:PATH` → Some((container, path)); a local path → None. As
/// docker: a colon after a `/` belongs to the path (`./a:b` is local).
fn container_path(arg: &str) -> Option<(&str, &str)> {
    let (container, path) = arg.split_once(':')?;
    (!container.is_empty() && !container.contains('/')).then_some((container, path))
}

pub fn cp(engine: &Engine, a: CpArgs) -> Result<i32, CliError> {
    match (container_path(&a.source), container_path(&a.destination)) {
        (Some(_), Some(_)) => Err(CliError::new(
            1,
            "copying between containers is not supported",
        )),
        (None, None) => Err(CliError::new(
            1,
            "must specify at least one container source: CONTAINER:PATH",
        )),
        (Some((container, src)), None) => {
            let dest = (a.destination != "-").then(|| std::path::PathBuf::from(&a.destination));
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            engine
                .copy_from_container(container, src, dest.as_deref(), &mut out, a.follow_link)
                .map_err(fail)?;
            out.flush().map_err(|e| CliError::new(1, e.to_string()))?;
            Ok(0)
        }
        (None, Some((container, dest))) => {
            let src = (a.source != "-").then(|| std::path::PathBuf::from(&a.source));
            let mut input = std::io::stdin().lock();
            engine
                .copy_to_container(
                    container,
                    dest,
                    src.as_deref(),
                    &mut input,
                    a.archive,
                    a.follow_link,
                )
                .map_err(fail)?;
            Ok(0)
        }
    }
}

/// A running container's published ports: (`80/tcp`, `0.0.0.0:8080`).
fn published(c: &Container) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(ports) = c.network_settings.get("Ports").and_then(|p| p.as_object()) {
        for (key, bindings) in ports {
            for b in bindings.as_array().into_iter().flatten() {
                let ip = b["HostIp"].as_str().unwrap_or_default();
                let port = b["HostPort"].as_str().unwrap_or_default();
                let host = if ip.contains(':') {
                    format!("[{ip}]:{port}")
                } else {
                    format!("{ip}:{port}")
                };
                out.push((key.clone(), host));
            }
        }
    }
    out
}

/// `port`: `80/tcp -> 0.0.0.0:8080` lines, or the host side of one port.
pub fn port(engine: &Engine, a: PortArgs) -> Result<i32, CliError> {
    let c = engine.container(&a.container).map_err(fail)?;
    let ports = published(&c);
    match &a.port {
        None => ports.iter().for_each(|(k, h)| println!("{k} -> {h}")),
        Some(p) => {
            let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            if num.parse::<u16>().is_err() || !matches!(proto, "tcp" | "udp" | "sctp") {
                return Err(CliError::new(
                    1,
                    format!("invalid port {p:?}: expected PORT[/PROTO]"),
                ));
            }
            let key = format!("{num}/{proto}");
            let hosts: Vec<&String> = ports
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, h)| h)
                .collect();
            if hosts.is_empty() {
                return Err(CliError::new(
                    1,
                    format!("No public port '{key}' published for {}", c.short_name()),
                ));
            }
            hosts.iter().for_each(|h| println!("{h}"));
        }
    }
    Ok(0)
}

/// `attach`: exits with the container's code, or 1 with docker's message
/// after the detach keys.
pub fn attach(engine: &Engine, a: AttachArgs) -> Result<i32, CliError> {
    let opts = session::SessionOptions {
        stdin: !a.no_stdin,
        sig_proxy: a.sig_proxy,
        detach_keys: detach_keys(a.detach_keys.as_deref()).map_err(fail)?,
    };
    session_ended(engine.attach(&a.container, &opts).map_err(fail)?, true)
}

/// `--detach-keys`, or docker's Ctrl-P Ctrl-Q.
fn detach_keys(given: Option<&str>) -> Result<Vec<u8>, EngineError> {
    given
        .map(session::parse_detach_keys)
        .transpose()
        .map(|k| k.unwrap_or_else(|| session::DEFAULT_DETACH_KEYS.to_vec()))
}

pub fn export(engine: &Engine, a: ExportArgs) -> Result<i32, CliError> {
    super::write_output(a.output.as_deref(), "export container", |w| {
        engine.export_container(&a.container, w).map_err(fail)
    })
}

pub fn commit(engine: &Engine, a: CommitArgs) -> Result<i32, CliError> {
    let opts = berth_engine::rootfs::CommitOptions {
        author: a.author,
        message: a.message,
        changes: a.change,
        pause: a.pause,
    };
    let id = engine
        .commit_container(&a.container, a.reference.as_deref(), &opts)
        .map_err(fail)?;
    println!("{id}");
    Ok(0)
}

pub fn top(engine: &Engine, a: TopArgs) -> Result<i32, CliError> {
    for line in engine.top(&a.container, &a.ps_options).map_err(fail)? {
        println!("{line}");
    }
    Ok(0)
}

/// The hidden `container-monitor ID [--hold]`: runs the container, telling
/// the `berth` that started it (on stdout) whether it started; the exit
/// code is the container's. With `--hold` it says `attach` once the
/// container exists and waits for a line on stdin before starting it.
pub fn monitor(engine: &Engine, id: &str, hold: bool) -> i32 {
    let mut out = std::io::stdout();
    let mut wait_for_go = || {
        let mut o = std::io::stdout();
        let _ = writeln!(o, "attach");
        let _ = o.flush();
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    };
    let hold: Option<&mut dyn FnMut()> = if hold { Some(&mut wait_for_go) } else { None };
    match engine.monitor(id, &mut out, hold) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(out, "error: {e}");
            125
        }
    }
}

const PS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("State", "STATE"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

pub use berth_engine::containers::status_text;

/// `2024-01-02 03:04:05 +0000 UTC`, docker's CreatedAt.
fn go_time(t: &str) -> String {
    time::parse(t)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
        .unwrap_or_default()
}

pub fn ps(engine: &Engine, a: PsArgs) -> Result<i32, CliError> {
    let filters = super::filters::parse(&a.filter, berth_engine::filters::CONTAINER_KEYS)?;
    let last = if a.latest { 1 } else { a.last.max(0) as usize };
    let list = engine
        .select_containers(&filters, a.all, last)
        .map_err(fail)?;
    if a.quiet {
        let mut out = std::io::stdout().lock();
        for c in &list {
            let id = if a.no_trunc {
                c.id.as_str()
            } else {
                c.short_id()
            };
            writeln!(out, "{id}").ok();
        }
        return Ok(0);
    }
    let mut rows = Vec::new();
    for c in &list {
        let command = std::iter::once(c.path.clone())
            .chain(c.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let command = if a.no_trunc {
            command
        } else {
            format::ellipsis(&command, 20)
        };
        let size = if a.size {
            let (rw, virt) = engine.container_size(c);
            format!(
                "{} (virtual {})",
                time::human_size(rw),
                time::human_size(virt)
            )
        } else {
            String::new()
        };
        let labels = c
            .config
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        rows.push(json!({
            "Command": format!("{command:?}"),
            "CreatedAt": go_time(&c.created),
            "ID": if a.no_trunc { c.id.clone() } else { c.short_id().to_string() },
            "Image": c.config.image,
            "Labels": labels,
            "LocalVolumes": "0",
            "Mounts": c.mounts.iter().map(|m| m.source.clone()).collect::<Vec<_>>().join(","),
            "Names": c.short_name(),
            "Networks": berth_engine::networks::endpoints(c).into_keys().collect::<Vec<_>>().join(","),
            "Ports": published(c)
                .iter()
                .map(|(k, h)| format!("{h}->{k}"))
                .collect::<Vec<_>>()
                .join(", "),
            "RunningFor": time::ago(&c.created),
            "Size": size,
            "State": c.state.status,
            "Status": status_text(c),
        }));
    }
    let default = if a.size {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    let printed = super::print_listing(a.format.as_deref(), default, &rows, PS_HEADERS);
    // The process ends next: freeing a thousand records and rows one by
    // one would cost a tenth of the listing.
    std::mem::forget(rows);
    std::mem::forget(list);
    printed
}

/// Runs `f` for each name, printing what it returns; docker goes on after a
/// failure, prints each error, and exits 1 if any failed.
pub fn each(
    names: &[String],
    mut f: impl FnMut(&str) -> Result<Vec<String>, EngineError>,
) -> Result<i32, CliError> {
    let mut failed = false;
    for name in names {
        match f(name) {
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => {
                eprintln!("{}", fail(e));
                failed = true;
            }
        }
    }
    Ok(if failed { 1 } else { 0 })
}

pub fn rm(engine: &Engine, a: RmArgs) -> Result<i32, CliError> {
    each(&a.containers, |name| {
        engine
            .remove_container_with(name, a.force, a.volumes)
            .map(|_| vec![name.to_string()])
    })
}

pub fn rename(engine: &Engine, a: RenameArgs) -> Result<i32, CliError> {
    engine.rename(&a.container, &a.new_name).map_err(fail)?;
    Ok(0)
}

pub fn prune(engine: &Engine, a: PruneArgs) -> Result<i32, CliError> {
    if !a.force && !confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ") {
        return Ok(0);
    }
    let filters = super::filters::prune(&a.filter)?;
    let (removed, freed) = engine
        .prune_containers(&|c| filters.selects(&c.created, &c.config.labels))
        .map_err(fail)?;
    super::print_deleted("Containers", &removed);
    println!("Total reclaimed space: {}", time::human_size(freed));
    Ok(0)
}

pub fn confirm(prompt: &str) -> bool {
    eprint!("{prompt}");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).is_ok() && matches!(answer.trim(), "y" | "Y" | "yes")
}

pub fn logs(engine: &Engine, a: LogsArgs) -> Result<i32, CliError> {
    let tail = match a.tail.as_str() {
        "all" | "-1" => None,
        n => Some(n.parse().map_err(|_| {
            CliError::new(
                1,
                format!("invalid value for --tail: {n:?} (a number or \"all\")"),
            )
        })?),
    };
    let time_arg = |s: &Option<String>, flag: &str| -> Result<_, CliError> {
        s.as_deref()
            .map(|v| logs::parse_time(v).ok_or_else(|| CliError::new(1, format!("invalid value for {flag}: {v:?} (RFC 3339, a Unix time, or a duration like 10m)"))))
            .transpose()
    };
    let opts = LogOptions {
        tail,
        timestamps: a.timestamps,
        since: time_arg(&a.since, "--since")?,
        until: time_arg(&a.until, "--until")?,
        follow: a.follow,
        details: a.details,
    };
    engine
        .logs(
            &a.container,
            &opts,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        )
        .map_err(fail)?;
    Ok(0)
}

/// `inspect`: containers first, then images (docker's order), as one JSON array.
pub fn inspect(
    engine: &Engine,
    names: Vec<String>,
    format: Option<String>,
    size: bool,
    kind: Option<&str>,
) -> Result<i32, CliError> {
    let mut found: Vec<Value> = Vec::new();
    let mut errors = Vec::new();
    for name in &names {
        let as_container = || -> Result<Value, EngineError> {
            let c = engine.container(name)?;
            let mut v = serde_json::to_value(&c).expect("container serialises");
            if size {
                let (rw, virt) = engine.container_size(&c);
                v["SizeRw"] = json!(rw);
                v["SizeRootFs"] = json!(virt);
            }
            Ok(v)
        };
        let result = match kind {
            Some("container") => as_container(),
            Some("image") => engine.inspect_image(name),
            None => as_container()
                .or_else(|_| engine.inspect_image(name))
                .map_err(|_| EngineError::invalid(format!("No such object: {name}"))),
            Some(other) => {
                return Err(CliError::new(
                    1,
                    format!("\"{other}\" is not a valid value for --type"),
                ))
            }
        };
        match result {
            Ok(v) => found.push(v),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut out = std::io::stdout().lock();
    match format {
        Some(f) => {
            for v in &found {
                let text = format::render_one(&f, v).map_err(|e| CliError::new(1, e))?;
                writeln!(out, "{text}").ok();
            }
        }
        None => {
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            serde::Serialize::serialize(&found, &mut ser).expect("json");
            writeln!(out, "{}", String::from_utf8_lossy(&buf)).ok();
        }
    }
    for e in &errors {
        eprintln!("Error: {e}");
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}
