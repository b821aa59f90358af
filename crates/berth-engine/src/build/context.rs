//! The build context: a directory filtered by .dockerignore, source
//! resolution for COPY (wildcards, files versus directories), content hashing
//! for cache keys, and copying into a build root without leaving it.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use berth_dockerfile::ignore::Matcher;
use berth_image::DigestWriter;

use crate::EngineError;

/// A context directory and what its .dockerignore excludes.
pub struct Context {
    pub dir: PathBuf,
    pub ignore: Matcher,
}

/// One source of a COPY: where it is and its path relative to its root.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: PathBuf,
    pub rel: String,
}

impl Context {
    /// Sources named by `pattern` (wildcards allowed) inside `root`, skipping
    /// what `ignore` excludes. A missing source is an error naming it.
    pub fn resolve(
        root: &Path,
        pattern: &str,
        ignore: Option<&Matcher>,
    ) -> Result<Vec<Source>, EngineError> {
        let clean = clean_rel(pattern).ok_or_else(|| {
            EngineError::invalid(format!("COPY source {pattern:?} leaves the build context"))
        })?;
        let has_glob = clean.contains(['*', '?', '[']);
        let mut out = Vec::new();
        if !has_glob {
            let path = root.join(&clean);
            let excluded = ignore.is_some_and(|m| !clean.is_empty() && m.excluded(&clean));
            if std::fs::symlink_metadata(&path).is_err() || excluded {
                return Err(EngineError::invalid(format!(
                    "failed to compute cache key: \"/{clean}\": not found"
                )));
            }
            out.push(Source { path, rel: clean });
            return Ok(out);
        }
        // Walk only as deep as the pattern has segments.
        let segs: Vec<&str> = clean.split('/').collect();
        let mut frontier = vec![(root.to_path_buf(), String::new())];
        for (i, seg) in segs.iter().enumerate() {
            let pat: Vec<char> = seg.chars().collect();
            let mut next = Vec::new();
            for (dir, rel) in frontier {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                let mut names: Vec<String> = entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                for name in names {
                    if berth_dockerfile::shell::glob(&pat, &name) {
                        let r = if rel.is_empty() {
                            name.clone()
                        } else {
                            format!("{rel}/{name}")
                        };
                        if i + 1 == segs.len() && ignore.is_some_and(|m| m.excluded(&r)) {
                            continue;
                        }
                        next.push((dir.join(&name), r));
                    }
                }
            }
            frontier = next;
        }
        if frontier.is_empty() {
            return Err(EngineError::invalid(format!(
                "failed to compute cache key: no source files were specified by {pattern:?}"
            )));
        }
        Ok(frontier
            .into_iter()
            .map(|(path, rel)| Source { path, rel })
            .collect())
    }
}

/// A relative path inside a root, `..` refused.
fn clean_rel(p: &str) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => out.push(n.to_string_lossy().into_owned()),
            Component::ParentDir => {
                out.pop()?;
            }
            _ => {}
        }
    }
    Some(out.join("/"))
}

/// Hashes what a COPY would copy: paths, types, modes, link targets and
/// contents, in a stable order; excluded files do not count.
/// `remember`: the store that keeps digests of unchanged files (for the
/// context; a stage's files live in a new mount every build).
pub fn hash_sources(
    sources: &[Source],
    ignore: Option<&Matcher>,
    remember: Option<&berth_store::Db>,
) -> Result<String, EngineError> {
    let mut w = DigestWriter::new(std::io::sink());
    let mut fresh = Vec::new();
    for s in sources {
        hash_tree(&mut w, &s.path, &s.rel, ignore, remember, &mut fresh)?;
    }
    if let Some(db) = remember {
        db.put_file_hashes(&fresh)?;
    }
    Ok(w.finish().0.to_string())
}

/// A file's content digest, from the store when its stat is unchanged (size,
/// times, inode), read otherwise. Files changed in the last two seconds are
/// not remembered: a write within the same time tick could go unseen.
fn file_digest(
    path: &Path,
    meta: &std::fs::Metadata,
    remember: Option<&berth_store::Db>,
    fresh: &mut Vec<(String, String, berth_image::Digest)>,
) -> Result<berth_image::Digest, EngineError> {
    let key = path.display().to_string();
    let stat = format!(
        "{}:{}.{}:{}.{}:{}:{}",
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
        meta.ino(),
        meta.dev()
    );
    if let Some(d) = remember
        .map(|db| db.file_hash(&key, &stat))
        .transpose()?
        .flatten()
    {
        return Ok(d);
    }
    let mut f = std::fs::File::open(path).map_err(|e| EngineError::io(path, e))?;
    let mut w = DigestWriter::new(std::io::sink());
    std::io::copy(&mut f, &mut w).map_err(|e| EngineError::io(path, e))?;
    let d = w.finish().0;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if now - meta.mtime().max(meta.ctime()) > 2 {
        fresh.push((key, stat, d.clone()));
    }
    Ok(d)
}

fn hash_tree(
    w: &mut DigestWriter<std::io::Sink>,
    path: &Path,
    rel: &str,
    ignore: Option<&Matcher>,
    remember: Option<&berth_store::Db>,
    fresh: &mut Vec<(String, String, berth_image::Digest)>,
) -> Result<(), EngineError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| EngineError::io(path, e))?;
    let _ = writeln!(w, "{rel}\0{:o}\0{}", meta.mode(), meta.len());
    if meta.is_symlink() {
        let _ = writeln!(
            w,
            "{}",
            std::fs::read_link(path)
                .map_err(|e| EngineError::io(path, e))?
                .display()
        );
    } else if meta.is_file() {
        let _ = writeln!(w, "{}", file_digest(path, &meta, remember, fresh)?);
    } else if meta.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(path)
            .map_err(|e| EngineError::io(path, e))?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let r = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let child = path.join(&name);
            if ignore.is_some_and(|m| m.excluded(&r)) {
                if child.is_dir() && ignore.is_some_and(|m| m.must_walk_excluded_dir(&r)) {
                    hash_tree(w, &child, &r, ignore, remember, fresh)?;
                }
                continue;
            }
            hash_tree(w, &child, &r, ignore, remember, fresh)?;
        }
    }
    Ok(())
}

/// Ownership and mode options of a COPY.
#[derive(Clone, Copy, Debug, Default)]
pub struct CopyOptions {
    pub uid: u32,
    pub gid: u32,
    pub chmod: Option<u32>,
}

/// Copies `src` to `dest` (an absolute path inside `root`) as docker does: a
/// directory's contents into `dest`, a file to `dest` or into it. Every path is
/// created under `root` with symlinks resolved inside it.
pub fn copy_into(
    root: &Path,
    src: &Source,
    dest: &str,
    dest_is_dir: bool,
    ignore: Option<&Matcher>,
    opts: CopyOptions,
) -> Result<u64, EngineError> {
    let meta = std::fs::symlink_metadata(&src.path).map_err(|e| EngineError::io(&src.path, e))?;
    if meta.is_dir() {
        make_dir(root, dest, Some(&meta), opts)?;
        copy_dir(root, &src.path, dest, &src.rel, ignore, opts)
    } else {
        let target = if dest_is_dir {
            make_dir(root, dest, None, opts)?;
            format!(
                "{}/{}",
                dest.trim_end_matches('/'),
                src.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            )
        } else {
            dest.to_string()
        };
        copy_entry(root, &src.path, &target, opts)
    }
}

fn copy_dir(
    root: &Path,
    dir: &Path,
    dest: &str,
    rel: &str,
    ignore: Option<&Matcher>,
    opts: CopyOptions,
) -> Result<u64, EngineError> {
    let mut total = 0;
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| EngineError::io(dir, e))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let child = dir.join(&name);
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let target = format!("{}/{name}", dest.trim_end_matches('/'));
        let meta = std::fs::symlink_metadata(&child).map_err(|e| EngineError::io(&child, e))?;
        let excluded = ignore.is_some_and(|m| m.excluded(&r));
        if meta.is_dir() {
            if excluded && !ignore.is_some_and(|m| m.must_walk_excluded_dir(&r)) {
                continue;
            }
            if !excluded {
                make_dir(root, &target, Some(&meta), opts)?;
            }
            total += copy_dir(root, &child, &target, &r, ignore, opts)?;
        } else if !excluded {
            total += copy_entry(root, &child, &target, opts)?;
        }
    }
    Ok(total)
}

/// `mkdir -p` inside the root, then owner and mode (from `like` when given).
fn make_dir(
    root: &Path,
    dest: &str,
    like: Option<&std::fs::Metadata>,
    opts: CopyOptions,
) -> Result<(), EngineError> {
    berth_image::layer::create_dir_all_in(root, Path::new(dest))
        .map_err(|e| EngineError::io(Path::new(dest), e))?;
    let real = real_path(root, dest)?;
    if let Some(m) = like {
        let mode = opts.chmod.unwrap_or(m.mode() & 0o7777);
        std::os::unix::fs::lchown(&real, Some(opts.uid), Some(opts.gid))
            .map_err(|e| EngineError::io(&real, e))?;
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(mode))
            .map_err(|e| EngineError::io(&real, e))?;
    }
    Ok(())
}

fn real_path(root: &Path, dest: &str) -> Result<PathBuf, EngineError> {
    berth_image::layer::resolve_in(root, Path::new(dest))
        .map_err(|e| EngineError::io(Path::new(dest), e))
}

fn copy_entry(root: &Path, src: &Path, dest: &str, opts: CopyOptions) -> Result<u64, EngineError> {
    let parent = Path::new(dest)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "/".into());
    berth_image::layer::create_dir_all_in(root, Path::new(&parent))
        .map_err(|e| EngineError::io(Path::new(&parent), e))?;
    let real = real_path(root, dest)?;
    let meta = std::fs::symlink_metadata(src).map_err(|e| EngineError::io(src, e))?;
    if std::fs::symlink_metadata(&real).is_ok_and(|m| !m.is_dir()) {
        std::fs::remove_file(&real).map_err(|e| EngineError::io(&real, e))?;
    }
    let mut size = 0;
    if meta.is_symlink() {
        let target = std::fs::read_link(src).map_err(|e| EngineError::io(src, e))?;
        std::os::unix::fs::symlink(&target, &real).map_err(|e| EngineError::io(&real, e))?;
        std::os::unix::fs::lchown(&real, Some(opts.uid), Some(opts.gid))
            .map_err(|e| EngineError::io(&real, e))?;
    } else if meta.is_file() {
        size = std::fs::copy(src, &real).map_err(|e| EngineError::io(&real, e))?;
        // Owner first: chown clears set-id bits that chmod then sets.
        std::os::unix::fs::lchown(&real, Some(opts.uid), Some(opts.gid))
            .map_err(|e| EngineError::io(&real, e))?;
        let mode = opts.chmod.unwrap_or(meta.mode() & 0o7777);
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(mode))
            .map_err(|e| EngineError::io(&real, e))?;
        let mtime = std::fs::FileTimes::new()
            .set_modified(meta.modified().map_err(|e| EngineError::io(src, e))?);
        std::fs::File::options()
            .write(true)
            .open(&real)
            .and_then(|f| f.set_times(mtime))
            .map_err(|e| EngineError::io(&real, e))?;
    }
    Ok(size)
}

/// Bytes of the files a build can see (what docker would send as the context).
pub fn context_size(dir: &Path, ignore: &Matcher) -> u64 {
    fn walk(dir: &Path, rel: &str, ignore: &Matcher) -> u64 {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        let mut total = 0;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{}", e.file_name().to_string_lossy())
            };
            let Ok(meta) = e.metadata() else { continue };
            let excluded = ignore.excluded(&r);
            if meta.is_dir() {
                if !excluded || ignore.must_walk_excluded_dir(&r) {
                    total += walk(&e.path(), &r, ignore);
                }
            } else if !excluded {
                total += meta.len();
            }
        }
        total
    }
    walk(dir, "", ignore)
}
