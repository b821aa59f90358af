//! `secret create|ls|inspect|rm`.

use std::io::Read;

use berth_engine::Engine;
use serde_json::json;

use super::{fail, print_listing, CliError};
use crate::cli::SecretCommand;

pub fn run(engine: &Engine, command: SecretCommand) -> Result<i32, CliError> {
    match command {
        SecretCommand::Create {
            label,
            driver,
            name,
            file,
        } => {
            let value = if file == "-" {
                let mut v = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut v)
                    .map_err(|e| CliError::new(1, format!("reading the secret from STDIN: {e}")))?;
                v
            } else {
                std::fs::read(&file)
                    .map_err(|e| CliError::new(1, format!("reading the secret from {file}: {e}")))?
            };
            let labels = berth_engine::key_values(&label);
            let id = engine
                .create_secret(&name, &value, &labels, driver.as_deref())
                .map_err(fail)?;
            println!("{id}");
            Ok(0)
        }
        SecretCommand::Ls {
            filter,
            format,
            quiet,
        } => {
            let filters = super::filters::parse(&filter, &["id", "name", "label", "driver"])?;
            let secrets = engine.select_secrets(&filters).map_err(fail)?;
            if quiet {
                secrets.iter().for_each(|s| println!("{}", s.id));
                return Ok(0);
            }
            let rows: Vec<_> = secrets
                .iter()
                .map(|s| {
                    json!({
                        "ID": s.id, "Name": s.name, "Driver": s.driver,
                        "CreatedAt": berth_engine::time::ago(&s.created_at),
                        "UpdatedAt": berth_engine::time::ago(&s.updated_at),
                        "Labels": s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                    })
                })
                .collect();
            print_listing(
                format.as_deref(),
                "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}",
                &rows,
                &[
                    ("ID", "ID"),
                    ("Name", "NAME"),
                    ("Driver", "DRIVER"),
                    ("CreatedAt", "CREATED"),
                    ("UpdatedAt", "UPDATED"),
                    ("Labels", "LABELS"),
                ],
            )
        }
        SecretCommand::Inspect { format, secrets } => {
            super::inspect_each(&secrets, format.as_deref(), |s| engine.inspect_secret(s))
        }
        SecretCommand::Rm { force, secrets } => super::containers::each(&secrets, |s| {
            engine.remove_secret(s, force).map(|()| vec![s.to_string()])
        }),
    }
}
