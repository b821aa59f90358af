//! `/images/...`, `/build`, `/commit`, `/distribution`: pulls and pushes
//! stream docker's progress documents (a missing image is an HTTP 404
//! before any output, later failures an `errorDetail` in the stream);
//! `/build` is the classic builder's protocol over the engine's build.

use std::collections::BTreeMap;
use std::sync::Mutex;

use base64::Engine as _;
use berth_engine::build::progress::{Mode, Progress};
use berth_engine::build::BuildOptions;
use berth_engine::filters::{Filters, PruneFilters, IMAGE_KEYS};
use berth_engine::pull::{LayerStatus, PullEvent, PullOptions};
use berth_engine::push::{PushEvent, PushStatus};
use berth_engine::EngineError;
use berth_registry::Credential;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::http::{self, ApiError, ApiResult, Chunks};
use crate::routes::Ctx;

pub async fn list(ctx: &Ctx) -> ApiResult {
    let mut filters = Filters::from_json(ctx.query.get("filters").unwrap_or(""), IMAGE_KEYS)?;
    // Before API 1.41 `filter=` named the reference.
    if let Some(r) = ctx.query.get("filter").filter(|r| !r.is_empty()) {
        filters.0.push(("reference".into(), r.to_string()));
    }
    let docs = ctx
        .state
        .run(move |e| {
            Ok(e.select_images(&filters)?
                .iter()
                .map(|(i, tags)| e.image_summary(i, tags))
                .collect::<Vec<_>>())
        })
        .await?;
    http::ok_json(&docs)
}

pub async fn inspect(ctx: &Ctx, name: &str) -> ApiResult {
    let name = name.to_string();
    let mut doc = ctx.state.run(move |e| e.inspect_image(&name)).await?;
    if !ctx.version.at_least(1, 44) {
        // Older clients read the config the image was committed from.
        doc["ContainerConfig"] = doc["Config"].clone();
        doc["Container"] = json!("");
        doc["VirtualSize"] = doc["Size"].clone();
    }
    http::ok_json(&doc)
}

pub async fn history(ctx: &Ctx, name: &str) -> ApiResult {
    let name = name.to_string();
    let docs = ctx
        .state
        .run(move |e| {
            let image = e.resolve_image(&name)?;
            let tags: Vec<String> = e
                .select_images(&Filters::default())?
                .into_iter()
                .find(|(i, _)| i.record.id == image.id)
                .map(|(i, _)| i.tags.iter().map(|t| t.familiar()).collect())
                .unwrap_or_default();
            Ok(e.history(&name)?
                .iter()
                .enumerate()
                .map(|(n, h)| {
                    json!({
                        "Id": h.id,
                        "Created": berth_engine::time::parse(&h.created).map_or(0, |t| t.timestamp()),
                        "CreatedBy": h.created_by,
                        "Tags": if n == 0 { tags.clone() } else { Vec::new() },
                        "Size": h.size,
                        "Comment": h.comment,
                    })
                })
                .collect::<Vec<_>>())
        })
        .await?;
    http::ok_json(&docs)
}

pub async fn tag(ctx: &Ctx, name: &str) -> ApiResult {
    let repo = ctx.query.required("repo")?;
    let target = match ctx.query.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{repo}:{t}"),
        None => repo.to_string(),
    };
    let name = name.to_string();
    ctx.state.run(move |e| e.tag(&name, &target)).await?;
    Ok(http::empty(StatusCode::CREATED))
}

pub async fn remove(ctx: &Ctx, name: &str) -> ApiResult {
    let force = ctx.query.flag("force")?;
    let name = name.to_string();
    let lines = ctx.state.run(move |e| e.remove_image(&name, force)).await?;
    http::ok_json(&deleted_docs(&lines))
}

/// `Untagged: x` / `Deleted: y` lines (either case) as docker's documents.
fn deleted_docs(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| {
            let (kind, what) = l.split_once(": ")?;
            let key = if kind.eq_ignore_ascii_case("untagged") {
                "Untagged"
            } else {
                "Deleted"
            };
            Some(json!({ key: what }))
        })
        .collect()
}

pub async fn prune(ctx: &Ctx) -> ApiResult {
    let mut filters = Filters::from_json(
        ctx.query.get("filters").unwrap_or(""),
        &["dangling", "until", "label", "label!"],
    )?;
    // dangling=false prunes every unused image (`image prune -a`).
    let all = filters
        .values("dangling")
        .any(|v| matches!(v, "false" | "0"));
    filters.0.retain(|(k, _)| k != "dangling");
    let prune = PruneFilters::new(&filters)?;
    let (lines, freed) = ctx
        .state
        .run(move |e| e.prune_images(all, &|i| prune.selects(&i.record.created, &i.labels)))
        .await?;
    http::ok_json(&json!({"ImagesDeleted": deleted_docs(&lines), "SpaceReclaimed": freed}))
}

pub async fn save(ctx: &Ctx, name: Option<String>) -> ApiResult {
    let names: Vec<String> = match name {
        Some(n) => vec![n],
        None => ctx.query.all("names").map(String::from).collect(),
    };
    if names.is_empty() {
        return Err(ApiError::bad_request("the names parameter is required"));
    }
    // Every name is checked before the archive starts.
    let check = names.clone();
    ctx.state
        .run(move |e| {
            for n in &check {
                let repo_only = berth_image::Reference::parse_unnormalised(n)
                    .is_ok_and(|r| r.tag.is_none() && r.digest.is_none());
                if !repo_only {
                    e.resolve_image(n)?;
                }
            }
            Ok(())
        })
        .await?;
    let (mut chunks, response) = http::streamed("application/x-tar");
    let state = ctx.state.clone();
    tokio::spawn(async move {
        let _ = state.run(move |e| e.save(&names, &mut chunks)).await;
    });
    Ok(response)
}

pub async fn load(ctx: &Ctx, req: Request<Incoming>) -> ApiResult {
    let mut body = http::body_reader(req.into_body());
    let names = ctx.state.run(move |e| e.load(&mut body)).await?;
    let mut out = Vec::new();
    for line in names {
        let mut data = serde_json::to_vec(&json!({"stream": format!("{line}\n")})).expect("json");
        data.push(b'\n');
        out.extend(data);
    }
    Ok(http::bytes_of(StatusCode::OK, "application/json", out))
}

/// `X-Registry-Auth`: base64 (URL-safe or not) of `{"username", "password",
/// "identitytoken"}`; empty or `{}` is no credential.
fn registry_auth<B>(req: &Request<B>) -> Result<Option<Credential>, ApiError> {
    let Some(header) = req.headers().get("X-Registry-Auth") else {
        return Ok(None);
    };
    let text = header.to_str().unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    let decoded = base64::engine::general_purpose::URL_SAFE
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
        .map_err(|_| ApiError::bad_request("X-Registry-Auth is not base64"))?;
    credential_of(&serde_json::from_slice(&decoded).map_err(|e| {
        ApiError::bad_request(format!("X-Registry-Auth is not a JSON auth config: {e}"))
    })?)
}

fn credential_of(v: &Value) -> Result<Option<Credential>, ApiError> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (user, password, token) = (s("username"), s("password"), s("identitytoken"));
    if !token.is_empty() {
        return Ok(Some(Credential {
            username: if user.is_empty() {
                "<token>".into()
            } else {
                user
            },
            secret: token,
        }));
    }
    if user.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credential {
        username: user,
        secret: password,
    }))
}

/// docker's progress bar: `[=====>      ]  1.2MB/4.5MB`.
fn progress_bar(done: u64, total: u64) -> String {
    use berth_engine::time::human_size;
    if total == 0 {
        return human_size(done);
    }
    let width = 50u64;
    let filled = (done.min(total) * width / total) as usize;
    let bar = if filled >= width as usize {
        "=".repeat(width as usize)
    } else {
        format!(
            "{}>{}",
            "=".repeat(filled),
            " ".repeat(width as usize - filled - 1)
        )
    };
    format!("[{bar}] {:>8}/{}", human_size(done), human_size(total))
}

fn pull_doc(ev: &PullEvent) -> Value {
    match ev {
        PullEvent::Resolved { tag, repository } => {
            json!({"status": format!("Pulling from {repository}"), "id": tag})
        }
        PullEvent::Layer { id, status } => match status {
            LayerStatus::AlreadyExists => {
                json!({"status": "Already exists", "progressDetail": {}, "id": id})
            }
            LayerStatus::Waiting => json!({"status": "Waiting", "progressDetail": {}, "id": id}),
            LayerStatus::Downloading { done, total } => json!({
                "status": "Downloading",
                "progressDetail": {"current": done, "total": total},
                "progress": progress_bar(*done, *total),
                "id": id,
            }),
            LayerStatus::Complete => {
                json!({"status": "Pull complete", "progressDetail": {}, "id": id})
            }
        },
    }
}

fn error_doc(message: &str) -> Value {
    json!({"errorDetail": {"message": message}, "error": message})
}

/// Runs `work` on a blocking thread with a progress stream, answering the
/// request once it reports its first progress (a 200 whose body follows)
/// or fails before that (its error, with its status).
async fn streamed_once_started<F>(ctx: &Ctx, work: F) -> ApiResult
where
    F: FnOnce(&berth_engine::Engine, &(dyn Fn(Value) + Sync)) -> Result<Vec<Value>, EngineError>
        + Send
        + 'static,
{
    let (chunks, response) = http::streamed("application/json");
    let (started_tx, started_rx) = oneshot::channel::<Option<ApiError>>();
    let state = ctx.state.clone();
    tokio::spawn(async move {
        let _ = state
            .run_api(move |e| {
                let started = Mutex::new(Some(started_tx));
                let tell = |err: Option<ApiError>| -> Option<ApiError> {
                    match started.lock().expect("started lock").take() {
                        Some(tx) => {
                            let _ = tx.send(err);
                            None
                        }
                        None => err,
                    }
                };
                let progress = |doc: Value| {
                    tell(None);
                    let _ = chunks.line(&doc);
                };
                match work(e, &progress) {
                    Ok(last) => {
                        tell(None);
                        for doc in last {
                            let _ = chunks.line(&doc);
                        }
                    }
                    Err(err) => {
                        if let Some(err) = tell(Some(err.into())) {
                            let _ = chunks.line(&error_doc(&err.message));
                        }
                    }
                }
                Ok(())
            })
            .await;
    });
    match started_rx.await {
        Ok(None) => Ok(response),
        Ok(Some(err)) => Err(err),
        Err(_) => Err(ApiError::internal("the operation ended without an answer")),
    }
}

/// `POST /images/create`: a pull (`fromImage`), or an import (`fromSrc=-`).
pub async fn create(ctx: &Ctx, req: Request<Incoming>) -> ApiResult {
    if let Some(src) = ctx.query.get("fromSrc") {
        return import(ctx, src, req).await;
    }
    let image = ctx.query.required("fromImage")?.to_string();
    let credential = registry_auth(&req)?;
    let platform = ctx
        .query
        .get("platform")
        .filter(|p| !p.is_empty())
        .map(berth_image::spec::Platform::parse)
        .transpose()
        .map_err(ApiError::bad_request)?;
    let name = match ctx.query.get("tag").filter(|t| !t.is_empty()) {
        Some(t) if t.starts_with("sha256:") => format!("{image}@{t}"),
        Some(t) => format!("{image}:{t}"),
        None => image.clone(),
    };
    let all_tags = ctx.query.get("tag").is_none_or(|t| t.is_empty())
        && berth_image::Reference::parse_unnormalised(&image)
            .is_ok_and(|r| r.tag.is_none() && r.digest.is_none());
    let opts = PullOptions {
        platform,
        credential,
    };
    streamed_once_started(ctx, move |e, progress| {
        let on_event = |ev: PullEvent| progress(pull_doc(&ev));
        let pulled = if all_tags {
            e.pull_all_tags(&name, &opts, &on_event)?
        } else {
            vec![e.pull(&name, &opts, &on_event)?]
        };
        let mut last = Vec::new();
        for p in &pulled {
            last.push(json!({"status": format!("Digest: {}", p.digest)}));
            let shown = p.reference.familiar();
            last.push(json!({"status": if p.updated {
                format!("Status: Downloaded newer image for {shown}")
            } else {
                format!("Status: Image is up to date for {shown}")
            }}));
        }
        Ok(last)
    })
    .await
}

/// `fromSrc=-`: the body is a root filesystem tar, imported as an image.
async fn import(ctx: &Ctx, src: &str, req: Request<Incoming>) -> ApiResult {
    if src != "-" {
        return Err(ApiError::not_implemented(
            "berth imports from the request body only (fromSrc=-): download the archive first",
        ));
    }
    let reference = ctx.query.get("repo").filter(|r| !r.is_empty()).map(|r| {
        match ctx.query.get("tag").filter(|t| !t.is_empty()) {
            Some(t) => format!("{r}:{t}"),
            None => r.to_string(),
        }
    });
    let opts = berth_engine::images::ImportOptions {
        changes: ctx.query.all("changes").map(String::from).collect(),
        message: ctx.query.get("message").map(String::from),
        platform: ctx
            .query
            .get("platform")
            .filter(|p| !p.is_empty())
            .map(berth_image::spec::Platform::parse)
            .transpose()
            .map_err(ApiError::bad_request)?,
    };
    let mut body = http::body_reader(req.into_body());
    let id = ctx
        .state
        .run(move |e| e.import(&mut body, "-", reference.as_deref(), &opts))
        .await?;
    http::ok_json(&json!({"status": id.to_string()}))
}

pub async fn push(ctx: &Ctx, name: &str, req: Request<Incoming>) -> ApiResult {
    let credential = registry_auth(&req)?;
    let name = match ctx.query.get("tag").filter(|t| !t.is_empty()) {
        Some(t) => format!("{name}:{t}"),
        None => name.to_string(),
    };
    let all_tags = berth_image::Reference::parse_unnormalised(&name)
        .is_ok_and(|r| r.tag.is_none() && r.digest.is_none());
    streamed_once_started(ctx, move |e, progress| {
        let pushed = e.push(&name, all_tags, credential.as_ref(), &|ev| {
            progress(match ev {
                PushEvent::Repository(repo) => json!({
                    "status": format!("The push refers to repository [{}]", full_repository(&repo)),
                }),
                PushEvent::Layer { id, status } => push_doc(&id, &status),
            })
        })
        .map_err(|err| match err {
            EngineError::NoSuchImage(n) => EngineError::NoSuchImage(format!(
                "{n}: an image does not exist locally with the tag"
            )),
            other => other,
        })?;
        let mut last = Vec::new();
        for p in &pushed {
            last.push(json!({"status": format!("{}: digest: {} size: {}", p.tag, p.digest, p.size)}));
            last.push(json!({"progressDetail": {}, "aux": {"Tag": p.tag, "Digest": p.digest, "Size": p.size}}));
        }
        Ok(last)
    })
    .await
}

/// `busybox` → `docker.io/library/busybox`, as docker's push names it.
fn full_repository(familiar: &str) -> String {
    berth_image::Reference::parse(familiar)
        .map(|r| r.name())
        .unwrap_or_else(|_| familiar.to_string())
}

fn push_doc(id: &str, status: &PushStatus) -> Value {
    match status {
        PushStatus::Preparing => json!({"status": "Preparing", "progressDetail": {}, "id": id}),
        PushStatus::Pushing { done, total } => json!({
            "status": "Pushing",
            "progressDetail": {"current": done, "total": total},
            "progress": progress_bar(*done, *total),
            "id": id,
        }),
        PushStatus::Pushed => json!({"status": "Pushed", "progressDetail": {}, "id": id}),
        PushStatus::AlreadyExists => {
            json!({"status": "Layer already exists", "progressDetail": {}, "id": id})
        }
        PushStatus::MountedFrom(from) => json!({
            "status": format!("Mounted from {from}"), "progressDetail": {}, "id": id,
        }),
    }
}

pub async fn distribution(ctx: &Ctx, name: &str, req: Request<Incoming>) -> ApiResult {
    let credential = registry_auth(&req)?;
    let name = name.to_string();
    let doc = ctx
        .state
        .run(move |e| e.distribution(&name, credential.as_ref()))
        .await?;
    http::ok_json(&doc)
}

pub async fn commit(ctx: &Ctx, req: Request<Incoming>) -> ApiResult {
    let q = &ctx.query;
    let container = q.required("container")?.to_string();
    let reference = q.get("repo").filter(|r| !r.is_empty()).map(|r| {
        match q.get("tag").filter(|t| !t.is_empty()) {
            Some(t) => format!("{r}:{t}"),
            None => r.to_string(),
        }
    });
    let opts = berth_engine::rootfs::CommitOptions {
        author: q.get("author").filter(|a| !a.is_empty()).map(String::from),
        message: q.get("comment").filter(|c| !c.is_empty()).map(String::from),
        changes: q
            .all("changes")
            .flat_map(|c| c.split('\n'))
            .filter(|c| !c.trim().is_empty())
            .map(String::from)
            .collect(),
        pause: q.get("pause").is_none() || q.flag("pause")?,
    };
    // The body may carry a container config; berth commits the container's own.
    let _ = http::read_all(req).await?;
    let id = ctx
        .state
        .run(move |e| e.commit_container(&container, reference.as_deref(), &opts))
        .await?;
    Ok(http::json(
        StatusCode::CREATED,
        &json!({"Id": id.to_string()}),
    ))
}

pub async fn build_prune(ctx: &Ctx) -> ApiResult {
    let filters = Filters::from_json(ctx.query.get("filters").unwrap_or(""), &["until"])?;
    let until = PruneFilters::new(&filters)?.until_only("build prune")?;
    let all = ctx.query.flag("all")?;
    let pruned = ctx
        .state
        .run(move |e| e.prune_build_cache(all, until))
        .await?;
    let ids: Vec<String> = pruned.keys.iter().map(|k| k.hex().to_string()).collect();
    http::ok_json(&json!({"CachesDeleted": ids, "SpaceReclaimed": pruned.reclaimed}))
}

/// Build progress as the classic builder streams it: `{"stream": text}`.
struct StreamLines(Chunks);

impl std::io::Write for StreamLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .line(&json!({"stream": String::from_utf8_lossy(buf)}))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A JSON map in the query (`buildargs`, `labels`); null values are dropped.
fn query_map(ctx: &Ctx, key: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(text) = ctx.query.get(key).filter(|t| !t.is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let map: BTreeMap<String, Option<String>> = serde_json::from_str(text).map_err(|e| {
        ApiError::bad_request(format!("invalid {key}: a JSON object of strings: {e}"))
    })?;
    Ok(map
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect())
}

/// `POST /build`: the body is the context as a tar (gzip too), the query
/// docker's build options; the answer streams the build's output.
pub async fn build(ctx: &Ctx, req: Request<Incoming>) -> ApiResult {
    let q = &ctx.query;
    if q.get("remote").is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::not_implemented(
            "berth builds from the request body only: send the context as a tar",
        ));
    }
    if q.get("version") == Some("2") {
        return Err(ApiError::not_implemented(
            "berth has no BuildKit: build with the classic builder (DOCKER_BUILDKIT=0)",
        ));
    }
    let dockerfile = q
        .get("dockerfile")
        .filter(|d| !d.is_empty())
        .unwrap_or("Dockerfile")
        .to_string();
    if dockerfile.starts_with('/') || dockerfile.split('/').any(|p| p == "..") {
        return Err(ApiError::bad_request(format!(
            "the Dockerfile ({dockerfile}) must be within the build context"
        )));
    }
    let quiet = q.flag("q")?;
    let network = q
        .get("networkmode")
        .filter(|n| !n.is_empty() && *n != "default")
        .map(String::from);
    if let Some(p) = q.get("platform").filter(|p| !p.is_empty()) {
        let wanted = berth_image::spec::Platform::parse(p).map_err(ApiError::bad_request)?;
        let host = berth_image::spec::host_platform();
        if wanted.os != host.os || wanted.architecture != host.architecture {
            return Err(ApiError::bad_request(format!(
                "berth builds for this host's platform ({}/{}) only, not {p}",
                host.os, host.architecture
            )));
        }
    }
    let mut opts = BuildOptions {
        tags: q
            .all("t")
            .filter(|t| !t.is_empty())
            .map(String::from)
            .collect(),
        target: q.get("target").filter(|t| !t.is_empty()).map(String::from),
        build_args: query_map(ctx, "buildargs")?,
        labels: query_map(ctx, "labels")?,
        no_cache: q.flag("nocache")?,
        pull: q.flag("pull")?,
        network,
        ..BuildOptions::default()
    };
    let mut body = http::body_reader(req.into_body());
    let (chunks, response) = http::streamed("application/json");
    let state = ctx.state.clone();
    tokio::spawn(async move {
        let _ = state
            .run_api(move |e| {
                let outcome = (|| -> Result<berth_image::Digest, EngineError> {
                    let context = e.store.temp_dir("api-build")?;
                    unpack_context(&mut body, context.path())?;
                    opts.context = context.path().to_path_buf();
                    opts.dockerfile = Some(context.path().join(&dockerfile));
                    let mode = if quiet { Mode::Quiet } else { Mode::Classic };
                    let progress = Progress::new(Box::new(StreamLines(chunks.clone())), mode);
                    e.build(&opts, &progress)
                })();
                match outcome {
                    Ok(id) => {
                        let _ = chunks.line(&json!({"aux": {"ID": id.to_string()}}));
                        if quiet {
                            let _ = chunks.line(&json!({"stream": format!("{id}\n")}));
                        } else {
                            let _ = chunks.line(
                                &json!({"stream": format!("Successfully built {}\n", id.short())}),
                            );
                            for t in &opts.tags {
                                let shown = berth_engine::images::familiar(t);
                                let _ = chunks.line(
                                    &json!({"stream": format!("Successfully tagged {shown}\n")}),
                                );
                            }
                        }
                    }
                    Err(err) => {
                        let _ = chunks.line(&error_doc(&err.to_string()));
                    }
                }
                Ok(())
            })
            .await;
    });
    Ok(response)
}

/// Unpacks a build context tar (plain or gzip) into `dir`; entries that
/// would land outside it are refused by the tar reader.
fn unpack_context(body: &mut dyn std::io::Read, dir: &std::path::Path) -> Result<(), EngineError> {
    let mut head = [0u8; 2];
    let mut buffered = std::io::BufReader::new(body);
    let peek = std::io::BufRead::fill_buf(&mut buffered)
        .map_err(|e| EngineError::BadContent(format!("reading the build context: {e}")))?;
    head[..peek.len().min(2)].copy_from_slice(&peek[..peek.len().min(2)]);
    let reader: Box<dyn std::io::Read> = if head == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive
        .unpack(dir)
        .map_err(|e| EngineError::BadContent(format!("the build context is not a valid tar: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bars_look_like_dockers() {
        let bar = progress_bar(50, 100);
        assert!(bar.starts_with("[=========================>"), "{bar}");
        assert!(progress_bar(100, 100).starts_with(&format!("[{}]", "=".repeat(50))));
    }

    #[test]
    fn auth_configs_become_credentials() {
        assert!(credential_of(&json!({})).unwrap().is_none());
        let c = credential_of(&json!({"username": "u", "password": "p"}))
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.secret.as_str()), ("u", "p"));
        let t = credential_of(&json!({"identitytoken": "tok"}))
            .unwrap()
            .unwrap();
        assert_eq!(t.secret, "tok");
    }

    #[test]
    fn removals_are_reported_as_docker_does() {
        let docs = deleted_docs(&["Untagged: a:latest".into(), "deleted: sha256:x".into()]);
        assert_eq!(
            docs,
            [
                json!({"Untagged": "a:latest"}),
                json!({"Deleted": "sha256:x"})
            ]
        );
    }
}
