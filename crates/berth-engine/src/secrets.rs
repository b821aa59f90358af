//! Secrets: values kept 0600 under the store root (never in a record),
//! given to containers at start — a file on a private tmpfs bound into
//! the container (`/run/secrets/NAME` by default), or an environment
//! variable of its process — so that they never reach an image layer,
//! `commit`, `export`, `diff`, logs, `inspect` or events.

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_runtime::MountSpec;
use berth_store::db::NamedRow;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::filters::{labels_match, Filters};
use crate::model::Container;
use crate::{time, Engine, EngineError};

/// Docker's limit on a secret's size.
const MAX_SIZE: usize = 500 * 1024;

/// A secret's metadata, as the store keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Secret {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: String,
}

impl crate::named::Named for Secret {
    const WHAT: &'static str = "secret";
    fn id(&self) -> &str {
        &self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// How a container gets a secret (`--secret`, `HostConfig.Secrets`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SecretRef {
    /// The secret's name.
    pub source: String,
    /// Its id, fixed at create.
    #[serde(rename = "ID")]
    pub id: String,
    /// A path in the container (type mount) or a variable's name (env).
    pub target: String,
    #[serde(rename = "UID")]
    pub uid: u32,
    #[serde(rename = "GID")]
    pub gid: u32,
    pub mode: u32,
    /// `mount` or `env`.
    #[serde(rename = "Type")]
    pub kind: String,
}

/// docker's rule for secret names: 1 to 64 of `[a-zA-Z0-9-_.]`, starting
/// and ending with a letter or digit.
fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `--secret NAME` or `--secret source=NAME,target=PATH,uid=,gid=,mode=,type=mount|env`.
pub fn parse_flag(flag: &str) -> Result<SecretRef, EngineError> {
    let mut r = SecretRef {
        mode: 0o444,
        kind: "mount".into(),
        ..Default::default()
    };
    if !flag.contains('=') {
        r.source = flag.to_string();
    } else {
        for part in flag.split(',') {
            let (k, v) = part.split_once('=').ok_or_else(|| {
                EngineError::invalid(format!(
                    "invalid --secret {flag:?}: {part:?} is not key=value"
                ))
            })?;
            let number = |radix| {
                u32::from_str_radix(v, radix).map_err(|_| {
                    EngineError::invalid(format!(
                        "invalid --secret {flag:?}: {k}={v} is not a number"
                    ))
                })
            };
            match k {
                "source" | "src" => r.source = v.to_string(),
                "target" | "dst" | "destination" => r.target = v.to_string(),
                "uid" => r.uid = number(10)?,
                "gid" => r.gid = number(10)?,
                "mode" => r.mode = number(8)?,
                "type" if v == "mount" || v == "env" => r.kind = v.to_string(),
                "type" => {
                    return Err(EngineError::invalid(format!(
                        "invalid --secret {flag:?}: type must be mount or env"
                    )))
                }
                other => {
                    return Err(EngineError::invalid(format!(
                        "invalid --secret {flag:?}: unknown option {other:?} (use source, target, uid, gid, mode, type)"
                    )))
                }
            }
        }
    }
    if r.source.is_empty() {
        return Err(EngineError::invalid(format!(
            "invalid --secret {flag:?}: it names no secret (source=NAME)"
        )));
    }
    Ok(r)
}

impl Engine {
    /// `secret create NAME FILE|-`: its id.
    pub fn create_secret(
        &self,
        name: &str,
        value: &[u8],
        labels: &BTreeMap<String, String>,
        driver: Option<&str>,
    ) -> Result<String, EngineError> {
        if !valid_name(name) {
            return Err(EngineError::invalid(format!(
                "invalid secret name {name:?}: only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]"
            )));
        }
        match driver {
            None | Some("file") => {}
            Some(d) => {
                return Err(EngineError::invalid(format!(
                    "secret driver {d:?} is not supported: berth keeps secrets with the file driver"
                )))
            }
        }
        if value.is_empty() || value.len() > MAX_SIZE {
            return Err(EngineError::invalid(
                "secret data must be larger than 0 and less than 500KB",
            ));
        }
        if self.find_secret(name).is_ok() {
            return Err(EngineError::Conflict(format!(
                "secret {name} already exists"
            )));
        }
        let id = berth_store::random_hex(12);
        let now = time::now();
        let secret = Secret {
            id: id.clone(),
            name: name.to_string(),
            driver: "file".into(),
            labels: labels.clone(),
            created_at: now.clone(),
            updated_at: now,
        };
        // The value first: a record never points at a missing one.
        self.store.put_secret_value(&id, value)?;
        let row = NamedRow {
            id: id.clone(),
            name: name.to_string(),
            record: serde_json::to_string(&secret).expect("secret serialises"),
        };
        if !self.store.db.add_secret(&row)? {
            self.store.remove_secret_value(&id);
            return Err(EngineError::Conflict(format!(
                "secret {name} already exists"
            )));
        }
        self.emit(
            "secret",
            "create",
            &id,
            BTreeMap::from([("name".into(), name.into())]),
        );
        Ok(id)
    }

    pub fn list_secrets(&self) -> Result<Vec<Secret>, EngineError> {
        crate::named::parse(self.store.db.secrets()?)
    }

    /// `secret ls --filter` (`id`, `name`, `label`, `driver`).
    pub fn select_secrets(&self, f: &Filters) -> Result<Vec<Secret>, EngineError> {
        Ok(self
            .list_secrets()?
            .into_iter()
            .filter(|s| {
                f.matches(|k, v| match k {
                    "id" => s.id.starts_with(v),
                    "name" => s.name.contains(v),
                    "label" => labels_match(&s.labels, v),
                    "driver" => s.driver == v,
                    _ => true,
                })
            })
            .collect())
    }

    /// A secret by name, id or unique id prefix.
    pub fn find_secret(&self, key: &str) -> Result<Secret, EngineError> {
        crate::named::find(&self.list_secrets()?, key)
            .ok_or_else(|| EngineError::NoSuchSecret(key.to_string()))
    }

    /// `secret inspect`: the metadata, as docker's Secret object, never the value.
    pub fn inspect_secret(&self, key: &str) -> Result<Value, EngineError> {
        let s = self.find_secret(key)?;
        Ok(json!({
            "ID": s.id,
            "Version": {"Index": 1},
            "CreatedAt": s.created_at,
            "UpdatedAt": s.updated_at,
            "Spec": {"Name": s.name, "Labels": s.labels, "Driver": {"Name": s.driver, "Options": {}}},
        }))
    }

    /// The containers (names) that were given secret `id`.
    fn secret_users(&self, id: &str) -> Result<Vec<String>, EngineError> {
        Ok(self
            .list_containers()?
            .into_iter()
            .filter(|c| c.host_config.secrets.iter().any(|r| r.id == id))
            .map(|c| c.short_name().to_string())
            .collect())
    }

    /// `secret rm`: refused while a container uses it, unless `force`.
    pub fn remove_secret(&self, key: &str, force: bool) -> Result<(), EngineError> {
        let s = self.find_secret(key)?;
        let users = self.secret_users(&s.id)?;
        if !users.is_empty() && !force {
            return Err(EngineError::Conflict(format!(
                "secret {} is in use by container(s) {}: remove them first, or use -f",
                s.name,
                users.join(", ")
            )));
        }
        self.store.db.remove_secret(&s.id)?;
        self.store.remove_secret_value(&s.id);
        self.emit(
            "secret",
            "remove",
            &s.id,
            BTreeMap::from([("name".into(), s.name.clone())]),
        );
        Ok(())
    }

    /// Checks a container's secrets at create: each exists (its id is
    /// recorded), targets are absolute (`/run/secrets/` before a relative
    /// one) and no two share one.
    pub(crate) fn resolve_secrets(&self, refs: &mut [SecretRef]) -> Result<(), EngineError> {
        let mut targets = std::collections::HashSet::new();
        for r in refs.iter_mut() {
            let s = self.find_secret(&r.source).map_err(|_| {
                EngineError::invalid(format!(
                    "no such secret: {}: create it first with `berth secret create {} FILE`",
                    r.source, r.source
                ))
            })?;
            r.id = s.id;
            r.source = s.name;
            if r.kind.is_empty() {
                r.kind = "mount".into();
            }
            if r.target.is_empty() {
                r.target = r.source.clone();
            }
            if r.kind == "mount" && !r.target.starts_with('/') {
                r.target = format!("/run/secrets/{}", r.target);
            }
            if r.kind == "env" && (r.target.contains('=') || r.target.contains('/')) {
                return Err(EngineError::invalid(format!(
                    "invalid secret target {:?} for type env: a variable name",
                    r.target
                )));
            }
            if !targets.insert((r.kind.clone(), r.target.clone())) {
                return Err(EngineError::invalid(format!(
                    "secret target {} is given twice",
                    r.target
                )));
            }
        }
        Ok(())
    }

    /// Where a running container's secret files are: a tmpfs of its own.
    fn secrets_dir(&self, id: &str) -> PathBuf {
        self.state_dir.join("secrets").join(id)
    }

    /// The runtime bundle of a running container (its config.json).
    pub(crate) fn bundle_dir(&self, id: &str) -> PathBuf {
        self.state_dir.join("bundles").join(id)
    }

    /// At start: the binds and variables that give `c` its secrets. The
    /// files go to a private tmpfs (memory, never the store's disk).
    pub(crate) fn secret_edits(
        &self,
        c: &Container,
    ) -> Result<(Vec<MountSpec>, Vec<String>), EngineError> {
        let refs = &c.host_config.secrets;
        let (mut mounts, mut env) = (Vec::new(), Vec::new());
        if refs.is_empty() {
            return Ok((mounts, env));
        }
        let dir = self.secrets_dir(&c.id);
        if refs.iter().any(|r| r.kind == "mount") {
            mount_private_tmpfs(&dir)?;
        }
        // Files under /run/secrets share one bind of a directory, so that the
        // container's layer holds no mount point named after a secret.
        let shared = dir.join("run-secrets");
        let mut share = false;
        for (i, r) in refs.iter().enumerate() {
            if r.kind == "env" {
                continue;
            }
            let value = self.secret_bytes(r)?;
            let file = match r.target.strip_prefix("/run/secrets/") {
                Some(rel) => {
                    share = true;
                    shared.join(rel)
                }
                None => dir.join(format!("{i}")),
            };
            write_secret_file(&file, &value, r).map_err(|e| EngineError::io(&file, e))?;
            if !file.starts_with(&shared) {
                mounts.push(MountSpec::Bind {
                    source: file,
                    destination: r.target.clone(),
                    read_only: true,
                });
            }
        }
        if share {
            mounts.push(MountSpec::Bind {
                source: shared,
                destination: "/run/secrets".into(),
                read_only: true,
            });
        }
        env.extend(self.secret_env(c)?);
        Ok((mounts, env))
    }

    /// `type=env` secrets as `NAME=value`, for the container's process and
    /// each exec (never in the record's environment).
    pub(crate) fn secret_env(&self, c: &Container) -> Result<Vec<String>, EngineError> {
        c.host_config
            .secrets
            .iter()
            .filter(|r| r.kind == "env")
            .map(|r| {
                let value = self.secret_bytes(r)?;
                Ok(format!(
                    "{}={}",
                    r.target,
                    String::from_utf8_lossy(&value).trim_end_matches('\n')
                ))
            })
            .collect()
    }

    fn secret_bytes(&self, r: &SecretRef) -> Result<Vec<u8>, EngineError> {
        self.store.secret_value(&r.id).map_err(|_| {
            EngineError::invalid(format!(
                "secret {} was removed: recreate it, or the container without it",
                r.source
            ))
        })
    }

    /// Drops a stopped container's secret files and runtime bundle.
    pub(crate) fn release_secrets(&self, id: &str) {
        let dir = self.secrets_dir(id);
        if dir.exists() {
            let _ = berth_store::snapshot::unmount(&dir);
            let _ = std::fs::remove_dir_all(&dir);
        }
        let _ = std::fs::remove_dir_all(self.bundle_dir(id));
    }
}

/// A directory only root may enter.
pub(crate) fn create_private_dir(dir: &std::path::Path) -> Result<(), EngineError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(dir)
        .map_err(|e| EngineError::io(dir, e))
}

fn mount_private_tmpfs(dir: &std::path::Path) -> Result<(), EngineError> {
    create_private_dir(dir)?;
    if !berth_store::snapshot::is_mounted(dir) {
        rustix::mount::mount(
            "berth-secrets",
            dir,
            "tmpfs",
            rustix::mount::MountFlags::NOSUID
                | rustix::mount::MountFlags::NODEV
                | rustix::mount::MountFlags::NOEXEC,
            Some(c"mode=0700,size=16m"),
        )
        .map_err(|e| EngineError::io(dir, e.into()))?;
    }
    Ok(())
}

fn write_secret_file(path: &std::path::Path, value: &[u8], r: &SecretRef) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, value)?;
    std::os::unix::fs::chown(path, Some(r.uid), Some(r.gid))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(r.mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_flags() {
        assert!(valid_name("db_password"));
        assert!(valid_name("a"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("x/y"));
        assert!(!valid_name(&"a".repeat(65)));
        let r = parse_flag("db").unwrap();
        assert_eq!(
            (r.source.as_str(), r.mode, r.kind.as_str()),
            ("db", 0o444, "mount")
        );
        let r = parse_flag("source=db,target=/etc/db.pass,uid=1000,gid=50,mode=0400").unwrap();
        assert_eq!((r.uid, r.gid, r.mode), (1000, 50, 0o400));
        assert_eq!(r.target, "/etc/db.pass");
        assert_eq!(
            parse_flag("src=db,type=env,target=DB_PASS").unwrap().kind,
            "env"
        );
        assert!(parse_flag("source=db,mode=999").is_err());
        assert!(parse_flag("source=db,type=file").is_err());
        assert!(parse_flag("target=/x").is_err());
        assert!(parse_flag("source=db,color=red").is_err());
    }
}
