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
        })
    }
}

pub struct BlobWriter {
    inner: Option<DigestWriter<File>>,
    tmp: PathBuf,
    blobs: PathBuf,
    written: u64,
}

impl BlobWriter {
    fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    pub fn written(&self) -> u64 {
        self.written
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
        let _ = std::fs::remove_file(&self.tmp);
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
}
