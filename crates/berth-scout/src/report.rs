//! What `scout cves` and `scout quickview` print: docker scout's package
//! view, JSON, SARIF 2.1.0 and Markdown; its filters and OpenVEX
//! suppressions.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::package::Kind;
use crate::sbom::Target;
use crate::scan::Finding;
use crate::secrets::Secret;
use crate::severity::Severity;

/// A table aligned as docker's: columns three spaces apart.
pub fn table(header: &[&str], rows: &[[String; 3]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let n = cells.len();
        for (i, c) in cells.into_iter().enumerate() {
            out.push_str(c);
            if i + 1 < n {
                out.push_str(&" ".repeat(widths[i] - c.chars().count() + 3));
            }
        }
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// docker scout's `--only-*` filters.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub severities: Vec<Severity>,
    pub only_fixed: bool,
    pub only_unfixed: bool,
    pub kinds: Vec<Kind>,
}

impl Filter {
    pub fn keeps(&self, f: &Finding) -> bool {
        (self.severities.is_empty() || self.severities.contains(&f.severity))
            && (!self.only_fixed || f.fixed_version.is_some())
            && (!self.only_unfixed || f.fixed_version.is_none())
            && (self.kinds.is_empty() || self.kinds.contains(&f.package.kind))
    }
}

/// OpenVEX statements that say a vulnerability does not affect a product.
#[derive(Clone, Debug, Default)]
pub struct Vex {
    statements: Vec<Statement>,
}

#[derive(Clone, Debug)]
struct Statement {
    names: Vec<String>,
    /// Product ids, each with its subcomponents' ids.
    products: Vec<(String, Vec<String>)>,
}

impl Vex {
    /// An OpenVEX document (v0.2.0, and the earlier form where
    /// `vulnerability` and `products` are plain strings).
    pub fn parse(text: &str) -> Result<Vex, String> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| format!("not an OpenVEX document: {e}"))?;
        let Some(statements) = doc["statements"].as_array() else {
            return Err("not an OpenVEX document: it has no \"statements\"".into());
        };
        let id = |v: &Value| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| v["@id"].as_str().map(str::to_string))
        };
        let mut out = Vec::new();
        for s in statements {
            if !matches!(s["status"].as_str(), Some("not_affected" | "fixed")) {
                continue;
            }
            let v = &s["vulnerability"];
            let mut names: Vec<String> = v
                .as_str()
                .or_else(|| v["name"].as_str())
                .or_else(|| v["@id"].as_str())
                .map(str::to_string)
                .into_iter()
                .collect();
            if let Some(aliases) = v["aliases"].as_array() {
                names.extend(
                    aliases
                        .iter()
                        .filter_map(|a| a.as_str().map(str::to_string)),
                );
            }
            let products = s["products"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| {
                            let subs = p["subcomponents"]
                                .as_array()
                                .map(|s| s.iter().filter_map(id).collect())
                                .unwrap_or_default();
                            Some((id(p)?, subs))
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push(Statement { names, products });
        }
        Ok(Vex { statements: out })
    }

    /// Whether a statement covers this finding in the image known by
    /// `image_ids` (its names and digests).
    pub fn suppresses(&self, f: &Finding, image_ids: &[String]) -> bool {
        let purl = strip_qualifiers(&f.purl);
        let is_package = |id: &str| {
            let id = strip_qualifiers(id);
            id == purl || (!id.contains('@') && purl.split('@').next() == Some(id))
        };
        let is_image = |id: &str| {
            image_ids
                .iter()
                .any(|i| !i.is_empty() && id.contains(i.as_str()))
        };
        self.statements.iter().any(|s| {
            let named = s
                .names
                .iter()
                .any(|n| *n == f.id || *n == f.name || f.aliases.contains(n));
            named
                && (s.products.is_empty()
                    || s.products.iter().any(|(p, subs)| {
                        is_package(p)
                            || (is_image(p)
                                && (subs.is_empty() || subs.iter().any(|s| is_package(s))))
                    }))
        })
    }
}

fn strip_qualifiers(purl: &str) -> &str {
    purl.split(['?', '#']).next().unwrap_or(purl)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CvesFormat {
    Packages,
    Json,
    Sarif,
    Markdown,
}

impl CvesFormat {
    pub fn parse(s: &str) -> Option<CvesFormat> {
        Some(match s {
            "packages" => CvesFormat::Packages,
            "json" => CvesFormat::Json,
            "sarif" => CvesFormat::Sarif,
            "markdown" => CvesFormat::Markdown,
            _ => return None,
        })
    }
}

/// Counts by severity, worst first: `1C 2H 0M 0L` (and `?` unspecified).
pub fn counts<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> BTreeMap<Severity, usize> {
    let mut c: BTreeMap<Severity, usize> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
    for f in findings {
        *c.entry(f.severity).or_default() += 1;
    }
    c
}

pub fn counts_line<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> String {
    let c = counts(findings);
    let mut s = format!(
        "{:>4}C {:>5}H {:>5}M {:>5}L",
        c[&Severity::Critical],
        c[&Severity::High],
        c[&Severity::Medium],
        c[&Severity::Low]
    );
    if c[&Severity::Unspecified] > 0 {
        s.push_str(&format!(" {:>5}?", c[&Severity::Unspecified]));
    }
    s
}

pub fn render_cves(
    format: CvesFormat,
    target: &Target,
    packages: usize,
    findings: &[Finding],
) -> String {
    match format {
        CvesFormat::Packages => packages_view(target, packages, findings),
        CvesFormat::Json => {
            let v = json!({
                "target": target.name,
                "digest": target.digest,
                "packages": packages,
                "counts": counts(findings).iter().map(|(k, v)| (k.as_str().to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
                "vulnerabilities": findings,
            });
            serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
        }
        CvesFormat::Sarif => {
            serde_json::to_string_pretty(&sarif(target, findings)).unwrap_or_default() + "\n"
        }
        CvesFormat::Markdown => markdown(target, findings),
    }
}

fn vulnerable_packages(findings: &[Finding]) -> Vec<(String, Vec<&Finding>)> {
    let mut by: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by.entry(f.purl.clone()).or_default().push(f);
    }
    let mut v: Vec<(String, Vec<&Finding>)> = by.into_iter().collect();
    v.sort_by(|a, b| {
        let worst = |fs: &Vec<&Finding>| fs.iter().map(|f| f.severity).max();
        worst(&b.1).cmp(&worst(&a.1)).then_with(|| a.0.cmp(&b.0))
    });
    v
}

/// docker scout's default view: an overview, then each vulnerable package
/// with its vulnerabilities.
fn packages_view(target: &Target, packages: usize, findings: &[Finding]) -> String {
    let by = vulnerable_packages(findings);
    let mut s = String::new();
    s.push_str(&format!("    ✓ Indexed {packages} packages\n"));
    if findings.is_empty() {
        s.push_str("    ✓ No vulnerable package detected\n");
    } else {
        s.push_str(&format!(
            "    ✗ Detected {} vulnerable package{} with a total of {} vulnerabilit{}\n",
            by.len(),
            if by.len() == 1 { "" } else { "s" },
            findings.len(),
            if findings.len() == 1 { "y" } else { "ies" },
        ));
    }
    s.push_str("\n## Overview\n\n");
    s.push_str(&format!("  Target            │  {}\n", target.name));
    if let Some(d) = &target.digest {
        s.push_str(&format!("    digest          │  {d}\n"));
    }
    if let Some(p) = &target.platform {
        s.push_str(&format!("    platform        │  {p}\n"));
    }
    s.push_str(&format!(
        "    vulnerabilities │ {}\n",
        counts_line(findings)
    ));
    if let Some(size) = target.size {
        s.push_str(&format!("    size            │  {}\n", human_size(size)));
    }
    s.push_str(&format!("    packages        │  {packages}\n"));
    if by.is_empty() {
        return s;
    }
    s.push_str("\n## Packages and Vulnerabilities\n");
    for (purl, fs) in by {
        let p = &fs[0].package;
        s.push_str(&format!(
            "\n{}  {} {}\n{purl}\n",
            counts_line(fs.iter().copied()),
            p.name,
            p.version
        ));
        for f in fs {
            s.push_str(&format!(
                "\n    ✗ {} {}\n      {}\n      Affected range : {}\n      Fixed version  : {}\n",
                f.severity.as_str().to_ascii_uppercase(),
                f.name,
                f.url,
                f.affected_range,
                f.fixed_version.as_deref().unwrap_or("not fixed"),
            ));
            if let Some(score) = f.score {
                s.push_str(&format!("      CVSS Score     : {score:.1}\n"));
            }
        }
    }
    s
}

fn human_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.0} {}", units[i])
    }
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        _ => "note",
    }
}

/// SARIF 2.1.0: a rule per vulnerability, a result per vulnerability and
/// package, located at the file the package was found in.
fn sarif(target: &Target, findings: &[Finding]) -> Value {
    let mut rules: BTreeMap<&str, Value> = BTreeMap::new();
    for f in findings {
        rules.entry(&f.id).or_insert_with(|| {
            let mut props = json!({"tags": ["security", f.severity.as_str()]});
            if let Some(score) = f.score {
                props["security-severity"] = json!(format!("{score:.1}"));
            }
            json!({
                "id": f.id,
                "name": f.name,
                "shortDescription": {"text": format!("{}: {}", f.name, if f.summary.is_empty() { "vulnerability" } else { &f.summary })},
                "helpUri": f.url,
                "help": {"text": format!("{} (aliases: {})", f.summary, f.aliases.join(", "))},
                "properties": props,
            })
        });
    }
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "ruleId": f.id,
                "level": sarif_level(f.severity),
                "message": {"text": format!(
                    "{} {} in {} {} (fixed in {})",
                    f.severity.as_str(), f.name, f.package.name, f.package.version,
                    f.fixed_version.as_deref().unwrap_or("no release yet")
                )},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": f.package.path}},
                    "logicalLocations": [{"name": f.purl, "kind": "package"}],
                }],
                "properties": {"purl": f.purl, "affectedRange": f.affected_range, "layer": f.package.layer},
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "berth scout",
                "informationUri": "https://osv.dev",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "properties": {"target": target.name, "digest": target.digest},
            "results": results,
        }],
    })
}

fn markdown(target: &Target, findings: &[Finding]) -> String {
    let mut s = format!(
        "## {}\n\n{} vulnerabilities: {}\n\n",
        target.name,
        findings.len(),
        counts_line(findings)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    );
    if findings.is_empty() {
        return s;
    }
    s.push_str("| Vulnerability | Severity | Package | Version | Fixed version |\n");
    s.push_str("| --- | --- | --- | --- | --- |\n");
    let cell = |t: &str| t.replace('|', "\\|");
    for f in findings {
        s.push_str(&format!(
            "| [{}]({}) | {} | {} | {} | {} |\n",
            cell(&f.name),
            f.url,
            f.severity,
            cell(&f.package.name),
            cell(&f.package.version),
            cell(f.fixed_version.as_deref().unwrap_or("not fixed")),
        ));
    }
    s
}

/// `scout secrets` output: text (a block per secret), json, sarif or
/// markdown. Only redacted values are ever in it.
pub fn render_secrets(format: CvesFormat, target: &Target, secrets: &[Secret]) -> String {
    let place = |s: &Secret| {
        let mut p = format!("{}:{}", s.path, s.line);
        if !s.layer.is_empty() {
            p.push_str(&format!(" (layer {}", short_digest(&s.layer)));
            if s.removed_later {
                p.push_str(", deleted or replaced by a later layer: it still ships");
            }
            p.push(')');
        }
        p
    };
    match format {
        CvesFormat::Packages => {
            let mut out = if secrets.is_empty() {
                format!("    ✓ No secret found in {}\n", target.name)
            } else {
                format!(
                    "    ✗ Found {} secret{} in {}\n",
                    secrets.len(),
                    if secrets.len() == 1 { "" } else { "s" },
                    target.name
                )
            };
            for s in secrets {
                out.push_str(&format!(
                    "\n  {} {} ({})\n      {}\n      {}\n",
                    s.severity.as_str().to_ascii_uppercase(),
                    s.title,
                    s.rule,
                    place(s),
                    s.redacted
                ));
            }
            out
        }
        CvesFormat::Json => {
            let v = json!({"target": target.name, "digest": target.digest, "secrets": secrets});
            serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
        }
        CvesFormat::Sarif => {
            let mut rules: BTreeMap<&str, Value> = BTreeMap::new();
            for s in secrets {
                rules.entry(&s.rule).or_insert_with(|| {
                    json!({"id": s.rule, "name": s.title, "shortDescription": {"text": s.title},
                           "properties": {"tags": ["security", "secret", s.severity.as_str()]}})
                });
            }
            let results: Vec<Value> = secrets
                .iter()
                .map(|s| {
                    json!({
                        "ruleId": s.rule,
                        "level": sarif_level(s.severity),
                        "message": {"text": format!("{} ({})", s.title, s.redacted)},
                        "locations": [{"physicalLocation": {
                            "artifactLocation": {"uri": s.path},
                            "region": {"startLine": s.line},
                        }}],
                        "properties": {"layer": s.layer, "removedLater": s.removed_later},
                    })
                })
                .collect();
            let v = json!({
                "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
                "version": "2.1.0",
                "runs": [{"tool": {"driver": {"name": "berth scout secrets", "version": env!("CARGO_PKG_VERSION"),
                          "rules": rules.into_values().collect::<Vec<_>>()}},
                          "results": results}],
            });
            serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
        }
        CvesFormat::Markdown => {
            let mut out = format!(
                "## Secrets in {}\n\n{} found\n\n",
                target.name,
                secrets.len()
            );
            if !secrets.is_empty() {
                out.push_str("| Severity | Rule | Location | Value |\n| --- | --- | --- | --- |\n");
                for s in secrets {
                    out.push_str(&format!(
                        "| {} | {} | {} | `{}` |\n",
                        s.severity,
                        s.rule,
                        place(s).replace('|', "\\|"),
                        s.redacted
                    ));
                }
            }
            out
        }
    }
}

fn short_digest(d: &str) -> String {
    let hex = d.strip_prefix("sha256:").unwrap_or(d);
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::Package;

    fn finding(id: &str, sev: Severity, fixed: Option<&str>) -> Finding {
        let p = Package::new(
            Kind::Npm,
            "lodash",
            "4.17.20",
            "app/node_modules/lodash/package.json",
        );
        Finding {
            id: id.into(),
            name: "CVE-2021-23337".into(),
            aliases: vec!["CVE-2021-23337".into()],
            summary: "Command injection".into(),
            severity: sev,
            score: Some(7.2),
            affected_range: "<4.17.21".into(),
            fixed_version: fixed.map(str::to_string),
            ecosystem: "npm".into(),
            purl: p.purl(None),
            package: p,
            url: crate::scan::advisory_url(id),
        }
    }

    #[test]
    fn filters() {
        let f = finding("GHSA-35jh-r3h4-6jhm", Severity::High, Some("4.17.21"));
        let keep = |flt: Filter| flt.keeps(&f);
        assert!(keep(Filter::default()));
        assert!(keep(Filter {
            severities: vec![Severity::High],
            ..Default::default()
        }));
        assert!(!keep(Filter {
            severities: vec![Severity::Critical],
            ..Default::default()
        }));
        assert!(keep(Filter {
            only_fixed: true,
            ..Default::default()
        }));
        assert!(!keep(Filter {
            only_unfixed: true,
            ..Default::default()
        }));
        assert!(!keep(Filter {
            kinds: vec![Kind::Deb],
            ..Default::default()
        }));
    }

    #[test]
    fn vex_suppresses_what_it_names() {
        let f = finding("GHSA-35jh-r3h4-6jhm", Severity::High, Some("4.17.21"));
        let img = vec!["app:latest".to_string()];
        let doc = |products: &str, status: &str| {
            format!(
                r#"{{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{{"vulnerability":{{"name":"CVE-2021-23337"}},"products":{products},"status":"{status}","justification":"vulnerable_code_not_in_execute_path"}}]}}"#
            )
        };
        let v = Vex::parse(&doc(
            r#"[{"@id":"pkg:npm/lodash@4.17.20"}]"#,
            "not_affected",
        ))
        .unwrap();
        assert!(v.suppresses(&f, &img));
        let v = Vex::parse(&doc(
            r#"[{"@id":"pkg:npm/lodash@4.17.19"}]"#,
            "not_affected",
        ))
        .unwrap();
        assert!(!v.suppresses(&f, &img));
        let v = Vex::parse(&doc(
            r#"[{"@id":"app:latest","subcomponents":[{"@id":"pkg:npm/lodash"}]}]"#,
            "not_affected",
        ))
        .unwrap();
        assert!(v.suppresses(&f, &img));
        let v = Vex::parse(&doc("[]", "affected")).unwrap();
        assert!(!v.suppresses(&f, &img));
        assert!(Vex::parse("{}").is_err());
    }

    #[test]
    fn formats() {
        let fs = vec![finding(
            "GHSA-35jh-r3h4-6jhm",
            Severity::High,
            Some("4.17.21"),
        )];
        let t = Target {
            name: "app:latest".into(),
            ..Default::default()
        };
        let s = render_cves(CvesFormat::Sarif, &t, 3, &fs);
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["version"], "2.1.0");
        assert_eq!(v["runs"][0]["results"][0]["ruleId"], "GHSA-35jh-r3h4-6jhm");
        assert_eq!(v["runs"][0]["results"][0]["level"], "error");
        let p = render_cves(CvesFormat::Packages, &t, 3, &fs);
        assert!(
            p.contains("✗ Detected 1 vulnerable package with a total of 1 vulnerability"),
            "{p}"
        );
        assert!(p.contains("    ✗ HIGH CVE-2021-23337"), "{p}");
        assert!(p.contains("Fixed version  : 4.17.21"), "{p}");
        let m = render_cves(CvesFormat::Markdown, &t, 3, &fs);
        assert!(m.contains("| high | lodash | 4.17.20 | 4.17.21 |"), "{m}");
        assert_eq!(counts_line(&fs), "   0C     1H     0M     0L");
    }
}
