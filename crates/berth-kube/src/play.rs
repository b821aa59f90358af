//! `kube play`'s reading of Kubernetes YAML: the objects berth runs, each
//! container's settings, and a warning for every field or kind it does not
//! do (named, never dropped silently).

use std::collections::BTreeMap;

use serde_json::Value;

/// What a play file asks for.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub pods: Vec<PlayPod>,
    /// Secrets: name → key → value.
    pub secrets: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// ConfigMaps: name → key → value.
    pub config_maps: BTreeMap<String, BTreeMap<String, String>>,
    /// PersistentVolumeClaims: named volumes.
    pub claims: Vec<String>,
    pub services: Vec<Service>,
    pub warnings: Vec<String>,
}

impl Plan {
    /// The network a play's pods share (Services resolve there): named
    /// after its first workload, so a later `kube down` of the same file
    /// finds it.
    pub fn network(&self) -> String {
        let first = self.pods.first().map_or("play", |p| p.workload.as_str());
        format!("kube-{first}")
    }

    /// The Services whose selector picks `pod`.
    pub fn services_of<'a>(&'a self, pod: &'a PlayPod) -> impl Iterator<Item = &'a Service> {
        self.services.iter().filter(|s| {
            !s.selector.is_empty() && s.selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
        })
    }
}

/// A Service: a name for the pods its selector picks, and ports.
#[derive(Clone, Debug, Default)]
pub struct Service {
    pub name: String,
    pub selector: BTreeMap<String, String>,
    /// `ClusterIP`, `NodePort` or `LoadBalancer`.
    pub kind: String,
    pub ports: Vec<ServicePort>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    pub port: u16,
    /// A number, or the name of a container's port.
    pub target: String,
    pub node_port: Option<u16>,
    /// `tcp` or `udp`.
    pub protocol: String,
}

impl ServicePort {
    /// The target port as a number, a named one looked up in `pod`.
    pub fn target_in(&self, pod: &PlayPod) -> Option<u16> {
        self.target.parse().ok().or_else(|| {
            pod.containers
                .iter()
                .flat_map(|c| &c.ports)
                .find(|p| p.name.as_deref() == Some(self.target.as_str()))
                .map(|p| p.port)
        })
    }
}

#[derive(Clone, Debug, Default)]
pub struct PlayPod {
    /// The berth pod's name (a Deployment's replicas are `NAME-pod-N`).
    pub name: String,
    /// The object it comes from (a Deployment's, a Job's name).
    pub workload: String,
    /// A Job's retries (`backoffLimit`).
    pub retries: Option<u32>,
    pub hostname: Option<String>,
    pub host_network: bool,
    /// `terminationGracePeriodSeconds`.
    pub grace_period: Option<u32>,
    pub labels: BTreeMap<String, String>,
    /// `Always`, `OnFailure` or `Never`.
    pub restart: String,
    pub containers: Vec<PlayContainer>,
    pub init_containers: Vec<PlayContainer>,
    pub volumes: BTreeMap<String, PlayVolume>,
}

#[derive(Clone, Debug, Default)]
pub struct PlayContainer {
    pub name: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub env: Vec<(String, EnvSource)>,
    pub env_from: Vec<EnvFrom>,
    pub ports: Vec<ContainerPort>,
    /// (volume, mountPath, readOnly, subPath)
    pub mounts: Vec<(String, String, bool, Option<String>)>,
    /// `resources.limits` and `resources.requests`.
    pub memory: Option<String>,
    pub cpu: Option<String>,
    pub memory_request: Option<String>,
    pub cpu_request: Option<String>,
    /// `Always`, `IfNotPresent` or `Never`.
    pub pull_policy: Option<String>,
    /// `unconfined`, or a profile's path; None is the runtime's default.
    pub seccomp: Option<String>,
    pub probes: crate::probe::Probes,
    pub run_as_user: Option<i64>,
    pub run_as_group: Option<i64>,
    /// Refuse to run as root (the image's user is checked when runAsUser is not given).
    pub run_as_non_root: bool,
    pub read_only: bool,
    pub privileged: bool,
    pub no_new_privileges: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerPort {
    pub port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
    pub host_port: Option<u16>,
    pub host_ip: Option<String>,
    pub name: Option<String>,
}

/// `envFrom`: every key of a ConfigMap or Secret, with a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvFrom {
    pub secret: bool,
    pub name: String,
    pub prefix: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvSource {
    Value(String),
    ConfigMap {
        name: String,
        key: String,
    },
    Secret {
        name: String,
        key: String,
    },
    /// `metadata.name`, `metadata.namespace`, `metadata.labels['x']`.
    Field(String),
    /// `limits.memory`, `requests.cpu`, ... in units of `divisor`.
    Resource {
        resource: String,
        divisor: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlayVolume {
    /// A host path, and its `type` (empty: not checked).
    HostPath {
        path: String,
        kind: String,
    },
    EmptyDir {
        memory: bool,
    },
    Claim(String),
    /// A Secret's keys as files (`items` narrow and rename them).
    Secret {
        name: String,
        items: Vec<(String, String)>,
        mode: Option<u32>,
    },
    ConfigMap {
        name: String,
        items: Vec<(String, String)>,
        mode: Option<u32>,
    },
}

const CONTAINER_FIELDS: &[&str] = &[
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "env",
    "envFrom",
    "ports",
    "volumeMounts",
    "resources",
    "securityContext",
    "imagePullPolicy",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "terminationMessagePath",
    "terminationMessagePolicy",
];

/// Reads every document of `yaml`.
pub fn parse(yaml: &str) -> Result<Plan, String> {
    let mut plan = Plan::default();
    let mut workloads = Vec::new();
    let yaml = octal_modes(yaml);
    for (i, doc) in serde_norway::Deserializer::from_str(&yaml).enumerate() {
        let v: Value = serde::Deserialize::deserialize(doc)
            .map_err(|e| format!("document {}: not YAML that reads: {e}", i + 1))?;
        if v.is_null() {
            continue;
        }
        let kind = v["kind"].as_str().unwrap_or_default();
        let name = v["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if name.is_empty() {
            return Err(format!(
                "document {}: a {kind} without metadata.name",
                i + 1
            ));
        }
        match kind {
            "Pod" => workloads.push(Workload {
                name,
                meta: v["metadata"].clone(),
                spec: v["spec"].clone(),
                replicas: None,
                retries: None,
            }),
            "Deployment" | "DaemonSet" | "Job" => {
                let t = &v["spec"]["template"];
                let read: &[&str] = match kind {
                    "Deployment" => &["replicas", "selector", "template"],
                    "DaemonSet" => &["selector", "template"],
                    _ => &["backoffLimit", "template", "selector"],
                };
                for k in v["spec"].as_object().into_iter().flatten().map(|(k, _)| k) {
                    if !read.contains(&k.as_str()) {
                        plan.warnings.push(format!(
                            "{kind} {name}: spec.{k} is not supported: left out"
                        ));
                    }
                }
                if kind != "Job" {
                    selector_matches(kind, &name, &v["spec"], &t["metadata"])?;
                }
                let retries = (kind == "Job").then(|| {
                    v["spec"]["backoffLimit"]
                        .as_u64()
                        .map_or(6, |n| n.min(u32::MAX as u64) as u32)
                });
                if kind == "Job" {
                    let policy = t["spec"]["restartPolicy"].as_str().unwrap_or_default();
                    if !matches!(policy, "Never" | "OnFailure") {
                        return Err(format!(
                            "Job {name}: spec.template.spec.restartPolicy must be Never or OnFailure"
                        ));
                    }
                }
                workloads.push(Workload {
                    name,
                    meta: t["metadata"].clone(),
                    spec: t["spec"].clone(),
                    replicas: Some(match kind {
                        "Deployment" => v["spec"]["replicas"].as_u64().unwrap_or(1) as usize,
                        _ => 1,
                    }),
                    retries,
                });
            }
            "Service" => plan
                .services
                .push(read_service(&name, &v, &mut plan.warnings)?),
            "Secret" => {
                let mut keys = BTreeMap::new();
                for (k, val) in v["data"].as_object().into_iter().flatten() {
                    let text = val.as_str().unwrap_or_default();
                    let bytes = base64_decode(text)
                        .ok_or_else(|| format!("Secret {name}: data.{k} is not base64"))?;
                    keys.insert(k.clone(), bytes);
                }
                for (k, val) in v["stringData"].as_object().into_iter().flatten() {
                    keys.insert(
                        k.clone(),
                        val.as_str().unwrap_or_default().as_bytes().to_vec(),
                    );
                }
                plan.secrets.insert(name, keys);
            }
            "ConfigMap" => {
                let keys = v["data"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, val)| (k.clone(), val.as_str().unwrap_or_default().to_string()))
                    .collect();
                plan.config_maps.insert(name, keys);
            }
            "PersistentVolumeClaim" => plan.claims.push(name),
            other => plan.warnings.push(format!(
                "{other} {name}: berth does not play this kind (yet); it is left out"
            )),
        }
    }
    for w in workloads {
        let mut base = read_pod(&w.name, &w.meta, &w.spec, &mut plan.warnings)?;
        base.workload = w.name.clone();
        base.retries = w.retries;
        match w.replicas {
            None => plan.pods.push(base),
            Some(1) if w.retries.is_some() => {
                base.name = format!("{}-pod", w.name);
                plan.pods.push(base);
            }
            Some(n) => {
                for i in 0..n {
                    let mut p = base.clone();
                    p.name = format!("{}-pod-{i}", w.name);
                    plan.pods.push(p);
                }
            }
        }
    }
    Ok(plan)
}

/// File modes written `0644` are octal to Kubernetes (YAML 1.1) and
/// decimal to a YAML 1.2 reader: such a `mode` or `defaultMode` key's value
/// is rewritten as its decimal value first. Only keys are touched: text in
/// a quoted string or a block scalar (a ConfigMap's file, say) stays as it is.
fn octal_modes(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len());
    // The indentation of the line that opened a block scalar (`|`, `>`).
    let mut block: Option<usize> = None;
    for line in yaml.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(b) = block {
            if line.trim().is_empty() || indent > b {
                out.push_str(line);
                continue;
            }
            block = None;
        }
        let mut rest = line;
        while let Some((key_end, value_at)) = mode_key(rest) {
            out.push_str(&rest[..key_end]);
            let value = &rest[value_at..];
            let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
            let octal = u32::from_str_radix(&digits, 8)
                .ok()
                .filter(|_| digits.len() > 1 && digits.starts_with('0'));
            out.push_str(&rest[key_end..value_at]);
            match octal {
                Some(n) => {
                    out.push_str(&n.to_string());
                    rest = &value[digits.len()..];
                }
                None => rest = value,
            }
        }
        out.push_str(rest);
        let head = line.trim_end();
        if ["|", "|-", "|+", ">", ">-", ">+"]
            .iter()
            .any(|m| head.ends_with(m))
        {
            block = Some(indent);
        }
    }
    out
}

/// The first `mode:` or `defaultMode:` key in `text` where a key can stand
/// (at the start of a line, after `- `, `{` or `,`): where the key ends and
/// where its value starts.
fn mode_key(text: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(found) = text[from..].find("ode:") {
        let colon = from + found + 3;
        let start = ["defaultMode", "mode"]
            .iter()
            .find_map(|k| text[..colon].strip_suffix(k).map(|b| b.len()));
        from = colon + 1;
        let Some(start) = start else { continue };
        let before = text[..start].trim_end_matches(' ');
        if before.is_empty()
            || before.ends_with('-')
            || before.ends_with('{')
            || before.ends_with(',')
        {
            let value_at =
                colon + 1 + (text[colon + 1..].len() - text[colon + 1..].trim_start().len());
            return Some((colon + 1, value_at));
        }
    }
    None
}

/// A workload object: its pod template, and how many of it.
struct Workload {
    name: String,
    meta: Value,
    spec: Value,
    replicas: Option<usize>,
    retries: Option<u32>,
}

/// A Deployment's or DaemonSet's selector must pick its own template's
/// pods (the API server refuses it otherwise).
fn selector_matches(kind: &str, name: &str, spec: &Value, meta: &Value) -> Result<(), String> {
    let wanted = spec["selector"]["matchLabels"].as_object();
    let labels = &meta["labels"];
    let fits = wanted.into_iter().flatten().all(|(k, v)| labels[k] == *v);
    if !fits || wanted.is_none_or(|w| w.is_empty()) {
        return Err(format!(
            "{kind} {name}: spec.selector.matchLabels does not match spec.template.metadata.labels"
        ));
    }
    Ok(())
}

fn read_service(name: &str, v: &Value, warnings: &mut Vec<String>) -> Result<Service, String> {
    let spec = &v["spec"];
    let kind = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
    if !matches!(kind.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        warnings.push(format!(
            "Service {name}: type {kind} is not supported: it is left out"
        ));
    }
    let selector: BTreeMap<String, String> = spec["selector"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    if selector.is_empty() {
        warnings.push(format!(
            "Service {name}: no selector: berth names no pods for it"
        ));
    }
    let mut ports = Vec::new();
    for p in spec["ports"].as_array().into_iter().flatten() {
        let port = |v: &Value| {
            v.as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n > 0)
        };
        let Some(number) = port(&p["port"]) else {
            return Err(format!(
                "Service {name}: a port without a valid port number"
            ));
        };
        let target = match &p["targetPort"] {
            Value::Null => number.to_string(),
            Value::String(s) => s.clone(),
            other => port(other)
                .ok_or_else(|| format!("Service {name}: targetPort {other} is not a port"))?
                .to_string(),
        };
        ports.push(ServicePort {
            port: number,
            target,
            node_port: port(&p["nodePort"]),
            protocol: p["protocol"].as_str().unwrap_or("TCP").to_ascii_lowercase(),
        });
    }
    Ok(Service {
        name: name.to_string(),
        selector,
        kind,
        ports,
    })
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .map(|s| match s {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    })
}

fn read_pod(
    name: &str,
    meta: &Value,
    spec: &Value,
    warnings: &mut Vec<String>,
) -> Result<PlayPod, String> {
    let known = [
        "containers",
        "initContainers",
        "volumes",
        "restartPolicy",
        "terminationGracePeriodSeconds",
        "dnsPolicy",
        "securityContext",
        "hostname",
        "hostNetwork",
    ];
    for k in spec.as_object().into_iter().flatten().map(|(k, _)| k) {
        if !known.contains(&k.as_str()) {
            warnings.push(format!("pod {name}: spec.{k} is not supported: left out"));
        }
    }
    let mut pod = PlayPod {
        name: name.to_string(),
        restart: spec["restartPolicy"]
            .as_str()
            .unwrap_or("Always")
            .to_string(),
        labels: meta["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect(),
        hostname: spec["hostname"].as_str().map(str::to_string),
        host_network: spec["hostNetwork"].as_bool().unwrap_or(false),
        grace_period: spec["terminationGracePeriodSeconds"]
            .as_u64()
            .map(|n| n.min(u32::MAX as u64) as u32),
        ..Default::default()
    };
    for v in spec["volumes"].as_array().into_iter().flatten() {
        let vname = v["name"].as_str().unwrap_or_default().to_string();
        let items = |src: &Value| -> Vec<(String, String)> {
            src["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| {
                    (
                        i["key"].as_str().unwrap_or_default().to_string(),
                        i["path"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        };
        let mode = |src: &Value| -> Result<Option<u32>, String> {
            match &src["defaultMode"] {
                Value::Null => Ok(None),
                m => m
                    .as_u64()
                    .filter(|m| *m <= 0o777)
                    .map(|m| Some(m as u32))
                    .ok_or_else(|| {
                        format!("pod {name}: volume {vname}: defaultMode must be 0 to 0777")
                    }),
            }
        };
        let vol = if let Some(p) = v["hostPath"]["path"].as_str() {
            PlayVolume::HostPath {
                path: p.to_string(),
                kind: v["hostPath"]["type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            }
        } else if v.get("emptyDir").is_some() {
            PlayVolume::EmptyDir {
                memory: v["emptyDir"]["medium"] == "Memory",
            }
        } else if let Some(c) = v["persistentVolumeClaim"]["claimName"].as_str() {
            PlayVolume::Claim(c.to_string())
        } else if let Some(s) = v["secret"]["secretName"].as_str() {
            PlayVolume::Secret {
                name: s.to_string(),
                items: items(&v["secret"]),
                mode: mode(&v["secret"])?,
            }
        } else if let Some(c) = v["configMap"]["name"].as_str() {
            PlayVolume::ConfigMap {
                name: c.to_string(),
                items: items(&v["configMap"]),
                mode: mode(&v["configMap"])?,
            }
        } else {
            warnings.push(format!(
                "pod {name}: volume {vname} is of a kind berth does not mount: left out"
            ));
            continue;
        };
        pod.volumes.insert(vname, vol);
    }
    for (list, out) in [
        ("containers", &mut pod.containers),
        ("initContainers", &mut pod.init_containers),
    ] {
        for c in spec[list].as_array().into_iter().flatten() {
            out.push(read_container(name, c, &spec["securityContext"], warnings)?);
        }
    }
    if pod.containers.is_empty() {
        return Err(format!("pod {name}: no containers"));
    }
    Ok(pod)
}

/// A container; the pod's `securityContext` gives what its own leaves out.
fn read_container(
    pod: &str,
    c: &Value,
    pod_security: &Value,
    warnings: &mut Vec<String>,
) -> Result<PlayContainer, String> {
    let name = c["name"].as_str().unwrap_or_default().to_string();
    let image = c["image"].as_str().unwrap_or_default().to_string();
    if name.is_empty() || image.is_empty() {
        return Err(format!("pod {pod}: a container needs a name and an image"));
    }
    for k in c.as_object().into_iter().flatten().map(|(k, _)| k) {
        if !CONTAINER_FIELDS.contains(&k.as_str()) {
            warnings.push(format!(
                "container {pod}/{name}: {k} is not supported: left out"
            ));
        }
    }
    let mut out = PlayContainer {
        name: name.clone(),
        image,
        command: strings(&c["command"]),
        args: strings(&c["args"]),
        working_dir: c["workingDir"].as_str().map(str::to_string),
        ..Default::default()
    };
    for e in c["env"].as_array().into_iter().flatten() {
        let key = e["name"].as_str().unwrap_or_default().to_string();
        let vf = &e["valueFrom"];
        let src = if let Some(v) = e.get("value") {
            EnvSource::Value(match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        } else if let Some(r) = vf.get("configMapKeyRef") {
            EnvSource::ConfigMap {
                name: r["name"].as_str().unwrap_or_default().into(),
                key: r["key"].as_str().unwrap_or_default().into(),
            }
        } else if let Some(r) = vf.get("secretKeyRef") {
            EnvSource::Secret {
                name: r["name"].as_str().unwrap_or_default().into(),
                key: r["key"].as_str().unwrap_or_default().into(),
            }
        } else if let Some(p) = vf["fieldRef"]["fieldPath"].as_str() {
            EnvSource::Field(p.to_string())
        } else if let Some(r) = vf["resourceFieldRef"]["resource"].as_str() {
            EnvSource::Resource {
                resource: r.to_string(),
                divisor: match &vf["resourceFieldRef"]["divisor"] {
                    Value::Null => "1".into(),
                    Value::String(d) => d.clone(),
                    other => other.to_string(),
                },
            }
        } else {
            warnings.push(format!(
                "container {pod}/{name}: env {key} has a source berth does not read: left out"
            ));
            continue;
        };
        out.env.push((key, src));
    }
    for e in c["envFrom"].as_array().into_iter().flatten() {
        let prefix = e["prefix"].as_str().unwrap_or_default().to_string();
        let (secret, r) = match (e.get("configMapRef"), e.get("secretRef")) {
            (Some(r), _) => (false, r),
            (_, Some(r)) => (true, r),
            _ => {
                warnings.push(format!(
                    "container {pod}/{name}: an envFrom without configMapRef or secretRef: left out"
                ));
                continue;
            }
        };
        out.env_from.push(EnvFrom {
            secret,
            name: r["name"].as_str().unwrap_or_default().to_string(),
            prefix,
        });
    }
    for p in c["ports"].as_array().into_iter().flatten() {
        let Some(port) = p["containerPort"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
        else {
            return Err(format!(
                "container {pod}/{name}: a port without a valid containerPort"
            ));
        };
        out.ports.push(ContainerPort {
            port,
            protocol: p["protocol"].as_str().unwrap_or("TCP").to_ascii_lowercase(),
            host_port: p["hostPort"].as_u64().and_then(|h| u16::try_from(h).ok()),
            host_ip: p["hostIP"].as_str().map(str::to_string),
            name: p["name"].as_str().map(str::to_string),
        });
    }
    let ports = out.ports.clone();
    let named = move |n: &str| {
        ports
            .iter()
            .find(|p| p.name.as_deref() == Some(n))
            .map(|p| p.port)
    };
    out.probes = crate::probe::Probes::read(c, &named)
        .map_err(|e| format!("container {pod}/{name}: {e}"))?;
    out.pull_policy = c["imagePullPolicy"].as_str().map(str::to_string);
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        out.mounts.push((
            m["name"].as_str().unwrap_or_default().to_string(),
            m["mountPath"].as_str().unwrap_or_default().to_string(),
            m["readOnly"].as_bool().unwrap_or(false),
            m["subPath"].as_str().map(str::to_string),
        ));
    }
    let quantity = |v: &Value| {
        v.as_str()
            .map(str::to_string)
            .or_else(|| v.as_u64().map(|n| n.to_string()))
            .or_else(|| v.as_f64().map(|n| n.to_string()))
    };
    let (limits, requests) = (&c["resources"]["limits"], &c["resources"]["requests"]);
    out.memory = quantity(&limits["memory"]);
    out.cpu = quantity(&limits["cpu"]);
    out.memory_request = quantity(&requests["memory"]);
    out.cpu_request = quantity(&requests["cpu"]);
    // The container's securityContext, each field falling back to the pod's.
    let own = &c["securityContext"];
    let field = |k: &str| match &own[k] {
        Value::Null => pod_security[k].clone(),
        v => v.clone(),
    };
    out.run_as_user = field("runAsUser").as_i64();
    out.run_as_group = field("runAsGroup").as_i64();
    let sc = own;
    out.read_only = sc["readOnlyRootFilesystem"].as_bool().unwrap_or(false);
    out.privileged = sc["privileged"].as_bool().unwrap_or(false);
    out.no_new_privileges = sc["allowPrivilegeEscalation"] == Value::Bool(false);
    out.cap_add = strings(&sc["capabilities"]["add"]).unwrap_or_default();
    out.cap_drop = strings(&sc["capabilities"]["drop"]).unwrap_or_default();
    let seccomp = field("seccompProfile");
    out.seccomp = match seccomp["type"].as_str() {
        None | Some("RuntimeDefault") => None,
        Some("Unconfined") => Some("unconfined".into()),
        Some("Localhost") => match seccomp["localhostProfile"].as_str() {
            Some(p) => Some(p.to_string()),
            None => {
                return Err(format!(
                    "container {pod}/{name}: seccompProfile Localhost needs localhostProfile"
                ))
            }
        },
        Some(other) => {
            return Err(format!(
                "container {pod}/{name}: seccompProfile type {other:?} is not RuntimeDefault, Unconfined or Localhost"
            ))
        }
    };
    out.run_as_non_root = field("runAsNonRoot") == Value::Bool(true);
    if out.run_as_non_root && out.run_as_user == Some(0) {
        return Err(format!(
            "container {pod}/{name}: runAsNonRoot is true and runAsUser is 0: give securityContext.runAsUser a non-zero id"
        ));
    }
    Ok(out)
}

/// Kubernetes quantities: `64Mi` → bytes; `500m` → nano-CPUs.
pub fn memory_bytes(q: &str) -> Option<i64> {
    let units = [
        ("Ki", 1i64 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
    ];
    for (u, m) in units {
        if let Some(n) = q.strip_suffix(u) {
            return n.parse::<i64>().ok().map(|n| n * m);
        }
    }
    q.parse().ok()
}

pub fn nano_cpus(q: &str) -> Option<i64> {
    match q.strip_suffix('m') {
        Some(m) => m.parse::<i64>().ok().map(|m| m * 1_000_000),
        None => q.parse::<f64>().ok().map(|c| (c * 1e9).round() as i64),
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        buf = (buf << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_containers_and_warnings() {
        let yaml = r#"
apiVersion: v1
kind: Secret
metadata: {name: db}
data: {password: aHVudGVyMg==}
stringData: {user: admin}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {MODE: prod}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {disk: ssd}
      containers:
      - name: app
        image: busybox
        args: [httpd, -f]
        env:
        - {name: MODE, valueFrom: {configMapKeyRef: {name: cfg, key: MODE}}}
        - {name: PASS, valueFrom: {secretKeyRef: {name: db, key: password}}}
        - {name: N, value: 3}
        envFrom: [{configMapRef: {name: cfg}, prefix: CFG_}]
        ports: [{containerPort: 80, hostPort: 8080, name: http}]
        resources: {limits: {memory: 64Mi, cpu: 500m}, requests: {cpu: 250m}}
        startupProbe: {exec: {command: [true]}}
        readinessProbe: {httpGet: {port: http, path: /}}
        lifecycle: {preStop: {exec: {command: [true]}}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 8000, targetPort: http, nodePort: 30080}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: check}
spec:
  backoffLimit: 2
  completions: 3
  template:
    metadata: {labels: {app: check}}
    spec:
      restartPolicy: Never
      containers: [{name: get, image: busybox}]
---
kind: Ingress
metadata: {name: front}
"#;
        let plan = parse(yaml).unwrap();
        assert_eq!(plan.secrets["db"]["password"], b"hunter2");
        assert_eq!(plan.secrets["db"]["user"], b"admin");
        assert_eq!(plan.config_maps["cfg"]["MODE"], "prod");
        let names: Vec<&str> = plan.pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["web-pod-0", "web-pod-1", "check-pod"]);
        assert_eq!(plan.network(), "kube-web");
        let c = &plan.pods[0].containers[0];
        assert_eq!(c.env[2], ("N".into(), EnvSource::Value("3".into())));
        assert_eq!(c.ports[0].port, 80);
        assert_eq!(c.ports[0].host_port, Some(8080));
        assert_eq!(c.env_from[0].prefix, "CFG_");
        assert_eq!(memory_bytes(c.memory.as_deref().unwrap()), Some(64 << 20));
        assert_eq!(nano_cpus(c.cpu.as_deref().unwrap()), Some(500_000_000));
        assert_eq!(c.cpu_request.as_deref(), Some("250m"));
        assert!(c.probes.startup.is_some() && c.probes.readiness.is_some());
        let services: Vec<&str> = plan
            .services_of(&plan.pods[1])
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(services, ["web"]);
        assert_eq!(plan.services_of(&plan.pods[2]).count(), 0);
        let port = &plan.services[0].ports[0];
        assert_eq!(
            (port.target_in(&plan.pods[0]), port.node_port),
            (Some(80), Some(30080))
        );
        assert_eq!(plan.pods[2].retries, Some(2));
        assert_eq!(plan.warnings.len(), 4, "{:?}", plan.warnings);
        for w in [
            "spec.nodeSelector",
            "lifecycle",
            "Ingress front",
            "Job check: spec.completions",
        ] {
            assert!(
                plan.warnings.iter().any(|x| x.contains(w)),
                "{w}: {:?}",
                plan.warnings
            );
        }
        assert!(parse("kind: Pod\nmetadata: {}\n").is_err());
        assert_eq!(
            octal_modes("secret: {defaultMode: 0400, items: [{mode: 0644}]}\nmode: 420\n"),
            "secret: {defaultMode: 256, items: [{mode: 420}]}\nmode: 420\n"
        );
        // A ConfigMap's text is data: neither a quoted string nor a block scalar changes.
        let data = "data:\n  a: \"file mode: 0755\"\n  b: |\n    mode: 0755\n    x\n  c: 1\nvolumes:\n- {defaultMode: 0600}\n";
        assert_eq!(
            octal_modes(data),
            data.replace("{defaultMode: 0600}", "{defaultMode: 384}")
        );
        let unmatched = "kind: Deployment\nmetadata: {name: d}\nspec: {selector: {matchLabels: {app: a}}, template: {metadata: {labels: {app: b}}, spec: {containers: [{name: c, image: i}]}}}\n";
        assert!(parse(unmatched).unwrap_err().contains("spec.selector"));
        let always_job = "kind: Job\nmetadata: {name: j}\nspec: {template: {spec: {restartPolicy: Always, containers: [{name: c, image: i}]}}}\n";
        assert!(parse(always_job).unwrap_err().contains("restartPolicy"));
        assert!(parse("kind: Pod\nmetadata: {name: x}\nspec: {securityContext: {runAsUser: 0}, containers: [{name: a, image: b, securityContext: {runAsNonRoot: true}}]}\n").is_err());
    }
}
