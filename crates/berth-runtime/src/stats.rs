//! Resource usage of one container, read from its cgroup (v1 or v2) and its
//! network namespace: what `stats` shows.

use std::path::{Path, PathBuf};

/// One reading. Counters (CPU time, bytes) only grow; `stats` shows CPU as
/// the difference between two readings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time the container used, in nanoseconds.
    pub cpu_ns: u64,
    /// Memory in use, page cache that can be dropped left out (as docker).
    pub memory: u64,
    /// The memory limit, or the host's memory when there is none.
    pub memory_limit: u64,
    pub pids: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// `key value` lines (memory.stat, cpu.stat).
fn keyed(path: &Path, key: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Reads the usage of the container in cgroup `cgroups_path` whose init is `pid`.
pub fn read(cgroups_path: &str, pid: i32) -> Usage {
    let rel = cgroups_path.trim_start_matches('/');
    let mut u = if crate::container::cgroup_v2() {
        v2(&PathBuf::from("/sys/fs/cgroup").join(rel))
    } else {
        v1(rel)
    };
    let host = host_memory();
    if u.memory_limit == 0 || u.memory_limit > host {
        u.memory_limit = host;
    }
    (u.net_rx, u.net_tx) = network(pid);
    u
}

fn v1(rel: &str) -> Usage {
    let dir = |controller: &str| PathBuf::from("/sys/fs/cgroup").join(controller).join(rel);
    let memory = dir("memory");
    let usage = read_u64(&memory.join("memory.usage_in_bytes")).unwrap_or(0);
    let inactive = keyed(&memory.join("memory.stat"), "total_inactive_file").unwrap_or(0);
    let (block_read, block_write) =
        std::fs::read_to_string(dir("blkio").join("blkio.throttle.io_service_bytes"))
            .map(|s| {
                sum_ops(
                    &s,
                    |l| l.split_whitespace().nth(1).map(str::to_string),
                    |l| l.split_whitespace().nth(2),
                )
            })
            .unwrap_or_default();
    Usage {
        cpu_ns: read_u64(&dir("cpuacct").join("cpuacct.usage")).unwrap_or(0),
        memory: usage.saturating_sub(inactive),
        memory_limit: read_u64(&memory.join("memory.limit_in_bytes")).unwrap_or(0),
        pids: read_u64(&dir("pids").join("pids.current")).unwrap_or(0),
        block_read,
        block_write,
        ..Usage::default()
    }
}

fn v2(dir: &Path) -> Usage {
    let usage = read_u64(&dir.join("memory.current")).unwrap_or(0);
    let inactive = keyed(&dir.join("memory.stat"), "inactive_file").unwrap_or(0);
    let (mut block_read, mut block_write) = (0, 0);
    if let Ok(s) = std::fs::read_to_string(dir.join("io.stat")) {
        for field in s.split_whitespace() {
            if let Some(v) = field.strip_prefix("rbytes=") {
                block_read += v.parse::<u64>().unwrap_or(0);
            } else if let Some(v) = field.strip_prefix("wbytes=") {
                block_write += v.parse::<u64>().unwrap_or(0);
            }
        }
    }
    Usage {
        cpu_ns: keyed(&dir.join("cpu.stat"), "usage_usec").unwrap_or(0) * 1000,
        memory: usage.saturating_sub(inactive),
        memory_limit: std::fs::read_to_string(dir.join("memory.max"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
        pids: read_u64(&dir.join("pids.current")).unwrap_or(0),
        block_read,
        block_write,
        ..Usage::default()
    }
}

/// Read and Write totals of blkio's `MAJ:MIN Op Bytes` lines.
fn sum_ops(
    text: &str,
    op: impl Fn(&str) -> Option<String>,
    value: impl Fn(&str) -> Option<&str>,
) -> (u64, u64) {
    let (mut r, mut w) = (0, 0);
    for l in text.lines() {
        let n: u64 = value(l).and_then(|v| v.parse().ok()).unwrap_or(0);
        match op(l).as_deref() {
            Some("Read") => r += n,
            Some("Write") => w += n,
            _ => {}
        }
    }
    (r, w)
}

/// Bytes received and sent on the container's interfaces other than loopback.
fn network(pid: i32) -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/dev")) else {
        return (0, 0);
    };
    let (mut rx, mut tx) = (0, 0);
    for l in text.lines().skip(2) {
        let Some((name, rest)) = l.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}

/// Total CPU time of the host so far, in nanoseconds (from /proc/stat), the
/// base docker's CPU % is computed against.
pub fn host_cpu_ns() -> u64 {
    let ticks_per_sec = 100; // USER_HZ on Linux
    std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .take(7)
                    .filter_map(|x| x.parse::<u64>().ok())
                    .sum::<u64>()
            })
        })
        .map_or(0, |t| t * 1_000_000_000 / ticks_per_sec)
}

#[cfg(test)]
mod tests {
    #[test]
    fn blkio_lines_sum_by_operation() {
        let text = "8:0 Read 4096\n8:0 Write 8192\n8:16 Read 100\n8:0 Total 12288\nTotal 12388\n";
        let (r, w) = super::sum_ops(
            text,
            |l| l.split_whitespace().nth(1).map(str::to_string),
            |l| l.split_whitespace().nth(2),
        );
        assert_eq!((r, w), (4196, 8192));
        assert!(super::host_cpu_ns() > 0);
    }
}
