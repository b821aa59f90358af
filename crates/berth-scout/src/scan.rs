//! Matching: an image's packages against the records of their ecosystem,
//! in that ecosystem's version order.

use std::collections::HashMap;

use serde::Serialize;

use crate::catalog::Inventory;
use crate::db::{Db, DbError};
use crate::osv::Record;
use crate::package::{Kind, OsRelease, Package};
use crate::severity::Severity;

/// One vulnerability in one package.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The record's own id (`GHSA-…`, `DSA-…`, `PYSEC-…`).
    pub id: String,
    /// The id users know it by (its CVE where it has one).
    pub name: String,
    pub aliases: Vec<String>,
    pub summary: String,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    pub affected_range: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    pub ecosystem: String,
    pub package: Package,
    pub purl: String,
    pub url: String,
}

/// The OSV ecosystem a package's advisories are filed under.
pub fn ecosystem_of(kind: Kind, os: Option<&OsRelease>) -> Option<String> {
    Some(match kind {
        Kind::Deb | Kind::Apk | Kind::Rpm => return os.and_then(OsRelease::ecosystem),
        Kind::Pypi => "PyPI".into(),
        Kind::Npm => "npm".into(),
        Kind::Golang => "Go".into(),
        Kind::Cargo => "crates.io".into(),
        Kind::Maven => "Maven".into(),
        // OSV has no ecosystem for programs outside a package manager.
        Kind::Binary => return None,
    })
}

/// Every (package, record) pair where the package's version is affected,
/// worst first. Warnings say what could not be matched at all.
pub fn vulnerabilities(db: &Db, inv: &Inventory) -> Result<(Vec<Finding>, Vec<String>), DbError> {
    let mut findings = Vec::new();
    let mut warnings = Vec::new();
    let mut records: HashMap<(String, String), Vec<Record>> = HashMap::new();
    let os = inv.os.as_ref();
    if inv.packages.iter().any(|p| p.kind.is_os()) && os.and_then(OsRelease::ecosystem).is_none() {
        warnings.push(match os {
            Some(os) => format!(
                "no advisory ecosystem is known for {}: its {} packages were not matched",
                os.name(),
                inv.packages.iter().filter(|p| p.kind.is_os()).count()
            ),
            None => {
                "the image has distribution packages but no /etc/os-release: they were not matched"
                    .into()
            }
        });
    }
    for p in &inv.packages {
        let Some(eco) = ecosystem_of(p.kind, os) else {
            continue;
        };
        let version = p.advisory_version();
        if version.is_empty() || version == "(devel)" {
            continue;
        }
        let name = p.advisory_name();
        let key = (eco.clone(), name.clone());
        if !records.contains_key(&key) {
            let found = db.records_for(&eco, &name)?;
            records.insert(key.clone(), found);
        }
        for r in &records[&key] {
            let Some(hit) = r.hit(&eco, &name, version) else {
                continue;
            };
            let (severity, score) = r.severity(&eco, &name);
            let display = r.display_id();
            findings.push(Finding {
                id: r.id.clone(),
                url: advisory_url(&r.id),
                name: display,
                aliases: r.aliases.clone(),
                summary: r
                    .summary
                    .clone()
                    .or_else(|| r.details.as_ref().map(|d| first_line(d)))
                    .unwrap_or_default(),
                severity,
                score,
                affected_range: hit.range,
                fixed_version: hit.fixed,
                ecosystem: eco.clone(),
                purl: p.purl(os),
                package: p.clone(),
            });
        }
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0)))
            .then_with(|| a.package.name.cmp(&b.package.name))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok((findings, warnings))
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > 120 {
        let cut: String = line.chars().take(117).collect();
        format!("{cut}...")
    } else {
        line.to_string()
    }
}

/// Where a record can be read (osv.dev's page for it).
pub fn advisory_url(id: &str) -> String {
    format!("https://osv.dev/vulnerability/{id}")
}
