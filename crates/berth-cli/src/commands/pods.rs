//! `pod create|ls|inspect|start|stop|restart|kill|rm|top` (podman's).

use berth_engine::model::CreateBody;
use berth_engine::pods::PodCreate;
use berth_engine::Engine;
use serde_json::json;

use super::containers::each;
use super::{fail, print_listing, CliError};
use crate::cli::{PodCommand, PodCreateArgs};

pub fn run(engine: &Engine, command: PodCommand) -> Result<i32, CliError> {
    match command {
        PodCommand::Create(a) => create(engine, a),
        PodCommand::Ls { format, quiet } => ls(engine, format.as_deref(), quiet),
        PodCommand::Inspect { format, pods } => {
            super::inspect_each(&pods, format.as_deref(), |p| engine.inspect_pod(p))
        }
        PodCommand::Start { pods } => each(&pods, |p| engine.start_pod(p).map(|p| vec![p.id])),
        PodCommand::Stop { time, pods } => {
            each(&pods, |p| engine.stop_pod(p, time).map(|p| vec![p.id]))
        }
        PodCommand::Restart { pods } => each(&pods, |p| {
            engine.stop_pod(p, None)?;
            engine.start_pod(p).map(|p| vec![p.id])
        }),
        PodCommand::Kill { signal, pods } => {
            let signal = berth_engine::lifecycle::parse_signal(&signal).map_err(fail)?;
            each(&pods, |p| engine.kill_pod(p, signal).map(|p| vec![p.id]))
        }
        PodCommand::Rm { force, pods } => {
            each(&pods, |p| engine.remove_pod(p, force).map(|p| vec![p.id]))
        }
        PodCommand::Top { pod, ps_args } => {
            for line in engine.top_pod(&pod, &ps_args).map_err(fail)? {
                println!("{line}");
            }
            Ok(0)
        }
    }
}

fn create(engine: &Engine, a: PodCreateArgs) -> Result<i32, CliError> {
    let mut infra = CreateBody::default();
    let bindings = super::run_flags::port_bindings(&a.publish).map_err(fail)?;
    infra.config.exposed_ports =
        Some(super::run_flags::exposed_by(&bindings)).filter(|e| !e.is_empty());
    infra.host_config.port_bindings = bindings;
    infra.host_config.network_mode = a.network.clone().unwrap_or_else(|| "default".into());
    let pod = engine
        .create_pod(PodCreate {
            name: a.name.clone(),
            labels: berth_engine::key_values(&a.label),
            share: a.share.clone(),
            hostname: a.hostname.clone(),
            infra,
        })
        .map_err(fail)?;
    println!("{}", pod.id);
    Ok(0)
}

fn ls(engine: &Engine, format: Option<&str>, quiet: bool) -> Result<i32, CliError> {
    let pods = engine.list_pods().map_err(fail)?;
    if quiet {
        pods.iter().for_each(|p| println!("{}", &p.id[..12]));
        return Ok(0);
    }
    let mut rows = Vec::new();
    for p in &pods {
        let containers = engine.pod_containers(p).map_err(fail)?;
        rows.push(json!({
            "ID": &p.id[..12],
            "Name": p.name,
            "Status": p.status(&containers),
            "Created": berth_engine::time::ago(&p.created),
            "InfraID": &p.infra_id[..12],
            "NumberOfContainers": containers.len(),
            "Labels": p.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        }));
    }
    print_listing(
        format,
        "table {{.ID}}\t{{.Name}}\t{{.Status}}\t{{.Created}}\t{{.InfraID}}\t{{.NumberOfContainers}}",
        &rows,
        &[
            ("ID", "POD ID"),
            ("Name", "NAME"),
            ("Status", "STATUS"),
            ("Created", "CREATED"),
            ("InfraID", "INFRA ID"),
            ("NumberOfContainers", "# OF CONTAINERS"),
            ("Labels", "LABELS"),
        ],
    )
}
