//! Kubernetes probes (liveness, readiness, startup): read from a
//! container's YAML, kept with the container in berth's own JSON, and
//! written back for `kube generate`. Kubernetes' defaults apply.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// A container's probes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<Probe>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub action: Action,
    pub initial_delay_seconds: u32,
    pub period_seconds: u32,
    pub timeout_seconds: u32,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

/// What a probe does: a command in the container, or (done by berth from
/// the pod's network namespace, so images need no curl) an HTTP GET or a
/// TCP connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Exec(Vec<String>),
    Http {
        port: u16,
        path: String,
        /// The Host header; the pod's address when not given.
        host: Option<String>,
        headers: Vec<(String, String)>,
    },
    Tcp {
        port: u16,
    },
}

impl Probes {
    pub fn is_empty(&self) -> bool {
        self.startup.is_none() && self.liveness.is_none() && self.readiness.is_none()
    }

    /// A container's `livenessProbe`, `readinessProbe` and `startupProbe`;
    /// `port_named` turns a named port into its number.
    pub fn read(
        container: &Value,
        port_named: &dyn Fn(&str) -> Option<u16>,
    ) -> Result<Probes, String> {
        let one = |key: &str| -> Result<Option<Probe>, String> {
            match container.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => Probe::read(v, port_named)
                    .map(Some)
                    .map_err(|e| format!("{key}: {e}")),
            }
        };
        Ok(Probes {
            startup: one("startupProbe")?,
            liveness: one("livenessProbe")?,
            readiness: one("readinessProbe")?,
        })
    }

    /// The probes as a container's fields.
    pub fn write(&self, container: &mut Value) {
        for (key, p) in [
            ("startupProbe", &self.startup),
            ("livenessProbe", &self.liveness),
            ("readinessProbe", &self.readiness),
        ] {
            if let Some(p) = p {
                container[key] = p.to_value();
            }
        }
    }
}

impl Probe {
    fn read(v: &Value, port_named: &dyn Fn(&str) -> Option<u16>) -> Result<Probe, String> {
        let port = |p: &Value| -> Result<u16, String> {
            match p {
                Value::Number(n) => n
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("port {n} is not a port number")),
                Value::String(s) => s
                    .parse()
                    .ok()
                    .or_else(|| port_named(s))
                    .ok_or_else(|| format!("port {s:?} names no port of the container")),
                _ => Err("a port is needed".into()),
            }
        };
        let action = if let Some(cmd) = v["exec"]["command"].as_array() {
            let argv: Vec<String> = cmd
                .iter()
                .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_string))
                .collect();
            if argv.is_empty() {
                return Err("exec.command is empty".into());
            }
            Action::Exec(argv)
        } else if let Some(h) = v.get("httpGet") {
            if h["scheme"].as_str().is_some_and(|s| s != "HTTP") {
                return Err("httpGet.scheme HTTPS is not supported (HTTP only)".into());
            }
            Action::Http {
                port: port(&h["port"])?,
                path: h["path"].as_str().unwrap_or("/").to_string(),
                host: h["host"].as_str().map(str::to_string),
                headers: h["httpHeaders"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|h| {
                        let s = |k: &str| h[k].as_str().unwrap_or_default().to_string();
                        (s("name"), s("value"))
                    })
                    .collect(),
            }
        } else if let Some(t) = v.get("tcpSocket") {
            Action::Tcp {
                port: port(&t["port"])?,
            }
        } else if v.get("grpc").is_some() {
            return Err("grpc probes are not supported (exec, httpGet or tcpSocket)".into());
        } else {
            return Err("needs exec, httpGet or tcpSocket".into());
        };
        let n = |key: &str, default: u32, least: u32| -> Result<u32, String> {
            match v.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(x) => x
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| *n >= least)
                    .ok_or_else(|| format!("{key} must be a whole number of at least {least}")),
            }
        };
        Ok(Probe {
            action,
            initial_delay_seconds: n("initialDelaySeconds", 0, 0)?,
            period_seconds: n("periodSeconds", 10, 1)?,
            timeout_seconds: n("timeoutSeconds", 1, 1)?,
            success_threshold: n("successThreshold", 1, 1)?,
            failure_threshold: n("failureThreshold", 3, 1)?,
        })
    }

    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        match &self.action {
            Action::Exec(argv) => {
                out.insert("exec".into(), json!({ "command": argv }));
            }
            Action::Http {
                port,
                path,
                host,
                headers,
            } => {
                let mut h = json!({"path": path, "port": port});
                if let Some(host) = host {
                    h["host"] = json!(host);
                }
                if !headers.is_empty() {
                    h["httpHeaders"] = headers
                        .iter()
                        .map(|(k, v)| json!({"name": k, "value": v}))
                        .collect();
                }
                out.insert("httpGet".into(), h);
            }
            Action::Tcp { port } => {
                out.insert("tcpSocket".into(), json!({ "port": port }));
            }
        }
        for (k, v) in [
            ("initialDelaySeconds", self.initial_delay_seconds),
            ("periodSeconds", self.period_seconds),
            ("timeoutSeconds", self.timeout_seconds),
            ("successThreshold", self.success_threshold),
            ("failureThreshold", self.failure_threshold),
        ] {
            out.insert(k.into(), json!(v));
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_read_with_defaults_named_ports_and_write_back() {
        let c = json!({
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 2},
            "readinessProbe": {"tcpSocket": {"port": 8080}},
            "startupProbe": {"exec": {"command": ["cat", "/ready"]}, "failureThreshold": 30},
        });
        let named = |n: &str| (n == "http").then_some(8080);
        let p = Probes::read(&c, &named).unwrap();
        let live = p.liveness.as_ref().unwrap();
        assert_eq!(
            live.action,
            Action::Http {
                port: 8080,
                path: "/healthz".into(),
                host: None,
                headers: vec![]
            }
        );
        assert_eq!((live.period_seconds, live.timeout_seconds), (2, 1));
        assert_eq!(p.startup.as_ref().unwrap().failure_threshold, 30);
        let mut back = json!({});
        p.write(&mut back);
        assert_eq!(Probes::read(&back, &|_| None).unwrap(), p);
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Probes>(&text).unwrap(), p);
        for bad in [
            json!({"livenessProbe": {"httpGet": {"port": "web"}}}),
            json!({"livenessProbe": {"grpc": {"port": 1}}}),
            json!({"livenessProbe": {}}),
            json!({"readinessProbe": {"tcpSocket": {"port": 1}, "periodSeconds": 0}}),
        ] {
            assert!(Probes::read(&bad, &named).is_err(), "{bad}");
        }
    }
}
