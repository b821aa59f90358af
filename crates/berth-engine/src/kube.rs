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
                        .map(|c| self.kube_container(c).map(|(k, _)| k))
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
                        labels: user_labels(&pod.labels, &Labels::new()),
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
                    let (mut k, labels) = self.kube_container(&c)?;
                    k.ports = ports(&c);
                    Workload {
                        name: format!("{}-pod", c.short_name()),
                        restart: restart(std::slice::from_ref(&c)),
                        labels,
                        containers: vec![k],
                    }
                }
            });
        }
        Ok(berth_kube::generate(&workloads, kind, service))
    }

    /// A container in Kubernetes' terms, with the labels the user gave it.
    fn kube_container(&self, c: &Container) -> Result<(KContainer, Labels), EngineError> {
        let ic = self.image_config(&self.container_image(c)?)?.config;
        let labels = user_labels(&c.config.labels, &ic.labels.clone().unwrap_or_default());
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
            .filter(|e| !e.starts_with("HOSTNAME=") && e.as_str() != crate::create::DEFAULT_PATH)
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
        let k = KContainer {
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
        };
        Ok((k, labels))
    }
}

type Labels = std::collections::BTreeMap<String, String>;

/// The labels the user gave: not the image's, not berth's own.
fn user_labels(labels: &Labels, from_image: &Labels) -> Labels {
    labels
        .iter()
        .filter(|(k, v)| from_image.get(*k) != Some(*v) && !k.starts_with("io.berth."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

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

/// `kube play`'s options.
#[derive(Clone, Debug, Default)]
pub struct PlayOptions {
    /// Remove what an earlier play of the same names made, first.
    pub replace: bool,
    /// Create without starting (`--start=false`).
    pub no_start: bool,
}

/// What a play made, and what it left out.
#[derive(Clone, Debug, Default)]
pub struct Played {
    pub pods: Vec<String>,
    pub secrets: Vec<String>,
    pub volumes: Vec<String>,
    pub warnings: Vec<String>,
}

/// The label on everything a play makes.
pub const PLAY_LABEL: &str = "io.berth.kube.play";

/// A Kubernetes Secret's key as a berth secret (one value each).
fn secret_name(secret: &str, key: &str) -> String {
    format!("{secret}.{key}")
}

impl Engine {
    fn config_map_dir(&self, name: &str) -> std::path::PathBuf {
        self.root().join("kube").join("configmaps").join(name)
    }

    /// `kube play`: the file's Secrets, ConfigMaps and claims, then a berth
    /// pod per Pod (or per replica), its init containers run to completion
    /// in order, then its containers.
    pub fn kube_play(&self, yaml: &str, o: &PlayOptions) -> Result<Played, EngineError> {
        let plan = berth_kube::play::parse(yaml).map_err(EngineError::invalid)?;
        if o.replace {
            self.kube_down(yaml, false)?;
        }
        let mut out = Played::default();
        let made = self.play_plan(&plan, o, &mut out);
        if let Err(e) = made {
            // Nothing half-made stays: what this play made goes again.
            let _ = self.kube_down(yaml, false);
            for v in &out.volumes {
                let _ = self.remove_volume(v, true);
            }
            return Err(e);
        }
        Ok(out)
    }

    fn play_plan(
        &self,
        plan: &berth_kube::play::Plan,
        o: &PlayOptions,
        out: &mut Played,
    ) -> Result<(), EngineError> {
        *out = Played {
            warnings: plan.warnings.clone(),
            ..Default::default()
        };
        for p in &plan.pods {
            if self.find_pod(&p.name).is_ok() {
                return Err(EngineError::Conflict(format!(
                    "pod {} already exists: use --replace, or berth kube down first",
                    p.name
                )));
            }
        }
        let label = format!("{PLAY_LABEL}=true");
        for (name, keys) in &plan.secrets {
            for (key, value) in keys {
                let n = secret_name(name, key);
                let labels = crate::key_values(std::slice::from_ref(&label));
                self.create_secret(&n, value, &labels, None)?;
                out.secrets.push(n);
            }
        }
        for (name, keys) in &plan.config_maps {
            let dir = self.config_map_dir(name);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
            for (k, v) in keys {
                let f = dir.join(k);
                std::fs::write(&f, v).map_err(|e| EngineError::io(&f, e))?;
            }
        }
        for claim in &plan.claims {
            if self.volume(claim).is_err() {
                self.create_volume(Some(claim), std::slice::from_ref(&label), None, &[], false)?;
                out.volumes.push(claim.clone());
            }
        }
        for p in &plan.pods {
            self.play_pod(plan, p, o)?;
            out.pods.push(p.name.clone());
        }
        Ok(())
    }

    fn play_pod(
        &self,
        plan: &berth_kube::play::Plan,
        p: &berth_kube::play::PlayPod,
        o: &PlayOptions,
    ) -> Result<(), EngineError> {
        use crate::model::PortBinding;
        let mut infra = crate::model::CreateBody::default();
        let mut bindings: std::collections::BTreeMap<String, Vec<PortBinding>> = Default::default();
        for c in &p.containers {
            for (port, proto, host, ip) in &c.ports {
                if let Some(h) = host {
                    bindings
                        .entry(format!("{port}/{proto}"))
                        .or_default()
                        .push(PortBinding {
                            host_ip: ip.clone().unwrap_or_default(),
                            host_port: h.to_string(),
                        });
                }
            }
        }
        infra.config.exposed_ports = Some(
            bindings
                .keys()
                .map(|k| (k.clone(), serde_json::json!({})))
                .collect(),
        )
        .filter(|e: &std::collections::BTreeMap<_, _>| !e.is_empty());
        infra.host_config.port_bindings = Some(bindings).filter(|b| !b.is_empty());
        infra.host_config.network_mode = "default".into();
        let mut labels = p.labels.clone();
        labels.insert(PLAY_LABEL.into(), "true".into());
        self.create_pod(crate::pods::PodCreate {
            name: Some(p.name.clone()),
            labels,
            share: None,
            hostname: None,
            infra,
        })?;
        let made = (|| {
            for c in &p.init_containers {
                let body = self.play_body(plan, p, c)?;
                let name = format!("{}-{}", p.name, c.name);
                let created = self.create(Some(&name), body)?;
                let code = self.run_created(&created)?;
                if code != 0 {
                    return Err(EngineError::Runtime(format!(
                        "init container {name} exited with {code}: the pod's containers were not started"
                    )));
                }
                // Done once (podman's `once` init containers): it is not a member.
                self.remove_container(&created.id, true)?;
            }
            for c in &p.containers {
                let body = self.play_body(plan, p, c)?;
                let created = self.create(Some(&format!("{}-{}", p.name, c.name)), body)?;
                if !o.no_start {
                    self.start_detached(&created.id)?;
                }
            }
            Ok(())
        })();
        if made.is_err() {
            let _ = self.remove_pod(&p.name, true);
        }
        made
    }

    /// A Kubernetes container as docker's create body, joined to its pod.
    fn play_body(
        &self,
        plan: &berth_kube::play::Plan,
        p: &berth_kube::play::PlayPod,
        c: &berth_kube::play::PlayContainer,
    ) -> Result<crate::model::CreateBody, EngineError> {
        use crate::model::{MountConfig, TmpfsOptions};
        use crate::secrets::SecretRef;
        use berth_kube::play::{EnvSource, PlayVolume};
        let mut body = crate::model::CreateBody::default();
        let (cfg, h) = (&mut body.config, &mut body.host_config);
        cfg.image = c.image.clone();
        // Kubernetes' rules: command replaces the entrypoint (and the
        // image's CMD with it), args replace the CMD.
        if let Some(cmd) = &c.command {
            cfg.entrypoint = Some(cmd.clone());
            cfg.cmd = Some(c.args.clone().unwrap_or_default());
        } else if let Some(args) = &c.args {
            cfg.cmd = Some(args.clone());
        }
        cfg.working_dir = c.working_dir.clone().unwrap_or_default();
        cfg.labels.insert(PLAY_LABEL.into(), "true".into());
        for (k, src) in &c.env {
            match src {
                EnvSource::Value(v) => cfg.env.push(format!("{k}={v}")),
                EnvSource::ConfigMap { name, key } => {
                    let v = plan
                        .config_maps
                        .get(name)
                        .and_then(|m| m.get(key))
                        .ok_or_else(|| {
                            EngineError::invalid(format!(
                                "env {k}: ConfigMap {name} has no key {key} in the file"
                            ))
                        })?;
                    cfg.env.push(format!("{k}={v}"));
                }
                EnvSource::Secret { name, key } => h.secrets.push(SecretRef {
                    source: secret_name(name, key),
                    target: k.clone(),
                    kind: "env".into(),
                    mode: 0o444,
                    ..Default::default()
                }),
                EnvSource::Field(path) => {
                    let v = match path.as_str() {
                        "metadata.name" => p.name.clone(),
                        "metadata.namespace" => "default".into(),
                        other => match other
                            .strip_prefix("metadata.labels['")
                            .and_then(|l| l.strip_suffix("']"))
                        {
                            Some(l) => p.labels.get(l).cloned().unwrap_or_default(),
                            None => {
                                return Err(EngineError::invalid(format!(
                                    "env {k}: fieldRef {other} is not one berth fills (metadata.name, metadata.namespace, metadata.labels['KEY'])"
                                )))
                            }
                        },
                    };
                    cfg.env.push(format!("{k}={v}"));
                }
            }
        }
        for (vol, path, read_only, sub_path) in &c.mounts {
            let v = p.volumes.get(vol).ok_or_else(|| {
                EngineError::invalid(format!(
                    "container {}: volumeMount {vol} names no volume of the pod",
                    c.name
                ))
            })?;
            let mount = |kind: &str, source: String| MountConfig {
                kind: kind.into(),
                source,
                target: path.clone(),
                read_only: *read_only,
                tmpfs_options: None,
                volume_options: None,
            };
            match v {
                PlayVolume::HostPath(src) => h
                    .mounts
                    .get_or_insert_with(Vec::new)
                    .push(mount("bind", src.clone())),
                PlayVolume::EmptyDir { memory: true } => {
                    let mut m = mount("tmpfs", String::new());
                    m.tmpfs_options = Some(TmpfsOptions::default());
                    h.mounts.get_or_insert_with(Vec::new).push(m);
                }
                // A pod's emptyDir is shared by its containers: a volume of the pod's.
                PlayVolume::EmptyDir { memory: false } => h
                    .mounts
                    .get_or_insert_with(Vec::new)
                    .push(mount("volume", format!("{}-{vol}", p.name))),
                PlayVolume::Claim(claim) => h
                    .mounts
                    .get_or_insert_with(Vec::new)
                    .push(mount("volume", claim.clone())),
                PlayVolume::Secret { name, items } => {
                    let keys: Vec<(String, String)> = if items.is_empty() {
                        plan.secrets
                            .get(name)
                            .map(|m| m.keys().map(|k| (k.clone(), k.clone())).collect())
                            .unwrap_or_default()
                    } else {
                        items.clone()
                    };
                    for (key, file) in keys {
                        if sub_path.as_ref().is_some_and(|s| *s != file) {
                            continue;
                        }
                        let target = match sub_path {
                            Some(_) => path.clone(),
                            None => format!("{}/{file}", path.trim_end_matches('/')),
                        };
                        h.secrets.push(SecretRef {
                            source: secret_name(name, &key),
                            target,
                            kind: "mount".into(),
                            mode: 0o444,
                            ..Default::default()
                        });
                    }
                }
                PlayVolume::ConfigMap { name, .. } => {
                    let dir = self.config_map_dir(name);
                    let src = match sub_path {
                        Some(s) => dir.join(s),
                        None => dir,
                    };
                    let mut m = mount("bind", src.display().to_string());
                    m.read_only = true;
                    h.mounts.get_or_insert_with(Vec::new).push(m);
                }
            }
        }
        if let Some(m) = c.memory.as_deref() {
            h.memory = berth_kube::play::memory_bytes(m).ok_or_else(|| {
                EngineError::invalid(format!("resources.limits.memory {m:?} is not a quantity"))
            })?;
        }
        if let Some(cpu) = c.cpu.as_deref() {
            h.nano_cpus = berth_kube::play::nano_cpus(cpu).ok_or_else(|| {
                EngineError::invalid(format!("resources.limits.cpu {cpu:?} is not a quantity"))
            })?;
        }
        if let Some(uid) = c.run_as_user {
            cfg.user = match c.run_as_group {
                Some(g) => format!("{uid}:{g}"),
                None => uid.to_string(),
            };
        }
        h.readonly_rootfs = c.read_only;
        h.privileged = c.privileged;
        h.cap_add = Some(c.cap_add.clone()).filter(|v| !v.is_empty());
        h.cap_drop = Some(c.cap_drop.clone()).filter(|v| !v.is_empty());
        if c.no_new_privileges {
            h.security_opt = Some(vec!["no-new-privileges".into()]);
        }
        h.restart_policy.name = match p.restart.as_str() {
            "Always" => "always",
            "OnFailure" => "on-failure",
            _ => "no",
        }
        .into();
        h.pod = p.name.clone();
        Ok(body)
    }

    /// `kube down`: what a play of the file made — its pods and their
    /// containers, its secrets and ConfigMaps; its volumes with `force`.
    pub fn kube_down(&self, yaml: &str, force: bool) -> Result<Played, EngineError> {
        let plan = berth_kube::play::parse(yaml).map_err(EngineError::invalid)?;
        let mut out = Played::default();
        for p in &plan.pods {
            if self.find_pod(&p.name).is_ok() {
                self.remove_pod(&p.name, true)?;
                out.pods.push(p.name.clone());
            }
            let volumes: Vec<String> = p
                .volumes
                .iter()
                .filter(|(_, v)| {
                    matches!(v, berth_kube::play::PlayVolume::EmptyDir { memory: false })
                })
                .map(|(n, _)| format!("{}-{n}", p.name))
                .collect();
            for v in volumes {
                if self.remove_volume(&v, true).is_ok() {
                    out.volumes.push(v);
                }
            }
        }
        for (name, keys) in &plan.secrets {
            for key in keys.keys() {
                let n = secret_name(name, key);
                if self.find_secret(&n).is_ok() {
                    self.remove_secret(&n, true)?;
                    out.secrets.push(n);
                }
            }
        }
        for name in plan.config_maps.keys() {
            let _ = std::fs::remove_dir_all(self.config_map_dir(name));
        }
        if force {
            for claim in &plan.claims {
                if self.remove_volume(claim, true).is_ok() {
                    out.volumes.push(claim.clone());
                }
            }
        }
        Ok(out)
    }
}
