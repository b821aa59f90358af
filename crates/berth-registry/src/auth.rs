//! Credentials, stored where docker keeps them (`$DOCKER_CONFIG/config.json`,
//! default `~/.docker/config.json`): `auths` entries, or a `credsStore` /
//! `credHelpers` helper program (`docker-credential-NAME`), so what `docker
//! login` saved works here and the other way round.
//!
//! Secrets never reach an error message: errors name the server and the helper.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Map, Value};

use crate::RegistryError;

/// The key docker uses for Docker Hub in `auths` and with helpers.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The `config.json` docker's CLI reads and writes.
pub struct DockerConfig {
    path: PathBuf,
    doc: Map<String, Value>,
}

/// The key a registry's credentials are stored under.
pub fn server_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | DOCKER_HUB_KEY => {
            DOCKER_HUB_KEY.to_string()
        }
        other => other.to_string(),
    }
}

fn default_path() -> PathBuf {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/root"))
                .join(".docker")
        });
    dir.join("config.json")
}

impl DockerConfig {
    pub fn load() -> Result<Self, RegistryError> {
        Self::load_from(default_path())
    }

    pub fn load_from(path: PathBuf) -> Result<Self, RegistryError> {
        let doc = match std::fs::read(&path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                RegistryError::Config(format!("{}: not valid JSON: {e}", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(RegistryError::Config(format!("{}: {e}", path.display()))),
        };
        Ok(DockerConfig { path, doc })
    }

    fn helper_for(&self, key: &str) -> Option<String> {
        let by_host = self
            .doc
            .get("credHelpers")
            .and_then(|h| h.get(crate::config::host_of(key)))
            .or_else(|| self.doc.get("credHelpers").and_then(|h| h.get(key)));
        by_host
            .or_else(|| self.doc.get("credsStore"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from)
    }

    /// The saved credential for `registry`, if any.
    pub fn get(&self, registry: &str) -> Result<Option<Credential>, RegistryError> {
        let key = server_key(registry);
        if let Some(helper) = self.helper_for(&key) {
            return helper_get(&helper, &key);
        }
        let Some(auths) = self.doc.get("auths").and_then(Value::as_object) else {
            return Ok(None);
        };
        // docker also accepts entries written with a scheme or a path.
        let entry = auths
            .iter()
            .find(|(k, _)| *k == &key || crate::config::host_of(k) == crate::config::host_of(&key));
        let Some((_, entry)) = entry else {
            return Ok(None);
        };
        if let Some(auth) = entry
            .get("auth")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| {
                    s.split_once(':')
                        .map(|(u, p)| (u.to_string(), p.to_string()))
                });
            return match decoded {
                Some((username, secret)) => Ok(Some(Credential { username, secret })),
                None => Err(RegistryError::Config(format!(
                    "{}: the saved credentials for {key} are not valid base64 \"user:password\"; run `berth login {registry}` again",
                    self.path.display()
                ))),
            };
        }
        if let Some(token) = entry.get("identitytoken").and_then(Value::as_str) {
            return Ok(Some(Credential {
                username: "<token>".into(),
                secret: token.into(),
            }));
        }
        Ok(None)
    }

    /// Saves a credential (through the helper when one is configured).
    pub fn store(&mut self, registry: &str, cred: &Credential) -> Result<(), RegistryError> {
        let key = server_key(registry);
        if let Some(helper) = self.helper_for(&key) {
            let input = serde_json::json!({"ServerURL": key, "Username": cred.username, "Secret": cred.secret});
            helper_run(&helper, "store", &input.to_string())?;
            // docker leaves an empty entry so `auths` still lists the server.
            self.auths().insert(key, Value::Object(Map::new()));
        } else {
            let auth = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", cred.username, cred.secret));
            self.auths()
                .insert(key, serde_json::json!({ "auth": auth }));
        }
        self.save()
    }

    /// Forgets a credential; false when none was saved.
    pub fn erase(&mut self, registry: &str) -> Result<bool, RegistryError> {
        let key = server_key(registry);
        let had = self.auths().remove(&key).is_some();
        if let Some(helper) = self.helper_for(&key) {
            // Helpers fail for unknown servers; nothing to erase is not an error.
            let erased = helper_run(&helper, "erase", &key).is_ok();
            self.save()?;
            return Ok(had || erased);
        }
        if had {
            self.save()?;
        }
        Ok(had)
    }

    /// A config.json of every saved credential resolved (through helpers
    /// too) into plain `auths`, for a container given the user's logins.
    pub fn resolved(&self) -> Result<Value, RegistryError> {
        let mut servers: Vec<&String> = Vec::new();
        for section in ["auths", "credHelpers"] {
            if let Some(m) = self.doc.get(section).and_then(Value::as_object) {
                servers.extend(m.keys());
            }
        }
        let mut auths = Map::new();
        for server in servers {
            if let Some(c) = self.get(server)? {
                let auth = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", c.username, c.secret));
                auths.insert(server.clone(), serde_json::json!({ "auth": auth }));
            }
        }
        Ok(serde_json::json!({ "auths": auths }))
    }

    fn auths(&mut self) -> &mut Map<String, Value> {
        let v = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !v.is_object() {
            *v = Value::Object(Map::new());
        }
        v.as_object_mut().expect("made an object")
    }

    /// Writes the file atomically with mode 0600 (it holds secrets).
    fn save(&self) -> Result<(), RegistryError> {
        use std::os::unix::fs::OpenOptionsExt;
        let err =
            |e: std::io::Error| RegistryError::Config(format!("{}: {e}", self.path.display()));
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        let text = serde_json::to_string_pretty(&self.doc).expect("json serialises");
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)
    }
}

fn helper_get(helper: &str, key: &str) -> Result<Option<Credential>, RegistryError> {
    let out = match helper_run(helper, "get", key) {
        Ok(out) => out,
        // docker-credential-* say "credentials not found in native keychain".
        Err(RegistryError::Config(m)) if m.contains("not found") => return Ok(None),
        Err(e) => return Err(e),
    };
    let v: Value = serde_json::from_str(&out).map_err(|_| {
        RegistryError::Config(format!(
            "docker-credential-{helper} get: its answer is not the JSON docker's helpers write"
        ))
    })?;
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (username, secret) = (field("Username"), field("Secret"));
    if secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credential { username, secret }))
}

fn helper_run(helper: &str, verb: &str, input: &str) -> Result<String, RegistryError> {
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            RegistryError::Config(format!(
                "credential helper {program} could not be run ({e}); install it or remove it from config.json"
            ))
        })?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())
        .ok();
    let out = child
        .wait_with_output()
        .map_err(|e| RegistryError::Config(format!("{program} {verb}: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        // Helpers print their error on stdout; it holds no secret.
        let why = if stdout.is_empty() {
            String::from_utf8_lossy(&out.stderr).trim().to_string()
        } else {
            stdout
        };
        return Err(RegistryError::Config(format!("{program} {verb}: {why}")));
    }
    Ok(stdout)
}

/// A `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Parses `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    let mut realm = None;
    let mut service = None;
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match key.as_str() {
            "realm" => realm = Some(value.to_string()),
            "service" => service = Some(value.to_string()),
            _ => {}
        }
        rest = next.trim_start_matches(',').trim();
    }
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: realm?,
            service,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into())
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="berth-test""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge(r#"Bearer service="x""#), None);
    }

    #[test]
    fn auths_round_trip_and_docker_entries_are_read() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("config.json");
        // What docker writes for Docker Hub and a private registry.
        std::fs::write(
            &path,
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTE6cDE="},"https://r.example.com":{"auth":"dTI6cDI6eA=="}},"psFormat":"x"}"#,
        )
        .unwrap();
        let mut c = DockerConfig::load_from(path.clone()).unwrap();
        assert_eq!(c.get("docker.io").unwrap().unwrap().secret, "p1");
        let r = c.get("r.example.com").unwrap().unwrap();
        assert_eq!((r.username.as_str(), r.secret.as_str()), ("u2", "p2:x"));
        assert!(c.get("127.0.0.1:5000").unwrap().is_none());
        let cred = Credential {
            username: "me".into(),
            secret: "s3cret".into(),
        };
        c.store("127.0.0.1:5000", &cred).unwrap();
        let again = DockerConfig::load_from(path.clone()).unwrap();
        assert_eq!(again.get("127.0.0.1:5000").unwrap(), Some(cred));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("psFormat"), "other settings are kept");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let mut c = again;
        assert!(c.erase("127.0.0.1:5000").unwrap());
        assert!(!c.erase("127.0.0.1:5000").unwrap());
        assert!(DockerConfig::load_from(path)
            .unwrap()
            .get("127.0.0.1:5000")
            .unwrap()
            .is_none());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Credential {
            username: "u".into(),
            secret: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
