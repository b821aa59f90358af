//! Package catalogues: one layer's file tree in, the packages it installs
//! (and what it deletes of the layers below) out; then the squash of an
//! image's layers into what the image holds.
//!
//! A layer tree is in overlayfs' form, as the store keeps snapshots: a
//! deleted path is a 0/0 character device, a directory that hides what is
//! below it has `trusted.overlay.opaque=y`.

mod binary;
mod classify;
mod distro;
mod java;
mod lang;
mod rpm;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::package::{OsRelease, Package};
use crate::tree::Whiteouts;

/// Bumped whenever a catalogue would come out differently, so that cached
/// ones are made again.
pub const CATALOGUE_VERSION: u32 = 3;

/// What one layer holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LayerCatalogue {
    /// `os-release` files in this layer, by path.
    #[serde(default)]
    pub os: Vec<(String, OsRelease)>,
    /// Package databases and metadata files, each with what it lists.
    #[serde(default)]
    pub found: Vec<Found>,
    #[serde(default)]
    pub whiteouts: Whiteouts,
    /// What could not be read, each naming its file.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Paths of known programs (see `classify`) that this layer's dpkg
    /// file lists and apk database say a package installed.
    #[serde(default)]
    pub owned: std::collections::BTreeSet<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Found {
    pub path: String,
    pub packages: Vec<Package>,
}

/// An image's packages after its layers are stacked.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Inventory {
    pub os: Option<OsRelease>,
    pub packages: Vec<Package>,
    pub warnings: Vec<String>,
}

/// Catalogues the tree at `root` (one layer, or a whole filesystem).
pub fn catalogue_tree(root: &Path) -> LayerCatalogue {
    let mut cat = LayerCatalogue::default();
    let (whiteouts, problems) = crate::tree::walk(root, &mut |path, relpath, meta| {
        visit_file(path, relpath, meta, &mut cat)
    });
    cat.whiteouts = whiteouts;
    cat.warnings.extend(problems);
    cat.found.sort_by(|a, b| a.path.cmp(&b.path));
    cat
}

/// What a file is to a catalogue, by its path (and, for programs, its
/// mode and size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    OsRelease,
    Dpkg,
    Apk,
    Rpm,
    OldRpm,
    Python,
    Npm,
    Java,
    DpkgList,
    Classified,
    Binary,
}

fn route(relpath: &str, mode: u32, size: u64) -> Option<Route> {
    let (parent, name) = relpath.rsplit_once('/').unwrap_or(("", relpath));
    Some(match (relpath, name) {
        ("etc/os-release" | "usr/lib/os-release", _) => Route::OsRelease,
        ("var/lib/dpkg/status", _) => Route::Dpkg,
        (_, n) if parent == "var/lib/dpkg/status.d" && !n.ends_with(".md5sums") => Route::Dpkg,
        ("lib/apk/db/installed", _) => Route::Apk,
        ("var/lib/rpm/rpmdb.sqlite" | "usr/lib/sysimage/rpm/rpmdb.sqlite", _) => Route::Rpm,
        ("var/lib/rpm/Packages" | "var/lib/rpm/Packages.db", _) => Route::OldRpm,
        (_, "METADATA") if parent.ends_with(".dist-info") => Route::Python,
        (_, "PKG-INFO") if parent.ends_with(".egg-info") => Route::Python,
        (_, n) if n.ends_with(".egg-info") => Route::Python,
        (_, "package.json") if lang::is_node_module(relpath) => Route::Npm,
        (_, n) if n.ends_with(".jar") || n.ends_with(".war") || n.ends_with(".ear") => Route::Java,
        (_, n) if parent == "var/lib/dpkg/info" && n.ends_with(".list") => Route::DpkgList,
        (_, n) if classify::known(n) => Route::Classified,
        _ if binary::worth_reading(name, mode, size) => Route::Binary,
        _ => return None,
    })
}

/// Whether a catalogue reads the file at `relpath` (so an archive's layer
/// need only unpack those).
pub fn wanted(relpath: &str, mode: u32, size: u64) -> bool {
    route(relpath, mode, size).is_some()
}

/// Reads one file when its path or content says it lists packages.
fn visit_file(path: &Path, relpath: &str, meta: &std::fs::Metadata, cat: &mut LayerCatalogue) {
    use std::os::unix::fs::PermissionsExt;
    let Some(route) = route(relpath, meta.permissions().mode(), meta.len()) else {
        return;
    };
    let mut problems = Vec::new();
    let result: Result<Vec<Package>, String> = match route {
        Route::OsRelease => {
            if let Some(os) = read_text(path).ok().as_deref().and_then(OsRelease::parse) {
                cat.os.push((relpath.to_string(), os));
            }
            return;
        }
        Route::Dpkg => read_text(path).map(|t| distro::parse_dpkg(&t, relpath, &mut problems)),
        Route::Apk => read_text(path).map(|t| {
            cat.owned
                .extend(classify::apk_owned(&t).filter(|p| classify::known_path(p)));
            distro::parse_apk(&t, relpath, &mut problems)
        }),
        Route::Rpm => rpm::read_sqlite(path, relpath),
        Route::OldRpm => Err(
            "an rpm database in BerkeleyDB or NDB form: only rpmdb.sqlite (rpm 4.16 and later) is read"
                .to_string(),
        ),
        Route::Python => read_text(path).and_then(|t| lang::parse_metadata(&t, relpath)),
        Route::Npm => read_text(path).and_then(|t| lang::parse_package_json(&t, relpath)),
        Route::Java => java::read_archive(path, relpath),
        Route::DpkgList => {
            if let Ok(list) = read_text(path) {
                cat.owned
                    .extend(classify::dpkg_owned(&list).filter(|p| classify::known_path(p)));
            }
            return;
        }
        Route::Classified => {
            let name = relpath.rsplit('/').next().unwrap_or(relpath);
            classify::read(path, name, relpath)
        }
        Route::Binary => binary::read(path, relpath),
    };
    cat.warnings
        .extend(problems.into_iter().map(|p| format!("{relpath}: {p}")));
    match result {
        Ok(packages) if packages.is_empty() => {}
        Ok(packages) => cat.found.push(Found {
            path: relpath.to_string(),
            packages,
        }),
        Err(e) => cat.warnings.push(format!("{relpath}: {e}")),
    }
}

/// A metadata file, read as text (lossily: a stray byte never hides the
/// rest); very large ones are refused, as no real one is.
fn read_text(path: &Path) -> Result<String, String> {
    const LIMIT: u64 = 256 << 20;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > LIMIT {
        return Err(format!(
            "{} bytes is too large for what it should be",
            meta.len()
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Stacks the layers (bottom first, each with its diff id): what a layer
/// deletes or hides is gone, a file a later layer rewrites replaces the
/// earlier one, and each package keeps the layer that first had it.
pub fn squash(layers: &[(String, LayerCatalogue)]) -> Inventory {
    let mut files: BTreeMap<String, Vec<Package>> = BTreeMap::new();
    let mut os: BTreeMap<String, OsRelease> = BTreeMap::new();
    let mut warnings = Vec::new();
    for (diff_id, layer) in layers {
        files.retain(|p, _| !layer.whiteouts.removes(p));
        os.retain(|p, _| !layer.whiteouts.removes(p));
        for found in &layer.found {
            let before = files.remove(&found.path).unwrap_or_default();
            let packages = found
                .packages
                .iter()
                .map(|p| {
                    let mut p = p.clone();
                    p.layer = before
                        .iter()
                        .find(|b| b.kind == p.kind && b.name == p.name && b.version == p.version)
                        .map(|b| b.layer.clone())
                        .unwrap_or_else(|| diff_id.clone());
                    p
                })
                .collect();
            files.insert(found.path.clone(), packages);
        }
        for (p, o) in &layer.os {
            os.insert(p.clone(), o.clone());
        }
        warnings.extend(layer.warnings.iter().cloned());
    }
    let os = os
        .get("etc/os-release")
        .or_else(|| os.get("usr/lib/os-release"))
        .cloned();
    // A known program that a distribution package installed is that
    // package's, not a `binary` of its own (syft's rule too).
    let owned: std::collections::BTreeSet<&String> =
        layers.iter().flat_map(|(_, l)| &l.owned).collect();
    let mut packages: Vec<Package> = files
        .into_values()
        .flatten()
        .filter(|p| p.kind != crate::package::Kind::Binary || !owned.contains(&p.path))
        .collect();
    packages.sort_by(|a, b| {
        (a.kind, &a.name, &a.version, &a.path).cmp(&(b.kind, &b.name, &b.version, &b.path))
    });
    Inventory {
        os,
        packages,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::Kind;

    fn layer(found: &[(&str, &str, &str)], deleted: &[&str], opaque: &[&str]) -> LayerCatalogue {
        LayerCatalogue {
            found: found
                .iter()
                .map(|(path, name, version)| Found {
                    path: path.to_string(),
                    packages: vec![Package::new(Kind::Pypi, name, version, path)],
                })
                .collect(),
            whiteouts: Whiteouts {
                deleted: deleted.iter().map(|s| s.to_string()).collect(),
                opaque: opaque.iter().map(|s| s.to_string()).collect(),
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_known_program_a_package_installed_is_the_packages() {
        let dir = tempfile::tempdir().unwrap();
        let put = |rel: &str, body: &[u8]| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        };
        put("usr/bin/bash", b"@(#)Bash version 5.2.15(1) release");
        put("usr/bin/curl", b"curl/7.88.1");
        let programs = catalogue_tree(dir.path());
        // Debian lists /bin/bash; with a merged /usr the file is usr/bin/bash.
        let lists = tempfile::tempdir().unwrap();
        let list = lists.path().join("var/lib/dpkg/info/bash.list");
        std::fs::create_dir_all(list.parent().unwrap()).unwrap();
        std::fs::write(
            &list,
            "/.\n/bin\n/bin/bash\n/usr/share/doc/bash/copyright\n",
        )
        .unwrap();
        let dpkg = catalogue_tree(lists.path());
        let owned: Vec<&str> = dpkg.owned.iter().map(String::as_str).collect();
        assert_eq!(owned, ["bin/bash", "usr/bin/bash"], "known programs only");
        let inv = squash(&[("l1".into(), programs), ("l2".into(), dpkg)]);
        let names: Vec<&str> = inv.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["curl"]);
        assert_eq!(inv.packages[0].purl(None), "pkg:generic/curl@7.88.1");
    }

    #[test]
    fn squash_follows_whiteouts_and_keeps_the_first_layer() {
        let layers = vec![
            (
                "l1".to_string(),
                layer(
                    &[
                        ("a/x.dist-info/METADATA", "x", "1"),
                        ("b/y.dist-info/METADATA", "y", "1"),
                        ("c/z.dist-info/METADATA", "z", "1"),
                    ],
                    &[],
                    &[],
                ),
            ),
            (
                "l2".to_string(),
                layer(
                    &[
                        ("a/x.dist-info/METADATA", "x", "1"),
                        ("c/w.dist-info/METADATA", "w", "2"),
                    ],
                    &["b/y.dist-info"],
                    &["c"],
                ),
            ),
        ];
        let inv = squash(&layers);
        let got: Vec<(&str, &str)> = inv
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.layer.as_str()))
            .collect();
        assert_eq!(got, vec![("w", "l2"), ("x", "l1")]);
    }

    #[test]
    fn a_tree_of_distroless_and_rpm_databases() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let put = |rel: &str, data: &[u8]| {
            let p = root.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, data).unwrap();
        };
        put("etc/os-release", b"ID=debian\nVERSION_ID=12\n");
        put("usr/lib/os-release", b"ID=other\n");
        put(
            "var/lib/dpkg/status.d/libssl3",
            b"Package: libssl3\nVersion: 3.0.15-1~deb12u1\nArchitecture: amd64\nSource: openssl\n",
        );
        put(
            "var/lib/dpkg/status.d/libssl3.md5sums",
            b"d41d8cd98f00b204e9800998ecf8427e  usr/lib/x\n",
        );
        let db = root.join("var/lib/rpm/rpmdb.sqlite");
        std::fs::create_dir_all(db.parent().unwrap()).unwrap();
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL)")
            .unwrap();
        let h = rpm::tests::header(&[(1000, "bash"), (1001, "5.1.8"), (1002, "9.el9")], None);
        conn.execute("INSERT INTO Packages (blob) VALUES (?1)", [&h])
            .unwrap();
        drop(conn);
        let cat = catalogue_tree(root);
        let inv = squash(&[("l1".to_string(), cat)]);
        assert_eq!(inv.os.unwrap().id, "debian", "etc/os-release wins");
        let got: Vec<(String, String, String)> = inv
            .packages
            .iter()
            .map(|p| (p.kind.to_string(), p.name.clone(), p.path.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "deb".into(),
                    "libssl3".into(),
                    "var/lib/dpkg/status.d/libssl3".into()
                ),
                (
                    "rpm".into(),
                    "bash".into(),
                    "var/lib/rpm/rpmdb.sqlite".into()
                ),
            ]
        );
        assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    }
}
