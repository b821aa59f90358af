//! `push`: send an image's blobs the registry lacks (mounting them from
//! another repository of the same registry where it has them), then its
//! manifest under the tag.

use berth_image::spec::Manifest;
use berth_image::{Digest, Reference};
use berth_registry::{Client, Upload};
use berth_store::content::ContentStore;

use crate::{parallel, Engine, EngineError};

/// Blobs sent at once.
const PARALLEL_UPLOADS: usize = 4;
/// Blobs up to this size go in one PUT; bigger ones in PATCH chunks of it.
const DEFAULT_CHUNK: u64 = 64 << 20;

#[derive(Clone, Debug)]
pub enum PushEvent {
    /// `The push refers to repository [...]`.
    Repository(String),
    Layer {
        id: String,
        status: PushStatus,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum PushStatus {
    Preparing,
    Pushing { done: u64, total: u64 },
    Pushed,
    AlreadyExists,
    MountedFrom(String),
}

#[derive(Clone, Debug)]
pub struct Pushed {
    pub tag: String,
    pub digest: Digest,
    pub size: usize,
}

impl Engine {
    /// `push NAME[:TAG]`, or every local tag of the repository with
    /// `all_tags`; with `credential` instead of the saved one.
    pub fn push(
        &self,
        name: &str,
        all_tags: bool,
        credential: Option<&berth_registry::Credential>,
        progress: &(dyn Fn(PushEvent) + Sync),
    ) -> Result<Vec<Pushed>, EngineError> {
        let reference = Reference::parse_unnormalised(name)?;
        if reference.digest.is_some() {
            return Err(EngineError::invalid(format!(
                "cannot push a digest reference ({name}); push a tag"
            )));
        }
        let tags: Vec<Reference> = if all_tags {
            if reference.tag.is_some() {
                return Err(EngineError::invalid("tag can't be used with --all-tags/-a"));
            }
            let tags: Vec<Reference> = self
                .store
                .db
                .tags()?
                .into_iter()
                .filter_map(|(t, _)| Reference::parse(&t).ok())
                .filter(|t| t.name() == reference.name())
                .collect();
            if tags.is_empty() {
                return Err(EngineError::NoSuchImage(format!(
                    "{}: no tags to push",
                    reference.familiar_name()
                )));
            }
            tags
        } else {
            vec![Reference::parse(name)?]
        };
        // Check every tag exists before contacting the registry.
        let images = tags
            .iter()
            .map(|t| {
                self.store
                    .db
                    .tag_target(&t.to_string())?
                    .ok_or_else(|| EngineError::NoSuchImage(t.familiar()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        progress(PushEvent::Repository(reference.familiar_name()));
        let config = self.registries()?;
        let endpoint = config.push_endpoint(&reference.registry);
        let client = self.registry_client(&endpoint, &reference.registry, credential)?;
        client.add_scope(format!("repository:{}:pull,push", reference.repository));
        let mut out = Vec::new();
        for (tag, image) in tags.iter().zip(images) {
            out.push(self.push_image(&client, tag, &image, progress)?);
        }
        Ok(out)
    }

    fn push_image(
        &self,
        client: &Client,
        tag: &Reference,
        image: &Digest,
        progress: &(dyn Fn(PushEvent) + Sync),
    ) -> Result<Pushed, EngineError> {
        let record = self
            .store
            .db
            .image(image)?
            .ok_or_else(|| EngineError::NoSuchImage(tag.familiar()))?;
        let stored = self.store.content.read(&record.manifest)?;
        let stored: Manifest = serde_json::from_slice(&stored)
            .map_err(|e| EngineError::BadContent(format!("manifest {}: {e}", record.manifest)))?;
        let (manifest_bytes, manifest) = self.manifest_for_push(&record, stored)?;
        let media_type = manifest
            .media_type
            .clone()
            .unwrap_or_else(|| berth_image::spec::MEDIA_OCI_MANIFEST.to_string());
        // Another repository of this registry that has the image: its blobs can be mounted.
        let mount_from = self
            .store
            .db
            .repo_digests()?
            .into_iter()
            .filter(|(_, id)| id == image)
            .filter_map(|(n, _)| Reference::parse(&n).ok())
            .find(|r| r.registry == tag.registry && r.repository != tag.repository)
            .map(|r| r.repository);
        if let Some(from) = &mount_from {
            client.add_scope(format!("repository:{from}:pull"));
        }
        // Layers, then the config (which docker does not show as a line).
        let mut blobs: Vec<(Digest, u64, bool)> = manifest
            .layers
            .iter()
            .map(|l| (l.digest.clone(), l.size, true))
            .collect();
        blobs.push((manifest.config.digest.clone(), manifest.config.size, false));
        for (d, _, shown) in &blobs {
            if !self.store.content.contains(d) {
                return Err(EngineError::BadContent(format!(
                    "{}: blob {d} is missing from the store; run `berth system check`",
                    tag.familiar()
                )));
            }
            if *shown {
                progress(PushEvent::Layer {
                    id: d.short().to_string(),
                    status: PushStatus::Preparing,
                });
            }
        }
        let chunk = std::env::var("BERTH_PUSH_CHUNK_SIZE")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&c: &u64| c > 0)
            .unwrap_or(DEFAULT_CHUNK);
        let uploader = BlobUploader {
            content: &self.store.content,
            client,
            repo: &tag.repository,
            mount_from: mount_from.as_deref(),
            chunk,
            progress,
        };
        let results = parallel::run(
            &blobs,
            PARALLEL_UPLOADS,
            |(digest, size, shown)| uploader.push(digest, *size, *shown),
            Result::is_err,
        );
        for (_, r) in results {
            r?;
        }
        let tag_name = tag.tag.clone().unwrap_or_else(|| "latest".into());
        let digest =
            client.put_manifest(&tag.repository, &tag_name, &manifest_bytes, &media_type)?;
        self.store
            .db
            .add_repo_digest(&format!("{}@{digest}", tag.name()), image)?;
        self.emit_image("push", &tag.familiar(), &tag.familiar());
        Ok(Pushed {
            tag: tag_name,
            digest,
            size: manifest_bytes.len(),
        })
    }
}

impl Engine {
    /// The manifest to push: as stored, but with every uncompressed layer
    /// as gzip, as docker pushes them (made once per layer, several at a
    /// time, and kept for the next push; the image id does not change).
    /// A layer gzip cannot shrink by 3% stays uncompressed.
    fn manifest_for_push(
        &self,
        record: &berth_store::ImageRecord,
        mut manifest: Manifest,
    ) -> Result<(Vec<u8>, Manifest), EngineError> {
        use berth_image::spec::{
            MEDIA_DOCKER_LAYER, MEDIA_DOCKER_LAYER_GZIP, MEDIA_OCI_LAYER, MEDIA_OCI_LAYER_GZIP,
        };
        let plain: Vec<usize> = (0..manifest.layers.len())
            .filter(|&i| {
                [MEDIA_OCI_LAYER, MEDIA_DOCKER_LAYER]
                    .contains(&manifest.layers[i].media_type.as_str())
            })
            .collect();
        if plain.is_empty() {
            let bytes = self.store.content.read(&record.manifest)?;
            return Ok((bytes, manifest));
        }
        // The gzip forms are new content until they are recorded.
        let mut pending = crate::images::Pending::new(self)?;
        pending.wrote();
        let mut known = std::collections::HashMap::new();
        let mut missing = Vec::new();
        for &i in &plain {
            let diff_id = &record.layers[i].diff_id;
            match self.store.db.compressed(diff_id)? {
                Some((blob, size)) if self.store.content.contains(&blob) => {
                    known.insert(i, (blob, size));
                }
                _ => missing.push(i),
            }
        }
        let content = &self.store.content;
        let layers = &manifest.layers;
        let made = parallel::run(
            &missing,
            PARALLEL_UPLOADS,
            |&i| -> Result<(usize, Digest, u64), EngineError> {
                let mut src = content.open(&layers[i].digest)?;
                let mut w = content.writer()?;
                let mut gz = flate2::write::GzEncoder::new(&mut w, flate2::Compression::fast());
                std::io::copy(&mut src, &mut gz)
                    .map_err(|e| EngineError::io(&content.path(&layers[i].digest), e))?;
                gz.finish()
                    .map_err(|e| EngineError::io(&content.path(&layers[i].digest), e))?;
                let size = w.written();
                // Incompressible content (media, already-compressed files)
                // goes as it is: gzip would only cost every puller CPU.
                if size as f64 > layers[i].size as f64 * 0.97 {
                    return Ok((i, layers[i].digest.clone(), layers[i].size));
                }
                Ok((i, w.commit(None)?, size))
            },
            Result::is_err,
        );
        for (_, r) in made {
            let (i, blob, size) = r?;
            self.store
                .db
                .set_compressed(&record.layers[i].diff_id, &blob, size)?;
            known.insert(i, (blob, size));
        }
        pending.recorded();
        let docker =
            manifest.media_type.as_deref() == Some(berth_image::spec::MEDIA_DOCKER_MANIFEST);
        let mut changed = false;
        for (i, (blob, size)) in known {
            let l = &mut manifest.layers[i];
            if l.digest == blob {
                continue;
            }
            changed = true;
            l.digest = blob;
            l.size = size;
            l.media_type = if docker {
                MEDIA_DOCKER_LAYER_GZIP
            } else {
                MEDIA_OCI_LAYER_GZIP
            }
            .into();
        }
        let bytes = if changed {
            serde_json::to_vec(&manifest).expect("manifest serialises")
        } else {
            self.store.content.read(&record.manifest)?
        };
        Ok((bytes, manifest))
    }
}

/// What the upload workers share (the stores' files, not the database).
struct BlobUploader<'a> {
    content: &'a ContentStore,
    client: &'a Client,
    repo: &'a str,
    mount_from: Option<&'a str>,
    chunk: u64,
    progress: &'a (dyn Fn(PushEvent) + Sync),
}

impl BlobUploader<'_> {
    fn push(&self, digest: &Digest, size: u64, shown: bool) -> Result<(), EngineError> {
        let (client, repo, mount_from) = (self.client, self.repo, self.mount_from);
        let id = digest.short().to_string();
        let report = |status| {
            if shown {
                (self.progress)(PushEvent::Layer {
                    id: id.clone(),
                    status,
                })
            }
        };
        if client.has_blob(repo, digest)? {
            report(PushStatus::AlreadyExists);
            return Ok(());
        }
        let location = match client.start_upload(repo, mount_from.map(|f| (digest, f)))? {
            Upload::Mounted => {
                report(PushStatus::MountedFrom(
                    mount_from.unwrap_or_default().to_string(),
                ));
                return Ok(());
            }
            Upload::Location(l) => l,
        };
        report(PushStatus::Pushing {
            done: 0,
            total: size,
        });
        let last = std::sync::atomic::AtomicU64::new(0);
        let sent = |done: u64| {
            // Every 512 KiB is plenty for a progress bar.
            let before = last.load(std::sync::atomic::Ordering::Relaxed);
            if done >= before + 512 * 1024 || done == size {
                last.store(done, std::sync::atomic::Ordering::Relaxed);
                report(PushStatus::Pushing { done, total: size });
            }
        };
        client.upload_blob(
            location,
            &self.content.path(digest),
            digest,
            size,
            self.chunk,
            &sent,
        )?;
        report(PushStatus::Pushed);
        Ok(())
    }
}
