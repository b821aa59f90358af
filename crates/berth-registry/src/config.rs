//! Which address serves a registry, and how to talk to it: the registries
//! file (`/etc/berth/registries.toml`) with per-registry mirrors and insecure
//! flags, and docker's rule that loopback registries are insecure by default.
//!
//! ```toml
//! [[registry]]
//! location = "docker.io"
//! mirrors = ["127.0.0.1:5001", "https://mirror.example.com"]
//!
//! [[registry]]
//! location = "registry.internal:5000"
//! insecure = true
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::RegistryError;

pub const DEFAULT_PATH: &str = "/etc/berth/registries.toml";

/// The host that serves `docker.io` (docker's name for Docker Hub).
pub const DOCKER_HUB_HOST: &str = "registry-1.docker.io";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistriesConfig {
    #[serde(default, rename = "registry")]
    pub registries: Vec<RegistryConfig>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// The registry's name as images spell it: `docker.io`, `ghcr.io`, `host:5000`.
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
    /// Tried in order for pulls before the registry itself.
    #[serde(default)]
    pub mirrors: Vec<String>,
}

/// One address to try: a host (with port) and whether plain HTTP and
/// unverified TLS are allowed there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://host:port` or `http://host:port` when the user wrote a scheme;
    /// otherwise just `host:port` and the scheme is found by trying.
    pub address: String,
    pub insecure: bool,
    pub mirror: bool,
}

impl Endpoint {
    /// The host (with port) this endpoint names.
    pub fn host(&self) -> &str {
        host_of(&self.address)
    }
}

impl RegistriesConfig {
    /// Reads `path`, or the default file; a missing default file is no configuration.
    pub fn load(path: Option<&Path>) -> Result<Self, RegistryError> {
        let (path, must_exist) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_PATH), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
                return Ok(Self::default())
            }
            Err(e) => {
                return Err(RegistryError::Config(format!(
                    "registries config {}: {e}",
                    path.display()
                )))
            }
        };
        Self::parse(&text).map_err(|e| {
            RegistryError::Config(format!("registries config {}: {e}", path.display()))
        })
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self = toml::from_str(text).map_err(|e| e.message().to_string())?;
        for r in &config.registries {
            if r.location.is_empty() || r.location.contains('/') {
                return Err(format!(
                    "registry location {:?} must be a host with an optional port, as in \"docker.io\" or \"host:5000\"",
                    r.location
                ));
            }
        }
        Ok(config)
    }

    fn find(&self, registry: &str) -> Option<&RegistryConfig> {
        self.registries.iter().find(|r| r.location == registry)
    }

    /// Whether `registry` may be reached over plain HTTP or unverified TLS.
    pub fn insecure(&self, registry: &str) -> bool {
        self.find(registry).is_some_and(|r| r.insecure) || is_loopback(registry)
    }

    /// Where to pull `registry`'s images from: its mirrors in order, then itself.
    pub fn pull_endpoints(&self, registry: &str) -> Vec<Endpoint> {
        let mut out: Vec<Endpoint> = self
            .find(registry)
            .map(|r| r.mirrors.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|m| {
                let host = host_of(m);
                Endpoint {
                    address: m.trim_end_matches('/').to_string(),
                    insecure: self.insecure(host) || m.starts_with("http://"),
                    mirror: true,
                }
            })
            .collect();
        out.push(self.push_endpoint(registry));
        out
    }

    /// Where pushes go: the registry itself, never a mirror.
    pub fn push_endpoint(&self, registry: &str) -> Endpoint {
        Endpoint {
            address: if registry == berth_image::reference::DEFAULT_REGISTRY {
                DOCKER_HUB_HOST.to_string()
            } else {
                registry.to_string()
            },
            insecure: self.insecure(registry),
            mirror: false,
        }
    }
}

/// The `host[:port]` of a registry address or URL (`https://h:5000/v1/` → `h:5000`).
pub fn host_of(s: &str) -> &str {
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    s.split('/').next().unwrap_or(s)
}

/// `localhost`, `127.0.0.0/8` and `::1`, with or without a port, as docker treats them.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => registry.rsplit_once(':').map_or(registry, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                registry
            }
        }),
    };
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_insecure_by_default() {
        let c = RegistriesConfig::default();
        for r in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.9.9.9",
            "[::1]:5000",
        ] {
            assert!(c.insecure(r), "{r}");
        }
        for r in [
            "docker.io",
            "128.0.0.1:5000",
            "ghcr.io",
            "localhost.example.com",
        ] {
            assert!(!c.insecure(r), "{r}");
        }
    }

    #[test]
    fn mirrors_come_first_and_pushes_skip_them() {
        let c = RegistriesConfig::parse(
            "[[registry]]\nlocation = \"docker.io\"\nmirrors = [\"127.0.0.1:5001\", \"https://m.example.com/\"]\n\
             [[registry]]\nlocation = \"r.internal:5000\"\ninsecure = true\n",
        )
        .unwrap();
        let e = c.pull_endpoints("docker.io");
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].address, "127.0.0.1:5001");
        assert!(e[0].insecure && e[0].mirror);
        assert_eq!(e[1].address, "https://m.example.com");
        assert!(!e[1].insecure);
        assert_eq!(e[2].address, DOCKER_HUB_HOST);
        assert!(!e[2].mirror);
        assert_eq!(c.push_endpoint("docker.io").address, DOCKER_HUB_HOST);
        assert!(c.insecure("r.internal:5000"));
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        assert!(RegistriesConfig::parse("[[registry]]\nlocaton = \"x\"\n")
            .unwrap_err()
            .contains("unknown field"));
        assert!(
            RegistriesConfig::parse("[[registry]]\nlocation = \"docker.io/library\"\n")
                .unwrap_err()
                .contains("must be a host")
        );
    }
}
