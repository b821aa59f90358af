//! What `info`, `version` and `system df` report, as docker's documents
//! (SystemInfo, SystemVersion, the disk usage): the CLI prints them as
//! text, the API returns them as JSON.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::{Engine, EngineError};

/// The Engine API versions berth serves: the newest whose behaviour is
/// built, and the oldest docker still serves.
pub const API_VERSION: &str = "1.47";
pub const MIN_API_VERSION: &str = "1.24";

/// The host's architecture as docker names it (`amd64`, `arm64`).
pub fn arch() -> String {
    berth_image::spec::host_platform().architecture
}

pub fn kernel() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn operating_system() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "Linux".into())
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
            })
        })
        .unwrap_or(0)
        * 1024
}

/// A stable id for the store, docker's shape: twelve groups of hex digits.
fn store_id(root: &std::path::Path) -> String {
    let hex = berth_image::Digest::of(root.as_os_str().as_encoded_bytes())
        .hex()
        .to_uppercase();
    hex.as_bytes()[..48]
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

/// The server's part of `version`: docker's SystemVersion.
pub fn version() -> Value {
    let v = crate::VERSION;
    json!({
        "Platform": {"Name": "berth"},
        "Components": [{
            "Name": "Engine",
            "Version": v,
            "Details": {
                "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                "Os": "linux", "Arch": arch(), "KernelVersion": kernel(),
                "GitCommit": "", "GoVersion": "", "BuildTime": "", "Experimental": "false",
            },
        }],
        "Version": v,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch(),
        "KernelVersion": kernel(),
        "Experimental": false,
        "BuildTime": "",
    })
}

impl Engine {
    /// `info`: docker's SystemInfo.
    pub fn info(&self) -> Result<Value, EngineError> {
        let containers = self.list_containers()?;
        let running = containers.iter().filter(|c| c.state.running).count();
        let paused = containers.iter().filter(|c| c.state.paused).count();
        let images = self.list_images()?.len();
        let cgroup_version = if berth_runtime::container::cgroup_v2() {
            "2"
        } else {
            "1"
        };
        let cdi_dirs = berth_runtime::cdi::spec_dirs();
        let cdi: Vec<Value> = berth_runtime::cdi::Registry::load(&cdi_dirs)
            .names()
            .into_iter()
            .map(|id| json!({"Source": "cdi", "ID": id}))
            .collect();
        let has = berth_runtime::cgroups::available;
        Ok(json!({
            "ID": store_id(self.root()),
            "Containers": containers.len(),
            "ContainersRunning": running - paused,
            "ContainersPaused": paused,
            "ContainersStopped": containers.len() - running,
            "Images": images,
            "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"], ["Supports d_type", "true"]],
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "host", "null"],
                "Authorization": null,
                "Log": ["json-file", "none"],
            },
            "MemoryLimit": has("memory"),
            "SwapLimit": has("memory"),
            "KernelMemory": false,
            "KernelMemoryTCP": false,
            "CpuCfsPeriod": has("cpu"),
            "CpuCfsQuota": has("cpu"),
            "CPUShares": has("cpu"),
            "CPUSet": has("cpuset"),
            "PidsLimit": has("pids"),
            "IPv4Forwarding": std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").is_ok_and(|s| s.trim() == "1"),
            "BridgeNfIptables": true,
            "BridgeNfIp6tables": true,
            "Debug": false,
            "NFd": std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
            "OomKillDisable": false,
            "NGoroutines": 0,
            "SystemTime": chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": cgroup_version,
            "NEventsListener": 0,
            "KernelVersion": kernel(),
            "OperatingSystem": operating_system(),
            "OSVersion": "",
            "OSType": "linux",
            "Architecture": std::env::consts::ARCH,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {
                "AllowNondistributableArtifactsCIDRs": null,
                "AllowNondistributableArtifactsHostnames": null,
                "InsecureRegistryCIDRs": ["127.0.0.0/8", "::1/128"],
                "IndexConfigs": {"docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": true, "Official": true}},
                "Mirrors": null,
            },
            "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "MemTotal": mem_total(),
            "GenericResources": null,
            "DockerRootDir": self.root(),
            "StateDir": self.state_dir(),
            "HttpProxy": std::env::var("HTTP_PROXY").unwrap_or_default(),
            "HttpsProxy": std::env::var("HTTPS_PROXY").unwrap_or_default(),
            "NoProxy": std::env::var("NO_PROXY").unwrap_or_default(),
            "Name": hostname(),
            "Labels": [],
            "ExperimentalBuild": false,
            "ServerVersion": crate::VERSION,
            "Runtimes": {"runc": {"path": "berth"}},
            "DefaultRuntime": "runc",
            "Swarm": {
                "NodeID": "", "NodeAddr": "", "LocalNodeState": "inactive",
                "ControlAvailable": false, "Error": "", "RemoteManagers": null,
            },
            "LiveRestoreEnabled": false,
            "Isolation": "",
            "InitBinary": "berth",
            "ContainerdCommit": {"ID": ""},
            "RuncCommit": {"ID": ""},
            "InitCommit": {"ID": ""},
            "SecurityOptions": ["name=seccomp,profile=builtin"],
            "CDISpecDirs": cdi_dirs,
            "DiscoveredDevices": cdi,
            "Warnings": [],
        }))
    }

    /// `system df`: docker's disk usage document (images, containers,
    /// volumes, the build cache).
    pub fn disk_usage(&self) -> Result<Value, EngineError> {
        let images = self.list_images()?;
        let containers = self.list_containers()?;
        let mut users: std::collections::HashMap<String, usize> = Default::default();
        for c in &containers {
            *users.entry(c.image.clone()).or_default() += 1;
        }
        let mut layer_users: std::collections::HashMap<&berth_image::Digest, usize> =
            Default::default();
        for i in &images {
            for l in &i.record.layers {
                *layer_users.entry(&l.chain_id).or_default() += 1;
            }
        }
        let mut layers_size = 0u64;
        let mut seen = HashSet::new();
        let mut image_docs = Vec::new();
        for i in &images {
            let mut shared = 0u64;
            for l in &i.record.layers {
                let size = self.store.db.snapshot_size(&l.chain_id)?.unwrap_or(0);
                if seen.insert(l.chain_id.clone()) {
                    layers_size += size;
                }
                if layer_users[&l.chain_id] > 1 {
                    shared += size;
                }
            }
            let mut doc = self.image_summary(i, &i.tags);
            doc["SharedSize"] = json!(shared);
            doc["Containers"] = json!(users.get(i.record.id.as_str()).copied().unwrap_or(0));
            image_docs.push(doc);
        }
        let container_docs: Vec<Value> = containers
            .iter()
            .map(|c| self.container_summary(c, true))
            .collect();
        let mut volume_docs = Vec::new();
        for v in self.list_volumes()? {
            let size = crate::containers::dir_size(&v.mountpoint);
            let refs = self.volume_users(&v.name)?.len();
            let mut doc = self.volume_json(&v);
            doc["UsageData"] = json!({"Size": size, "RefCount": refs});
            volume_docs.push(doc);
        }
        let cache: Vec<Value> = self
            .build_cache_entries()?
            .into_iter()
            .map(|(id, size, created, last_used)| {
                json!({
                    "ID": id, "Parent": "", "Type": "regular", "Description": "", "InUse": false,
                    "Shared": false, "Size": size, "CreatedAt": created, "LastUsedAt": last_used,
                    "UsageCount": 1,
                })
            })
            .collect();
        Ok(json!({
            "LayersSize": layers_size,
            "Images": image_docs,
            "Containers": container_docs,
            "Volumes": volume_docs,
            "BuildCache": cache,
        }))
    }
}
