//! Garbage collection, and the lock that keeps it off work in progress.
//!
//! An operation that adds content (pull, build, load, import, commit, the
//! gzip forms a push makes) writes blobs and snapshots before it records
//! what uses them. It holds a [`Work`] guard, a shared flock on `gc.lock`,
//! from before its first write until after its last record. Collection
//! takes the lock exclusively, so it runs only while no operation is
//! between the two; then whatever nothing records is garbage, left by an
//! operation that failed or was killed (its lock died with it).
//!
//! This is containerd's lease kept by a lock rather than by rows: a killed
//! process's lock goes with it, so no lease outlives its owner and nothing
//! has to decide whether a recorded pid is still the same process.

use std::collections::HashSet;
use std::fs::File;
use std::path::PathBuf;

use rustix::fs::{flock, FlockOperation};

use crate::{Store, StoreError};

/// Work in progress: while any is held, nothing is collected.
pub struct Work(#[allow(dead_code)] File);

/// What a collection removed.
#[derive(Debug, Default, PartialEq)]
pub struct Collected {
    pub blobs: usize,
    pub snapshots: usize,
    pub bytes: u64,
}

impl Store {
    fn gc_lock(&self) -> Result<(File, PathBuf), StoreError> {
        let path = self.root().join("gc.lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(path.clone(), e))?;
        Ok((f, path))
    }

    /// Marks work in progress until the guard is dropped (waiting for a
    /// collection that is running to end).
    pub fn work(&self) -> Result<Work, StoreError> {
        let (f, path) = self.gc_lock()?;
        flock(&f, FlockOperation::LockShared).map_err(|e| StoreError::io(path, e.into()))?;
        Ok(Work(f))
    }

    /// Removes every blob and snapshot no image or build cache entry uses,
    /// and the temporary files of writes that never finished. None, and
    /// nothing removed, while work is in progress: the next collection
    /// takes what this one could not.
    pub fn collect_garbage(&self) -> Result<Option<Collected>, StoreError> {
        let (f, _) = self.gc_lock()?;
        if flock(&f, FlockOperation::NonBlockingLockExclusive).is_err() {
            return Ok(None);
        }
        let mut done = Collected::default();
        let chains: HashSet<String> = self.db.chains_in_use()?;
        for chain in self.db.snapshot_ids()? {
            if !chains.contains(chain.as_str()) {
                done.bytes += self.db.snapshot_size(&chain)?.unwrap_or(0);
                self.db.remove_snapshot(&chain)?;
            }
        }
        for (name, path) in entries(&self.root().join("snapshots")) {
            if !chains.contains(&format!("sha256:{name}")) {
                std::fs::remove_dir_all(&path).map_err(|e| StoreError::io(path, e))?;
                done.snapshots += 1;
            }
        }
        let blobs = self.db.blobs_in_use()?;
        for (name, path) in entries(&self.root().join("blobs/sha256")) {
            if !blobs.contains(&format!("sha256:{name}")) {
                done.bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                std::fs::remove_file(&path).map_err(|e| StoreError::io(path, e))?;
                done.blobs += 1;
            }
        }
        // A blob's bytes before its commit (a partial download is kept to
        // resume), and the work directories of processes that are gone.
        for (name, path) in entries(&self.root().join("tmp")) {
            if name.starts_with("blob-") {
                let _ = std::fs::remove_file(path);
            } else if let Some(_lock) = abandoned(&path) {
                remove_work_dir(&path);
            }
        }
        Ok(Some(done))
    }
}

/// The lock of work directory `dir` (see [`Store::temp_dir`]) when no
/// process holds it: its owner is gone.
fn abandoned(dir: &std::path::Path) -> Option<File> {
    let f = File::open(dir)
        .ok()
        .filter(|f| f.metadata().is_ok_and(|m| m.is_dir()))?;
    flock(&f, FlockOperation::NonBlockingLockExclusive).ok()?;
    Some(f)
}

/// Unmounts what a killed process left mounted below `dir`, then removes it.
fn remove_work_dir(dir: &std::path::Path) {
    crate::snapshot::unmount_below(dir);
    let _ = std::fs::remove_dir_all(dir);
}

/// The names and paths in `dir`.
fn entries(dir: &std::path::Path) -> Vec<(String, PathBuf)> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect()
}
