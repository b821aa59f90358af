//! `scout.db`: the OSV records a user imported, indexed by (ecosystem,
//! package), and the cached catalogue of each layer scanned before.
//!
//! Imports are one transaction, written as the files are read: a file that
//! cannot be read rolls it back, so it changes nothing, and a record that
//! does not parse is named and skipped.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use crate::osv::Record;
use crate::version::Order;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("the scout database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("{0}")]
    Input(String),
}

pub struct Db {
    conn: Connection,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct Imported {
    /// Records stored (new, or newer than the stored one).
    pub stored: usize,
    /// Records already there at the same or a newer `modified`.
    pub unchanged: usize,
    /// Records that were skipped, each with its place and why.
    pub skipped: Vec<String>,
    /// Ecosystems berth does not match, with their record counts.
    pub unknown_ecosystems: BTreeMap<String, usize>,
}

/// One ecosystem's share of the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcosystemStatus {
    pub ecosystem: String,
    pub records: u64,
    pub newest: String,
}

struct Parsed {
    id: String,
    modified: String,
    json: Vec<u8>,
    packages: Vec<(String, String)>,
}

impl Db {
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, modified TEXT NOT NULL, json BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS affected (ecosystem TEXT NOT NULL, name TEXT NOT NULL, id TEXT NOT NULL,
                 PRIMARY KEY (ecosystem, name, id)) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS affected_by_id ON affected(id);
             CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, json BLOB NOT NULL);",
        )?;
        Ok(Db { conn })
    }

    /// Imports OSV records from `all.zip` files, directories of JSON
    /// records, or single JSON files, as they are read (one record in
    /// memory at a time) inside one transaction that a bad file rolls back.
    pub fn import(&mut self, inputs: &[PathBuf]) -> Result<Imported, DbError> {
        let mut report = Imported::default();
        let (mut stored, mut unchanged) = (0, 0);
        let tx = self.conn.transaction()?;
        {
            let mut existing = tx.prepare("SELECT modified FROM records WHERE id = ?1")?;
            let mut put = tx.prepare(
                "INSERT INTO records (id, modified, json) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET modified = excluded.modified, json = excluded.json",
            )?;
            let mut clear = tx.prepare("DELETE FROM affected WHERE id = ?1")?;
            let mut index = tx.prepare(
                "INSERT OR IGNORE INTO affected (ecosystem, name, id) VALUES (?1, ?2, ?3)",
            )?;
            let mut keep = |p: Parsed| -> Result<(), DbError> {
                let was: Option<String> = existing.query_row([&p.id], |r| r.get(0)).optional()?;
                if was.is_some_and(|s| s >= p.modified) {
                    unchanged += 1;
                    return Ok(());
                }
                put.execute(params![p.id, p.modified, p.json])?;
                clear.execute([&p.id])?;
                for (eco, name) in &p.packages {
                    index.execute(params![eco, name, p.id])?;
                }
                stored += 1;
                Ok(())
            };
            for input in inputs {
                read_input(input, &mut keep, &mut report)?;
            }
        }
        tx.commit()?;
        report.stored = stored;
        report.unchanged = unchanged;
        Ok(report)
    }

    /// Ecosystems with their record counts and newest `modified`.
    pub fn status(&self) -> Result<Vec<EcosystemStatus>, DbError> {
        let mut stmt = self.conn.prepare(
            "SELECT a.ecosystem, COUNT(DISTINCT a.id), MAX(r.modified)
             FROM affected a JOIN records r ON r.id = a.id GROUP BY a.ecosystem ORDER BY a.ecosystem",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(EcosystemStatus {
                ecosystem: r.get(0)?,
                records: r.get::<_, i64>(1)? as u64,
                newest: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest `modified` of all records; `None` when none is imported.
    pub fn newest(&self) -> Result<Option<String>, DbError> {
        Ok(self
            .conn
            .query_row("SELECT MAX(modified) FROM records", [], |r| r.get(0))?)
    }

    /// The records naming package `name` in `ecosystem`.
    pub fn records_for(&self, ecosystem: &str, name: &str) -> Result<Vec<Record>, DbError> {
        let name = crate::osv::index_name(ecosystem, name);
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.json FROM affected a JOIN records r ON r.id = a.id
             WHERE a.ecosystem = ?1 AND a.name = ?2 ORDER BY a.id",
        )?;
        let rows = stmt.query_map([ecosystem, &name], |r| r.get::<_, Vec<u8>>(0))?;
        let mut out = Vec::new();
        for json in rows {
            // Stored records parsed once already.
            if let Ok(r) = Record::parse(&json?) {
                out.push(r);
            }
        }
        Ok(out)
    }

    pub fn cached(&self, key: &str) -> Option<Vec<u8>> {
        self.conn
            .query_row("SELECT json FROM cache WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .ok()
            .flatten()
    }

    /// Drops the cached results whose key `keep` refuses; how many went.
    pub fn forget_cached(&mut self, keep: &dyn Fn(&str) -> bool) -> Result<usize, DbError> {
        let tx = self.conn.transaction()?;
        let keys: Vec<String> = {
            let mut st = tx.prepare("SELECT key FROM cache")?;
            let rows = st.query_map([], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut gone = 0;
        for k in keys.iter().filter(|k| !keep(k)) {
            gone += tx.execute("DELETE FROM cache WHERE key = ?1", [k])?;
        }
        tx.commit()?;
        Ok(gone)
    }

    pub fn cache(&self, key: &str, json: &[u8]) -> Result<(), DbError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO cache (key, json) VALUES (?1, ?2)",
            params![key, json],
        )?;
        Ok(())
    }
}

/// Reads one input into `out`; an input that cannot be read is an error,
/// a record inside it that does not parse is skipped and named.
/// Where each parsed record goes.
type Sink<'a> = dyn FnMut(Parsed) -> Result<(), DbError> + 'a;

fn read_input(input: &Path, out: &mut Sink<'_>, report: &mut Imported) -> Result<(), DbError> {
    let io = |e| DbError::Io(input.to_path_buf(), e);
    let meta = std::fs::metadata(input).map_err(io)?;
    if meta.is_dir() {
        let mut files = Vec::new();
        json_files(input, &mut files).map_err(io)?;
        for f in files {
            let bytes = std::fs::read(&f).map_err(|e| DbError::Io(f.clone(), e))?;
            add(&f.display().to_string(), &bytes, out, report)?;
        }
        return Ok(());
    }
    let mut file = std::fs::File::open(input).map_err(io)?;
    let mut head = [0u8; 4];
    let n = file.read(&mut head).map_err(io)?;
    if n == 4 && &head == b"PK\x03\x04" {
        let mut zip =
            zip::ZipArchive::new(std::fs::File::open(input).map_err(io)?).map_err(|e| {
                DbError::Input(format!("{}: not a readable zip file: {e}", input.display()))
            })?;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|e| {
                DbError::Input(format!("{}: entry {i} does not read: {e}", input.display()))
            })?;
            let name = entry.name().map(|n| n.to_string()).unwrap_or_default();
            if entry.is_dir() || !name.ends_with(".json") {
                continue;
            }
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(|e| {
                DbError::Input(format!("{}: {name} does not read: {e}", input.display()))
            })?;
            add(&format!("{}:{name}", input.display()), &bytes, out, report)?;
        }
        return Ok(());
    }
    let bytes = std::fs::read(input).map_err(io)?;
    // A file of one record, or of an array of them (what osv.dev's API returns).
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let bytes = serde_json::to_vec(item).unwrap_or_default();
                add(&format!("{}[{i}]", input.display()), &bytes, out, report)?;
            }
            Ok(())
        }
        Ok(_) => add(&input.display().to_string(), &bytes, out, report),
        Err(e) => Err(DbError::Input(format!(
            "{}: neither an OSV record, a directory of them nor an all.zip ({e})",
            input.display()
        ))),
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if e.file_type()?.is_dir() {
            json_files(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    Ok(())
}

fn add(
    place: &str,
    bytes: &[u8],
    out: &mut Sink<'_>,
    report: &mut Imported,
) -> Result<(), DbError> {
    let record = match Record::parse(bytes) {
        Ok(r) => r,
        Err(e) => {
            report.skipped.push(format!("{place}: {e}"));
            return Ok(());
        }
    };
    let Some(modified) = chrono::DateTime::parse_from_rfc3339(&record.modified)
        .ok()
        .map(|t| t.to_utc().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
    else {
        report.skipped.push(format!(
            "{place}: record {} has no valid `modified` time",
            record.id
        ));
        return Ok(());
    };
    let packages = record.packages();
    for (eco, _) in &packages {
        if Order::of_ecosystem(eco).is_none() {
            *report.unknown_ecosystems.entry(eco.clone()).or_default() += 1;
        }
    }
    out(Parsed {
        id: record.id,
        modified,
        json: bytes.to_vec(),
        packages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REC: &str = r#"{"id":"PYSEC-1","modified":"2024-05-01T10:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"Requests"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.32.0"}]}]}]}"#;

    #[test]
    fn imports_are_atomic_and_skip_bad_records() {
        let dir = tempfile::tempdir().unwrap();
        let recs = dir.path().join("recs");
        std::fs::create_dir(&recs).unwrap();
        std::fs::write(recs.join("a.json"), REC).unwrap();
        std::fs::write(recs.join("b.json"), "{not json").unwrap();
        std::fs::write(
            recs.join("c.json"),
            r#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Hackage","name":"x"}}]}"#,
        )
        .unwrap();
        let mut db = Db::open(&dir.path().join("scout.db")).unwrap();
        let r = db.import(std::slice::from_ref(&recs)).unwrap();
        assert_eq!(r.stored, 2);
        assert_eq!(r.skipped.len(), 1);
        assert!(r.skipped[0].contains("b.json"), "{:?}", r.skipped);
        assert_eq!(r.unknown_ecosystems.get("Hackage"), Some(&1));
        assert_eq!(db.records_for("PyPI", "requests").unwrap().len(), 1);

        // A bad file among good ones changes nothing.
        let bad = dir.path().join("bad.zip");
        std::fs::write(&bad, b"PK\x03\x04garbage").unwrap();
        std::fs::write(recs.join("a.json"), REC.replace("2024-05-01", "2024-06-01")).unwrap();
        assert!(db.import(&[recs.clone(), bad]).is_err());
        assert_eq!(db.newest().unwrap().unwrap(), "2024-05-01T10:00:00.000000Z");
        let r = db.import(&[recs]).unwrap();
        assert_eq!((r.stored, r.unchanged), (1, 1));
        let st = db.status().unwrap();
        assert_eq!(st[0].ecosystem, "Hackage");
        assert_eq!(st[1].ecosystem, "PyPI");
        assert_eq!(st[1].newest, "2024-06-01T10:00:00.000000Z");
    }
}
