//! The OCI runtime spec for one container, with docker's defaults: mounts,
//! masked and read-only paths, device rules, namespaces, capabilities,
//! seccomp, resources and rlimits.

use std::collections::BTreeSet;
use std::path::PathBuf;

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};

/// What the engine decided about a container; everything the runtime needs.
#[derive(Clone, Debug, Default)]
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
    pub domainname: String,
    /// `--device`s and CDI device nodes, made in the container's /dev.
    pub devices: Vec<DeviceNode>,
    /// Device cgroup rules beyond docker's defaults (`--device-cgroup-rule`,
    /// and an allow rule for each device above).
    pub device_rules: Vec<DeviceRule>,
    pub namespaces: Namespaces,
    pub shm: Shm,
    pub sysctls: std::collections::BTreeMap<String, String>,
    pub oom_score_adj: Option<i32>,
    /// OCI hooks (CDI's), by phase: `createRuntime`, `createContainer`,
    /// `startContainer`, `poststart`, `poststop`, `prestart`.
    pub hooks: std::collections::BTreeMap<String, Vec<Hook>>,
}

/// A device node in the container.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceNode {
    pub path: String,
    /// `c` or `b`.
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    pub file_mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// A device cgroup rule: `kind` None is every type (`a`), a missing
/// major or minor every number (`*`).
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceRule {
    pub allow: bool,
    pub kind: Option<char>,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub access: String,
}

/// An OCI hook: a program the runtime runs at a phase of the container's start.
#[derive(Clone, Debug, PartialEq)]
pub struct Hook {
    pub path: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<u64>,
}

/// Where a namespace comes from.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Join {
    /// One of the container's own.
    #[default]
    Own,
    /// The host's: no namespace.
    Host,
    /// Another process's (`container:NAME`): `/proc/PID/ns/...`.
    Path(PathBuf),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Namespaces {
    pub ipc: Join,
    pub pid: Join,
    /// `--uts host`, or another container's (a pod's).
    pub uts: Join,
    /// A cgroup namespace of its own (`--cgroupns private`).
    pub cgroup: bool,
}

/// The container's /dev/shm.
#[derive(Clone, Debug, PartialEq)]
pub enum Shm {
    /// A tmpfs of this many bytes (docker's default: 64 MiB).
    Size(u64),
    /// None at all (`--ipc none`).
    Off,
    /// Another container's, bind-mounted (`--ipc container:NAME`).
    Bind(PathBuf),
    /// The host's own /dev/shm (`--ipc host`).
    Host,
}

impl Default for Shm {
    fn default() -> Self {
        Shm::Size(64 << 20)
    }
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
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// `--cpu-period` and `--cpu-quota`, in microseconds (not with `--cpus`).
    pub cpu_period: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_rt_period: Option<u64>,
    pub cpu_rt_runtime: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub memory_swappiness: Option<u64>,
    pub oom_kill_disable: bool,
    pub blkio: Blkio,
}

/// Block I/O weights and throttles, by device number.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Blkio {
    pub weight: Option<u16>,
    pub weight_devices: Vec<(i64, i64, u16)>,
    pub read_bps: Vec<(i64, i64, u64)>,
    pub write_bps: Vec<(i64, i64, u64)>,
    pub read_iops: Vec<(i64, i64, u64)>,
    pub write_iops: Vec<(i64, i64, u64)>,
}

impl Blkio {
    pub fn is_empty(&self) -> bool {
        *self == Blkio::default()
    }
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
    ];
    match &spec.shm {
        Shm::Size(bytes) => mounts.push(json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", format!("size={}k", bytes.div_ceil(1024))]})),
        Shm::Bind(source) => mounts.push(json!({"destination": "/dev/shm", "type": "bind", "source": source, "options": ["rbind", "rprivate"]})),
        Shm::Host => mounts.push(json!({"destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": ["rbind", "rprivate"]})),
        Shm::Off => {}
    }
    mounts.extend(crate::cgroups::view(spec));
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
fn device_rules(privileged: bool, extra: &[DeviceRule]) -> Value {
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
    for r in extra {
        let mut rule = json!({"allow": r.allow, "access": r.access});
        if let Some(k) = r.kind {
            rule["type"] = json!(k.to_string());
        }
        if let Some(m) = r.major {
            rule["major"] = json!(m);
        }
        if let Some(m) = r.minor {
            rule["minor"] = json!(m);
        }
        rules.push(rule);
    }
    Value::Array(rules)
}

fn resources(spec: &ContainerSpec) -> Value {
    let mut out = limits(&spec.resources);
    out["devices"] = device_rules(spec.privileged, &spec.device_rules);
    out
}

/// The limits of `r` as the runtime spec's `linux.resources` (no devices),
/// for `update` of a running container's cgroup.
pub fn linux_resources(r: &Resources) -> oci_spec::runtime::LinuxResources {
    serde_json::from_value(limits(r)).expect("the spec's own resources parse")
}

fn limits(r: &Resources) -> Value {
    let mut out = json!({});
    let mut memory = serde_json::Map::new();
    let put = |map: &mut serde_json::Map<String, Value>, k: &str, v: Option<Value>| {
        if let Some(v) = v {
            map.insert(k.into(), v);
        }
    };
    put(&mut memory, "limit", r.memory.map(|m| json!(m)));
    put(&mut memory, "swap", r.memory_swap.map(|m| json!(m)));
    put(
        &mut memory,
        "reservation",
        r.memory_reservation.map(|m| json!(m)),
    );
    put(
        &mut memory,
        "swappiness",
        r.memory_swappiness.map(|m| json!(m)),
    );
    put(
        &mut memory,
        "disableOOMKiller",
        r.oom_kill_disable.then(|| json!(true)),
    );
    if !memory.is_empty() {
        out["memory"] = Value::Object(memory);
    }
    let mut cpu = serde_json::Map::new();
    put(&mut cpu, "shares", r.cpu_shares.map(|m| json!(m)));
    if let Some(nano) = r.nano_cpus {
        cpu.insert("period".into(), json!(CPU_PERIOD));
        cpu.insert(
            "quota".into(),
            json!(nano * CPU_PERIOD as i64 / 1_000_000_000),
        );
    }
    put(&mut cpu, "period", r.cpu_period.map(|m| json!(m)));
    put(&mut cpu, "quota", r.cpu_quota.map(|m| json!(m)));
    put(
        &mut cpu,
        "realtimePeriod",
        r.cpu_rt_period.map(|m| json!(m)),
    );
    put(
        &mut cpu,
        "realtimeRuntime",
        r.cpu_rt_runtime.map(|m| json!(m)),
    );
    put(&mut cpu, "cpus", r.cpuset_cpus.clone().map(Value::from));
    put(&mut cpu, "mems", r.cpuset_mems.clone().map(Value::from));
    if !cpu.is_empty() {
        out["cpu"] = Value::Object(cpu);
    }
    if let Some(p) = r.pids_limit {
        out["pids"] = json!({"limit": p});
    }
    if !r.blkio.is_empty() {
        let b = &r.blkio;
        let rates = |list: &[(i64, i64, u64)]| {
            list.iter()
                .map(|(major, minor, rate)| json!({"major": major, "minor": minor, "rate": rate}))
                .collect::<Vec<_>>()
        };
        let mut io = json!({
            "weightDevice": b.weight_devices.iter().map(|(major, minor, w)| json!({"major": major, "minor": minor, "weight": w})).collect::<Vec<_>>(),
            "throttleReadBpsDevice": rates(&b.read_bps),
            "throttleWriteBpsDevice": rates(&b.write_bps),
            "throttleReadIOPSDevice": rates(&b.read_iops),
            "throttleWriteIOPSDevice": rates(&b.write_iops),
        });
        if let Some(w) = b.weight {
            io["weight"] = json!(w);
        }
        out["blockIO"] = io;
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
    let mut namespaces = vec![json!({"type": "mount"})];
    for (kind, join) in [
        ("pid", &spec.namespaces.pid),
        ("ipc", &spec.namespaces.ipc),
        ("uts", &spec.namespaces.uts),
    ] {
        match join {
            Join::Own => namespaces.push(json!({"type": kind})),
            Join::Path(p) => namespaces.push(json!({"type": kind, "path": p})),
            Join::Host => {}
        }
    }
    if let Some(path) = &spec.netns {
        namespaces.push(json!({"type": "network", "path": path}));
    }
    if spec.namespaces.cgroup {
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
    if let Some(adj) = spec.oom_score_adj {
        process["oomScoreAdj"] = json!(adj);
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "resources": resources(spec),
        "cgroupsPath": spec.cgroups_path,
    });
    let mut devices: Vec<Value> = spec
        .devices
        .iter()
        .map(|d| {
            json!({
                "path": d.path, "type": d.kind.to_string(), "major": d.major, "minor": d.minor,
                "fileMode": d.file_mode, "uid": d.uid, "gid": d.gid,
            })
        })
        .collect();
    if !spec.sysctls.is_empty() {
        linux["sysctl"] = json!(spec.sysctls);
    }
    if spec.privileged {
        devices.extend(host_devices());
    } else {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
    }
    if !devices.is_empty() {
        linux["devices"] = Value::Array(devices);
    }
    if let Some(seccomp) = &spec.seccomp {
        linux["seccomp"] = serde_json::to_value(seccomp).expect("seccomp serialises");
    }
    let mut out = json!({
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": spec.rootfs, "readonly": spec.read_only},
        "mounts": mounts,
        "linux": linux,
    });
    // Names are set in a UTS namespace of the container's own only.
    if spec.namespaces.uts == Join::Own {
        out["hostname"] = json!(spec.hostname);
        if !spec.domainname.is_empty() {
            out["domainname"] = json!(spec.domainname);
        }
    }
    if !spec.hooks.is_empty() {
        let hooks: serde_json::Map<String, Value> = spec
            .hooks
            .iter()
            .map(|(phase, list)| {
                let list: Vec<Value> = list
                    .iter()
                    .map(|h| {
                        let mut v = json!({"path": h.path, "args": h.args, "env": h.env});
                        if let Some(t) = h.timeout {
                            v["timeout"] = json!(t);
                        }
                        v
                    })
                    .collect();
                (phase.clone(), Value::Array(list))
            })
            .collect();
        out["hooks"] = Value::Object(hooks);
    }
    out
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
                ..Default::default()
            },
            rlimits: vec![Rlimit {
                kind: "RLIMIT_NOFILE".into(),
                soft: 1024,
                hard: 1024,
            }],
            cgroups_path: "/berth/abc".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_cgroup_view_on_v1_and_v2() {
        let mut s = sample();
        s.cgroup_v2 = true;
        s.namespaces.cgroup = true;
        let v = oci_spec(&s);
        let mounts = v["mounts"].as_array().unwrap();
        let cgroup: Vec<&Value> = mounts
            .iter()
            .filter(|m| {
                m["destination"]
                    .as_str()
                    .unwrap()
                    .starts_with("/sys/fs/cgroup")
            })
            .collect();
        assert_eq!(cgroup.len(), 1, "v2: one cgroup2 mount: {cgroup:?}");
        assert_eq!(cgroup[0]["type"], "cgroup");
        assert_eq!(cgroup[0]["options"][0], "ro");
        assert!(v["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .contains(&json!({"type": "cgroup"})));
        s.cgroup_v2 = false;
        s.namespaces.cgroup = false;
        let v = oci_spec(&s);
        let view: Vec<&Value> = v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| {
                m["destination"]
                    .as_str()
                    .unwrap()
                    .starts_with("/sys/fs/cgroup")
            })
            .collect();
        assert_eq!(
            view[0]["type"], "tmpfs",
            "v1: a tmpfs, then the hierarchies"
        );
        for m in &view[1..] {
            let dest = m["destination"].as_str().unwrap();
            let hierarchy = dest.trim_start_matches("/sys/fs/cgroup/");
            assert_eq!(
                m["source"],
                json!(format!("/sys/fs/cgroup/{hierarchy}/berth/abc"))
            );
            assert!(m["options"].as_array().unwrap().contains(&json!("ro")));
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
