//! The container record as stored and as `inspect` shows it: docker's JSON
//! shapes (`ContainerJSON` in the Engine API), so inspect is serialisation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    pub id: String,
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    pub state: State,
    /// The image id (`sha256:...`).
    pub image: String,
    // Defaults where absent: a listing form of the record (see
    // `containers::listing_json`) holds only some of the fields.
    #[serde(default)]
    pub resolv_conf_path: String,
    #[serde(default)]
    pub hostname_path: String,
    #[serde(default)]
    pub hosts_path: String,
    #[serde(default)]
    pub log_path: String,
    /// `/name`, as docker stores it.
    pub name: String,
    pub restart_count: u32,
    #[serde(default)]
    pub driver: String,
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub mount_label: String,
    #[serde(default)]
    pub process_label: String,
    #[serde(default)]
    pub app_armor_profile: String,
    pub host_config: HostConfig,
    #[serde(default)]
    pub graph_driver: GraphDriver,
    pub mounts: Vec<MountPoint>,
    pub config: Config,
    pub network_settings: serde_json::Value,
}

impl Container {
    /// The name without docker's leading slash.
    pub fn short_name(&self) -> &str {
        self.name.trim_start_matches('/')
    }

    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    /// created, running, paused, restarting, removing, exited, dead
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<crate::health::Health>,
    /// berth's own (docker keeps it internal too): the user stopped or
    /// killed the container, so no restart policy brings it back.
    #[serde(
        default,
        rename = "BerthManuallyStopped",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub manually_stopped: bool,
    /// berth's own: the monitor waiting to restart the container, so that a
    /// dead monitor is not taken for a container that will come back.
    #[serde(default, rename = "BerthMonitorPid", skip_serializing_if = "is_zero")]
    pub monitor_pid: i32,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// `--restart`: docker's HostConfig.RestartPolicy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    /// `no`, `always`, `unless-stopped` or `on-failure`.
    pub name: String,
    pub maximum_retry_count: u32,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            name: "no".into(),
            maximum_retry_count: 0,
        }
    }
}

impl RestartPolicy {
    /// `no`, `always`, `unless-stopped`, `on-failure[:N]`, as docker takes them.
    pub fn parse(s: &str) -> Result<RestartPolicy, String> {
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (s, None),
        };
        let bad = || {
            format!("invalid restart policy format: {s}: use no, always, unless-stopped or on-failure[:max-retries]")
        };
        let maximum_retry_count = match (name, count) {
            ("no" | "always" | "unless-stopped", None) | ("on-failure", None) => 0,
            ("on-failure", Some(c)) => c
                .parse::<u32>()
                .map_err(|_| format!("invalid restart policy format: maximum retry count must be an integer: {c}"))?,
            ("no" | "always" | "unless-stopped", Some(_)) => {
                return Err(format!("invalid restart policy format: maximum retry count cannot be used with restart policy '{name}'"))
            }
            _ => return Err(bad()),
        };
        Ok(RestartPolicy {
            name: name.to_string(),
            maximum_retry_count,
        })
    }

    /// Whether a container that exited with `code`, after `restarts`
    /// restarts, comes back (docker's rules; a manual stop is checked apart).
    pub fn restarts(&self, code: i32, restarts: u32) -> bool {
        match self.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                code != 0 && (self.maximum_retry_count == 0 || restarts < self.maximum_retry_count)
            }
            _ => false,
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Vec<String>,
    #[serde(deserialize_with = "str_slice")]
    pub cmd: Option<Vec<String>>,
    /// The image as the user named it.
    pub image: String,
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    pub working_dir: String,
    #[serde(deserialize_with = "str_slice")]
    pub entrypoint: Option<Vec<String>>,
    pub on_build: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<serde_json::Value>,
    /// `--stop-timeout`: seconds `stop` waits before SIGKILL (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u32>,
    /// `--mac-address`: the container's address on its first network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    /// The image's EXPOSEd ports and `--expose`/`-p` ones: `{"80/tcp": {}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
}

/// docker's StrSlice: a JSON string or a list of strings (or null).
fn str_slice<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => None,
        Some(OneOrMany::One(s)) => Some(vec![s]),
        Some(OneOrMany::Many(v)) => Some(v),
    })
}

/// What `create` takes, as docker's `POST /containers/create` does: the
/// container's Config at the top level, its HostConfig and the networks
/// it joins. The CLI builds it from flags; the API reads it from JSON.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBody {
    #[serde(flatten)]
    pub config: Config,
    #[serde(default)]
    pub host_config: HostConfig,
    #[serde(default)]
    pub networking_config: NetworkingConfig,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    pub endpoints_config: BTreeMap<String, crate::networks::Endpoint>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    /// berth's (and podman's) `--secret`: references, never values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<crate::secrets::SecretRef>,
    /// berth's (and podman's) `--pod`: the pod to join, at create only.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pod: String,
    pub network_mode: String,
    pub auto_remove: bool,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub security_opt: Option<Vec<String>>,
    pub tmpfs: Option<BTreeMap<String, String>>,
    pub memory: i64,
    pub memory_swap: i64,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub pids_limit: Option<i64>,
    pub ulimits: Option<Vec<Ulimit>>,
    pub mounts: Option<Vec<MountConfig>>,
    pub init: Option<bool>,
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    #[serde(default)]
    pub log_config: LogConfig,
    /// `-p`: container port (`80/tcp`) to host bindings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_bindings: Option<BTreeMap<String, Vec<PortBinding>>>,
    /// `-P`.
    #[serde(default)]
    pub publish_all_ports: bool,
    /// `--add-host HOST:IP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_hosts: Option<Vec<String>>,
    /// `--dns`, `--dns-search`, `--dns-option`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_options: Vec<String>,
    /// `--volumes-from`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes_from: Option<Vec<String>>,
    /// The terminal's first size, `[rows, columns]` (clients send it so
    /// that a command sees its size before any resize arrives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<Vec<u16>>,
    /// `--device /dev/x[:/dev/y][:rwm]` (a CDI name goes to DeviceRequests).
    pub devices: Option<Vec<DeviceMapping>>,
    /// `--device-cgroup-rule 'c 1:3 rwm'`.
    pub device_cgroup_rules: Option<Vec<String>>,
    /// `--gpus`, and CDI devices (Driver `cdi`).
    pub device_requests: Option<Vec<DeviceRequest>>,
    pub blkio_weight: u16,
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    /// `/dev/shm`'s size in bytes; 0 is docker's 64 MiB.
    pub shm_size: i64,
    /// `private`, `shareable`, `none`, `host`, `container:ID` ("" private).
    pub ipc_mode: String,
    /// `host`, `container:ID` ("" a namespace of its own).
    pub pid_mode: String,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub userns_mode: String,
    /// `host` or `private` ("" the host's default: private on cgroup v2).
    pub cgroupns_mode: String,
    pub cgroup_parent: String,
    pub sysctls: Option<BTreeMap<String, String>>,
    pub group_add: Option<Vec<String>>,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpu_realtime_period: i64,
    pub cpu_realtime_runtime: i64,
    pub memory_reservation: i64,
    pub memory_swappiness: Option<i64>,
    /// Accepted and ignored, as docker now does.
    pub kernel_memory: i64,
    pub oom_kill_disable: Option<bool>,
    pub oom_score_adj: i64,
    /// `--link NAME[:ALIAS]`, on the default bridge.
    pub links: Option<Vec<String>>,
    pub runtime: String,
    pub isolation: String,
    pub storage_opt: Option<BTreeMap<String, String>>,
    pub volume_driver: String,
}

/// A `--device`: docker's DeviceMapping.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

/// `--gpus` and CDI devices: docker's DeviceRequest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceRequest {
    pub driver: String,
    /// -1 for all.
    pub count: i64,
    #[serde(rename = "DeviceIDs")]
    pub device_ids: Option<Vec<String>>,
    pub capabilities: Option<Vec<Vec<String>>>,
    pub options: Option<BTreeMap<String, String>>,
}

/// `--blkio-weight-device PATH:WEIGHT`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

/// `--device-read-bps PATH:RATE` and the like.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

impl HostConfig {
    /// ConsoleSize as (rows, columns), when one was given.
    pub fn console_size(&self) -> Option<(u16, u16)> {
        match self.console_size.as_deref() {
            Some([rows, cols]) if *rows > 0 && *cols > 0 => Some((*rows, *cols)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// `--log-driver` and `--log-opt`: docker's HostConfig.LogConfig.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: BTreeMap<String, String>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            kind: "json-file".into(),
            config: BTreeMap::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ulimit {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Soft")]
    pub soft: i64,
    #[serde(rename = "Hard")]
    pub hard: i64,
}

/// `--mount` as given (HostConfig.Mounts).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MountConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmpfs_options: Option<TmpfsOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_options: Option<VolumeOptions>,
}

/// `--mount type=volume`'s volume-nocopy, volume-label, volume-driver and
/// volume-opt: how a missing volume is made, and whether it is filled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeOptions {
    #[serde(default)]
    pub no_copy: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_config: Option<DriverConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DriverConfig {
    pub name: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TmpfsOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

/// A mount as inspect's `Mounts` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub kind: String,
    /// A volume's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A volume's driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    pub source: String,
    pub destination: String,
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub data: BTreeMap<String, String>,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::RestartPolicy;

    #[test]
    fn restart_policies_parse_and_decide_as_docker() {
        assert_eq!(
            RestartPolicy::parse("on-failure:3")
                .unwrap()
                .maximum_retry_count,
            3
        );
        assert!(RestartPolicy::parse("always:2")
            .unwrap_err()
            .contains("cannot be used"));
        assert!(RestartPolicy::parse("sometimes")
            .unwrap_err()
            .contains("invalid restart policy"));
        assert!(RestartPolicy::parse("on-failure:x")
            .unwrap_err()
            .contains("integer"));
        let on_failure = RestartPolicy::parse("on-failure:2").unwrap();
        assert!(on_failure.restarts(1, 0) && on_failure.restarts(1, 1));
        assert!(!on_failure.restarts(1, 2) && !on_failure.restarts(0, 0));
        assert!(RestartPolicy::parse("always").unwrap().restarts(0, 100));
        assert!(!RestartPolicy::default().restarts(1, 0));
    }
}
