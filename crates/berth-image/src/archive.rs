//! docker-archive: the tar that `docker save` writes and `docker load` reads.
//!
//! We write what docker 25+ writes: an OCI image layout (`oci-layout`,
//! `index.json`, `blobs/sha256/...`) plus the legacy `manifest.json` and
//! `repositories` that older tools read. We read both that and the older
//! layout (`<id>/layer.tar`, `<hex>.json`) of docker 20-24, and plain OCI layouts.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::reference::Reference;
use crate::spec::{Descriptor, Index, Manifest, MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("invalid archive: {0}")]
    Invalid(String),
}

/// One image to write into an archive.
pub struct SaveImage {
    pub manifest: Manifest,
    pub manifest_bytes: Vec<u8>,
    pub config_bytes: Vec<u8>,
    /// The layer blob files, in `manifest.layers` order.
    pub layer_files: Vec<PathBuf>,
    pub tags: Vec<Reference>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LegacyEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Writes `images` as a docker-archive tar.
pub fn write_archive<W: Write>(out: W, images: &[SaveImage]) -> Result<(), ArchiveError> {
    let mut tar = tar::Builder::new(out);
    let mut written = std::collections::HashSet::new();
    let mut legacy = Vec::new();
    let mut index = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for img in images {
        let blob = |d: &Digest| format!("blobs/sha256/{}", d.hex());
        let manifest_digest = Digest::of(&img.manifest_bytes);
        for (digest, bytes) in [
            (&img.manifest.config.digest, &img.config_bytes),
            (&manifest_digest, &img.manifest_bytes),
        ] {
            if written.insert(digest.clone()) {
                append_bytes(&mut tar, &blob(digest), bytes)?;
            }
        }
        for (desc, file) in img.manifest.layers.iter().zip(&img.layer_files) {
            if written.insert(desc.digest.clone()) {
                let mut f = File::open(file)?;
                let mut h = file_header(desc.size);
                tar.append_data(&mut h, blob(&desc.digest), &mut f)?;
            }
        }
        let familiar: Vec<String> = img.tags.iter().map(|t| t.familiar()).collect();
        legacy.push(LegacyEntry {
            config: blob(&img.manifest.config.digest),
            repo_tags: Some(familiar),
            layers: img
                .manifest
                .layers
                .iter()
                .map(|l| blob(&l.digest))
                .collect(),
        });
        let top = img
            .manifest
            .layers
            .last()
            .map(|l| l.digest.hex().to_string())
            .unwrap_or_default();
        let manifest_desc = |annotations| Descriptor {
            media_type: MEDIA_OCI_MANIFEST.into(),
            digest: manifest_digest.clone(),
            size: img.manifest_bytes.len() as u64,
            annotations,
            platform: None,
        };
        if img.tags.is_empty() {
            index.push(manifest_desc(None));
        }
        for tag in &img.tags {
            let t = tag.tag.clone().unwrap_or_default();
            repositories
                .entry(tag.familiar_name())
                .or_default()
                .insert(t.clone(), top.clone());
            let annotations = BTreeMap::from([
                ("io.containerd.image.name".to_string(), tag.to_string()),
                ("org.opencontainers.image.ref.name".to_string(), t),
            ]);
            index.push(manifest_desc(Some(annotations)));
        }
    }
    let index = Index {
        schema_version: 2,
        media_type: Some(MEDIA_OCI_INDEX.into()),
        manifests: index,
    };
    append_bytes(
        &mut tar,
        "index.json",
        &serde_json::to_vec(&index).map_err(io::Error::other)?,
    )?;
    append_bytes(
        &mut tar,
        "manifest.json",
        &serde_json::to_vec(&legacy).map_err(io::Error::other)?,
    )?;
    append_bytes(
        &mut tar,
        "oci-layout",
        br#"{"imageLayoutVersion": "1.0.0"}"#,
    )?;
    if !repositories.is_empty() {
        append_bytes(
            &mut tar,
            "repositories",
            &serde_json::to_vec(&repositories).map_err(io::Error::other)?,
        )?;
    }
    tar.into_inner()?.flush()?;
    Ok(())
}

fn file_header(size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_mtime(0);
    h
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, name: &str, data: &[u8]) -> io::Result<()> {
    let mut h = file_header(data.len() as u64);
    tar.append_data(&mut h, name, data)
}

/// An image found in an archive, with its files in the unpacked directory.
pub struct LoadedImage {
    pub config_bytes: Vec<u8>,
    /// Layer files (any compression), bottom first.
    pub layer_files: Vec<PathBuf>,
    /// Names as the archive gives them (`busybox:latest`, or fully qualified).
    pub repo_tags: Vec<String>,
}

/// Unpacks an archive's regular files into `dir` (a fresh directory) and
/// lists its images from `manifest.json`, or from `index.json` for a plain OCI layout.
pub fn read_archive<R: Read>(input: R, dir: &Path) -> Result<Vec<LoadedImage>, ArchiveError> {
    let mut archive = tar::Archive::new(input);
    let mut seen_any = false;
    for entry in archive.entries()? {
        let mut entry = entry?;
        seen_any = true;
        let kind = entry.header().entry_type();
        // Files, directories and the symlinks docker writes for shared layers;
        // unpack_in refuses names that leave `dir`, and `inside` checks link targets.
        if kind.is_file() || kind.is_dir() || kind.is_symlink() {
            entry.unpack_in(dir)?;
        }
    }
    if !seen_any {
        return Err(ArchiveError::Invalid(
            "empty input: expected a tar archive from `docker save`".into(),
        ));
    }
    if dir.join("manifest.json").exists() {
        let entries: Vec<LegacyEntry> =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json"))?)
                .map_err(|e| ArchiveError::Invalid(format!("manifest.json: {e}")))?;
        entries
            .into_iter()
            .map(|e| {
                Ok(LoadedImage {
                    config_bytes: read_inside(dir, &e.config)?,
                    layer_files: e
                        .layers
                        .iter()
                        .map(|l| inside(dir, l))
                        .collect::<Result<_, _>>()?,
                    repo_tags: e.repo_tags.unwrap_or_default(),
                })
            })
            .collect()
    } else if dir.join("index.json").exists() {
        read_oci_layout(dir)
    } else {
        Err(ArchiveError::Invalid(
            "no manifest.json or index.json: not a docker-archive or OCI layout".into(),
        ))
    }
}

fn read_oci_layout(dir: &Path) -> Result<Vec<LoadedImage>, ArchiveError> {
    let index: Index = serde_json::from_slice(&std::fs::read(dir.join("index.json"))?)
        .map_err(|e| ArchiveError::Invalid(format!("index.json: {e}")))?;
    let mut out = Vec::new();
    for desc in index.manifests {
        let bytes = read_inside(dir, &format!("blobs/sha256/{}", desc.digest.hex()))?;
        let manifest: Manifest = match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(_) => continue, // a nested index or an artifact: not an image for this host
        };
        // containerd's annotation holds a full name; the OCI one is often a bare tag,
        // which names no repository and so is only used when it looks like a reference.
        let name = desc.annotations.as_ref().and_then(|a| {
            a.get("io.containerd.image.name").cloned().or_else(|| {
                a.get("org.opencontainers.image.ref.name")
                    .filter(|n| n.contains(':') || n.contains('/'))
                    .cloned()
            })
        });
        out.push(LoadedImage {
            config_bytes: read_inside(
                dir,
                &format!("blobs/sha256/{}", manifest.config.digest.hex()),
            )?,
            layer_files: manifest
                .layers
                .iter()
                .map(|l| inside(dir, &format!("blobs/sha256/{}", l.digest.hex())))
                .collect::<Result<_, _>>()?,
            repo_tags: name.into_iter().collect(),
        });
    }
    Ok(out)
}

fn inside(dir: &Path, name: &str) -> Result<PathBuf, ArchiveError> {
    let rel = Path::new(name);
    if rel
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(ArchiveError::Invalid(format!(
            "path {name:?} leaves the archive"
        )));
    }
    let p = dir.join(rel);
    if !p.is_file() {
        return Err(ArchiveError::Invalid(format!(
            "{name} is missing from the archive"
        )));
    }
    // A symlink (docker's shared layers) must stay inside the archive.
    let real = p.canonicalize()?;
    if !real.starts_with(dir.canonicalize()?) {
        return Err(ArchiveError::Invalid(format!(
            "{name} links outside the archive"
        )));
    }
    Ok(real)
}

fn read_inside(dir: &Path, name: &str) -> Result<Vec<u8>, ArchiveError> {
    Ok(std::fs::read(inside(dir, name)?)?)
}
