//! Pods: containers that share one network namespace (one address,
//! `localhost` between them), IPC and UTS namespaces, as Kubernetes pods
//! do on one machine. The namespaces are held by the pod's infra
//! container, whose process is a pause loop of 129 bytes that berth writes
//! itself (`berth/pod-infra`, made locally: no image to pull). Ports are
//! published on the infra container, so on the pod.

use std::collections::BTreeMap;

use berth_store::db::NamedRow;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::model::{Container, CreateBody};
use crate::{names, time, Engine, EngineError};

/// The label that ties a container to its pod (the pod's id).
pub const POD_LABEL: &str = "io.berth.pod.id";
/// The label of a pod's infra container.
pub const INFRA_LABEL: &str = "io.berth.pod.infra";
/// The image the infra containers run.
pub const INFRA_IMAGE: &str = "berth/pod-infra:1";

/// The namespaces a pod can share.
const SHAREABLE: &[&str] = &["net", "ipc", "uts"];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pod {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub created: String,
    pub labels: BTreeMap<String, String>,
    /// The infra container's id.
    #[serde(rename = "InfraID")]
    pub infra_id: String,
    pub share: Vec<String>,
}

impl Pod {
    /// podman's pod states, from the pod's containers (`pod_containers`):
    /// Created (nothing started yet), Running (all its containers run),
    /// Degraded (some do), Exited (none does).
    pub fn status(&self, containers: &[Container]) -> &'static str {
        let members: Vec<&Container> = containers
            .iter()
            .filter(|c| c.id != self.infra_id)
            .collect();
        let running = members.iter().filter(|c| c.state.running).count();
        let ever = members.iter().any(|c| c.state.started_at != time::ZERO);
        match (running, members.len()) {
            (0, _) if !ever => "Created",
            (0, _) => "Exited",
            (r, n) if r == n => "Running",
            _ => "Degraded",
        }
    }
}

impl crate::named::Named for Pod {
    const WHAT: &'static str = "pod";
    fn id(&self) -> &str {
        &self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// `pod create`'s options; `infra` carries what the infra container gets
/// from the flags (ports, network), as `run`'s body would.
#[derive(Clone, Debug, Default)]
pub struct PodCreate {
    pub name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub share: Option<Vec<String>>,
    pub hostname: Option<String>,
    pub infra: CreateBody,
}

impl Engine {
    /// `pod create`: the pod and its infra container (created, not started:
    /// the pod starts with its first container, or `pod start`).
    pub fn create_pod(&self, o: PodCreate) -> Result<Pod, EngineError> {
        let name = match &o.name {
            Some(n) if !names::valid(n) => {
                return Err(EngineError::invalid(format!(
                    "invalid pod name {n:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )))
            }
            Some(n) => n.clone(),
            None => names::random(),
        };
        if self.find_pod(&name).is_ok() {
            return Err(EngineError::Conflict(format!(
                "pod {name} already exists: remove it first (berth pod rm {name}), or choose another name"
            )));
        }
        let share = o
            .share
            .clone()
            .unwrap_or_else(|| SHAREABLE.iter().map(|s| s.to_string()).collect());
        for s in &share {
            if !SHAREABLE.contains(&s.as_str()) {
                return Err(EngineError::invalid(format!(
                    "invalid --share {s:?}: a pod shares net, ipc and uts (or some of them)"
                )));
            }
        }
        let id = berth_store::random_hex(32);
        self.ensure_infra_image()?;
        let mut body = o.infra.clone();
        body.config.image = INFRA_IMAGE.into();
        body.config.hostname = o.hostname.clone().unwrap_or_else(|| name.clone());
        body.config.labels.insert(POD_LABEL.into(), id.clone());
        body.config.labels.insert(INFRA_LABEL.into(), "true".into());
        if share.iter().any(|s| s == "ipc") {
            body.host_config.ipc_mode = "shareable".into();
        }
        let infra = self.create(Some(&format!("{}-infra", &id[..12])), body)?;
        let pod = Pod {
            id: id.clone(),
            name: name.clone(),
            created: time::now(),
            labels: o.labels.clone(),
            infra_id: infra.id.clone(),
            share,
        };
        let row = NamedRow {
            id,
            name: name.clone(),
            record: serde_json::to_string(&pod).expect("pod serialises"),
        };
        if !self.store.db.add_pod(&row)? {
            let _ = self.remove_container(&infra.id, true);
            return Err(EngineError::Conflict(format!("pod {name} already exists")));
        }
        self.emit(
            "pod",
            "create",
            &pod.id,
            BTreeMap::from([("name".into(), name)]),
        );
        Ok(pod)
    }

    /// The pause program as a one-layer image, made once per store.
    fn ensure_infra_image(&self) -> Result<(), EngineError> {
        if self.resolve_image(INFRA_IMAGE).is_ok() {
            return Ok(());
        }
        let pause = pause_program()?;
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        h.set_size(pause.len() as u64);
        h.set_mtime(0);
        tar.append_data(&mut h, "pause", &pause[..])
            .map_err(|e| EngineError::Runtime(format!("the pod infra image: {e}")))?;
        let bytes = tar
            .into_inner()
            .map_err(|e| EngineError::Runtime(format!("the pod infra image: {e}")))?;
        let o = crate::images::ImportOptions {
            changes: vec!["ENTRYPOINT [\"/pause\"]".into()],
            message: Some("berth's pod infra: a pause loop".into()),
            platform: None,
        };
        self.import(&mut &bytes[..], "berth", Some(INFRA_IMAGE), &o)?;
        Ok(())
    }

    pub fn list_pods(&self) -> Result<Vec<Pod>, EngineError> {
        crate::named::parse(self.store.db.pods()?)
    }

    /// A pod by name, id or unique id prefix.
    pub fn find_pod(&self, key: &str) -> Result<Pod, EngineError> {
        crate::named::find(&self.list_pods()?, key)
            .ok_or_else(|| EngineError::NoSuchPod(key.to_string()))
    }

    /// The pod's containers, its infra first.
    pub fn pod_containers(&self, pod: &Pod) -> Result<Vec<Container>, EngineError> {
        let mut all: Vec<Container> = self
            .list_containers()?
            .into_iter()
            .filter(|c| c.config.labels.get(POD_LABEL) == Some(&pod.id))
            .collect();
        all.sort_by_key(|c| (c.id != pod.infra_id, c.created.clone()));
        Ok(all)
    }

    /// A container created with `HostConfig.Pod` joins the pod's
    /// namespaces; the pod decides its network and ports.
    pub(crate) fn join_pod(&self, body: &mut CreateBody) -> Result<(), EngineError> {
        let key = std::mem::take(&mut body.host_config.pod);
        if key.is_empty() {
            return Ok(());
        }
        let pod = self.find_pod(&key)?;
        let h = &mut body.host_config;
        if h.port_bindings.as_ref().is_some_and(|p| !p.is_empty()) || h.publish_all_ports {
            return Err(EngineError::invalid(
                "published ports must be given when the pod is created (berth pod create -p ...): a pod's containers share its network",
            ));
        }
        if !matches!(h.network_mode.as_str(), "" | "default") {
            return Err(EngineError::invalid(
                "a container of a pod uses the pod's network: give --network to berth pod create",
            ));
        }
        let infra = format!("container:{}", pod.infra_id);
        h.network_mode = infra.clone();
        if pod.share.iter().any(|s| s == "ipc") {
            h.ipc_mode = infra.clone();
        }
        if pod.share.iter().any(|s| s == "uts") {
            h.uts_mode = infra;
        }
        body.config.labels.insert(POD_LABEL.into(), pod.id.clone());
        Ok(())
    }

    /// Before a pod's container starts: its infra runs.
    pub(crate) fn start_pod_of(&self, c: &Container) -> Result<(), EngineError> {
        let Some(pod_id) = c.config.labels.get(POD_LABEL) else {
            return Ok(());
        };
        if c.config.labels.contains_key(INFRA_LABEL) {
            return Ok(());
        }
        let pod = self.find_pod(pod_id)?;
        self.start_detached(&pod.infra_id)
    }

    /// `pod start`: the infra, then each container.
    pub fn start_pod(&self, key: &str) -> Result<Pod, EngineError> {
        let pod = self.find_pod(key)?;
        for c in self.pod_containers(&pod)? {
            self.start_detached(&c.id)?;
        }
        self.emit(
            "pod",
            "start",
            &pod.id,
            BTreeMap::from([("name".into(), pod.name.clone())]),
        );
        Ok(pod)
    }

    /// `pod stop`: each container (with `timeout`), then the infra at once
    /// (a pause loop has nothing to finish).
    pub fn stop_pod(&self, key: &str, timeout: Option<u32>) -> Result<Pod, EngineError> {
        let pod = self.find_pod(key)?;
        let members = self.pod_containers(&pod)?;
        for c in members.iter().filter(|c| c.id != pod.infra_id) {
            self.stop_container(&c.id, timeout, None)?;
        }
        self.stop_container(&pod.infra_id, Some(0), Some(libc::SIGKILL))?;
        self.emit(
            "pod",
            "stop",
            &pod.id,
            BTreeMap::from([("name".into(), pod.name.clone())]),
        );
        Ok(pod)
    }

    /// `pod kill`: `signal` to each running container (and the infra).
    pub fn kill_pod(&self, key: &str, signal: i32) -> Result<Pod, EngineError> {
        let pod = self.find_pod(key)?;
        let mut any = false;
        for c in self
            .pod_containers(&pod)?
            .iter()
            .rev()
            .filter(|c| c.state.running)
        {
            self.kill_container(&c.id, signal)?;
            any = true;
        }
        if !any {
            return Err(EngineError::Conflict(format!(
                "pod {} has no running container to signal",
                pod.name
            )));
        }
        Ok(pod)
    }

    /// `pod rm`: refused while its containers run, unless `force` (which
    /// removes them running).
    pub fn remove_pod(&self, key: &str, force: bool) -> Result<Pod, EngineError> {
        let pod = self.find_pod(key)?;
        let members = self.pod_containers(&pod)?;
        let running: Vec<&str> = members
            .iter()
            .filter(|c| c.state.running && c.id != pod.infra_id)
            .map(|c| c.short_name())
            .collect();
        if !running.is_empty() && !force {
            return Err(EngineError::Conflict(format!(
                "pod {} has running containers ({}): stop them first (berth pod stop {}), or use -f",
                pod.name,
                running.join(", "),
                pod.name
            )));
        }
        // Members first: the infra holds the namespaces they use.
        for c in members.iter().rev() {
            self.remove_container(&c.id, true)?;
        }
        self.store.db.remove_pod(&pod.id)?;
        self.emit(
            "pod",
            "remove",
            &pod.id,
            BTreeMap::from([("name".into(), pod.name.clone())]),
        );
        Ok(pod)
    }

    /// `pod top`: every container's processes, a column naming the container.
    pub fn top_pod(&self, key: &str, ps_args: &[String]) -> Result<Vec<String>, EngineError> {
        let pod = self.find_pod(key)?;
        let mut out: Vec<String> = Vec::new();
        for c in self
            .pod_containers(&pod)?
            .iter()
            .filter(|c| c.state.running)
        {
            let lines = self.top(&c.id, ps_args)?;
            let mut lines = lines.into_iter();
            let header = lines.next().unwrap_or_default();
            if out.is_empty() {
                out.push(format!("{:<20} {header}", "CONTAINER"));
            }
            out.extend(lines.map(|l| format!("{:<20} {l}", c.short_name())));
        }
        if out.is_empty() {
            return Err(EngineError::Conflict(format!(
                "pod {} is not running",
                pod.name
            )));
        }
        Ok(out)
    }

    /// `pod inspect`: podman's shape.
    pub fn inspect_pod(&self, key: &str) -> Result<Value, EngineError> {
        let pod = self.find_pod(key)?;
        let members = self.pod_containers(&pod)?;
        let infra = members.iter().find(|c| c.id == pod.infra_id);
        Ok(json!({
            "Id": pod.id,
            "Name": pod.name,
            "Created": pod.created,
            "State": pod.status(&members),
            "Hostname": infra.map(|c| c.config.hostname.clone()).unwrap_or_default(),
            "Labels": pod.labels,
            "CreateInfra": true,
            "InfraContainerID": pod.infra_id,
            "SharedNamespaces": pod.share,
            "NumContainers": members.len(),
            "Containers": members.iter().map(|c| json!({
                "Id": c.id, "Name": c.short_name(), "State": c.state.status,
            })).collect::<Vec<_>>(),
            "InfraConfig": infra.map(|c| json!({
                "PortBindings": c.host_config.port_bindings,
                "NetworkMode": c.host_config.network_mode,
                "Networks": c.network_settings["Networks"].as_object().map(|n| n.keys().cloned().collect::<Vec<_>>()),
            })),
        }))
    }
}

/// The infra process: `pause()` for ever (on arm64, whose kernel has no
/// pause, `ppoll` with nothing to wait for), as a static ELF of one
/// segment. The pod stops it with SIGKILL.
fn pause_program() -> Result<Vec<u8>, EngineError> {
    let (machine, code): (u16, Vec<u8>) = match std::env::consts::ARCH {
        // mov eax, 34 (pause); syscall; jmp back
        "x86_64" => (0x3e, vec![0xb8, 0x22, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7]),
        // x0..x3 = 0; x8 = 73 (ppoll); svc #0; b back
        "aarch64" => (
            0xb7,
            [
                0xd280_0000u32,
                0xd280_0001,
                0xd280_0002,
                0xd280_0003,
                0xd280_0928,
                0xd400_0001,
                0x17ff_fffa,
            ]
            .iter()
            .flat_map(|i| i.to_le_bytes())
            .collect(),
        ),
        other => {
            return Err(EngineError::invalid(format!(
                "pods are not available on {other}: berth's infra program is for x86_64 and aarch64"
            )))
        }
    };
    const BASE: u64 = 0x40_0000;
    const HEADERS: u64 = 64 + 56;
    let size = HEADERS + code.len() as u64;
    let mut elf = Vec::with_capacity(size as usize);
    elf.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&machine.to_le_bytes());
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&(BASE + HEADERS).to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers
    elf.extend_from_slice(&0u64.to_le_bytes()); // no sections
    elf.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 1, 0, 0, 0] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for v in [0, BASE, BASE, size, size, 0x1000u64] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    elf.extend_from_slice(&code);
    Ok(elf)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pause_program_runs_until_killed() {
        use std::os::unix::fs::PermissionsExt;
        let elf = super::pause_program().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pause");
        std::fs::write(&path, &elf).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut child = std::process::Command::new(&path).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(child.try_wait().unwrap().is_none(), "it pauses");
        child.kill().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    }
}
