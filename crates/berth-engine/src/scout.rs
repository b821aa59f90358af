//! `scout`: an image's packages, vulnerabilities and secrets, from the
//! store's unpacked layers and the OSV records the user imported — offline.
//!
//! Each layer's catalogue (and secret scan) is cached in `scout.db` by diff
//! id, so a rescan of known layers reads no file.

use std::path::{Path, PathBuf};

use berth_image::layer;
use berth_scout::catalog::{self, Inventory, LayerCatalogue};
use berth_scout::db::{Db, EcosystemStatus, Imported};
use berth_scout::report::{Filter, Vex};
use berth_scout::sbom::Target;
use berth_scout::scan::{self, Finding};
use berth_scout::secrets::{self, LayerSecrets, Secret};
use berth_scout::LayerResult;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::{Engine, EngineError};

/// A database older than this hides what was published since.
const STALE_AFTER_DAYS: i64 = 7;

/// What a scan looks at: the layers (bottom first) and the config.
struct Subject {
    target: Target,
    layers: Vec<LayerTree>,
    config: Value,
    /// Names and digests the image is known by (for VEX products).
    ids: Vec<String>,
    /// Where an archive's layers are unpacked, removed when done.
    _work: Option<berth_store::TempDir>,
}

struct LayerTree {
    /// Empty for a directory scanned as it is (`fs://`): never cached.
    diff_id: String,
    source: LayerSource,
}

enum LayerSource {
    Dir(PathBuf),
    /// An archive's layer tar, unpacked only when its results are not cached.
    Tar(PathBuf),
}

/// What `scout cves` found.
pub struct Vulnerabilities {
    pub target: Target,
    pub packages: usize,
    pub findings: Vec<Finding>,
    /// Suppressed by VEX statements.
    pub suppressed: usize,
    pub warnings: Vec<String>,
}

/// `scout quickview`: the image's counts, and its base image's where a
/// local image is its base (its layers are the first of this one's).
pub struct QuickView {
    pub target: Target,
    pub packages: usize,
    pub findings: Vec<Finding>,
    pub base: Option<(String, Vec<Finding>)>,
    pub warnings: Vec<String>,
}

impl Engine {
    fn scout_db(&self) -> Result<Db, EngineError> {
        Db::open(&self.root().join("scout.db")).map_err(scout_error)
    }

    /// Forgets the cached layer results of layers the store no longer has,
    /// and those an older berth made (another catalogue or rules version);
    /// how many went. A store that never scanned has nothing to forget.
    pub(crate) fn scout_collect(&self) -> Result<usize, EngineError> {
        if !self.root().join("scout.db").exists() {
            return Ok(0);
        }
        let layers = self.store.db.diff_ids()?;
        let current = [
            format!("catalogue-v{}", catalog::CATALOGUE_VERSION),
            format!("secrets-v{}", secrets::RULES_VERSION),
        ];
        let keep = |key: &str| {
            key.split_once(':').is_some_and(|(kind, diff)| {
                current.iter().any(|c| c == kind) && layers.contains(diff)
            })
        };
        self.scout_db()?.forget_cached(&keep).map_err(scout_error)
    }

    /// `scout db import PATH...`.
    pub fn scout_import(&self, paths: &[PathBuf]) -> Result<Imported, EngineError> {
        if paths.is_empty() {
            return Err(EngineError::invalid(
                "scout db import needs at least one path: an OSV all.zip, a directory of OSV JSON records, or a record",
            ));
        }
        self.scout_db()?.import(paths).map_err(scout_error)
    }

    /// `scout db status`: each ecosystem's record count and newest change.
    pub fn scout_status(&self) -> Result<Vec<EcosystemStatus>, EngineError> {
        self.scout_db()?.status().map_err(scout_error)
    }

    /// The packages in an image (`scout sbom`).
    pub fn scout_packages(&self, source: &str) -> Result<(Target, Inventory), EngineError> {
        let subject = self.scan_subject(source)?;
        let db = self.scout_db()?;
        let inv = self.inventory(&db, &subject)?;
        Ok((subject.target, inv))
    }

    /// `scout cves`: the image's vulnerable packages, filtered, with VEX
    /// statements applied.
    pub fn scout_cves(
        &self,
        source: &str,
        filter: &Filter,
        vex: &[Vex],
    ) -> Result<Vulnerabilities, EngineError> {
        let subject = self.scan_subject(source)?;
        let db = self.scout_db()?;
        let mut warnings = database_warnings(&db)?;
        let inv = self.inventory(&db, &subject)?;
        let (all, w) = scan::vulnerabilities(&db, &inv).map_err(scout_error)?;
        warnings.extend(w);
        warnings.extend(inv.warnings.iter().cloned());
        let before = all.len();
        let unsuppressed: Vec<Finding> = all
            .into_iter()
            .filter(|f| !vex.iter().any(|v| v.suppresses(f, &subject.ids)))
            .collect();
        let suppressed = before - unsuppressed.len();
        Ok(Vulnerabilities {
            target: subject.target,
            packages: inv.packages.len(),
            findings: unsuppressed
                .into_iter()
                .filter(|f| filter.keeps(f))
                .collect(),
            suppressed,
            warnings,
        })
    }

    /// `scout quickview`.
    pub fn scout_quickview(&self, source: &str) -> Result<QuickView, EngineError> {
        let subject = self.scan_subject(source)?;
        let db = self.scout_db()?;
        let mut warnings = database_warnings(&db)?;
        let inv = self.inventory(&db, &subject)?;
        let (findings, w) = scan::vulnerabilities(&db, &inv).map_err(scout_error)?;
        warnings.extend(w);
        let diff_ids: Vec<&str> = subject.layers.iter().map(|l| l.diff_id.as_str()).collect();
        let base = self.base_image(&diff_ids)?.map(|(name, base_ids)| {
            let in_base = findings
                .iter()
                .filter(|f| base_ids.contains(&f.package.layer))
                .cloned()
                .collect();
            (name, in_base)
        });
        Ok(QuickView {
            target: subject.target,
            packages: inv.packages.len(),
            findings,
            base,
            warnings,
        })
    }

    /// `scout secrets`: in every layer's files (deleted ones too), the
    /// config and the history.
    pub fn scout_secrets(
        &self,
        source: &str,
    ) -> Result<(Target, Vec<Secret>, Vec<String>), EngineError> {
        let subject = self.scan_subject(source)?;
        let db = self.scout_db()?;
        let layers: Vec<(String, LayerSecrets)> = self.per_layer(
            &db,
            &subject,
            &format!("secrets-v{}", secrets::RULES_VERSION),
            secrets::scan_tree,
            None,
        )?;
        let mut found = Vec::new();
        let mut warnings = Vec::new();
        for (i, (diff_id, layer)) in layers.iter().enumerate() {
            let later = &layers[i + 1..];
            for s in &layer.secrets {
                let mut s = s.clone();
                s.layer = diff_id.clone();
                // Deleted, hidden or replaced above: still in this layer's tar.
                s.removed_later = later.iter().any(|(_, l)| {
                    l.whiteouts.removes(&s.path) || l.secrets.iter().any(|o| o.path == s.path)
                });
                found.push(s);
            }
            warnings.extend(layer.warnings.iter().cloned());
        }
        found.extend(secrets::scan_config(&subject.config));
        Ok((subject.target, found, warnings))
    }

    fn inventory(&self, db: &Db, subject: &Subject) -> Result<Inventory, EngineError> {
        let layers: Vec<(String, LayerCatalogue)> = self.per_layer(
            db,
            subject,
            &format!("catalogue-v{}", catalog::CATALOGUE_VERSION),
            catalog::catalogue_tree,
            // An archive's layer: only the files a catalogue reads are unpacked.
            Some(&catalog::wanted),
        )?;
        Ok(catalog::squash(&layers))
    }

    /// `analyse` of each layer, from the cache where it was done before;
    /// the layers not cached are done in parallel.
    fn per_layer<T: Serialize + DeserializeOwned + Send + LayerResult>(
        &self,
        db: &Db,
        subject: &Subject,
        kind: &str,
        analyse: fn(&Path) -> T,
        keep: Option<layer::Keep<'_>>,
    ) -> Result<Vec<(String, T)>, EngineError> {
        let key = |l: &LayerTree| format!("{kind}:{}", l.diff_id);
        let mut cached: Vec<Option<T>> = subject
            .layers
            .iter()
            .map(|l| {
                (!l.diff_id.is_empty())
                    .then(|| db.cached(&key(l)))
                    .flatten()
                    .and_then(|b| serde_json::from_slice(&b).ok())
            })
            .collect();
        let todo: Vec<usize> = (0..cached.len()).filter(|i| cached[*i].is_none()).collect();
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let work = subject._work.as_ref().map(|w| w.path().to_path_buf());
        let results = crate::parallel::run(
            &todo,
            workers,
            |&i| {
                let l = &subject.layers[i];
                match (&l.source, &work) {
                    (LayerSource::Dir(d), _) => (analyse(d), true),
                    (LayerSource::Tar(tar), Some(work)) => {
                        let dir = work.join(format!("layer-{i}"));
                        // A corrupt layer: what unpacked is scanned, the rest is named.
                        let unpacked = unpack(tar, &dir, keep);
                        let mut r = analyse(&dir);
                        let _ = std::fs::remove_dir_all(&dir);
                        if let Err(e) = &unpacked {
                            r.warn(format!("layer {}: {e}", l.diff_id));
                        }
                        (r, unpacked.is_ok())
                    }
                    (LayerSource::Tar(_), None) => unreachable!("archives have a work directory"),
                }
            },
            |_| false,
        );
        for (n, (value, complete)) in results {
            let i = todo[n];
            let l = &subject.layers[i];
            if complete && !l.diff_id.is_empty() {
                if let Ok(json) = serde_json::to_vec(&value) {
                    // A cache that cannot be written costs the next scan time, no more.
                    let _ = db.cache(&key(l), &json);
                }
            }
            cached[i] = Some(value);
        }
        Ok(subject
            .layers
            .iter()
            .zip(cached)
            .filter_map(|(l, c)| Some((l.diff_id.clone(), c?)))
            .collect())
    }

    /// Resolves what the user named: a local image (`NAME`, `image://` or
    /// `local://`), `archive://FILE.tar` (docker-archive or OCI layout) or
    /// `fs://DIR`.
    fn scan_subject(&self, source: &str) -> Result<Subject, EngineError> {
        if let Some(dir) = source.strip_prefix("fs://") {
            let dir = PathBuf::from(dir);
            if !dir.is_dir() {
                return Err(EngineError::invalid(format!(
                    "fs://{}: no such directory",
                    dir.display()
                )));
            }
            return Ok(Subject {
                target: Target {
                    name: source.to_string(),
                    ..Default::default()
                },
                layers: vec![LayerTree {
                    diff_id: String::new(),
                    source: LayerSource::Dir(dir),
                }],
                config: Value::Null,
                ids: vec![source.to_string()],
                _work: None,
            });
        }
        if let Some(file) = source.strip_prefix("archive://") {
            return self.archive_subject(source, Path::new(file));
        }
        if source.starts_with("registry://") || source.starts_with("oci-dir://") {
            return Err(EngineError::invalid(format!(
                "{source}: berth scout works offline on local images, archive:// and fs://: pull the image first (berth pull), or save it to an archive"
            )));
        }
        let name = source
            .strip_prefix("image://")
            .or_else(|| source.strip_prefix("local://"))
            .unwrap_or(source);
        let image = self.resolve_image(name)?;
        let config: Value = self.image_config_as(&image)?;
        let layers = image
            .layers
            .iter()
            .map(|l| LayerTree {
                diff_id: l.diff_id.to_string(),
                source: LayerSource::Dir(self.store.snapshots.path(&l.chain_id)),
            })
            .collect();
        Ok(Subject {
            target: Target {
                name: name.to_string(),
                digest: Some(image.id.to_string()),
                platform: platform(&config),
                size: Some(image.size),
            },
            layers,
            ids: vec![
                name.to_string(),
                image.id.to_string(),
                image.id.hex().to_string(),
            ],
            config,
            _work: None,
        })
    }

    fn archive_subject(&self, source: &str, file: &Path) -> Result<Subject, EngineError> {
        let input = std::fs::File::open(file).map_err(|e| EngineError::io(file, e))?;
        let work = self.store.temp_dir("scout")?;
        let images = berth_image::archive::read_archive(input, work.path())
            .map_err(|e| EngineError::BadContent(format!("{}: {e}", file.display())))?;
        let Some(img) = images.into_iter().next() else {
            return Err(EngineError::BadContent(format!(
                "{}: the archive holds no image",
                file.display()
            )));
        };
        let config: Value = serde_json::from_slice(&img.config_bytes).map_err(|e| {
            EngineError::BadContent(format!("{}: image config: {e}", file.display()))
        })?;
        let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if diff_ids.len() != img.layer_files.len() {
            return Err(EngineError::BadContent(format!(
                "{}: the config lists {} layers, the archive holds {}",
                file.display(),
                diff_ids.len(),
                img.layer_files.len()
            )));
        }
        let layers = img
            .layer_files
            .iter()
            .zip(diff_ids)
            .map(|(f, d)| LayerTree {
                diff_id: d,
                source: LayerSource::Tar(f.clone()),
            })
            .collect();
        let digest = berth_image::Digest::of(&img.config_bytes).to_string();
        let mut ids = img.repo_tags.clone();
        ids.push(digest.clone());
        Ok(Subject {
            target: Target {
                name: source.to_string(),
                digest: Some(digest),
                platform: platform(&config),
                size: None,
            },
            layers,
            config,
            ids,
            _work: Some(work),
        })
    }

    /// The local image whose layers are the most of the first of these
    /// (and not all of them), with its diff ids.
    fn base_image(&self, diff_ids: &[&str]) -> Result<Option<(String, Vec<String>)>, EngineError> {
        let mut best: Option<(usize, berth_image::Digest, Vec<String>)> = None;
        for image in self.store.db.images()? {
            let ids: Vec<String> = image.layers.iter().map(|l| l.diff_id.to_string()).collect();
            let n = ids.len();
            let prefix =
                n > 0 && n < diff_ids.len() && ids.iter().zip(diff_ids).all(|(a, b)| a == b);
            if prefix && best.as_ref().is_none_or(|(m, ..)| n > *m) {
                best = Some((n, image.id.clone(), ids));
            }
        }
        let Some((_, id, ids)) = best else {
            return Ok(None);
        };
        let name = self
            .store
            .db
            .tags()?
            .into_iter()
            .filter(|(_, t)| *t == id)
            .map(|(n, _)| crate::images::familiar(&n))
            .min()
            .unwrap_or_else(|| id.to_string());
        Ok(Some((name, ids)))
    }
}

fn platform(config: &Value) -> Option<String> {
    let os = config["os"].as_str()?;
    let arch = config["architecture"].as_str()?;
    Some(match config["variant"].as_str() {
        Some(v) => format!("{os}/{arch}/{v}"),
        None => format!("{os}/{arch}"),
    })
}

/// An empty database is an error (a scan would say "nothing found" and be
/// wrong); a stale one is a warning.
fn database_warnings(db: &Db) -> Result<Vec<String>, EngineError> {
    let Some(newest) = db.newest().map_err(scout_error)? else {
        return Err(EngineError::invalid(
            "no vulnerability database: import OSV records first with `berth scout db import all.zip` (osv.dev publishes one per ecosystem)",
        ));
    };
    let age = chrono::DateTime::parse_from_rfc3339(&newest)
        .map(|t| {
            chrono::Utc::now()
                .signed_duration_since(t.to_utc())
                .num_days()
        })
        .unwrap_or(0);
    Ok(if age > STALE_AFTER_DAYS {
        vec![format!(
            "the vulnerability database is {age} days old (newest record {newest}): what was published since is not reported; import fresh OSV records with `berth scout db import`"
        )]
    } else {
        Vec::new()
    })
}

fn unpack(tar: &Path, dir: &Path, keep: Option<layer::Keep<'_>>) -> Result<(), EngineError> {
    std::fs::create_dir_all(dir).map_err(|e| EngineError::io(dir, e))?;
    let f = std::fs::File::open(tar).map_err(|e| EngineError::io(tar, e))?;
    let (_, reader) = layer::decompress(f).map_err(|e| EngineError::io(tar, e))?;
    layer::apply_layer_with(reader, dir, keep)
        .map_err(|e| EngineError::BadContent(format!("{}: {e}", tar.display())))?;
    Ok(())
}

fn scout_error(e: berth_scout::db::DbError) -> EngineError {
    match e {
        berth_scout::db::DbError::Input(m) => EngineError::BadContent(m),
        berth_scout::db::DbError::Io(p, e) => EngineError::io(&p, e),
        other => EngineError::Runtime(other.to_string()),
    }
}
