//! The metadata DB: SQLite in WAL mode with a busy timeout, so that many
//! `berth` processes can read and write at once. Every change is one
//! transaction, taken IMMEDIATE so writers queue instead of failing mid-way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_image::Digest;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("metadata database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("content digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("the container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameConflict { name: String, id: String },
    #[error("corrupt record: {0}")]
    Corrupt(String),
    #[error("max depth exceeded: the image would have {0} layers, more than docker's limit of {limit}; squash some (fewer RUN steps, or a multi-stage build)", limit = crate::snapshot::MAX_LAYERS)]
    TooManyLayers(usize),
}

impl StoreError {
    pub fn io(path: PathBuf, source: std::io::Error) -> Self {
        StoreError::Io { path, source }
    }
}

/// One layer of an image, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerRecord {
    pub blob: Digest,
    pub media_type: String,
    pub blob_size: u64,
    pub diff_id: Digest,
    pub chain_id: Digest,
}

/// An image: its id is the digest of its config blob, as docker's.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageRecord {
    pub id: Digest,
    pub manifest: Digest,
    /// RFC 3339, from the config (or the time of import when it has none).
    pub created: String,
    /// Unpacked size of all layers, in bytes.
    pub size: u64,
    pub layers: Vec<LayerRecord>,
}

/// A container row: the engine owns the JSON record's shape.
#[derive(Clone, Debug)]
pub struct ContainerRow {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub record: String,
    /// A small form of the record, with only what listings show and select
    /// by (`ps`, `GET /containers/json`): a thousand of them read and parse
    /// in a fraction of the time the whole records take. Empty when read.
    pub listing: String,
}

pub struct Db {
    conn: Connection,
}

/// A layer from the columns blob, media_type, blob_size, diff_id, chain_id
/// starting at column `at`.
fn layer_record(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<LayerRecord> {
    Ok(LayerRecord {
        blob: digest(r.get(at)?)?,
        media_type: r.get(at + 1)?,
        blob_size: r.get::<_, i64>(at + 2)? as u64,
        diff_id: digest(r.get(at + 3)?)?,
        chain_id: digest(r.get(at + 4)?)?,
    })
}

fn volume_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<VolumeRow> {
    Ok(VolumeRow {
        name: r.get(0)?,
        created: r.get(1)?,
        labels: r.get(2)?,
        options: r.get(3)?,
        anonymous: r.get::<_, i64>(4)? != 0,
    })
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, manifest TEXT NOT NULL, created TEXT NOT NULL, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS image_layers (
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE, idx INTEGER NOT NULL,
    blob TEXT NOT NULL, media_type TEXT NOT NULL, blob_size INTEGER NOT NULL,
    diff_id TEXT NOT NULL, chain_id TEXT NOT NULL, PRIMARY KEY (image_id, idx));
CREATE INDEX IF NOT EXISTS image_layers_chain ON image_layers(chain_id);
CREATE TABLE IF NOT EXISTS tags (
    name TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS repo_digests (
    name TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS snapshots (
    chain_id TEXT PRIMARY KEY, parent TEXT, diff_id TEXT NOT NULL, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, image_id TEXT NOT NULL,
    created TEXT NOT NULL, record TEXT NOT NULL);
";

/// Build steps that made a layer, by cache key (version 2).
const BUILD_CACHE: &str = "
CREATE TABLE IF NOT EXISTS build_cache (
    key TEXT PRIMARY KEY, blob TEXT NOT NULL, media_type TEXT NOT NULL, blob_size INTEGER NOT NULL,
    diff_id TEXT NOT NULL, chain_id TEXT NOT NULL, created TEXT NOT NULL, last_used TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS build_cache_chain ON build_cache(chain_id);
CREATE INDEX IF NOT EXISTS build_cache_blob ON build_cache(blob);
";

/// Content hashes of build-context files by path and stat (version 3): the
/// fast path that keeps unchanged files from being read again.
const FILE_HASHES: &str = "
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY, stat TEXT NOT NULL, digest TEXT NOT NULL);
";

fn digest(s: String) -> rusqlite::Result<Digest> {
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// What happened to containers and images, for `events` (version 4). Only
/// the newest [`EVENTS_KEPT`] are kept.
const EVENTS: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, time_nano INTEGER NOT NULL, type TEXT NOT NULL,
    action TEXT NOT NULL, actor TEXT NOT NULL, attributes TEXT NOT NULL);
";

pub const EVENTS_KEPT: i64 = 1000;

/// Gzip forms of uncompressed layers, made for pushes (version 6), by diff
/// id; kept while an image has the layer, so a second push sends the same blob.
const COMPRESSED: &str = "
CREATE TABLE IF NOT EXISTS compressed (
    diff_id TEXT PRIMARY KEY, blob TEXT NOT NULL, size INTEGER NOT NULL);
";

impl Db {
    /// The gzip blob (digest, size) made for an uncompressed layer, if any.
    pub fn compressed(&self, diff_id: &Digest) -> Result<Option<(Digest, u64)>, StoreError> {
        let row: Option<(String, i64)> = self
            .conn
            .query_row(
                "SELECT blob, size FROM compressed WHERE diff_id = ?1",
                [diff_id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(b, s)| Ok((digest(b)?, s as u64))).transpose()
    }

    pub fn set_compressed(
        &self,
        diff_id: &Digest,
        blob: &Digest,
        size: u64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO compressed (diff_id, blob, size) VALUES (?1, ?2, ?3)",
            params![diff_id.as_str(), blob.as_str(), size as i64],
        )?;
        Ok(())
    }
}

/// Named and anonymous volumes (version 5); their data is under `volumes/NAME/_data`.
const VOLUMES: &str = "
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY, created TEXT NOT NULL, labels TEXT NOT NULL,
    options TEXT NOT NULL, anonymous INTEGER NOT NULL);
";

/// One row of the volumes table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeRow {
    pub name: String,
    pub created: String,
    /// JSON objects of strings.
    pub labels: String,
    pub options: String,
    pub anonymous: bool,
}

impl Db {
    /// Adds a volume; false when one of that name exists (it is kept).
    pub fn add_volume(&self, v: &VolumeRow) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            "INSERT OR IGNORE INTO volumes (name, created, labels, options, anonymous) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![v.name, v.created, v.labels, v.options, v.anonymous as i64],
        )? == 1)
    }

    pub fn volumes(&self) -> Result<Vec<VolumeRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT name, created, labels, options, anonymous FROM volumes ORDER BY name",
        )?;
        let rows = st.query_map([], volume_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn volume(&self, name: &str) -> Result<Option<VolumeRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT name, created, labels, options, anonymous FROM volumes WHERE name = ?1",
        )?;
        Ok(st.query_row([name], volume_row).optional()?)
    }

    /// Removes a volume's row; false when there was none.
    pub fn remove_volume(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM volumes WHERE name = ?1", [name])?
            == 1)
    }
}

/// Networks and the addresses handed out on them (version 7). An address
/// row is the lease: its primary key makes a second holder impossible.
const NETWORKS: &str = "
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS addresses (
    network TEXT NOT NULL, address TEXT NOT NULL, container TEXT NOT NULL,
    PRIMARY KEY (network, address));
";

/// Secrets' metadata (version 8); their values are files under
/// `secrets/ID`, never in a record.
const SECRETS: &str = "
CREATE TABLE IF NOT EXISTS secrets (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, record TEXT NOT NULL);
";

/// Pods (version 9).
const PODS: &str = "
CREATE TABLE IF NOT EXISTS pods (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, record TEXT NOT NULL);
";

// A table of its own, not a column: a record of more than a page spills
// into overflow pages, which SQLite walks to reach any column after it.
const CONTAINER_LISTINGS: &str = "
CREATE TABLE IF NOT EXISTS container_listings (
    id TEXT PRIMARY KEY REFERENCES containers(id) ON DELETE CASCADE, listing TEXT NOT NULL);
";

impl Db {
    /// Adds a secret's metadata; false when the name is taken.
    pub fn add_secret(&self, n: &NamedRow) -> Result<bool, StoreError> {
        self.add_named("secrets", n)
    }

    pub fn secrets(&self) -> Result<Vec<NamedRow>, StoreError> {
        self.named("secrets")
    }

    pub fn remove_secret(&self, id: &str) -> Result<bool, StoreError> {
        self.remove_named("secrets", id)
    }

    /// Adds a pod; false when the name is taken.
    pub fn add_pod(&self, n: &NamedRow) -> Result<bool, StoreError> {
        self.add_named("pods", n)
    }

    pub fn pods(&self) -> Result<Vec<NamedRow>, StoreError> {
        self.named("pods")
    }

    pub fn remove_pod(&self, id: &str) -> Result<bool, StoreError> {
        self.remove_named("pods", id)
    }

    fn remove_named(&self, table: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute(&format!("DELETE FROM {table} WHERE id = ?1"), [id])?
            == 1)
    }
}

/// One row of a table of named records (networks, secrets, pods); `record` is
/// the engine's JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedRow {
    pub id: String,
    pub name: String,
    pub record: String,
}

impl Db {
    /// Adds a network; false when the name is taken (nothing changes).
    pub fn add_network(&self, n: &NamedRow) -> Result<bool, StoreError> {
        self.add_named("networks", n)
    }

    pub fn networks(&self) -> Result<Vec<NamedRow>, StoreError> {
        self.named("networks")
    }

    /// Adds a row to a table of (id, unique name, record); false when the
    /// name is taken (nothing changes).
    fn add_named(&self, table: &str, n: &NamedRow) -> Result<bool, StoreError> {
        Ok(self.conn.execute(
            &format!("INSERT OR IGNORE INTO {table} (id, name, record) VALUES (?1, ?2, ?3)"),
            params![n.id, n.name, n.record],
        )? == 1)
    }

    /// Every row of a table of (id, unique name, record), by name.
    fn named(&self, table: &str) -> Result<Vec<NamedRow>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT id, name, record FROM {table} ORDER BY name"
        ))?;
        let rows = st.query_map([], |r| {
            Ok(NamedRow {
                id: r.get(0)?,
                name: r.get(1)?,
                record: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes a network and its leases; false when there was none.
    pub fn remove_network(&self, id: &str) -> Result<bool, StoreError> {
        let tx = self.write_tx()?;
        tx.execute("DELETE FROM addresses WHERE network = ?1", [id])?;
        let n = tx.execute("DELETE FROM networks WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(n == 1)
    }

    /// Leases an address on `network` to `container`, in one transaction:
    /// `pick` sees the addresses held and names the one to take, or fails.
    /// Stale leases are dropped first: those of removed containers, and
    /// those of build steps (`build-PID-...`) whose process is gone.
    pub fn lease_address<E: From<StoreError>>(
        &self,
        network: &str,
        container: &str,
        pick: impl FnOnce(&[String]) -> Result<String, E>,
    ) -> Result<String, E> {
        let tx = self.write_tx()?;
        let held: Vec<String> = (|| {
            let orphans: Vec<String> = tx
                .prepare("SELECT DISTINCT container FROM addresses WHERE container NOT IN (SELECT id FROM containers)")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for holder in orphans {
                let live_build = holder
                    .strip_prefix("build-")
                    .and_then(|rest| rest.split('-').next())
                    .is_some_and(|pid| Path::new("/proc").join(pid).exists());
                if !live_build {
                    tx.execute("DELETE FROM addresses WHERE container = ?1", [&holder])?;
                }
            }
            let mut st = tx.prepare("SELECT address FROM addresses WHERE network = ?1")?;
            let rows = st.query_map([network], |r| r.get(0))?;
            rows.collect::<Result<Vec<String>, _>>()
        })()
        .map_err(StoreError::from)?;
        let address = pick(&held)?;
        tx.execute(
            "INSERT INTO addresses (network, address, container) VALUES (?1, ?2, ?3)",
            params![network, address, container],
        )
        .map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(address)
    }

    /// Gives back a container's leases: on one network, or on all (None).
    pub fn release_addresses(
        &self,
        container: &str,
        network: Option<&str>,
    ) -> Result<(), StoreError> {
        match network {
            Some(n) => self.conn.execute(
                "DELETE FROM addresses WHERE container = ?1 AND network = ?2",
                [container, n],
            )?,
            None => self
                .conn
                .execute("DELETE FROM addresses WHERE container = ?1", [container])?,
        };
        Ok(())
    }
}

/// One row of the events table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRow {
    pub seq: i64,
    pub time_nano: i64,
    pub kind: String,
    pub action: String,
    pub actor: String,
    /// JSON object of strings.
    pub attributes: String,
}

impl Db {
    /// Records an event (and forgets the oldest beyond [`EVENTS_KEPT`]).
    pub fn add_event(&self, e: &EventRow) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.execute(
            "INSERT INTO events (time_nano, type, action, actor, attributes) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![e.time_nano, e.kind, e.action, e.actor, e.attributes],
        )?;
        tx.execute(
            "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?1",
            [EVENTS_KEPT],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Events after `after_seq`, oldest first.
    pub fn events_after(&self, after_seq: i64) -> Result<Vec<EventRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT seq, time_nano, type, action, actor, attributes FROM events WHERE seq > ?1 ORDER BY seq",
        )?;
        let rows = st.query_map([after_seq], |r| {
            Ok(EventRow {
                seq: r.get(0)?,
                time_nano: r.get(1)?,
                kind: r.get(2)?,
                action: r.get(3)?,
                actor: r.get(4)?,
                attributes: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest event's sequence number (0 when none).
    pub fn last_event_seq(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?)
    }
}

impl Db {
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        // journal_mode returns a row, so it is queried rather than executed.
        conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")?;
        // Pages read in place from the page cache rather than copied by one
        // pread each: a listing of a thousand containers reads a thousand.
        conn.query_row("PRAGMA mmap_size=1073741824", [], |_| Ok(()))?;
        // Each berth command is a process: a checkpoint as each one closes
        // the store would copy the log back and remove it every time. The
        // log is checkpointed as it grows instead (SQLite's auto-checkpoint),
        // and kept short: the first process to open the store reads all of
        // the log to index it, which at SQLite's 1,000 pages cost every
        // command up to a millisecond.
        conn.query_row("PRAGMA wal_autocheckpoint=128", [], |_| Ok(()))?;
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version < 7 {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(BUILD_CACHE)?;
            tx.execute_batch(FILE_HASHES)?;
            tx.execute_batch(EVENTS)?;
            tx.execute_batch(VOLUMES)?;
            tx.execute_batch(COMPRESSED)?;
            tx.execute_batch(NETWORKS)?;
            tx.execute_batch("PRAGMA user_version=7")?;
            tx.commit()?;
        }
        if version < 8 {
            conn.execute_batch(SECRETS)?;
            conn.execute_batch("PRAGMA user_version=8")?;
        }
        if version < 9 {
            conn.execute_batch(PODS)?;
            conn.execute_batch("PRAGMA user_version=9")?;
        }
        if version < 10 {
            conn.execute_batch(CONTAINER_LISTINGS)?;
            conn.execute_batch("PRAGMA user_version=10")?;
        }
        Ok(Db { conn })
    }

    fn write_tx(&self) -> Result<rusqlite::Transaction<'_>, StoreError> {
        // IMMEDIATE takes the write lock up front (waiting up to the busy timeout).
        Ok(rusqlite::Transaction::new_unchecked(
            &self.conn,
            TransactionBehavior::Immediate,
        )?)
    }

    // ---- images ----

    /// Adds an image (if new) and points `tags` at it, in one transaction.
    pub fn add_image(&self, image: &ImageRecord, tags: &[String]) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        let new = tx.execute(
            "INSERT OR IGNORE INTO images (id, manifest, created, size) VALUES (?1, ?2, ?3, ?4)",
            params![
                image.id.as_str(),
                image.manifest.as_str(),
                image.created,
                image.size as i64
            ],
        )?;
        if new == 1 {
            for (i, l) in image.layers.iter().enumerate() {
                tx.execute(
                    "INSERT INTO image_layers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        image.id.as_str(),
                        i as i64,
                        l.blob.as_str(),
                        l.media_type,
                        l.blob_size as i64,
                        l.diff_id.as_str(),
                        l.chain_id.as_str()
                    ],
                )?;
            }
        }
        for t in tags {
            tx.execute(
                "INSERT OR REPLACE INTO tags (name, image_id) VALUES (?1, ?2)",
                params![t, image.id.as_str()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn image(&self, id: &Digest) -> Result<Option<ImageRecord>, StoreError> {
        let row = self
            .conn
            .prepare_cached("SELECT id, manifest, created, size FROM images WHERE id = ?1")?
            .query_row([id.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .optional()?;
        let Some((id, manifest, created, size)) = row else {
            return Ok(None);
        };
        let layers = self.layers(&id)?;
        Ok(Some(ImageRecord {
            id: digest(id)?,
            manifest: digest(manifest)?,
            created,
            size: size as u64,
            layers,
        }))
    }

    fn layers(&self, image_id: &str) -> Result<Vec<LayerRecord>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT blob, media_type, blob_size, diff_id, chain_id FROM image_layers WHERE image_id = ?1 ORDER BY idx",
        )?;
        let rows = st.query_map([image_id], |r| layer_record(r, 0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn images(&self) -> Result<Vec<ImageRecord>, StoreError> {
        // Two queries for the whole list, not two per image.
        let mut layers: std::collections::HashMap<String, Vec<LayerRecord>> = Default::default();
        let mut st = self.conn.prepare_cached(
            "SELECT image_id, blob, media_type, blob_size, diff_id, chain_id FROM image_layers ORDER BY image_id, idx",
        )?;
        let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, layer_record(r, 1)?)))?;
        for row in rows {
            let (image, layer) = row?;
            layers.entry(image).or_default().push(layer);
        }
        let mut st = self.conn.prepare_cached(
            "SELECT id, manifest, created, size FROM images ORDER BY julianday(created) DESC, id",
        )?;
        let rows = st.query_map([], |r| {
            let id: String = r.get(0)?;
            Ok(ImageRecord {
                layers: layers.remove(&id).unwrap_or_default(),
                id: digest(id)?,
                manifest: digest(r.get(1)?)?,
                created: r.get(2)?,
                size: r.get::<_, i64>(3)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Image ids that start with `prefix` (hex, with or without `sha256:`).
    pub fn images_by_prefix(&self, prefix: &str) -> Result<Vec<Digest>, StoreError> {
        let hex = prefix
            .strip_prefix("sha256:")
            .unwrap_or(prefix)
            .to_ascii_lowercase();
        // A key range, as for containers (see `find_container`).
        let mut st = self
            .conn
            .prepare_cached("SELECT id FROM images WHERE id >= ?1 AND id < ?2")?;
        let rows = st.query_map(
            params![format!("sha256:{hex}"), format!("sha256:{hex}g")],
            |r| digest(r.get(0)?),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// All tags as (fully qualified name, image id).
    pub fn tags(&self) -> Result<Vec<(String, Digest)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT name, image_id FROM tags ORDER BY name")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, digest(r.get(1)?)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn tag_target(&self, name: &str) -> Result<Option<Digest>, StoreError> {
        let id: Option<String> = self
            .conn
            .query_row("SELECT image_id FROM tags WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        id.map(digest).transpose().map_err(Into::into)
    }

    pub fn set_tag(&self, name: &str, id: &Digest) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO tags (name, image_id) VALUES (?1, ?2)",
            params![name, id.as_str()],
        )?;
        Ok(())
    }

    /// Removes a tag; false when there was none.
    pub fn remove_tag(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM tags WHERE name = ?1", [name])?
            == 1)
    }

    /// Repository digests (`name@sha256:...`) recorded for images.
    pub fn repo_digests(&self) -> Result<Vec<(String, Digest)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT name, image_id FROM repo_digests ORDER BY name")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, digest(r.get(1)?)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records `name@digest` (what a pull or push resolved) for an image.
    pub fn add_repo_digest(&self, name: &str, image: &Digest) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO repo_digests (name, image_id) VALUES (?1, ?2)",
            params![name, image.as_str()],
        )?;
        Ok(())
    }

    /// Deletes an image row (its tags and layer rows go with it, and the
    /// gzip forms made for pushes of layers no other image has). What no
    /// longer has a user on disk is garbage, for [`crate::Store::collect_garbage`].
    pub fn remove_image(&self, id: &Digest) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        tx.execute("DELETE FROM images WHERE id = ?1", [id.as_str()])?;
        tx.execute(
            "DELETE FROM compressed WHERE diff_id NOT IN (SELECT diff_id FROM image_layers)",
            [],
        )?;
        tx.commit()?;
        Ok(())
    }

    // ---- build cache ----

    /// The layer a build step made before, if its key was seen.
    /// The layer a build step made before and when it made it (as recorded by `cache_put`).
    pub fn cache_get(&self, key: &Digest) -> Result<Option<(LayerRecord, String)>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT blob, media_type, blob_size, diff_id, chain_id, created FROM build_cache WHERE key = ?1",
                [key.as_str()],
                |r| {
                    Ok((
                        LayerRecord {
                            blob: digest(r.get(0)?)?,
                            media_type: r.get(1)?,
                            blob_size: r.get::<_, i64>(2)? as u64,
                            diff_id: digest(r.get(3)?)?,
                            chain_id: digest(r.get(4)?)?,
                        },
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        if row.is_some() {
            self.conn.execute(
                "UPDATE build_cache SET last_used = datetime('now') WHERE key = ?1",
                [key.as_str()],
            )?;
        }
        Ok(row)
    }

    /// Records a step's layer, made at `created` (kept so that a cached rebuild has the same history).
    pub fn cache_put(
        &self,
        key: &Digest,
        layer: &LayerRecord,
        created: &str,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO build_cache VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, datetime('now'))",
            params![key.as_str(), layer.blob.as_str(), layer.media_type, layer.blob_size as i64, layer.diff_id.as_str(), layer.chain_id.as_str(), created],
        )?;
        Ok(())
    }

    /// Every build cache entry: key, layer, last use (`YYYY-MM-DD HH:MM:SS`, UTC).
    pub fn cache_entries(&self) -> Result<Vec<(Digest, LayerRecord, String)>, StoreError> {
        let mut st = self.conn.prepare("SELECT key, blob, media_type, blob_size, diff_id, chain_id, last_used FROM build_cache ORDER BY last_used")?;
        let rows = st.query_map([], |r| {
            Ok((
                digest(r.get(0)?)?,
                LayerRecord {
                    blob: digest(r.get(1)?)?,
                    media_type: r.get(2)?,
                    blob_size: r.get::<_, i64>(3)? as u64,
                    diff_id: digest(r.get(4)?)?,
                    chain_id: digest(r.get(5)?)?,
                },
                r.get(6)?,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn cache_remove(&self, key: &Digest) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM build_cache WHERE key = ?1", [key.as_str()])?;
        Ok(())
    }

    // ---- context file hashes ----

    /// The digest recorded for `path` when its stat signature was `stat`.
    pub fn file_hash(&self, path: &str, stat: &str) -> Result<Option<Digest>, StoreError> {
        let d: Option<String> = self
            .conn
            .prepare_cached("SELECT digest FROM file_hashes WHERE path = ?1 AND stat = ?2")?
            .query_row([path, stat], |r| r.get(0))
            .optional()?;
        d.map(digest).transpose().map_err(Into::into)
    }

    /// Records many (path, stat, digest) at once.
    pub fn put_file_hashes(&self, rows: &[(String, String, Digest)]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self.write_tx()?;
        {
            let mut st =
                tx.prepare_cached("INSERT OR REPLACE INTO file_hashes VALUES (?1, ?2, ?3)")?;
            for (p, s, d) in rows {
                st.execute(params![p, s, d.as_str()])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn clear_file_hashes(&self) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM file_hashes", [])?;
        Ok(())
    }

    // ---- snapshots ----

    pub fn add_snapshot(
        &self,
        chain: &Digest,
        parent: Option<&Digest>,
        diff_id: &Digest,
        size: u64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO snapshots (chain_id, parent, diff_id, size) VALUES (?1, ?2, ?3, ?4)",
            params![chain.as_str(), parent.map(|p| p.as_str()), diff_id.as_str(), size as i64],
        )?;
        Ok(())
    }

    pub fn snapshot_size(&self, chain: &Digest) -> Result<Option<u64>, StoreError> {
        let s: Option<i64> = self
            .conn
            .query_row(
                "SELECT size FROM snapshots WHERE chain_id = ?1",
                [chain.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(s.map(|s| s as u64))
    }

    /// The blobs something records: images (config, manifest, layers), the
    /// build cache and the gzip forms made for pushes.
    pub fn blobs_in_use(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        self.strings(
            "SELECT blob FROM image_layers UNION SELECT id FROM images
             UNION SELECT manifest FROM images UNION SELECT blob FROM build_cache
             UNION SELECT blob FROM compressed",
        )
    }

    /// The snapshots (chain ids) an image or a build cache entry stands on.
    pub fn chains_in_use(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        self.strings("SELECT chain_id FROM image_layers UNION SELECT chain_id FROM build_cache")
    }

    fn strings(&self, sql: &str) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut st = self.conn.prepare(sql)?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn remove_snapshot(&self, chain: &Digest) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM snapshots WHERE chain_id = ?1",
            [chain.as_str()],
        )?;
        Ok(())
    }

    /// Every layer's diff id that an image or a snapshot of the store has.
    pub fn diff_ids(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT diff_id FROM snapshots UNION SELECT diff_id FROM image_layers")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn snapshot_ids(&self) -> Result<Vec<Digest>, StoreError> {
        let mut st = self.conn.prepare("SELECT chain_id FROM snapshots")?;
        let rows = st.query_map([], |r| digest(r.get(0)?))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- containers ----

    /// Inserts a container; a taken name is [`StoreError::NameConflict`].
    pub fn insert_container(&self, row: &ContainerRow, created: &str) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        let holder: Option<String> = tx
            .query_row(
                "SELECT id FROM containers WHERE name = ?1",
                [&row.name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(id) = holder {
            return Err(StoreError::NameConflict {
                name: row.name.clone(),
                id,
            });
        }
        tx.execute(
            "INSERT INTO containers (id, name, image_id, created, record) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![row.id, row.name, row.image_id, created, row.record],
        )?;
        Self::write_listing(&tx, &row.id, &row.listing)?;
        tx.commit()?;
        Ok(())
    }

    /// Rewrites a container's record with `f` (which gives the new record
    /// and its listing form), in one transaction.
    pub fn update_container(
        &self,
        id: &str,
        f: impl FnOnce(&str) -> Result<(String, String), StoreError>,
    ) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        let record: String =
            tx.query_row("SELECT record FROM containers WHERE id = ?1", [id], |r| {
                r.get(0)
            })?;
        let (new, listing) = f(&record)?;
        tx.execute(
            "UPDATE containers SET record = ?2 WHERE id = ?1",
            params![id, new],
        )?;
        Self::write_listing(&tx, id, &listing)?;
        tx.commit()?;
        Ok(())
    }

    pub fn rename_container(
        &self,
        id: &str,
        name: &str,
        record: &str,
        listing: &str,
    ) -> Result<(), StoreError> {
        let tx = self.write_tx()?;
        let holder: Option<String> = tx
            .query_row("SELECT id FROM containers WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(holder) = holder {
            return Err(StoreError::NameConflict {
                name: name.into(),
                id: holder,
            });
        }
        tx.execute(
            "UPDATE containers SET name = ?2, record = ?3 WHERE id = ?1",
            params![id, name, record],
        )?;
        Self::write_listing(&tx, id, listing)?;
        tx.commit()?;
        Ok(())
    }

    fn container_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ContainerRow> {
        Ok(ContainerRow {
            id: r.get(0)?,
            name: r.get(1)?,
            image_id: r.get(2)?,
            record: r.get(3)?,
            listing: String::new(),
        })
    }

    /// Finds a container by full id, name, or unique id prefix (docker's order).
    pub fn find_container(&self, key: &str) -> Result<Vec<ContainerRow>, StoreError> {
        let name = key.strip_prefix('/').unwrap_or(key);
        let exact = self
            .conn
            .query_row(
                "SELECT id, name, image_id, record FROM containers WHERE id = ?1 OR name = ?2 ORDER BY id = ?1 DESC LIMIT 1",
                params![key, name],
                Self::container_row,
            )
            .optional()?;
        if let Some(row) = exact {
            return Ok(vec![row]);
        }
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(vec![]);
        }
        // A range of the primary key, so the index finds it (LIKE ignores
        // case, so it reads every row); ids are lowercase hex, and 'g'
        // sorts after every hex digit.
        let key = key.to_ascii_lowercase();
        let mut st = self.conn.prepare_cached(
            "SELECT id, name, image_id, record FROM containers WHERE id >= ?1 AND id < ?2",
        )?;
        let rows = st.query_map(params![key, format!("{key}g")], Self::container_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every container, newest first.
    pub fn containers(&self) -> Result<Vec<ContainerRow>, StoreError> {
        let rows = self.containers_as("c.record, 0", "")?;
        Ok(rows.into_iter().map(|(row, _)| row).collect())
    }

    /// Every container, newest first, with its `listing` and no `record`;
    /// a row written before listings were (an older store) has its whole
    /// record and an empty listing instead.
    pub fn container_listings(&self) -> Result<Vec<ContainerRow>, StoreError> {
        let mut rows = self.containers_as(
            "coalesce(l.listing, c.record), l.listing IS NULL",
            "LEFT JOIN container_listings l ON l.id = c.id",
        )?;
        for (row, whole) in &mut rows {
            if !*whole {
                row.listing = std::mem::take(&mut row.record);
            }
        }
        Ok(rows.into_iter().map(|(row, _)| row).collect())
    }

    /// Writes the listing form of container `id`'s record.
    pub fn set_container_listing(&self, id: &str, listing: &str) -> Result<(), StoreError> {
        Self::write_listing(&self.conn, id, listing)
    }

    fn write_listing(conn: &Connection, id: &str, listing: &str) -> Result<(), StoreError> {
        conn.execute(
            "INSERT OR REPLACE INTO container_listings (id, listing) VALUES (?1, ?2)",
            params![id, listing],
        )?;
        Ok(())
    }

    /// The containers' rows (`c`, with `join`), newest first, `columns`
    /// read as the record and a flag that goes with it.
    fn containers_as(
        &self,
        columns: &str,
        join: &str,
    ) -> Result<Vec<(ContainerRow, bool)>, StoreError> {
        // Sorted here rather than by SQLite, whose sorter would copy every
        // record (megabytes, with a thousand containers) to order them.
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT c.id, c.name, c.image_id, {columns}, julianday(c.created), c.rowid FROM containers c {join}"
        ))?;
        let rows = st.query_map([], |r| {
            let order: (f64, i64) = (r.get::<_, Option<f64>>(5)?.unwrap_or(0.0), r.get(6)?);
            Ok((order, (Self::container_row(r)?, r.get::<_, bool>(4)?)))
        })?;
        let mut rows: Vec<((f64, i64), (ContainerRow, bool))> = rows.collect::<Result<_, _>>()?;
        rows.sort_by(|(a, _), (b, _)| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
        Ok(rows.into_iter().map(|(_, row)| row).collect())
    }

    pub fn containers_using_image(&self, image_id: &Digest) -> Result<Vec<String>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id FROM containers WHERE image_id = ?1")?;
        let rows = st.query_map([image_id.as_str()], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn remove_container(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM containers WHERE id = ?1", [id])?
            == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(n: u8) -> ImageRecord {
        let diff = Digest::of(&[n, 1]);
        ImageRecord {
            id: Digest::of(&[n]),
            manifest: Digest::of(&[n, 2]),
            created: "2024-01-01T00:00:00Z".into(),
            size: 10,
            layers: vec![LayerRecord {
                blob: Digest::of(&[n, 3]),
                media_type: "x".into(),
                blob_size: 5,
                diff_id: diff.clone(),
                chain_id: diff,
            }],
        }
    }

    #[test]
    fn the_write_ahead_log_stays_short() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("db");
        let db = Db::open(&path).unwrap();
        let big = "x".repeat(3000);
        for i in 0..1000 {
            db.add_event(&EventRow {
                seq: 0,
                time_nano: i,
                kind: "container".into(),
                action: "start".into(),
                actor: format!("{i:064}"),
                attributes: big.clone(),
            })
            .unwrap();
        }
        // Checkpointed at 128 pages (4 KB each): the log is reused from its
        // start, never near SQLite's default of 1,000 pages.
        let wal = std::fs::metadata(t.path().join("db-wal")).unwrap().len();
        assert!(wal < 256 * 4096, "the log holds {wal} bytes");
    }

    #[test]
    fn images_tags_and_removal() {
        let t = tempfile::tempdir().unwrap();
        let db = Db::open(&t.path().join("db")).unwrap();
        let a = image(1);
        db.add_image(&a, &["docker.io/library/a:latest".into()])
            .unwrap();
        db.add_image(&a, &["docker.io/library/a:v1".into()])
            .unwrap();
        assert_eq!(db.image(&a.id).unwrap().unwrap(), a);
        assert_eq!(db.tags().unwrap().len(), 2);
        assert_eq!(
            db.images_by_prefix(&a.id.hex()[..6]).unwrap(),
            vec![a.id.clone()]
        );
        assert_eq!(db.blobs_in_use().unwrap().len(), 3);
        assert_eq!(db.chains_in_use().unwrap().len(), 1);
        db.remove_image(&a.id).unwrap();
        assert!(db.blobs_in_use().unwrap().is_empty());
        assert!(db.chains_in_use().unwrap().is_empty());
        assert!(db.tags().unwrap().is_empty(), "tags go with the image");
    }

    #[test]
    fn leases_are_unique_and_stale_ones_go() {
        let t = tempfile::tempdir().unwrap();
        let db = Db::open(&t.path().join("db")).unwrap();
        let row = ContainerRow {
            id: "c1".into(),
            name: "web".into(),
            image_id: "i".into(),
            record: "{}".into(),
            listing: "{}".into(),
        };
        db.insert_container(&row, "t").unwrap();
        let take = |holder: &str, addr: &str| {
            db.lease_address("n1", holder, |held| -> Result<String, StoreError> {
                Ok(if held.contains(&addr.to_string()) {
                    format!("{addr}-taken")
                } else {
                    addr.to_string()
                })
            })
        };
        assert_eq!(take("c1", "10.0.0.2").unwrap(), "10.0.0.2");
        let live = format!("build-{}-x", std::process::id());
        assert_eq!(take(&live, "10.0.0.3").unwrap(), "10.0.0.3");
        // A removed container's lease and a dead build step's are stale.
        assert_eq!(take("gone", "10.0.0.4").unwrap(), "10.0.0.4");
        assert_eq!(take("build-999999999-y", "10.0.0.5").unwrap(), "10.0.0.5");
        let held = |db: &Db| {
            db.lease_address("n1", "probe", |h| -> Result<String, StoreError> {
                Err(StoreError::Corrupt(h.join(",")))
            })
            .unwrap_err()
            .to_string()
        };
        let now = held(&db);
        assert!(
            now.contains("10.0.0.2") && now.contains("10.0.0.3"),
            "{now}"
        );
        assert!(
            !now.contains("10.0.0.4") && !now.contains("10.0.0.5"),
            "{now}"
        );
        db.release_addresses("c1", None).unwrap();
        assert!(!held(&db).contains("10.0.0.2"));
    }

    #[test]
    fn container_names_are_unique() {
        let t = tempfile::tempdir().unwrap();
        let db = Db::open(&t.path().join("db")).unwrap();
        let row = |id: &str| ContainerRow {
            id: id.into(),
            name: "web".into(),
            image_id: "i".into(),
            record: "{}".into(),
            listing: "{}".into(),
        };
        db.insert_container(&row("aaa1"), "t").unwrap();
        let err = db.insert_container(&row("bbb2"), "t").unwrap_err();
        assert!(
            err.to_string()
                .contains("is already in use by container \"aaa1\""),
            "{err}"
        );
        assert_eq!(db.find_container("web").unwrap()[0].id, "aaa1");
        assert_eq!(db.find_container("aa").unwrap()[0].id, "aaa1");
        assert!(db.find_container("zz").unwrap().is_empty());
    }

    #[test]
    fn containers_list_newest_first_by_time_not_by_string() {
        let t = tempfile::tempdir().unwrap();
        let db = Db::open(&t.path().join("db")).unwrap();
        let row = |id: &str| ContainerRow {
            id: id.into(),
            name: id.into(),
            image_id: "i".into(),
            record: "{}".into(),
            listing: "{}".into(),
        };
        // Go's RFC 3339 drops trailing zeros: as strings ".12Z" > ".123Z".
        db.insert_container(&row("older"), "2026-01-01T00:00:00.12Z")
            .unwrap();
        db.insert_container(&row("newer"), "2026-01-01T00:00:00.123Z")
            .unwrap();
        db.insert_container(&row("newest"), "2026-01-01T00:00:01Z")
            .unwrap();
        let ids: Vec<String> = db.containers().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["newest", "newer", "older"]);
    }

    #[test]
    fn listings_go_with_their_records() {
        let t = tempfile::tempdir().unwrap();
        let db = Db::open(&t.path().join("db")).unwrap();
        let row = ContainerRow {
            id: "a".into(),
            name: "a".into(),
            image_id: "i".into(),
            record: r#"{"whole":1}"#.into(),
            listing: r#"{"small":1}"#.into(),
        };
        db.insert_container(&row, "2026-01-01T00:00:00Z").unwrap();
        let listed = db.container_listings().unwrap();
        assert_eq!(
            (listed[0].listing.as_str(), listed[0].record.as_str()),
            (r#"{"small":1}"#, "")
        );
        db.update_container("a", |_| {
            Ok((r#"{"whole":2}"#.into(), r#"{"small":2}"#.into()))
        })
        .unwrap();
        assert_eq!(
            db.container_listings().unwrap()[0].listing,
            r#"{"small":2}"#
        );
        assert_eq!(db.containers().unwrap()[0].record, r#"{"whole":2}"#);
        // A row of an older store, written before listings were: its record, no listing.
        db.conn
            .execute("DELETE FROM container_listings", [])
            .unwrap();
        let listed = db.container_listings().unwrap();
        assert_eq!(
            (listed[0].listing.as_str(), listed[0].record.as_str()),
            ("", r#"{"whole":2}"#)
        );
        db.set_container_listing("a", r#"{"small":3}"#).unwrap();
        assert_eq!(
            db.container_listings().unwrap()[0].listing,
            r#"{"small":3}"#
        );
        // Removed with the container.
        assert!(db.remove_container("a").unwrap());
        let left: i64 = db
            .conn
            .query_row("SELECT count(*) FROM container_listings", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }
}
