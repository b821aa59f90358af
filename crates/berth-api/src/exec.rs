//! `/containers/{id}/exec` and `/exec/{id}/...`: exec instances are kept
//! by the service (as dockerd keeps them), each run by the engine with its
//! stdio on the hijacked connection; the exit code is recorded before the
//! stream ends, so an inspect right after sees it.

use std::sync::Arc;

use berth_engine::attach::Hub;
use berth_engine::run::{ExecIo, ExecOptions};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;

use crate::http::{self, ApiError, ApiResult};
use crate::routes::Ctx;
use crate::state::{Busy, State};

/// Finished execs kept for inspect, at most.
const KEPT: usize = 1000;

/// One exec instance.
pub struct ExecEntry {
    container: String,
    opts: ExecOptions,
    attach_stdout: bool,
    attach_stderr: bool,
    detach_keys: String,
    started: bool,
    running: bool,
    exit_code: Option<i32>,
    pid: i32,
    hub: Option<Arc<Hub>>,
    /// A size asked for before the process ran (a client resizes as soon
    /// as it has started the exec): given to it once it runs, as dockerd,
    /// which waits for the start, does.
    pending_size: Option<(u16, u16)>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    detach_keys: String,
    tty: bool,
    env: Vec<String>,
    cmd: Vec<String>,
    privileged: bool,
    user: String,
    working_dir: String,
    console_size: Option<Vec<u16>>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
    console_size: Option<Vec<u16>>,
}

pub async fn create(ctx: &Ctx, id: &str, req: Request<Incoming>) -> ApiResult {
    let body: CreateBody = http::read_json(req).await?;
    if body.cmd.is_empty() {
        return Err(ApiError::bad_request("No exec command specified"));
    }
    let key = id.to_string();
    let c = ctx.state.run(move |e| e.container(&key)).await?;
    if !c.state.running {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            c.id
        )));
    }
    if c.state.paused {
        return Err(ApiError::conflict(format!(
            "Container {} is paused, unpause the container before exec",
            c.id
        )));
    }
    let exec_id = berth_store::random_hex(32);
    let entry = ExecEntry {
        container: c.id.clone(),
        opts: ExecOptions {
            command: body.cmd,
            interactive: body.attach_stdin,
            tty: body.tty,
            env: body.env,
            workdir: Some(body.working_dir).filter(|w| !w.is_empty()),
            user: Some(body.user).filter(|u| !u.is_empty()),
            privileged: body.privileged,
            console_size: size_of(body.console_size.as_deref()),
            detach_keys: None,
        },
        attach_stdout: body.attach_stdout,
        attach_stderr: body.attach_stderr,
        detach_keys: body.detach_keys,
        started: false,
        running: false,
        exit_code: None,
        pid: 0,
        hub: None,
        pending_size: None,
    };
    let mut execs = ctx.state.execs.lock().expect("execs lock");
    if execs.len() >= KEPT {
        execs.retain(|_, e| e.running || !e.started);
    }
    execs.insert(exec_id.clone(), entry);
    Ok(http::json(StatusCode::CREATED, &json!({"Id": exec_id})))
}

/// ConsoleSize `[rows, columns]`, when given.
fn size_of(v: Option<&[u16]>) -> Option<(u16, u16)> {
    match v {
        Some([rows, cols]) if *rows > 0 && *cols > 0 => Some((*rows, *cols)),
        _ => None,
    }
}

fn no_such_exec(id: &str) -> ApiError {
    ApiError::not_found(format!("No such exec instance: {id}"))
}

/// Records that exec `id` ended with `code`.
fn finished(state: &State, id: &str, code: i32) {
    if let Some(e) = state.execs.lock().expect("execs lock").get_mut(id) {
        e.running = false;
        e.exit_code = Some(code);
        e.hub = None;
    }
}

pub async fn start(ctx: &Ctx, id: &str, mut req: Request<Incoming>) -> ApiResult {
    let upgrade = http::wants_upgrade(&req);
    let on_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let body: StartBody = http::read_json(req).await?;
    let (container, opts) = {
        let mut execs = ctx.state.execs.lock().expect("execs lock");
        let e = execs.get_mut(id).ok_or_else(|| no_such_exec(id))?;
        if e.started {
            return Err(ApiError::conflict(format!(
                "Exec command {id} has already run"
            )));
        }
        e.started = true;
        let mut opts = e.opts.clone();
        if let Some(size) = size_of(body.console_size.as_deref()) {
            opts.console_size = Some(size);
        }
        (e.container.clone(), opts)
    };
    let key = container.clone();
    let c = ctx.state.run(move |e| e.container(&key)).await?;
    if !c.state.running {
        finished(&ctx.state, id, 126);
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            c.id
        )));
    }
    let exec = Launch {
        state: ctx.state.clone(),
        exec_id: id.to_string(),
        container,
        opts,
    };
    if body.detach {
        exec.start(ExecIo::Detached).await?;
        return Ok(http::empty(StatusCode::OK));
    }
    let content_type = if !exec.opts.tty && ctx.version.at_least(1, 42) {
        "application/vnd.docker.multiplexed-stream"
    } else {
        "application/vnd.docker.raw-stream"
    };
    // The command starts once the client has the answer's headers (as
    // dockerd does), so none of its output can come before them.
    if let Some(on_upgrade) = on_upgrade {
        let busy = Busy::new(&ctx.state);
        tokio::spawn(async move {
            let _busy = busy;
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            match exec.stream().await {
                Ok(ours) => http::bridge(upgraded, ours).await,
                Err(e) => {
                    use tokio::io::AsyncWriteExt;
                    let mut io = hyper_util::rt::TokioIo::new(upgraded);
                    let _ = io.write_all(format!("{}\r\n", e.message).as_bytes()).await;
                    let _ = io.shutdown().await;
                }
            }
        });
        return Ok(http::switching(content_type));
    }
    let ours = exec.stream().await?;
    let (chunks, response) = http::streamed(content_type);
    http::pump(ours, chunks);
    Ok(response)
}

/// An exec about to run.
struct Launch {
    state: Arc<State>,
    exec_id: String,
    container: String,
    opts: ExecOptions,
}

impl Launch {
    /// Starts it with its stdio on a socket pair; our end.
    async fn stream(self) -> Result<std::os::unix::net::UnixStream, ApiError> {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| ApiError::internal(format!("exec stream: {e}")))?;
        self.start(ExecIo::Client(theirs)).await?;
        Ok(ours)
    }

    /// Starts it on `io`, and records it running, then how it ended.
    async fn start(self, io: ExecIo) -> Result<(), ApiError> {
        let Launch {
            state,
            exec_id,
            container,
            opts,
        } = self;
        let started = state
            .run(move |e| e.exec_start(&container, &opts, io))
            .await;
        let process = match started {
            Ok(p) => p,
            Err(e) => {
                finished(&state, &exec_id, 126);
                return Err(e);
            }
        };
        if let Some(e) = state.execs.lock().expect("execs lock").get_mut(&exec_id) {
            e.running = true;
            e.pid = process.pid();
            let hub = process.hub();
            if let Some((rows, cols)) = e.pending_size.take() {
                hub.resize(rows, cols);
            }
            e.hub = Some(hub);
        }
        tokio::task::spawn_blocking(move || {
            let code = process.wait_then(|code| finished(&state, &exec_id, code));
            if code.is_err() {
                finished(&state, &exec_id, -1);
            }
        });
        Ok(())
    }
}

pub fn resize(ctx: &Ctx, id: &str) -> ApiResult {
    let rows = ctx.query.int("h")?.unwrap_or(0);
    let cols = ctx.query.int("w")?.unwrap_or(0);
    let size = (
        rows.clamp(0, u16::MAX as i64) as u16,
        cols.clamp(0, u16::MAX as i64) as u16,
    );
    let mut execs = ctx.state.execs.lock().expect("execs lock");
    let e = execs.get_mut(id).ok_or_else(|| no_such_exec(id))?;
    match &e.hub {
        Some(hub) => {
            hub.resize(size.0, size.1);
            Ok(http::empty(StatusCode::OK))
        }
        // Started and not yet running: the size waits for the process.
        None if e.started && e.exit_code.is_none() => {
            e.pending_size = Some(size);
            Ok(http::empty(StatusCode::OK))
        }
        None => Err(ApiError::conflict(format!("Exec {id} is not running"))),
    }
}

pub fn inspect(ctx: &Ctx, id: &str) -> ApiResult {
    let execs = ctx.state.execs.lock().expect("execs lock");
    let e = execs.get(id).ok_or_else(|| no_such_exec(id))?;
    let (entrypoint, arguments) = e
        .opts
        .command
        .split_first()
        .map(|(a, rest)| (a.clone(), rest.to_vec()))
        .unwrap_or_default();
    http::ok_json(&json!({
        "ID": id,
        "Running": e.running,
        "ExitCode": e.exit_code,
        "ProcessConfig": {
            "tty": e.opts.tty,
            "entrypoint": entrypoint,
            "arguments": arguments,
            "privileged": e.opts.privileged,
            "user": e.opts.user.clone().unwrap_or_default(),
        },
        "OpenStdin": e.opts.interactive,
        "OpenStderr": e.attach_stderr,
        "OpenStdout": e.attach_stdout,
        "CanRemove": false,
        "ContainerID": e.container,
        "DetachKeys": e.detach_keys,
        "Pid": e.pid,
    }))
}
