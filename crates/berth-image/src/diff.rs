//! Layer creation: an overlay upper directory (or any snapshot directory) as
//! a layer tar, with overlay whiteouts turned back into OCI whiteouts
//! (`.wh.name` files, `.wh..wh..opq` markers). Entries are sorted, so the same
//! tree always gives the same bytes; `clamp_mtime` (SOURCE_DATE_EPOCH) makes
//! times reproducible too.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// Options for [`write_layer`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DiffOptions {
    /// Times later than this (seconds since the epoch) are set to it.
    pub clamp_mtime: Option<u64>,
    /// Leave out what a container's own mounts left in its upper directory
    /// (see [`is_mount_stub`]): `commit` is the user's changes only.
    pub skip_mount_stubs: bool,
}

/// The empty files and directories a container's runtime mounts create in
/// its upper directory (docker keeps these in an "init" layer that commit
/// and diff leave out): `etc/hostname`, `etc/hosts`, `etc/resolv.conf`, and
/// the top-level `dev`, `proc` and `sys` mount points.
pub fn is_mount_stub(rel: &str, meta: &std::fs::Metadata) -> bool {
    let rel = rel.trim_start_matches('/').trim_end_matches('/');
    match rel {
        "etc/hostname" | "etc/hosts" | "etc/resolv.conf" => meta.is_file() && meta.len() == 0,
        "dev" | "proc" | "sys" => meta.is_dir(),
        _ => false,
    }
}

/// Writes the tree at `dir` as an uncompressed layer tar to `out`.
pub fn write_layer<W: Write>(dir: &Path, out: W, opts: DiffOptions) -> io::Result<W> {
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Complete);
    tar.follow_symlinks(false);
    let mut links: HashMap<(u64, u64), String> = HashMap::new();
    walk(&mut tar, dir, "", &mut links, opts)?;
    tar.into_inner()
}

fn dir_is_empty(path: &Path, meta: &std::fs::Metadata) -> bool {
    !meta.is_dir() || std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

fn sorted_entries(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    Ok(names)
}

fn header_for(meta: &std::fs::Metadata, kind: tar::EntryType, opts: DiffOptions) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(meta.uid() as u64);
    h.set_gid(meta.gid() as u64);
    let mtime = meta.mtime().max(0) as u64;
    h.set_mtime(opts.clamp_mtime.map(|c| mtime.min(c)).unwrap_or(mtime));
    h.set_size(0);
    h
}

/// Extended attributes worth carrying (file capabilities, user.*), as PAX records.
fn xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut names = vec![0u8; 4096];
    let Ok(n) = rustix::fs::llistxattr(path, &mut names) else {
        return out;
    };
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if !(name.starts_with("user.") || name == "security.capability") {
            continue;
        }
        let mut value = vec![0u8; 65536];
        if let Ok(len) = rustix::fs::lgetxattr(path, name.as_str(), &mut value) {
            out.push((format!("SCHILY.xattr.{name}"), value[..len].to_vec()));
        }
    }
    out
}

fn append_empty<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    meta: &std::fs::Metadata,
    opts: DiffOptions,
) -> io::Result<()> {
    let mut h = header_for(meta, tar::EntryType::Regular, opts);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    tar.append_data(&mut h, name, io::empty())
}

fn walk<W: Write>(
    tar: &mut tar::Builder<W>,
    dir: &Path,
    prefix: &str,
    links: &mut HashMap<(u64, u64), String>,
    opts: DiffOptions,
) -> io::Result<()> {
    for name in sorted_entries(dir)? {
        let path = dir.join(&name);
        let rel = format!("{prefix}{}", String::from_utf8_lossy(name.as_bytes()));
        let meta = std::fs::symlink_metadata(&path)?;
        let ft = meta.file_type();
        if opts.skip_mount_stubs && is_mount_stub(&rel, &meta) && dir_is_empty(&path, &meta) {
            continue;
        }
        // overlay's whiteout: a 0/0 character device.
        if ft.is_char_device() && meta.rdev() == 0 {
            let (parent, base) = match rel.rsplit_once('/') {
                Some((p, b)) => (format!("{p}/"), b.to_string()),
                None => (String::new(), rel.clone()),
            };
            append_empty(tar, &format!("{parent}.wh.{base}"), &meta, opts)?;
            continue;
        }
        let x = xattrs(&path);
        if !x.is_empty() {
            tar.append_pax_extensions(x.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
        }
        if ft.is_dir() {
            let mut h = header_for(&meta, tar::EntryType::Directory, opts);
            tar.append_data(&mut h, format!("{rel}/"), io::empty())?;
            let mut opaque = [0u8; 2];
            if rustix::fs::lgetxattr(&path, "trusted.overlay.opaque", &mut opaque)
                .is_ok_and(|n| &opaque[..n] == b"y")
            {
                append_empty(tar, &format!("{rel}/.wh..wh..opq"), &meta, opts)?;
            }
            walk(tar, &path, &format!("{rel}/"), links, opts)?;
        } else if ft.is_symlink() {
            let mut h = header_for(&meta, tar::EntryType::Symlink, opts);
            let target = std::fs::read_link(&path)?;
            tar.append_link(&mut h, &rel, target)?;
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1 {
                if let Some(first) = links.get(&key) {
                    let mut h = header_for(&meta, tar::EntryType::Link, opts);
                    tar.append_link(&mut h, &rel, first)?;
                    continue;
                }
                links.insert(key, rel.clone());
            }
            let mut h = header_for(&meta, tar::EntryType::Regular, opts);
            h.set_size(meta.len());
            tar.append_data(&mut h, &rel, std::fs::File::open(&path)?)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            };
            let mut h = header_for(&meta, kind, opts);
            let rdev = meta.rdev();
            h.set_device_major(rustix::fs::major(rdev))?;
            h.set_device_minor(rustix::fs::minor(rdev))?;
            tar.append_data(&mut h, &rel, io::empty())?;
        }
        // Sockets have no place in a layer.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::apply_layer;

    #[test]
    fn round_trips_through_apply() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(src.join("d/e")).unwrap();
        std::fs::write(src.join("d/f"), "data").unwrap();
        std::os::unix::fs::symlink("f", src.join("d/link")).unwrap();
        std::fs::hard_link(src.join("d/f"), src.join("hard")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            src.join("gone"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            0,
        )
        .unwrap();
        rustix::fs::setxattr(
            src.join("d/e"),
            "trusted.overlay.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        let bytes = write_layer(&src, Vec::new(), DiffOptions::default()).unwrap();
        let names: Vec<String> = tar::Archive::new(&bytes[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(names.contains(&".wh.gone".to_string()), "{names:?}");
        assert!(names.contains(&"d/e/.wh..wh..opq".to_string()), "{names:?}");
        let dst = t.path().join("dst");
        std::fs::create_dir(&dst).unwrap();
        apply_layer(&bytes[..], &dst).unwrap();
        assert_eq!(std::fs::read_to_string(dst.join("hard")).unwrap(), "data");
        assert_eq!(std::fs::metadata(dst.join("hard")).unwrap().nlink(), 2);
        assert_eq!(
            std::fs::read_link(dst.join("d/link")).unwrap(),
            Path::new("f")
        );
        // Same tree, same bytes.
        assert_eq!(
            write_layer(&src, Vec::new(), DiffOptions::default()).unwrap(),
            bytes
        );
        let clamped = write_layer(
            &src,
            Vec::new(),
            DiffOptions {
                clamp_mtime: Some(0),
                ..Default::default()
            },
        )
        .unwrap();
        for e in tar::Archive::new(&clamped[..]).entries().unwrap() {
            assert_eq!(e.unwrap().header().mtime().unwrap(), 0);
        }
    }
}
