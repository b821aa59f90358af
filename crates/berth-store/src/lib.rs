//! What lives on disk under the root directory: the SQLite metadata DB, the
//! content store (blobs by digest), snapshots (one unpacked directory per layer,
//! keyed by chain id) and the overlay mounts that join them.
//!
//! ```text
//! berth.db                 images, tags, containers (SQLite, WAL)
//! blobs/sha256/<hex>       compressed layers, manifests, configs
//! snapshots/<chain-hex>/   unpacked layer trees, overlay-format whiteouts
//! containers/<id>/         upper/, work/, rootfs/, config.json, log
//! tmp/                     work in progress (same filesystem: rename is atomic)
//! gc.lock                  shared by work in progress, taken alone by collection
//! ```

pub mod check;
pub mod content;
pub mod db;
mod gc;
pub mod snapshot;

use std::path::{Path, PathBuf};

pub use content::ContentStore;
pub use db::{Db, ImageRecord, LayerRecord, StoreError};
pub use gc::{Collected, Work};
pub use snapshot::{Snapshots, UnpackError, Unpacked};

/// The whole store under one root directory.
pub struct Store {
    root: PathBuf,
    pub db: Db,
    pub content: ContentStore,
    pub snapshots: Snapshots,
}

impl Store {
    /// Opens (creating when missing) the store at `root`.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        for sub in ["blobs/sha256", "snapshots", "containers", "tmp", "volumes"] {
            std::fs::create_dir_all(root.join(sub))
                .map_err(|e| StoreError::io(root.join(sub), e))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
            db: Db::open(&root.join("berth.db"))?,
            content: ContentStore::new(root),
            snapshots: Snapshots::new(root),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh directory under `tmp/` for work in progress; removed by its owner
    /// (and by `Drop` on the returned guard). It is locked while its owner
    /// lives, so that collection can tell one left by a killed process.
    pub fn temp_dir(&self, prefix: &str) -> Result<TempDir, StoreError> {
        loop {
            let path = self
                .root
                .join("tmp")
                .join(format!("{prefix}-{}", random_hex(8)));
            std::fs::create_dir(&path).map_err(|e| StoreError::io(path.clone(), e))?;
            let dir = std::fs::File::open(&path).map_err(|e| StoreError::io(path.clone(), e))?;
            // Collection may have taken it between the two: then try another.
            let locked =
                rustix::fs::flock(&dir, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                    .is_ok();
            if locked && path.is_dir() {
                return Ok(TempDir(path, dir));
            }
        }
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    /// Keeps a secret's value in `secrets/ID`, readable by root alone
    /// (written beside it first: a failure leaves no part of it).
    pub fn put_secret_value(&self, id: &str, value: &[u8]) -> Result<(), StoreError> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let dir = self.root.join("secrets");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&dir)
            .map_err(|e| StoreError::io(dir.clone(), e))?;
        let tmp = dir.join(format!(".{id}.tmp"));
        let path = dir.join(id);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(value).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                StoreError::io(path.clone(), e)
            })
    }

    pub fn secret_value(&self, id: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.root.join("secrets").join(id);
        std::fs::read(&path).map_err(|e| StoreError::io(path, e))
    }

    pub fn remove_secret_value(&self, id: &str) {
        let _ = std::fs::remove_file(self.root.join("secrets").join(id));
    }
}

/// A directory removed when dropped; the open directory holds its lock.
pub struct TempDir(PathBuf, #[allow(dead_code)] std::fs::File);

impl TempDir {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `n` random bytes as hex.
pub fn random_hex(n: usize) -> String {
    use rand::RngCore;
    let mut b = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}
