//! Volumes: named or anonymous directories under `volumes/NAME/_data` (as
//! docker's local driver keeps them) that outlive containers. A container
//! names them in HostConfig.Mounts (type `volume`); the first container to
//! mount an empty one gets the image's content at that path copied in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_store::db::VolumeRow;
use serde_json::{json, Value};

use crate::model::Container;
use crate::{names, time, Engine, EngineError};

#[derive(Clone, Debug)]
pub struct Volume {
    pub name: String,
    pub created: String,
    pub labels: BTreeMap<String, String>,
    pub anonymous: bool,
    pub mountpoint: PathBuf,
}

impl Engine {
    /// Where volume `name`'s data lives: its own directory, or the host
    /// directory a `type=none,o=bind,device=PATH` volume names.
    pub fn volume_path(&self, name: &str) -> PathBuf {
        self.data_path(name, self.volume_options(name).as_ref())
    }

    /// Where the data of volume `name`, with `options`, lives.
    fn data_path(&self, name: &str, options: Option<&BTreeMap<String, String>>) -> PathBuf {
        let own = self.root().join("volumes").join(name).join("_data");
        match options {
            Some(o) if o.get("type").map(String::as_str) == Some("none") => {
                o.get("device").map(PathBuf::from).unwrap_or(own)
            }
            _ => own,
        }
    }

    fn volume_options(&self, name: &str) -> Option<BTreeMap<String, String>> {
        let row = self.store.db.volume(name).ok()??;
        serde_json::from_str(&row.options).ok()
    }

    /// A tmpfs volume is mounted on its directory when a container first
    /// needs it, and stays until the volume is removed.
    pub(crate) fn mount_volume_if_tmpfs(&self, name: &str) -> Result<(), EngineError> {
        let Some(o) = self.volume_options(name) else {
            return Ok(());
        };
        if o.get("type").map(String::as_str) != Some("tmpfs") {
            return Ok(());
        }
        let dir = self.root().join("volumes").join(name).join("_data");
        if berth_store::snapshot::is_mounted(&dir) {
            return Ok(());
        }
        let data = std::ffi::CString::new(o.get("o").cloned().unwrap_or_default())
            .map_err(|_| EngineError::invalid("volume option o: no NUL bytes"))?;
        rustix::mount::mount(
            "tmpfs",
            &dir,
            "tmpfs",
            rustix::mount::MountFlags::empty(),
            Some(data.as_c_str()),
        )
        .map_err(|e| EngineError::io(&dir, e.into()))
    }

    fn volume_from_row(&self, r: VolumeRow) -> Volume {
        let options = serde_json::from_str(&r.options).ok();
        Volume {
            mountpoint: self.data_path(&r.name, options.as_ref()),
            labels: serde_json::from_str(&r.labels).unwrap_or_default(),
            name: r.name,
            created: r.created,
            anonymous: r.anonymous,
        }
    }

    /// `volume create`: a new volume (or the existing one of that name, as
    /// docker answers). No name gives a random one. Labels and options are
    /// `KEY=VALUE` flags.
    pub fn create_volume(
        &self,
        name: Option<&str>,
        labels: &[String],
        driver: Option<&str>,
        options: &[String],
        anonymous: bool,
    ) -> Result<Volume, EngineError> {
        let mut parsed = BTreeMap::new();
        for o in options {
            let (k, v) = o.split_once('=').ok_or_else(|| {
                EngineError::invalid(format!("invalid option {o:?}: expected key=value"))
            })?;
            parsed.insert(k.to_string(), v.to_string());
        }
        let spec = VolumeSpec {
            labels: crate::key_values(labels),
            driver: driver.map(str::to_string),
            options: parsed,
        };
        self.make_volume(name, spec, anonymous)
    }

    /// A volume as `spec` describes it (`volume create`, `--mount`'s volume options).
    pub(crate) fn make_volume(
        &self,
        name: Option<&str>,
        spec: VolumeSpec,
        anonymous: bool,
    ) -> Result<Volume, EngineError> {
        if let Some(d) = spec.driver.as_deref().filter(|d| *d != "local") {
            return Err(EngineError::invalid(format!(
                "error looking up volume plugin {d}: berth has the local driver only"
            )));
        }
        check_volume_options(&spec.options)?;
        let name = match name {
            Some(n) if !names::valid(n) => {
                return Err(EngineError::invalid(format!(
                    "create {n}: \"{n}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
                )))
            }
            Some(n) => n.to_string(),
            None => berth_store::random_hex(32),
        };
        let data = self.volume_path(&name);
        std::fs::create_dir_all(&data).map_err(|e| EngineError::io(&data, e))?;
        let row = VolumeRow {
            name: name.clone(),
            created: time::now(),
            labels: serde_json::to_string(&spec.labels).expect("strings serialise"),
            options: serde_json::to_string(&spec.options).expect("strings serialise"),
            anonymous,
        };
        if self.store.db.add_volume(&row)? {
            self.emit(
                "volume",
                "create",
                &name,
                BTreeMap::from([("driver".to_string(), "local".to_string())]),
            );
        }
        self.volume(&name)
    }

    pub fn volume(&self, name: &str) -> Result<Volume, EngineError> {
        self.store
            .db
            .volume(name)?
            .map(|r| self.volume_from_row(r))
            .ok_or_else(|| EngineError::NoSuchVolume(name.into()))
    }

    pub fn list_volumes(&self) -> Result<Vec<Volume>, EngineError> {
        Ok(self
            .store
            .db
            .volumes()?
            .into_iter()
            .map(|r| self.volume_from_row(r))
            .collect())
    }

    /// The containers (ids) that mount volume `name`.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>, EngineError> {
        Ok(self
            .list_containers()?
            .into_iter()
            .filter(|c| volume_names(c).any(|n| n == name))
            .map(|c| c.id)
            .collect())
    }

    /// `volume rm`: refused while a container uses it; `force` ignores a
    /// missing one.
    pub fn remove_volume(&self, name: &str, force: bool) -> Result<(), EngineError> {
        let v = match self.volume(name) {
            Ok(v) => v,
            Err(EngineError::NoSuchVolume(_)) if force => return Ok(()),
            Err(e) => return Err(e),
        };
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            return Err(EngineError::Conflict(format!(
                "remove {name}: volume is in use - [{}]",
                users.join(", ")
            )));
        }
        self.store.db.remove_volume(&v.name)?;
        let dir = self.root().join("volumes").join(&v.name);
        let _ = rustix::mount::unmount(dir.join("_data"), rustix::mount::UnmountFlags::DETACH);
        std::fs::remove_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
        self.emit("volume", "destroy", &v.name, BTreeMap::new());
        Ok(())
    }

    /// `volume prune`: unused anonymous volumes (every unused one with
    /// `all`); their names and the bytes freed.
    pub fn prune_volumes(
        &self,
        all: bool,
        selected: &dyn Fn(&Volume) -> bool,
    ) -> Result<(Vec<String>, u64), EngineError> {
        let mut removed = Vec::new();
        let mut freed = 0;
        for v in self.list_volumes()? {
            if (all || v.anonymous) && selected(&v) && self.volume_users(&v.name)?.is_empty() {
                freed += crate::containers::dir_size(&v.mountpoint);
                self.remove_volume(&v.name, false)?;
                removed.push(v.name);
            }
        }
        Ok((removed, freed))
    }

    /// `volume inspect`: docker's Volume JSON.
    pub fn inspect_volume(&self, name: &str) -> Result<Value, EngineError> {
        Ok(self.volume_json(&self.volume(name)?))
    }

    /// A volume as docker's API shows it.
    pub fn volume_json(&self, v: &Volume) -> Value {
        json!({
            "CreatedAt": v.created,
            "Driver": "local",
            "Labels": v.labels,
            "Mountpoint": v.mountpoint,
            "Name": v.name,
            "Options": self.volume_options(&v.name).unwrap_or_default(),
            "Scope": "local",
        })
    }

    /// Copies what the image has at each volume's mount point into the
    /// volume when it is still empty (docker's first-use copy). `rootfs` is
    /// the container's mounted root.
    pub(crate) fn fill_volumes(&self, c: &Container, rootfs: &Path) -> Result<(), EngineError> {
        for m in c
            .host_config
            .mounts
            .iter()
            .flatten()
            .filter(|m| m.kind == "volume")
            .filter(|m| !m.volume_options.as_ref().is_some_and(|o| o.no_copy))
        {
            let bound = self
                .volume_options(&m.source)
                .is_some_and(|o| o.get("type").map(String::as_str) == Some("none"));
            if bound {
                // A host directory is never filled from the image.
                continue;
            }
            let data = self.volume_path(&m.source);
            let empty = std::fs::read_dir(&data)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !empty {
                continue;
            }
            let Ok(src) = berth_image::layer::resolve_in(rootfs, Path::new(&m.target)) else {
                continue;
            };
            if src.is_dir() {
                copy_tree(&src, &data).map_err(|e| EngineError::io(&src, e))?;
            }
        }
        Ok(())
    }

    /// Removes the anonymous volumes of a container being removed (`rm -v`, `--rm`).
    pub(crate) fn remove_anonymous_volumes(&self, c: &Container) {
        for name in volume_names(c) {
            if self.volume(name).is_ok_and(|v| v.anonymous) {
                let _ = self.remove_volume(name, true);
            }
        }
    }
}

/// How a volume is made: its labels, driver and the driver's options.
#[derive(Clone, Debug, Default)]
pub(crate) struct VolumeSpec {
    pub labels: BTreeMap<String, String>,
    pub driver: Option<String>,
    pub options: BTreeMap<String, String>,
}

/// The local driver's `-o type=tmpfs|none`, `device=`, `o=`, checked.
fn check_volume_options(out: &BTreeMap<String, String>) -> Result<(), EngineError> {
    if let Some(k) = out
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "device" | "o"))
    {
        return Err(EngineError::invalid(format!(
            "invalid option key: {k:?}: the local driver takes type, device and o"
        )));
    }
    match out.get("type").map(String::as_str) {
        None if out.is_empty() => {}
        Some("tmpfs") => {}
        Some("none") => {
            let bind = out.get("o").is_some_and(|o| o.split(',').any(|x| x == "bind"));
            let device = out.get("device").map(PathBuf::from);
            if !bind || !device.as_ref().is_some_and(|d| d.is_absolute() && d.is_dir()) {
                return Err(EngineError::invalid(
                    "a type=none volume binds a host directory: give o=bind and device=/an/existing/directory",
                ));
            }
        }
        other => {
            return Err(EngineError::invalid(format!(
                "volume type {:?} is not supported: berth's local driver takes type=tmpfs and type=none (o=bind)",
                other.unwrap_or("")
            )))
        }
    }
    Ok(())
}

/// The volumes a container mounts.
pub(crate) fn volume_names(c: &Container) -> impl Iterator<Item = &str> {
    c.host_config
        .mounts
        .iter()
        .flatten()
        .filter(|m| m.kind == "volume")
        .map(|m| m.source.as_str())
}

/// Copies a tree with its owners, modes and times; links stay links.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(from)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let m = std::fs::symlink_metadata(&src)?;
        if m.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if m.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
            std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()))?;
        } else if m.is_file() {
            std::fs::copy(&src, &dst)?;
            std::os::unix::fs::lchown(&dst, Some(m.uid()), Some(m.gid()))?;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(m.mode() & 0o7777))?;
        }
    }
    Ok(())
}
