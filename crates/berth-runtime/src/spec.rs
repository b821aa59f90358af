//! The OCI runtime spec for one container, with docker's defaults: mounts,
//! masked and read-only paths, device rules, namespaces, capabilities,
//! seccomp, resources and rlimits.

use std::collections::BTreeSet;
use std::path::PathBuf;

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};

/// What the engine decided about a container; everything the runtime needs.
#[derive(Clone, Debug)]
pub struct ContainerSpec {
    pub id: String,
    pub rootfs: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub hostname: String,
    pub terminal: bool,
    pub read_only: bool,
    pub mounts: Vec<MountSpec>,
    /// The network namespace to join (`None` shares the host's).
    pub netns: Option<PathBuf>,
    pub privileged: bool,
    pub capabilities: BTreeSet<String>,
    pub seccomp: Option<LinuxSeccomp>,
    pub no_new_privileges: bool,
    pub resources: Resources,
    pub rlimits: Vec<Rlimit>,
    /// The cgroup path relative to each hierarchy's root (`/berth/<id>`).
    pub cgroups_path: String,
    pub cgroup_v2: bool,
    /// `--init`: a built-in init as pid 1 (see `executor::run_as_init`).
    pub init: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MountSpec {
    Bind {
        source: PathBuf,
        destination: String,
        read_only: bool,
    },
    Tmpfs {
        destination: String,
        options: Vec<String>,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resources {
    pub memory: Option<i64>,
    /// Memory plus swap; -1 for unlimited swap.
    pub memory_swap: Option<i64>,
    /// CPU quota in nano-CPUs (`--cpus 1.5` is 1_500_000_000).
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub pids_limit: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rlimit {
    /// `RLIMIT_NOFILE` and friends.
    pub kind: String,
    pub soft: u64,
    pub hard: u64,
}

/// Paths docker hides from containers (bind-mounted over with /dev/null or an empty tmpfs).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths docker makes read-only.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

const CPU_PERIOD: u64 = 100_000;

fn default_mounts(spec: &ContainerSpec) -> Vec<Value> {
    let sys_opts = if spec.privileged {
        json!(["nosuid", "noexec", "nodev"])
    } else {
        json!(["nosuid", "noexec", "nodev", "ro"])
    };
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
    ];
    if spec.cgroup_v2 {
        mounts.push(json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]}));
    }
    mounts
}

fn user_mount(m: &MountSpec) -> Value {
    match m {
        MountSpec::Bind {
            source,
            destination,
            read_only,
        } => {
            let mut opts = vec!["rbind", "rprivate"];
            if *read_only {
                opts.push("ro");
            }
            json!({"destination": destination, "type": "bind", "source": source, "options": opts})
        }
        MountSpec::Tmpfs {
            destination,
            options,
        } => {
            let mut opts: Vec<String> = vec!["nosuid".into(), "nodev".into(), "noexec".into()];
            opts.extend(options.iter().cloned());
            json!({"destination": destination, "type": "tmpfs", "source": "tmpfs", "options": opts})
        }
    }
}

/// docker's device cgroup rules: deny everything, then allow mknod of any
/// device and use of the standard ones (null, zero, full, random, urandom,
/// tty, console, ptmx, pts, tun).
fn device_rules(privileged: bool) -> Value {
    if privileged {
        return json!([{"allow": true, "access": "rwm"}]);
    }
    let mut rules = vec![
        json!({"allow": false, "access": "rwm"}),
        json!({"allow": true, "type": "c", "access": "m"}),
        json!({"allow": true, "type": "b", "access": "m"}),
    ];
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
        (10, 200),
    ] {
        rules.push(
            json!({"allow": true, "type": "c", "major": major, "minor": minor, "access": "rwm"}),
        );
    }
    rules.push(json!({"allow": true, "type": "c", "major": 136, "access": "rwm"}));
    Value::Array(rules)
}

fn resources(spec: &ContainerSpec) -> Value {
    let r = &spec.resources;
    let mut out = json!({"devices": device_rules(spec.privileged)});
    let mut memory = serde_json::Map::new();
    if let Some(m) = r.memory {
        memory.insert("limit".into(), json!(m));
    }
    if let Some(s) = r.memory_swap {
        memory.insert("swap".into(), json!(s));
    }
    if !memory.is_empty() {
        out["memory"] = Value::Object(memory);
    }
    let mut cpu = serde_json::Map::new();
    if let Some(shares) = r.cpu_shares {
        cpu.insert("shares".into(), json!(shares));
    }
    if let Some(nano) = r.nano_cpus {
        cpu.insert("period".into(), json!(CPU_PERIOD));
        cpu.insert(
            "quota".into(),
            json!(nano * CPU_PERIOD as i64 / 1_000_000_000),
        );
    }
    if !cpu.is_empty() {
        out["cpu"] = Value::Object(cpu);
    }
    if let Some(p) = r.pids_limit {
        out["pids"] = json!({"limit": p});
    }
    out
}

/// Devices the runtime always creates itself (docker's default set).
const DEFAULT_DEVICES: &[&str] = &[
    "null", "zero", "full", "random", "urandom", "tty", "console", "ptmx",
];

/// Every character and block device of the host, for `--privileged` (as docker
/// does), except those the runtime creates itself and the per-container pseudo
/// filesystems (pts, shm, mqueue).
pub fn host_devices() -> Vec<Value> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut out = Vec::new();
    let mut dirs = vec![PathBuf::from("/dev")];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let name = e.file_name().to_string_lossy().into_owned();
            let kind = meta.file_type();
            if kind.is_dir() {
                if !matches!(name.as_str(), "pts" | "shm" | "mqueue" | "fd") {
                    dirs.push(path);
                }
                continue;
            }
            let t = if kind.is_char_device() {
                "c"
            } else if kind.is_block_device() {
                "b"
            } else {
                continue;
            };
            if dir.as_os_str() == "/dev" && DEFAULT_DEVICES.contains(&name.as_str()) {
                continue;
            }
            let rdev = meta.rdev();
            out.push(json!({
                "path": path, "type": t,
                "major": libc::major(rdev), "minor": libc::minor(rdev),
                "fileMode": meta.mode() & 0o777, "uid": meta.uid(), "gid": meta.gid(),
            }));
        }
    }
    out
}

/// The OCI runtime spec (config.json) for `spec`.
pub fn oci_spec(spec: &ContainerSpec) -> Value {
    let caps: Vec<&String> = spec.capabilities.iter().collect();
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if let Some(path) = &spec.netns {
        namespaces.push(json!({"type": "network", "path": path}));
    }
    if spec.cgroup_v2 {
        namespaces.push(json!({"type": "cgroup"}));
    }
    let mut mounts = default_mounts(spec);
    mounts.extend(spec.mounts.iter().map(user_mount));
    let mut process = json!({
        "terminal": spec.terminal,
        "user": {"uid": spec.uid, "gid": spec.gid, "additionalGids": spec.additional_gids},
        "args": spec.args,
        "env": spec.env,
        "cwd": spec.cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": spec.rlimits.iter().map(|r| json!({"type": r.kind, "soft": r.soft, "hard": r.hard})).collect::<Vec<_>>(),
    });
    if spec.no_new_privileges {
        process["noNewPrivileges"] = json!(true);
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "resources": resources(spec),
        "cgroupsPath": spec.cgroups_path,
    });
    if spec.privileged {
        linux["devices"] = Value::Array(host_devices());
    } else {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
    }
    if let Some(seccomp) = &spec.seccomp {
        linux["seccomp"] = serde_json::to_value(seccomp).expect("seccomp serialises");
    }
    json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": spec.rootfs, "readonly": spec.read_only},
        "hostname": spec.hostname,
        "mounts": mounts,
        "linux": linux,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ContainerSpec {
        ContainerSpec {
            id: "abc".into(),
            rootfs: "/tmp/rootfs".into(),
            args: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            additional_gids: vec![],
            hostname: "abc".into(),
            terminal: false,
            read_only: true,
            mounts: vec![MountSpec::Bind {
                source: "/data".into(),
                destination: "/data".into(),
                read_only: true,
            }],
            netns: Some("/run/netns/x".into()),
            privileged: false,
            capabilities: crate::caps::effective(&[], &[], false).unwrap(),
            seccomp: Some(
                crate::seccomp::to_oci(&crate::seccomp::default_profile(), &Default::default())
                    .unwrap(),
            ),
            no_new_privileges: true,
            resources: Resources {
                memory: Some(1 << 26),
                memory_swap: Some(1 << 27),
                nano_cpus: Some(1_500_000_000),
                cpu_shares: Some(512),
                pids_limit: Some(10),
            },
            rlimits: vec![Rlimit {
                kind: "RLIMIT_NOFILE".into(),
                soft: 1024,
                hard: 1024,
            }],
            cgroups_path: "/berth/abc".into(),
            cgroup_v2: false,
            init: false,
        }
    }

    #[test]
    fn spec_is_valid_oci_with_docker_defaults() {
        let v = oci_spec(&sample());
        let parsed: oci_spec::runtime::Spec =
            serde_json::from_value(v.clone()).expect("valid OCI spec");
        let linux = parsed.linux().as_ref().unwrap();
        assert_eq!(
            linux.masked_paths().as_ref().unwrap().len(),
            MASKED_PATHS.len()
        );
        let cpu = linux.resources().as_ref().unwrap().cpu().as_ref().unwrap();
        assert_eq!(cpu.quota(), Some(150_000));
        assert_eq!(
            v["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        assert_eq!(v["root"]["readonly"], json!(true));
        assert!(v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["destination"] == "/data" && m["options"][2] == "ro"));
        assert_eq!(v["process"]["noNewPrivileges"], json!(true));
    }

    #[test]
    fn privileged_drops_masks_and_device_rules() {
        let mut s = sample();
        s.privileged = true;
        let v = oci_spec(&s);
        assert!(v["linux"].get("maskedPaths").is_none());
        assert_eq!(
            v["linux"]["resources"]["devices"],
            json!([{"allow": true, "access": "rwm"}])
        );
    }
}
