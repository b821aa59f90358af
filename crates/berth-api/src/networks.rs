//! `/networks/...`.

use std::collections::BTreeMap;

use berth_engine::filters::{Filters, PruneFilters, NETWORK_KEYS, PRUNE_KEYS};
use berth_engine::networks::NetworkCreate;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;

use crate::http::{self, ApiError, ApiResult};
use crate::routes::Ctx;
use crate::volumes::pairs;

pub async fn list(ctx: &Ctx) -> ApiResult {
    let filters = Filters::from_json(ctx.query.get("filters").unwrap_or(""), NETWORK_KEYS)?;
    http::ok_json(&ctx.state.run(move |e| e.select_networks(&filters)).await?)
}

pub async fn inspect(ctx: &Ctx, id: &str) -> ApiResult {
    let id = id.to_string();
    http::ok_json(&ctx.state.run(move |e| e.inspect_network(&id)).await?)
}

pub async fn create(ctx: &Ctx, req: Request<Incoming>) -> ApiResult {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct IpamConfig {
        subnet: String,
        gateway: String,
        #[serde(rename = "IPRange")]
        ip_range: String,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct Ipam {
        driver: String,
        config: Vec<IpamConfig>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct Body {
        name: String,
        driver: String,
        internal: bool,
        attachable: bool,
        #[serde(rename = "EnableIPv6")]
        enable_ipv6: bool,
        #[serde(rename = "IPAM")]
        ipam: Ipam,
        options: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
    }
    let b: Body = http::read_json(req).await?;
    if b.name.is_empty() {
        return Err(ApiError::bad_request("network name is required: set Name"));
    }
    if !matches!(b.ipam.driver.as_str(), "" | "default") {
        return Err(ApiError::not_implemented(format!(
            "IPAM driver {:?} is not supported: berth has the default one",
            b.ipam.driver
        )));
    }
    if b.ipam.config.iter().any(|c| !c.ip_range.is_empty()) {
        return Err(ApiError::not_implemented(
            "IPAM.Config.IPRange is not supported: give a Subnet",
        ));
    }
    let nonempty = |v: Vec<String>| v.into_iter().filter(|s| !s.is_empty()).collect();
    let spec = NetworkCreate {
        name: b.name,
        driver: Some(b.driver).filter(|d| !d.is_empty()),
        subnets: nonempty(b.ipam.config.iter().map(|c| c.subnet.clone()).collect()),
        gateways: nonempty(b.ipam.config.iter().map(|c| c.gateway.clone()).collect()),
        ipv6: b.enable_ipv6,
        internal: b.internal,
        attachable: b.attachable,
        labels: pairs(&b.labels),
        options: pairs(&b.options),
    };
    let n = ctx.state.run(move |e| e.create_network(&spec)).await?;
    Ok(http::json(
        StatusCode::CREATED,
        &json!({"Id": n.id, "Warning": ""}),
    ))
}

pub async fn remove(ctx: &Ctx, id: &str) -> ApiResult {
    let id = id.to_string();
    ctx.state.run(move |e| e.remove_network(&id)).await?;
    Ok(http::empty(StatusCode::NO_CONTENT))
}

pub async fn prune(ctx: &Ctx) -> ApiResult {
    let filters = Filters::from_json(ctx.query.get("filters").unwrap_or(""), PRUNE_KEYS)?;
    let prune = PruneFilters::new(&filters)?;
    let removed = ctx
        .state
        .run(move |e| e.prune_networks(&|n| prune.selects(&n.created, &n.labels)))
        .await?;
    http::ok_json(&json!({"NetworksDeleted": removed}))
}

/// `connect` (with its endpoint settings) and `disconnect`.
pub async fn connect(ctx: &Ctx, id: &str, req: Request<Incoming>, connect: bool) -> ApiResult {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "PascalCase", default)]
    struct Body {
        container: String,
        endpoint_config: berth_engine::networks::Endpoint,
        force: bool,
    }
    let b: Body = http::read_json(req).await?;
    if b.container.is_empty() {
        return Err(ApiError::bad_request("the Container field is required"));
    }
    let id = id.to_string();
    ctx.state
        .run(move |e| {
            if !connect {
                return match e.disconnect_network(&id, &b.container) {
                    Err(_) if b.force => Ok(()),
                    other => other,
                };
            }
            let ep = b.endpoint_config;
            let ip = ep
                .ipam_config
                .map(|i| i.ipv4_address)
                .filter(|i| !i.is_empty());
            let aliases = ep.aliases.unwrap_or_default();
            e.connect_network(&id, &b.container, ip.as_deref(), &aliases)
        })
        .await?;
    Ok(http::empty(StatusCode::OK))
}
