//! `berth`: docker's command line over the berth engine, in-process.

mod cli;
mod commands;
mod format;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
use commands::CliError;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                // docker exits 125 when its own flags are wrong.
                _ => 125,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(&cli.log_level);
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.code
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn init_logging(level: &str) {
    let level = match level {
        "fatal" => "error",
        other => other,
    };
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "warn,berth={level},berth_engine={level},berth_registry={level},berth_runtime={level},berth_store={level}"
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // libcontainer logs its own errors, which we report ourselves; only at debug do they help.
    let filter = if level == "debug" {
        filter.add_directive("libcontainer=debug".parse().unwrap())
    } else {
        filter
            .add_directive("libcontainer=off".parse().unwrap())
            .add_directive("libcgroups=off".parse().unwrap())
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .init();
}

/// `--bridge` and `--default-address-pool`.
fn network_config(cli: &Cli) -> Result<berth_engine::networks::NetConfig, CliError> {
    let mut config = berth_engine::networks::NetConfig {
        bridge: cli.bridge.clone(),
        ..Default::default()
    };
    if !cli.default_address_pool.is_empty() {
        config.pools = cli
            .default_address_pool
            .iter()
            .map(|p| p.parse())
            .collect::<Result<_, String>>()
            .map_err(|e| CliError::new(125, format!("--default-address-pool: {e}")))?;
    }
    Ok(config)
}

fn dispatch(mut cli: Cli) -> Result<i32, CliError> {
    let net_config = network_config(&cli)?;
    let Some(command) = cli.command.take() else {
        if cli.version {
            println!("berth version {}", berth_engine::VERSION);
            return Ok(0);
        }
        Cli::command().print_help().ok();
        return Ok(0);
    };
    // Commands that touch no store need neither root nor an engine.
    match &command {
        Command::Version(a) => return commands::system::version(a),
        Command::Lint(a) => return commands::lint::lint(a),
        Command::Build(a) if a.check => return commands::build::check(a),
        Command::Login(a) => {
            return commands::registry::login(cli.registries_config.as_deref(), a.clone())
        }
        Command::Logout(a) => return commands::registry::logout(a.clone()),
        Command::Completion { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "berth", &mut std::io::stdout());
            return Ok(0);
        }
        _ => {}
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(CliError::new(125, "berth needs root for this command (rootless mode is not supported yet): run it with sudo"));
    }
    // A probe or monitor that outlives its store (removed meanwhile) must not
    // make a new empty one: there is nothing for it to act on.
    if matches!(command, Command::Exec(_) | Command::ContainerMonitor { .. })
        && !cli.root.join("berth.db").exists()
    {
        return Err(CliError::new(
            125,
            format!(
                "no berth store at {}: no such container",
                cli.root.display()
            ),
        ));
    }
    // The service opens the store on each of its threads.
    match command {
        Command::System(cli::SystemCommand::Service(a)) => {
            return commands::service::serve(&cli, a, net_config)
        }
        Command::Compose(a) => return commands::service::compose(&cli, a, net_config),
        _ => {}
    }
    let mut engine = berth_engine::Engine::open(&cli.root, &cli.state_dir)
        .map_err(|e| CliError::engine(125, e))?;
    engine.set_registries_config(cli.registries_config.clone());
    engine.set_network_config(net_config);
    if let Command::ContainerMonitor { id, hold } = &command {
        return Ok(commands::containers::monitor(&engine, id, *hold));
    }
    commands::run(&engine, command)
}
