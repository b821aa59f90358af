//! Healthchecks: the image's HEALTHCHECK or `--health-*`, probed by a thread
//! of whoever holds the running container (its monitor, or the foreground
//! berth), each probe a `berth exec` in the container; the outcome lands in
//! `State.Health` as docker records it (status, failing streak, last five
//! probes).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
    /// Starts probing container `id` with `check` (on a thread with its own
    /// connection to the store).
    pub(crate) fn watch_health(&self, id: &str, check: Check) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let (root, state, id) = (
            self.root().to_path_buf(),
            self.state_dir.clone(),
            id.to_string(),
        );
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            if let Ok(engine) = Engine::open(&root, &state) {
                engine.probe_loop(&id, &check, &flag);
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
            let (exit_code, output) = probe(self.root(), &self.state_dir, id, check);
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
            let mut changed = None;
            let updated = self.update(id, |c| {
                let h = c.state.health.get_or_insert_with(Health::default);
                let before = h.status.clone();
                h.log.push(result);
                if h.log.len() > KEPT {
                    h.log.remove(0);
                }
                if exit_code == 0 {
                    h.status = "healthy".into();
                    h.failing_streak = 0;
                } else if !in_start_period {
                    h.failing_streak += 1;
                    if h.failing_streak >= check.retries {
                        h.status = "unhealthy".into();
                    }
                }
                if h.status != before {
                    changed = Some(h.status.clone());
                }
            });
            if let (Ok(c), Some(status)) = (updated, changed) {
                self.emit_container(&c, &format!("health_status: {status}"), &[]);
            }
        }
    }
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

/// One probe: `berth exec` of the test, its exit code and output (stdout
/// then stderr, as docker keeps them), -1 when it ran past the timeout.
fn probe(root: &Path, state: &PathBuf, id: &str, check: &Check) -> (i32, String) {
    let child = std::process::Command::new(crate::self_exe())
        .arg("--root")
        .arg(root)
        .arg("--state-dir")
        .arg(state)
        .arg("exec")
        .arg(id)
        .args(&check.argv)
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
    let deadline = Instant::now() + check.timeout;
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code().unwrap_or(-1),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return (
                    -1,
                    format!(
                        "Health check exceeded timeout ({}s)",
                        check.timeout.as_secs_f64()
                    ),
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
