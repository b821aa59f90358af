//! Walking a layer tree in overlayfs' form: every regular file, and what
//! the layer deletes (0/0 character devices) or hides (opaque directories)
//! of the layers below.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Whiteouts {
    /// Paths this layer deletes from the layers below.
    #[serde(default)]
    pub deleted: Vec<String>,
    /// Directories whose lower contents this layer hides.
    #[serde(default)]
    pub opaque: Vec<String>,
}

impl Whiteouts {
    /// Whether this layer removes `path` of a lower layer.
    pub fn removes(&self, path: &str) -> bool {
        self.deleted.iter().any(|d| under(path, d)) || self.opaque.iter().any(|o| below(path, o))
    }
}

/// Calls `visit(path, relative path, metadata)` for each regular file under
/// `root`, in name order; returns the whiteouts and what could not be read.
pub fn walk(
    root: &Path,
    visit: &mut dyn FnMut(&Path, &str, &std::fs::Metadata),
) -> (Whiteouts, Vec<String>) {
    let mut w = Whiteouts::default();
    let mut problems = Vec::new();
    walk_dir(root, root, visit, &mut w, &mut problems);
    (w, problems)
}

fn walk_dir(
    root: &Path,
    dir: &Path,
    visit: &mut dyn FnMut(&Path, &str, &std::fs::Metadata),
    w: &mut Whiteouts,
    problems: &mut Vec<String>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(format!("{}: {e}", rel(root, dir)));
            return;
        }
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        let ft = meta.file_type();
        let relpath = rel(root, &path);
        if ft.is_char_device() && meta.rdev() == 0 {
            w.deleted.push(relpath);
        } else if ft.is_dir() {
            if is_opaque(&path) {
                w.opaque.push(relpath);
            }
            walk_dir(root, &path, visit, w, problems);
        } else if ft.is_file() {
            visit(&path, &relpath, &meta);
        }
    }
}

fn is_opaque(dir: &Path) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|a| xattr::get(dir, a).ok().flatten().is_some_and(|v| v == b"y"))
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// `p` is `d` or inside it.
pub fn under(p: &str, d: &str) -> bool {
    p == d || below(p, d)
}

/// `p` is inside directory `d`.
pub fn below(p: &str, d: &str) -> bool {
    p.len() > d.len() && p.starts_with(d) && p.as_bytes()[d.len()] == b'/'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_whole_components() {
        assert!(under("a/b", "a/b"));
        assert!(under("a/b/c", "a/b"));
        assert!(!under("a/bc", "a/b"));
        assert!(!below("a/b", "a/b"));
    }

    #[test]
    fn walks_files_and_whiteouts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/f"), "x").unwrap();
        nix_mknod(&dir.path().join("a/gone"));
        let mut seen = Vec::new();
        let (w, problems) = walk(dir.path(), &mut |_, rel, _| seen.push(rel.to_string()));
        assert_eq!(seen, vec!["a/b/f"]);
        assert_eq!(w.deleted, vec!["a/gone"]);
        assert!(problems.is_empty());
        assert!(w.removes("a/gone/x"));
        assert!(!w.removes("a/b/f"));
    }

    /// A whiteout as overlayfs writes one (needs root, as the tests have).
    fn nix_mknod(p: &Path) {
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a plain mknod of a path we own.
        let r = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, 0) };
        assert_eq!(r, 0, "mknod needs root");
    }
}
