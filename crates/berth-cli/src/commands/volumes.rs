//! `volume create|ls|inspect|rm|prune`.

use berth_engine::{time, Engine};
use serde_json::json;

use super::{fail, print_listing, CliError};
use crate::cli::VolumeCommand;

pub fn run(engine: &Engine, command: VolumeCommand) -> Result<i32, CliError> {
    match command {
        VolumeCommand::Create(a) => {
            if let (Some(a), Some(b)) = (&a.name, &a.name_flag) {
                if a != b {
                    return Err(CliError::new(
                        1,
                        format!("conflicting options: either specify --name or provide positional arg, not both ({b} and {a})"),
                    ));
                }
            }
            let name = a.name.as_deref().or(a.name_flag.as_deref());
            let v = engine
                .create_volume(name, &a.label, a.driver.as_deref(), &a.opt, false)
                .map_err(fail)?;
            println!("{}", v.name);
            Ok(0)
        }
        VolumeCommand::Ls(a) => {
            let filters = super::filters::parse(&a.filter, berth_engine::filters::VOLUME_KEYS)?;
            let mut rows = Vec::new();
            for v in engine.select_volumes(&filters).map_err(fail)? {
                let labels: Vec<String> =
                    v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                rows.push(json!({
                    "Driver": "local", "Name": v.name, "Mountpoint": v.mountpoint,
                    "Labels": labels.join(","), "Scope": "local",
                    "CreatedAt": v.created,
                }));
            }
            if a.quiet {
                rows.iter()
                    .for_each(|r| println!("{}", r["Name"].as_str().unwrap_or_default()));
                return Ok(0);
            }
            print_listing(
                a.format.as_deref(),
                "table {{.Driver}}\t{{.Name}}",
                &rows,
                &[
                    ("Driver", "DRIVER"),
                    ("Name", "VOLUME NAME"),
                    ("Mountpoint", "MOUNTPOINT"),
                    ("Labels", "LABELS"),
                    ("Scope", "SCOPE"),
                ],
            )
        }
        VolumeCommand::Inspect(a) => super::inspect_each(&a.volumes, a.format.as_deref(), |v| {
            engine.inspect_volume(v)
        }),
        VolumeCommand::Rm(a) => super::containers::each(&a.volumes, |name| {
            engine
                .remove_volume(name, a.force)
                .map(|()| vec![name.to_string()])
        }),
        VolumeCommand::Prune(a) => {
            let filters = super::filters::prune(&a.filter)?;
            let what = if a.all {
                "all local volumes not used by at least one container"
            } else {
                "all anonymous local volumes not used by at least one container"
            };
            if !a.force
                && !super::containers::confirm(&format!(
                    "WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] "
                ))
            {
                return Ok(0);
            }
            let (removed, freed) = engine
                .prune_volumes(a.all, &|v| filters.selects(&v.created, &v.labels))
                .map_err(fail)?;
            super::print_deleted("Volumes", &removed);
            println!("Total reclaimed space: {}", time::human_size(freed));
            Ok(0)
        }
    }
}
