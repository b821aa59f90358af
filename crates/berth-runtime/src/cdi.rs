//! CDI, the Container Device Interface (what docker 25+, podman and
//! containerd read): spec files in /etc/cdi and /var/run/cdi (JSON or
//! YAML, cdiVersion 0.3.0 on) name devices `vendor.com/class=name`, each
//! with the edits that give a container the device — env, device nodes,
//! mounts, hooks, extra groups — and edits of the whole spec applied once
//! with any of its devices.
//!
//! Written here rather than taken from the CNCF's crate, which would bring
//! an HTTP client, a JSON-schema engine and an async runtime into the
//! container runtime for a format this small.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::spec::{DeviceNode, DeviceRule, Hook, MountSpec};

/// Where CDI specs are looked for: `BERTH_CDI_SPEC_DIRS` (colon-separated)
/// or the standard two; later directories win over earlier ones.
pub fn spec_dirs() -> Vec<PathBuf> {
    match std::env::var("BERTH_CDI_SPEC_DIRS") {
        Ok(dirs) if !dirs.is_empty() => std::env::split_paths(&dirs).collect(),
        _ => vec![PathBuf::from("/etc/cdi"), PathBuf::from("/var/run/cdi")],
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SpecFile {
    cdi_version: String,
    kind: String,
    /// Taken (the format has them) and not used.
    #[serde(default, rename = "annotations")]
    _annotations: serde::de::IgnoredAny,
    #[serde(default)]
    devices: Vec<DeviceEntry>,
    #[serde(default)]
    container_edits: Edits,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DeviceEntry {
    name: String,
    #[serde(default, rename = "annotations")]
    _annotations: serde::de::IgnoredAny,
    #[serde(default)]
    container_edits: Edits,
}

/// What a device (or a whole spec) changes in a container.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Edits {
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub device_nodes: Vec<CdiDeviceNode>,
    #[serde(default)]
    pub mounts: Vec<CdiMount>,
    #[serde(default)]
    pub hooks: Vec<CdiHook>,
    #[serde(default, rename = "additionalGids", alias = "additionalGIDs")]
    pub additional_gids: Vec<u32>,
    /// Accepted (0.7), not applied: berth sets no RDT classes.
    #[serde(default)]
    pub intel_rdt: Option<serde_json::Value>,
    /// Accepted (1.1), not applied.
    #[serde(default)]
    pub net_devices: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CdiDeviceNode {
    pub path: String,
    #[serde(default)]
    pub host_path: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub major: Option<i64>,
    #[serde(default)]
    pub minor: Option<i64>,
    #[serde(default)]
    pub file_mode: Option<u32>,
    #[serde(default)]
    pub permissions: Option<String>,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CdiMount {
    pub host_path: String,
    pub container_path: String,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CdiHook {
    pub hook_name: String,
    pub path: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub timeout: Option<u64>,
}

/// The devices of every spec found, by qualified name.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    devices: BTreeMap<String, Found>,
    /// Specs that could not be read, each said in a line (they are skipped).
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug)]
struct Found {
    device: Edits,
    /// The whole spec's edits, applied once for any of its devices.
    spec: Edits,
    /// The spec file: which spec's edits these are.
    file: PathBuf,
}

/// What a container gets from its CDI devices.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    pub env: Vec<String>,
    pub nodes: Vec<(DeviceNode, DeviceRule)>,
    pub mounts: Vec<MountSpec>,
    /// By OCI hook phase.
    pub hooks: BTreeMap<String, Vec<Hook>>,
    pub gids: Vec<u32>,
}

impl Registry {
    /// Reads every spec in `dirs` (missing directories are fine).
    pub fn load(dirs: &[PathBuf]) -> Registry {
        let mut r = Registry::default();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            files.sort();
            for file in files {
                let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
                if !matches!(ext, "json" | "yaml" | "yml") {
                    continue;
                }
                if let Err(e) = r.add_file(&file) {
                    r.warnings
                        .push(format!("CDI spec {}: {e}; skipped", file.display()));
                }
            }
        }
        r
    }

    fn add_file(&mut self, file: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(file).map_err(|e| e.to_string())?;
        let spec: SpecFile = if file.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())?
        } else {
            serde_norway::from_str(&text).map_err(|e| e.to_string())?
        };
        check_version(&spec.cdi_version)?;
        check_kind(&spec.kind)?;
        for d in &spec.devices {
            check_name(&d.name)?;
            check_edits(&d.container_edits)?;
        }
        check_edits(&spec.container_edits)?;
        for d in spec.devices {
            self.devices.insert(
                format!("{}={}", spec.kind, d.name),
                Found {
                    device: d.container_edits,
                    spec: spec.container_edits.clone(),
                    file: file.to_path_buf(),
                },
            );
        }
        Ok(())
    }

    /// Every device's qualified name.
    pub fn names(&self) -> Vec<String> {
        self.devices.keys().cloned().collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.devices.contains_key(name)
    }

    /// Whether any spec defines devices of `kind` (`nvidia.com/gpu`).
    pub fn has_kind(&self, kind: &str) -> bool {
        self.devices
            .keys()
            .any(|n| n.split_once('=').is_some_and(|(k, _)| k == kind))
    }

    /// The edits of `names`, combined: each device's, and each spec's once.
    pub fn resolve(&self, names: &[String]) -> Result<Applied, String> {
        let missing: Vec<&String> = names.iter().filter(|n| !self.has(n)).collect();
        if !missing.is_empty() {
            let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
            return Err(format!(
                "unresolvable CDI devices {}: no CDI spec in {} defines them",
                list.join(", "),
                spec_dirs()
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut out = Applied::default();
        let mut specs_done: Vec<&Path> = Vec::new();
        for name in names {
            let found = &self.devices[name];
            if !specs_done.contains(&found.file.as_path()) {
                specs_done.push(&found.file);
                apply(&found.spec, &mut out)?;
            }
            apply(&found.device, &mut out)?;
        }
        Ok(out)
    }
}

fn check_version(v: &str) -> Result<(), String> {
    let numbers: Vec<u32> = v.split('.').filter_map(|p| p.parse().ok()).collect();
    match numbers.as_slice() {
        [0, minor, _] if (3..=8).contains(minor) => Ok(()),
        [1, _, _] => Ok(()),
        _ => Err(format!(
            "cdiVersion {v:?} is not one berth reads (0.3.0 to 1.x)"
        )),
    }
}

fn check_kind(kind: &str) -> Result<(), String> {
    let ok = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    };
    match kind.split_once('/') {
        Some((vendor, class)) if ok(vendor, "-_.") && ok(class, "-_.") => Ok(()),
        _ => Err(format!(
            "invalid kind {kind:?}: vendor.com/class, of letters, digits, '-', '_' and '.'"
        )),
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
    {
        return Err(format!("invalid device name {name:?}"));
    }
    Ok(())
}

fn check_edits(e: &Edits) -> Result<(), String> {
    if let Some(bad) = e.env.iter().find(|v| !v.contains('=')) {
        return Err(format!("invalid environment variable {bad:?}: KEY=VALUE"));
    }
    for n in &e.device_nodes {
        if !n.path.starts_with('/') {
            return Err(format!("device node path {:?} is not absolute", n.path));
        }
        if let Some(k) = &n.kind {
            if !matches!(k.as_str(), "b" | "c" | "u" | "p") {
                return Err(format!("device node {}: invalid type {k:?}", n.path));
            }
        }
    }
    for m in &e.mounts {
        if !m.container_path.starts_with('/') {
            return Err(format!(
                "mount container path {:?} is not absolute",
                m.container_path
            ));
        }
    }
    const PHASES: &[&str] = &[
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ];
    if let Some(h) = e
        .hooks
        .iter()
        .find(|h| !PHASES.contains(&h.hook_name.as_str()))
    {
        return Err(format!("invalid hook name {:?}", h.hook_name));
    }
    Ok(())
}

/// Adds `e`'s edits to `out`: a node's missing type and numbers come from
/// its host path.
fn apply(e: &Edits, out: &mut Applied) -> Result<(), String> {
    for v in &e.env {
        let key = v.split('=').next().unwrap_or("");
        out.env.retain(|x| x.split('=').next() != Some(key));
        out.env.push(v.clone());
    }
    for n in &e.device_nodes {
        let host = n.host_path.clone().unwrap_or_else(|| n.path.clone());
        let permissions = n.permissions.clone().unwrap_or_else(|| "rwm".into());
        let (mut node, mut rule) = if n.major.is_some() && n.kind.is_some() {
            let kind = n
                .kind
                .as_deref()
                .unwrap_or("c")
                .chars()
                .next()
                .unwrap_or('c');
            let (major, minor) = (n.major.unwrap_or(0), n.minor.unwrap_or(0));
            (
                DeviceNode {
                    path: n.path.clone(),
                    kind,
                    major,
                    minor,
                    file_mode: 0o666,
                    uid: 0,
                    gid: 0,
                },
                DeviceRule {
                    allow: true,
                    kind: Some(kind),
                    major: Some(major),
                    minor: Some(minor),
                    access: permissions.clone(),
                },
            )
        } else {
            crate::devices::nodes_of(&host, &n.path, &permissions)?
                .into_iter()
                .next()
                .ok_or_else(|| format!("{host}: no device"))?
        };
        if let Some(m) = n.file_mode {
            node.file_mode = m;
        }
        if let Some(u) = n.uid {
            node.uid = u;
        }
        if let Some(g) = n.gid {
            node.gid = g;
        }
        rule.access = permissions;
        out.nodes.retain(|(x, _)| x.path != node.path);
        out.nodes.push((node, rule));
    }
    for m in &e.mounts {
        out.mounts.retain(|x| match x {
            MountSpec::Bind { destination, .. } | MountSpec::Tmpfs { destination, .. } => {
                *destination != m.container_path
            }
        });
        out.mounts.push(MountSpec::Bind {
            source: PathBuf::from(&m.host_path),
            destination: m.container_path.clone(),
            read_only: m.options.iter().any(|o| o == "ro"),
        });
    }
    for h in &e.hooks {
        out.hooks
            .entry(h.hook_name.clone())
            .or_default()
            .push(Hook {
                path: h.path.clone(),
                args: h.args.clone(),
                env: h.env.clone(),
                timeout: h.timeout,
            });
    }
    for g in &e.additional_gids {
        if !out.gids.contains(g) {
            out.gids.push(*g);
        }
    }
    Ok(())
}

/// A name CDI would take: `vendor.com/class=name`.
pub fn is_qualified(name: &str) -> bool {
    name.split_once('=')
        .is_some_and(|(kind, dev)| check_kind(kind).is_ok() && check_name(dev).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn specs_in_json_and_yaml_give_their_devices_edits() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "vendor.json",
            r#"{"cdiVersion": "0.6.0", "kind": "example.com/dev",
                "containerEdits": {"env": ["SPEC=1"]},
                "devices": [{"name": "one", "containerEdits": {
                    "env": ["ONE=1"],
                    "deviceNodes": [{"path": "/dev/one", "hostPath": "/dev/null"}],
                    "mounts": [{"hostPath": "/etc/hostname", "containerPath": "/opt/h", "options": ["ro", "bind"]}],
                    "hooks": [{"hookName": "createContainer", "path": "/bin/true"}],
                    "additionalGids": [44]}}]}"#,
        );
        write(
            d.path(),
            "gpu.yaml",
            "cdiVersion: 0.8.0\nkind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia0\n      type: c\n      major: 195\n      minor: 0\n",
        );
        write(d.path(), "broken.json", "{not json");
        write(
            d.path(),
            "old.json",
            r#"{"cdiVersion": "0.1.0", "kind": "a.com/b", "devices": []}"#,
        );
        let r = Registry::load(&[d.path().to_path_buf()]);
        assert_eq!(r.names(), ["example.com/dev=one", "nvidia.com/gpu=0"]);
        assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
        assert!(r.has_kind("nvidia.com/gpu"));
        let a = r.resolve(&["example.com/dev=one".into()]).unwrap();
        assert_eq!(a.env, ["SPEC=1", "ONE=1"]);
        assert_eq!(
            (a.nodes[0].0.path.as_str(), a.nodes[0].0.major),
            ("/dev/one", 1)
        );
        assert!(matches!(
            &a.mounts[0],
            MountSpec::Bind {
                read_only: true,
                ..
            }
        ));
        assert_eq!(a.hooks["createContainer"][0].path, "/bin/true");
        assert_eq!(a.gids, [44]);
        let gpu = r.resolve(&["nvidia.com/gpu=0".into()]).unwrap();
        assert_eq!((gpu.nodes[0].0.kind, gpu.nodes[0].0.major), ('c', 195));
        let e = r.resolve(&["nvidia.com/gpu=7".into()]).unwrap_err();
        assert!(
            e.contains("unresolvable CDI devices nvidia.com/gpu=7"),
            "{e}"
        );
    }

    #[test]
    fn qualified_names() {
        assert!(is_qualified("nvidia.com/gpu=all"));
        assert!(is_qualified("vendor.example/class=0:1"));
        assert!(!is_qualified("/dev/sda"));
        assert!(!is_qualified("nvidia.com/gpu"));
    }
}
