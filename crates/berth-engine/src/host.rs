//! What a container takes of the host beyond its image: devices (`--device`,
//! CDI devices, `--gpus`), its cgroup's limits, the namespaces it shares
//! (`--ipc`, `--pid`, `--uts`, `--cgroupns`), sysctls — each checked with
//! docker's rules at create, and turned into the runtime's terms at start.

use std::collections::BTreeMap;

use berth_runtime::cdi::{self, Applied, Registry};
use berth_runtime::nvidia::{self, Selection};
use berth_runtime::{Blkio, Join, Namespaces, Resources, Shm};

use crate::model::{Container, DeviceRequest, HostConfig};
use crate::{Engine, EngineError};

/// docker's default /dev/shm: 64 MiB.
const DEFAULT_SHM: u64 = 64 << 20;

/// What `--device`, `--device-cgroup-rule`, `--gpus` and CDI devices give a
/// container; and what was said about it (a GPU found without a CDI spec).
pub(crate) fn device_edits(h: &HostConfig) -> Result<(Applied, Vec<String>), EngineError> {
    let mut out = Applied::default();
    let mut said = Vec::new();
    for d in h.devices.iter().flatten() {
        let inside = if d.path_in_container.is_empty() {
            &d.path_on_host
        } else {
            &d.path_in_container
        };
        let perms = if d.cgroup_permissions.is_empty() {
            "rwm"
        } else {
            &d.cgroup_permissions
        };
        out.nodes.extend(
            berth_runtime::devices::nodes_of(&d.path_on_host, inside, perms)
                .map_err(EngineError::invalid)?,
        );
    }
    let requests = h.device_requests.as_deref().unwrap_or(&[]);
    if requests.is_empty() {
        return Ok((out, said));
    }
    // Read only when asked for: a run without devices reads no spec.
    let registry = Registry::load(&cdi::spec_dirs());
    for r in requests {
        let (applied, note) = request(&registry, r)?;
        said.extend(note);
        merge(&mut out, applied);
    }
    Ok((out, said))
}

/// One DeviceRequest: CDI names (driver `cdi`), or GPUs (`--gpus`).
fn request(
    registry: &Registry,
    r: &DeviceRequest,
) -> Result<(Applied, Option<String>), EngineError> {
    const KIND: &str = "nvidia.com/gpu";
    let ids = r.device_ids.clone().unwrap_or_default();
    if r.driver == "cdi" {
        // nvidia.com/gpu=... with no spec for them: the driver found here,
        // as the toolkit's generator would describe it.
        let (gpus, named): (Vec<String>, Vec<String>) = ids
            .into_iter()
            .partition(|n| n.starts_with(&format!("{KIND}=")) && !registry.has_kind(KIND));
        let mut applied = registry.resolve(&named).map_err(EngineError::invalid)?;
        if gpus.is_empty() {
            return Ok((applied, None));
        }
        let wanted: Vec<String> = gpus
            .iter()
            .map(|n| n[KIND.len() + 1..].to_string())
            .collect();
        let selection = if wanted.iter().any(|w| w == "all") {
            Selection::All
        } else {
            Selection::Ids(wanted)
        };
        return match nvidia::discover(&selection).map_err(EngineError::invalid)? {
            Some((found, said)) => {
                merge(&mut applied, found);
                Ok((applied, Some(said)))
            }
            None => Err(EngineError::invalid(format!(
                "unresolvable CDI devices {}: no CDI spec defines them and this host has no NVIDIA driver loaded",
                gpus.join(", ")
            ))),
        };
    }
    let wants_gpu = r
        .capabilities
        .iter()
        .flatten()
        .any(|set| set.iter().any(|c| c == "gpu"));
    if !(wants_gpu || r.driver == "nvidia") || !matches!(r.driver.as_str(), "" | "nvidia") {
        return Err(EngineError::invalid(format!(
            "could not select device driver {:?} with capabilities: {:?}",
            r.driver,
            r.capabilities.clone().unwrap_or_default()
        )));
    }
    let selection = if !ids.is_empty() {
        Selection::Ids(ids)
    } else if r.count < 0 {
        Selection::All
    } else {
        Selection::Count(r.count.max(1) as usize)
    };
    if registry.has_kind(KIND) {
        let names = gpu_names(registry, KIND, &selection)?;
        return Ok((
            registry.resolve(&names).map_err(EngineError::invalid)?,
            None,
        ));
    }
    match nvidia::discover(&selection).map_err(EngineError::invalid)? {
        Some((applied, said)) => Ok((applied, Some(said))),
        None => Err(EngineError::invalid(format!(
            "could not select device driver {:?} with capabilities: [[gpu]]: this host has no NVIDIA driver loaded and no CDI spec for {KIND}",
            r.driver
        ))),
    }
}

/// The CDI names of `kind` a GPU selection means.
fn gpu_names(registry: &Registry, kind: &str, s: &Selection) -> Result<Vec<String>, EngineError> {
    let all_name = format!("{kind}=all");
    let each: Vec<String> = registry
        .names()
        .into_iter()
        .filter(|n| n.starts_with(&format!("{kind}=")) && *n != all_name)
        .collect();
    Ok(match s {
        Selection::All if registry.has(&all_name) => vec![all_name],
        Selection::All => each,
        Selection::Count(n) => {
            if *n > each.len() {
                return Err(EngineError::invalid(format!(
                    "{n} GPUs asked for, the CDI specs name {}",
                    each.len()
                )));
            }
            each[..*n].to_vec()
        }
        Selection::Ids(ids) => ids.iter().map(|i| format!("{kind}={i}")).collect(),
    })
}

fn merge(into: &mut Applied, more: Applied) {
    for e in more.env {
        let key = e.split('=').next().unwrap_or("").to_string();
        into.env
            .retain(|x| x.split('=').next() != Some(key.as_str()));
        into.env.push(e);
    }
    for n in more.nodes {
        into.nodes.retain(|(x, _)| x.path != n.0.path);
        into.nodes.push(n);
    }
    into.mounts.extend(more.mounts);
    for (phase, hooks) in more.hooks {
        into.hooks.entry(phase).or_default().extend(hooks);
    }
    for g in more.gids {
        if !into.gids.contains(&g) {
            into.gids.push(g);
        }
    }
}

/// The cgroup limits of `h` in the runtime's terms.
pub(crate) fn resources(h: &HostConfig) -> Result<Resources, EngineError> {
    let numbers =
        |path: &str| berth_runtime::devices::block_numbers(path).map_err(EngineError::invalid);
    let rates = |list: &Option<Vec<crate::model::ThrottleDevice>>| {
        list.iter()
            .flatten()
            .map(|t| numbers(&t.path).map(|(a, b)| (a, b, t.rate)))
            .collect::<Result<Vec<_>, _>>()
    };
    let blkio = Blkio {
        weight: Some(h.blkio_weight).filter(|w| *w > 0),
        weight_devices: h
            .blkio_weight_device
            .iter()
            .flatten()
            .map(|w| numbers(&w.path).map(|(a, b)| (a, b, w.weight)))
            .collect::<Result<_, _>>()?,
        read_bps: rates(&h.blkio_device_read_bps)?,
        write_bps: rates(&h.blkio_device_write_bps)?,
        read_iops: rates(&h.blkio_device_read_iops)?,
        write_iops: rates(&h.blkio_device_write_iops)?,
    };
    Ok(Resources {
        memory: Some(h.memory).filter(|m| *m > 0),
        memory_swap: Some(h.memory_swap).filter(|m| *m != 0),
        nano_cpus: Some(h.nano_cpus).filter(|n| *n > 0),
        cpu_shares: Some(h.cpu_shares as u64).filter(|s| *s > 0),
        pids_limit: h.pids_limit,
        cpuset_cpus: Some(h.cpuset_cpus.clone()).filter(|s| !s.is_empty()),
        cpuset_mems: Some(h.cpuset_mems.clone()).filter(|s| !s.is_empty()),
        cpu_period: Some(h.cpu_period as u64).filter(|p| *p > 0),
        cpu_quota: Some(h.cpu_quota).filter(|q| *q > 0),
        cpu_rt_period: Some(h.cpu_realtime_period as u64).filter(|p| *p > 0),
        cpu_rt_runtime: Some(h.cpu_realtime_runtime).filter(|r| *r > 0),
        memory_reservation: Some(h.memory_reservation).filter(|r| *r > 0),
        memory_swappiness: h.memory_swappiness.filter(|s| *s >= 0).map(|s| s as u64),
        oom_kill_disable: h.oom_kill_disable == Some(true),
        blkio,
    })
}

/// Whether the kernel weighs block I/O (CFQ or BFQ), as docker checks.
fn blkio_weight_supported() -> bool {
    if berth_runtime::container::cgroup_v2() {
        return std::path::Path::new("/sys/fs/cgroup/io.weight").exists()
            || std::path::Path::new("/sys/fs/cgroup/io.bfq.weight").exists()
            || std::fs::read_to_string("/sys/fs/cgroup/cgroup.subtree_control")
                .is_ok_and(|s| s.contains("io"));
    }
    ["blkio.weight", "blkio.bfq.weight"].iter().any(|f| {
        std::path::Path::new("/sys/fs/cgroup/blkio")
            .join(f)
            .exists()
    })
}

/// Discards the limits this host's cgroups cannot enforce, with docker's
/// warning for each (as docker's daemon does at create and update).
pub(crate) fn fit(h: &mut HostConfig) -> Vec<String> {
    use berth_runtime::cgroups::available;
    let mut out = Vec::new();
    let v2 = berth_runtime::container::cgroup_v2();
    let mut discard = |on: bool, warning: &str, clear: &mut dyn FnMut()| {
        if on {
            out.push(warning.to_string());
            clear();
        }
    };
    if h.kernel_memory != 0 {
        discard(true, "Specifying a kernel memory limit is deprecated and will be removed in a future release.", &mut || {});
    }
    let memory = || available("memory");
    discard(h.memory > 0 && !memory(), "Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded.", &mut || {
        h.memory = 0;
        h.memory_swap = 0;
    });
    discard(h.memory_reservation > 0 && !memory(), "Your kernel does not support memory reservation capabilities or the cgroup is not mounted. Memory reservation discarded.", &mut || h.memory_reservation = 0);
    discard(
        h.oom_kill_disable == Some(true) && (v2 || !memory()),
        "Your kernel does not support OomKillDisable. OomKillDisable discarded.",
        &mut || h.oom_kill_disable = Some(false),
    );
    discard(h.oom_kill_disable == Some(true) && h.memory == 0, "Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous.", &mut || {});
    discard(h.memory_swappiness.is_some_and(|s| s >= 0) && (v2 || !memory()), "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.", &mut || h.memory_swappiness = None);
    let cpu = || available("cpu");
    discard(
        h.cpu_shares > 0 && !cpu(),
        "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.",
        &mut || h.cpu_shares = 0,
    );
    discard(
        (h.cpu_period > 0 || h.cpu_quota > 0) && !cpu(),
        "Your kernel does not support CPU CFS scheduler. CPU period/quota discarded.",
        &mut || {
            h.cpu_period = 0;
            h.cpu_quota = 0;
        },
    );
    discard(h.nano_cpus > 0 && !cpu(), "Your kernel does not support CPU CFS scheduler or the cgroup is not mounted. NanoCPUs discarded.", &mut || h.nano_cpus = 0);
    discard(
        (h.cpu_realtime_period > 0 || h.cpu_realtime_runtime > 0) && (v2 || !cpu()),
        "Your kernel does not support CPU real-time scheduler. Real-time period/runtime discarded.",
        &mut || {
            h.cpu_realtime_period = 0;
            h.cpu_realtime_runtime = 0;
        },
    );
    discard(
        (!h.cpuset_cpus.is_empty() || !h.cpuset_mems.is_empty()) && !available("cpuset"),
        "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded.",
        &mut || {
            h.cpuset_cpus.clear();
            h.cpuset_mems.clear();
        },
    );
    discard(h.pids_limit.is_some_and(|p| p > 0) && !available("pids"), "Your kernel does not support pids limit capabilities or the cgroup is not mounted. PIDs limit discarded.", &mut || h.pids_limit = None);
    let weighted = h.blkio_weight > 0
        || h.blkio_weight_device
            .as_ref()
            .is_some_and(|w| !w.is_empty());
    discard(weighted && !blkio_weight_supported(), "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.", &mut || {
        h.blkio_weight = 0;
        h.blkio_weight_device = None;
    });
    let throttled = [
        &h.blkio_device_read_bps,
        &h.blkio_device_write_bps,
        &h.blkio_device_read_iops,
        &h.blkio_device_write_iops,
    ]
    .iter()
    .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()));
    discard(throttled && !available("blkio"), "Your kernel does not support Block I/O throttling or the cgroup is not mounted. Throttling discarded.", &mut || {
        h.blkio_device_read_bps = None;
        h.blkio_device_write_bps = None;
        h.blkio_device_read_iops = None;
        h.blkio_device_write_iops = None;
    });
    out
}

/// docker's namespaced sysctls: IPC ones (not with `--ipc host`) and
/// network ones (not with `--network host`).
fn check_sysctl(key: &str, h: &HostConfig) -> Result<(), EngineError> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        if h.ipc_mode == "host" {
            return Err(EngineError::invalid(format!(
                "sysctl {key:?} is not allowed in host IPC namespace"
            )));
        }
        return Ok(());
    }
    if key.starts_with("net.") {
        if h.network_mode == "host" {
            return Err(EngineError::invalid(format!(
                "sysctl {key:?} is not allowed in host network namespace"
            )));
        }
        if h.network_mode.starts_with("container:") {
            return Err(EngineError::invalid(format!(
                "sysctl {key:?} is not allowed when joining another container's network namespace"
            )));
        }
        return Ok(());
    }
    Err(EngineError::invalid(format!(
        "sysctl {key:?} is not allowed: only namespaced ones are (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*)"
    )))
}

/// `0-2,4` within `available` (`0-1`): docker's check of `--cpuset-*`.
fn check_set(flag: &str, given: &str, available: &str) -> Result<(), EngineError> {
    let parse = |s: &str| -> Option<Vec<u32>> {
        let mut out = Vec::new();
        for part in s.trim().split(',').filter(|p| !p.is_empty()) {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                    if a > b {
                        return None;
                    }
                    out.extend(a..=b);
                }
                None => out.push(part.parse().ok()?),
            }
        }
        Some(out)
    };
    let wanted = parse(given).filter(|w| !w.is_empty()).ok_or_else(|| {
        EngineError::invalid(format!(
            "Invalid value {given} for cpuset {}: a list like 0-2,4",
            flag.trim_start_matches("--cpuset-")
        ))
    })?;
    let have = parse(available).unwrap_or_default();
    if !wanted.iter().all(|c| have.contains(c)) {
        let what = if flag.contains("mems") {
            "Memory nodes"
        } else {
            "CPUs"
        };
        return Err(EngineError::invalid(format!(
            "Requested {what} are not available - requested {given}, available: {}",
            available.trim()
        )));
    }
    Ok(())
}

/// Every host-resource field of `h`, checked with docker's rules and words.
pub(crate) fn check(h: &HostConfig) -> Result<(), EngineError> {
    for d in h.devices.iter().flatten() {
        let perms = if d.cgroup_permissions.is_empty() {
            "rwm"
        } else {
            &d.cgroup_permissions
        };
        if !d.path_in_container.is_empty() && !d.path_in_container.starts_with('/') {
            return Err(EngineError::invalid(format!(
                "invalid device path {:?} in the container: it must be absolute",
                d.path_in_container
            )));
        }
        berth_runtime::devices::nodes_of(&d.path_on_host, &d.path_on_host, perms)
            .map_err(EngineError::invalid)?;
    }
    for r in h.device_cgroup_rules.iter().flatten() {
        berth_runtime::devices::parse_rule(r).map_err(EngineError::invalid)?;
    }
    for r in h.device_requests.iter().flatten() {
        if r.driver == "cdi" {
            if let Some(bad) = r
                .device_ids
                .iter()
                .flatten()
                .find(|n| !cdi::is_qualified(n))
            {
                return Err(EngineError::invalid(format!(
                    "invalid CDI device name {bad:?}: vendor.com/class=name"
                )));
            }
        }
    }
    if h.blkio_weight != 0 && !(10..=1000).contains(&h.blkio_weight) {
        return Err(EngineError::invalid(
            "Range of blkio weight is from 10 to 1000",
        ));
    }
    for w in h.blkio_weight_device.iter().flatten() {
        if !(10..=1000).contains(&w.weight) {
            return Err(EngineError::invalid(format!(
                "invalid weight for device {}: range of blkio weight is from 10 to 1000",
                w.path
            )));
        }
    }
    for list in [
        &h.blkio_device_read_bps,
        &h.blkio_device_write_bps,
        &h.blkio_device_read_iops,
        &h.blkio_device_write_iops,
    ] {
        for t in list.iter().flatten() {
            berth_runtime::devices::block_numbers(&t.path).map_err(EngineError::invalid)?;
        }
    }
    if h.shm_size < 0 {
        return Err(EngineError::invalid("SHM size can not be less than 0"));
    }
    let ipc = h.ipc_mode.as_str();
    if !matches!(ipc, "" | "private" | "shareable" | "none" | "host")
        && !ipc.starts_with("container:")
    {
        return Err(EngineError::invalid(format!(
            "invalid IPC mode: {ipc}: use private, shareable, none, host or container:NAME"
        )));
    }
    let pid = h.pid_mode.as_str();
    if !matches!(pid, "" | "host") && !pid.starts_with("container:") {
        return Err(EngineError::invalid(format!(
            "invalid PID mode: {pid}: use host or container:NAME"
        )));
    }
    if !matches!(h.uts_mode.as_str(), "" | "host") && !h.uts_mode.starts_with("container:") {
        return Err(EngineError::invalid(format!(
            "invalid UTS mode: {}: use host or container:NAME",
            h.uts_mode
        )));
    }
    if !matches!(h.userns_mode.as_str(), "" | "host") {
        return Err(EngineError::invalid(format!(
            "invalid user namespace mode {:?}: berth has no user namespace remapping, so only host is taken",
            h.userns_mode
        )));
    }
    if !matches!(h.cgroupns_mode.as_str(), "" | "host" | "private") {
        return Err(EngineError::invalid(format!(
            "invalid cgroup namespace mode: {}: use host or private",
            h.cgroupns_mode
        )));
    }
    if !h.cgroup_parent.is_empty()
        && (h.cgroup_parent.split('/').any(|p| p == "..") || h.cgroup_parent.ends_with(".slice"))
    {
        return Err(EngineError::invalid(format!(
            "invalid cgroup parent {:?}: a cgroupfs path like /mygroup (berth drives cgroupfs, not systemd slices)",
            h.cgroup_parent
        )));
    }
    for key in h.sysctls.iter().flat_map(|s| s.keys()) {
        check_sysctl(key, h)?;
    }
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    if !h.cpuset_cpus.is_empty() {
        check_set("--cpuset-cpus", &h.cpuset_cpus, &online)?;
    }
    if !h.cpuset_mems.is_empty() {
        let nodes = std::fs::read_to_string("/sys/devices/system/node/online")
            .unwrap_or_else(|_| "0".into());
        check_set("--cpuset-mems", &h.cpuset_mems, &nodes)?;
    }
    if h.nano_cpus > 0 && h.cpu_period > 0 {
        return Err(EngineError::invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if h.nano_cpus > 0 && h.cpu_quota > 0 {
        return Err(EngineError::invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    if h.cpu_period != 0 && !(1000..=1_000_000).contains(&h.cpu_period) {
        return Err(EngineError::invalid(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ));
    }
    if h.cpu_quota > 0 && h.cpu_quota < 1000 {
        return Err(EngineError::invalid(
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ));
    }
    if h.cpu_realtime_period > 0 || h.cpu_realtime_runtime > 0 {
        let rt = std::path::Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists();
        if !rt || berth_runtime::container::cgroup_v2() {
            return Err(EngineError::invalid(
                "Your kernel does not support cgroup cpu real-time runtime",
            ));
        }
        // The kernel's default period is a second.
        let period = if h.cpu_realtime_period > 0 {
            h.cpu_realtime_period
        } else {
            1_000_000
        };
        if h.cpu_realtime_runtime > period {
            return Err(EngineError::invalid(
                "cpu-rt-runtime cannot be higher than cpu-rt-period",
            ));
        }
    }
    if h.memory_reservation < 0 {
        return Err(EngineError::invalid(
            "invalid memory reservation: it must not be negative",
        ));
    }
    if h.memory > 0 && h.memory_reservation > h.memory {
        return Err(EngineError::invalid(
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ));
    }
    if let Some(s) = h.memory_swappiness.filter(|s| *s != -1) {
        if !(0..=100).contains(&s) {
            return Err(EngineError::invalid(format!(
                "Invalid value: {s}, valid memory swappiness range is 0-100"
            )));
        }
    }
    if !(-1000..=1000).contains(&h.oom_score_adj) {
        return Err(EngineError::invalid(format!(
            "Invalid value {}, range for oom score adj is [-1000, 1000]",
            h.oom_score_adj
        )));
    }
    if !matches!(h.runtime.as_str(), "" | "runc" | "berth") {
        return Err(EngineError::invalid(format!(
            "unknown or invalid runtime name: {}",
            h.runtime
        )));
    }
    if !matches!(h.isolation.as_str(), "" | "default") {
        return Err(EngineError::invalid(format!(
            "Invalid isolation: {:?} - linux only supports 'default'",
            h.isolation
        )));
    }
    // No quota is set on a container's upper layer, so no size is taken.
    if let Some(key) = h.storage_opt.iter().flat_map(|s| s.keys()).next() {
        return Err(EngineError::invalid(match key.as_str() {
            "size" => "--storage-opt is supported only for overlay over xfs with 'pquota' mount option, and berth sets no quotas on a container's layer".to_string(),
            other => format!("unknown storage option: {other}"),
        }));
    }
    if !matches!(h.volume_driver.as_str(), "" | "local") {
        return Err(EngineError::invalid(format!(
            "error looking up volume plugin {}: berth has the local driver only",
            h.volume_driver
        )));
    }
    Ok(())
}

/// The sysctls `h` sets.
pub(crate) fn sysctls(h: &HostConfig) -> BTreeMap<String, String> {
    h.sysctls.clone().unwrap_or_default()
}

impl Engine {
    /// `--ipc` / `--pid` `container:NAME` name the other container by id.
    pub(crate) fn resolve_shared_namespaces(&self, h: &mut HostConfig) -> Result<(), EngineError> {
        for mode in [&mut h.ipc_mode, &mut h.pid_mode, &mut h.uts_mode] {
            if let Some(other) = mode.strip_prefix("container:") {
                let target = self.container(other)?;
                *mode = format!("container:{}", target.id);
            }
        }
        Ok(())
    }

    /// The namespaces and /dev/shm of `c` at its start: another
    /// container's must be running (and, for IPC, shareable).
    pub(crate) fn namespaces(&self, c: &Container) -> Result<(Namespaces, Shm), EngineError> {
        let h = &c.host_config;
        let running = |key: &str, what: &str| -> Result<Container, EngineError> {
            let other = self.container(key)?;
            if !other.state.running {
                return Err(EngineError::Conflict(format!(
                    "cannot join {what} of a non running container: {}",
                    other.short_name()
                )));
            }
            Ok(other)
        };
        let (ipc, shm) = match h.ipc_mode.as_str() {
            "host" => (Join::Host, Shm::Host),
            "none" => (Join::Own, Shm::Off),
            mode => match mode.strip_prefix("container:") {
                Some(key) => {
                    let other = running(key, "IPC")?;
                    if other.host_config.ipc_mode != "shareable" {
                        return Err(EngineError::invalid(format!(
                            "non-shareable IPC (hint: use IpcMode:shareable for the donor container {})",
                            other.short_name()
                        )));
                    }
                    let pid = other.state.pid;
                    (
                        Join::Path(format!("/proc/{pid}/ns/ipc").into()),
                        Shm::Bind(format!("/proc/{pid}/root/dev/shm").into()),
                    )
                }
                None => (
                    Join::Own,
                    Shm::Size(if h.shm_size > 0 {
                        h.shm_size as u64
                    } else {
                        DEFAULT_SHM
                    }),
                ),
            },
        };
        let pid = match h.pid_mode.as_str() {
            "host" => Join::Host,
            mode => match mode.strip_prefix("container:") {
                Some(key) => Join::Path(
                    format!("/proc/{}/ns/pid", running(key, "PID namespace")?.state.pid).into(),
                ),
                None => Join::Own,
            },
        };
        let uts = match h.uts_mode.as_str() {
            "host" => Join::Host,
            mode => match mode.strip_prefix("container:") {
                Some(key) => Join::Path(
                    format!("/proc/{}/ns/uts", running(key, "UTS namespace")?.state.pid).into(),
                ),
                None => Join::Own,
            },
        };
        let v2 = berth_runtime::container::cgroup_v2();
        let cgroup = match h.cgroupns_mode.as_str() {
            "private" => true,
            "host" => false,
            // docker's defaults: private on cgroup v2, the host's on v1.
            _ => v2,
        };
        Ok((
            Namespaces {
                ipc,
                pid,
                uts,
                cgroup,
            },
            shm,
        ))
    }
}

/// binfmt_misc's name for an image architecture's emulator (`qemu-aarch64`).
fn emulator_name(arch: &str) -> &str {
    match arch {
        "arm64" => "aarch64",
        "ppc64le" => "ppc64le",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "arm" => "arm",
        "mips64le" => "mips64el",
        other => other,
    }
}

impl Engine {
    /// An image for another architecture runs where the kernel can run it:
    /// natively (386 on amd64, arm on arm64), or through an emulator
    /// registered with binfmt_misc; else docker's exec format error.
    pub(crate) fn check_platform_runs(&self, c: &Container) -> Result<(), EngineError> {
        #[derive(serde::Deserialize)]
        struct Platform {
            #[serde(default)]
            architecture: String,
            #[serde(default)]
            os: String,
        }
        // On every start: the two fields alone, not the whole config.
        let config: Platform = self.image_config_as(&self.container_image(c)?)?;
        let host = berth_image::spec::host_platform();
        let arch = config.architecture.as_str();
        let native = arch.is_empty()
            || arch == host.architecture
            || (host.architecture == "amd64" && arch == "386")
            || (host.architecture == "arm64" && arch == "arm");
        if native {
            return Ok(());
        }
        let handler = std::path::Path::new("/proc/sys/fs/binfmt_misc")
            .join(format!("qemu-{}", emulator_name(arch)));
        let enabled =
            std::fs::read_to_string(&handler).is_ok_and(|s| s.lines().next() == Some("enabled"));
        if enabled {
            return Ok(());
        }
        Err(EngineError::CommandNotInvokable(format!(
            "exec format error: the image is for {}/{arch} and this host ({}/{}) runs it only with an emulator registered in binfmt_misc (qemu-user-static), and none is",
            config.os, host.os, host.architecture
        )))
    }

    /// `--link NAME[:ALIAS]`, docker's legacy links: the alias in /etc/hosts
    /// and the linked container's ports and env as `ALIAS_...` variables.
    pub(crate) fn link_env(&self, c: &Container) -> Result<Vec<String>, EngineError> {
        let mut env = Vec::new();
        let mut hosts = String::new();
        for l in c.host_config.links.iter().flatten() {
            let (name, alias) = l.split_once(':').unwrap_or((l, l));
            let (name, alias) = (
                name.trim_start_matches('/'),
                alias.rsplit('/').next().unwrap_or(alias),
            );
            let target = self.container(name)?;
            if !target.state.running {
                return Err(EngineError::Conflict(format!(
                    "Cannot link to a non running container: {} AS {alias}",
                    target.name
                )));
            }
            let ip = crate::networks::endpoints(&target)
                .values()
                .map(|e| e.ip_address.clone())
                .find(|ip| !ip.is_empty())
                .unwrap_or_default();
            hosts.push_str(&format!(
                "{ip}\t{alias} {} {}\n",
                target.config.hostname,
                target.short_name()
            ));
            let prefix = alias.to_ascii_uppercase().replace(['-', '.'], "_");
            env.push(format!("{prefix}_NAME={}/{alias}", c.name));
            let mut ports: Vec<(u16, String)> = target
                .config
                .exposed_ports
                .iter()
                .flat_map(|p| p.keys())
                .filter_map(|k| {
                    let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
                    Some((port.parse().ok()?, proto.to_string()))
                })
                .collect();
            ports.sort();
            if let Some((port, proto)) = ports.first() {
                env.push(format!("{prefix}_PORT={proto}://{ip}:{port}"));
            }
            for (port, proto) in &ports {
                let p = format!("{prefix}_PORT_{port}_{}", proto.to_ascii_uppercase());
                env.push(format!("{p}={proto}://{ip}:{port}"));
                env.push(format!("{p}_ADDR={ip}"));
                env.push(format!("{p}_PORT={port}"));
                env.push(format!("{p}_PROTO={proto}"));
            }
            for e in &target.config.env {
                let key = e.split('=').next().unwrap_or("");
                if !matches!(key, "HOME" | "HOSTNAME" | "PATH") {
                    env.push(format!("{prefix}_ENV_{e}"));
                }
            }
        }
        if !hosts.is_empty() {
            // Once each, however often the container starts.
            let path = std::path::Path::new(&c.hosts_path);
            let old = std::fs::read_to_string(path).unwrap_or_default();
            let mut text: String = old
                .lines()
                .filter(|l| {
                    !hosts
                        .lines()
                        .any(|h| h.split('\t').nth(1) == l.split('\t').nth(1))
                })
                .map(|l| format!("{l}\n"))
                .collect();
            text.push_str(&hosts);
            std::fs::write(path, text).map_err(|e| EngineError::io(path, e))?;
        }
        Ok(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctls_follow_dockers_namespaced_rule() {
        let h = HostConfig::default();
        assert!(check_sysctl("net.ipv4.ip_forward", &h).is_ok());
        assert!(check_sysctl("kernel.shmmax", &h).is_ok());
        assert!(check_sysctl("fs.mqueue.msg_max", &h).is_ok());
        assert!(check_sysctl("kernel.hostname", &h).is_err());
        assert!(check_sysctl("vm.swappiness", &h).is_err());
        let host_net = HostConfig {
            network_mode: "host".into(),
            ..Default::default()
        };
        assert!(check_sysctl("net.ipv4.ip_forward", &host_net)
            .unwrap_err()
            .to_string()
            .contains("host network namespace"));
    }

    #[test]
    fn cpu_sets_are_checked_against_the_host() {
        assert!(check_set("--cpuset-cpus", "0", "0-1").is_ok());
        assert!(check_set("--cpuset-cpus", "0-1", "0-1").is_ok());
        let e = check_set("--cpuset-cpus", "0-7", "0-1\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "Requested CPUs are not available - requested 0-7, available: 0-1"
        );
        assert!(check_set("--cpuset-cpus", "2-1", "0-3").is_err());
        assert!(check_set("--cpuset-cpus", "x", "0-3").is_err());
    }

    #[test]
    fn modes_and_ranges() {
        let bad = |h: HostConfig| check(&h).is_err();
        assert!(bad(HostConfig {
            ipc_mode: "sometimes".into(),
            ..Default::default()
        }));
        assert!(bad(HostConfig {
            pid_mode: "private".into(),
            ..Default::default()
        }));
        assert!(bad(HostConfig {
            userns_mode: "remap".into(),
            ..Default::default()
        }));
        assert!(bad(HostConfig {
            oom_score_adj: 2000,
            ..Default::default()
        }));
        assert!(bad(HostConfig {
            memory_swappiness: Some(101),
            ..Default::default()
        }));
        assert!(bad(HostConfig {
            blkio_weight: 5,
            ..Default::default()
        }));
        assert!(bad(HostConfig {
            runtime: "kata".into(),
            ..Default::default()
        }));
        assert!(bad(HostConfig {
            nano_cpus: 1_000_000_000,
            cpu_period: 100_000,
            ..Default::default()
        }));
        assert!(!bad(HostConfig {
            memory_swappiness: Some(-1),
            ..Default::default()
        }));
        assert!(!bad(HostConfig {
            ipc_mode: "shareable".into(),
            shm_size: 1 << 20,
            ..Default::default()
        }));
    }
}
