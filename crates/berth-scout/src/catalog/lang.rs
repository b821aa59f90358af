//! Language packages described by metadata files: Python's
//! `*.dist-info/METADATA` and `*.egg-info` (wherever they are: site- and
//! dist-packages, venvs), npm's `node_modules/**/package.json`.

use crate::package::{Kind, Package};

/// A core-metadata file (RFC 822 headers before the description).
pub fn parse_metadata(text: &str, path: &str) -> Result<Vec<Package>, String> {
    let mut name = None;
    let mut version = None;
    let mut licenses = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break; // the description follows
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k {
            "Name" => name = Some(v.to_string()),
            "Version" => version = Some(v.to_string()),
            "License-Expression" => licenses.insert(0, v.to_string()),
            // Some projects put the whole licence text here: keep a name only.
            "License" if !v.is_empty() && v.len() <= 80 && v != "UNKNOWN" => {
                licenses.push(v.to_string())
            }
            "Classifier" => {
                if let Some(l) = v.strip_prefix("License :: ") {
                    let l = l.rsplit(" :: ").next().unwrap_or(l);
                    licenses.push(l.to_string());
                }
            }
            _ => {}
        }
    }
    match (name, version) {
        (Some(n), Some(v)) => {
            let mut p = Package::new(Kind::Pypi, &n, &v, path);
            licenses.dedup();
            p.licenses = licenses;
            Ok(vec![p])
        }
        _ => Err("Python metadata without Name or Version".into()),
    }
}

/// A package's own `package.json` directly under `node_modules`
/// (`node_modules/x/` or `node_modules/@scope/x/`), not one of its files.
pub fn is_node_module(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let n = parts.len();
    (n >= 3 && parts[n - 3] == "node_modules")
        || (n >= 4 && parts[n - 4] == "node_modules" && parts[n - 3].starts_with('@'))
}

pub fn parse_package_json(text: &str, path: &str) -> Result<Vec<Package>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("package.json does not parse: {e}"))?;
    let (Some(name), Some(version)) = (v["name"].as_str(), v["version"].as_str()) else {
        // Some packages ship a package.json only to mark a module type.
        return Ok(Vec::new());
    };
    let mut p = Package::new(Kind::Npm, name, version, path);
    let licence = |l: &serde_json::Value| {
        l.as_str()
            .map(str::to_string)
            .or_else(|| l["type"].as_str().map(str::to_string))
    };
    p.licenses = match (&v["license"], v["licenses"].as_array()) {
        (l, _) if !l.is_null() => licence(l).into_iter().collect(),
        (_, Some(list)) => list.iter().filter_map(licence).collect(),
        _ => Vec::new(),
    };
    Ok(vec![p])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_metadata() {
        let text = "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\nClassifier: License :: OSI Approved :: Apache Software License\n\nDescription: Name: not this\n";
        let p = parse_metadata(text, "x/METADATA").unwrap();
        assert_eq!(p[0].name, "requests");
        assert_eq!(p[0].version, "2.31.0");
        assert_eq!(p[0].licenses, vec!["Apache 2.0", "Apache Software License"]);
        assert!(parse_metadata("Metadata-Version: 2.1\n", "x").is_err());
    }

    #[test]
    fn node_modules() {
        assert!(is_node_module("app/node_modules/lodash/package.json"));
        assert!(is_node_module("node_modules/@babel/core/package.json"));
        assert!(!is_node_module("app/node_modules/lodash/fp/package.json"));
        assert!(!is_node_module("app/package.json"));
        let p = parse_package_json(
            r#"{"name":"lodash","version":"4.17.20","license":"MIT"}"#,
            "node_modules/lodash/package.json",
        )
        .unwrap();
        assert_eq!(p[0].licenses, vec!["MIT"]);
        assert!(parse_package_json("{", "x").is_err());
        assert!(parse_package_json(r#"{"type":"module"}"#, "x")
            .unwrap()
            .is_empty());
    }
}
