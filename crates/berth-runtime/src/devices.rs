//! Host devices given to a container (`--device`, CDI device nodes): the
//! node made in its /dev and the cgroup rule that lets it use it; and
//! docker's `--device-cgroup-rule` syntax.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::spec::{DeviceNode, DeviceRule};

/// The node(s) for host device `host` at `container` (a directory gives
/// every device under it, at the same place below `container`), usable as
/// `permissions` (some of `rwm`).
pub fn nodes_of(
    host: &str,
    container: &str,
    permissions: &str,
) -> Result<Vec<(DeviceNode, DeviceRule)>, String> {
    if permissions.is_empty() || !permissions.chars().all(|c| "rwm".contains(c)) {
        return Err(format!(
            "invalid device permissions {permissions:?}: some of r, w and m"
        ));
    }
    let meta = std::fs::metadata(host).map_err(|e| {
        format!("error gathering device information while adding custom device {host:?}: {e}")
    })?;
    if meta.is_dir() {
        let mut out = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(host)];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for e in entries.flatten() {
                let path = e.path();
                let Ok(m) = std::fs::metadata(&path) else {
                    continue;
                };
                if m.is_dir() {
                    stack.push(path);
                } else if m.file_type().is_char_device() || m.file_type().is_block_device() {
                    let rel = path.strip_prefix(host).unwrap_or(&path);
                    let dest = Path::new(container).join(rel);
                    out.push(node(&path, &dest.to_string_lossy(), &m, permissions));
                }
            }
        }
        return Ok(out);
    }
    if !(meta.file_type().is_char_device() || meta.file_type().is_block_device()) {
        return Err(format!("{host} is not a device node"));
    }
    Ok(vec![node(Path::new(host), container, &meta, permissions)])
}

fn node(
    _host: &Path,
    container: &str,
    meta: &std::fs::Metadata,
    permissions: &str,
) -> (DeviceNode, DeviceRule) {
    let kind = if meta.file_type().is_block_device() {
        'b'
    } else {
        'c'
    };
    let (major, minor) = (
        libc::major(meta.rdev()) as i64,
        libc::minor(meta.rdev()) as i64,
    );
    (
        DeviceNode {
            path: container.to_string(),
            kind,
            major,
            minor,
            file_mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
        },
        DeviceRule {
            allow: true,
            kind: Some(kind),
            major: Some(major),
            minor: Some(minor),
            access: permissions.to_string(),
        },
    )
}

/// `--device-cgroup-rule`: `TYPE MAJOR:MINOR ACCESS`, as `c 1:3 rwm`,
/// `b 8:* r`, `a *:* m`.
pub fn parse_rule(s: &str) -> Result<DeviceRule, String> {
    let bad = || {
        format!("invalid device cgroup rule {s:?}: TYPE MAJOR:MINOR ACCESS, as 'c 1:3 rwm' (TYPE a, b or c; * for any number)")
    };
    let parts: Vec<&str> = s.split_whitespace().collect();
    let [kind, numbers, access] = parts.as_slice() else {
        return Err(bad());
    };
    let kind = match *kind {
        "a" => None,
        "b" => Some('b'),
        "c" => Some('c'),
        _ => return Err(bad()),
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let number = |n: &str| -> Result<Option<i64>, String> {
        match n {
            "*" => Ok(None),
            n => n.parse().map(Some).map_err(|_| bad()),
        }
    };
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad());
    }
    Ok(DeviceRule {
        allow: true,
        kind,
        major: number(major)?,
        minor: number(minor)?,
        access: access.to_string(),
    })
}

/// The major and minor numbers of the block device at `path`
/// (`--device-read-bps /dev/sda:1mb`).
pub fn block_numbers(path: &str) -> Result<(i64, i64), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    if !meta.file_type().is_block_device() {
        return Err(format!("{path} is not a block device"));
    }
    Ok((
        libc::major(meta.rdev()) as i64,
        libc::minor(meta.rdev()) as i64,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_as_docker_writes_them() {
        let r = parse_rule("c 1:3 rwm").unwrap();
        assert_eq!((r.kind, r.major, r.minor), (Some('c'), Some(1), Some(3)));
        let any = parse_rule("a *:* m").unwrap();
        assert_eq!((any.kind, any.major, any.minor), (None, None, None));
        assert!(parse_rule("c 1:3").is_err());
        assert!(parse_rule("x 1:3 r").is_err());
        assert!(parse_rule("c one:3 r").is_err());
        assert!(parse_rule("c 1:3 rwx").is_err());
    }

    #[test]
    fn device_nodes_come_from_the_host() {
        let nodes = nodes_of("/dev/null", "/dev/mynull", "rw").unwrap();
        let (n, r) = &nodes[0];
        assert_eq!(
            (n.path.as_str(), n.kind, n.major, n.minor),
            ("/dev/mynull", 'c', 1, 3)
        );
        assert_eq!(r.access, "rw");
        assert!(nodes_of("/etc/passwd", "/x", "rwm").is_err());
        assert!(nodes_of("/dev/nosuchdevice", "/x", "rwm").is_err());
        assert!(nodes_of("/dev/null", "/x", "rwz").is_err());
    }
}
