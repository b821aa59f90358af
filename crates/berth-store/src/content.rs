//! The content store: immutable blobs named by their sha256 digest. A blob is
//! written to a temporary file, hashed on the way, synced, verified against the
//! digest the caller expects, and only then renamed into place.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use berth_image::{Digest, DigestWriter};

use crate::db::StoreError;
use crate::random_hex;

pub struct ContentStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl ContentStore {
    pub(crate) fn new(root: &Path) -> Self {
        ContentStore {
            blobs: root.join("blobs/sha256"),
            tmp: root.join("tmp"),
        }
    }

    pub fn path(&self, d: &Digest) -> PathBuf {
        self.blobs.join(d.hex())
    }

    pub fn contains(&self, d: &Digest) -> bool {
        self.path(d).exists()
    }

    pub fn read(&self, d: &Digest) -> Result<Vec<u8>, StoreError> {
        std::fs::read(self.path(d)).map_err(|e| StoreError::io(self.path(d), e))
    }

    pub fn open(&self, d: &Digest) -> Result<File, StoreError> {
        File::open(self.path(d)).map_err(|e| StoreError::io(self.path(d), e))
    }

    /// Stores `data` (whose digest is computed) and returns its digest.
    pub fn put(&self, data: &[u8]) -> Result<Digest, StoreError> {
        let mut w = self.writer()?;
        w.write_all(data)
            .map_err(|e| StoreError::io(w.tmp_path().to_path_buf(), e))?;
        w.commit(None)
    }

    /// Stores everything read from `r`; when `expected` is given, a blob with
    /// another digest is refused and nothing is kept.
    pub fn put_reader(
        &self,
        r: &mut dyn Read,
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64), StoreError> {
        let mut w = self.writer()?;
        io::copy(r, &mut w).map_err(|e| StoreError::io(w.tmp_path().to_path_buf(), e))?;
        let size = w.written();
        Ok((w.commit(expected)?, size))
    }

    /// A writer for a new blob; nothing is visible until [`BlobWriter::commit`].
    pub fn writer(&self) -> Result<BlobWriter, StoreError> {
        let tmp = self.tmp.join(format!("blob-{}", random_hex(8)));
        let file = File::create(&tmp).map_err(|e| StoreError::io(tmp.clone(), e))?;
        Ok(BlobWriter {
            inner: Some(DigestWriter::new(file)),
            tmp,
            blobs: self.blobs.clone(),
            written: 0,
            keep: false,
        })
    }

    /// A writer for a download that may stop and resume: the bytes so far
    /// live in `tmp/partial-HEX` (locked while written), kept by
    /// [`BlobWriter::suspend`] and continued by the next writer for the same
    /// digest. Returns the writer and how many bytes it already holds. A
    /// partial file another process is writing is left alone.
    pub fn resumable_writer(&self, expected: &Digest) -> Result<(BlobWriter, u64), StoreError> {
        let tmp = self.tmp.join(format!("partial-{}", expected.hex()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&tmp)
            .map_err(|e| StoreError::io(tmp.clone(), e))?;
        if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            return Ok((self.writer()?, 0));
        }
        // The lock belongs to the open file, which the writer keeps.
        let mut prefix = file
            .try_clone()
            .map_err(|e| StoreError::io(tmp.clone(), e))?;
        let mut inner = DigestWriter::new(file);
        let have = inner
            .already_written(&mut prefix)
            .map_err(|e| StoreError::io(tmp.clone(), e))?;
        Ok((
            BlobWriter {
                inner: Some(inner),
                tmp,
                blobs: self.blobs.clone(),
                written: have,
                keep: false,
            },
            have,
        ))
    }

    /// Removes the partial downloads (`tmp/partial-*`) no pull is writing;
    /// returns the bytes freed.
    pub fn prune_partials(&self) -> u64 {
        let mut freed = 0;
        for e in std::fs::read_dir(&self.tmp).into_iter().flatten().flatten() {
            if !e.file_name().to_string_lossy().starts_with("partial-") {
                continue;
            }
            let Ok(f) = File::open(e.path()) else {
                continue;
            };
            if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
                freed += f.metadata().map(|m| m.len()).unwrap_or(0);
                let _ = std::fs::remove_file(e.path());
            }
        }
        freed
    }
}

pub struct BlobWriter {
    inner: Option<DigestWriter<File>>,
    tmp: PathBuf,
    blobs: PathBuf,
    written: u64,
    /// Keep the temporary file when dropped (a suspended download).
    keep: bool,
}

impl BlobWriter {
    fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// Bytes in the blob so far (those a resumed download started with included).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The bytes written so far, read back from the start.
    pub fn read_back(&self) -> io::Result<io::Take<File>> {
        Ok(File::open(&self.tmp)?.take(self.written))
    }

    /// Keeps what was written for a later [`ContentStore::resumable_writer`].
    pub fn suspend(mut self) {
        self.keep = true;
    }

    /// Syncs, verifies and renames the blob into place.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<Digest, StoreError> {
        let (digest, _, file) = self.inner.take().expect("committed once").finish();
        if let Some(want) = expected {
            if *want != digest {
                return Err(StoreError::DigestMismatch {
                    expected: want.clone(),
                    actual: digest,
                });
            }
        }
        file.sync_all()
            .map_err(|e| StoreError::io(self.tmp.clone(), e))?;
        let dest = self.blobs.join(digest.hex());
        std::fs::rename(&self.tmp, &dest).map_err(|e| StoreError::io(dest, e))?;
        Ok(digest)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.as_mut().expect("not committed").write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.as_mut().expect("not committed").flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // After a successful commit the temporary name no longer exists.
        if !self.keep {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_writes_and_refusals() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("blobs/sha256")).unwrap();
        std::fs::create_dir_all(t.path().join("tmp")).unwrap();
        let cs = ContentStore::new(t.path());
        let d = cs.put(b"hello").unwrap();
        assert_eq!(cs.read(&d).unwrap(), b"hello");
        let wrong = Digest::of(b"other");
        let err = cs
            .put_reader(&mut &b"hello!"[..], Some(&wrong))
            .unwrap_err();
        assert!(matches!(err, StoreError::DigestMismatch { .. }));
        assert!(!cs.contains(&Digest::of(b"hello!")));
        assert_eq!(
            std::fs::read_dir(t.path().join("tmp")).unwrap().count(),
            0,
            "no temp file left"
        );
    }

    #[test]
    fn suspended_writes_resume_and_verify() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("blobs/sha256")).unwrap();
        std::fs::create_dir_all(t.path().join("tmp")).unwrap();
        let cs = ContentStore::new(t.path());
        let want = Digest::of(b"hello, world");
        let (mut w, have) = cs.resumable_writer(&want).unwrap();
        assert_eq!(have, 0);
        w.write_all(b"hello").unwrap();
        w.suspend();
        let (mut w, have) = cs.resumable_writer(&want).unwrap();
        assert_eq!(have, 5);
        // A second writer while the first holds the lock starts afresh elsewhere.
        let (other, other_have) = cs.resumable_writer(&want).unwrap();
        assert_eq!(other_have, 0);
        drop(other);
        w.write_all(b", world").unwrap();
        assert_eq!(w.written(), 12);
        assert_eq!(w.commit(Some(&want)).unwrap(), want);
        assert_eq!(cs.read(&want).unwrap(), b"hello, world");
        assert_eq!(std::fs::read_dir(t.path().join("tmp")).unwrap().count(), 0);
    }
}
