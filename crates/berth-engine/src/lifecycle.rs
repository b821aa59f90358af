//! Containers after they start: stop, kill, wait, restart. The container's
//! monitor (or its foreground berth) records how it ended; these commands
//! signal it and watch the record.

use std::fs::File;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{Engine, EngineError};

/// `SIGTERM`, `TERM`, `term` or `15`.
pub fn parse_signal(s: &str) -> Result<i32, EngineError> {
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n)
            .map(|sig| sig as i32)
            .map_err(|_| EngineError::invalid(format!("invalid signal: {s}")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| EngineError::invalid(format!("invalid signal: {s}")))
}

/// Whether `pid` still runs: there, and not a zombie (a container's monitor
/// keeps it one until its exit is recorded).
fn alive(pid: i32) -> bool {
    pid > 0
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, r)| !r.starts_with('Z')))
            .unwrap_or(false)
}

/// Sends `signal` to `pid`, gives it `grace` to end, then SIGKILL.
pub(crate) fn terminate(pid: i32, signal: Signal, grace: Duration) {
    let _ = kill(Pid::from_raw(pid), signal);
    let start = Instant::now();
    while alive(pid) && start.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(20));
    }
    if alive(pid) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

impl Engine {
    /// `kill -s SIG`: the container must be running.
    pub fn kill_container(&self, key: &str, signal: i32) -> Result<(), EngineError> {
        let c = self.container(key)?;
        if !c.state.running {
            return Err(EngineError::Conflict(format!(
                "Cannot kill container: {key}: container {} is not running",
                c.id
            )));
        }
        let sig = Signal::try_from(signal)
            .map_err(|_| EngineError::invalid(format!("invalid signal: {signal}")))?;
        // As docker: a killed container is not restarted by its policy.
        self.update(&c.id, |c| c.state.manually_stopped = true)?;
        self.emit_container(&c, "kill", &[("signal", signal.to_string())]);
        // A frozen process keeps even SIGKILL pending: thaw it first.
        if sig == Signal::SIGKILL {
            self.thaw(&c);
        }
        kill(Pid::from_raw(c.state.pid), sig)
            .map_err(|e| EngineError::Runtime(format!("Cannot kill container: {key}: {e}")))?;
        // As docker: a SIGKILL returns once the container is down.
        if sig == Signal::SIGKILL {
            self.wait_container(&c.id, Some(Duration::from_secs(10)))?;
        }
        Ok(())
    }

    /// `stop`: the stop signal (the image's STOPSIGNAL, SIGTERM otherwise),
    /// then SIGKILL after `timeout` seconds; returns once the record says exited.
    pub fn stop_container(
        &self,
        key: &str,
        timeout: Option<u32>,
        signal: Option<i32>,
    ) -> Result<(), EngineError> {
        let c = self.container(key)?;
        // No restart policy brings back what the user stopped: marked even
        // when it is neither running nor restarting, since its monitor may be
        // between recording an exit and restarting it (the next start clears it).
        let mut c = self.update(&c.id, |c| c.state.manually_stopped = true)?;
        if !c.state.running && c.state.restarting {
            // Its monitor sees the stop and leaves it exited, or had just
            // restarted it: then it runs, and is stopped below.
            let start = Instant::now();
            while self.container(&c.id).is_ok_and(|c| c.state.restarting)
                && start.elapsed() < Duration::from_secs(5)
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            c = self.container(&c.id)?;
        }
        if !c.state.running {
            return Ok(());
        }
        let sig = match signal {
            Some(s) => s,
            None => c
                .config
                .stop_signal
                .as_deref()
                .map(parse_signal)
                .transpose()?
                .unwrap_or(libc::SIGTERM),
        };
        self.thaw(&c);
        let grace = Duration::from_secs(timeout.or(c.config.stop_timeout).unwrap_or(10) as u64);
        terminate(
            c.state.pid,
            Signal::try_from(sig).unwrap_or(Signal::SIGTERM),
            grace,
        );
        self.wait_container(&c.id, Some(Duration::from_secs(10)))?;
        self.emit_container(&c, "stop", &[]);
        Ok(())
    }

    /// `wait`: blocks until the container is not running; its exit code.
    pub fn wait_container(&self, key: &str, limit: Option<Duration>) -> Result<i32, EngineError> {
        let start = Instant::now();
        let mut seen = false;
        loop {
            let c = match self.container(key) {
                Ok(c) => c,
                // Removed meanwhile (--rm): it has ended.
                Err(EngineError::NoSuchContainer(_)) if seen => return Ok(0),
                Err(e) => return Err(e),
            };
            seen = true;
            // Exited, or failed to start (created, with an error recorded).
            if c.state.status == "exited"
                || (c.state.status == "created" && !c.state.error.is_empty())
            {
                return Ok(c.state.exit_code);
            }
            if limit.is_some_and(|l| start.elapsed() > l) {
                return Err(EngineError::Runtime(format!(
                    "container {key} did not stop in time"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `pause` / `unpause`: the cgroup freezer.
    pub fn pause_container(&self, key: &str, pause: bool) -> Result<(), EngineError> {
        let c = self.container(key)?;
        if !c.state.running {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        if c.state.paused == pause {
            let state = if pause {
                "already paused"
            } else {
                "not paused"
            };
            return Err(EngineError::Conflict(format!(
                "Container {} is {state}",
                c.id
            )));
        }
        berth_runtime::container::freeze(&Self::cgroups_path(&c), pause)?;
        self.emit_container(&c, if pause { "pause" } else { "unpause" }, &[]);
        self.update(&c.id, |c| {
            c.state.paused = pause;
            c.state.status = if pause {
                "paused".into()
            } else {
                "running".into()
            };
        })?;
        Ok(())
    }

    /// Thaws a paused container so that signals reach it (before stop, kill, rm -f).
    pub(crate) fn thaw(&self, c: &crate::model::Container) {
        if c.state.paused {
            let _ = berth_runtime::container::freeze(&Self::cgroups_path(c), false);
            let _ = self.update(&c.id, |c| {
                c.state.paused = false;
                c.state.status = "running".into();
            });
        } else {
            self.thaw_after_dead_commit(c);
        }
    }

    /// Freezes running container `c` for `commit` to read its changes, until
    /// the returned lock is dropped (and [`Engine::thaw_frozen_for_commit`]).
    pub(crate) fn freeze_for_commit(
        &self,
        c: &crate::model::Container,
    ) -> Result<File, EngineError> {
        let lock = self
            .commit_lock(c, true)?
            .expect("a blocking lock is taken");
        berth_runtime::container::freeze(&Self::cgroups_path(c), true)?;
        Ok(lock)
    }

    pub(crate) fn thaw_frozen_for_commit(&self, c: &crate::model::Container, lock: File) {
        let _ = berth_runtime::container::freeze(&Self::cgroups_path(c), false);
        drop(lock);
    }

    /// A commit killed while it held `c` frozen leaves it so, and its lock
    /// free: whoever comes next thaws it (unless `pause` froze it).
    pub(crate) fn thaw_after_dead_commit(&self, c: &crate::model::Container) {
        if c.state.running && !c.state.paused {
            if let Ok(Some(_lock)) = self.commit_lock(c, false) {
                let _ = berth_runtime::container::freeze(&Self::cgroups_path(c), false);
            }
        }
    }

    fn commit_lock(
        &self,
        c: &crate::model::Container,
        wait: bool,
    ) -> Result<Option<File>, EngineError> {
        let path = self.store.container_dir(&c.id).join("commit.lock");
        crate::lock_file(&path, wait)
    }

    /// `top`: the container's processes as the host's `ps` shows them
    /// (`ps_args`, docker's default `-ef`), header first.
    pub fn top(&self, key: &str, ps_args: &[String]) -> Result<Vec<String>, EngineError> {
        let c = self.container(key)?;
        if !c.state.running {
            return Err(EngineError::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        let rel = format!(
            "{}/cgroup.procs",
            Self::cgroups_path(&c).trim_start_matches('/')
        );
        let procs = [
            "/sys/fs/cgroup/pids",
            "/sys/fs/cgroup/memory",
            "/sys/fs/cgroup",
        ]
        .iter()
        .find_map(|base| std::fs::read_to_string(std::path::Path::new(base).join(&rel)).ok())
        .ok_or_else(|| EngineError::Runtime(format!("container {}: its cgroup is gone", c.id)))?;
        let pids: Vec<&str> = procs.split_whitespace().collect();
        let args: Vec<String> = if ps_args.is_empty() {
            vec!["-ef".into()]
        } else {
            ps_args.to_vec()
        };
        let out = std::process::Command::new("ps")
            .args(&args)
            .output()
            .map_err(|e| EngineError::Runtime(format!("running ps: {e}")))?;
        if !out.status.success() {
            return Err(EngineError::invalid(format!(
                "ps {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().to_string();
        let col = header
            .split_whitespace()
            .position(|h| h == "PID")
            .ok_or_else(|| EngineError::invalid("ps output has no PID column: add -o pid"))?;
        let mut rows = vec![header];
        rows.extend(
            lines
                .filter(|l| {
                    l.split_whitespace()
                        .nth(col)
                        .is_some_and(|p| pids.contains(&p))
                })
                .map(String::from),
        );
        Ok(rows)
    }

    /// `restart`: stop, then start in the background.
    pub fn restart_container(&self, key: &str, timeout: Option<u32>) -> Result<(), EngineError> {
        self.stop_container(key, timeout, None)?;
        self.start_detached(key)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("kill").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("HUP").unwrap(), libc::SIGHUP);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert!(parse_signal("SIGNOPE").is_err());
        assert!(parse_signal("999").is_err());
    }
}

/// One line of `stats`.
#[derive(Clone, Debug)]
pub struct StatsRow {
    pub id: String,
    pub name: String,
    /// None for a container that is not running (docker prints `--`).
    pub cpu_percent: Option<f64>,
    pub usage: berth_runtime::stats::Usage,
}

impl Engine {
    /// `stats`: each container's usage, CPU over `window` as docker
    /// computes it (container CPU time / host CPU time x CPUs).
    pub fn stats(
        &self,
        keys: &[String],
        all: bool,
        window: Duration,
    ) -> Result<Vec<StatsRow>, EngineError> {
        let containers = if keys.is_empty() {
            self.list_containers()?
                .into_iter()
                .filter(|c| all || c.state.running)
                .collect()
        } else {
            keys.iter()
                .map(|k| self.container(k))
                .collect::<Result<Vec<_>, _>>()?
        };
        let before: Vec<StatsSample> = containers.iter().map(|c| self.sample(c)).collect();
        std::thread::sleep(window);
        Ok(containers
            .iter()
            .zip(before)
            .map(|(c, before)| {
                let after = self.sample(c);
                StatsRow {
                    id: c.id.clone(),
                    name: c.short_name().to_string(),
                    cpu_percent: after.cpu_percent(&before),
                    usage: after.usage,
                }
            })
            .collect())
    }
}

/// `update`'s body (docker's `ContainerUpdate`): what is given (non-zero)
/// changes, what is absent (or 0, as docker's clients send it) stays.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateBody {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub kernel_memory: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_realtime_period: Option<i64>,
    pub cpu_realtime_runtime: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub blkio_weight: Option<u16>,
    pub pids_limit: Option<i64>,
    pub restart_policy: Option<crate::model::RestartPolicy>,
}

impl Engine {
    /// `update`: new limits (applied at once to a running container) and
    /// restart policy; the record keeps them for the next start. Returns
    /// docker's warnings.
    pub fn update_container(&self, key: &str, o: &UpdateBody) -> Result<Vec<String>, EngineError> {
        use crate::create::{check_memory, check_memory_swap, check_nano_cpus};
        let c = self.container(key)?;
        let old = &c.host_config;
        let mut h = old.clone();
        let given = |v: Option<i64>| v.filter(|v| *v != 0);
        if let Some(m) = given(o.memory) {
            check_memory(m)?;
            h.memory = m;
            if given(o.memory_swap).is_none() && old.memory_swap > 0 && old.memory_swap < m {
                return Err(EngineError::invalid(
                    "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
                ));
            }
        }
        if let Some(s) = given(o.memory_swap) {
            check_memory_swap(s, h.memory)?;
            h.memory_swap = s;
        }
        if let Some(n) = given(o.nano_cpus) {
            check_nano_cpus(n)?;
            h.nano_cpus = n;
        }
        let set = |to: &mut i64, v: Option<i64>| {
            if let Some(v) = given(v) {
                *to = v;
            }
        };
        set(&mut h.memory_reservation, o.memory_reservation);
        set(&mut h.kernel_memory, o.kernel_memory);
        set(&mut h.cpu_shares, o.cpu_shares);
        set(&mut h.cpu_period, o.cpu_period);
        set(&mut h.cpu_quota, o.cpu_quota);
        set(&mut h.cpu_realtime_period, o.cpu_realtime_period);
        set(&mut h.cpu_realtime_runtime, o.cpu_realtime_runtime);
        if let Some(p) = given(o.pids_limit) {
            h.pids_limit = Some(p).filter(|p| *p > 0);
        }
        if let Some(w) = o.blkio_weight.filter(|w| *w != 0) {
            h.blkio_weight = w;
        }
        for (to, v) in [
            (&mut h.cpuset_cpus, &o.cpuset_cpus),
            (&mut h.cpuset_mems, &o.cpuset_mems),
        ] {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                *to = v.clone();
            }
        }
        if let Some(r) = o.restart_policy.clone().filter(|r| !r.name.is_empty()) {
            crate::model::RestartPolicy::parse(&match r.maximum_retry_count {
                0 => r.name.clone(),
                n => format!("{}:{n}", r.name),
            })
            .map_err(EngineError::invalid)?;
            if h.auto_remove && r.name != "no" {
                return Err(EngineError::invalid(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container",
                ));
            }
            h.restart_policy = r;
        }
        crate::host::check(&h)?;
        let warnings = crate::host::fit(&mut h);
        if c.state.running {
            let mut r = crate::host::resources(&h)?;
            // Unlimited again where a limit was lifted.
            if old.pids_limit.is_some() && h.pids_limit.is_none() {
                r.pids_limit = Some(-1);
            }
            berth_runtime::container::update_resources(&Self::cgroups_path(&c), &r)?;
        }
        self.update(&c.id, |c| c.host_config = h)?;
        Ok(warnings)
    }
}

/// docker's `wait` conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitCondition {
    /// Returns at once for a container that is not running.
    NotRunning,
    /// The next exit from now on, even of a container not yet started.
    NextExit,
    /// The container's removal (its last exit code).
    Removed,
}

impl WaitCondition {
    pub fn parse(s: &str) -> Result<WaitCondition, EngineError> {
        match s {
            "" | "not-running" => Ok(WaitCondition::NotRunning),
            "next-exit" => Ok(WaitCondition::NextExit),
            "removed" => Ok(WaitCondition::Removed),
            other => Err(EngineError::invalid(format!(
                "invalid condition: \"{other}\": use not-running, next-exit or removed"
            ))),
        }
    }
}

impl StatsSample {
    /// docker's CPU %: the container's CPU time over the host's since
    /// `before`, times the CPUs; None for a container not running.
    pub fn cpu_percent(&self, before: &StatsSample) -> Option<f64> {
        if !self.running || !before.running {
            return None;
        }
        let host = self.system_cpu_ns.saturating_sub(before.system_cpu_ns);
        if host == 0 {
            return Some(0.0);
        }
        let used = self.usage.cpu_ns.saturating_sub(before.usage.cpu_ns);
        Some(used as f64 / host as f64 * self.online_cpus as f64 * 100.0)
    }
}

/// A container's usage at one moment (`stats`, the API's stats).
#[derive(Clone, Debug)]
pub struct StatsSample {
    pub id: String,
    pub name: String,
    pub running: bool,
    pub usage: berth_runtime::stats::Usage,
    /// The host's CPU time so far, in nanoseconds.
    pub system_cpu_ns: u64,
    pub online_cpus: usize,
    pub memory_limit: u64,
    pub read: chrono::DateTime<chrono::Utc>,
}

impl Engine {
    /// A waiter for container `key` under `condition`, fixed now (so that
    /// an exit after this call is seen even if it comes before the wait).
    pub fn waiter(&self, key: &str, condition: WaitCondition) -> Result<Waiter, EngineError> {
        let c = self.container(key)?;
        Ok(Waiter {
            id: c.id.clone(),
            condition,
            after: self.store.db.last_event_seq()?,
            done: (condition == WaitCondition::NotRunning
                && !c.state.running
                && !c.state.restarting)
                .then_some(c.state.exit_code),
        })
    }

    /// Blocks until `w`'s condition holds (or `gone()`); the exit code.
    /// Exits are read from the store's `die` events, so the code is known
    /// even after `--rm` removed the container.
    pub fn wait_for(&self, w: &Waiter, gone: &dyn Fn() -> bool) -> Result<i32, EngineError> {
        if let Some(code) = w.done {
            return Ok(code);
        }
        let mut after = w.after;
        let mut last_exit = None;
        let mut destroyed_at = None;
        let mut rounds = 0u32;
        loop {
            for e in self.store.db.events_after(after)? {
                after = e.seq;
                if e.actor != w.id || e.kind != "container" {
                    continue;
                }
                match e.action.as_str() {
                    "die" => {
                        let attrs: std::collections::BTreeMap<String, String> =
                            serde_json::from_str(&e.attributes).unwrap_or_default();
                        let code = attrs
                            .get("exitCode")
                            .and_then(|c| c.parse().ok())
                            .unwrap_or(0);
                        if w.condition != WaitCondition::Removed {
                            return Ok(code);
                        }
                        last_exit = Some(code);
                    }
                    "destroy" => destroyed_at = Some(Instant::now()),
                    _ => {}
                }
            }
            if let Some(at) = destroyed_at {
                // Its exit may be recorded just after the removal (rm -f).
                if let Some(code) = last_exit {
                    return Ok(code);
                }
                if at.elapsed() > Duration::from_millis(500) {
                    return Ok(137);
                }
            }
            if gone() {
                return Err(EngineError::Interrupted);
            }
            rounds += 1;
            // Now and then through the record itself: a holder that died
            // without saying so is found out there.
            if rounds.is_multiple_of(50) {
                match self.container(&w.id) {
                    Ok(c)
                        if !c.state.running
                            && !c.state.restarting
                            && w.condition == WaitCondition::NotRunning =>
                    {
                        return Ok(c.state.exit_code)
                    }
                    Err(EngineError::NoSuchContainer(_)) if destroyed_at.is_none() => {
                        destroyed_at = Some(Instant::now())
                    }
                    _ => {}
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The usage of container `key` now (zeros for one not running).
    pub fn stats_sample(&self, key: &str) -> Result<StatsSample, EngineError> {
        Ok(self.sample(&self.container(key)?))
    }

    fn sample(&self, c: &crate::model::Container) -> StatsSample {
        let usage = if c.state.running {
            berth_runtime::stats::read(&Self::cgroups_path(c), c.state.pid)
        } else {
            Default::default()
        };
        StatsSample {
            id: c.id.clone(),
            name: c.name.clone(),
            running: c.state.running,
            memory_limit: usage.memory_limit,
            usage,
            system_cpu_ns: berth_runtime::stats::host_cpu_ns(),
            online_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            read: chrono::Utc::now(),
        }
    }

    /// Sets a running container's terminal size, through its holder.
    pub fn resize_container(&self, key: &str, rows: u16, cols: u16) -> Result<(), EngineError> {
        let c = self.container(key)?;
        if !c.state.running {
            return Err(EngineError::Conflict(format!(
                "Container {} is not running",
                c.id
            )));
        }
        let path = crate::attach::socket_path(&self.state_dir, c.short_id());
        crate::attach::connect(
            &path,
            &crate::attach::Request {
                resize: Some((rows, cols)),
                ..Default::default()
            },
        )
        .map(drop)
        .map_err(|e| EngineError::Runtime(format!("resizing {}: {e}", c.short_name())))
    }
}

/// What [`Engine::wait_for`] waits for.
#[derive(Clone, Debug)]
pub struct Waiter {
    id: String,
    condition: WaitCondition,
    after: i64,
    done: Option<i32>,
}
