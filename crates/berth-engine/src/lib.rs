#![recursion_limit = "256"]
//! The engine: every operation berth offers, as functions over the store and
//! the runtime. The CLI calls these in-process; an API server would map its
//! routes onto the same functions.

pub mod attach;
pub mod build;
mod cancel;
mod changes;
pub mod containers;
mod create;
pub mod error;
pub mod events;
pub mod filters;
pub mod health;
mod host;
pub mod images;
pub mod kube;
pub mod lifecycle;
pub mod logs;
pub mod model;
mod named;
mod names;
pub mod networks;
mod parallel;
pub mod pods;
pub mod pull;
pub mod push;
pub mod rootfs;
pub mod run;
pub mod scout;
pub mod secrets;
pub mod session;
pub mod system;
pub mod time;
pub mod volumes;

use std::path::{Path, PathBuf};

use berth_store::Store;

pub use error::EngineError;

/// Whether `--device` names a CDI device (`vendor.com/class=name`) rather than a host path.
pub use berth_runtime::cdi::is_qualified as is_cdi_device;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// An open engine: the store under `root`, runtime state under `state_dir`.
pub struct Engine {
    pub store: Store,
    state_dir: PathBuf,
    /// `--registries-config`; None reads the default file.
    registries_config: Option<PathBuf>,
    /// The default bridge and address pools, for networks made from now on.
    net_config: networks::NetConfig,
}

/// `KEY=VALUE` flags (`--label`, `-o`) as a map; a bare key maps to "".
pub fn key_values<S: AsRef<str>>(items: &[S]) -> std::collections::BTreeMap<String, String> {
    items.iter().map(|i| key_value(i.as_ref())).collect()
}

/// One `KEY=VALUE`; a bare key has the empty value.
pub fn key_value(item: &str) -> (String, String) {
    let (k, v) = item.split_once('=').unwrap_or((item, ""));
    (k.to_string(), v.to_string())
}

/// This very binary, to run again (a monitor, a healthcheck probe): by
/// /proc/self/exe, which still names it after the file was replaced by an
/// upgrade or a rebuild, where its path would name the new one or nothing.
pub(crate) fn self_exe() -> PathBuf {
    PathBuf::from("/proc/self/exe")
}

/// The cgroup `id` under `parent` (`/berth` when none is given).
pub(crate) fn cgroup_under(parent: &str, id: &str) -> String {
    match parent.trim_matches('/') {
        "" => format!("/berth/{id}"),
        p => format!("/{p}/{id}"),
    }
}

impl Engine {
    pub fn open(root: &Path, state_dir: &Path) -> Result<Engine, EngineError> {
        std::fs::create_dir_all(state_dir).map_err(|e| EngineError::io(state_dir, e))?;
        Ok(Engine {
            store: Store::open(root)?,
            state_dir: state_dir.to_path_buf(),
            registries_config: None,
            net_config: Default::default(),
        })
    }

    /// Reads registries (mirrors, insecure registries) from `path` instead of the default file.
    pub fn set_registries_config(&mut self, path: Option<PathBuf>) {
        self.registries_config = path;
    }

    pub fn root(&self) -> &Path {
        self.store.root()
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// libcontainer's state directory.
    fn runtime_dir(&self) -> PathBuf {
        self.state_dir.join("runtime")
    }

    /// A container's cgroup, relative to each hierarchy's root: under its
    /// `--cgroup-parent`, berth's own `/berth` by default.
    fn cgroups_path(c: &model::Container) -> String {
        cgroup_under(&c.host_config.cgroup_parent, &c.id)
    }

    fn netns_path(&self, id: &str) -> PathBuf {
        self.state_dir.join("netns").join(id)
    }
}

/// An exclusive flock on `path` (made when missing), held by the returned
/// file; None when `wait` is false and another holds it.
pub(crate) fn lock_file(
    path: &std::path::Path,
    wait: bool,
) -> Result<Option<std::fs::File>, EngineError> {
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| EngineError::io(path, e))?;
    let op = if wait {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), op) } != 0 {
        let e = std::io::Error::last_os_error();
        if !wait && e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Ok(None);
        }
        return Err(EngineError::io(path, e));
    }
    Ok(Some(f))
}
