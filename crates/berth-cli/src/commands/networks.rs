//! `network create|ls|inspect|rm|prune|connect|disconnect`.

use berth_engine::networks::NetworkCreate;
use berth_engine::{Engine, EngineError};
use serde_json::json;

use super::{fail, print_listing, CliError};
use crate::cli::NetworkCommand;

pub fn run(engine: &Engine, command: NetworkCommand) -> Result<i32, CliError> {
    match command {
        NetworkCommand::Create(a) => {
            let n = engine
                .create_network(&NetworkCreate {
                    name: a.name,
                    driver: Some(a.driver),
                    subnets: a.subnet,
                    gateways: a.gateway,
                    ipv6: a.ipv6,
                    internal: a.internal,
                    attachable: a.attachable,
                    labels: a.label,
                    options: a.opt,
                })
                .map_err(fail)?;
            println!("{}", n.id);
            Ok(0)
        }
        NetworkCommand::Ls(a) => {
            let filters = super::filters::parse(&a.filter, berth_engine::filters::NETWORK_KEYS)?;
            let mut rows = Vec::new();
            for n in engine.select_networks(&filters).map_err(fail)? {
                let labels: Vec<String> =
                    n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let id = if a.no_trunc {
                    n.id.clone()
                } else {
                    n.id[..12].to_string()
                };
                rows.push(json!({
                    "ID": id, "Name": n.name, "Driver": n.driver, "Scope": n.scope,
                    "IPv6": n.enable_ipv6, "Internal": n.internal,
                    "Labels": labels.join(","), "CreatedAt": n.created,
                }));
            }
            if a.quiet {
                rows.iter()
                    .for_each(|r| println!("{}", r["ID"].as_str().unwrap_or_default()));
                return Ok(0);
            }
            print_listing(
                a.format.as_deref(),
                "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
                &rows,
                &[
                    ("ID", "NETWORK ID"),
                    ("Name", "NAME"),
                    ("Driver", "DRIVER"),
                    ("Scope", "SCOPE"),
                    ("IPv6", "IPV6"),
                    ("Internal", "INTERNAL"),
                    ("Labels", "LABELS"),
                    ("CreatedAt", "CREATED AT"),
                ],
            )
        }
        NetworkCommand::Inspect(a) => super::inspect_each(&a.networks, a.format.as_deref(), |n| {
            engine.inspect_network(n)
        }),
        NetworkCommand::Rm(a) => {
            super::containers::each(&a.networks, |name| match engine.remove_network(name) {
                Ok(_) => Ok(vec![name.to_string()]),
                Err(EngineError::NoSuchNetwork(_)) if a.force => Ok(vec![]),
                Err(e) => Err(e),
            })
        }
        NetworkCommand::Prune(a) => {
            let filters = super::filters::prune(&a.filter)?;
            if !a.force
                && !super::containers::confirm(
                    "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ",
                )
            {
                return Ok(0);
            }
            let removed = engine
                .prune_networks(&|n| filters.selects(&n.created, &n.labels))
                .map_err(fail)?;
            super::print_deleted("Networks", &removed);
            Ok(0)
        }
        NetworkCommand::Connect(a) => {
            engine
                .connect_network(&a.network, &a.container, a.ip.as_deref(), &a.alias)
                .map_err(fail)?;
            Ok(0)
        }
        NetworkCommand::Disconnect(a) => {
            // -f: docker's cleanup of a stale endpoint; berth's disconnect always cleans up.
            let _ = a.force;
            engine
                .disconnect_network(&a.network, &a.container)
                .map_err(fail)?;
            Ok(0)
        }
    }
}
