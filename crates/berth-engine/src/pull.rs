//! `pull`: resolve a reference on its registry (or a mirror), pick this
//! platform from an index, and stream every missing layer in parallel
//! straight into the content store and its snapshot — hashed twice on the
//! way (the blob digest and the diff id), never held in memory whole.

use std::io::{self, Read, Write};

use berth_image::spec::{self, Descriptor, ImageConfig, Index, Manifest, Platform};
use berth_image::{layer, Digest, Reference};
pub use berth_registry::Credential;
use berth_registry::{Client, Endpoint, RegistryError};
use berth_store::content::{BlobWriter, ContentStore};
use berth_store::snapshot::Snapshots;
use berth_store::LayerRecord;

use crate::images::Pending;
use crate::{cancel, parallel, Engine, EngineError};

/// Layers fetched at once (docker fetches 3).
const PARALLEL_LAYERS: usize = 4;

#[derive(Clone, Debug, Default)]
pub struct PullOptions {
    /// Another platform than this host's (the image is stored, not run).
    pub platform: Option<Platform>,
    /// The credential to use instead of the saved one (the API's X-Registry-Auth).
    pub credential: Option<berth_registry::Credential>,
}

/// What a pull reports as it goes, for progress output.
#[derive(Clone, Debug)]
pub enum PullEvent {
    /// `latest: Pulling from library/busybox`.
    Resolved { tag: String, repository: String },
    /// A layer's progress; `id` is its short blob digest, as docker prints it.
    Layer { id: String, status: LayerStatus },
}

#[derive(Clone, Debug, PartialEq)]
pub enum LayerStatus {
    AlreadyExists,
    Waiting,
    Downloading { done: u64, total: u64 },
    Complete,
}

/// The outcome of one pull.
#[derive(Clone, Debug)]
pub struct Pulled {
    pub reference: Reference,
    /// The digest the reference resolved to (the index's, for multi-platform images).
    pub digest: Digest,
    pub image: Digest,
    /// False when the reference already named this image here.
    pub updated: bool,
}

/// A resolved image: the manifest for our platform and its config.
struct Resolved {
    top_digest: Digest,
    manifest_bytes: Vec<u8>,
    manifest: Manifest,
    config_bytes: Vec<u8>,
    config: ImageConfig,
}

impl From<RegistryError> for EngineError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::Interrupted => EngineError::Interrupted,
            RegistryError::BadContent(m) => EngineError::BadContent(m),
            RegistryError::Config(m) => EngineError::InvalidArgument(m),
            RegistryError::NotFound(m) => EngineError::RegistryNotFound(m),
            RegistryError::Unauthorized(m) | RegistryError::Denied(m) => {
                EngineError::RegistryDenied(m)
            }
            other => EngineError::Registry(other.to_string()),
        }
    }
}

impl Engine {
    /// Registries configuration: `--registries-config`, or the default file.
    pub(crate) fn registries(&self) -> Result<berth_registry::RegistriesConfig, EngineError> {
        Ok(berth_registry::RegistriesConfig::load(
            self.registries_config.as_deref(),
        )?)
    }

    /// A client for `endpoint`, with `given` or else the credential saved
    /// for `registry`.
    pub(crate) fn registry_client(
        &self,
        endpoint: &Endpoint,
        registry: &str,
        given: Option<&berth_registry::Credential>,
    ) -> Result<Client, EngineError> {
        let credential = match given {
            Some(c) if !endpoint.mirror => Some(c.clone()),
            _ => {
                let creds = berth_registry::DockerConfig::load()?;
                if endpoint.mirror {
                    creds.get(endpoint.host())?
                } else {
                    creds.get(registry)?
                }
            }
        };
        Ok(Client::connect(
            endpoint,
            credential,
            Some(cancel::interrupt_flag().clone()),
        )?)
    }

    /// `pull NAME[:TAG|@DIGEST]`.
    pub fn pull(
        &self,
        name: &str,
        opts: &PullOptions,
        progress: &(dyn Fn(PullEvent) + Sync),
    ) -> Result<Pulled, EngineError> {
        let reference = Reference::parse(name)?;
        let config = self.registries()?;
        let endpoints = config.pull_endpoints(&reference.registry);
        let mut last_err = None;
        for endpoint in &endpoints {
            // A mirror that fails is skipped; the registry's own error is the one reported.
            let attempt = self
                .registry_client(endpoint, &reference.registry, opts.credential.as_ref())
                .and_then(|client| {
                    let resolved = self.resolve(&client, &reference, opts)?;
                    Ok((client, resolved))
                });
            match attempt {
                Ok((client, resolved)) => {
                    return self.pull_resolved(&client, &reference, resolved, progress)
                }
                Err(EngineError::Interrupted) => return Err(EngineError::Interrupted),
                Err(e) if endpoint.mirror => {
                    tracing::debug!(mirror = %endpoint.address, error = %e, "mirror failed; trying the next");
                    last_err = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| EngineError::Registry("no registry to pull from".into())))
    }

    /// `pull -a`: every tag of a repository. Returns one result per tag.
    pub fn pull_all_tags(
        &self,
        name: &str,
        opts: &PullOptions,
        progress: &(dyn Fn(PullEvent) + Sync),
    ) -> Result<Vec<Pulled>, EngineError> {
        let reference = Reference::parse_unnormalised(name)?;
        if reference.tag.is_some() || reference.digest.is_some() {
            return Err(EngineError::invalid("tag can't be used with --all-tags/-a"));
        }
        let config = self.registries()?;
        let endpoint = config.push_endpoint(&reference.registry);
        let client =
            self.registry_client(&endpoint, &reference.registry, opts.credential.as_ref())?;
        client.add_scope(format!("repository:{}:pull", reference.repository));
        let tags = client.list_tags(&reference.repository)?;
        tags.iter()
            .map(|t| self.pull(&reference.with_tag(t).to_string(), opts, progress))
            .collect()
    }

    /// What the registry has under `name` (the API's `/distribution`): the
    /// descriptor the name resolves to and the platforms it offers.
    pub fn distribution(
        &self,
        name: &str,
        credential: Option<&berth_registry::Credential>,
    ) -> Result<serde_json::Value, EngineError> {
        let r = Reference::parse(name)?;
        let config = self.registries()?;
        let endpoint = config.push_endpoint(&r.registry);
        let client = self.registry_client(&endpoint, &r.registry, credential)?;
        let (bytes, content_type, what) = top_manifest(&client, &r)?;
        let platforms: Vec<spec::Platform> = match parse_manifest(&bytes, &content_type, &what)? {
            Parsed::Index(index) => index
                .manifests
                .iter()
                .filter_map(|m| m.platform.clone())
                .collect(),
            Parsed::Manifest(m) => {
                let config =
                    client.get_blob_bytes(&r.repository, &m.config.digest, m.config.size)?;
                let config: ImageConfig = serde_json::from_slice(&config)
                    .map_err(|e| EngineError::BadContent(format!("{what}: image config: {e}")))?;
                vec![spec::Platform {
                    architecture: config.architecture,
                    os: config.os,
                    variant: config.variant,
                }]
            }
        };
        Ok(serde_json::json!({
            "Descriptor": {
                "mediaType": content_type,
                "digest": Digest::of(&bytes),
                "size": bytes.len(),
            },
            "Platforms": platforms,
        }))
    }

    /// Finds the manifest for our platform and reads its config.
    fn resolve(
        &self,
        client: &Client,
        r: &Reference,
        opts: &PullOptions,
    ) -> Result<Resolved, EngineError> {
        let (bytes, content_type, what) = top_manifest(client, r)?;
        let top_digest = Digest::of(&bytes);
        let (manifest_bytes, manifest) = match parse_manifest(&bytes, &content_type, &what)? {
            Parsed::Manifest(m) => (bytes, m),
            Parsed::Index(index) => {
                let want = opts.platform.clone().unwrap_or_else(spec::host_platform);
                let entry = index
                    .manifests
                    .iter()
                    .find(|d| d.platform.as_ref().is_some_and(|p| want.matches(p)))
                    .ok_or_else(|| {
                        EngineError::Registry(format!(
                            "no matching manifest for {want} in the manifest list entries of {what}"
                        ))
                    })?;
                let (bytes, content_type) =
                    client.get_manifest(&r.repository, entry.digest.as_str(), &what)?;
                match parse_manifest(&bytes, &content_type, &what)? {
                    Parsed::Manifest(m) => (bytes, m),
                    Parsed::Index(_) => {
                        return Err(EngineError::BadContent(format!(
                            "{what}: the index entry for {want} is another index"
                        )))
                    }
                }
            }
        };
        check_image_manifest(&manifest, &what)?;
        let config_bytes =
            client.get_blob_bytes(&r.repository, &manifest.config.digest, manifest.config.size)?;
        let config: ImageConfig = serde_json::from_slice(&config_bytes)
            .map_err(|e| EngineError::BadContent(format!("{what}: image config: {e}")))?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(EngineError::BadContent(format!(
                "{what}: the manifest lists {} layers but the config {}",
                manifest.layers.len(),
                config.rootfs.diff_ids.len()
            )));
        }
        Ok(Resolved {
            top_digest,
            manifest_bytes,
            manifest,
            config_bytes,
            config,
        })
    }

    fn pull_resolved(
        &self,
        client: &Client,
        reference: &Reference,
        resolved: Resolved,
        progress: &(dyn Fn(PullEvent) + Sync),
    ) -> Result<Pulled, EngineError> {
        progress(PullEvent::Resolved {
            tag: reference
                .digest
                .as_ref()
                .map(|d| d.to_string())
                .or_else(|| reference.tag.clone())
                .unwrap_or_default(),
            // docker prints the path in the registry: `library/busybox`, `bb`.
            repository: reference.repository.clone(),
        });
        let image_id = Digest::of(&resolved.config_bytes);
        let tag = reference.digest.is_none().then(|| reference.to_string());
        let previous = match &tag {
            Some(t) => self.store.db.tag_target(t)?,
            None => None,
        };
        let repo_digest = format!("{}@{}", reference.name(), resolved.top_digest);
        if let Some(existing) = self.store.db.image(&image_id)? {
            for l in &resolved.manifest.layers {
                progress(PullEvent::Layer {
                    id: l.digest.short().to_string(),
                    status: LayerStatus::AlreadyExists,
                });
            }
            self.store.db.add_image(&existing, tag.as_slice())?;
            self.store.db.add_repo_digest(&repo_digest, &image_id)?;
            self.emit_image("pull", &reference.familiar(), &reference.familiar());
            return Ok(Pulled {
                reference: reference.clone(),
                digest: resolved.top_digest,
                updated: previous.as_ref() != Some(&image_id),
                image: image_id,
            });
        }
        let mut pending = Pending::new(self)?;
        let layers = self.fetch_layers(
            client,
            &reference.repository,
            &resolved,
            &mut pending,
            progress,
        )?;
        let manifest_digest = self.store.content.put(&resolved.manifest_bytes)?;
        self.store.content.put(&resolved.config_bytes)?;
        let record = self.record_image(
            &mut pending,
            &image_id,
            &manifest_digest,
            resolved.config.created.clone(),
            layers,
            reference
                .digest
                .is_none()
                .then(|| reference.clone())
                .as_slice(),
        )?;
        self.store.db.add_repo_digest(&repo_digest, &record.id)?;
        self.emit_image("pull", &reference.familiar(), &reference.familiar());
        Ok(Pulled {
            reference: reference.clone(),
            digest: resolved.top_digest,
            image: record.id,
            updated: true,
        })
    }

    /// Fetches and unpacks the layers not yet here, several at once.
    fn fetch_layers(
        &self,
        client: &Client,
        repo: &str,
        resolved: &Resolved,
        pending: &mut Pending,
        progress: &(dyn Fn(PullEvent) + Sync),
    ) -> Result<Vec<LayerRecord>, EngineError> {
        pending.wrote();
        let diff_ids = &resolved.config.rootfs.diff_ids;
        let chains = berth_image::digest::chain_ids(diff_ids);
        let descs = &resolved.manifest.layers;
        // What each layer needs: a download, an unpack, both or neither.
        let mut jobs = Vec::new();
        for (i, desc) in descs.iter().enumerate() {
            let have_snapshot = self.store.db.snapshot_size(&chains[i])?.is_some()
                && self.store.snapshots.exists(&chains[i]);
            let have_blob = self.store.content.contains(&desc.digest);
            let id = desc.digest.short().to_string();
            if have_snapshot && have_blob {
                progress(PullEvent::Layer {
                    id,
                    status: LayerStatus::AlreadyExists,
                });
            } else {
                progress(PullEvent::Layer {
                    id,
                    status: LayerStatus::Waiting,
                });
                jobs.push((i, !have_snapshot));
            }
        }
        let fetcher = LayerFetcher {
            content: &self.store.content,
            snapshots: &self.store.snapshots,
            client,
            repo,
            progress,
        };
        let results = parallel::run(
            &jobs,
            PARALLEL_LAYERS,
            |&(i, unpack)| {
                let parent = i.checked_sub(1).map(|p| &chains[p]);
                (i, fetcher.fetch(&descs[i], &diff_ids[i], parent, unpack))
            },
            |(_, r)| r.is_err(),
        );
        let results: Vec<(usize, Fetched)> = results.into_iter().map(|(_, r)| r).collect();
        if cancel::interrupted() {
            return Err(EngineError::Interrupted);
        }
        let mut sizes = std::collections::BTreeMap::new();
        for (i, r) in results {
            if let Some(size) = r? {
                sizes.insert(i, size);
            }
        }
        for (i, size) in sizes {
            let parent = i.checked_sub(1).map(|p| &chains[p]);
            self.store
                .db
                .add_snapshot(&chains[i], parent, &diff_ids[i], size)?;
        }
        Ok(descs
            .iter()
            .enumerate()
            .map(|(i, d)| LayerRecord {
                blob: d.digest.clone(),
                media_type: d.media_type.clone(),
                blob_size: d.size,
                diff_id: diff_ids[i].clone(),
                chain_id: chains[i].clone(),
            })
            .collect())
    }
}

/// What the layer workers share: the stores (not the database, which stays
/// on the calling thread) and the registry client.
struct LayerFetcher<'a> {
    content: &'a ContentStore,
    snapshots: &'a Snapshots,
    client: &'a Client,
    repo: &'a str,
    progress: &'a (dyn Fn(PullEvent) + Sync),
}

/// A worker's answer: the unpacked size when it made a snapshot.
type Fetched = Result<Option<u64>, EngineError>;

/// Where a layer's bytes come from, and the blob they go to.
struct Source<'a> {
    reader: Box<dyn Read + 'a>,
    writer: Option<BlobWriter>,
    /// Bytes of the blob an interrupted pull already kept.
    resumed_at: u64,
}

impl LayerFetcher<'_> {
    /// The local blob, or the registry after what an interrupted pull of
    /// this blob left (see `ContentStore::resumable_writer`).
    fn open(&self, desc: &Descriptor, what: &str) -> Result<Source<'_>, EngineError> {
        if self.content.contains(&desc.digest) {
            return Ok(Source {
                reader: Box::new(self.content.open(&desc.digest)?),
                writer: None,
                resumed_at: 0,
            });
        }
        let (writer, have) = self.content.resumable_writer(&desc.digest)?;
        let prefix = writer
            .read_back()
            .map_err(|e| EngineError::Registry(format!("{what}: {e}")))?;
        let reader: Box<dyn Read> = if have >= desc.size {
            Box::new(prefix)
        } else {
            let remote =
                self.client
                    .blob_reader_from(self.repo, &desc.digest, Some(desc.size), have)?;
            Box::new(prefix.chain(remote))
        };
        Ok(Source {
            reader,
            writer: Some(writer),
            resumed_at: have,
        })
    }

    /// One layer: streamed from the registry (or read from the local blob)
    /// into the content store and, when `unpack`, into its snapshot.
    fn fetch(
        &self,
        desc: &Descriptor,
        diff_id: &Digest,
        parent: Option<&Digest>,
        unpack: bool,
    ) -> Fetched {
        let id = desc.digest.short().to_string();
        let what = format!("layer {}", desc.digest);
        let Source {
            mut reader,
            writer: mut blob,
            resumed_at,
        } = self.open(desc, &what)?;
        let total = desc.size;
        let mut last_report = 0u64;
        let progress = self.progress;
        let mut on_read = |done: u64| {
            // Every 512 KiB is plenty for a progress bar.
            if done - last_report >= 512 * 1024 || done == total {
                last_report = done;
                progress(PullEvent::Layer {
                    id: id.clone(),
                    status: LayerStatus::Downloading { done, total },
                });
            }
        };
        let mut tee = Tee {
            inner: &mut reader,
            out: blob.as_mut().map(|b| b as &mut dyn Write),
            read: 0,
            already_written: resumed_at,
            on_read: &mut on_read,
        };
        let unpacked = (|| -> Result<(Digest, Option<u64>), EngineError> {
            let (compression, reader) = layer::decompress(&mut tee)
                .map_err(|e| EngineError::BadContent(format!("{what}: {e}")))?;
            // An uncompressed layer's diff id is its blob digest, which the
            // commit below verifies: no need to hash it twice.
            let known = (compression == layer::Compression::None).then_some(&desc.digest);
            if unpack {
                let u = self.snapshots.unpack(parent, reader, known)?;
                Ok((u.diff_id, Some(u.size)))
            } else if let Some(d) = known {
                let mut reader = reader;
                io::copy(&mut reader, &mut io::sink())
                    .map_err(|e| EngineError::BadContent(format!("{what}: {e}")))?;
                Ok((d.clone(), None))
            } else {
                let mut hashed = berth_image::digest::DigestReader::new(reader);
                io::copy(&mut hashed, &mut io::sink())
                    .map_err(|e| EngineError::BadContent(format!("{what}: {e}")))?;
                Ok((hashed.finish().0, None))
            }
        })();
        // Read what the decompressor left (a gzip trailer, padding) so the
        // blob's digest covers every byte, and so a corrupt download is
        // reported as that rather than as the unpack error it caused.
        let drained = io::copy(&mut tee, &mut io::sink());
        if let Some(blob) = blob {
            // A download stopped by Ctrl-C or the network is kept for the
            // next pull to continue; content found wrong is thrown away.
            let committed = match drained {
                _ if crate::cancel::interrupted() => {
                    blob.suspend();
                    Err(EngineError::Interrupted)
                }
                Err(e) if berth_registry::is_cancelled(&e) => {
                    blob.suspend();
                    Err(EngineError::Interrupted)
                }
                Err(e) => {
                    blob.suspend();
                    Err(EngineError::Registry(format!("{what}: {e}")))
                }
                Ok(_) if blob.written() != desc.size => Err(EngineError::BadContent(format!(
                    "{what}: the registry sent {} bytes, the manifest says {}",
                    blob.written(),
                    desc.size
                ))),
                Ok(_) => blob
                    .commit(Some(&desc.digest))
                    .map(|_| ())
                    .map_err(|e| match e {
                        berth_store::StoreError::DigestMismatch { actual, .. } => {
                            EngineError::BadContent(format!(
                                "{what}: the registry sent content with digest {actual}: refused"
                            ))
                        }
                        other => other.into(),
                    }),
            };
            committed?;
        }
        if crate::cancel::interrupted() {
            return Err(EngineError::Interrupted);
        }
        let (got_diff, size) = unpacked?;
        if got_diff != *diff_id {
            return Err(EngineError::BadContent(format!(
                "{what}: its content has diff id {got_diff} but the image config says {diff_id}"
            )));
        }
        progress(PullEvent::Layer {
            id: desc.digest.short().to_string(),
            status: LayerStatus::Complete,
        });
        Ok(size)
    }
}

/// Copies what is read into a blob writer (but for the first
/// `already_written` bytes, which it holds) and counts it.
struct Tee<'a> {
    inner: &'a mut dyn Read,
    out: Option<&'a mut dyn Write>,
    read: u64,
    already_written: u64,
    on_read: &'a mut dyn FnMut(u64),
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(out) = self.out.as_mut() {
            let skip = self.already_written.saturating_sub(self.read).min(n as u64) as usize;
            out.write_all(&buf[skip..n])?;
        }
        self.read += n as u64;
        if n > 0 {
            (self.on_read)(self.read);
        }
        Ok(n)
    }
}

/// The manifest or index `r` names: its bytes, content type, and `r` as
/// messages name it.
fn top_manifest(client: &Client, r: &Reference) -> Result<(Vec<u8>, String, String), EngineError> {
    client.add_scope(format!("repository:{}:pull", r.repository));
    let what = r.familiar();
    let by = r
        .digest
        .as_ref()
        .map(|d| d.to_string())
        .or_else(|| r.tag.clone())
        .expect("parse() gives a tag or a digest");
    let (bytes, content_type) = client.get_manifest(&r.repository, &by, &what)?;
    Ok((bytes, content_type, what))
}

enum Parsed {
    Manifest(Manifest),
    Index(Index),
}

/// Reads a manifest or an index, refusing what berth cannot use and content
/// that is not what the registry's Content-Type says.
fn parse_manifest(bytes: &[u8], content_type: &str, what: &str) -> Result<Parsed, EngineError> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        EngineError::BadContent(format!("manifest for {what} is not valid JSON: {e}"))
    })?;
    if v.get("schemaVersion").and_then(|s| s.as_u64()) == Some(1) {
        return Err(EngineError::BadContent(format!(
            "{what} has a Docker image manifest of schema version 1, which is no longer supported; push the image again with a current client"
        )));
    }
    let body_type = v.get("mediaType").and_then(|m| m.as_str());
    let is_index = v.get("manifests").is_some();
    let declared = body_type.unwrap_or(content_type);
    let known_index = [spec::MEDIA_OCI_INDEX, spec::MEDIA_DOCKER_LIST];
    let known_manifest = [spec::MEDIA_OCI_MANIFEST, spec::MEDIA_DOCKER_MANIFEST];
    if let Some(b) = body_type {
        let header_known =
            known_index.contains(&content_type) || known_manifest.contains(&content_type);
        if header_known && b != content_type {
            return Err(EngineError::BadContent(format!(
                "manifest for {what}: the registry says it is {content_type} but it is {b}"
            )));
        }
    }
    if is_index {
        if !known_index.contains(&declared) && body_type.is_some() {
            return Err(EngineError::BadContent(format!(
                "manifest for {what}: unknown index type {declared}"
            )));
        }
        let index: Index = serde_json::from_value(v)
            .map_err(|e| EngineError::BadContent(format!("index for {what}: {e}")))?;
        return Ok(Parsed::Index(index));
    }
    if body_type.is_some() && !known_manifest.contains(&declared) {
        return Err(EngineError::BadContent(format!(
            "manifest for {what}: unknown manifest type {declared}"
        )));
    }
    let m: Manifest = serde_json::from_value(v)
        .map_err(|e| EngineError::BadContent(format!("manifest for {what}: {e}")))?;
    Ok(Parsed::Manifest(m))
}

/// An image manifest whose config and layers berth can run; OCI artifacts
/// (other config types) are refused by name.
fn check_image_manifest(m: &Manifest, what: &str) -> Result<(), EngineError> {
    let config_type = m.config.media_type.as_str();
    if config_type != spec::MEDIA_OCI_CONFIG && config_type != spec::MEDIA_DOCKER_CONFIG {
        return Err(EngineError::invalid(format!(
            "{what} is not a container image but an OCI artifact (config type {config_type}); berth pulls images only"
        )));
    }
    for l in &m.layers {
        let t = l.media_type.as_str();
        let ok = [
            spec::MEDIA_OCI_LAYER,
            spec::MEDIA_OCI_LAYER_GZIP,
            spec::MEDIA_OCI_LAYER_ZSTD,
            spec::MEDIA_DOCKER_LAYER,
            spec::MEDIA_DOCKER_LAYER_GZIP,
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        ]
        .contains(&t);
        if !ok {
            return Err(EngineError::BadContent(format!(
                "{what}: layer {} has unknown media type {t}",
                l.digest
            )));
        }
    }
    Ok(())
}

impl Engine {
    /// The image a build uses: the local one, pulled first when missing (or
    /// always, with `always`).
    pub fn image_or_pull(
        &self,
        name: &str,
        always: bool,
    ) -> Result<berth_store::ImageRecord, EngineError> {
        if !always {
            match self.resolve_image(name) {
                Err(EngineError::NoSuchImage(_)) if is_pullable(name) => {}
                other => return other,
            }
        }
        let pulled = self.pull(name, &PullOptions::default(), &|_| {})?;
        self.store
            .db
            .image(&pulled.image)?
            .ok_or_else(|| EngineError::NoSuchImage(name.into()))
    }
}

/// A name a registry could serve: not an image id (or id prefix written with `sha256:`).
pub fn is_pullable(name: &str) -> bool {
    let full_id = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
    !full_id && !name.starts_with("sha256:") && Reference::parse(name).is_ok()
}

/// `login`: checks the credential against the registry, then saves it where
/// docker keeps credentials. Returns the server as docker names it.
pub fn login(
    registries_config: Option<&std::path::Path>,
    server: &str,
    credential: Credential,
) -> Result<String, EngineError> {
    let registry = check_login(registries_config, server, &credential)?;
    berth_registry::DockerConfig::load()?.store(&registry, &credential)?;
    Ok(registry)
}

/// Checks a credential against the registry (the API's `/auth`), saving
/// nothing. Returns the server as docker names it.
pub fn check_login(
    registries_config: Option<&std::path::Path>,
    server: &str,
    credential: &Credential,
) -> Result<String, EngineError> {
    let registry = normalise_server(server);
    let config = berth_registry::RegistriesConfig::load(registries_config)?;
    let endpoint = config.push_endpoint(&registry);
    let client = Client::connect(
        &endpoint,
        Some(credential.clone()),
        Some(cancel::interrupt_flag().clone()),
    )?;
    client.check_login()?;
    Ok(registry)
}

/// `logout`: forgets the saved credential; false when there was none.
pub fn logout(server: &str) -> Result<(String, bool), EngineError> {
    let registry = normalise_server(server);
    let had = berth_registry::DockerConfig::load()?.erase(&registry)?;
    Ok((registry, had))
}

/// Every saved login resolved into a plain config.json, for a container
/// given the user's credentials (`run --use-api-socket`).
pub fn resolved_logins() -> Result<serde_json::Value, EngineError> {
    Ok(berth_registry::DockerConfig::load()?.resolved()?)
}

/// `https://host:5000/` → `host:5000`; Docker Hub's names → `docker.io`.
fn normalise_server(server: &str) -> String {
    match berth_registry::config::host_of(server) {
        "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        other => other.to_string(),
    }
}
