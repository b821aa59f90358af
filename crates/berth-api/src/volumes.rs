//! `/volumes/...`.

use std::collections::BTreeMap;

use berth_engine::filters::{Filters, PruneFilters, VOLUME_KEYS};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;

use crate::http::{self, ApiError, ApiResult};
use crate::routes::Ctx;

pub async fn list(ctx: &Ctx) -> ApiResult {
    let filters = Filters::from_json(ctx.query.get("filters").unwrap_or(""), VOLUME_KEYS)?;
    let docs = ctx
        .state
        .run(move |e| {
            Ok(e.select_volumes(&filters)?
                .iter()
                .map(|v| e.volume_json(v))
                .collect::<Vec<_>>())
        })
        .await?;
    http::ok_json(&json!({"Volumes": docs, "Warnings": []}))
}

/// `KEY=VALUE` strings of a JSON map, as the engine takes options and labels.
pub fn pairs(map: &BTreeMap<String, String>) -> Vec<String> {
    map.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

pub async fn create(ctx: &Ctx, req: Request<Incoming>) -> ApiResult {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct Body {
        name: String,
        driver: String,
        driver_opts: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
    }
    let b: Body = http::read_json(req).await?;
    let doc = ctx
        .state
        .run(move |e| {
            let name = Some(b.name.as_str()).filter(|n| !n.is_empty());
            let driver = Some(b.driver.as_str()).filter(|d| !d.is_empty());
            let v = e.create_volume(
                name,
                &pairs(&b.labels),
                driver,
                &pairs(&b.driver_opts),
                false,
            )?;
            Ok(e.volume_json(&v))
        })
        .await?;
    Ok(http::json(StatusCode::CREATED, &doc))
}

pub async fn inspect(ctx: &Ctx, name: &str) -> ApiResult {
    let name = name.to_string();
    http::ok_json(&ctx.state.run(move |e| e.inspect_volume(&name)).await?)
}

pub async fn remove(ctx: &Ctx, name: &str) -> ApiResult {
    let force = ctx.query.flag("force")?;
    let name = name.to_string();
    ctx.state
        .run(move |e| e.remove_volume(&name, force))
        .await?;
    Ok(http::empty(StatusCode::NO_CONTENT))
}

pub async fn prune(ctx: &Ctx) -> ApiResult {
    let mut filters = Filters::from_json(
        ctx.query.get("filters").unwrap_or(""),
        &["all", "label", "label!", "until"],
    )?;
    // all=true (API 1.42): named volumes too, not only anonymous ones.
    let all = filters.values("all").any(|v| matches!(v, "true" | "1"));
    filters.0.retain(|(k, _)| k != "all");
    if filters.has("until") {
        return Err(ApiError::bad_request(
            "invalid filter 'until': volume prune takes label= and all=",
        ));
    }
    let prune = PruneFilters::new(&filters)?;
    let (removed, freed) = ctx
        .state
        .run(move |e| e.prune_volumes(all, &|v| prune.selects(&v.created, &v.labels)))
        .await?;
    http::ok_json(&json!({"VolumesDeleted": removed, "SpaceReclaimed": freed}))
}
