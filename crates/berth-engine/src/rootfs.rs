//! A container's filesystem from outside it: `export` (the whole tree as a
//! tar) and `commit` (its changes as a new image layer).

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use berth_image::spec::{History, ImageConfig};
use berth_image::Reference;

use crate::images::Pending;
use crate::model::Container;
use crate::{changes, time, Engine, EngineError};

/// `commit` options, as docker's flags give them.
#[derive(Clone, Debug, Default)]
pub struct CommitOptions {
    pub author: Option<String>,
    pub message: Option<String>,
    pub changes: Vec<String>,
    /// Freeze a running container while its changes are read (docker's default).
    pub pause: bool,
}

impl Engine {
    /// Runs `f` on the container's merged root: the mount a running
    /// container already has, or one made (and removed) for the call.
    fn with_rootfs<T>(
        &self,
        c: &Container,
        f: impl FnOnce(&Path) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let dir = self.store.container_dir(&c.id);
        let rootfs = dir.join("rootfs");
        if c.state.running {
            return f(&rootfs);
        }
        let image = self.container_image(c)?;
        let chain: Vec<_> = image.layers.iter().map(|l| l.chain_id.clone()).collect();
        berth_store::snapshot::unmount(&rootfs)?;
        self.store.snapshots.mount_overlay(
            &chain,
            &dir.join("upper"),
            &dir.join("work"),
            &rootfs,
        )?;
        let result = f(&rootfs);
        berth_store::snapshot::unmount(&rootfs)?;
        result
    }

    fn container_image(&self, c: &Container) -> Result<berth_store::ImageRecord, EngineError> {
        c.image
            .parse()
            .ok()
            .and_then(|id| self.store.db.image(&id).ok().flatten())
            .ok_or_else(|| EngineError::NoSuchImage(c.image.clone()))
    }

    /// `export`: the container's filesystem (not its volumes) as one tar.
    pub fn export_container(&self, key: &str, out: &mut dyn Write) -> Result<(), EngineError> {
        let c = self.container(key)?;
        self.with_rootfs(&c, |root| {
            berth_image::diff::write_layer(root, out, Default::default())
                .map(|_| ())
                .map_err(|e| EngineError::io(root, e))
        })
    }

    /// `commit`: the container's changes as a new layer on its image, with
    /// its config (changed by `--change`); returns the new image id.
    pub fn commit_container(
        &self,
        key: &str,
        reference: Option<&str>,
        o: &CommitOptions,
    ) -> Result<berth_image::Digest, EngineError> {
        let c = self.container(key)?;
        let tag = reference.map(Reference::parse).transpose()?;
        if tag.as_ref().is_some_and(|t| t.digest.is_some()) {
            return Err(EngineError::invalid(
                "refusing to create a tag with a digest reference",
            ));
        }
        let image = self.container_image(&c)?;
        let mut config: ImageConfig = self.image_config(&image)?;
        let cfg = &mut config.config;
        cfg.env = Some(c.config.env.clone()).filter(|e| !e.is_empty());
        cfg.cmd = c.config.cmd.clone();
        cfg.entrypoint = c.config.entrypoint.clone();
        cfg.working_dir = c.config.working_dir.clone();
        cfg.user = c.config.user.clone();
        cfg.labels = Some(c.config.labels.clone()).filter(|l| !l.is_empty());
        cfg.stop_signal = c.config.stop_signal.clone();
        cfg.healthcheck = c.config.healthcheck.clone();
        for change in &o.changes {
            changes::apply(cfg, change)?;
        }
        // The upper directory is the diff; freeze a running container so it holds still.
        let frozen = o.pause && c.state.running && !c.state.paused;
        if frozen {
            berth_runtime::container::freeze(&self.runtime_dir(), &c.id, true)?;
        }
        let tmp = self.store.temp_dir("commit")?;
        let tar_path: PathBuf = tmp.path().join("layer.tar");
        let written = (|| {
            let mut f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&tar_path)?;
            berth_image::diff::write_layer(
                &self.store.container_dir(&c.id).join("upper"),
                &mut f,
                berth_image::diff::DiffOptions {
                    skip_mount_stubs: true,
                    ..Default::default()
                },
            )?;
            f.flush()?;
            f.rewind()?;
            Ok::<_, std::io::Error>(f)
        })();
        if frozen {
            let _ = berth_runtime::container::freeze(&self.runtime_dir(), &c.id, false);
        }
        let mut tar = written.map_err(|e| EngineError::io(&tar_path, e))?;
        let mut pending = Pending::new(self);
        let parent = image.layers.last().map(|l| l.chain_id.clone());
        let layer = self.add_layer(&mut pending, &mut tar, parent.as_ref())?;
        let now = time::now();
        config.created = Some(now.clone());
        if let Some(a) = &o.author {
            config.author = Some(a.clone());
        }
        config.rootfs.diff_ids.push(layer.diff_id.clone());
        let command = c
            .config
            .entrypoint
            .iter()
            .flatten()
            .chain(c.config.cmd.iter().flatten())
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        config.history.push(History {
            created: Some(now),
            created_by: Some(command),
            author: o.author.clone(),
            comment: o.message.clone(),
            empty_layer: false,
        });
        let mut layers = image.layers.clone();
        layers.push(layer);
        let bytes = serde_json::to_vec(&config).expect("config serialises");
        Ok(self
            .commit_image(&mut pending, &bytes, layers, tag.as_slice())?
            .id)
    }
}
