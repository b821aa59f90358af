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
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct PlayPod {
    /// The berth pod's name (a Deployment's replicas are `NAME-pod-N`).
    pub name: String,
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
    /// (containerPort, protocol, hostPort, hostIP)
    pub ports: Vec<(u16, String, Option<u16>, Option<String>)>,
    /// (volume, mountPath, readOnly, subPath)
    pub mounts: Vec<(String, String, bool, Option<String>)>,
    pub memory: Option<String>,
    pub cpu: Option<String>,
    pub run_as_user: Option<i64>,
    pub run_as_group: Option<i64>,
    pub read_only: bool,
    pub privileged: bool,
    pub no_new_privileges: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
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
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlayVolume {
    HostPath(String),
    EmptyDir {
        memory: bool,
    },
    Claim(String),
    /// A Secret's keys as files (`items` narrow and rename them).
    Secret {
        name: String,
        items: Vec<(String, String)>,
    },
    ConfigMap {
        name: String,
        items: Vec<(String, String)>,
    },
}

const CONTAINER_FIELDS: &[&str] = &[
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "env",
    "ports",
    "volumeMounts",
    "resources",
    "securityContext",
    "imagePullPolicy",
    "terminationMessagePath",
    "terminationMessagePolicy",
];

/// Reads every document of `yaml`.
pub fn parse(yaml: &str) -> Result<Plan, String> {
    let mut plan = Plan::default();
    let mut workloads = Vec::new();
    for (i, doc) in serde_norway::Deserializer::from_str(yaml).enumerate() {
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
            "Pod" => workloads.push((name, v["metadata"].clone(), v["spec"].clone(), None)),
            "Deployment" | "DaemonSet" => {
                let replicas = match kind {
                    "DaemonSet" => 1,
                    _ => v["spec"]["replicas"].as_u64().unwrap_or(1) as usize,
                };
                let t = &v["spec"]["template"];
                workloads.push((
                    name,
                    t["metadata"].clone(),
                    t["spec"].clone(),
                    Some(replicas),
                ));
            }
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
    for (name, meta, spec, replicas) in workloads {
        let base = read_pod(&name, &meta, &spec, &mut plan.warnings)?;
        match replicas {
            None => plan.pods.push(base),
            Some(n) => {
                for i in 0..n {
                    let mut p = base.clone();
                    p.name = format!("{name}-pod-{i}");
                    plan.pods.push(p);
                }
            }
        }
    }
    Ok(plan)
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
        let vol = if let Some(p) = v["hostPath"]["path"].as_str() {
            PlayVolume::HostPath(p.to_string())
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
            }
        } else if let Some(c) = v["configMap"]["name"].as_str() {
            PlayVolume::ConfigMap {
                name: c.to_string(),
                items: items(&v["configMap"]),
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
            out.push(read_container(name, c, warnings)?);
        }
    }
    if pod.containers.is_empty() {
        return Err(format!("pod {name}: no containers"));
    }
    Ok(pod)
}

fn read_container(
    pod: &str,
    c: &Value,
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
        } else {
            warnings.push(format!(
                "container {pod}/{name}: env {key} has a source berth does not read: left out"
            ));
            continue;
        };
        out.env.push((key, src));
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
        out.ports.push((
            port,
            p["protocol"].as_str().unwrap_or("TCP").to_ascii_lowercase(),
            p["hostPort"].as_u64().and_then(|h| u16::try_from(h).ok()),
            p["hostIP"].as_str().map(str::to_string),
        ));
    }
    for m in c["volumeMounts"].as_array().into_iter().flatten() {
        out.mounts.push((
            m["name"].as_str().unwrap_or_default().to_string(),
            m["mountPath"].as_str().unwrap_or_default().to_string(),
            m["readOnly"].as_bool().unwrap_or(false),
            m["subPath"].as_str().map(str::to_string),
        ));
    }
    let limits = &c["resources"]["limits"];
    out.memory = limits["memory"]
        .as_str()
        .map(str::to_string)
        .or_else(|| limits["memory"].as_u64().map(|n| n.to_string()));
    out.cpu = limits["cpu"]
        .as_str()
        .map(str::to_string)
        .or_else(|| limits["cpu"].as_f64().map(|n| n.to_string()));
    let sc = &c["securityContext"];
    out.run_as_user = sc["runAsUser"].as_i64();
    out.run_as_group = sc["runAsGroup"].as_i64();
    out.read_only = sc["readOnlyRootFilesystem"].as_bool().unwrap_or(false);
    out.privileged = sc["privileged"].as_bool().unwrap_or(false);
    out.no_new_privileges = sc["allowPrivilegeEscalation"] == Value::Bool(false);
    out.cap_add = strings(&sc["capabilities"]["add"]).unwrap_or_default();
    out.cap_drop = strings(&sc["capabilities"]["drop"]).unwrap_or_default();
    if sc["runAsNonRoot"] == Value::Bool(true) && out.run_as_user.unwrap_or(0) == 0 {
        return Err(format!(
            "container {pod}/{name}: runAsNonRoot is true and the user would be root: give securityContext.runAsUser a non-zero id"
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
        ports: [{containerPort: 80, hostPort: 8080}]
        resources: {limits: {memory: 64Mi, cpu: 500m}}
        startupProbe: {exec: {command: [true]}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
"#;
        let plan = parse(yaml).unwrap();
        assert_eq!(plan.secrets["db"]["password"], b"hunter2");
        assert_eq!(plan.secrets["db"]["user"], b"admin");
        assert_eq!(plan.config_maps["cfg"]["MODE"], "prod");
        let names: Vec<&str> = plan.pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["web-pod-0", "web-pod-1"]);
        let c = &plan.pods[0].containers[0];
        assert_eq!(c.env[2], ("N".into(), EnvSource::Value("3".into())));
        assert_eq!(c.ports[0], (80, "tcp".into(), Some(8080), None));
        assert_eq!(memory_bytes(c.memory.as_deref().unwrap()), Some(64 << 20));
        assert_eq!(nano_cpus(c.cpu.as_deref().unwrap()), Some(500_000_000));
        assert_eq!(plan.warnings.len(), 3, "{:?}", plan.warnings);
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.contains("spec.nodeSelector")));
        assert!(plan.warnings.iter().any(|w| w.contains("startupProbe")));
        assert!(plan.warnings.iter().any(|w| w.starts_with("Service web")));
        assert!(parse("kind: Pod\nmetadata: {}\n").is_err());
        assert!(parse("kind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: a, image: b, securityContext: {runAsNonRoot: true}}]}\n").is_err());
    }
}
