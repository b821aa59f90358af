//! A distribution's package database in stanza form: dpkg's `status` (and
//! distroless' `status.d/` files) and apk's `installed`.

use crate::package::{Kind, Package, Source};

/// Stanzas separated by blank lines, each field `Key: value` with
/// continuation lines starting with a space.
fn stanzas(text: &str, sep: char) -> Vec<Vec<(&str, String)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(&str, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, v)) = cur.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(sep) {
            cur.push((k.trim(), v.trim().to_string()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn field<'a>(stanza: &'a [(&str, String)], key: &str) -> Option<&'a str> {
    stanza
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// dpkg's `status`: installed packages (a distroless `status.d` file has no
/// `Status` and lists what is installed), each with its source package —
/// `Source: name (version)` when the source version differs.
pub fn parse_dpkg(text: &str, path: &str, problems: &mut Vec<String>) -> Vec<Package> {
    let mut out = Vec::new();
    for s in stanzas(text, ':') {
        let Some(name) = field(&s, "Package") else {
            problems.push("a stanza without a Package field".into());
            continue;
        };
        if let Some(status) = field(&s, "Status") {
            // "install ok installed"; half-installed or removed ones are not there.
            if status.split_whitespace().nth(2) != Some("installed") {
                continue;
            }
        }
        let Some(version) = field(&s, "Version") else {
            problems.push(format!("package {name} has no Version"));
            continue;
        };
        let mut p = Package::new(Kind::Deb, name, version, path);
        p.arch = field(&s, "Architecture").map(str::to_string);
        let (src, src_version) = match field(&s, "Source") {
            Some(src) => match src.split_once(' ') {
                Some((n, v)) => (n, v.trim().trim_matches(['(', ')']).to_string()),
                None => (src, version.to_string()),
            },
            None => (name, version.to_string()),
        };
        p.source = Some(Source {
            name: src.to_string(),
            version: src_version,
        });
        out.push(p);
    }
    out
}

/// apk's `installed`: `P:` name, `V:` version, `A:` arch, `L:` licence,
/// `o:` origin (the source package Alpine's advisories name).
pub fn parse_apk(text: &str, path: &str, problems: &mut Vec<String>) -> Vec<Package> {
    let mut out = Vec::new();
    for s in stanzas(text, ':') {
        let (Some(name), Some(version)) = (field_exact(&s, "P"), field_exact(&s, "V")) else {
            problems.push("a package without P: or V:".into());
            continue;
        };
        let mut p = Package::new(Kind::Apk, name, version, path);
        p.arch = field_exact(&s, "A").map(str::to_string);
        if let Some(l) = field_exact(&s, "L") {
            p.licenses = vec![l.to_string()];
        }
        p.source = Some(Source {
            name: field_exact(&s, "o").unwrap_or(name).to_string(),
            version: version.to_string(),
        });
        out.push(p);
    }
    out
}

/// apk's keys are one case-sensitive letter (`o` is origin, `O` owner).
fn field_exact<'a>(stanza: &'a [(&str, String)], key: &str) -> Option<&'a str> {
    stanza
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_with_sources() {
        let text = "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\nDescription: x\n long text\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\nPackage: libc6\nStatus: install ok installed\nSource: glibc (2.36-9)\nVersion: 2.36-9+deb12u4\n\nPackage: broken\nStatus: install ok installed\n";
        let mut problems = Vec::new();
        let p = parse_dpkg(text, "var/lib/dpkg/status", &mut problems);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].source.as_ref().unwrap().name, "openssl");
        assert_eq!(p[0].source.as_ref().unwrap().version, "3.0.11-1~deb12u2");
        assert_eq!(p[1].source.as_ref().unwrap().version, "2.36-9");
        assert_eq!(p[1].version, "2.36-9+deb12u4");
        assert_eq!(problems, vec!["package broken has no Version".to_string()]);
    }

    #[test]
    fn apk_installed() {
        let text = "C:Q1abc=\nP:libcrypto3\nV:3.3.2-r0\nA:x86_64\nL:Apache-2.0\no:openssl\n\nP:busybox\nV:1.36.1-r29\n";
        let mut problems = Vec::new();
        let p = parse_apk(text, "lib/apk/db/installed", &mut problems);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].source.as_ref().unwrap().name, "openssl");
        assert_eq!(p[0].licenses, vec!["Apache-2.0"]);
        assert_eq!(p[1].source.as_ref().unwrap().name, "busybox");
        assert!(problems.is_empty());
    }
}
