//! `/containers/...`: each route one engine call, its answer in docker's
//! shape. Attach and wait are the two that take time: attach hijacks the
//! connection onto the container's attach socket (connected before the
//! start when asked before it), wait answers its headers at once and its
//! body when the container is done.

use std::sync::Arc;

use base64::Engine as _;
use berth_engine::attach::{self, Request as AttachRequest};
use berth_engine::filters::{Filters, PruneFilters, CONTAINER_KEYS, PRUNE_KEYS};
use berth_engine::lifecycle::{UpdateBody, WaitCondition};
use berth_engine::logs::LogOptions;
use berth_engine::model::{Container, CreateBody};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};

use crate::http::{self, ApiError, ApiResult, FrameWriter};
use crate::routes::Ctx;
use crate::state::{Busy, PendingAttach, State};

async fn container(ctx: &Ctx, id: &str) -> Result<Container, ApiError> {
    let id = id.to_string();
    ctx.state.run(move |e| e.container(&id)).await
}

pub async fn list(ctx: &Ctx) -> ApiResult {
    let filters = Filters::from_json(ctx.query.get("filters").unwrap_or(""), CONTAINER_KEYS)?;
    let all = ctx.query.flag("all")?;
    let size = ctx.query.flag("size")?;
    let limit = ctx.query.int("limit")?.unwrap_or(0).max(0) as usize;
    let list = ctx
        .state
        .run(move |e| {
            let list = e.select_containers(&filters, all, limit)?;
            Ok(list
                .iter()
                .map(|c| e.container_summary(c, size))
                .collect::<Vec<_>>())
        })
        .await?;
    http::ok_json(&list)
}

pub async fn create(ctx: &Ctx, req: Request<Incoming>) -> ApiResult {
    let name = ctx
        .query
        .get("name")
        .filter(|n| !n.is_empty())
        .map(String::from);
    let body = create_body(&http::read_all(req).await?)?;
    let (c, warnings) = ctx
        .state
        .run(move |e| e.create_with_warnings(name.as_deref(), body))
        .await?;
    Ok(http::json(
        StatusCode::CREATED,
        &json!({"Id": c.id, "Warnings": warnings}),
    ))
}

/// The create body, each part read on its own so that an error names its
/// field (`Image`, `HostConfig.Memory`).
fn create_body(data: &[u8]) -> Result<CreateBody, ApiError> {
    let mut v = match http::parse_value(data)? {
        Value::Null => {
            return Err(ApiError::bad_request(
                "config cannot be empty in order to create a container",
            ))
        }
        Value::Object(map) => map,
        _ => return Err(ApiError::bad_request("invalid request body: an object")),
    };
    let mut part = |key: &str| v.remove(key).unwrap_or(Value::Null);
    let host_config = match part("HostConfig") {
        Value::Null => Default::default(),
        h => http::from_value(h, "HostConfig")?,
    };
    let networking_config = match part("NetworkingConfig") {
        Value::Null => Default::default(),
        n => http::from_value(n, "NetworkingConfig")?,
    };
    Ok(CreateBody {
        config: http::from_value(Value::Object(v), "")?,
        host_config,
        networking_config,
    })
}

pub async fn inspect(ctx: &Ctx, id: &str) -> ApiResult {
    let size = ctx.query.flag("size")?;
    let id = id.to_string();
    let doc = ctx
        .state
        .run(move |e| {
            let c = e.container(&id)?;
            let mut v = serde_json::to_value(&c).expect("container serialises");
            if size {
                let (rw, root) = e.container_size(&c);
                v["SizeRw"] = rw.into();
                v["SizeRootFs"] = root.into();
            }
            Ok(v)
        })
        .await?;
    http::ok_json(&doc)
}

pub async fn top(ctx: &Ctx, id: &str) -> ApiResult {
    let args: Vec<String> = ctx
        .query
        .get("ps_args")
        .unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect();
    let id = id.to_string();
    let lines = ctx.state.run(move |e| e.top(&id, &args)).await?;
    let titles: Vec<&str> = lines
        .first()
        .map(|h| h.split_whitespace().collect())
        .unwrap_or_default();
    let processes: Vec<Vec<String>> = lines
        .iter()
        .skip(1)
        .map(|l| split_columns(l, titles.len()))
        .collect();
    http::ok_json(&json!({"Titles": titles, "Processes": processes}))
}

/// A `ps` line in `n` columns, the last taking the rest (the command).
fn split_columns(line: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while out.len() + 1 < n {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        out.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    out.push(rest.to_string());
    out
}

/// The stream type of attach and logs: multiplexed without a TTY (named
/// so from API 1.42), raw with one.
fn stream_type(ctx: &Ctx, tty: bool) -> &'static str {
    if !tty && ctx.version.at_least(1, 42) {
        "application/vnd.docker.multiplexed-stream"
    } else {
        "application/vnd.docker.raw-stream"
    }
}

fn log_options(ctx: &Ctx) -> Result<LogOptions, ApiError> {
    let tail = match ctx.query.get("tail").unwrap_or("all") {
        "all" | "" | "-1" => None,
        n => Some(n.parse().map_err(|_| {
            ApiError::bad_request(format!("invalid value for tail: {n:?}: a number or all"))
        })?),
    };
    Ok(LogOptions {
        tail,
        timestamps: ctx.query.flag("timestamps")?,
        since: crate::system::query_time(ctx, "since")?
            .filter(|t| t.timestamp() != 0 || t.timestamp_subsec_nanos() != 0),
        until: crate::system::query_time(ctx, "until")?
            .filter(|t| t.timestamp() != 0 || t.timestamp_subsec_nanos() != 0),
        follow: ctx.query.flag("follow")?,
        details: ctx.query.flag("details")?,
    })
}

pub async fn logs(ctx: &Ctx, id: &str) -> ApiResult {
    let (stdout, stderr) = (ctx.query.flag("stdout")?, ctx.query.flag("stderr")?);
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let opts = log_options(ctx)?;
    let c = container(ctx, id).await?;
    if c.host_config.log_config.kind == "none" {
        return Err(ApiError::not_implemented(
            "configured logging driver does not support reading",
        ));
    }
    let tty = c.config.tty;
    let (chunks, response) = http::streamed(stream_type(ctx, tty));
    let state = ctx.state.clone();
    tokio::spawn(async move {
        let _ = state
            .run(move |e| {
                let mut out = FrameWriter::or_sink(&chunks, attach::STDOUT, tty, stdout);
                let mut err = FrameWriter::or_sink(&chunks, attach::STDERR, tty, stderr);
                e.logs_until(&c.id, &opts, &mut out, &mut err, &|| chunks.closed())
            })
            .await;
    });
    Ok(response)
}

pub async fn changes(ctx: &Ctx, id: &str) -> ApiResult {
    let id = id.to_string();
    let changes = ctx.state.run(move |e| e.container_changes(&id)).await?;
    let docs: Vec<Value> = changes
        .iter()
        .map(|(kind, path)| {
            let kind = match kind {
                'C' => 0,
                'A' => 1,
                _ => 2,
            };
            json!({"Path": path, "Kind": kind})
        })
        .collect();
    http::ok_json(&docs)
}

pub async fn export(ctx: &Ctx, id: &str) -> ApiResult {
    let c = container(ctx, id).await?;
    let (mut chunks, response) = http::streamed("application/x-tar");
    let state = ctx.state.clone();
    tokio::spawn(async move {
        let _ = state
            .run(move |e| e.export_container(&c.id, &mut chunks))
            .await;
    });
    Ok(response)
}

/// docker's stats document from two samples (the older one as `precpu`).
fn stats_doc(
    now: &berth_engine::lifecycle::StatsSample,
    before: Option<&berth_engine::lifecycle::StatsSample>,
) -> Value {
    let cpu = |s: Option<&berth_engine::lifecycle::StatsSample>| match s {
        Some(s) => json!({
            "cpu_usage": {"total_usage": s.usage.cpu_ns, "usage_in_kernelmode": 0, "usage_in_usermode": s.usage.cpu_ns},
            "system_cpu_usage": s.system_cpu_ns,
            "online_cpus": s.online_cpus,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        }),
        None => json!({
            "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "system_cpu_usage": 0, "online_cpus": 0,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        }),
    };
    let u = &now.usage;
    let zero_time = "0001-01-01T00:00:00Z".to_string();
    json!({
        "read": now.read.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "preread": before.map_or(zero_time, |b| b.read.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
        "pids_stats": {"current": u.pids},
        "blkio_stats": {
            "io_service_bytes_recursive": [
                {"major": 0, "minor": 0, "op": "read", "value": u.block_read},
                {"major": 0, "minor": 0, "op": "write", "value": u.block_write},
            ],
            "io_serviced_recursive": null, "io_queue_recursive": null,
            "io_service_time_recursive": null, "io_wait_time_recursive": null,
            "io_merged_recursive": null, "io_time_recursive": null, "sectors_recursive": null,
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu(Some(now)),
        "precpu_stats": cpu(before),
        "memory_stats": if now.running {
            json!({"usage": u.memory, "stats": {}, "limit": u.memory_limit})
        } else {
            json!({})
        },
        "name": now.name,
        "id": now.id,
        "networks": {"eth0": {
            "rx_bytes": u.net_rx, "rx_packets": 0, "rx_errors": 0, "rx_dropped": 0,
            "tx_bytes": u.net_tx, "tx_packets": 0, "tx_errors": 0, "tx_dropped": 0,
        }},
    })
}

pub async fn stats(ctx: &Ctx, id: &str) -> ApiResult {
    let stream = ctx.query.get("stream").is_none() || ctx.query.flag("stream")?;
    let one_shot = ctx.query.flag("one-shot")?;
    let c = container(ctx, id).await?;
    let sample = {
        let state = ctx.state.clone();
        let id = c.id.clone();
        move || {
            let state = state.clone();
            let id = id.clone();
            async move { state.run(move |e| e.stats_sample(&id)).await }
        }
    };
    if !stream {
        let first = sample().await?;
        if one_shot {
            return http::ok_json(&stats_doc(&first, None));
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let second = sample().await?;
        return http::ok_json(&stats_doc(&second, Some(&first)));
    }
    let (chunks, response) = http::streamed("application/json");
    tokio::spawn(async move {
        let mut before = None;
        loop {
            let Ok(now) = sample().await else { break };
            let mut line = serde_json::to_vec(&stats_doc(&now, before.as_ref())).expect("json");
            line.push(b'\n');
            if chunks.send_async(line).await.is_err() || !now.running {
                break;
            }
            before = Some(now);
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    });
    Ok(response)
}

fn size_params(ctx: &Ctx) -> Result<(u16, u16), ApiError> {
    let dim = |k: &str| -> Result<u16, ApiError> {
        ctx.query
            .int(k)?
            .and_then(|v| u16::try_from(v).ok())
            .ok_or_else(|| ApiError::bad_request(format!("invalid value for {k}: a terminal size")))
    };
    Ok((dim("h")?, dim("w")?))
}

pub async fn resize(ctx: &Ctx, id: &str) -> ApiResult {
    let (rows, cols) = size_params(ctx)?;
    let id = id.to_string();
    ctx.state
        .run(move |e| e.resize_container(&id, rows, cols))
        .await?;
    Ok(http::empty(StatusCode::OK))
}

pub async fn start(ctx: &Ctx, id: &str) -> ApiResult {
    let c = container(ctx, id).await?;
    if c.state.running {
        return Ok(http::empty(StatusCode::NOT_MODIFIED));
    }
    // Attach requests that came before the start are connected while the
    // container waits to run, so that they see all of its output.
    let pending: Vec<PendingAttach> = ctx
        .state
        .pending
        .lock()
        .expect("pending lock")
        .remove(&c.id)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !p.connected.is_closed())
        .collect();
    ctx.state
        .run(move |e| {
            if pending.is_empty() {
                return e.start_detached(&c.id);
            }
            let mut pending = Some(pending);
            e.start_detached_with(
                &c.id,
                Some(&mut |socket: &std::path::Path| {
                    for p in pending.take().into_iter().flatten() {
                        match attach::connect(socket, &p.request) {
                            Ok(s) => {
                                let _ = p.connected.send(s);
                            }
                            Err(err) => tracing::warn!("attaching before the start: {err}"),
                        }
                    }
                }),
            )
        })
        .await?;
    Ok(http::empty(StatusCode::NO_CONTENT))
}

pub async fn stop(ctx: &Ctx, id: &str, restart: bool) -> ApiResult {
    let timeout = ctx.query.int("t")?.map(|t| t.max(0) as u32);
    let signal = ctx
        .query
        .get("signal")
        .filter(|s| !s.is_empty())
        .map(berth_engine::lifecycle::parse_signal)
        .transpose()?;
    let c = container(ctx, id).await?;
    if restart {
        ctx.state
            .run(move |e| e.restart_container(&c.id, timeout))
            .await?;
        return Ok(http::empty(StatusCode::NO_CONTENT));
    }
    if !c.state.running && !c.state.restarting {
        return Ok(http::empty(StatusCode::NOT_MODIFIED));
    }
    ctx.state
        .run(move |e| e.stop_container(&c.id, timeout, signal))
        .await?;
    Ok(http::empty(StatusCode::NO_CONTENT))
}

pub async fn kill(ctx: &Ctx, id: &str) -> ApiResult {
    let signal = berth_engine::lifecycle::parse_signal(
        ctx.query
            .get("signal")
            .filter(|s| !s.is_empty())
            .unwrap_or("KILL"),
    )?;
    let id = id.to_string();
    ctx.state
        .run(move |e| e.kill_container(&id, signal))
        .await?;
    Ok(http::empty(StatusCode::NO_CONTENT))
}

pub async fn update(ctx: &Ctx, id: &str, req: Request<Incoming>) -> ApiResult {
    let body: UpdateBody = http::read_json(req).await?;
    let id = id.to_string();
    let warnings = ctx
        .state
        .run(move |e| e.update_container(&id, &body))
        .await?;
    http::ok_json(&json!({"Warnings": warnings}))
}

pub async fn rename(ctx: &Ctx, id: &str) -> ApiResult {
    let name = ctx.query.required("name")?.to_string();
    let id = id.to_string();
    ctx.state.run(move |e| e.rename(&id, &name)).await?;
    Ok(http::empty(StatusCode::NO_CONTENT))
}

pub async fn pause(ctx: &Ctx, id: &str, pause: bool) -> ApiResult {
    let id = id.to_string();
    ctx.state
        .run(move |e| e.pause_container(&id, pause))
        .await?;
    Ok(http::empty(StatusCode::NO_CONTENT))
}

pub async fn remove(ctx: &Ctx, id: &str) -> ApiResult {
    let force = ctx.query.flag("force")?;
    let volumes = ctx.query.flag("v")?;
    if ctx.query.flag("link")? {
        return Err(ApiError::not_implemented(
            "berth has no legacy links to remove",
        ));
    }
    let id = id.to_string();
    ctx.state
        .run(move |e| e.remove_container_with(&id, force, volumes))
        .await?;
    Ok(http::empty(StatusCode::NO_CONTENT))
}

pub async fn prune(ctx: &Ctx) -> ApiResult {
    let filters = Filters::from_json(ctx.query.get("filters").unwrap_or(""), PRUNE_KEYS)?;
    let prune = PruneFilters::new(&filters)?;
    let (removed, freed) = ctx
        .state
        .run(move |e| e.prune_containers(&|c| prune.selects(&c.created, &c.config.labels)))
        .await?;
    http::ok_json(&json!({"ContainersDeleted": removed, "SpaceReclaimed": freed}))
}

/// `POST /containers/{id}/wait`: the headers go at once (so a client may
/// start the container next), the exit code when the condition holds.
pub async fn wait(ctx: &Ctx, id: &str) -> ApiResult {
    let condition = WaitCondition::parse(ctx.query.get("condition").unwrap_or(""))?;
    let id = id.to_string();
    let waiter = ctx.state.run(move |e| e.waiter(&id, condition)).await?;
    let (chunks, response) = http::streamed("application/json");
    let state = ctx.state.clone();
    tokio::spawn(async move {
        let waited = {
            let chunks = chunks.clone();
            state
                .run(move |e| e.wait_for(&waiter, &|| chunks.closed()))
                .await
        };
        let doc = match waited {
            Ok(code) => json!({"StatusCode": code, "Error": null}),
            Err(e) => json!({"StatusCode": -1, "Error": {"Message": e.message}}),
        };
        let mut line = serde_json::to_vec(&doc).expect("json");
        line.push(b'\n');
        let _ = chunks.send_async(line).await;
    });
    Ok(response)
}

/// `POST /containers/{id}/attach`: with `Upgrade: tcp` the connection
/// becomes the container's stdio; without, the output comes as the body.
pub async fn attach(ctx: &Ctx, id: &str, mut req: Request<Incoming>) -> ApiResult {
    let c = container(ctx, id).await?;
    let q = &ctx.query;
    let request = AttachRequest {
        stdin: q.flag("stdin")? && c.config.open_stdin,
        stdout: q.flag("stdout")?,
        stderr: q.flag("stderr")?,
        resize: None,
    };
    let (stream, logs) = (q.flag("stream")?, q.flag("logs")?);
    let tty = c.config.tty;
    let replay = if logs {
        let id = c.id.clone();
        let (stdout, stderr) = (request.stdout, request.stderr);
        ctx.state
            .run(move |e| {
                let buf = std::cell::RefCell::new(Vec::new());
                let mut out = Replay {
                    buf: &buf,
                    stream: attach::STDOUT,
                    raw: tty,
                    on: stdout,
                };
                let mut err = Replay {
                    buf: &buf,
                    stream: attach::STDERR,
                    raw: tty,
                    on: stderr,
                };
                e.logs(&id, &LogOptions::default(), &mut out, &mut err)?;
                Ok(buf.into_inner())
            })
            .await?
    } else {
        Vec::new()
    };
    let holder = stream.then(|| connection_to(&ctx.state, &c, request));
    let content_type = stream_type(ctx, tty);
    if http::wants_upgrade(&req) {
        let on_upgrade = hyper::upgrade::on(&mut req);
        let busy = Busy::new(&ctx.state);
        tokio::spawn(async move {
            let _busy = busy;
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let mut io = hyper_util::rt::TokioIo::new(upgraded);
            use tokio::io::AsyncWriteExt;
            if !replay.is_empty() && io.write_all(&replay).await.is_err() {
                return;
            }
            match holder {
                Some(holder) => {
                    if let Some(sock) = holder.await {
                        http::bridge(io.into_inner(), sock).await;
                    }
                }
                None => {
                    let _ = io.shutdown().await;
                }
            }
        });
        return Ok(http::switching(content_type));
    }
    // No hijack: the output as a plain body, no input.
    let (chunks, response) = http::streamed(content_type);
    tokio::spawn(async move {
        if !replay.is_empty() && chunks.send_async(replay).await.is_err() {
            return;
        }
        let Some(holder) = holder else { return };
        if let Some(sock) = holder.await {
            http::pump(sock, chunks);
        }
    });
    Ok(response)
}

/// The log replay of `attach?logs=1`, in the attach stream's format.
struct Replay<'a> {
    buf: &'a std::cell::RefCell<Vec<u8>>,
    stream: u8,
    raw: bool,
    on: bool,
}

impl std::io::Write for Replay<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.on {
            let mut buf = self.buf.borrow_mut();
            if self.raw {
                buf.extend_from_slice(data);
            } else {
                attach::write_frame(&mut *buf, self.stream, data)?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A connection to container `c`'s attach socket for `request`: at once
/// when it runs; when it does not, once it starts (connected by the start
/// before the command runs, when the start comes through this service).
/// None when it never does (removed).
fn connection_to(
    state: &Arc<State>,
    c: &Container,
    request: AttachRequest,
) -> impl std::future::Future<Output = Option<std::os::unix::net::UnixStream>> + Send + 'static {
    let state = state.clone();
    let id = c.id.clone();
    let running = c.state.running;
    let socket = attach::socket_path(&state.config.state_dir, &c.id[..12]);
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    if !running {
        state
            .pending
            .lock()
            .expect("pending lock")
            .entry(id.clone())
            .or_default()
            .push(PendingAttach {
                request: request.clone(),
                connected: tx,
            });
    }
    async move {
        let connect = |socket: std::path::PathBuf, request: AttachRequest| async move {
            tokio::task::spawn_blocking(move || attach::connect(&socket, &request).ok())
                .await
                .ok()
                .flatten()
        };
        if running {
            return connect(socket, request).await;
        }
        loop {
            tokio::select! {
                got = &mut rx => return got.ok(),
                _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
            }
            // Started elsewhere (the CLI), or gone.
            let id = id.clone();
            match state.run(move |e| e.container(&id)).await {
                Ok(c) if c.state.running => return connect(socket, request).await,
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

fn path_param(ctx: &Ctx) -> Result<String, ApiError> {
    Ok(ctx.query.required("path")?.to_string())
}

fn stat_header(stat: &berth_engine::rootfs::PathStat) -> HeaderValue {
    let json = serde_json::to_vec(stat).expect("stat serialises");
    HeaderValue::from_str(&base64::engine::general_purpose::STANDARD.encode(json))
        .expect("base64 is a header value")
}

/// The container's missing path, in docker's words.
fn no_such_path(e: ApiError, path: &str, id: &str) -> ApiError {
    if e.status == StatusCode::NOT_FOUND && e.message.contains("no such file") {
        ApiError::not_found(format!("Could not find the file {path} in container {id}"))
    } else {
        e
    }
}

pub async fn archive_stat(ctx: &Ctx, id: &str) -> ApiResult {
    let path = path_param(ctx)?;
    let (key, p) = (id.to_string(), path.clone());
    let stat = ctx
        .state
        .run(move |e| e.path_stat(&key, &p))
        .await
        .map_err(|e| no_such_path(e, &path, id))?;
    let mut r = http::empty(StatusCode::OK);
    r.headers_mut()
        .insert("X-Docker-Container-Path-Stat", stat_header(&stat));
    Ok(r)
}

pub async fn archive_get(ctx: &Ctx, id: &str) -> ApiResult {
    let path = path_param(ctx)?;
    let (key, p) = (id.to_string(), path.clone());
    let stat = ctx
        .state
        .run(move |e| e.path_stat(&key, &p))
        .await
        .map_err(|e| no_such_path(e, &path, id))?;
    let (mut chunks, mut response) = http::streamed("application/x-tar");
    response
        .headers_mut()
        .insert("X-Docker-Container-Path-Stat", stat_header(&stat));
    let state = ctx.state.clone();
    let key = id.to_string();
    tokio::spawn(async move {
        let _ = state
            .run(move |e| e.copy_from_container(&key, &path, None, &mut chunks, false))
            .await;
    });
    Ok(response)
}

pub async fn archive_put(ctx: &Ctx, id: &str, req: Request<Incoming>) -> ApiResult {
    let path = path_param(ctx)?;
    let owners = ctx.query.flag("copyUIDGID")?;
    let c = container(ctx, id).await?;
    let mut body = http::body_reader(req.into_body());
    ctx.state
        .run(move |e| e.copy_to_container(&c.id, &path, None, &mut body, owners, false))
        .await?;
    Ok(http::empty(StatusCode::OK))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ps_lines_split_into_titles_columns() {
        assert_eq!(
            super::split_columns("root   1  0 00:00 ?  00:00:00 sleep 60", 7),
            ["root", "1", "0", "00:00", "?", "00:00:00", "sleep 60"]
        );
    }
}
