//! rpm's database in SQLite form (`rpmdb.sqlite`, rpm 4.16 and later):
//! one header blob per package in the `Packages` table.

use std::path::Path;

use crate::package::{Kind, Package, Source};

const NAME: u32 = 1000;
const VERSION: u32 = 1001;
const RELEASE: u32 = 1002;
const EPOCH: u32 = 1003;
const LICENSE: u32 = 1014;
const ARCH: u32 = 1022;
const SOURCERPM: u32 = 1044;

pub fn read_sqlite(path: &Path, relpath: &str) -> Result<Vec<Package>, String> {
    let db = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("rpm database: {e}"))?;
    let mut stmt = db
        .prepare("SELECT blob FROM Packages")
        .map_err(|e| format!("rpm database: {e}"))?;
    let blobs = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .map_err(|e| format!("rpm database: {e}"))?;
    let mut out = Vec::new();
    for blob in blobs {
        let blob = blob.map_err(|e| format!("rpm database: {e}"))?;
        let h = Header::parse(&blob).ok_or("rpm database: a package header does not parse")?;
        // gpg-pubkey entries are keys, not packages.
        let Some(name) = h.string(NAME).filter(|n| *n != "gpg-pubkey") else {
            continue;
        };
        let version = h.string(VERSION).unwrap_or_default();
        let release = h.string(RELEASE).unwrap_or_default();
        let evr = match h.int(EPOCH) {
            Some(e) => format!("{e}:{version}-{release}"),
            None => format!("{version}-{release}"),
        };
        let mut p = Package::new(Kind::Rpm, name, &evr, relpath);
        p.arch = h.string(ARCH).map(str::to_string);
        p.licenses = h.string(LICENSE).map(str::to_string).into_iter().collect();
        if let Some(src) = h.string(SOURCERPM).and_then(source_name) {
            p.source = Some(Source {
                name: src,
                version: evr.clone(),
            });
        }
        out.push(p);
    }
    Ok(out)
}

/// `openssl-3.0.7-25.el9.src.rpm` → `openssl`.
fn source_name(srpm: &str) -> Option<String> {
    let base = srpm.strip_suffix(".rpm")?;
    let base = base.rsplit_once('.').map(|(b, _)| b)?; // .src
    let (rest, _release) = base.rsplit_once('-')?;
    let (name, _version) = rest.rsplit_once('-')?;
    Some(name.to_string())
}

/// An rpm header without its lead: index count, data size, the index
/// entries (tag, type, offset, count), then the data.
struct Header<'a> {
    entries: Vec<(u32, u32, usize, u32)>,
    data: &'a [u8],
}

impl<'a> Header<'a> {
    fn parse(b: &'a [u8]) -> Option<Header<'a>> {
        let be = |i: usize| -> Option<u32> {
            Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
        };
        let il = be(0)? as usize;
        let dl = be(4)? as usize;
        let start = 8 + il.checked_mul(16)?;
        let data = b.get(start..start.checked_add(dl)?)?;
        let mut entries = Vec::with_capacity(il);
        for i in 0..il {
            let o = 8 + i * 16;
            entries.push((be(o)?, be(o + 4)?, be(o + 8)? as usize, be(o + 12)?));
        }
        Some(Header { entries, data })
    }

    fn entry(&self, tag: u32) -> Option<(u32, usize)> {
        self.entries.iter().find(|e| e.0 == tag).map(|e| (e.1, e.2))
    }

    /// A STRING (6) or the first of a STRING_ARRAY (8) / I18NSTRING (9).
    fn string(&self, tag: u32) -> Option<&'a str> {
        let (ty, off) = self.entry(tag)?;
        if !matches!(ty, 6 | 8 | 9) {
            return None;
        }
        let rest = self.data.get(off..)?;
        let end = rest.iter().position(|&c| c == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    }

    /// An INT32 (4).
    fn int(&self, tag: u32) -> Option<u32> {
        let (ty, off) = self.entry(tag)?;
        if ty != 4 {
            return None;
        }
        Some(u32::from_be_bytes(
            self.data.get(off..off + 4)?.try_into().ok()?,
        ))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A header blob as rpm writes one, for tests.
    pub fn header(strings: &[(u32, &str)], epoch: Option<u32>) -> Vec<u8> {
        let mut data = Vec::new();
        let mut index = Vec::new();
        if let Some(e) = epoch {
            index.push((EPOCH, 4u32, data.len() as u32, 1u32));
            data.extend_from_slice(&e.to_be_bytes());
        }
        for (tag, s) in strings {
            index.push((*tag, 6, data.len() as u32, 1));
            data.extend_from_slice(s.as_bytes());
            data.push(0);
        }
        let mut b = Vec::new();
        b.extend_from_slice(&(index.len() as u32).to_be_bytes());
        b.extend_from_slice(&(data.len() as u32).to_be_bytes());
        for (t, ty, o, c) in index {
            for v in [t, ty, o, c] {
                b.extend_from_slice(&v.to_be_bytes());
            }
        }
        b.extend_from_slice(&data);
        b
    }

    #[test]
    fn reads_an_rpmdb_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpmdb.sqlite");
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
        )
        .unwrap();
        let h = header(
            &[
                (NAME, "openssl-libs"),
                (VERSION, "3.0.7"),
                (RELEASE, "25.el9_3"),
                (ARCH, "x86_64"),
                (LICENSE, "ASL 2.0"),
                (SOURCERPM, "openssl-3.0.7-25.el9_3.src.rpm"),
            ],
            Some(1),
        );
        db.execute("INSERT INTO Packages (blob) VALUES (?1)", [&h])
            .unwrap();
        let key = header(
            &[(NAME, "gpg-pubkey"), (VERSION, "1"), (RELEASE, "1")],
            None,
        );
        db.execute("INSERT INTO Packages (blob) VALUES (?1)", [&key])
            .unwrap();
        drop(db);
        let p = read_sqlite(&path, "var/lib/rpm/rpmdb.sqlite").unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].version, "1:3.0.7-25.el9_3");
        assert_eq!(p[0].source.as_ref().unwrap().name, "openssl");
        assert_eq!(p[0].licenses, vec!["ASL 2.0"]);
        assert!(Header::parse(&[0, 0, 0, 9]).is_none());
    }
}
