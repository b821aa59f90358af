//! An image's packages as an SBOM: berth's list and JSON, SPDX 2.3 JSON and
//! CycloneDX 1.6 JSON.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::catalog::Inventory;
use crate::package::Package;

/// What was scanned, as the reports name it.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// The name the user gave (`busybox:latest`, `archive://x.tar`).
    pub name: String,
    /// The image id, where there is one.
    pub digest: Option<String>,
    pub platform: Option<String>,
    pub size: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbomFormat {
    List,
    Json,
    Spdx,
    CycloneDx,
}

impl SbomFormat {
    pub fn parse(s: &str) -> Option<SbomFormat> {
        Some(match s {
            "list" => SbomFormat::List,
            "json" => SbomFormat::Json,
            "spdx" | "spdx-json" => SbomFormat::Spdx,
            "cyclonedx" | "cyclonedx-json" => SbomFormat::CycloneDx,
            _ => return None,
        })
    }
}

pub fn render(format: SbomFormat, target: &Target, inv: &Inventory) -> String {
    match format {
        SbomFormat::List => list(inv),
        SbomFormat::Json => pretty(&berth_json(target, inv)),
        SbomFormat::Spdx => pretty(&spdx(target, inv)),
        SbomFormat::CycloneDx => pretty(&cyclonedx(target, inv)),
    }
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// A table as docker's: NAME, VERSION, TYPE, aligned.
fn list(inv: &Inventory) -> String {
    let rows: Vec<[String; 3]> = inv
        .packages
        .iter()
        .map(|p| [p.name.clone(), p.version.clone(), p.kind.to_string()])
        .collect();
    crate::report::table(&["NAME", "VERSION", "TYPE"], &rows)
}

fn berth_json(target: &Target, inv: &Inventory) -> Value {
    let os = inv.os.as_ref();
    json!({
        "target": target.name,
        "digest": target.digest,
        "os": os.map(|o| json!({"id": o.id, "version_id": o.version_id, "name": o.name()})),
        "packages": inv.packages.iter().map(|p| {
            let mut v = serde_json::to_value(p).unwrap_or_default();
            v["purl"] = json!(p.purl(os));
            v
        }).collect::<Vec<_>>(),
    })
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A UUID (version 4 form) derived from what the document is about and
/// when, so that two documents never share one.
fn uuid(seed: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let h = Sha256::digest(format!("{seed} {nanos} {}", std::process::id()));
    let mut b: [u8; 16] = h[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

/// A licence as an SPDX expression when it reads as one, else NOASSERTION
/// (SPDX readers reject free text there).
fn spdx_licence(p: &Package) -> String {
    // Identifiers joined by AND / OR / WITH: `MIT`, `(Apache-2.0 OR MIT)`.
    let valid = |l: &str| {
        let words: Vec<&str> = l
            .split_whitespace()
            .map(|w| w.trim_matches(['(', ')']))
            .collect();
        !words.is_empty()
            && words.iter().enumerate().all(|(i, w)| {
                if i % 2 == 1 {
                    matches!(*w, "AND" | "OR" | "WITH")
                } else {
                    !w.is_empty()
                        && w.chars().any(|c| c.is_ascii_alphabetic())
                        && w.chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
                }
            })
            && words.len() % 2 == 1
    };
    match p.licenses.first() {
        Some(l) if valid(l) => l.clone(),
        _ => "NOASSERTION".into(),
    }
}

fn spdx_id(i: usize, p: &Package) -> String {
    let clean: String = p
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-Package-{}-{i}-{clean}", p.kind)
}

fn spdx(target: &Target, inv: &Inventory) -> Value {
    let os = inv.os.as_ref();
    let root = "SPDXRef-DocumentRoot-Image";
    let mut packages = vec![json!({
        "SPDXID": root,
        "name": target.name,
        "versionInfo": target.digest.clone().unwrap_or_else(|| "NOASSERTION".into()),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "CONTAINER",
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": root,
    })];
    for (i, p) in inv.packages.iter().enumerate() {
        let id = spdx_id(i, p);
        packages.push(json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": spdx_licence(p),
            "copyrightText": "NOASSERTION",
            "sourceInfo": format!("found in {} (layer {})", p.path, p.layer),
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl(os),
            }],
        }));
        relationships.push(json!({
            "spdxElementId": root,
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    let name = if target.name.is_empty() {
        "image"
    } else {
        &target.name
    };
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!("https://berth.dev/spdx/{}", uuid(name)),
        "creationInfo": {
            "created": now(),
            "creators": [format!("Tool: berth-{}", env!("CARGO_PKG_VERSION"))],
        },
        "packages": packages,
        "relationships": relationships,
    })
}

fn cyclonedx(target: &Target, inv: &Inventory) -> Value {
    let os = inv.os.as_ref();
    let components: Vec<Value> = inv
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let purl = p.purl(os);
            let mut c = json!({
                "type": "library",
                "bom-ref": format!("{purl}#{i}"),
                "name": p.name,
                "version": p.version,
                "purl": purl,
                "properties": [
                    {"name": "berth:package:type", "value": p.kind.as_str()},
                    {"name": "berth:location:path", "value": p.path},
                    {"name": "berth:location:layer", "value": p.layer},
                ],
            });
            if let Some(ns) = &p.namespace {
                c["group"] = json!(ns);
            }
            if !p.licenses.is_empty() {
                c["licenses"] = json!(p
                    .licenses
                    .iter()
                    .map(|l| json!({"license": {"name": l}}))
                    .collect::<Vec<_>>());
            }
            c
        })
        .collect();
    let mut root = json!({
        "type": "container",
        "bom-ref": "image",
        "name": target.name,
    });
    if let Some(d) = &target.digest {
        root["version"] = json!(d);
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", uuid(&target.name)),
        "version": 1,
        "metadata": {
            "timestamp": now(),
            "tools": {"components": [{"type": "application", "name": "berth", "version": env!("CARGO_PKG_VERSION")}]},
            "component": root,
        },
        "components": components,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::{Kind, OsRelease};

    fn inventory() -> Inventory {
        let mut p = Package::new(Kind::Pypi, "requests", "2.31.0", "x/METADATA");
        p.licenses = vec!["Apache-2.0".into()];
        let mut q = Package::new(Kind::Deb, "libc6", "2.36-9", "var/lib/dpkg/status");
        q.licenses = vec!["GNU General Public License".into()];
        Inventory {
            os: OsRelease::parse("ID=debian\nVERSION_ID=12\n"),
            packages: vec![p, q],
            warnings: vec![],
        }
    }

    #[test]
    fn spdx_and_cyclonedx_shapes() {
        let t = Target {
            name: "app:latest".into(),
            digest: Some("sha256:abc".into()),
            ..Default::default()
        };
        let s = spdx(&t, &inventory());
        assert_eq!(s["spdxVersion"], "SPDX-2.3");
        assert_eq!(s["packages"].as_array().unwrap().len(), 3);
        assert_eq!(s["packages"][1]["licenseDeclared"], "Apache-2.0");
        assert_eq!(s["packages"][2]["licenseDeclared"], "NOASSERTION");
        assert_eq!(
            s["packages"][2]["externalRefs"][0]["referenceLocator"],
            "pkg:deb/debian/libc6@2.36-9?distro=debian-12"
        );
        let c = cyclonedx(&t, &inventory());
        assert_eq!(c["specVersion"], "1.6");
        assert_eq!(c["components"][0]["purl"], "pkg:pypi/requests@2.31.0");
        assert_ne!(uuid("a"), uuid("a"));
        let l = list(&inventory());
        assert!(
            l.starts_with("NAME       VERSION   TYPE\nrequests   2.31.0    pypi\n"),
            "{l}"
        );
    }
}
