//! Snapshots: one unpacked directory per layer, named by the layer's chain id,
//! and the overlay mount that stacks a chain of them under a container's own
//! upper directory.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use berth_image::digest::DigestReader;
use berth_image::layer;
use berth_image::Digest;
use rustix::mount::{self, MountFlags, UnmountFlags};

use crate::db::StoreError;
use crate::random_hex;

pub struct Snapshots {
    dir: PathBuf,
    tmp: PathBuf,
}

impl Snapshots {
    pub(crate) fn new(root: &Path) -> Self {
        Snapshots {
            dir: root.join("snapshots"),
            tmp: root.join("tmp"),
        }
    }

    pub fn path(&self, chain: &Digest) -> PathBuf {
        self.dir.join(chain.hex())
    }

    pub fn exists(&self, chain: &Digest) -> bool {
        self.path(chain).is_dir()
    }

    /// Unpacks an uncompressed layer tar on top of `parent` (a chain id) and
    /// returns the layer's diff id, its chain id and its content size.
    ///
    /// `known_diff_id` skips hashing the tar when the caller verifies its
    /// digest another way (an uncompressed blob, whose digest is its diff id).
    ///
    /// Unpacking goes to a temporary directory renamed into place once the
    /// chain id is known, so a failure or a crash leaves no half snapshot; if
    /// another process made the same snapshot meanwhile, ours is dropped.
    pub fn unpack(
        &self,
        parent: Option<&Digest>,
        tar: impl Read,
        known_diff_id: Option<&Digest>,
    ) -> Result<Unpacked, UnpackError> {
        let tmp = self.tmp.join(format!("snap-{}", random_hex(8)));
        std::fs::create_dir(&tmp).map_err(|e| StoreError::io(tmp.clone(), e))?;
        let result = (|| {
            std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .map_err(|e| StoreError::io(tmp.clone(), e))?;
            let (diff_id, size) = match known_diff_id {
                Some(d) => {
                    let mut tar = tar;
                    let size = layer::apply_layer(&mut tar, &tmp)?;
                    std::io::copy(&mut tar, &mut std::io::sink())
                        .map_err(layer::LayerError::Read)?;
                    (d.clone(), size)
                }
                None => {
                    let mut hashed = DigestReader::new(tar);
                    let size = layer::apply_layer(&mut hashed, &tmp)?;
                    // The diff id covers the whole stream, padding after the end marker included.
                    std::io::copy(&mut hashed, &mut std::io::sink())
                        .map_err(layer::LayerError::Read)?;
                    (hashed.finish().0, size)
                }
            };
            let chain_id = match parent {
                None => diff_id.clone(),
                Some(p) => Digest::of(format!("{p} {diff_id}").as_bytes()),
            };
            Ok::<_, UnpackError>(Unpacked {
                diff_id,
                chain_id,
                size,
            })
        })();
        let unpacked = match result {
            Ok(u) => u,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        if std::fs::rename(&tmp, self.path(&unpacked.chain_id)).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
            if !self.exists(&unpacked.chain_id) {
                let p = self.path(&unpacked.chain_id);
                return Err(StoreError::io(
                    p,
                    std::io::Error::other("could not move the snapshot into place"),
                )
                .into());
            }
        }
        Ok(unpacked)
    }

    /// Mounts overlayfs at `target`: `chain` (bottom layer first) read-only
    /// below, `upper` and `work` writable above.
    ///
    /// `volatile` is for a writable layer that is removed when the container
    /// ends (`--rm`): overlayfs then skips syncing the upper filesystem, which
    /// it otherwise does at every unmount (a flush of the whole disk, for
    /// data nobody will read). Kernels before 5.10 mount it as usual.
    pub fn mount_overlay(
        &self,
        chain: &[Digest],
        upper: &Path,
        work: &Path,
        target: &Path,
        volatile: bool,
    ) -> Result<(), StoreError> {
        // overlayfs wants at least one lower directory; an image with no layers gets an empty one.
        let empty = self.dir.join("empty");
        let lowers: Vec<PathBuf> = if chain.is_empty() {
            std::fs::create_dir_all(&empty).map_err(|e| StoreError::io(empty.clone(), e))?;
            vec![empty]
        } else {
            chain.iter().rev().map(|c| self.path(c)).collect()
        };
        let (lower, _held) = lower_dirs(&lowers)?;
        let data = format!(
            "lowerdir={lower},upperdir={},workdir={}",
            upper.display(),
            work.display()
        );
        let options = |extra: &str| {
            std::ffi::CString::new(format!("{data}{extra}"))
                .map_err(|e| StoreError::io(target.to_path_buf(), e.into()))
        };
        let mount_with = |options: &std::ffi::CStr| {
            mount::mount(
                "overlay",
                target,
                "overlay",
                MountFlags::empty(),
                Some(options),
            )
        };
        let mounted = if volatile && VOLATILE_WORKS.load(Ordering::Relaxed) {
            // overlayfs refuses a work directory that was mounted volatile
            // before (after a crash, its upper may be torn): this one's
            // content is thrown away at the end anyway.
            let _ = std::fs::remove_dir_all(work.join("work/incompat"));
            match mount_with(&options(",volatile")?) {
                Err(rustix::io::Errno::INVAL) => {
                    VOLATILE_WORKS.store(false, Ordering::Relaxed);
                    mount_with(&options("")?)
                }
                other => other,
            }
        } else {
            mount_with(&options("")?)
        };
        mounted.map_err(|e| {
            StoreError::io(
                target.to_path_buf(),
                std::io::Error::other(format!("mounting overlay: {e}")),
            )
        })
    }
}

/// Cleared when the kernel refuses overlayfs's `volatile` (before 5.10).
static VOLATILE_WORKS: AtomicBool = AtomicBool::new(true);

/// docker's limit on an image's layers.
pub const MAX_LAYERS: usize = 125;

/// Refuses an image deeper than docker's limit.
pub fn check_depth(layers: usize) -> Result<(), StoreError> {
    if layers > MAX_LAYERS {
        return Err(StoreError::TooManyLayers(layers));
    }
    Ok(())
}

/// The mount data page is 4096 bytes; lower directories past this many
/// bytes of paths are named through descriptors instead.
const LOWER_PATHS_LIMIT: usize = 2048;

/// overlayfs's `lowerdir=` for `dirs` (topmost first): their paths, or,
/// where those would not fit in the mount data (tens of layers under a long
/// root), `/proc/self/fd/N` of a descriptor held open for each until the
/// returned files are dropped, after the mount (the short links docker and
/// containerd make, without a chdir that other threads would see).
fn lower_dirs(dirs: &[PathBuf]) -> Result<(String, Vec<std::fs::File>), StoreError> {
    check_depth(dirs.len())?;
    let plain = dirs
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    if plain.len() <= LOWER_PATHS_LIMIT {
        return Ok((plain, Vec::new()));
    }
    let mut held = Vec::with_capacity(dirs.len());
    let mut names = Vec::with_capacity(dirs.len());
    for d in dirs {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(d)
            .map_err(|e| StoreError::io(d.clone(), e))?;
        names.push(format!("/proc/self/fd/{}", f.as_raw_fd()));
        held.push(f);
    }
    Ok((names.join(":"), held))
}

impl Snapshots {
    /// A read-only view of a chain at `target`: overlayfs of its layers (one
    /// layer is bind-mounted, none gives an empty directory).
    pub fn mount_readonly(&self, chain: &[Digest], target: &Path) -> Result<(), StoreError> {
        let io = |e: std::io::Error| StoreError::io(target.to_path_buf(), e);
        match chain {
            [] => Ok(()),
            [one] => {
                mount::mount_bind(self.path(one), target).map_err(|e| io(e.into()))?;
                mount::mount_remount(target, MountFlags::BIND | MountFlags::RDONLY, c"")
                    .map_err(|e| io(e.into()))
            }
            many => {
                let paths: Vec<PathBuf> = many.iter().rev().map(|c| self.path(c)).collect();
                let (lower, _held) = lower_dirs(&paths)?;
                let data = std::ffi::CString::new(format!("lowerdir={lower}"))
                    .map_err(|e| io(e.into()))?;
                mount::mount(
                    "overlay",
                    target,
                    "overlay",
                    MountFlags::RDONLY,
                    Some(data.as_c_str()),
                )
                .map_err(|e| io(e.into()))
            }
        }
    }

    /// Moves a finished directory (a build step's upper dir) in as the snapshot `chain`.
    pub fn adopt(&self, dir: &Path, chain: &Digest) -> Result<(), StoreError> {
        if self.exists(chain) {
            let _ = std::fs::remove_dir_all(dir);
            return Ok(());
        }
        match std::fs::rename(dir, self.path(chain)) {
            Ok(()) => Ok(()),
            // Another build made the same layer meanwhile: theirs is as good as ours.
            Err(_) if self.exists(chain) => {
                let _ = std::fs::remove_dir_all(dir);
                Ok(())
            }
            Err(e) => Err(StoreError::io(self.path(chain), e)),
        }
    }
}

/// The mount points of this process's mount namespace.
fn mount_points() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .collect()
}

/// Whether something is mounted on `dir`.
pub fn is_mounted(dir: &Path) -> bool {
    let dir = dir.display().to_string();
    mount_points().contains(&dir)
}

/// Unmounts everything mounted below `dir` (deepest first, detached).
pub fn unmount_below(dir: &Path) {
    let prefix = format!("{}/", dir.display());
    let mounts = mount_points();
    let mut targets: Vec<&str> = mounts
        .iter()
        .map(String::as_str)
        .filter(|m| m.starts_with(&prefix))
        .collect();
    targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
    for t in targets {
        let _ = unmount(Path::new(t));
    }
}

/// Unmounts `target` if it is mounted (detached, so busy mounts go too).
pub fn unmount(target: &Path) -> Result<(), StoreError> {
    match mount::unmount(target, UnmountFlags::DETACH) {
        Ok(()) | Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(StoreError::io(target.to_path_buf(), e.into())),
    }
}

/// What unpacking a layer produced.
pub struct Unpacked {
    pub diff_id: Digest,
    pub chain_id: Digest,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Layer(#[from] layer::LayerError),
}
