//! `kube generate`: what runs here, described for Kubernetes. The
//! containers and pods are read in docker's model and handed to
//! berth-kube as workloads; secrets appear as references, never values.

use berth_image::Reference;
use berth_kube::{
    Container as KContainer, Kind, Mount, Port, Probe, Restart, Seccomp, Source, Workload,
};

use crate::model::Container;
use crate::pods::POD_LABEL;
use crate::{Engine, EngineError};

impl Engine {
    /// `kube generate NAME...` (containers or pods): YAML documents.
    pub fn kube_generate(
        &self,
        names: &[String],
        kind: Kind,
        service: bool,
    ) -> Result<String, EngineError> {
        if names.is_empty() {
            return Err(EngineError::invalid(
                "kube generate needs at least one container or pod",
            ));
        }
        let mut workloads = Vec::new();
        for name in names {
            workloads.push(match self.find_pod(name) {
                Ok(pod) => {
                    let (infra, members): (Vec<Container>, Vec<Container>) = self
                        .pod_containers(&pod)?
                        .into_iter()
                        .partition(|c| c.id == pod.infra_id);
                    let mut containers = members
                        .iter()
                        .map(|c| self.kube_container(c))
                        .collect::<Result<Vec<_>, _>>()?;
                    if containers.is_empty() {
                        return Err(EngineError::invalid(format!(
                            "pod {} has no containers to describe",
                            pod.name
                        )));
                    }
                    // A pod's ports are published on its infra container.
                    if let Some(infra) = infra.first() {
                        containers[0].ports.extend(ports(infra));
                    }
                    Workload {
                        name: pod.name.clone(),
                        restart: restart(&members),
                        labels: pod.labels.clone(),
                        containers,
                    }
                }
                Err(_) => {
                    let c = self.container(name).map_err(|_| {
                        EngineError::NoSuchContainer(format!(
                            "{name} (neither a container nor a pod)"
                        ))
                    })?;
                    if c.config.labels.contains_key(POD_LABEL) {
                        return Err(EngineError::invalid(format!(
                            "{} is in a pod: generate the pod instead",
                            c.short_name()
                        )));
                    }
                    let mut k = self.kube_container(&c)?;
                    k.ports = ports(&c);
                    Workload {
                        name: format!("{}-pod", c.short_name()),
                        restart: restart(std::slice::from_ref(&c)),
                        labels: self.own_labels(&c)?,
                        containers: vec![k],
                    }
                }
            });
        }
        Ok(berth_kube::generate(&workloads, kind, service))
    }

    /// The labels the user gave, not the image's or berth's own.
    fn own_labels(
        &self,
        c: &Container,
    ) -> Result<std::collections::BTreeMap<String, String>, EngineError> {
        let image = self
            .resolve_image(&c.image)
            .or_else(|_| self.resolve_image(&c.config.image))?;
        let from_image = self.image_config(&image)?.config.labels.unwrap_or_default();
        Ok(c.config
            .labels
            .iter()
            .filter(|(k, v)| from_image.get(*k) != Some(*v) && !k.starts_with("io.berth."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn kube_container(&self, c: &Container) -> Result<KContainer, EngineError> {
        let image = self
            .resolve_image(&c.image)
            .or_else(|_| self.resolve_image(&c.config.image))?;
        let ic = self.image_config(&image)?.config;
        let h = &c.host_config;
        let (command, args) = if c.config.entrypoint != ic.entrypoint {
            (
                Some(c.config.entrypoint.clone().unwrap_or_default()),
                c.config.cmd.clone(),
            )
        } else if c.config.cmd != ic.cmd {
            (None, Some(c.config.cmd.clone().unwrap_or_default()))
        } else {
            (None, None)
        };
        // What the image or berth set is not the user's to carry over.
        let image_env = ic.env.unwrap_or_default();
        let env = c
            .config
            .env
            .iter()
            .filter(|e| !image_env.contains(e))
            .filter(|e| !e.starts_with("HOSTNAME=") && e.as_str() != DEFAULT_PATH)
            .filter_map(|e| e.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let security = h.security_opt.clone().unwrap_or_default();
        let seccomp = security
            .iter()
            .find_map(|s| {
                s.strip_prefix("seccomp=")
                    .or_else(|| s.strip_prefix("seccomp:"))
            })
            .map(|p| match p {
                "unconfined" => Seccomp::Unconfined,
                path => Seccomp::Localhost(path.to_string()),
            })
            .unwrap_or_default();
        let mut mounts = Vec::new();
        for b in h.binds.iter().flatten() {
            let parts: Vec<&str> = b.split(':').collect();
            let read_only = parts
                .get(2)
                .is_some_and(|m| m.split(',').any(|o| o == "ro"));
            mounts.push(Mount {
                source: source_of(parts[0]),
                target: parts.get(1).unwrap_or(&"").to_string(),
                read_only,
            });
        }
        for m in h.mounts.iter().flatten() {
            let source = match m.kind.as_str() {
                "volume" => Source::Volume(m.source.clone()),
                "bind" => source_of(&m.source),
                _ => Source::Memory {
                    size: m.tmpfs_options.as_ref().and_then(|t| t.size_bytes),
                },
            };
            mounts.push(Mount {
                source,
                target: m.target.clone(),
                read_only: m.read_only,
            });
        }
        for (path, opts) in h.tmpfs.iter().flatten() {
            let size = opts
                .split(',')
                .find_map(|o| o.strip_prefix("size="))
                .and_then(|s| crate::containers::parse_bytes(s).ok());
            mounts.push(Mount {
                source: Source::Memory { size },
                target: path.clone(),
                read_only: false,
            });
        }
        let mut secret_env = Vec::new();
        for s in &h.secrets {
            if s.kind == "env" {
                secret_env.push((s.target.clone(), s.source.clone()));
            } else {
                mounts.push(Mount {
                    source: Source::Secret(s.source.clone()),
                    target: s.target.clone(),
                    read_only: true,
                });
            }
        }
        Ok(KContainer {
            name: c.short_name().to_string(),
            image: Reference::parse(&c.config.image)
                .map(|r| r.to_string())
                .unwrap_or_else(|_| c.config.image.clone()),
            command,
            args,
            working_dir: Some(c.config.working_dir.clone())
                .filter(|w| !w.is_empty() && *w != ic.working_dir),
            env,
            secret_env,
            ports: Vec::new(),
            memory: Some(h.memory),
            nano_cpus: Some(h.nano_cpus),
            run_as: numeric_user(&c.config.user),
            cap_add: h.cap_add.clone().unwrap_or_default(),
            cap_drop: h.cap_drop.clone().unwrap_or_default(),
            read_only: h.readonly_rootfs,
            privileged: h.privileged,
            no_new_privileges: security
                .iter()
                .any(|s| s.starts_with("no-new-privileges") && !s.ends_with("false")),
            seccomp,
            mounts,
            probe: c.config.healthcheck.as_ref().and_then(probe),
        })
    }
}

/// The PATH a container gets when its image sets none.
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A bind's source: a host path, or (no leading `/`) a named volume.
fn source_of(src: &str) -> Source {
    if src.starts_with('/') {
        Source::HostPath {
            path: src.to_string(),
            directory: !std::path::Path::new(src).is_file(),
        }
    } else {
        Source::Volume(src.to_string())
    }
}

fn ports(c: &Container) -> Vec<Port> {
    let mut out = Vec::new();
    for (key, bindings) in c.host_config.port_bindings.iter().flatten() {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let Ok(container_port) = port.parse() else {
            continue;
        };
        let b = bindings.first();
        out.push(Port {
            container_port,
            protocol: proto.to_ascii_uppercase(),
            host_port: b.and_then(|b| b.host_port.parse().ok()),
            host_ip: b
                .map(|b| b.host_ip.clone())
                .filter(|ip| !ip.is_empty() && ip != "0.0.0.0" && ip != "::"),
        });
    }
    out
}

fn restart(containers: &[Container]) -> Restart {
    match containers
        .first()
        .map(|c| c.host_config.restart_policy.name.as_str())
    {
        Some("always" | "unless-stopped") => Restart::Always,
        Some("on-failure") => Restart::OnFailure,
        _ => Restart::Never,
    }
}

/// `1000` or `1000:50`; a user by name has no number Kubernetes takes.
fn numeric_user(user: &str) -> Option<(i64, Option<i64>)> {
    let (u, g) = user
        .split_once(':')
        .map_or((user, None), |(u, g)| (u, Some(g)));
    let uid = u.parse().ok()?;
    Some((uid, g.and_then(|g| g.parse().ok())))
}

/// docker's HEALTHCHECK (nanoseconds) as a livenessProbe (seconds).
fn probe(h: &serde_json::Value) -> Option<Probe> {
    let test: Vec<String> = h["Test"]
        .as_array()?
        .iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    let command = match test.split_first()? {
        (kind, rest) if kind == "CMD" => rest.to_vec(),
        (kind, [shell]) if kind == "CMD-SHELL" => {
            vec!["/bin/sh".into(), "-c".into(), shell.clone()]
        }
        _ => return None,
    };
    let secs = |key: &str, default: i64| {
        h[key]
            .as_i64()
            .filter(|n| *n > 0)
            .map_or(default, |n| (n / 1_000_000_000).max(1))
    };
    Some(Probe {
        command,
        period_seconds: secs("Interval", 30),
        timeout_seconds: secs("Timeout", 30),
        failure_threshold: h["Retries"].as_i64().filter(|n| *n > 0).unwrap_or(3),
        initial_delay_seconds: h["StartPeriod"].as_i64().map_or(0, |n| n / 1_000_000_000),
    })
}
