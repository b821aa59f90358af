//! `kube generate`: what runs here, described for Kubernetes. The
//! containers and pods are read in docker's model and handed to
//! berth-kube as workloads; secrets appear as references, never values.

use berth_image::Reference;
use berth_kube::{Container as KContainer, Kind, Mount, Port, Restart, Seccomp, Source, Workload};

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
                    // Named without the pod's prefix (podman's), so that a
                    // play of the YAML names them as they were.
                    let prefix = format!("{}-", pod.name);
                    let mut containers = members
                        .iter()
                        .map(|c| {
                            self.kube_container(c).map(|(mut k, _)| {
                                if let Some(short) = k.name.strip_prefix(&prefix) {
                                    k.name = short.to_string();
                                }
                                k
                            })
                        })
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
                "volume" if self.is_empty_dir(&m.source) => Source::EmptyDir,
                "volume" => Source::Volume(m.source.clone()),
                "bind" => self
                    .played_config_map(&m.source)
                    .unwrap_or_else(|| source_of(&m.source)),
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
            // What `kube play` kept, or docker's healthcheck as a livenessProbe.
            probes: crate::health::kube_probes(&c.config.labels).unwrap_or_else(|| {
                berth_kube::probe::Probes {
                    liveness: c.config.healthcheck.as_ref().and_then(probe),
                    ..Default::default()
                }
            }),
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
fn probe(h: &serde_json::Value) -> Option<berth_kube::probe::Probe> {
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
    let secs = |key: &str, default: u32| {
        h[key].as_u64().filter(|n| *n > 0).map_or(default, |n| {
            (n / 1_000_000_000).clamp(1, u32::MAX as u64) as u32
        })
    };
    Some(berth_kube::probe::Probe {
        action: berth_kube::probe::Action::Exec(command),
        period_seconds: secs("Interval", 30),
        timeout_seconds: secs("Timeout", 30),
        failure_threshold: h["Retries"]
            .as_u64()
            .filter(|n| *n > 0)
            .map_or(3, |n| n as u32),
        success_threshold: 1,
        initial_delay_seconds: h["StartPeriod"]
            .as_u64()
            .map_or(0, |n| (n / 1_000_000_000) as u32),
    })
}

/// `kube play`'s options.
#[derive(Clone, Debug, Default)]
pub struct PlayOptions {
    /// Remove what an earlier play of the same names made, first.
    pub replace: bool,
    /// Create without starting (`--start=false`).
    pub no_start: bool,
    /// Join this network instead of the play's own (`--network`).
    pub network: Option<String>,
    /// More host ports (`--publish`), overriding the file's for the same
    /// container port.
    pub publish: Vec<berth_net::PortSpec>,
    /// ConfigMaps from other files (`--configmap`).
    pub config_maps: Vec<String>,
    /// `--build`: an image whose name is a directory here (`DIR/IMAGE/`
    /// with a Containerfile or Dockerfile) is built: always (`Some(true)`),
    /// never (`Some(false)`), or when it is not here (None), as podman.
    pub build: Option<bool>,
    /// Where those directories are (the working directory).
    pub build_dir: std::path::PathBuf,
}

/// What a play made, and what it left out.
#[derive(Clone, Debug, Default)]
pub struct Played {
    pub pods: Vec<String>,
    pub secrets: Vec<String>,
    pub volumes: Vec<String>,
    pub networks: Vec<String>,
    pub warnings: Vec<String>,
}

/// The label on everything a play makes.
pub const PLAY_LABEL: &str = "io.berth.kube.play";
/// The label on a volume that is a played pod's `emptyDir`.
const EMPTY_DIR_LABEL: &str = "io.berth.kube.emptydir";
/// The ports a pod's namespace redirects (Services whose `port` is not
/// their `targetPort`): `tcp:80:8080,...`.
const REDIRECT_LABEL: &str = "io.berth.kube.redirect";

/// A Kubernetes Secret's key as a berth secret (one value each).
fn secret_name(secret: &str, key: &str) -> String {
    format!("{secret}.{key}")
}

/// Installs the port redirects a played pod's infra container carries, in
/// its fresh network namespace (at every start: they go with it).
pub(crate) fn redirect_ports(c: &Container, netns: &std::path::Path) -> Result<(), EngineError> {
    let Some(spec) = c.config.labels.get(REDIRECT_LABEL) else {
        return Ok(());
    };
    let redirects: Vec<berth_net::firewall::Redirect> = spec
        .split(',')
        .filter_map(|r| {
            let mut it = r.split(':');
            let proto = it.next()?.to_string();
            Some((proto, it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        })
        .collect();
    berth_net::firewall::redirect_in(netns, &redirects)
        .map_err(|e| EngineError::Runtime(format!("a Service's port: {e}")))
}

/// The ConfigMaps of the file and of `--configmap` files.
fn with_config_maps(plan: &mut Plan, files: &[String]) -> Result<(), EngineError> {
    for (i, text) in files.iter().enumerate() {
        let more = berth_kube::play::parse(text)
            .map_err(|e| EngineError::invalid(format!("--configmap file {}: {e}", i + 1)))?;
        if more.config_maps.is_empty() {
            return Err(EngineError::invalid(format!(
                "--configmap file {}: no ConfigMap in it",
                i + 1
            )));
        }
        plan.config_maps.extend(more.config_maps);
    }
    Ok(())
}

use berth_kube::play::{Plan, PlayContainer, PlayPod};

impl Engine {
    /// Where a pod's ConfigMap volume is written (its items, its mode):
    /// `POD/VOLUME/CONFIGMAP`, so that `kube generate` knows it again.
    fn config_map_dir(&self, pod: &str, volume: &str, name: &str) -> std::path::PathBuf {
        self.root()
            .join("kube")
            .join("configmaps")
            .join(pod)
            .join(volume)
            .join(name)
    }

    fn is_empty_dir(&self, volume: &str) -> bool {
        self.volume(volume)
            .is_ok_and(|v| v.labels.contains_key(EMPTY_DIR_LABEL))
    }

    /// A bind of a played ConfigMap volume (or of one file of it), as such.
    fn played_config_map(&self, src: &str) -> Option<Source> {
        let rest = std::path::Path::new(src)
            .strip_prefix(self.root().join("kube").join("configmaps"))
            .ok()?;
        let parts: Vec<String> = rest
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let name = parts.get(2)?.clone();
        let sub_path = Some(parts[3..].join("/")).filter(|p| !p.is_empty());
        Some(Source::ConfigMap { name, sub_path })
    }

    /// `kube play`: the file's Secrets and claims, its network, then a
    /// berth pod per Pod (or per replica), its init containers run to
    /// completion in order, then its containers.
    pub fn kube_play(&self, yaml: &str, o: &PlayOptions) -> Result<Played, EngineError> {
        let mut plan = berth_kube::play::parse(yaml).map_err(EngineError::invalid)?;
        with_config_maps(&mut plan, &o.config_maps)?;
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

    fn play_plan(&self, plan: &Plan, o: &PlayOptions, out: &mut Played) -> Result<(), EngineError> {
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
        // Images first: a missing one, or one that runs as root where
        // that is refused, fails the play before anything is made.
        // (Once each: a Deployment's replicas are the same containers.)
        let mut seen = std::collections::BTreeSet::new();
        for c in plan
            .pods
            .iter()
            .flat_map(|p| p.init_containers.iter().chain(&p.containers))
            .filter(|c| seen.insert((&c.image, &c.pull_policy, c.run_as_non_root, c.run_as_user)))
        {
            if !self.play_build(c, o)? {
                self.play_image(c)?;
            }
            self.non_root(c)?;
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
        for claim in &plan.claims {
            if self.volume(claim).is_err() {
                self.create_volume(Some(claim), std::slice::from_ref(&label), None, &[], false)?;
                out.volumes.push(claim.clone());
            }
        }
        let network = match &o.network {
            Some(n) => self.network(n)?.name,
            None => plan.network(),
        };
        if o.network.is_none()
            && plan.pods.iter().any(|p| !p.host_network)
            && self.network(&network).is_err()
        {
            self.create_network(&crate::networks::NetworkCreate {
                name: network.clone(),
                labels: vec![label.clone()],
                ..Default::default()
            })?;
            out.networks.push(network.clone());
        }
        let host_ports = service_host_ports(plan)?;
        for p in &plan.pods {
            self.play_pod(plan, p, o, &network, &host_ports)?;
            out.pods.push(p.name.clone());
        }
        Ok(())
    }

    /// A container's image, pulled as its `imagePullPolicy` says
    /// (`IfNotPresent` unless told: a laptop plays what it has).
    fn play_image(&self, c: &PlayContainer) -> Result<(), EngineError> {
        let policy = c.pull_policy.as_deref().unwrap_or("IfNotPresent");
        let here = self.resolve_image(&c.image).is_ok();
        match policy {
            "Never" if !here => Err(EngineError::NoSuchImage(format!(
                "container {}: image {} is not here and its imagePullPolicy is Never: pull it first",
                c.name, c.image
            ))),
            "Always" => self.play_pull(c),
            "IfNotPresent" if !here => self.play_pull(c),
            "Never" | "IfNotPresent" => Ok(()),
            other => Err(EngineError::invalid(format!(
                "container {}: imagePullPolicy {other:?} is not Always, IfNotPresent or Never",
                c.name
            ))),
        }
    }

    /// Builds a container's image from `DIR/NAME/` where `--build` says
    /// so; whether it did.
    fn play_build(&self, c: &PlayContainer, o: &PlayOptions) -> Result<bool, EngineError> {
        if o.build == Some(false) || (o.build.is_none() && self.resolve_image(&c.image).is_ok()) {
            return Ok(false);
        }
        let reference = berth_image::Reference::parse(&c.image)?;
        let name = reference.repository.rsplit('/').next().unwrap_or_default();
        let context = o.build_dir.join(name);
        let Some(file) = ["Containerfile", "Dockerfile"]
            .iter()
            .map(|f| context.join(f))
            .find(|f| f.is_file())
        else {
            return Ok(false);
        };
        let opts = crate::build::BuildOptions {
            context: context.clone(),
            dockerfile: Some(file),
            tags: vec![c.image.clone()],
            ..Default::default()
        };
        let progress = crate::build::progress::Progress::new(
            Box::new(std::io::stderr()),
            crate::build::progress::Mode::Plain,
        );
        self.build(&opts, &progress).map_err(|e| {
            EngineError::invalid(format!(
                "container {}: building {} from {}: {e}",
                c.name,
                c.image,
                context.display()
            ))
        })?;
        Ok(true)
    }

    /// runAsNonRoot without runAsUser, checked as the kubelet does: the
    /// image's user must be a number, and not 0.
    fn non_root(&self, c: &PlayContainer) -> Result<(), EngineError> {
        if !c.run_as_non_root || c.run_as_user.is_some() {
            return Ok(());
        }
        let user = self
            .image_config(&self.resolve_image(&c.image)?)?
            .config
            .user;
        let uid = user.split(':').next().unwrap_or_default();
        if uid.is_empty() || uid == "root" || uid == "0" {
            return Err(EngineError::invalid(format!(
                "container {}: runAsNonRoot is true and image {} runs as root: set securityContext.runAsUser",
                c.name, c.image
            )));
        }
        if uid.parse::<u32>().is_err() {
            return Err(EngineError::invalid(format!(
                "container {}: runAsNonRoot is true and image {} has a non-numeric user ({user}): set securityContext.runAsUser",
                c.name, c.image
            )));
        }
        Ok(())
    }

    fn play_pull(&self, c: &PlayContainer) -> Result<(), EngineError> {
        self.pull(&c.image, &Default::default(), &|_| {})
            .map(drop)
            .map_err(|e| {
                EngineError::NoSuchImage(format!("container {}: image {}: {e}", c.name, c.image))
            })
    }

    fn play_pod(
        &self,
        plan: &Plan,
        p: &PlayPod,
        o: &PlayOptions,
        network: &str,
        host_ports: &HostPorts,
    ) -> Result<(), EngineError> {
        use crate::model::PortBinding;
        let mut infra = crate::model::CreateBody::default();
        let mut bindings: std::collections::BTreeMap<String, Vec<PortBinding>> = Default::default();
        let mut bind = |key: String, ip: &str, port: u16| {
            bindings.insert(
                key,
                vec![PortBinding {
                    host_ip: ip.to_string(),
                    host_port: port.to_string(),
                }],
            );
        };
        for port in p.containers.iter().flat_map(|c| &c.ports) {
            if let Some(h) = port.host_port {
                let ip = port.host_ip.as_deref().unwrap_or_default();
                bind(format!("{}/{}", port.port, port.protocol), ip, h);
            }
        }
        let mut redirects = Vec::new();
        let mut aliases = Vec::new();
        for svc in plan.services_of(p) {
            // The names a cluster's DNS gives a Service, in namespace default.
            let n = &svc.name;
            aliases.extend([
                n.clone(),
                format!("{n}.default"),
                format!("{n}.default.svc"),
                format!("{n}.default.svc.cluster.local"),
            ]);
            // NodePort and LoadBalancer ports are published on the host by
            // the first pod the Service picks.
            let first = plan
                .pods
                .iter()
                .find(|q| plan.services_of(q).any(|s| s.name == svc.name))
                .is_some_and(|q| q.name == p.name);
            for (i, port) in svc.ports.iter().enumerate() {
                let target = port.target_in(p).ok_or_else(|| {
                    EngineError::invalid(format!(
                        "Service {}: targetPort {} names no port of pod {}",
                        svc.name, port.target, p.name
                    ))
                })?;
                if target != port.port {
                    redirects.push(format!("{}:{}:{target}", port.protocol, port.port));
                }
                if let Some(h) = host_ports.get(&(svc.name.clone(), i)).filter(|_| first) {
                    bind(format!("{target}/{}", port.protocol), "", *h);
                }
            }
        }
        let first_pod = plan.pods.first().is_some_and(|f| f.name == p.name);
        for spec in &o.publish {
            let declared = p
                .containers
                .iter()
                .flat_map(|c| &c.ports)
                .any(|c| c.port == spec.container_port);
            let elsewhere = plan.pods.iter().any(|q| {
                q.containers
                    .iter()
                    .flat_map(|c| &c.ports)
                    .any(|c| c.port == spec.container_port)
            });
            if declared || (first_pod && !elsewhere) {
                bind(
                    format!("{}/{}", spec.container_port, spec.proto),
                    &spec.host_ip,
                    spec.host_port,
                );
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
        if p.host_network {
            infra.host_config.network_mode = "host".into();
        } else {
            infra.host_config.network_mode = network.into();
            infra.networking_config.endpoints_config.insert(
                network.to_string(),
                crate::networks::Endpoint {
                    aliases: Some(aliases).filter(|a| !a.is_empty()),
                    ..Default::default()
                },
            );
        }
        if !redirects.is_empty() {
            infra
                .config
                .labels
                .insert(REDIRECT_LABEL.into(), redirects.join(","));
        }
        let mut labels = p.labels.clone();
        labels.insert(PLAY_LABEL.into(), "true".into());
        self.create_pod(crate::pods::PodCreate {
            name: Some(p.name.clone()),
            labels,
            share: None,
            hostname: p.hostname.clone(),
            infra,
        })?;
        let made = (|| {
            for (vol, v) in &p.volumes {
                let name = format!("{}-{vol}", p.name);
                if matches!(v, berth_kube::play::PlayVolume::EmptyDir { memory: false })
                    && self.volume(&name).is_err()
                {
                    let labels = [
                        format!("{PLAY_LABEL}=true"),
                        format!("{EMPTY_DIR_LABEL}=true"),
                    ];
                    self.create_volume(Some(&name), &labels, None, &[], false)?;
                }
            }
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
        plan: &Plan,
        p: &PlayPod,
        c: &PlayContainer,
    ) -> Result<crate::model::CreateBody, EngineError> {
        let mut body = crate::model::CreateBody::default();
        let cfg = &mut body.config;
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
        if !c.probes.is_empty() {
            cfg.labels.insert(
                crate::health::PROBES_LABEL.into(),
                serde_json::to_string(&c.probes).expect("probes serialise"),
            );
        }
        cfg.stop_timeout = p.grace_period;
        self.play_env(plan, p, c, &mut body)?;
        self.play_mounts(plan, p, c, &mut body)?;
        self.play_resources(c, &mut body)?;
        self.play_security(c, &mut body)?;
        let h = &mut body.host_config;
        h.restart_policy.name = match (p.restart.as_str(), p.retries) {
            // A Job's pod is retried in place, backoffLimit times.
            (_, Some(0)) => "no",
            (_, Some(n)) => {
                h.restart_policy.maximum_retry_count = n;
                "on-failure"
            }
            ("Always", None) => "always",
            ("OnFailure", None) => "on-failure",
            _ => "no",
        }
        .into();
        h.pod = p.name.clone();
        Ok(body)
    }

    fn play_env(
        &self,
        plan: &Plan,
        p: &PlayPod,
        c: &PlayContainer,
        body: &mut crate::model::CreateBody,
    ) -> Result<(), EngineError> {
        use crate::secrets::SecretRef;
        use berth_kube::play::EnvSource;
        let config_map = |name: &str, what: &str| {
            plan.config_maps.get(name).ok_or_else(|| {
                EngineError::invalid(format!(
                    "{what}: ConfigMap {name} is in neither the file nor a --configmap file"
                ))
            })
        };
        let secret = |name: &str, key: &str, target: String| SecretRef {
            source: secret_name(name, key),
            target,
            kind: "env".into(),
            mode: 0o444,
            ..Default::default()
        };
        let (cfg, h) = (&mut body.config, &mut body.host_config);
        for from in &c.env_from {
            let what = format!("container {}: envFrom", c.name);
            if from.secret {
                let keys = plan.secrets.get(&from.name).ok_or_else(|| {
                    EngineError::invalid(format!("{what}: Secret {} is not in the file", from.name))
                })?;
                for k in keys.keys() {
                    h.secrets
                        .push(secret(&from.name, k, format!("{}{k}", from.prefix)));
                }
            } else {
                for (k, v) in config_map(&from.name, &what)? {
                    cfg.env.push(format!("{}{k}={v}", from.prefix));
                }
            }
        }
        for (k, src) in &c.env {
            let v = match src {
                EnvSource::Value(v) => v.clone(),
                EnvSource::ConfigMap { name, key } => config_map(name, &format!("env {k}"))?
                    .get(key)
                    .cloned()
                    .ok_or_else(|| {
                        EngineError::invalid(format!("env {k}: ConfigMap {name} has no key {key}"))
                    })?,
                EnvSource::Secret { name, key } => {
                    if !plan.secrets.get(name).is_some_and(|s| s.contains_key(key)) {
                        return Err(EngineError::invalid(format!(
                            "env {k}: Secret {name} has no key {key} in the file"
                        )));
                    }
                    h.secrets.push(secret(name, key, k.clone()));
                    continue;
                }
                EnvSource::Field(path) => field_value(p, path).ok_or_else(|| {
                    EngineError::invalid(format!(
                        "env {k}: fieldRef {path} is not one berth fills (metadata.name, metadata.namespace, metadata.labels['KEY'])"
                    ))
                })?,
                EnvSource::Resource { resource, divisor } => {
                    resource_value(c, resource, divisor).ok_or_else(|| {
                        EngineError::invalid(format!(
                            "env {k}: resourceFieldRef {resource} (divisor {divisor}) is not limits.cpu|memory or requests.cpu|memory in a known unit"
                        ))
                    })?
                }
            };
            cfg.env.push(format!("{k}={v}"));
        }
        Ok(())
    }

    fn play_mounts(
        &self,
        plan: &Plan,
        p: &PlayPod,
        c: &PlayContainer,
        body: &mut crate::model::CreateBody,
    ) -> Result<(), EngineError> {
        use crate::model::{MountConfig, TmpfsOptions};
        use crate::secrets::SecretRef;
        use berth_kube::play::PlayVolume;
        let h = &mut body.host_config;
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
            let mounts = h.mounts.get_or_insert_with(Vec::new);
            match v {
                PlayVolume::HostPath { path: src, kind } => {
                    host_path(src, kind).map_err(|e| {
                        EngineError::invalid(format!(
                            "pod {}: volume {vol}: hostPath {src}: {e}",
                            p.name
                        ))
                    })?;
                    mounts.push(mount("bind", src.clone()));
                }
                PlayVolume::EmptyDir { memory: true } => {
                    let mut m = mount("tmpfs", String::new());
                    m.tmpfs_options = Some(TmpfsOptions::default());
                    mounts.push(m);
                }
                // A pod's emptyDir is shared by its containers: a volume of the pod's.
                PlayVolume::EmptyDir { memory: false } => {
                    mounts.push(mount("volume", format!("{}-{vol}", p.name)))
                }
                PlayVolume::Claim(claim) => mounts.push(mount("volume", claim.clone())),
                PlayVolume::Secret { name, items, mode } => {
                    let all = plan.secrets.get(name).ok_or_else(|| {
                        EngineError::invalid(format!(
                            "pod {}: volume {vol}: Secret {name} is not in the file",
                            p.name
                        ))
                    })?;
                    for (key, file) in items_or_all(items, all) {
                        if !all.contains_key(&key) {
                            return Err(EngineError::invalid(format!(
                                "pod {}: volume {vol}: Secret {name} has no key {key}",
                                p.name
                            )));
                        }
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
                            mode: mode.unwrap_or(0o644),
                            ..Default::default()
                        });
                    }
                }
                PlayVolume::ConfigMap { name, items, mode } => {
                    let dir = self.write_config_map(plan, p, vol, name, items, *mode)?;
                    let src = match sub_path {
                        Some(s) => dir.join(s),
                        None => dir,
                    };
                    let mut m = mount("bind", src.display().to_string());
                    m.read_only = true;
                    mounts.push(m);
                }
            }
        }
        Ok(())
    }

    /// A ConfigMap volume's files for one pod: its keys (or `items`), each
    /// with the volume's mode (0644 unless told).
    fn write_config_map(
        &self,
        plan: &Plan,
        p: &PlayPod,
        vol: &str,
        name: &str,
        items: &[(String, String)],
        mode: Option<u32>,
    ) -> Result<std::path::PathBuf, EngineError> {
        use std::os::unix::fs::PermissionsExt;
        let keys = plan.config_maps.get(name).ok_or_else(|| {
            EngineError::invalid(format!(
                "pod {}: volume {vol}: ConfigMap {name} is in neither the file nor a --configmap file",
                p.name
            ))
        })?;
        let files = items_or_all(items, keys);
        let dir = self.config_map_dir(&p.name, vol, name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
        for (key, file) in files {
            let value = keys.get(&key).ok_or_else(|| {
                EngineError::invalid(format!(
                    "pod {}: volume {vol}: ConfigMap {name} has no key {key}",
                    p.name
                ))
            })?;
            if file.split('/').any(|part| part == ".." || part.is_empty()) {
                return Err(EngineError::invalid(format!(
                    "pod {}: volume {vol}: items path {file:?} must be relative, without ..",
                    p.name
                )));
            }
            let f = dir.join(&file);
            if let Some(parent) = f.parent() {
                std::fs::create_dir_all(parent).map_err(|e| EngineError::io(parent, e))?;
            }
            std::fs::write(&f, value).map_err(|e| EngineError::io(&f, e))?;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode.unwrap_or(0o644)))
                .map_err(|e| EngineError::io(&f, e))?;
        }
        Ok(dir)
    }

    fn play_resources(
        &self,
        c: &PlayContainer,
        body: &mut crate::model::CreateBody,
    ) -> Result<(), EngineError> {
        use berth_kube::play::{memory_bytes, nano_cpus};
        let h = &mut body.host_config;
        let bad = |what: &str, q: &str| {
            EngineError::invalid(format!(
                "container {}: resources.{what} {q:?} is not a quantity",
                c.name
            ))
        };
        if let Some(m) = c.memory.as_deref() {
            h.memory = memory_bytes(m).ok_or_else(|| bad("limits.memory", m))?;
        }
        if let Some(cpu) = c.cpu.as_deref() {
            h.nano_cpus = nano_cpus(cpu).ok_or_else(|| bad("limits.cpu", cpu))?;
        }
        if let Some(m) = c.memory_request.as_deref() {
            h.memory_reservation = memory_bytes(m).ok_or_else(|| bad("requests.memory", m))?;
        }
        if let Some(cpu) = c.cpu_request.as_deref() {
            // The kubelet's shares: 1024 per CPU requested, at least 2.
            let n = nano_cpus(cpu).ok_or_else(|| bad("requests.cpu", cpu))?;
            h.cpu_shares = (n * 1024 / 1_000_000_000).max(2);
        }
        Ok(())
    }

    fn play_security(
        &self,
        c: &PlayContainer,
        body: &mut crate::model::CreateBody,
    ) -> Result<(), EngineError> {
        let (cfg, h) = (&mut body.config, &mut body.host_config);
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
        let mut security = Vec::new();
        if c.no_new_privileges {
            security.push("no-new-privileges".to_string());
        }
        if let Some(profile) = &c.seccomp {
            security.push(format!("seccomp={profile}"));
        }
        h.security_opt = Some(security).filter(|s| !s.is_empty());
        Ok(())
    }

    /// `kube down`: what a play of the file made — its pods and their
    /// containers, its secrets, ConfigMap files and network; its volumes
    /// with `force`.
    pub fn kube_down(&self, yaml: &str, force: bool) -> Result<Played, EngineError> {
        let plan = berth_kube::play::parse(yaml).map_err(EngineError::invalid)?;
        let mut out = Played::default();
        for p in &plan.pods {
            if self.find_pod(&p.name).is_ok() {
                self.remove_pod(&p.name, true)?;
                out.pods.push(p.name.clone());
            }
            for (n, v) in &p.volumes {
                match v {
                    berth_kube::play::PlayVolume::EmptyDir { memory: false } => {
                        let v = format!("{}-{n}", p.name);
                        if self.remove_volume(&v, true).is_ok() {
                            out.volumes.push(v);
                        }
                    }
                    berth_kube::play::PlayVolume::ConfigMap { name, .. } => {
                        let dir = self.config_map_dir(&p.name, n, name);
                        let _ = std::fs::remove_dir_all(&dir);
                        // The pod's directory goes once its last volume has.
                        for up in dir.ancestors().skip(1).take(2) {
                            let _ = std::fs::remove_dir(up);
                        }
                    }
                    _ => {}
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
        let network = plan.network();
        if let Ok(n) = self.network(&network) {
            // Only the play's own (not a --network the user gave), once empty.
            if n.labels.contains_key(PLAY_LABEL) && self.remove_network(&n.id).is_ok() {
                out.networks.push(network);
            }
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

/// A Secret's or ConfigMap's files: its `items` (key, path), or every key
/// as a file of its name.
fn items_or_all<V>(
    items: &[(String, String)],
    all: &std::collections::BTreeMap<String, V>,
) -> Vec<(String, String)> {
    if items.is_empty() {
        all.keys().map(|k| (k.clone(), k.clone())).collect()
    } else {
        items.to_vec()
    }
}

/// A fieldRef's value, for the fields a pod on one machine has.
fn field_value(p: &PlayPod, path: &str) -> Option<String> {
    match path {
        "metadata.name" => Some(p.name.clone()),
        "metadata.namespace" => Some("default".into()),
        "spec.nodeName" => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string()),
        other => other
            .strip_prefix("metadata.labels['")
            .and_then(|l| l.strip_suffix("']"))
            .map(|l| p.labels.get(l).cloned().unwrap_or_default()),
    }
}

/// A resourceFieldRef's value: the limit or request in `divisor` units,
/// rounded up as the kubelet does; a limit not set is the host's.
fn resource_value(c: &PlayContainer, resource: &str, divisor: &str) -> Option<String> {
    use berth_kube::play::{memory_bytes, nano_cpus};
    let (given, cpu) = match resource {
        "limits.memory" => (c.memory.as_deref(), false),
        "requests.memory" => (c.memory_request.as_deref().or(c.memory.as_deref()), false),
        "limits.cpu" => (c.cpu.as_deref(), true),
        "requests.cpu" => (c.cpu_request.as_deref().or(c.cpu.as_deref()), true),
        _ => return None,
    };
    let (value, unit) = if cpu {
        let v = match given {
            Some(q) => nano_cpus(q)?,
            None => {
                std::thread::available_parallelism().map_or(1, |n| n.get()) as i64 * 1_000_000_000
            }
        };
        (v, nano_cpus(divisor)?)
    } else {
        let v = match given {
            Some(q) => memory_bytes(q)?,
            None => host_memory()?,
        };
        (v, memory_bytes(divisor)?)
    };
    (unit > 0).then(|| ((value + unit - 1) / unit).to_string())
}

fn host_memory() -> Option<i64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: i64 = info
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// The host port of each (Service, port index) that publishes one.
type HostPorts = std::collections::BTreeMap<(String, usize), u16>;

/// The host ports a plan's Services publish: NodePort's (or, where none is
/// named, a free one in Kubernetes' range, each chosen once and apart from
/// the others) and LoadBalancer's `port`.
fn service_host_ports(plan: &Plan) -> Result<HostPorts, EngineError> {
    let mut out = HostPorts::new();
    let named: Vec<u16> = plan
        .services
        .iter()
        .flat_map(|s| s.ports.iter().filter_map(|p| p.node_port))
        .collect();
    let mut free = (30000..=32767u16)
        .filter(|p| !named.contains(p))
        .filter(|p| std::net::TcpListener::bind(("0.0.0.0", *p)).is_ok());
    for svc in &plan.services {
        for (i, port) in svc.ports.iter().enumerate() {
            let host = match svc.kind.as_str() {
                "NodePort" => match port.node_port {
                    Some(n) => n,
                    None => free.next().ok_or_else(|| {
                        EngineError::Conflict("no free port in 30000-32767 for a NodePort".into())
                    })?,
                },
                "LoadBalancer" => port.port,
                _ => continue,
            };
            out.insert((svc.name.clone(), i), host);
        }
    }
    Ok(out)
}

/// A hostPath's `type`, checked (and made, for the `OrCreate` ones) as
/// the kubelet does.
fn host_path(path: &str, kind: &str) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let p = std::path::Path::new(path);
    let meta = std::fs::metadata(p).ok();
    let is = |f: fn(&std::fs::FileType) -> bool| meta.as_ref().is_some_and(|m| f(&m.file_type()));
    let ok = match kind {
        "" => true,
        "DirectoryOrCreate" if meta.is_none() => {
            std::fs::create_dir_all(p).map_err(|e| format!("cannot create it: {e}"))?;
            true
        }
        "FileOrCreate" if meta.is_none() => {
            std::fs::File::create(p).map_err(|e| format!("cannot create it: {e}"))?;
            true
        }
        "Directory" | "DirectoryOrCreate" => is(std::fs::FileType::is_dir),
        "File" | "FileOrCreate" => is(std::fs::FileType::is_file),
        "Socket" => is(FileTypeExt::is_socket),
        "CharDevice" => is(FileTypeExt::is_char_device),
        "BlockDevice" => is(FileTypeExt::is_block_device),
        other => return Err(format!("type {other:?} is not a hostPath type")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("is not a {kind}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ports_not_named_are_chosen_apart() {
        let yaml = "kind: Service\nmetadata: {name: a}\nspec: {type: NodePort, selector: {x: y}, ports: [{port: 80}, {port: 81}]}\n---\nkind: Service\nmetadata: {name: b}\nspec: {type: NodePort, selector: {x: y}, ports: [{port: 80, nodePort: 30000}]}\n---\nkind: Service\nmetadata: {name: c}\nspec: {type: LoadBalancer, selector: {x: y}, ports: [{port: 8443}]}\n";
        let plan = berth_kube::play::parse(yaml).unwrap();
        let ports = service_host_ports(&plan).unwrap();
        let a = (ports[&("a".into(), 0)], ports[&("a".into(), 1)]);
        assert_ne!(a.0, a.1);
        assert!(a.0 != 30000 && a.1 != 30000, "30000 is b's: {a:?}");
        assert_eq!(ports[&("b".into(), 0)], 30000);
        assert_eq!(ports[&("c".into(), 0)], 8443);
    }
}
