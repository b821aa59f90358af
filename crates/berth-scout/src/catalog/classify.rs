//! Programs known by name and by a version string inside them (what syft
//! calls binary classifiers): busybox, bash, curl, gzip, Node.js, OpenSSL,
//! Python's library, OpenJDK's launcher, nginx. They are `binary` packages
//! (`pkg:generic/NAME@VERSION`); those a distribution package installed are
//! dropped once the layer's package file lists are known, as syft does.

use std::path::Path;
use std::sync::OnceLock;

use regex::bytes::Regex;

use crate::package::{Kind, Package};

struct Classifier {
    package: &'static str,
    /// The file names it looks at.
    file: fn(&str) -> bool,
    /// Text the program must hold besides its version (what tells GNU
    /// gzip from busybox's `gzip` applet, say).
    requires: &'static [u8],
    /// The version, as the `v` group.
    pattern: &'static str,
}

const CLASSIFIERS: &[Classifier] = &[
    Classifier {
        package: "busybox",
        file: |n| n == "busybox",
        requires: b"",
        pattern: r"BusyBox v(?P<v>[0-9]+\.[0-9]+(?:\.[0-9]+)?)",
    },
    Classifier {
        package: "bash",
        file: |n| n == "bash",
        requires: b"",
        pattern: r"Bash version (?P<v>[0-9]+\.[0-9]+\.[0-9]+)",
    },
    Classifier {
        package: "curl",
        file: |n| n == "curl",
        requires: b"",
        pattern: r"curl/(?P<v>[0-9]+\.[0-9]+\.[0-9]+)",
    },
    Classifier {
        package: "gzip",
        file: |n| n == "gzip",
        requires: b"GZIP environment variable",
        pattern: r"\x00(?P<v>[0-9]+\.[0-9]+(?:\.[0-9]+)?)\x00",
    },
    Classifier {
        package: "node",
        file: |n| n == "node" || n == "nodejs",
        requires: b"",
        pattern: r"node\.js/v(?P<v>[0-9]+\.[0-9]+\.[0-9]+)",
    },
    Classifier {
        package: "openssl",
        file: |n| n == "openssl",
        requires: b"",
        pattern: r"OpenSSL (?P<v>[0-9]+\.[0-9]+\.[0-9]+[a-z]?) ",
    },
    Classifier {
        package: "python",
        file: |n| n.starts_with("libpython3.") && n.contains(".so"),
        requires: b"",
        pattern: r"\x00(?P<v>3\.[0-9]+\.[0-9]+(?:(?:a|b|rc)[0-9]+)?)\x00",
    },
    Classifier {
        package: "java/jre",
        file: |n| n == "java",
        requires: b"openjdk",
        pattern: r"\x00(?P<v>[0-9]+(?:\.[0-9]+)*\+[0-9]+(?:-[0-9A-Za-z.]+)*)\x00",
    },
    Classifier {
        package: "nginx",
        file: |n| n == "nginx",
        requires: b"",
        pattern: r"nginx/(?P<v>[0-9]+\.[0-9]+\.[0-9]+)",
    },
];

/// Whether a file of this name is one a classifier reads.
pub fn known(name: &str) -> bool {
    CLASSIFIERS.iter().any(|c| (c.file)(name))
}

/// Whether the file at `relpath` is, by its name.
pub fn known_path(relpath: &str) -> bool {
    known(relpath.rsplit('/').next().unwrap_or(relpath))
}

fn patterns() -> &'static [Regex] {
    static RES: OnceLock<Vec<Regex>> = OnceLock::new();
    RES.get_or_init(|| {
        CLASSIFIERS
            .iter()
            .map(|c| {
                Regex::new(&format!("(?-u){}", c.pattern)).expect("classifier patterns compile")
            })
            .collect()
    })
}

/// The program at `path` (named `name`), when a classifier knows it.
pub fn read(path: &Path, name: &str, relpath: &str) -> Result<Vec<Package>, String> {
    const LIMIT: u64 = 512 << 20;
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > LIMIT {
        return Ok(Vec::new());
    }
    let mut bytes = None;
    for (c, re) in CLASSIFIERS.iter().zip(patterns()) {
        if !(c.file)(name) {
            continue;
        }
        let data = match &bytes {
            Some(b) => b,
            None => bytes.insert(std::fs::read(path).map_err(|e| e.to_string())?),
        };
        if !c.requires.is_empty() && !contains(data, c.requires) {
            continue;
        }
        if let Some(v) = re.captures(data).and_then(|m| m.name("v")) {
            let version = String::from_utf8_lossy(v.as_bytes()).into_owned();
            return Ok(vec![Package::new(
                Kind::Binary,
                c.package,
                &version,
                relpath,
            )]);
        }
    }
    Ok(Vec::new())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The paths a dpkg `.list` file says its package installed, as paths
/// relative to the root, under both halves of a merged /usr (Debian lists
/// `/bin/bash`; the file is at `usr/bin/bash` where /bin is a link).
pub fn dpkg_owned(list: &str) -> impl Iterator<Item = String> + '_ {
    list.lines()
        .filter_map(|l| l.strip_prefix('/'))
        .filter(|l| !l.is_empty() && *l != ".")
        .flat_map(|p| {
            let other = match p.split_once('/') {
                Some(("bin" | "sbin" | "lib" | "lib32" | "lib64" | "libx32", _)) => {
                    Some(format!("usr/{p}"))
                }
                Some(("usr", rest))
                    if ["bin/", "sbin/", "lib/", "lib64/"]
                        .iter()
                        .any(|d| rest.starts_with(d)) =>
                {
                    Some(rest.to_string())
                }
                _ => None,
            };
            std::iter::once(p.to_string()).chain(other)
        })
}

/// The paths apk's installed database says its packages installed: each
/// `R:` file in the `F:` folder before it.
pub fn apk_owned(installed: &str) -> impl Iterator<Item = String> + '_ {
    let mut folder = "";
    installed.lines().filter_map(move |l| {
        if let Some(f) = l.strip_prefix("F:") {
            folder = f;
            None
        } else {
            l.strip_prefix("R:").map(|r| match folder {
                "" => r.to_string(),
                f => format!("{f}/{r}"),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_program_text() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            p
        };
        type Case<'a> = (&'a str, &'a [u8], Option<(&'a str, &'a str)>);
        let cases: &[Case] = &[
            (
                "busybox",
                b"\x00BusyBox v1.36.1 (2023)\x00",
                Some(("busybox", "1.36.1")),
            ),
            (
                "node",
                b"xx node.js/v20.20.2\x00",
                Some(("node", "20.20.2")),
            ),
            (
                "gzip",
                b"GZIP environment variable\x001.12\x00",
                Some(("gzip", "1.12")),
            ),
            // busybox's applet reached as gzip: not GNU gzip.
            ("gzip", b"BusyBox v1.35.0\x001.0\x00", None),
            (
                "libpython3.11.so.1.0",
                b"\x003.11.2\x00",
                Some(("python", "3.11.2")),
            ),
            (
                "java",
                b"openjdk\x0017.0.15+6-Debian-1deb12u1\x00",
                Some(("java/jre", "17.0.15+6-Debian-1deb12u1")),
            ),
            (
                "openssl",
                b"OpenSSL 3.0.22 25 Aug 2026",
                Some(("openssl", "3.0.22")),
            ),
            ("bash", b"no version here", None),
        ];
        for (name, body, want) in cases {
            let p = write(name, body);
            let got = read(&p, name, &format!("usr/bin/{name}")).unwrap();
            let got = got.first().map(|p| (p.name.as_str(), p.version.as_str()));
            assert_eq!(got, *want, "{name}");
        }
        assert!(known("libpython3.12.so") && !known("ls"));
        let apk: Vec<String> =
            apk_owned("P:busybox\nF:bin\nR:busybox\nR:sh\nF:etc\nR:profile\n").collect();
        assert_eq!(apk, ["bin/busybox", "bin/sh", "etc/profile"]);
        let owned: Vec<String> = dpkg_owned("/.\n/bin/bash\n/usr/bin/curl\n/etc/x\n").collect();
        assert_eq!(
            owned,
            [
                "bin/bash",
                "usr/bin/bash",
                "usr/bin/curl",
                "bin/curl",
                "etc/x"
            ]
        );
    }
}
