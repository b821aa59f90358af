//! Healthchecks: the image's HEALTHCHECK or `--health-*`, probed by a thread
//! of whoever holds the running container (its monitor, or the foreground
//! berth), each probe a `berth exec` in the container; the outcome lands in
//! `State.Health` as docker records it (status, failing streak, last five
//! probes).
//!
//! Kubernetes' probes (from `kube play`) run the same way: startup first,
//! then liveness (which ends the container when it fails; its restart
//! policy decides what follows) and readiness (shown as the health
//! status); `httpGet` and `tcpSocket` are made by berth from the
//! container's network namespace, so the image needs no curl.

use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use berth_kube::probe::{Action, Probe as KubeProbe, Probes};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{time, Engine, EngineError};

/// docker's defaults.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;
/// Probes kept in `State.Health.Log`, and the output kept of each.
const KEPT: usize = 5;
const OUTPUT_LIMIT: usize = 4096;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<Probe>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Probe {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// The container's Config.Healthcheck as dockerd merges it: the image's
/// when none is given; otherwise the given one, its empty test and zero
/// durations and retries taken from the image's.
pub(crate) fn merge(
    image: Option<&Value>,
    given: Option<Value>,
) -> Result<Option<Value>, EngineError> {
    let Some(mut hc) = given.filter(|g| g.as_object().is_some_and(|o| !o.is_empty())) else {
        return Ok(image.cloned().filter(has_test));
    };
    if !hc.is_object() {
        return Err(EngineError::invalid("Healthcheck must be an object"));
    }
    for field in ["Interval", "Timeout", "StartPeriod", "StartInterval"] {
        let v = &hc[field];
        if v.is_null() {
            continue;
        }
        let nanos = v.as_i64().ok_or_else(|| {
            EngineError::invalid(format!(
                "Healthcheck.{field} must be a number of nanoseconds"
            ))
        })?;
        if nanos < 0 {
            return Err(EngineError::invalid(format!(
                "{field} in Healthcheck cannot be negative"
            )));
        }
        if field != "StartPeriod" && nanos != 0 && nanos < 1_000_000 {
            return Err(EngineError::invalid(format!(
                "{field} in Healthcheck cannot be less than 1ms"
            )));
        }
    }
    if hc["Retries"].as_i64().is_some_and(|r| r < 0) {
        return Err(EngineError::invalid(
            "Retries in Healthcheck cannot be negative",
        ));
    }
    let disabled = hc["Test"].get(0).and_then(Value::as_str) == Some("NONE");
    if let Some(image) = image.filter(|_| !disabled) {
        if !has_test(&hc) {
            hc["Test"] = image["Test"].clone();
        }
        for field in [
            "Interval",
            "Timeout",
            "StartPeriod",
            "StartInterval",
            "Retries",
        ] {
            if hc[field].as_i64().unwrap_or(0) == 0 && !image[field].is_null() {
                hc[field] = image[field].clone();
            }
        }
    }
    if let Some(o) = hc.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    Ok(has_test(&hc).then_some(hc))
}

fn has_test(hc: &Value) -> bool {
    hc.get("Test")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty())
}

/// A healthcheck ready to run; None for `NONE` or no test.
#[derive(Clone, Debug)]
pub(crate) struct Check {
    argv: Vec<String>,
    interval: Duration,
    timeout: Duration,
    start_period: Duration,
    retries: u32,
}

impl Check {
    pub(crate) fn from_config(hc: &Value) -> Option<Check> {
        let test: Vec<String> = serde_json::from_value(hc.get("Test")?.clone()).ok()?;
        let argv = match test.split_first()? {
            (kind, rest) if kind == "CMD" && !rest.is_empty() => rest.to_vec(),
            (kind, [cmd]) if kind == "CMD-SHELL" => {
                vec!["/bin/sh".into(), "-c".into(), cmd.clone()]
            }
            _ => return None,
        };
        let dur = |k: &str, default: Duration| {
            hc.get(k)
                .and_then(Value::as_u64)
                .filter(|n| *n > 0)
                .map(Duration::from_nanos)
                .unwrap_or(default)
        };
        Some(Check {
            argv,
            interval: dur("Interval", DEFAULT_INTERVAL),
            timeout: dur("Timeout", DEFAULT_TIMEOUT),
            start_period: dur("StartPeriod", Duration::ZERO),
            retries: hc
                .get("Retries")
                .and_then(Value::as_u64)
                .filter(|n| *n > 0)
                .map(|n| n as u32)
                .unwrap_or(DEFAULT_RETRIES),
        })
    }
}

/// The probing thread of one running container; told to stop when dropped
/// (not waited for: a probe under way may take its whole timeout, and its
/// result is thrown away).
pub(crate) struct Watcher {
    stop: Arc<AtomicBool>,
    _thread: JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Engine {
    /// Starts probing container `id` with `check`.
    pub(crate) fn watch_health(&self, id: &str, check: Check) -> Watcher {
        let id = id.to_string();
        self.watch(move |engine, stop| engine.probe_loop(&id, &check, stop))
    }

    /// Runs `work` on a thread with its own connection to the store, opened
    /// here and now (never later from the thread: a store removed meanwhile
    /// would be made again, empty), until told to stop.
    fn watch(&self, work: impl FnOnce(&Engine, &AtomicBool) + Send + 'static) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = Engine::open(self.root(), &self.state_dir);
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            if let Ok(engine) = engine {
                work(&engine, &flag);
            }
        });
        Watcher {
            stop,
            _thread: thread,
        }
    }

    fn probe_loop(&self, id: &str, check: &Check, stop: &AtomicBool) {
        let began = Instant::now();
        loop {
            if !sleep_unless(stop, check.interval) {
                return;
            }
            let start = time::now();
            let (exit_code, output) =
                exec(self.root(), &self.state_dir, id, &check.argv, check.timeout);
            if stop.load(Ordering::Relaxed) {
                // The container ended during the probe: its failure says nothing.
                return;
            }
            let in_start_period = began.elapsed() < check.start_period;
            let result = Probe {
                start,
                end: time::now(),
                exit_code,
                output,
            };
            let (ok, count) = (exit_code == 0, !in_start_period);
            self.record_probe(id, result, |h| {
                if ok {
                    h.status = "healthy".into();
                    h.failing_streak = 0;
                } else if count {
                    h.failing_streak += 1;
                    if h.failing_streak >= check.retries {
                        h.status = "unhealthy".into();
                    }
                }
            });
        }
    }

    /// Keeps `result` in the container's `State.Health` (the last five),
    /// lets `judge` set the status, and says a change as an event.
    fn record_probe(&self, id: &str, result: Probe, judge: impl FnOnce(&mut Health)) {
        let mut changed = None;
        let updated = self.update(id, |c| {
            let h = c.state.health.get_or_insert_with(Health::default);
            let before = h.status.clone();
            h.log.push(result);
            if h.log.len() > KEPT {
                h.log.remove(0);
            }
            judge(h);
            if h.status != before {
                changed = Some(h.status.clone());
            }
        });
        if let (Ok(c), Some(status)) = (updated, changed) {
            self.emit_container(&c, &format!("health_status: {status}"), &[]);
        }
    }

    /// Starts container `id`'s Kubernetes probes (`pid` its process,
    /// `grace` the time a failed liveness gives it to stop).
    pub(crate) fn watch_probes(
        &self,
        c: &crate::model::Container,
        pid: i32,
        probes: Probes,
        grace: Duration,
    ) -> Watcher {
        let target = Target {
            id: c.id.clone(),
            pid,
            address: self.probe_address(c),
            grace,
        };
        self.watch(move |engine, stop| engine.kube_probe_loop(&target, &probes, stop))
    }

    /// Where httpGet and tcpSocket probes connect: the pod's address (the
    /// kubelet's choice), as the container or the one whose network it
    /// joined has it; loopback without one.
    fn probe_address(&self, c: &crate::model::Container) -> IpAddr {
        let holder = match c.host_config.network_mode.strip_prefix("container:") {
            Some(other) => self.container(other).ok(),
            None => Some(c.clone()),
        };
        holder
            .iter()
            .flat_map(|h| crate::networks::endpoints(h).into_values())
            .find_map(|e| e.ip_address.parse().ok())
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
    }

    fn kube_probe_loop(&self, t: &Target, probes: &Probes, stop: &AtomicBool) {
        if let Some(startup) = &probes.startup {
            if !sleep_unless(stop, secs(startup.initial_delay_seconds)) {
                return;
            }
            let mut failures = 0;
            loop {
                let (code, _) = self.attempt(t, startup);
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                if code == 0 {
                    break;
                }
                failures += 1;
                if failures >= startup.failure_threshold {
                    self.end_failed(t, "startup");
                    return;
                }
                if !sleep_unless(stop, secs(startup.period_seconds)) {
                    return;
                }
            }
        }
        // The health status shows readiness (liveness where there is none).
        let shown = if probes.readiness.is_some() {
            "readiness"
        } else {
            "liveness"
        };
        let now = Instant::now();
        let mut due: Vec<(&str, &KubeProbe, Instant, Streak)> = [
            ("liveness", &probes.liveness),
            ("readiness", &probes.readiness),
        ]
        .into_iter()
        .filter_map(|(role, p)| {
            let p = p.as_ref()?;
            Some((
                role,
                p,
                now + secs(p.initial_delay_seconds),
                Streak::default(),
            ))
        })
        .collect();
        loop {
            let Some(next) = due.iter().map(|d| d.2).min() else {
                return;
            };
            if !sleep_unless(stop, next.saturating_duration_since(Instant::now())) {
                return;
            }
            for (role, p, at, streak) in due.iter_mut() {
                if *at > Instant::now() {
                    continue;
                }
                *at = Instant::now() + secs(p.period_seconds);
                let start = time::now();
                let (exit_code, output) = self.attempt(t, p);
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                streak.count(exit_code == 0);
                let (passed, failed) = (
                    streak.successes >= p.success_threshold,
                    streak.failures >= p.failure_threshold,
                );
                if *role == shown {
                    let result = Probe {
                        start,
                        end: time::now(),
                        exit_code,
                        output,
                    };
                    let failures = streak.failures;
                    self.record_probe(&t.id, result, |h| {
                        h.failing_streak = failures;
                        if passed {
                            h.status = "healthy".into();
                        } else if failed {
                            h.status = "unhealthy".into();
                        }
                    });
                }
                if *role == "liveness" && failed {
                    self.end_failed(t, "liveness");
                    return;
                }
            }
        }
    }

    /// One probe: its exit code (0 passed) and what it said.
    fn attempt(&self, t: &Target, p: &KubeProbe) -> (i32, String) {
        let timeout = secs(p.timeout_seconds);
        let netns = PathBuf::from(format!("/proc/{}/ns/net", t.pid));
        match &p.action {
            Action::Exec(argv) => exec(self.root(), &self.state_dir, &t.id, argv, timeout),
            Action::Tcp { port } => {
                match berth_net::probe::tcp(&netns, t.address, *port, timeout) {
                    Ok(()) => (0, String::new()),
                    Err(e) => (1, e.to_string()),
                }
            }
            Action::Http {
                port,
                path,
                host,
                headers,
            } => {
                let addr = host
                    .as_deref()
                    .and_then(|h| h.parse().ok())
                    .unwrap_or(t.address);
                match berth_net::probe::http_get(&netns, addr, *port, path, headers, timeout) {
                    Ok(code) if (200..400).contains(&code) => (0, format!("HTTP {code}")),
                    Ok(code) => (1, format!("HTTP probe failed with statuscode: {code}")),
                    Err(e) => (1, e.to_string()),
                }
            }
        }
    }

    /// A failed liveness or startup probe ends the container as the kubelet
    /// does: SIGTERM, then SIGKILL after the grace period. Its monitor
    /// records the exit and its restart policy applies.
    fn end_failed(&self, t: &Target, role: &str) {
        tracing::warn!("container {}: {role} probe failed: ending it", &t.id[..12]);
        if let Ok(c) = self.container(&t.id) {
            self.emit_container(
                &c,
                &format!("health_status: unhealthy ({role} probe failed)"),
                &[],
            );
        }
        crate::lifecycle::terminate(t.pid, nix::sys::signal::Signal::SIGTERM, t.grace);
    }
}

/// The container a probe loop watches.
struct Target {
    id: String,
    pid: i32,
    address: IpAddr,
    grace: Duration,
}

/// Consecutive outcomes of one probe.
#[derive(Default)]
struct Streak {
    successes: u32,
    failures: u32,
}

impl Streak {
    fn count(&mut self, ok: bool) {
        if ok {
            self.successes += 1;
            self.failures = 0;
        } else {
            self.failures += 1;
            self.successes = 0;
        }
    }
}

fn secs(n: u32) -> Duration {
    Duration::from_secs(n as u64)
}

/// The label that keeps a container's Kubernetes probes (berth-kube's JSON).
pub(crate) const PROBES_LABEL: &str = "io.berth.kube.probes";

/// A container's Kubernetes probes, from its label.
pub(crate) fn kube_probes(labels: &std::collections::BTreeMap<String, String>) -> Option<Probes> {
    let p: Probes = serde_json::from_str(labels.get(PROBES_LABEL)?).ok()?;
    (!p.is_empty()).then_some(p)
}

/// Sleeps `d` unless `stop` is set first (then false).
fn sleep_unless(stop: &AtomicBool, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(
            until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50)),
        );
    }
    !stop.load(Ordering::Relaxed)
}

/// One probe: `berth exec` of `argv`, its exit code and output (stdout
/// then stderr, as docker keeps them), -1 when it ran past the timeout.
fn exec(
    root: &Path,
    state: &PathBuf,
    id: &str,
    argv: &[String],
    timeout: Duration,
) -> (i32, String) {
    let child = std::process::Command::new(crate::self_exe())
        .arg("--root")
        .arg(root)
        .arg("--state-dir")
        .arg(state)
        .arg("exec")
        .arg(id)
        .args(argv)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return (-1, format!("healthcheck could not run: {e}")),
    };
    // Pipes are drained on threads so a chatty probe cannot block on them.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + timeout;
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code().unwrap_or(-1),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return (
                    -1,
                    format!("Health check exceeded timeout ({}s)", timeout.as_secs_f64()),
                );
            }
        }
    };
    let mut text = out.join().unwrap_or_default();
    text.extend(err.join().unwrap_or_default());
    text.truncate(OUTPUT_LIMIT);
    (code, String::from_utf8_lossy(&text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_given_check_changes_the_images() {
        let image = json!({"Test": ["CMD", "true"], "Retries": 5});
        let hc = merge(Some(&image), Some(json!({"Interval": 2_000_000_000u64})))
            .unwrap()
            .unwrap();
        assert_eq!(hc["Test"], json!(["CMD", "true"]));
        assert_eq!(hc["Interval"], json!(2_000_000_000u64));
        assert_eq!(hc["Retries"], json!(5));
        let c = Check::from_config(&hc).unwrap();
        assert_eq!(
            (c.argv.as_slice(), c.retries),
            (&["true".to_string()][..], 5)
        );
        let hc = merge(
            None,
            Some(json!({"Test": ["CMD-SHELL", "curl -f localhost"]})),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            Check::from_config(&hc).unwrap().argv,
            ["/bin/sh", "-c", "curl -f localhost"]
        );
        let none = merge(Some(&image), Some(json!({"Test": ["NONE"]})))
            .unwrap()
            .unwrap();
        assert!(Check::from_config(&none).is_none());
        assert!(merge(None, Some(json!({"Test": ["CMD", "x"], "Interval": 5}))).is_err());
        assert!(merge(None, Some(json!({"Test": ["CMD", "x"], "Timeout": -1}))).is_err());
        assert_eq!(merge(None, None).unwrap(), None);
        assert_eq!(merge(Some(&image), None).unwrap(), Some(image));
    }
}
