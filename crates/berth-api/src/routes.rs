//! Routes: the version prefix (`/v1.45/...`, or none) checked and taken
//! off, then the path matched onto a handler. Every handler is a thin
//! front over engine calls.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response};

use crate::http::{ApiError, ApiResult, Body, Query};
use crate::state::{Busy, State};
use crate::{containers, exec, images, networks, system, volumes};
use berth_engine::system::{API_VERSION, MIN_API_VERSION};

/// An API version, `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32);

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let (a, b) = s.split_once('.')?;
        Some(Version(a.parse().ok()?, b.parse().ok()?))
    }

    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        *self >= Version(major, minor)
    }
}

/// What every handler gets: the shared state, the version the client
/// asked for, and the query.
pub struct Ctx {
    pub state: Arc<State>,
    pub version: Version,
    pub query: Query,
}

pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let busy = Busy::new(&state);
    let path = req.uri().path().to_string();
    let mut segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| crate::http::decode(s, false))
        .collect();
    let newest = Version::parse(API_VERSION).expect("a version");
    let mut version = newest;
    if let Some(v) = segments
        .first()
        .and_then(|s| s.strip_prefix('v'))
        .and_then(Version::parse)
    {
        segments.remove(0);
        if v > newest {
            return ApiError::bad_request(format!(
                "client version {}.{} is too new. Maximum supported API version is {API_VERSION}",
                v.0, v.1
            ))
            .response();
        }
        if v < Version::parse(MIN_API_VERSION).expect("a version") {
            return ApiError::bad_request(format!(
                "client version {}.{} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version",
                v.0, v.1
            ))
            .response();
        }
        version = v;
    }
    let ctx = Ctx {
        query: Query::parse(req.uri().query()),
        state,
        version,
    };
    let method = req.method().clone();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    tracing::debug!(%method, %path, "request");
    let result = route(&ctx, &method, &segs, req).await;
    let response = result.unwrap_or_else(|e| {
        if e.status.is_server_error() {
            tracing::warn!(%method, %path, status = %e.status, "{}", e.message);
        }
        e.response()
    });
    // The service is busy until the answer, streamed or not, is done with.
    response.map(move |body| {
        use http_body_util::BodyExt;
        body.map_frame(move |f| {
            let _ = &busy;
            f
        })
        .boxed()
    })
}

async fn route(ctx: &Ctx, method: &Method, segs: &[&str], req: Request<Incoming>) -> ApiResult {
    use Method as M;
    let m = method.clone();
    match (&m, segs) {
        (&M::GET | &M::HEAD, ["_ping"]) => system::ping(ctx, method),
        (&M::GET, ["version"]) => system::version(ctx),
        (&M::GET, ["info"]) => system::info(ctx).await,
        (&M::GET, ["events"]) => system::events(ctx).await,
        (&M::GET, ["system", "df"]) => system::df(ctx).await,
        (&M::POST, ["auth"]) => system::auth(ctx, req).await,
        (_, ["session"]) => Err(ApiError::not_implemented(
            "berth has no BuildKit sessions: build with the classic builder (DOCKER_BUILDKIT=0, or COMPOSE_BAKE=false with Compose)",
        )),
        (&M::GET, ["swarm"]) | (&M::GET, ["nodes"]) | (&M::GET, ["services"]) => Err(ApiError::new(
            hyper::StatusCode::SERVICE_UNAVAILABLE,
            "This node is not a swarm manager. berth has no swarm mode.",
        )),
        (&M::GET, ["plugins"]) => crate::http::ok_json(&serde_json::json!([])),

        (&M::GET, ["containers", "json"]) => containers::list(ctx).await,
        (&M::POST, ["containers", "create"]) => containers::create(ctx, req).await,
        (&M::POST, ["containers", "prune"]) => containers::prune(ctx).await,
        (&M::GET, ["containers", id, "json"]) => containers::inspect(ctx, id).await,
        (&M::GET, ["containers", id, "top"]) => containers::top(ctx, id).await,
        (&M::GET, ["containers", id, "logs"]) => containers::logs(ctx, id).await,
        (&M::GET, ["containers", id, "changes"]) => containers::changes(ctx, id).await,
        (&M::GET, ["containers", id, "export"]) => containers::export(ctx, id).await,
        (&M::GET, ["containers", id, "stats"]) => containers::stats(ctx, id).await,
        (&M::POST, ["containers", id, "resize"]) => containers::resize(ctx, id).await,
        (&M::POST, ["containers", id, "start"]) => containers::start(ctx, id).await,
        (&M::POST, ["containers", id, "stop"]) => containers::stop(ctx, id, false).await,
        (&M::POST, ["containers", id, "restart"]) => containers::stop(ctx, id, true).await,
        (&M::POST, ["containers", id, "kill"]) => containers::kill(ctx, id).await,
        (&M::POST, ["containers", id, "update"]) => containers::update(ctx, id, req).await,
        (&M::POST, ["containers", id, "rename"]) => containers::rename(ctx, id).await,
        (&M::POST, ["containers", id, "pause"]) => containers::pause(ctx, id, true).await,
        (&M::POST, ["containers", id, "unpause"]) => containers::pause(ctx, id, false).await,
        (&M::POST, ["containers", id, "attach"]) => containers::attach(ctx, id, req).await,
        (&M::GET, ["containers", _, "attach", "ws"]) => Err(ApiError::not_implemented(
            "berth does not attach over websockets: use POST /containers/{id}/attach",
        )),
        (&M::POST, ["containers", id, "wait"]) => containers::wait(ctx, id).await,
        (&M::DELETE, ["containers", id]) => containers::remove(ctx, id).await,
        (&M::HEAD, ["containers", id, "archive"]) => containers::archive_stat(ctx, id).await,
        (&M::GET, ["containers", id, "archive"]) => containers::archive_get(ctx, id).await,
        (&M::PUT, ["containers", id, "archive"]) => containers::archive_put(ctx, id, req).await,
        (&M::POST, ["containers", id, "exec"]) => exec::create(ctx, id, req).await,

        (&M::POST, ["exec", id, "start"]) => exec::start(ctx, id, req).await,
        (&M::POST, ["exec", id, "resize"]) => exec::resize(ctx, id),
        (&M::GET, ["exec", id, "json"]) => exec::inspect(ctx, id),

        (&M::GET, ["images", "json"]) => images::list(ctx).await,
        (&M::POST, ["images", "create"]) => images::create(ctx, req).await,
        (&M::POST, ["images", "load"]) => images::load(ctx, req).await,
        (&M::POST, ["images", "prune"]) => images::prune(ctx).await,
        (&M::GET, ["images", "get"]) => images::save(ctx, None).await,
        (&M::GET, ["images", "search"]) => Err(ApiError::not_implemented(
            "berth does not search registries: no network search is made",
        )),
        (&M::GET, ["images", name @ .., "json"]) if !name.is_empty() => {
            images::inspect(ctx, &name.join("/")).await
        }
        (&M::GET, ["images", name @ .., "history"]) if !name.is_empty() => {
            images::history(ctx, &name.join("/")).await
        }
        (&M::GET, ["images", name @ .., "get"]) if !name.is_empty() => {
            images::save(ctx, Some(name.join("/"))).await
        }
        (&M::POST, ["images", name @ .., "tag"]) if !name.is_empty() => {
            images::tag(ctx, &name.join("/")).await
        }
        (&M::POST, ["images", name @ .., "push"]) if !name.is_empty() => {
            images::push(ctx, &name.join("/"), req).await
        }
        (&M::DELETE, ["images", name @ ..]) if !name.is_empty() => {
            images::remove(ctx, &name.join("/")).await
        }
        (&M::GET, ["distribution", name @ .., "json"]) if !name.is_empty() => {
            images::distribution(ctx, &name.join("/"), req).await
        }
        (&M::POST, ["commit"]) => images::commit(ctx, req).await,
        (&M::POST, ["build"]) => images::build(ctx, req).await,
        (&M::POST, ["build", "prune"]) => images::build_prune(ctx).await,

        (&M::GET, ["volumes"]) => volumes::list(ctx).await,
        (&M::POST, ["volumes", "create"]) => volumes::create(ctx, req).await,
        (&M::POST, ["volumes", "prune"]) => volumes::prune(ctx).await,
        (&M::GET, ["volumes", name]) => volumes::inspect(ctx, name).await,
        (&M::DELETE, ["volumes", name]) => volumes::remove(ctx, name).await,

        (&M::GET, ["networks"]) => networks::list(ctx).await,
        (&M::POST, ["networks", "create"]) => networks::create(ctx, req).await,
        (&M::POST, ["networks", "prune"]) => networks::prune(ctx).await,
        (&M::GET, ["networks", id]) => networks::inspect(ctx, id).await,
        (&M::DELETE, ["networks", id]) => networks::remove(ctx, id).await,
        (&M::POST, ["networks", id, "connect"]) => networks::connect(ctx, id, req, true).await,
        (&M::POST, ["networks", id, "disconnect"]) => {
            networks::connect(ctx, id, req, false).await
        }
        _ => Err(ApiError::not_found("page not found")),
    }
}

#[cfg(test)]
mod tests {
    use super::Version;

    #[test]
    fn versions_order() {
        assert!(Version::parse("1.44").unwrap() < Version::parse("1.47").unwrap());
        assert!(Version::parse("1.9").unwrap() < Version::parse("1.24").unwrap());
        assert!(Version::parse("1.42").unwrap().at_least(1, 42));
        assert!(Version::parse("x").is_none());
    }
}
