//! Kubernetes objects from what runs on one machine: `kube generate`'s
//! Pods, Deployments and Jobs (with Services and PersistentVolumeClaims),
//! as a user applies them to a cluster with `kubectl apply -f`; and
//! [`play`], the reading of such YAML for `kube play`.
//!
//! Pure: the engine describes each workload in [`Workload`] terms (it
//! knows docker's model); this crate knows Kubernetes' shapes and rules.

pub mod play;
pub mod probe;

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// One Pod's worth: a container, or a berth pod's containers.
#[derive(Clone, Debug, Default)]
pub struct Workload {
    pub name: String,
    pub containers: Vec<Container>,
    pub restart: Restart,
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Restart {
    #[default]
    Never,
    Always,
    OnFailure,
}

#[derive(Clone, Debug, Default)]
pub struct Container {
    pub name: String,
    pub image: String,
    /// Kubernetes' `command` (the image's ENTRYPOINT replaced) and `args`
    /// (its CMD replaced); `None` keeps the image's.
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub env: Vec<(String, String)>,
    /// Variables from secrets: (variable, secret name).
    pub secret_env: Vec<(String, String)>,
    pub ports: Vec<Port>,
    pub memory: Option<i64>,
    pub nano_cpus: Option<i64>,
    /// A numeric user and group (`--user 1000:1000`).
    pub run_as: Option<(i64, Option<i64>)>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub read_only: bool,
    pub privileged: bool,
    pub no_new_privileges: bool,
    pub seccomp: Seccomp,
    pub mounts: Vec<Mount>,
    /// Probes: a healthcheck as a livenessProbe, or what `kube play` kept.
    pub probes: probe::Probes,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub container_port: u16,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    pub host_port: Option<u16>,
    pub host_ip: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Seccomp {
    #[default]
    RuntimeDefault,
    Unconfined,
    Localhost(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub source: Source,
    pub target: String,
    pub read_only: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A named volume: a PersistentVolumeClaim of that name.
    Volume(String),
    /// A bind mount: `hostPath`, `Directory` or `File`.
    HostPath { path: String, directory: bool },
    /// A tmpfs: `emptyDir` in memory.
    Memory { size: Option<i64> },
    /// A pod's scratch volume (what `kube play` made of an `emptyDir`).
    EmptyDir,
    /// A secret's value as a file (its key is its name).
    Secret(String),
    /// A ConfigMap's files (as `kube play` mounted them), or one of them.
    ConfigMap {
        name: String,
        sub_path: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Pod,
    Deployment { replicas: u32 },
    Job,
}

/// A name Kubernetes takes (RFC 1123 label: lowercase letters, digits and
/// `-`, 63 at most, a letter or digit at each end).
pub fn dns_label(name: &str) -> String {
    let mut out: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(63);
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "berth".into()
    } else {
        out
    }
}

/// Whether a label is one Kubernetes takes as a label (else it goes to
/// the annotations).
fn valid_label(key: &str, value: &str) -> bool {
    let part = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    let name = match key.split_once('/') {
        Some((prefix, name)) => {
            if prefix.len() > 253 || !prefix.split('.').all(|p| part(p) && !p.contains('_')) {
                return false;
            }
            name
        }
        None => key,
    };
    part(name) && (value.is_empty() || part(value))
}

/// `67108864` → `64Mi`; bytes otherwise.
fn quantity_bytes(n: i64) -> String {
    for (unit, size) in [("Gi", 1i64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if n % size == 0 && n >= size {
            return format!("{}{unit}", n / size);
        }
    }
    n.to_string()
}

/// Nano-CPUs as millicores: `500000000` → `500m`.
fn quantity_cpu(nano: i64) -> String {
    let milli = (nano + 500_000) / 1_000_000;
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

/// All the documents, separated as `kubectl apply -f` reads them.
pub fn generate(workloads: &[Workload], kind: Kind, service: bool) -> String {
    let mut docs = Vec::new();
    for w in workloads {
        docs.extend(claims(w));
        docs.push(workload(w, kind));
        if service {
            if let Some(s) = service_for(w) {
                docs.push(s);
            }
        }
    }
    docs.iter()
        .map(|d| serde_norway::to_string(d).expect("YAML serialises"))
        .collect::<Vec<_>>()
        .join("---\n")
}

fn app_label(w: &Workload) -> String {
    dns_label(&w.name)
}

fn metadata(w: &Workload, name: &str) -> Value {
    let mut labels = Map::new();
    let mut annotations = Map::new();
    for (k, v) in &w.labels {
        if valid_label(k, v) {
            labels.insert(k.clone(), json!(v));
        } else {
            annotations.insert(k.clone(), json!(v));
        }
    }
    labels.insert("app".into(), json!(app_label(w)));
    let mut m = json!({"name": name, "labels": labels});
    if !annotations.is_empty() {
        m["annotations"] = Value::Object(annotations);
    }
    m
}

/// A PersistentVolumeClaim per named volume.
fn claims(w: &Workload) -> Vec<Value> {
    let mut names: Vec<&str> = w
        .containers
        .iter()
        .flat_map(|c| &c.mounts)
        .filter_map(|m| match &m.source {
            Source::Volume(v) => Some(v.as_str()),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|v| {
            json!({
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": dns_label(v), "annotations": {"io.berth.volume.name": v}},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            })
        })
        .collect()
}

fn workload(w: &Workload, kind: Kind) -> Value {
    let name = dns_label(&w.name);
    let restart = match (kind, w.restart) {
        (Kind::Deployment { .. }, _) => "Always",
        (Kind::Job, Restart::OnFailure) => "OnFailure",
        (Kind::Job, _) => "Never",
        (Kind::Pod, Restart::Never) => "Never",
        (Kind::Pod, Restart::Always) => "Always",
        (Kind::Pod, Restart::OnFailure) => "OnFailure",
    };
    let spec = pod_spec(w, restart);
    match kind {
        Kind::Pod => json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata(w, &name),
            "spec": spec,
        }),
        Kind::Deployment { replicas } => json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": metadata(w, &name),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": app_label(w)}},
                "template": {"metadata": metadata(w, &name), "spec": spec},
            },
        }),
        Kind::Job => json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata(w, &name),
            "spec": {
                "backoffLimit": 6,
                "template": {"metadata": metadata(w, &name), "spec": spec},
            },
        }),
    }
}

fn pod_spec(w: &Workload, restart: &str) -> Value {
    let mut volumes: Vec<Value> = Vec::new();
    let mut containers = Vec::new();
    for c in &w.containers {
        let mut mounts = Vec::new();
        for m in &c.mounts {
            let vol_name = format!("{}-{}", dns_label(&c.name), volumes.len());
            let vol_name = dns_label(&vol_name);
            let mut mount = json!({"name": vol_name, "mountPath": m.target});
            if m.read_only {
                mount["readOnly"] = json!(true);
            }
            let volume = match &m.source {
                Source::Volume(v) => {
                    json!({"name": vol_name, "persistentVolumeClaim": {"claimName": dns_label(v)}})
                }
                Source::HostPath { path, directory } => json!({
                    "name": vol_name,
                    "hostPath": {"path": path, "type": if *directory { "Directory" } else { "File" }},
                }),
                Source::EmptyDir => json!({"name": vol_name, "emptyDir": {}}),
                Source::Memory { size } => {
                    let mut e = json!({"medium": "Memory"});
                    if let Some(s) = size {
                        e["sizeLimit"] = json!(quantity_bytes(*s));
                    }
                    json!({"name": vol_name, "emptyDir": e})
                }
                Source::ConfigMap { name, sub_path } => {
                    if let Some(p) = sub_path {
                        mount["subPath"] = json!(p);
                    }
                    json!({"name": vol_name, "configMap": {"name": dns_label(name)}})
                }
                Source::Secret(secret) => {
                    // The secret's one key, at the path asked for.
                    mount["subPath"] = json!(dns_label(secret));
                    json!({
                        "name": vol_name,
                        "secret": {"secretName": dns_label(secret), "items": [{"key": secret, "path": dns_label(secret)}]},
                    })
                }
            };
            volumes.push(volume);
            mounts.push(mount);
        }
        containers.push(container(c, mounts));
    }
    let mut spec = json!({"restartPolicy": restart, "containers": containers});
    if !volumes.is_empty() {
        spec["volumes"] = json!(volumes);
    }
    spec
}

fn container(c: &Container, mounts: Vec<Value>) -> Value {
    let mut out = json!({"name": dns_label(&c.name), "image": c.image});
    if let Some(cmd) = &c.command {
        out["command"] = json!(cmd);
    }
    if let Some(args) = &c.args {
        out["args"] = json!(args);
    }
    if let Some(wd) = &c.working_dir {
        out["workingDir"] = json!(wd);
    }
    let mut env: Vec<Value> = c
        .env
        .iter()
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    env.extend(c.secret_env.iter().map(|(var, secret)| {
        json!({"name": var, "valueFrom": {"secretKeyRef": {"name": dns_label(secret), "key": secret}}})
    }));
    if !env.is_empty() {
        out["env"] = json!(env);
    }
    if !c.ports.is_empty() {
        out["ports"] = json!(c
            .ports
            .iter()
            .map(|p| {
                let mut v = json!({"containerPort": p.container_port, "protocol": p.protocol});
                if let Some(h) = p.host_port {
                    v["hostPort"] = json!(h);
                }
                if let Some(ip) = &p.host_ip {
                    v["hostIP"] = json!(ip);
                }
                v
            })
            .collect::<Vec<_>>());
    }
    let mut limits = Map::new();
    if let Some(m) = c.memory.filter(|m| *m > 0) {
        limits.insert("memory".into(), json!(quantity_bytes(m)));
    }
    if let Some(n) = c.nano_cpus.filter(|n| *n > 0) {
        limits.insert("cpu".into(), json!(quantity_cpu(n)));
    }
    if !limits.is_empty() {
        out["resources"] = json!({"limits": limits});
    }
    let sc = security_context(c);
    if sc.as_object().is_some_and(|o| !o.is_empty()) {
        out["securityContext"] = sc;
    }
    if !mounts.is_empty() {
        out["volumeMounts"] = json!(mounts);
    }
    c.probes.write(&mut out);
    out
}

fn security_context(c: &Container) -> Value {
    let mut sc = Map::new();
    if let Some((uid, gid)) = c.run_as {
        sc.insert("runAsUser".into(), json!(uid));
        if let Some(g) = gid {
            sc.insert("runAsGroup".into(), json!(g));
        }
    }
    let caps = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|c| c.trim_start_matches("CAP_").to_ascii_uppercase())
            .collect()
    };
    let mut capabilities = Map::new();
    if !c.cap_add.is_empty() {
        capabilities.insert("add".into(), json!(caps(&c.cap_add)));
    }
    if !c.cap_drop.is_empty() {
        capabilities.insert("drop".into(), json!(caps(&c.cap_drop)));
    }
    if !capabilities.is_empty() {
        sc.insert("capabilities".into(), Value::Object(capabilities));
    }
    if c.read_only {
        sc.insert("readOnlyRootFilesystem".into(), json!(true));
    }
    if c.privileged {
        sc.insert("privileged".into(), json!(true));
    }
    if c.no_new_privileges {
        sc.insert("allowPrivilegeEscalation".into(), json!(false));
    }
    match &c.seccomp {
        Seccomp::RuntimeDefault => {}
        Seccomp::Unconfined => {
            sc.insert("seccompProfile".into(), json!({"type": "Unconfined"}));
        }
        Seccomp::Localhost(p) => {
            sc.insert(
                "seccompProfile".into(),
                json!({"type": "Localhost", "localhostProfile": p}),
            );
        }
    }
    Value::Object(sc)
}

/// A NodePort Service for the ports published on the host; the node port
/// is the host port where that is in Kubernetes' range.
fn service_for(w: &Workload) -> Option<Value> {
    let ports: Vec<Value> = w
        .containers
        .iter()
        .flat_map(|c| &c.ports)
        .filter(|p| p.host_port.is_some())
        .map(|p| {
            let host = p.host_port.unwrap_or(p.container_port);
            let mut v = json!({
                "name": format!("{}-{}", p.protocol.to_ascii_lowercase(), p.container_port),
                "port": host,
                "targetPort": p.container_port,
                "protocol": p.protocol,
            });
            if (30000..=32767).contains(&host) {
                v["nodePort"] = json!(host);
            }
            v
        })
        .collect();
    if ports.is_empty() {
        return None;
    }
    Some(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(w, &dns_label(&w.name)),
        "spec": {"type": "NodePort", "selector": {"app": app_label(w)}, "ports": ports},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_quantities_and_labels() {
        assert_eq!(dns_label("My_App.1"), "my-app-1");
        assert_eq!(dns_label("--"), "berth");
        assert_eq!(quantity_bytes(64 << 20), "64Mi");
        assert_eq!(quantity_bytes(1 << 30), "1Gi");
        assert_eq!(quantity_bytes(1000), "1000");
        assert_eq!(quantity_cpu(500_000_000), "500m");
        assert_eq!(quantity_cpu(2_000_000_000), "2");
        assert!(valid_label("app.kubernetes.io/name", "web"));
        assert!(!valid_label(
            "com.example.description",
            "a long text with spaces"
        ));
        assert!(!valid_label("Bad Key", "x"));
    }

    #[test]
    fn a_deployment_with_its_claim_and_service() {
        let w = Workload {
            name: "web".into(),
            labels: BTreeMap::from([
                ("tier".into(), "front".into()),
                ("note".into(), "has spaces in it".into()),
            ]),
            restart: Restart::Always,
            containers: vec![Container {
                name: "web".into(),
                image: "docker.io/library/nginx:1.27".into(),
                ports: vec![Port {
                    container_port: 80,
                    protocol: "TCP".into(),
                    host_port: Some(8080),
                    host_ip: None,
                }],
                mounts: vec![Mount {
                    source: Source::Volume("data".into()),
                    target: "/data".into(),
                    read_only: false,
                }],
                ..Default::default()
            }],
        };
        let y = generate(&[w], Kind::Deployment { replicas: 3 }, true);
        let docs: Vec<Value> = y
            .split("---\n")
            .map(|d| serde_norway::from_str(d).unwrap())
            .collect();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0]["kind"], "PersistentVolumeClaim");
        assert_eq!(docs[1]["spec"]["replicas"], 3);
        assert_eq!(
            docs[1]["metadata"]["annotations"]["note"],
            "has spaces in it"
        );
        assert_eq!(
            docs[1]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["mountPath"],
            "/data"
        );
        assert_eq!(docs[2]["spec"]["ports"][0]["port"], 8080);
        assert_eq!(docs[2]["spec"]["selector"]["app"], "web");
    }
}
