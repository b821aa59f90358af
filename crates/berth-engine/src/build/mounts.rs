//! `RUN --mount=...`: cache mounts (kept across builds, never in the image),
//! tmpfs, read-only binds from the context or a stage, and secrets (a file or
//! an env var, never in a layer, the cache key or history).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use berth_runtime::MountSpec;

use crate::{Engine, EngineError};

/// A `--secret id=...,src=PATH|env=VAR` given to the build.
#[derive(Clone, Debug)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

/// Parses `--secret id=x,src=path` / `id=x,env=VAR` (docker's syntax).
pub fn parse_secret(spec: &str) -> Result<(String, SecretSource), EngineError> {
    let fields = fields(spec);
    let id = fields.get("id").cloned().ok_or_else(|| {
        EngineError::invalid(format!("invalid --secret {spec:?}: id= is required"))
    })?;
    let source = match (
        fields.get("src").or(fields.get("source")),
        fields.get("env"),
    ) {
        (Some(p), _) => SecretSource::File(PathBuf::from(p)),
        (None, Some(v)) => SecretSource::Env(v.clone()),
        (None, None) => SecretSource::Env(id.clone()),
    };
    Ok((id, source))
}

fn fields(spec: &str) -> BTreeMap<String, String> {
    spec.split(',')
        .filter(|f| !f.is_empty())
        .map(|f| match f.split_once('=') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => (f.trim().to_string(), "true".to_string()),
        })
        .collect()
}

/// What a RUN's mounts add: container mounts, env vars, and targets whose
/// mount-point stubs must not stay in the layer.
#[derive(Default)]
pub struct Prepared {
    pub mounts: Vec<MountSpec>,
    pub env: Vec<String>,
    pub stubs: Vec<String>,
    /// Cache locks held for the step (released on drop).
    _locks: Vec<std::fs::File>,
    _secret_dirs: Vec<berth_store::TempDir>,
}

/// Turns a RUN's `--mount` flags into mounts. `source_root` resolves a bind's
/// `from=` (a stage or image mount) or the context.
pub fn prepare(
    engine: &Engine,
    flags: &[String],
    workdir: &str,
    secrets: &BTreeMap<String, SecretSource>,
    source_root: &dyn Fn(Option<&str>) -> Result<PathBuf, EngineError>,
) -> Result<Prepared, EngineError> {
    let mut p = Prepared::default();
    for f in flags.iter().filter_map(|f| f.strip_prefix("--mount=")) {
        let m = fields(f);
        let kind = m.get("type").map(String::as_str).unwrap_or("bind");
        let target = m
            .get("target")
            .or(m.get("dst"))
            .or(m.get("destination"))
            .cloned();
        let abs = |t: &str| {
            if t.starts_with('/') {
                t.to_string()
            } else {
                format!("{}/{t}", workdir.trim_end_matches('/'))
            }
        };
        match kind {
            "cache" => {
                let target = abs(&target.ok_or_else(|| {
                    EngineError::invalid(format!("--mount={f}: target is required"))
                })?);
                let id = m.get("id").cloned().unwrap_or_else(|| target.clone());
                let dir = engine
                    .root()
                    .join("cache")
                    .join(berth_image::Digest::of(id.as_bytes()).hex());
                let fresh = !dir.exists();
                std::fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
                if fresh {
                    let num = |k: &str, d: u32, radix: u32| {
                        m.get(k)
                            .map(|v| u32::from_str_radix(v, radix))
                            .transpose()
                            .map(|v| v.unwrap_or(d))
                    };
                    let (uid, gid, mode) =
                        (num("uid", 0, 10), num("gid", 0, 10), num("mode", 0o755, 8));
                    let (Ok(uid), Ok(gid), Ok(mode)) = (uid, gid, mode) else {
                        return Err(EngineError::invalid(format!(
                            "--mount={f}: uid, gid and mode must be numbers"
                        )));
                    };
                    std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                        .map_err(|e| EngineError::io(&dir, e))?;
                    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
                        .map_err(|e| EngineError::io(&dir, e))?;
                }
                match m.get("sharing").map(String::as_str).unwrap_or("shared") {
                    "shared" => {}
                    "locked" | "private" => {
                        let lock = std::fs::File::create(dir.with_extension("lock"))
                            .map_err(|e| EngineError::io(&dir, e))?;
                        rustix_flock(&lock)?;
                        p._locks.push(lock);
                    }
                    other => {
                        return Err(EngineError::invalid(format!(
                            "--mount={f}: sharing={other} is not shared, private or locked"
                        )))
                    }
                }
                p.mounts.push(MountSpec::Bind {
                    source: dir,
                    destination: target.clone(),
                    read_only: m.get("readonly").or(m.get("ro")).is_some(),
                });
                p.stubs.push(target);
            }
            "tmpfs" => {
                let target = abs(&target.ok_or_else(|| {
                    EngineError::invalid(format!("--mount={f}: target is required"))
                })?);
                let options = m
                    .get("size")
                    .map(|s| vec![format!("size={s}")])
                    .unwrap_or_default();
                p.mounts.push(MountSpec::Tmpfs {
                    destination: target.clone(),
                    options,
                });
                p.stubs.push(target);
            }
            "bind" => {
                let target = abs(&target.ok_or_else(|| {
                    EngineError::invalid(format!("--mount={f}: target is required"))
                })?);
                if m.get("rw").or(m.get("readwrite")).is_some() {
                    return Err(EngineError::invalid(format!(
                        "--mount={f}: read-write bind mounts are not supported yet"
                    )));
                }
                let root = source_root(m.get("from").map(String::as_str))?;
                let src = m
                    .get("source")
                    .or(m.get("src"))
                    .cloned()
                    .unwrap_or_default();
                let source = berth_image::layer::resolve_in(
                    &root,
                    Path::new(&format!("/{}", src.trim_start_matches('/'))),
                )
                .map_err(|e| EngineError::invalid(format!("--mount={f}: {e}")))?;
                if !source.exists() {
                    return Err(EngineError::invalid(format!(
                        "--mount={f}: source {src:?} not found"
                    )));
                }
                p.mounts.push(MountSpec::Bind {
                    source,
                    destination: target.clone(),
                    read_only: true,
                });
                p.stubs.push(target);
            }
            "secret" => {
                let id = m
                    .get("id")
                    .cloned()
                    .or_else(|| {
                        target
                            .as_ref()
                            .and_then(|t| Path::new(t).file_name())
                            .map(|n| n.to_string_lossy().into_owned())
                    })
                    .ok_or_else(|| EngineError::invalid(format!("--mount={f}: id is required")))?;
                let required = m.get("required").is_some_and(|v| v == "true");
                let value = match secrets.get(&id) {
                    Some(SecretSource::File(path)) => Some(std::fs::read(path).map_err(|e| {
                        EngineError::invalid(format!(
                            "secret {id}: reading {}: {e}",
                            path.display()
                        ))
                    })?),
                    Some(SecretSource::Env(var)) => std::env::var(var).ok().map(String::into_bytes),
                    None => None,
                };
                let Some(value) = value else {
                    if required {
                        return Err(EngineError::invalid(format!("secret {id} not found: pass it with --secret id={id},src=FILE (or env=VAR)")));
                    }
                    continue;
                };
                if let Some(var) = m.get("env") {
                    p.env
                        .push(format!("{var}={}", String::from_utf8_lossy(&value)));
                    if target.is_none() {
                        continue;
                    }
                }
                let dir = engine.store.temp_dir("secret")?;
                let file = dir.path().join("value");
                std::fs::write(&file, &value).map_err(|e| EngineError::io(&file, e))?;
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o400))
                    .map_err(|e| EngineError::io(&file, e))?;
                let target = abs(&target.unwrap_or_else(|| format!("/run/secrets/{id}")));
                p.mounts.push(MountSpec::Bind {
                    source: file,
                    destination: target.clone(),
                    read_only: true,
                });
                p.stubs.push(target);
                p._secret_dirs.push(dir);
            }
            "ssh" => {
                return Err(EngineError::invalid(
                    "--mount=type=ssh is not supported yet",
                ))
            }
            other => {
                return Err(EngineError::invalid(format!(
                    "--mount={f}: unknown mount type {other:?} (cache, bind, tmpfs, secret)"
                )))
            }
        }
    }
    Ok(p)
}

fn rustix_flock(f: &std::fs::File) -> Result<(), EngineError> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(EngineError::io(
            Path::new("cache lock"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Removes the empty files and directories the runtime created as mount
/// points in the upper directory: they are not part of what the step made.
pub fn remove_stubs(upper: &Path, stubs: &[String]) {
    for s in stubs {
        let p = upper.join(s.trim_start_matches('/'));
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_file() && m.len() == 0 => {
                let _ = std::fs::remove_file(&p);
            }
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir(&p);
            }
            _ => {}
        }
    }
}
