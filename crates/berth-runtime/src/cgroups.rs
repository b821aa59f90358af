//! The container's view of its own cgroup, as docker gives it: on cgroup v1
//! its own directory of each controller bind-mounted read-only at
//! `/sys/fs/cgroup/<controller>` over a tmpfs (so its limits are at the root
//! of each, where the JVM, Go's automaxprocs and friends look); on v2 a
//! cgroup2 mount, the container's own with a cgroup namespace.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::spec::ContainerSpec;

/// The controllers libcontainer puts a container's processes in (on v1).
const JOINED: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "hugetlb",
    "memory",
    "pids",
    "perf_event",
    "blkio",
    "net_prio",
    "net_cls",
    "freezer",
];

const ROOT: &str = "/sys/fs/cgroup";

/// The v1 hierarchies mounted under /sys/fs/cgroup that a container joins,
/// by their directory (`memory`, or `cpu,cpuacct` where comounted).
fn joined_hierarchies() -> &'static [String] {
    static DIRS: OnceLock<Vec<String>> = OnceLock::new();
    DIRS.get_or_init(|| {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut out: Vec<String> = info.lines().filter_map(hierarchy_of).collect();
        out.sort();
        out.dedup();
        out
    })
}

/// A mountinfo line's v1 hierarchy directory, when it is a cgroup mount
/// under /sys/fs/cgroup of a controller a container joins.
fn hierarchy_of(line: &str) -> Option<String> {
    let (head, tail) = line.split_once(" - ")?;
    let mut tail = tail.split_whitespace();
    if tail.next()? != "cgroup" {
        return None;
    }
    let _source = tail.next()?;
    let options = tail.next().unwrap_or("");
    let dir = head
        .split_whitespace()
        .nth(4)?
        .strip_prefix("/sys/fs/cgroup/")?;
    if dir.contains('/') {
        return None;
    }
    options
        .split(',')
        .any(|o| JOINED.contains(&o))
        .then(|| dir.to_string())
}

/// Whether containers here can be limited by `controller` (v1's names:
/// `memory`, `cpu`, `cpuset`, `pids`, `blkio`): in v2's root
/// `cgroup.controllers` (as `io` for blkio), or a mounted v1 hierarchy.
pub fn available(controller: &str) -> bool {
    static V1: OnceLock<Vec<String>> = OnceLock::new();
    if crate::container::cgroup_v2() {
        let name = if controller == "blkio" {
            "io"
        } else {
            controller
        };
        return std::fs::read_to_string(Path::new(ROOT).join("cgroup.controllers"))
            .is_ok_and(|s| s.split_whitespace().any(|c| c == name));
    }
    V1.get_or_init(|| {
        joined_hierarchies()
            .iter()
            .flat_map(|d| d.split(','))
            .map(String::from)
            .collect()
    })
    .iter()
    .any(|c| c == controller)
}

/// The mounts that give the container its cgroup view.
pub fn view(spec: &ContainerSpec) -> Vec<Value> {
    let access = if spec.privileged { "rw" } else { "ro" };
    if spec.cgroup_v2 {
        return vec![json!({
            "destination": ROOT, "type": "cgroup", "source": "cgroup",
            "options": [access, "nosuid", "noexec", "nodev"],
        })];
    }
    let rel = spec.cgroups_path.trim_start_matches('/');
    let mut out = vec![json!({
        "destination": ROOT, "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "noexec", "nodev", "mode=755", "size=64k"],
    })];
    for dir in joined_hierarchies() {
        out.push(json!({
            "destination": format!("{ROOT}/{dir}"),
            "type": "bind",
            "source": Path::new(ROOT).join(dir).join(rel),
            "options": ["rbind", "rprivate", "nosuid", "noexec", "nodev", access],
        }));
    }
    out
}

/// Makes the container's directory in each v1 hierarchy ahead of the
/// runtime, so that the view's bind mounts have their sources; and gives
/// its parents the real-time CPU time it asks for.
pub fn prepare(spec: &ContainerSpec) -> std::io::Result<()> {
    if spec.cgroup_v2 {
        return Ok(());
    }
    let rel = spec.cgroups_path.trim_start_matches('/');
    for dir in joined_hierarchies() {
        let path: PathBuf = Path::new(ROOT).join(dir).join(rel);
        std::fs::create_dir_all(&path)?;
    }
    if let Some(runtime) = spec.resources.cpu_rt_runtime.filter(|r| *r > 0) {
        rt_budget(rel, runtime)?;
    }
    Ok(())
}

/// v1's real-time CPU time is handed down: a cgroup gets no more than its
/// parent has, and its children share its runtime. Each ancestor of the
/// container is raised (from the top) to what its children hold plus
/// `runtime`, as docker's daemon does with `--cpu-rt-runtime`.
fn rt_budget(rel: &str, runtime: i64) -> std::io::Result<()> {
    const FILE: &str = "cpu.rt_runtime_us";
    let Some(hierarchy) = joined_hierarchies()
        .iter()
        .find(|d| d.split(',').any(|c| c == "cpu"))
    else {
        return Ok(());
    };
    let read = |dir: &Path| -> i64 {
        std::fs::read_to_string(dir.join(FILE))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };
    let container = Path::new(ROOT).join(hierarchy).join(rel);
    let mut ancestors: Vec<PathBuf> = container
        .ancestors()
        .skip(1)
        .take_while(|a| *a != Path::new(ROOT).join(hierarchy))
        .map(Path::to_path_buf)
        .collect();
    ancestors.reverse();
    for dir in ancestors {
        let children: i64 = std::fs::read_dir(&dir)?
            .flatten()
            .filter(|e| e.path().is_dir() && !container.starts_with(e.path()))
            .map(|e| read(&e.path()))
            .sum();
        let needed = children + runtime;
        if read(&dir) < needed {
            std::fs::write(dir.join(FILE), needed.to_string()).map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "{}: giving it {needed} µs of real-time CPU time for --cpu-rt-runtime {runtime}: {e} (its parent has less)",
                        dir.display()
                    ),
                )
            })?;
        }
    }
    Ok(())
}

/// What the runtime leaves undone once the container's cgroup exists:
/// libcontainer does not disable the OOM killer (`--oom-kill-disable`).
pub fn finish(spec: &ContainerSpec) -> std::io::Result<()> {
    if spec.cgroup_v2 || !spec.resources.oom_kill_disable {
        return Ok(());
    }
    let Some(hierarchy) = joined_hierarchies()
        .iter()
        .find(|d| d.split(',').any(|c| c == "memory"))
    else {
        return Ok(());
    };
    let path = Path::new(ROOT)
        .join(hierarchy)
        .join(spec.cgroups_path.trim_start_matches('/'))
        .join("memory.oom_control");
    std::fs::write(path, "1")
}

/// Starts, off the caller's path, the kernel's wait that the container's
/// first move into its cgroup would otherwise make on it.
///
/// Moving a task between cgroups takes a global lock whose first writer
/// waits for an RCU grace period (10-15 ms on a small VM; hosts that mount
/// cgroups with `favordynmods` skip it); writers that come while it is
/// held, or within a grace period after, do not wait again. So a thread of
/// ours moves this process into the cgroup it is already in (a move that
/// changes nothing) while the caller mounts, plugs and forks: the
/// container's own moves then find the lock warm. Call it as early as a
/// start is known to come; calling it again is cheap.
pub fn warm_migration() {
    static WAKE: OnceLock<Option<i32>> = OnceLock::new();
    if let Some(wake) = *WAKE.get_or_init(start_warmer) {
        // SAFETY: a one-byte write to our own pipe.
        unsafe { libc::write(wake, [1u8].as_ptr().cast(), 1) };
    }
}

/// The warming thread: it waits on a pipe and, for each byte, writes our
/// pid to our own `cgroup.procs`. It only ever blocks in read and write
/// (no allocation, no lock), so a container forked meanwhile inherits no
/// lock held; it is fully started before this returns, for the same reason.
fn start_warmer() -> Option<i32> {
    use std::os::fd::{AsRawFd, IntoRawFd};
    let procs = std::fs::OpenOptions::new()
        .write(true)
        .open(own_cgroup_procs()?)
        .ok()?;
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok()?;
    let pid = std::process::id().to_string().into_bytes();
    let started = std::sync::Arc::new(std::sync::Barrier::new(2));
    let ready = started.clone();
    std::thread::Builder::new()
        .name("cgroup-warmer".into())
        .spawn(move || {
            let (procs, read) = (procs.as_raw_fd(), read.as_raw_fd());
            ready.wait();
            let mut byte = 0u8;
            // SAFETY: reads into and writes from buffers this thread owns, on fds it owns.
            while unsafe { libc::read(read, (&mut byte as *mut u8).cast(), 1) } == 1 {
                unsafe { libc::write(procs, pid.as_ptr().cast(), pid.len()) };
            }
        })
        .ok()?;
    started.wait();
    Some(write.into_raw_fd())
}

/// The `cgroup.procs` of the cgroup this process is in: of a v1 hierarchy
/// containers join (the lock is the same for all), else of the v2 tree.
fn own_cgroup_procs() -> Option<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let dir = |controllers: &str, path: &str| -> Option<PathBuf> {
        let dir = Path::new(ROOT).join(controllers);
        Some(dir.join(path.trim_start_matches('/')).join("cgroup.procs"))
    };
    let v1 = own.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        joined_hierarchies()
            .iter()
            .any(|d| d == controllers)
            .then(|| dir(controllers, path))?
    });
    let v2 = || {
        let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
        let root = if crate::container::cgroup_v2() {
            ""
        } else {
            "unified"
        };
        dir(root, path)
    };
    v1.or_else(v2).filter(|p| p.exists())
}

#[cfg(test)]
mod tests {
    use super::{hierarchy_of, own_cgroup_procs, warm_migration};

    #[test]
    fn the_warmer_moves_this_process_where_it_already_is() {
        let procs = own_cgroup_procs().expect("a cgroup.procs of our own");
        let pid = std::process::id().to_string();
        let listed = |p: &std::path::Path| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .any(|l| l == pid)
        };
        assert!(listed(&procs), "{} does not list us", procs.display());
        let before = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        warm_migration();
        warm_migration();
        // The move changes nothing: we are where we were.
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(
            std::fs::read_to_string("/proc/self/cgroup").unwrap(),
            before
        );
        assert!(listed(&procs));
    }

    #[test]
    fn mountinfo_lines_name_their_hierarchy() {
        let memory = "35 29 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory";
        assert_eq!(hierarchy_of(memory).as_deref(), Some("memory"));
        let both = "33 29 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct";
        assert_eq!(hierarchy_of(both).as_deref(), Some("cpu,cpuacct"));
        let systemd =
            "30 29 0:26 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd";
        assert_eq!(hierarchy_of(systemd), None);
        let v2 = "31 29 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw";
        assert_eq!(hierarchy_of(v2), None);
        let elsewhere = "36 29 0:31 / /mnt/memory rw - cgroup cgroup rw,memory";
        assert_eq!(hierarchy_of(elsewhere), None);
    }
}
