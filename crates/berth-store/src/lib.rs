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
//! ```

pub mod check;
pub mod content;
pub mod db;
pub mod snapshot;

use std::path::{Path, PathBuf};

pub use content::ContentStore;
pub use db::{Db, ImageRecord, LayerRecord, StoreError};
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
    /// (and by `Drop` on the returned guard).
    pub fn temp_dir(&self, prefix: &str) -> Result<TempDir, StoreError> {
        let path = self
            .root
            .join("tmp")
            .join(format!("{prefix}-{}", random_hex(8)));
        std::fs::create_dir(&path).map_err(|e| StoreError::io(path.clone(), e))?;
        Ok(TempDir(path))
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }
}

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

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
