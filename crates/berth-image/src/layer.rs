//! Layer tars: compression detection, and safe application into a snapshot
//! directory in overlayfs's format (whiteouts become 0/0 character devices,
//! opaque directories get `trusted.overlay.opaque=y`).
//!
//! Every entry is created relative to a directory opened with
//! `openat2(RESOLVE_IN_ROOT)`, so neither `..` nor symlinks (absolute or
//! relative) can take a write outside the snapshot: a symlink is resolved as if
//! the snapshot were `/`.

use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("layer entry {0:?} points outside the root: refused")]
    Breakout(String),
    #[error("layer entry {path:?}: {source}")]
    Entry { path: String, source: io::Error },
    #[error("reading layer: {0}")]
    Read(#[from] io::Error),
}

/// Wraps `r` in the decompressor its first bytes call for.
pub fn decompress<'a, R: Read + 'a>(r: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut buf = BufReader::with_capacity(256 * 1024, r);
    let head = buf.fill_buf()?;
    let kind = detect(head);
    let reader: Box<dyn Read + 'a> = match kind {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(buf)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buf)?),
        Compression::None => Box::new(buf),
    };
    Ok((kind, reader))
}

pub fn detect(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Applies an uncompressed layer tar to `root` and returns the bytes of file
/// content written. `root` is normally an empty snapshot directory.
pub fn apply_layer<R: Read>(tar: R, root: &Path) -> Result<u64, LayerError> {
    apply_layer_with(tar, root, None)
}

/// Which of a layer's files (and hard links) to write: its path in the
/// layer, its mode and its size. Directories, links and whiteouts are
/// always applied.
pub type Keep<'a> = &'a (dyn Fn(&str, u32, u64) -> bool + Sync);

/// [`apply_layer`], writing only the files `keep` wants (a scan that reads
/// a few of them need not copy the rest).
pub fn apply_layer_with<R: Read>(
    tar: R,
    root: &Path,
    keep: Option<Keep<'_>>,
) -> Result<u64, LayerError> {
    let root_fd = rfs::open(
        root,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io::Error::from)?;
    let mut archive = tar::Archive::new(tar);
    let mut dir_times: Vec<(PathBuf, Timestamps)> = Vec::new();
    let mut size = 0u64;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let Some(path) = clean(Path::new(OsStr::from_bytes(&raw))) else {
            return Err(LayerError::Breakout(shown));
        };
        let Some(name) = path.file_name().map(|n| n.to_owned()) else {
            continue; // the root itself: its metadata belongs to the snapshot, not the layer
        };
        let wrap = |source: io::Error| LayerError::Entry {
            path: shown.clone(),
            source,
        };
        let parent = open_parent(&root_fd, path.parent().unwrap_or(Path::new(""))).map_err(wrap)?;
        let name_bytes = name.as_bytes();
        if name_bytes == OPAQUE_MARKER.as_bytes() {
            rfs::fsetxattr(
                &parent,
                "trusted.overlay.opaque",
                b"y",
                rfs::XattrFlags::empty(),
            )
            .map_err(|e| wrap(e.into()))?;
            continue;
        }
        if let Some(hidden) = name_bytes.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            let hidden = OsStr::from_bytes(hidden);
            remove_existing(&parent, hidden).map_err(wrap)?;
            rfs::mknodat(
                &parent,
                hidden,
                rfs::FileType::CharacterDevice,
                Mode::empty(),
                rfs::makedev(0, 0),
            )
            .map_err(|e| wrap(e.into()))?;
            continue;
        }
        let header = entry.header().clone();
        let is_file = matches!(
            header.entry_type(),
            tar::EntryType::Regular
                | tar::EntryType::Continuous
                | tar::EntryType::GNUSparse
                | tar::EntryType::Link
        );
        if let (true, Some(keep)) = (is_file, keep) {
            let mode = header.mode().unwrap_or(0);
            let size = header.size().unwrap_or(0);
            if !keep(&path.to_string_lossy(), mode, size) {
                continue;
            }
        }
        let times = timestamps(&header);
        match header.entry_type() {
            tar::EntryType::Directory => {
                let fd = ensure_dir(&parent, &name).map_err(wrap)?;
                set_owner_mode(&fd, &header).map_err(wrap)?;
                set_xattrs(&fd, &mut entry).map_err(wrap)?;
                dir_times.push((path.clone(), times));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                remove_existing(&parent, &name).map_err(wrap)?;
                let mode = Mode::from_raw_mode(0o600);
                let flags = OFlags::CREATE
                    | OFlags::EXCL
                    | OFlags::WRONLY
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC;
                let fd = rfs::openat(&parent, &name, flags, mode).map_err(|e| wrap(e.into()))?;
                let mut file = std::fs::File::from(fd);
                size += io::copy(&mut entry, &mut file).map_err(wrap)?;
                set_owner_mode(&file, &header).map_err(wrap)?;
                set_xattrs(&file, &mut entry).map_err(wrap)?;
                rfs::futimens(&file, &times).map_err(|e| wrap(e.into()))?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| wrap(io::Error::other("symlink without a target")))?;
                remove_existing(&parent, &name).map_err(wrap)?;
                rfs::symlinkat(OsStr::from_bytes(&target), &parent, &name)
                    .map_err(|e| wrap(e.into()))?;
                chown_nofollow(&parent, &name, &header).map_err(wrap)?;
                rfs::utimensat(&parent, &name, &times, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| wrap(e.into()))?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| wrap(io::Error::other("hard link without a target")))?;
                let target_shown = String::from_utf8_lossy(&target).into_owned();
                let Some(target) = clean(Path::new(OsStr::from_bytes(&target))) else {
                    return Err(LayerError::Breakout(format!("{shown} -> {target_shown}")));
                };
                let Some(target_name) = target.file_name() else {
                    return Err(LayerError::Breakout(format!("{shown} -> {target_shown}")));
                };
                let target_parent = open_parent(&root_fd, target.parent().unwrap_or(Path::new("")))
                    .map_err(wrap)?;
                remove_existing(&parent, &name).map_err(wrap)?;
                match rfs::linkat(
                    &target_parent,
                    target_name,
                    &parent,
                    &name,
                    AtFlags::empty(),
                ) {
                    // A link to a file that was not kept.
                    Err(rustix::io::Errno::NOENT) if keep.is_some() => {}
                    other => other.map_err(|e| wrap(e.into()))?,
                }
            }
            kind @ (tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo) => {
                let file_type = match kind {
                    tar::EntryType::Char => rfs::FileType::CharacterDevice,
                    tar::EntryType::Block => rfs::FileType::BlockDevice,
                    _ => rfs::FileType::Fifo,
                };
                let dev = rfs::makedev(
                    header.device_major().ok().flatten().unwrap_or(0),
                    header.device_minor().ok().flatten().unwrap_or(0),
                );
                remove_existing(&parent, &name).map_err(wrap)?;
                let mode = Mode::from_raw_mode(header.mode().unwrap_or(0o644) & 0o7777);
                rfs::mknodat(&parent, &name, file_type, mode, dev).map_err(|e| wrap(e.into()))?;
                chown_nofollow(&parent, &name, &header).map_err(wrap)?;
                rfs::utimensat(&parent, &name, &times, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| wrap(e.into()))?;
            }
            // PAX and GNU long-name headers are folded into the entries by the tar crate;
            // anything else (sockets, unknown types) has no place in a layer.
            _ => {}
        }
    }
    // Directory times last, deepest first, since creating children changes them.
    for (path, times) in dir_times.iter().rev() {
        if let Ok(fd) = open_in_root(&root_fd, path) {
            let _ = rfs::futimens(&fd, times);
        }
    }
    Ok(size)
}

/// Creates `path` (and its parents) inside `root` as `mkdir -p` would with
/// `root` as `/`: symlinks on the way resolve inside the root, never out of it.
pub fn create_dir_all_in(root: &Path, path: &Path) -> io::Result<()> {
    let root_fd = rfs::open(
        root,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let path = clean(path)
        .ok_or_else(|| io::Error::other(format!("{} leaves the root", path.display())))?;
    open_parent(&root_fd, &path).map(|_| ())
}

/// Where `path` (absolute inside `root`) really is on the host: its parent
/// resolved with `root` as `/` (symlinks cannot leave it), the last component
/// not followed. The parent must exist.
pub fn resolve_in(root: &Path, path: &Path) -> io::Result<PathBuf> {
    let root_fd = rfs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let parent = path.parent().unwrap_or(Path::new("/"));
    let rel = clean(parent)
        .ok_or_else(|| io::Error::other(format!("{} leaves the root", path.display())))?;
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    let dir = rfs::openat2(
        &root_fd,
        &rel,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?;
    let resolved = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&dir)
    ))?;
    if !resolved.starts_with(root) {
        return Err(io::Error::other(format!(
            "{} resolves outside the root",
            path.display()
        )));
    }
    Ok(match path.file_name() {
        Some(n) => resolved.join(n),
        None => resolved,
    })
}

/// Lexically cleans an entry name: leading `/` and `./` dropped, `a/../b` folded.
/// `None` when the name climbs above the root.
fn clean(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(out)
}

fn open_in_root(root: &OwnedFd, path: &Path) -> io::Result<OwnedFd> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    rfs::openat2(
        root,
        path,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(io::Error::from)
}

/// Opens the parent directory of an entry inside the root, creating missing
/// directories (mode 0755, as docker does for implied parents).
fn open_parent(root: &OwnedFd, parent: &Path) -> io::Result<OwnedFd> {
    match open_in_root(root, parent) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            let mut dir = open_in_root(root, Path::new(""))?;
            let mut so_far = PathBuf::new();
            for comp in parent.components() {
                so_far.push(comp);
                dir = match open_in_root(root, &so_far) {
                    Ok(fd) => fd,
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                        ensure_dir(&dir, comp.as_os_str())?;
                        open_in_root(root, &so_far)?
                    }
                    Err(e) => return Err(e),
                };
            }
            Ok(dir)
        }
        other => other,
    }
}

fn ensure_dir(parent: &OwnedFd, name: &OsStr) -> io::Result<OwnedFd> {
    match rfs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory => {}
        Ok(_) => {
            remove_existing(parent, name)?;
            rfs::mkdirat(parent, name, Mode::from_raw_mode(0o755))?;
        }
        Err(Errno::NOENT) => rfs::mkdirat(parent, name, Mode::from_raw_mode(0o755))?,
        Err(e) => return Err(e.into()),
    }
    let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    Ok(rfs::openat(parent, name, flags, Mode::empty())?)
}

/// Removes whatever is at `name` (a file, link, or whole directory tree).
fn remove_existing(parent: &OwnedFd, name: &OsStr) -> io::Result<()> {
    match rfs::unlinkat(parent, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(Errno::ISDIR) | Err(Errno::PERM) => {
            let flags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let dir = rfs::openat(parent, name, flags, Mode::empty())?;
            let mut names = Vec::new();
            for e in rfs::Dir::read_from(&dir)? {
                let e = e?;
                let n = e.file_name().to_bytes();
                if n != b"." && n != b".." {
                    names.push(n.to_vec());
                }
            }
            for n in names {
                remove_existing(&dir, OsStr::from_bytes(&n))?;
            }
            rfs::unlinkat(parent, name, AtFlags::REMOVEDIR)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

fn set_owner_mode<F: AsFd>(fd: F, h: &tar::Header) -> io::Result<()> {
    let (uid, gid) = owner(h);
    rfs::fchown(&fd, Some(uid), Some(gid))?;
    // chmod after chown: chown clears set-id bits.
    rfs::fchmod(&fd, Mode::from_raw_mode(h.mode().unwrap_or(0o644) & 0o7777))?;
    Ok(())
}

fn chown_nofollow(parent: &OwnedFd, name: &OsStr, h: &tar::Header) -> io::Result<()> {
    let (uid, gid) = owner(h);
    rfs::chownat(
        parent,
        name,
        Some(uid),
        Some(gid),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

fn owner(h: &tar::Header) -> (rustix::process::Uid, rustix::process::Gid) {
    let uid = h.uid().unwrap_or(0) as u32;
    let gid = h.gid().unwrap_or(0) as u32;
    (
        rustix::process::Uid::from_raw(uid),
        rustix::process::Gid::from_raw(gid),
    )
}

/// Extended attributes from PAX `SCHILY.xattr.*` records (file capabilities
/// among them). Overlay's own attributes are never taken from a layer.
fn set_xattrs<F: AsFd, R: Read>(fd: F, entry: &mut tar::Entry<R>) -> io::Result<()> {
    let Some(exts) = entry.pax_extensions()? else {
        return Ok(());
    };
    for ext in exts {
        let ext = ext?;
        let Ok(key) = ext.key() else { continue };
        if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
            if name.starts_with("trusted.overlay.") {
                continue;
            }
            rfs::fsetxattr(&fd, name, ext.value_bytes(), rfs::XattrFlags::empty())?;
        }
    }
    Ok(())
}

fn timestamps(h: &tar::Header) -> Timestamps {
    let mtime = Timespec {
        tv_sec: h.mtime().unwrap_or(0) as i64,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: mtime,
        last_modification: mtime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_000_000);
        h
    }

    /// Writes a raw path into the header, bypassing the tar crate's own checks,
    /// as a malicious tar would.
    fn raw_entry(
        b: &mut tar::Builder<Vec<u8>>,
        kind: tar::EntryType,
        path: &str,
        link: Option<&str>,
        data: &[u8],
    ) {
        let mut h = header(kind, 0o644, data.len() as u64);
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(l) = link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
    }

    #[test]
    fn applies_files_dirs_links_owners_and_modes() {
        let t = tempfile::tempdir().unwrap();
        let data = tar_of(|b| {
            let mut h = header(tar::EntryType::Directory, 0o750, 0);
            h.set_uid(1000);
            h.set_gid(1000);
            b.append_data(&mut h, "etc/", &[][..]).unwrap();
            let mut h = header(tar::EntryType::Regular, 0o4755, 5);
            b.append_data(&mut h, "etc/file", &b"hello"[..]).unwrap();
            let mut h = header(tar::EntryType::Symlink, 0o777, 0);
            b.append_link(&mut h, "etc/link", "file").unwrap();
            let mut h = header(tar::EntryType::Link, 0o644, 0);
            b.append_link(&mut h, "hard", "etc/file").unwrap();
            let mut h = header(tar::EntryType::Regular, 0o644, 2);
            b.append_data(&mut h, "deep/er/x", &b"hi"[..]).unwrap();
        });
        let size = apply_layer(&data[..], t.path()).unwrap();
        assert_eq!(size, 7);
        let etc = std::fs::metadata(t.path().join("etc")).unwrap();
        assert_eq!(
            (etc.uid(), etc.gid(), etc.permissions().mode() & 0o7777),
            (1000, 1000, 0o750)
        );
        assert_eq!(etc.mtime(), 1_000_000);
        let f = std::fs::metadata(t.path().join("etc/file")).unwrap();
        assert_eq!(f.permissions().mode() & 0o7777, 0o4755);
        assert_eq!(f.nlink(), 2);
        assert_eq!(
            std::fs::read_link(t.path().join("etc/link")).unwrap(),
            Path::new("file")
        );
        assert_eq!(std::fs::read(t.path().join("deep/er/x")).unwrap(), b"hi");
    }

    #[test]
    fn whiteouts_become_overlay_whiteouts() {
        let t = tempfile::tempdir().unwrap();
        let data = tar_of(|b| {
            let mut h = header(tar::EntryType::Directory, 0o755, 0);
            b.append_data(&mut h, "d/", &[][..]).unwrap();
            let mut h = header(tar::EntryType::Regular, 0o644, 0);
            b.append_data(&mut h, "d/.wh..wh..opq", &[][..]).unwrap();
            let mut h = header(tar::EntryType::Regular, 0o644, 0);
            b.append_data(&mut h, ".wh.gone", &[][..]).unwrap();
        });
        apply_layer(&data[..], t.path()).unwrap();
        let w = std::fs::symlink_metadata(t.path().join("gone")).unwrap();
        assert!(w.file_type().is_char_device());
        assert_eq!(w.rdev(), 0);
        let opaque = rfs::getxattr(
            t.path().join("d").as_path(),
            "trusted.overlay.opaque",
            &mut [0u8; 4],
        );
        assert_eq!(opaque.unwrap(), 1);
    }

    #[test]
    fn dotdot_entries_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        let root = t.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let data = tar_of(|b| raw_entry(b, tar::EntryType::Regular, "../outside", None, b"x"));
        assert!(matches!(
            apply_layer(&data[..], &root),
            Err(LayerError::Breakout(_))
        ));
        assert!(!outside.exists());
    }

    #[test]
    fn absolute_names_land_inside() {
        let t = tempfile::tempdir().unwrap();
        let data = tar_of(|b| raw_entry(b, tar::EntryType::Regular, "/abs-file", None, b"x"));
        apply_layer(&data[..], t.path()).unwrap();
        assert!(t.path().join("abs-file").exists());
    }

    #[test]
    fn writes_through_escaping_symlinks_stay_inside() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let root = t.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let data = tar_of(|b| {
            raw_entry(
                b,
                tar::EntryType::Symlink,
                "abs",
                Some(outside.to_str().unwrap()),
                b"",
            );
            raw_entry(b, tar::EntryType::Regular, "abs/pwned", None, b"x");
            raw_entry(b, tar::EntryType::Symlink, "rel", Some("../outside"), b"");
            raw_entry(b, tar::EntryType::Regular, "rel/pwned2", None, b"x");
        });
        apply_layer(&data[..], &root).unwrap();
        assert!(!outside.join("pwned").exists());
        assert!(!outside.join("pwned2").exists());
        // The writes stayed inside the snapshot (dangling in-root targets are
        // replaced by real directories).
        let inside = |rel: &str| walk(&root).iter().any(|p| p.ends_with(rel));
        assert!(inside("pwned") && inside("pwned2"));
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.symlink_metadata().unwrap().is_dir() {
                out.extend(walk(&p));
            }
            out.push(p);
        }
        out
    }

    #[test]
    fn hard_links_out_of_the_root_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(t.path().join("secret"), b"s").unwrap();
        let data = tar_of(|b| raw_entry(b, tar::EntryType::Link, "h", Some("../secret"), b""));
        assert!(matches!(
            apply_layer(&data[..], &root),
            Err(LayerError::Breakout(_))
        ));
        // Through a symlink, the target resolves inside the root and is missing.
        let data = tar_of(|b| {
            raw_entry(
                b,
                tar::EntryType::Symlink,
                "up",
                Some(t.path().to_str().unwrap()),
                b"",
            );
            raw_entry(b, tar::EntryType::Link, "h2", Some("up/secret"), b"");
        });
        assert!(apply_layer(&data[..], &root).is_err());
        assert!(!root.join("h2").exists());
    }

    #[test]
    fn device_nodes_and_compression() {
        let t = tempfile::tempdir().unwrap();
        let data = tar_of(|b| {
            let mut h = header(tar::EntryType::Char, 0o666, 0);
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
            b.append_data(&mut h, "null", &[][..]).unwrap();
        });
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &data).unwrap();
        let gz = gz.finish().unwrap();
        let (kind, reader) = decompress(&gz[..]).unwrap();
        assert_eq!(kind, Compression::Gzip);
        apply_layer(reader, t.path()).unwrap();
        let m = std::fs::symlink_metadata(t.path().join("null")).unwrap();
        assert!(m.file_type().is_char_device());
        assert_eq!(m.rdev(), rfs::makedev(1, 3));
        let zst = zstd::encode_all(&data[..], 1).unwrap();
        assert_eq!(decompress(&zst[..]).unwrap().0, Compression::Zstd);
        assert_eq!(decompress(&data[..]).unwrap().0, Compression::None);
    }

    #[test]
    fn xattrs_and_file_capabilities_are_kept() {
        let t = tempfile::tempdir().unwrap();
        // security.capability v2 granting cap_net_bind_service (bit 10), permitted+effective.
        let mut cap = [0u8; 20];
        cap[0..4].copy_from_slice(&0x0200_0001u32.to_le_bytes());
        cap[4..8].copy_from_slice(&(1u32 << 10).to_le_bytes());
        let data = tar_of(|b| {
            b.append_pax_extensions([
                ("SCHILY.xattr.user.origin", &b"layer"[..]),
                ("SCHILY.xattr.security.capability", &cap[..]),
                ("SCHILY.xattr.trusted.overlay.opaque", &b"y"[..]),
            ])
            .unwrap();
            let mut h = header(tar::EntryType::Regular, 0o755, 2);
            b.append_data(&mut h, "bin/ping", &b"#!"[..]).unwrap();
        });
        apply_layer(&data[..], t.path()).unwrap();
        let file = t.path().join("bin/ping");
        let mut buf = [0u8; 64];
        let n = rfs::getxattr(file.as_path(), "user.origin", &mut buf).unwrap();
        assert_eq!(&buf[..n], b"layer");
        let n = rfs::getxattr(file.as_path(), "security.capability", &mut buf).unwrap();
        assert_eq!(&buf[..n], &cap[..]);
        assert!(
            rfs::getxattr(file.as_path(), "trusted.overlay.opaque", &mut buf).is_err(),
            "overlay's own attributes never come from a layer"
        );
    }

    #[test]
    fn truncated_tar_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let data = tar_of(|b| {
            let mut h = header(tar::EntryType::Regular, 0o644, 4096);
            b.append_data(&mut h, "big", &vec![7u8; 4096][..]).unwrap();
        });
        assert!(apply_layer(&data[..1500], t.path()).is_err());
    }
}
