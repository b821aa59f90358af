//! Local images: import, load, save, list, tag, remove, inspect, history.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};

use berth_image::archive::{self, SaveImage};
use berth_image::layer;
use berth_image::spec::{self, Descriptor, History, ImageConfig, Manifest, RootFs};
use berth_image::{Digest, Reference};
use berth_store::{ImageRecord, LayerRecord};
use serde_json::{json, Value};

use crate::{changes, time, Engine, EngineError};

/// One image with the names that point at it, for `images`.
#[derive(Clone, Debug)]
pub struct ImageSummary {
    pub record: ImageRecord,
    pub tags: Vec<Reference>,
    pub digests: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// One line of `history`.
#[derive(Clone, Debug)]
pub struct HistoryRow {
    /// The image id on the newest line, `<missing>` below it (as docker).
    pub id: String,
    pub created: String,
    pub created_by: String,
    pub size: u64,
    pub comment: String,
}

/// `import`'s options.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Dockerfile instructions applied to the image's config (`--change`).
    pub changes: Vec<String>,
    pub message: Option<String>,
    /// The platform the image says it is for (the host's by default).
    pub platform: Option<spec::Platform>,
}

impl Engine {
    /// Finds an image by name[:tag], name@digest, full id or unique id prefix.
    pub fn resolve_image(&self, name: &str) -> Result<ImageRecord, EngineError> {
        let db = &self.store.db;
        let looks_like_id = name
            .strip_prefix("sha256:")
            .unwrap_or(name)
            .bytes()
            .all(|b| b.is_ascii_hexdigit());
        if let Ok(r) = Reference::parse(name) {
            if r.digest.is_none() {
                if let Some(id) = db.tag_target(&r.to_string())? {
                    return db
                        .image(&id)?
                        .ok_or_else(|| EngineError::NoSuchImage(name.into()));
                }
            } else if let Some((_, id)) = db
                .repo_digests()?
                .into_iter()
                .find(|(n, _)| *n == format!("{}@{}", r.name(), r.digest.as_ref().unwrap()))
            {
                return db
                    .image(&id)?
                    .ok_or_else(|| EngineError::NoSuchImage(name.into()));
            }
        } else if !looks_like_id {
            Reference::parse(name)?;
        }
        if looks_like_id && !name.is_empty() {
            let ids = db.images_by_prefix(name)?;
            match ids.len() {
                1 => {
                    return db
                        .image(&ids[0])?
                        .ok_or_else(|| EngineError::NoSuchImage(name.into()))
                }
                0 => {}
                _ => {
                    return Err(EngineError::invalid(format!(
                        "{name}: image id prefix is ambiguous"
                    )))
                }
            }
        }
        Err(EngineError::NoSuchImage(name.into()))
    }

    pub fn image_config(&self, image: &ImageRecord) -> Result<ImageConfig, EngineError> {
        self.image_config_as(image)
    }

    /// The fields of the image's config that `T` names, the rest skipped
    /// unread (a listing or a start needs a few of them, not the history).
    pub(crate) fn image_config_as<T: serde::de::DeserializeOwned>(
        &self,
        image: &ImageRecord,
    ) -> Result<T, EngineError> {
        let bytes = self.store.content.read(&image.id)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| EngineError::BadContent(format!("image config {}: {e}", image.id)))
    }

    /// The image's labels, read from its config without the rest of it.
    fn image_labels(&self, image: &ImageRecord) -> Result<BTreeMap<String, String>, EngineError> {
        #[derive(serde::Deserialize, Default)]
        #[serde(default)]
        struct Labels {
            #[serde(rename = "Labels")]
            labels: Option<BTreeMap<String, String>>,
        }
        #[derive(serde::Deserialize)]
        struct Config {
            #[serde(default)]
            config: Option<Labels>,
        }
        let c: Config = self.image_config_as(image)?;
        Ok(c.config.and_then(|c| c.labels).unwrap_or_default())
    }

    /// Stores a layer blob from `input` and unpacks it on top of `parent`.
    pub(crate) fn add_layer(
        &self,
        pending: &mut Pending,
        input: &mut dyn Read,
        parent: Option<&Digest>,
    ) -> Result<LayerRecord, EngineError> {
        pending.wrote();
        let (blob, blob_size) = self.store.content.put_reader(input, None)?;
        let file = self.store.content.open(&blob)?;
        let (compression, reader) = layer::decompress(file)
            .map_err(|e| EngineError::BadContent(format!("layer {blob}: {e}")))?;
        let unpacked = self.store.snapshots.unpack(parent, reader, None)?;
        self.store
            .db
            .add_snapshot(&unpacked.chain_id, parent, &unpacked.diff_id, unpacked.size)?;
        Ok(LayerRecord {
            blob,
            media_type: spec::oci_layer_media_type(compression).into(),
            blob_size,
            diff_id: unpacked.diff_id,
            chain_id: unpacked.chain_id,
        })
    }

    /// Stores config and manifest blobs and records the image with its tags.
    pub(crate) fn commit_image(
        &self,
        pending: &mut Pending,
        config_bytes: &[u8],
        layers: Vec<LayerRecord>,
        tags: &[Reference],
    ) -> Result<ImageRecord, EngineError> {
        let config: ImageConfig = serde_json::from_slice(config_bytes)
            .map_err(|e| EngineError::BadContent(format!("image config: {e}")))?;
        let diff_ids: Vec<&Digest> = layers.iter().map(|l| &l.diff_id).collect();
        if config.rootfs.diff_ids.iter().collect::<Vec<_>>() != diff_ids {
            return Err(EngineError::BadContent(
                "image config's rootfs.diff_ids do not match its layers".into(),
            ));
        }
        pending.wrote();
        let id = self.store.content.put(config_bytes)?;
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(spec::MEDIA_OCI_MANIFEST.into()),
            config: Descriptor {
                media_type: spec::MEDIA_OCI_CONFIG.into(),
                digest: id.clone(),
                size: config_bytes.len() as u64,
                annotations: None,
                platform: None,
            },
            layers: layers
                .iter()
                .map(|l| Descriptor {
                    media_type: l.media_type.clone(),
                    digest: l.blob.clone(),
                    size: l.blob_size,
                    annotations: None,
                    platform: None,
                })
                .collect(),
            annotations: None,
        };
        let manifest_digest: Digest = self
            .store
            .content
            .put(&serde_json::to_vec(&manifest).expect("manifest serialises"))?;
        self.record_image(
            pending,
            &id,
            &manifest_digest,
            config.created.clone(),
            layers,
            tags,
        )
    }

    /// Records an image whose blobs and snapshots are in the store, with its tags.
    pub(crate) fn record_image(
        &self,
        pending: &mut Pending,
        id: &Digest,
        manifest: &Digest,
        created: Option<String>,
        layers: Vec<LayerRecord>,
        tags: &[Reference],
    ) -> Result<ImageRecord, EngineError> {
        let mut size = 0;
        for l in &layers {
            size += self.store.db.snapshot_size(&l.chain_id)?.unwrap_or(0);
        }
        let record = ImageRecord {
            id: id.clone(),
            manifest: manifest.clone(),
            created: created.unwrap_or_else(time::now),
            size,
            layers,
        };
        let names: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        self.store.db.add_image(&record, &names)?;
        pending.recorded();
        Ok(record)
    }

    /// `import`: a root filesystem tarball (any compression) as a one-layer image.
    pub fn import(
        &self,
        input: &mut dyn Read,
        source: &str,
        reference: Option<&str>,
        o: &ImportOptions,
    ) -> Result<Digest, EngineError> {
        let tag = reference.map(Reference::parse).transpose()?;
        let mut config = spec::ContainerConfig::default();
        for c in &o.changes {
            changes::apply(&mut config, c)?;
        }
        let mut pending = Pending::new(self)?;
        let layer = self.add_layer(&mut pending, input, None)?;
        let now = time::now();
        let platform = o.platform.clone().unwrap_or_else(spec::host_platform);
        let message = o.message.as_deref();
        let image = ImageConfig {
            created: Some(now.clone()),
            author: None,
            architecture: platform.architecture,
            os: platform.os,
            variant: platform.variant,
            config,
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![layer.diff_id.clone()],
            },
            history: vec![History {
                created: Some(now),
                created_by: None,
                comment: Some(
                    message
                        .map(String::from)
                        .unwrap_or_else(|| format!("Imported from {source}")),
                ),
                ..History::default()
            }],
        };
        let bytes = serde_json::to_vec(&image).expect("config serialises");
        let id = self
            .commit_image(&mut pending, &bytes, vec![layer], tag.as_slice())?
            .id;
        self.emit_image("import", id.as_str(), source);
        Ok(id)
    }

    /// `load`: images from a docker-archive or OCI-layout tar. Returns docker's lines.
    pub fn load(&self, input: &mut dyn Read) -> Result<Vec<String>, EngineError> {
        let dir = self.store.temp_dir("load")?;
        let images = archive::read_archive(input, dir.path())
            .map_err(|e| EngineError::BadContent(e.to_string()))?;
        if images.is_empty() {
            return Err(EngineError::BadContent(
                "invalid archive: it holds no images".into(),
            ));
        }
        let mut lines = Vec::new();
        let mut pending = Pending::new(self)?;
        for img in images {
            let tags = img
                .repo_tags
                .iter()
                .map(|t| Reference::parse(t))
                .collect::<Result<Vec<_>, _>>()?;
            let id = Digest::of(&img.config_bytes);
            let record = match self.store.db.image(&id)? {
                Some(existing) => {
                    let names: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
                    self.store.db.add_image(&existing, &names)?;
                    existing
                }
                None => {
                    let mut layers: Vec<LayerRecord> = Vec::new();
                    for file in &img.layer_files {
                        let mut f =
                            std::fs::File::open(file).map_err(|e| EngineError::io(file, e))?;
                        let parent = layers.last().map(|l| l.chain_id.clone());
                        layers.push(self.add_layer(&mut pending, &mut f, parent.as_ref())?);
                    }
                    self.commit_image(&mut pending, &img.config_bytes, layers, &tags)?
                }
            };
            if tags.is_empty() {
                lines.push(format!("Loaded image ID: {}", record.id));
            }
            lines.extend(
                tags.iter()
                    .map(|t| format!("Loaded image: {}", t.familiar())),
            );
            let name = tags
                .first()
                .map(|t| t.familiar())
                .unwrap_or_else(|| record.id.to_string());
            self.emit_image("load", &name, &name);
        }
        Ok(lines)
    }

    /// `save`: the named images as one docker-archive tar.
    pub fn save(&self, names: &[String], out: &mut dyn Write) -> Result<(), EngineError> {
        let all_tags = self.store.db.tags()?;
        let mut images: Vec<SaveImage> = Vec::new();
        for name in names {
            // A bare repository name means all of its tags, as docker does.
            let repo_only = Reference::parse_unnormalised(name)
                .ok()
                .filter(|r| r.tag.is_none() && r.digest.is_none());
            let selected: Vec<(Reference, Digest)> = match &repo_only {
                Some(r) => all_tags
                    .iter()
                    .filter_map(|(t, id)| {
                        Reference::parse(t)
                            .ok()
                            .filter(|x| x.name() == r.name())
                            .map(|x| (x, id.clone()))
                    })
                    .collect(),
                None => vec![],
            };
            if selected.is_empty() {
                let record = self.resolve_image(name)?;
                let tag = Reference::parse(name).ok().filter(|r| {
                    r.digest.is_none()
                        && self
                            .store
                            .db
                            .tag_target(&r.to_string())
                            .ok()
                            .flatten()
                            .as_ref()
                            == Some(&record.id)
                });
                self.add_to_save(&mut images, &record.id, tag)?;
            } else {
                for (tag, id) in selected {
                    self.add_to_save(&mut images, &id, Some(tag))?;
                }
            }
        }
        archive::write_archive(out, &images).map_err(|e| match e {
            archive::ArchiveError::Io(io) => EngineError::Io {
                path: "output".into(),
                source: io,
            },
            other => EngineError::BadContent(other.to_string()),
        })?;
        for name in names {
            self.emit_image("save", name, name);
        }
        Ok(())
    }

    fn add_to_save(
        &self,
        images: &mut Vec<SaveImage>,
        id: &Digest,
        tag: Option<Reference>,
    ) -> Result<(), EngineError> {
        if let Some(existing) = images.iter_mut().find(|i| &i.manifest.config.digest == id) {
            existing
                .tags
                .extend(tag.filter(|t| !existing.tags.contains(t)));
            return Ok(());
        }
        let record = self
            .store
            .db
            .image(id)?
            .ok_or_else(|| EngineError::NoSuchImage(id.to_string()))?;
        let manifest_bytes = self.store.content.read(&record.manifest)?;
        let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
            .map_err(|e| EngineError::BadContent(format!("manifest {}: {e}", record.manifest)))?;
        images.push(SaveImage {
            layer_files: manifest
                .layers
                .iter()
                .map(|l| self.store.content.path(&l.digest))
                .collect(),
            manifest,
            manifest_bytes,
            config_bytes: self.store.content.read(id)?,
            tags: tag.into_iter().collect(),
        });
        Ok(())
    }

    /// Every image with its tags, newest first.
    pub fn list_images(&self) -> Result<Vec<ImageSummary>, EngineError> {
        let mut tags: HashMap<Digest, Vec<Reference>> = HashMap::new();
        for (t, id) in self.store.db.tags()? {
            if let Ok(r) = Reference::parse(&t) {
                tags.entry(id).or_default().push(r);
            }
        }
        let mut digests: HashMap<Digest, Vec<String>> = HashMap::new();
        for (d, id) in self.store.db.repo_digests()? {
            digests.entry(id).or_default().push(d);
        }
        let mut out = Vec::new();
        for record in self.store.db.images()? {
            out.push(ImageSummary {
                tags: tags.remove(&record.id).unwrap_or_default(),
                digests: digests.remove(&record.id).unwrap_or_default(),
                labels: self.image_labels(&record)?,
                record,
            });
        }
        Ok(out)
    }

    /// `tag SOURCE TARGET`.
    pub fn tag(&self, source: &str, target: &str) -> Result<(), EngineError> {
        let image = self.resolve_image(source)?;
        let target = Reference::parse(target)?;
        if target.digest.is_some() {
            return Err(EngineError::invalid(
                "refusing to create a tag with a digest reference",
            ));
        }
        self.store.db.set_tag(&target.to_string(), &image.id)?;
        self.emit_image("tag", image.id.as_str(), &target.familiar());
        Ok(())
    }

    /// The fully qualified tags that point at `id`.
    fn tags_of(&self, id: &Digest) -> Result<Vec<String>, EngineError> {
        Ok(self
            .store
            .db
            .tags()?
            .into_iter()
            .filter(|(_, i)| i == id)
            .map(|(t, _)| t)
            .collect())
    }

    /// `rmi`: untags, and deletes the image when no name is left, as docker does.
    /// Returns docker's `Untagged:` / `Deleted:` lines.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<String>, EngineError> {
        let lines = self.remove_image_uncollected(name, force)?;
        if lines.iter().any(|l| l.starts_with("Deleted: ")) {
            self.collect_garbage();
        }
        Ok(lines)
    }

    /// [`Engine::remove_image`] but for the collection of what the image
    /// held, which a caller removing many (`image prune`) does once.
    fn remove_image_uncollected(
        &self,
        name: &str,
        force: bool,
    ) -> Result<Vec<String>, EngineError> {
        let id = self.resolve_image(name)?.id;
        let lines = self.untag_or_delete(name, force)?;
        for l in &lines {
            if let Some(tag) = l.strip_prefix("Untagged: ") {
                self.emit_image("untag", id.as_str(), tag);
            } else if l.starts_with("Deleted: ") {
                self.emit_image("delete", id.as_str(), id.as_str());
            }
        }
        Ok(lines)
    }

    fn untag_or_delete(&self, name: &str, force: bool) -> Result<Vec<String>, EngineError> {
        let image = self.resolve_image(name)?;
        let tags = self.tags_of(&image.id)?;
        let by_tag = Reference::parse(name)
            .ok()
            .map(|r| r.to_string())
            .filter(|t| tags.contains(t));
        let mut lines = Vec::new();
        let users = self.store.db.containers_using_image(&image.id)?;
        let running_user = users
            .iter()
            .find(|id| self.container(id).map(|c| c.state.running).unwrap_or(false));
        if let Some(c) = running_user {
            return Err(EngineError::Conflict(format!(
                "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                display_name(name, &image),
                &c[..12]
            )));
        }
        // Removing one of several names only untags.
        if let Some(tag) = &by_tag {
            if tags.len() > 1 || (!users.is_empty() && force) {
                self.store.db.remove_tag(tag)?;
                return Ok(vec![format!("Untagged: {}", familiar(tag))]);
            }
        } else if tags.len() > 1 && !force {
            return Err(EngineError::Conflict(format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                image.id.short()
            )));
        }
        if let Some(c) = users.first() {
            if !force {
                return Err(EngineError::Conflict(format!(
                    "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                    display_name(name, &image),
                    &c[..12]
                )));
            }
            for t in &tags {
                self.store.db.remove_tag(t)?;
                lines.push(format!("Untagged: {}", familiar(t)));
            }
            return Ok(lines);
        }
        lines.extend(tags.iter().map(|t| format!("Untagged: {}", familiar(t))));
        self.store.db.remove_image(&image.id)?;
        lines.push(format!("Deleted: {}", image.id));
        Ok(lines)
    }

    /// `image prune`: dangling images (every image with `all`) that no
    /// container uses; with `until`, only those created before it. Returns
    /// docker's `untagged:` / `deleted:` lines and the bytes freed.
    pub fn prune_images(
        &self,
        all: bool,
        selected: &dyn Fn(&ImageSummary) -> bool,
    ) -> Result<(Vec<String>, u64), EngineError> {
        let mut lines = Vec::new();
        let mut freed = 0;
        for img in self.list_images()? {
            let id = &img.record.id;
            if (!all && !img.tags.is_empty())
                || !selected(&img)
                || !self.store.db.containers_using_image(id)?.is_empty()
            {
                continue;
            }
            for t in self.tags_of(id)? {
                self.store.db.remove_tag(&t)?;
            }
            let removed = self.remove_image_uncollected(id.as_str(), false)?;
            freed += img.record.size;
            lines.extend(
                img.tags
                    .iter()
                    .map(|t| format!("untagged: {}", t.familiar())),
            );
            lines.extend(
                removed
                    .into_iter()
                    .filter_map(|l| l.strip_prefix("Deleted: ").map(|d| format!("deleted: {d}"))),
            );
        }
        if !lines.is_empty() {
            self.collect_garbage();
        }
        Ok((lines, freed))
    }

    /// `image inspect`: docker's ImageInspect JSON.
    pub fn inspect_image(&self, name: &str) -> Result<Value, EngineError> {
        let image = self.resolve_image(name)?;
        let config = self.image_config(&image)?;
        let tags: Vec<String> = self
            .tags_of(&image.id)?
            .iter()
            .map(|t| familiar(t))
            .collect();
        let digests: Vec<String> = self
            .store
            .db
            .repo_digests()?
            .into_iter()
            .filter(|(_, id)| *id == image.id)
            .map(|(d, _)| d)
            .collect();
        let mut graph = BTreeMap::new();
        if let Some((top, below)) = image.layers.split_last() {
            graph.insert(
                "UpperDir",
                self.store
                    .snapshots
                    .path(&top.chain_id)
                    .display()
                    .to_string(),
            );
            if !below.is_empty() {
                let lower: Vec<String> = below
                    .iter()
                    .rev()
                    .map(|l| self.store.snapshots.path(&l.chain_id).display().to_string())
                    .collect();
                graph.insert("LowerDir", lower.join(":"));
            }
        }
        let comment = config
            .history
            .last()
            .and_then(|h| h.comment.clone())
            .unwrap_or_default();
        Ok(json!({
            "Id": image.id,
            "RepoTags": tags,
            "RepoDigests": digests,
            "Parent": "",
            "Comment": comment,
            "Created": config.created.clone().unwrap_or_else(|| image.created.clone()),
            "DockerVersion": "",
            "Author": config.author.clone().unwrap_or_default(),
            "Config": config.config,
            "Architecture": config.architecture,
            "Variant": config.variant,
            "Os": config.os,
            "Size": image.size,
            "GraphDriver": {"Data": graph, "Name": "overlay2"},
            "RootFS": {"Type": "layers", "Layers": config.rootfs.diff_ids},
            "Metadata": {"LastTagTime": time::ZERO},
        }))
    }

    /// `history`: newest first, as docker prints it.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryRow>, EngineError> {
        let image = self.resolve_image(name)?;
        let config = self.image_config(&image)?;
        let mut layer_sizes = Vec::new();
        for l in &image.layers {
            layer_sizes.push(self.store.db.snapshot_size(&l.chain_id)?.unwrap_or(0));
        }
        let mut sizes = layer_sizes.into_iter();
        let mut rows: Vec<HistoryRow> = config
            .history
            .iter()
            .map(|h| HistoryRow {
                id: "<missing>".into(),
                created: h.created.clone().unwrap_or_default(),
                created_by: h.created_by.clone().unwrap_or_default(),
                size: if h.empty_layer {
                    0
                } else {
                    sizes.next().unwrap_or(0)
                },
                comment: h.comment.clone().unwrap_or_default(),
            })
            .collect();
        rows.reverse();
        if let Some(first) = rows.first_mut() {
            first.id = image.id.to_string();
        }
        Ok(rows)
    }
}

/// An operation that adds content to the store, from before its first
/// write until after its last record: garbage collection waits for it
/// (see `berth_store::Work`). What it wrote and did not record, because it
/// failed half way, is collected when it ends, so that a failed import or
/// load leaves the store as it found it; one that recorded all it wrote
/// ends without a collection (a build of cache hits costs no sweep); a
/// killed one leaves garbage for the next collection. Functions that write
/// content take it, and say so ([`Pending::wrote`], [`Pending::recorded`]).
pub(crate) struct Pending<'a> {
    engine: &'a Engine,
    work: Option<berth_store::Work>,
    /// Content written since the last record.
    unrecorded: bool,
}

impl Engine {
    /// Collects the store's garbage now, unless work is in progress (then
    /// the next collection does); returns the bytes freed.
    pub fn collect_garbage(&self) -> u64 {
        let freed = match self.store.collect_garbage() {
            Ok(Some(done)) => done.bytes,
            Ok(None) => 0,
            Err(e) => {
                tracing::warn!("collecting garbage: {e}");
                0
            }
        };
        // Scan results of layers that went go with them.
        if let Err(e) = self.scout_collect() {
            tracing::warn!("forgetting scan results: {e}");
        }
        if let Err(e) = self.collect_orphan_bridges() {
            tracing::warn!("removing bridges no network records: {e}");
        }
        // The cgroups of build steps whose berth was killed: empty, or
        // holding strays of the step, which go with them.
        for step in berth_runtime::container::cgroups_below(&crate::cgroup_under("", ""))
            .into_iter()
            .filter(|name| crate::networks::abandoned_build(name))
        {
            let path = crate::cgroup_under("", &step);
            berth_runtime::container::delete(&self.runtime_dir(), &step, &path);
        }
        freed
    }
}

impl<'a> Pending<'a> {
    pub(crate) fn new(engine: &'a Engine) -> Result<Self, EngineError> {
        Ok(Pending {
            engine,
            work: Some(engine.store.work()?),
            unrecorded: false,
        })
    }

    /// Content is about to be written that nothing records yet.
    pub(crate) fn wrote(&mut self) {
        self.unrecorded = true;
    }

    /// What was written is recorded (an image, a cache entry, a gzip form).
    pub(crate) fn recorded(&mut self) {
        self.unrecorded = false;
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        drop(self.work.take());
        if self.unrecorded {
            self.engine.collect_garbage();
        }
    }
}

/// `docker.io/library/busybox:latest` → `busybox:latest`.
pub fn familiar(full: &str) -> String {
    Reference::parse(full)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| full.to_string())
}

fn display_name(name: &str, image: &ImageRecord) -> String {
    if image
        .id
        .hex()
        .starts_with(name.strip_prefix("sha256:").unwrap_or(name))
    {
        image.id.short().to_string()
    } else {
        name.to_string()
    }
}

impl Engine {
    /// Writes an image's whole filesystem (its layers merged) as one tar: `build --output type=tar`.
    pub fn export_rootfs(&self, image: &Digest, out: &mut dyn Write) -> Result<(), EngineError> {
        let record = self
            .store
            .db
            .image(image)?
            .ok_or_else(|| EngineError::NoSuchImage(image.to_string()))?;
        let chain: Vec<Digest> = record.layers.iter().map(|l| l.chain_id.clone()).collect();
        let dir = self.store.temp_dir("export")?;
        let root = dir.path().join("root");
        std::fs::create_dir(&root).map_err(|e| EngineError::io(&root, e))?;
        self.store.snapshots.mount_readonly(&chain, &root)?;
        let result = berth_image::diff::write_layer(&root, out, Default::default()).map(|_| ());
        if !chain.is_empty() {
            berth_store::snapshot::unmount(&root)?;
        }
        result.map_err(|e| EngineError::io(&root, e))
    }

    /// Unpacks an image's filesystem into `dest`: `build --output type=local`.
    pub fn export_to_dir(&self, image: &Digest, dest: &std::path::Path) -> Result<(), EngineError> {
        std::fs::create_dir_all(dest).map_err(|e| EngineError::io(dest, e))?;
        let dir = self.store.temp_dir("export")?;
        let tar = dir.path().join("rootfs.tar");
        let mut f = std::fs::File::create(&tar).map_err(|e| EngineError::io(&tar, e))?;
        self.export_rootfs(image, &mut f)?;
        let f = std::fs::File::open(&tar).map_err(|e| EngineError::io(&tar, e))?;
        layer::apply_layer(f, dest).map_err(|e| EngineError::BadContent(e.to_string()))?;
        Ok(())
    }
}

impl Engine {
    /// An image as docker's list shows it (ImageSummary), naming `tags`.
    pub fn image_summary(&self, i: &ImageSummary, tags: &[Reference]) -> Value {
        let created = time::parse(&i.record.created).map_or(0, |t| t.timestamp());
        let digests: Vec<String> = i.digests.iter().map(|d| familiar(d)).collect();
        json!({
            "Id": i.record.id,
            "ParentId": "",
            "RepoTags": tags.iter().map(Reference::familiar).collect::<Vec<_>>(),
            "RepoDigests": digests,
            "Created": created,
            "Size": i.record.size,
            "SharedSize": -1,
            "VirtualSize": i.record.size,
            "Labels": i.labels,
            "Containers": -1,
        })
    }
}
