//! `/_ping`, `/version`, `/info`, `/events`, `/system/df`, `/auth`.

use berth_engine::events::{EventOptions, FILTER_KEYS};
use berth_engine::filters::Filters;
use hyper::header::{HeaderValue, CACHE_CONTROL, PRAGMA};
use hyper::{Method, Request, StatusCode};
use serde_json::json;

use crate::http::{self, ApiError, ApiResult};
use crate::routes::Ctx;

/// `GET|HEAD /_ping`: `OK`, with the headers clients negotiate with.
pub fn ping(_ctx: &Ctx, method: &Method) -> ApiResult {
    let mut r = if method == Method::HEAD {
        http::empty(StatusCode::OK)
    } else {
        http::text(StatusCode::OK, "OK")
    };
    let h = r.headers_mut();
    for (k, v) in [
        ("Api-Version", berth_engine::system::API_VERSION),
        ("Builder-Version", "1"),
        ("Docker-Experimental", "false"),
        ("Ostype", "linux"),
        ("Swarm", "inactive"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(r)
}

pub fn version(_ctx: &Ctx) -> ApiResult {
    http::ok_json(&berth_engine::system::version())
}

pub async fn info(ctx: &Ctx) -> ApiResult {
    http::ok_json(&ctx.state.run(|e| e.info()).await?)
}

pub async fn df(ctx: &Ctx) -> ApiResult {
    http::ok_json(&ctx.state.run(|e| e.disk_usage()).await?)
}

/// A time in the query (`since`, `until`): Unix seconds (with a fraction),
/// RFC 3339, or a duration back from now.
pub fn query_time(ctx: &Ctx, key: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    match ctx.query.get(key).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => berth_engine::logs::parse_time(v).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid value for {key}: {v:?}: a Unix time, an RFC 3339 time or a duration"
            ))
        }),
    }
}

/// `GET /events`: past events from `since`, then each new one as it
/// happens, one JSON document a line, until `until` or the client leaves.
pub async fn events(ctx: &Ctx) -> ApiResult {
    let filters = Filters::from_json(ctx.query.get("filters").unwrap_or(""), FILTER_KEYS)?;
    let opts = EventOptions {
        since: query_time(ctx, "since")?,
        until: query_time(ctx, "until")?,
        filters: filters.0,
    };
    let (chunks, response) = http::streamed("application/json");
    let state = ctx.state.clone();
    tokio::spawn(async move {
        let _ = state
            .run(move |e| {
                e.events_until(&opts, &mut |ev| chunks.line(&ev.json()), &|| {
                    chunks.closed()
                })
            })
            .await;
    });
    Ok(response)
}

/// `POST /auth`: checks a credential against its registry; nothing is saved.
pub async fn auth(ctx: &Ctx, req: Request<hyper::body::Incoming>) -> ApiResult {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct AuthConfig {
        username: String,
        password: String,
        serveraddress: String,
        identitytoken: String,
    }
    let a: AuthConfig = http::read_json(req).await?;
    if a.username.is_empty() && a.identitytoken.is_empty() {
        return Err(ApiError::bad_request("username is required to log in"));
    }
    let registries = ctx.state.config.registries_config.clone();
    let credential = berth_registry::Credential {
        username: a.username,
        secret: if a.identitytoken.is_empty() {
            a.password
        } else {
            a.identitytoken
        },
    };
    let server = a.serveraddress;
    let checked = ctx
        .state
        .run(move |_| berth_engine::pull::check_login(registries.as_deref(), &server, &credential))
        .await;
    match checked {
        Ok(_) => http::ok_json(&json!({"Status": "Login Succeeded", "IdentityToken": ""})),
        Err(e) if e.status == StatusCode::FORBIDDEN => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, e.message))
        }
        Err(e) => Err(e),
    }
}
