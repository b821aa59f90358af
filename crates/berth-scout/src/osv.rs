//! OSV records (ossf/osv-schema) and whether a package version falls in
//! what they say is affected.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::severity::{cvss_score, Severity};
use crate::version::Order;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    #[serde(default)]
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub severity: Vec<SeverityEntry>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub database_specific: Value,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeverityEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default)]
    pub package: Option<AffectedPackage>,
    #[serde(default)]
    pub severity: Vec<SeverityEntry>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub ecosystem_specific: Value,
    #[serde(default)]
    pub database_specific: Value,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AffectedPackage {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub url: String,
}

/// Where a version falls in an affected range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The first fixed version above it, when the record names one.
    pub fixed: Option<String>,
    /// The range in docker scout's words: `>=2.0.0, <2.15.0`.
    pub range: String,
}

impl Record {
    pub fn parse(json: &[u8]) -> Result<Record, String> {
        let r: Record = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        if r.id.is_empty() {
            return Err("a record without an id".into());
        }
        Ok(r)
    }

    /// The (ecosystem, package) pairs it names, each once.
    pub fn packages(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .affected
            .iter()
            .filter_map(|a| a.package.as_ref())
            .map(|p| (p.ecosystem.clone(), index_name(&p.ecosystem, &p.name)))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Whether `version` of package `name` in `ecosystem` is affected.
    pub fn hit(&self, ecosystem: &str, name: &str, version: &str) -> Option<Hit> {
        if self.withdrawn.is_some() {
            return None;
        }
        let order = Order::of_ecosystem(ecosystem)?;
        let name = index_name(ecosystem, name);
        self.affected
            .iter()
            .filter(|a| {
                a.package.as_ref().is_some_and(|p| {
                    p.ecosystem == ecosystem && index_name(&p.ecosystem, &p.name) == name
                })
            })
            .find_map(|a| a.hit(order, version))
    }

    /// The severity for the entry of `ecosystem`/`name`: a CVSS vector's
    /// score (v4 before v3), else the rating the record gives.
    pub fn severity(&self, ecosystem: &str, name: &str) -> (Severity, Option<f64>) {
        let name = index_name(ecosystem, name);
        let entry = self.affected.iter().find(|a| {
            a.package
                .as_ref()
                .is_some_and(|p| p.ecosystem == ecosystem && index_name(ecosystem, &p.name) == name)
        });
        let entries = entry
            .map(|a| a.severity.iter())
            .into_iter()
            .flatten()
            .chain(self.severity.iter());
        let mut best: Option<(u8, f64)> = None;
        let mut rated = None;
        for s in entries {
            let rank = match s.kind.as_str() {
                "CVSS_V4" => 2,
                "CVSS_V3" => 1,
                _ => {
                    rated = rated.or_else(|| Severity::parse(&s.score));
                    continue;
                }
            };
            if let Some(score) = cvss_score(&s.score) {
                if best.is_none_or(|(r, _)| rank > r) {
                    best = Some((rank, score));
                }
            }
        }
        if let Some((_, score)) = best {
            return (Severity::of_score(score), Some(score));
        }
        let text = |v: &Value| v["severity"].as_str().and_then(Severity::parse);
        let rated = rated
            .or_else(|| entry.and_then(|a| text(&a.ecosystem_specific)))
            .or_else(|| entry.and_then(|a| text(&a.database_specific)))
            .or_else(|| text(&self.database_specific));
        (rated.unwrap_or(Severity::Unspecified), None)
    }

    /// CVE ids among the aliases, or the id itself when it is one.
    pub fn cves(&self) -> Vec<String> {
        std::iter::once(&self.id)
            .chain(self.aliases.iter())
            .filter(|a| a.starts_with("CVE-"))
            .cloned()
            .collect()
    }

    /// The id users know it by: its CVE when it has exactly one.
    pub fn display_id(&self) -> String {
        match self.cves().as_slice() {
            [one] => one.clone(),
            _ => self.id.clone(),
        }
    }
}

/// The name a package is indexed by: PyPI's PEP 503 form, else as written.
pub fn index_name(ecosystem: &str, name: &str) -> String {
    if ecosystem == "PyPI" {
        crate::version::pep503(name)
    } else {
        name.to_string()
    }
}

impl Affected {
    fn hit(&self, order: Order, version: &str) -> Option<Hit> {
        let eq = |v: &String| v == version || order.compare(v, version) == Some(Ordering::Equal);
        if self.versions.iter().any(eq) {
            return Some(Hit {
                fixed: None,
                range: format!("={version}"),
            });
        }
        self.ranges
            .iter()
            .filter(|r| r.kind == "ECOSYSTEM" || r.kind == "SEMVER")
            .find_map(|r| r.hit(order, version))
    }
}

impl Range {
    /// OSV's evaluation: over the events in version order, an `introduced`
    /// at or below the version opens, a `fixed` at or below it (or a
    /// `last_affected` below it) closes; `limit`s bound the whole range.
    fn hit(&self, order: Order, version: &str) -> Option<Hit> {
        let cmp = |a: &str, b: &str| -> Option<Ordering> {
            if a == "0" {
                return Some(if b == "0" {
                    Ordering::Equal
                } else {
                    Ordering::Less
                });
            }
            if b == "0" {
                return Some(Ordering::Greater);
            }
            order.compare(a, b)
        };
        let at_or_below = |v: &str| cmp(v, version).map(|o| o != Ordering::Greater);
        let mut open: Option<&str> = None;
        let mut below: Vec<(&str, bool)> = Vec::new(); // fixed / last_affected above the version
        let mut limits = Vec::new();
        let mut events: Vec<(&str, &Event)> = self
            .events
            .iter()
            .map(|e| match e {
                Event::Introduced(v)
                | Event::Fixed(v)
                | Event::LastAffected(v)
                | Event::Limit(v) => (v.as_str(), e),
            })
            .collect();
        // Unordered versions make the range unreadable: no finding from it.
        for (v, _) in &events {
            cmp(v, version)?;
        }
        events.sort_by(|a, b| cmp(a.0, b.0).unwrap_or(Ordering::Equal));
        let mut affected = false;
        for (v, e) in events {
            match e {
                Event::Introduced(_) if at_or_below(v)? => {
                    affected = true;
                    open = Some(v);
                }
                Event::Fixed(_) if at_or_below(v)? => affected = false,
                Event::LastAffected(_) if cmp(v, version)? == Ordering::Less => affected = false,
                Event::Fixed(_) => below.push((v, true)),
                Event::LastAffected(_) => below.push((v, false)),
                Event::Limit(_) => limits.push(v),
                Event::Introduced(_) => {}
            }
        }
        if !affected
            || (!limits.is_empty()
                && !limits
                    .iter()
                    .any(|l| cmp(version, l) == Some(Ordering::Less)))
        {
            return None;
        }
        let upper = below.first().copied();
        let mut range = Vec::new();
        if let Some(lo) = open.filter(|v| *v != "0") {
            range.push(format!(">={lo}"));
        }
        match upper {
            Some((v, true)) => range.push(format!("<{v}")),
            Some((v, false)) => range.push(format!("<={v}")),
            None => {}
        }
        if range.is_empty() {
            range.push(">=0".to_string());
        }
        Some(Hit {
            fixed: upper
                .filter(|(_, fixed)| *fixed)
                .map(|(v, _)| v.to_string()),
            range: range.join(", "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(json: &str) -> Record {
        Record::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn debian_ranges_by_source_package() {
        let r = record(
            r#"{"id":"DEBIAN-CVE-2023-5678","modified":"2024-01-01T00:00:00Z","aliases":[],
            "affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},
            "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0.11-1~deb12u2"}]}]}]}"#,
        );
        let hit = r.hit("Debian:12", "openssl", "3.0.11-1~deb12u1").unwrap();
        assert_eq!(hit.fixed.as_deref(), Some("3.0.11-1~deb12u2"));
        assert_eq!(hit.range, "<3.0.11-1~deb12u2");
        assert!(r.hit("Debian:12", "openssl", "3.0.11-1~deb12u2").is_none());
        assert!(r.hit("Debian:11", "openssl", "3.0.11-1~deb12u1").is_none());
        assert_eq!(r.display_id(), "DEBIAN-CVE-2023-5678");
    }

    #[test]
    fn several_intervals_last_affected_and_limits() {
        let r = record(
            r#"{"id":"GHSA-jfh8-c2jp-5v3q","aliases":["CVE-2021-44228"],
            "affected":[{"package":{"ecosystem":"Maven","name":"org.apache.logging.log4j:log4j-core"},
            "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.13.0"},{"fixed":"2.15.0"},{"introduced":"2.0-beta9"},{"fixed":"2.12.2"}]}]},
            {"package":{"ecosystem":"PyPI","name":"Some_Thing"},
            "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"1.0"},{"last_affected":"1.4"},{"limit":"1.3"}]}],
            "versions":["0.9"]}],
            "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"}]}"#,
        );
        let m = "org.apache.logging.log4j:log4j-core";
        assert_eq!(
            r.hit("Maven", m, "2.14.1").unwrap().range,
            ">=2.13.0, <2.15.0"
        );
        assert_eq!(
            r.hit("Maven", m, "2.12.1").unwrap().fixed.as_deref(),
            Some("2.12.2")
        );
        assert!(r.hit("Maven", m, "2.12.2").is_none());
        assert!(r.hit("Maven", m, "2.15.0").is_none());
        assert!(r.hit("Maven", m, "1.2.17").is_none());
        assert!(r.hit("PyPI", "some-thing", "1.2").is_some());
        assert!(r.hit("PyPI", "some-thing", "1.3").is_none(), "limit");
        assert_eq!(r.hit("PyPI", "some.thing", "0.9").unwrap().range, "=0.9");
        assert_eq!(r.severity("Maven", m), (Severity::Critical, Some(10.0)));
        assert_eq!(r.display_id(), "CVE-2021-44228");
    }

    #[test]
    fn withdrawn_and_ratings() {
        let mut r = record(
            r#"{"id":"GHSA-x","withdrawn":"2024-01-01T00:00:00Z","database_specific":{"severity":"MODERATE"},
            "affected":[{"package":{"ecosystem":"npm","name":"lodash"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}"#,
        );
        assert!(r.hit("npm", "lodash", "4.17.20").is_none());
        r.withdrawn = None;
        assert_eq!(r.hit("npm", "lodash", "4.17.20").unwrap().range, ">=0");
        assert_eq!(r.severity("npm", "lodash"), (Severity::Medium, None));
        assert!(Record::parse(b"{\"id\":\"\"}").is_err());
    }
}
