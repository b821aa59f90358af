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
        if c.state.running {
            return f(&self.store.container_dir(&c.id).join("rootfs"));
        }
        let rootfs = self.mount_rootfs(c)?;
        let result = f(&rootfs);
        berth_store::snapshot::unmount(&rootfs)?;
        result
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
        let frozen = if o.pause && c.state.running && !c.state.paused {
            Some(self.freeze_for_commit(&c)?)
        } else {
            None
        };
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
        if let Some(lock) = frozen {
            self.thaw_frozen_for_commit(&c, lock);
        }
        let mut tar = written.map_err(|e| EngineError::io(&tar_path, e))?;
        let mut pending = Pending::new(self)?;
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
        berth_store::snapshot::check_depth(layers.len() + 1)?;
        layers.push(layer);
        let bytes = serde_json::to_vec(&config).expect("config serialises");
        Ok(self
            .commit_image(&mut pending, &bytes, layers, tag.as_slice())?
            .id)
    }
}

/// Where a container path really is under `root`, with every symlink on the
/// way resolved inside the root; the last one followed too with `follow`.
fn resolve_in_container(root: &Path, path: &str, follow: bool) -> Result<PathBuf, EngineError> {
    let mut current = PathBuf::from("/").join(path.trim_end_matches("/."));
    for _ in 0..40 {
        let host = berth_image::layer::resolve_in(root, &current)
            .map_err(|e| EngineError::io(&current, e))?;
        match std::fs::symlink_metadata(&host) {
            Ok(m) if follow && m.file_type().is_symlink() => {
                let target = std::fs::read_link(&host).map_err(|e| EngineError::io(&host, e))?;
                current = current.parent().unwrap_or(Path::new("/")).join(target);
            }
            _ => return Ok(host),
        }
    }
    Err(EngineError::invalid(format!(
        "{path}: too many levels of symbolic links"
    )))
}

/// Appends `host` (a file, link or whole directory) to a tar as `name`.
fn append_tree(
    tar: &mut tar::Builder<impl Write>,
    host: &Path,
    name: &Path,
    follow: bool,
) -> std::io::Result<()> {
    let meta = if follow {
        std::fs::metadata(host)?
    } else {
        std::fs::symlink_metadata(host)?
    };
    if meta.is_dir() {
        tar.append_dir_all(name, host)
    } else if name.as_os_str().is_empty() {
        Err(std::io::Error::other(
            "cannot copy a file as the contents of a directory",
        ))
    } else {
        tar.append_path_with_name(host, name)
    }
}

/// `PATH/.` means the directory's contents, not the directory.
fn contents_only(path: &str) -> bool {
    path.ends_with("/.") || path == "."
}

fn base_name(path: &str) -> PathBuf {
    Path::new(path.trim_end_matches('/'))
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

impl Engine {
    /// `cp CONTAINER:SRC DEST` (`dest` None: a tar of SRC on `out`, as `cp ... -`).
    pub fn copy_from_container(
        &self,
        key: &str,
        src: &str,
        dest: Option<&Path>,
        out: &mut dyn Write,
        follow: bool,
    ) -> Result<(), EngineError> {
        let c = self.container(key)?;
        self.with_rootfs(&c, |root| {
            let host_src = resolve_in_container(root, src, follow)?;
            let src_meta = std::fs::symlink_metadata(&host_src).map_err(|_| {
                EngineError::NoSuchContainer(format!(
                    "{}:{src} (no such file or directory in the container)",
                    c.short_name()
                ))
            })?;
            let name = if contents_only(src) {
                PathBuf::new()
            } else {
                base_name(src)
            };
            let Some(dest) = dest else {
                let mut tar = tar::Builder::new(out);
                tar.follow_symlinks(false);
                append_tree(&mut tar, &host_src, &name, false)
                    .map_err(|e| EngineError::io(&host_src, e))?;
                tar.finish().map_err(|e| EngineError::io(&host_src, e))?;
                return Ok(());
            };
            // Where the tree lands on the host, and under which name.
            let (dir, name) = if dest.is_dir() {
                (dest.to_path_buf(), name)
            } else if dest.exists() && src_meta.is_dir() {
                return Err(EngineError::invalid(format!(
                    "cannot copy directory {src} onto the file {}",
                    dest.display()
                )));
            } else {
                let parent = dest
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                if !parent.is_dir() {
                    return Err(EngineError::invalid(format!(
                        "destination directory {} does not exist",
                        parent.display()
                    )));
                }
                let renamed = dest.file_name().map(PathBuf::from).unwrap_or_default();
                (parent.to_path_buf(), renamed)
            };
            let tmp = self.store.temp_dir("cp")?;
            let tar_path = tmp.path().join("out.tar");
            (|| {
                let mut tar = tar::Builder::new(std::fs::File::create(&tar_path)?);
                tar.follow_symlinks(false);
                append_tree(&mut tar, &host_src, &name, false)?;
                tar.finish()?;
                let mut archive = tar::Archive::new(std::fs::File::open(&tar_path)?);
                archive.set_preserve_permissions(true);
                archive.set_preserve_mtime(true);
                archive.set_overwrite(true);
                archive.unpack(&dir)
            })()
            .map_err(|e| EngineError::io(dest, e))
        })
    }

    /// `cp SRC CONTAINER:DEST` (`src` None: a tar read from `input`, as
    /// `cp - ...`, unpacked into the directory DEST). Files belong to root
    /// in the container unless `archive` (`-a`) keeps their owners.
    pub fn copy_to_container(
        &self,
        key: &str,
        dest: &str,
        src: Option<&Path>,
        input: &mut dyn std::io::Read,
        archive: bool,
        follow: bool,
    ) -> Result<(), EngineError> {
        let c = self.container(key)?;
        if c.host_config.readonly_rootfs {
            return Err(EngineError::invalid("container rootfs is marked read-only"));
        }
        self.with_rootfs(&c, |root| {
            let host_dest = resolve_in_container(root, dest, true)?;
            let dest_rel = PathBuf::from(dest.trim_start_matches('/').trim_end_matches("/."));
            let tmp = self.store.temp_dir("cp")?;
            let staged = tmp.path().join("in.tar");
            // The entries, named by where they go inside the container.
            let made = (|| -> Result<(), EngineError> {
                let mut tar = tar::Builder::new(
                    std::fs::File::create(&staged).map_err(|e| EngineError::io(&staged, e))?,
                );
                tar.follow_symlinks(follow);
                match src {
                    None => {
                        if !host_dest.is_dir() {
                            return Err(EngineError::invalid(format!(
                                "destination \"{}:{dest}\" must be a directory",
                                c.short_name()
                            )));
                        }
                        let mut given = tar::Archive::new(input);
                        for entry in given.entries().map_err(|e| EngineError::BadContent(format!("the tar on stdin: {e}")))? {
                            let mut entry = entry.map_err(|e| EngineError::BadContent(format!("the tar on stdin: {e}")))?;
                            let mut header = entry.header().clone();
                            let name = dest_rel.join(entry.path().map_err(|e| EngineError::BadContent(e.to_string()))?);
                            let link = entry.link_name().ok().flatten().map(|l| l.into_owned());
                            match link {
                                Some(l) => tar.append_link(&mut header, &name, l),
                                None => tar.append_data(&mut header, &name, &mut entry),
                            }
                            .map_err(|e| EngineError::io(&staged, e))?;
                        }
                    }
                    Some(src_path) => {
                        let src_str = src_path.to_string_lossy();
                        let meta = if follow { std::fs::metadata(src_path) } else { std::fs::symlink_metadata(src_path) }
                            .map_err(|e| EngineError::io(src_path, e))?;
                        let name = if contents_only(&src_str) || !host_dest.is_dir() {
                            if host_dest.exists() && !host_dest.is_dir() && meta.is_dir() {
                                return Err(EngineError::invalid(format!(
                                    "cannot copy directory {} onto the file {dest} in the container",
                                    src_path.display()
                                )));
                            }
                            if !host_dest.exists() && !host_dest.parent().is_some_and(Path::is_dir) {
                                return Err(EngineError::invalid(format!(
                                    "destination directory of {dest} does not exist in the container"
                                )));
                            }
                            dest_rel.clone()
                        } else {
                            dest_rel.join(base_name(&src_str))
                        };
                        append_tree(&mut tar, src_path, &name, follow).map_err(|e| EngineError::io(src_path, e))?;
                    }
                }
                tar.finish().map_err(|e| EngineError::io(&staged, e))
            })();
            made?;
            let owned = tmp.path().join("owned.tar");
            let file = if archive {
                staged
            } else {
                chown_to_root(&staged, &owned).map_err(|e| EngineError::io(&owned, e))?;
                owned
            };
            let f = std::fs::File::open(&file).map_err(|e| EngineError::io(&file, e))?;
            berth_image::layer::apply_layer(f, root)
                .map(|_| ())
                .map_err(|e| EngineError::invalid(format!("copying into {}: {e}", c.short_name())))
        })
    }
}

/// The tar at `from`, with every entry owned by root, written to `to`.
fn chown_to_root(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut input = tar::Archive::new(std::fs::File::open(from)?);
    let mut out = tar::Builder::new(std::fs::File::create(to)?);
    for entry in input.entries()? {
        let mut entry = entry?;
        let mut header = entry.header().clone();
        header.set_uid(0);
        header.set_gid(0);
        let _ = header.set_username("root");
        let _ = header.set_groupname("root");
        let path = entry.path()?.into_owned();
        match entry.link_name()?.map(|l| l.into_owned()) {
            Some(l) if header.entry_type().is_symlink() || header.entry_type().is_hard_link() => {
                out.append_link(&mut header, &path, l)?
            }
            _ => out.append_data(&mut header, &path, &mut entry)?,
        }
    }
    out.finish()
}

/// A path in a container as docker's archive endpoints describe it
/// (`X-Docker-Container-Path-Stat`): its mode in Go's FileMode bits.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PathStat {
    pub name: String,
    pub size: u64,
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// Go's os.FileMode for a file's metadata.
fn go_file_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let t = meta.file_type();
    let mode = meta.permissions().mode();
    let mut m = mode & 0o777;
    if t.is_dir() {
        m |= 1 << 31;
    }
    if t.is_symlink() {
        m |= 1 << 27;
    }
    if t.is_block_device() {
        m |= 1 << 26;
    }
    if t.is_char_device() {
        m |= (1 << 26) | (1 << 21);
    }
    if t.is_fifo() {
        m |= 1 << 25;
    }
    if t.is_socket() {
        m |= 1 << 24;
    }
    if mode & 0o4000 != 0 {
        m |= 1 << 23;
    }
    if mode & 0o2000 != 0 {
        m |= 1 << 22;
    }
    if mode & 0o1000 != 0 {
        m |= 1 << 20;
    }
    m
}

impl Engine {
    /// What `path` is in container `key` (HEAD /containers/{id}/archive).
    pub fn path_stat(&self, key: &str, path: &str) -> Result<PathStat, EngineError> {
        let c = self.container(key)?;
        let missing = || {
            EngineError::NoSuchContainer(format!(
                "{}:{path} (no such file or directory in the container)",
                c.short_name()
            ))
        };
        self.with_rootfs(&c, |root| {
            let host = resolve_in_container(root, path, false).map_err(|_| missing())?;
            let meta = std::fs::symlink_metadata(&host).map_err(|_| missing())?;
            let link_target = if meta.file_type().is_symlink() {
                std::fs::read_link(&host)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            };
            let mtime = meta
                .modified()
                .map(chrono::DateTime::<chrono::Utc>::from)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
                .unwrap_or_default();
            Ok(PathStat {
                name: base_name(path).display().to_string(),
                size: meta.len(),
                mode: go_file_mode(&meta),
                mtime,
                link_target,
            })
        })
    }
}
