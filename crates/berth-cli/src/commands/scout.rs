//! `berth scout`: docker scout's commands, offline, over the engine's scans.

use std::path::Path;

use berth_engine::Engine;
use berth_scout::report::{self, CvesFormat, Filter, Vex};
use berth_scout::sbom::{self, SbomFormat};
use berth_scout::severity::Severity;
use berth_scout::Kind;

use super::{fail, CliError};
use crate::cli::{ScoutCommand, ScoutCvesArgs, ScoutDbCommand, ScoutSbomArgs, ScoutSecretsArgs};

pub fn run(engine: &Engine, command: ScoutCommand) -> Result<i32, CliError> {
    match command {
        ScoutCommand::Cves(a) => cves(engine, a),
        ScoutCommand::Sbom(a) => sbom(engine, a),
        ScoutCommand::Quickview(a) => quickview(engine, &a.image),
        ScoutCommand::Secrets(a) => secrets(engine, a),
        ScoutCommand::Db(ScoutDbCommand::Import { paths }) => import(engine, &paths),
        ScoutCommand::Db(ScoutDbCommand::Status) => status(engine),
    }
}

fn warn_all(warnings: &[String]) {
    for w in warnings {
        eprintln!("WARNING: {w}");
    }
}

/// Writes a report (or any text) to `-o FILE` (beside it first, then renamed: a failure
/// leaves no half file) or to stdout.
pub(crate) fn emit(output: Option<&Path>, text: &str) -> Result<(), CliError> {
    match output {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(path) => {
            let tmp = super::beside(path);
            std::fs::write(&tmp, text)
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    CliError::new(1, format!("writing {}: {e}", path.display()))
                })
        }
    }
}

fn cves_format(format: &str, what: &str) -> Result<CvesFormat, CliError> {
    CvesFormat::parse(format).ok_or_else(|| {
        CliError::new(
            1,
            format!("unknown --format {format:?}: use {what}, json, sarif or markdown"),
        )
    })
}

fn filter(a: &ScoutCvesArgs) -> Result<Filter, CliError> {
    let severities = a
        .only_severity
        .iter()
        .map(|s| {
            Severity::parse(s).ok_or_else(|| {
                CliError::new(
                    1,
                    format!("unknown severity {s:?} in --only-severity: use critical, high, medium, low or unspecified"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let kinds = a
        .only_package_type
        .iter()
        .map(|k| {
            Kind::parse(k).ok_or_else(|| {
                CliError::new(
                    1,
                    format!("unknown package type {k:?} in --only-package-type: use deb, apk, rpm, pypi, npm, golang, cargo, maven or binary"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Filter {
        severities,
        only_fixed: a.only_fixed,
        only_unfixed: a.only_unfixed,
        kinds,
    })
}

fn cves(engine: &Engine, a: ScoutCvesArgs) -> Result<i32, CliError> {
    let format = cves_format(&a.format, "packages")?;
    let filter = filter(&a)?;
    let vex = a
        .vex_location
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .map_err(|e| CliError::new(1, format!("--vex-location {}: {e}", p.display())))?;
            Vex::parse(&text)
                .map_err(|e| CliError::new(1, format!("--vex-location {}: {e}", p.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let v = engine
        .scout_cves(&a.image.image, &filter, &vex)
        .map_err(fail)?;
    warn_all(&v.warnings);
    if v.suppressed > 0 {
        eprintln!(
            "    {} vulnerabilit{} suppressed by VEX statements",
            v.suppressed,
            if v.suppressed == 1 { "y" } else { "ies" }
        );
    }
    let text = report::render_cves(format, &v.target, v.packages, &v.findings);
    emit(a.output.as_deref(), &text)?;
    Ok(if a.exit_code && !v.findings.is_empty() {
        2
    } else {
        0
    })
}

fn sbom(engine: &Engine, a: ScoutSbomArgs) -> Result<i32, CliError> {
    let format = SbomFormat::parse(&a.format).ok_or_else(|| {
        CliError::new(
            1,
            format!(
                "unknown --format {:?}: use list, json, spdx or cyclonedx",
                a.format
            ),
        )
    })?;
    let (target, inv) = engine.scout_packages(&a.image.image).map_err(fail)?;
    warn_all(&inv.warnings);
    emit(a.output.as_deref(), &sbom::render(format, &target, &inv))?;
    Ok(0)
}

fn quickview(engine: &Engine, image: &str) -> Result<i32, CliError> {
    let q = engine.scout_quickview(image).map_err(fail)?;
    warn_all(&q.warnings);
    println!("    ✓ Indexed {} packages\n", q.packages);
    let mut rows = vec![(
        "Target".to_string(),
        q.target.name.clone(),
        report::counts_line(&q.findings),
    )];
    if let Some(d) = &q.target.digest {
        rows.push(("  digest".into(), short(d), String::new()));
    }
    if let Some((name, findings)) = &q.base {
        rows.push((
            "Base image".into(),
            name.clone(),
            report::counts_line(findings),
        ));
    }
    let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    for (a, b, c) in rows {
        println!("  {a:<w0$}  │  {b:<w1$}  │ {c}");
    }
    if q.base.is_none() {
        println!("\n  No local image is this image's base (its first layers): the base image's share is not known.");
    }
    Ok(0)
}

fn short(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex[..hex.len().min(12)].to_string()
}

fn secrets(engine: &Engine, a: ScoutSecretsArgs) -> Result<i32, CliError> {
    let format = if a.format == "text" {
        CvesFormat::Packages
    } else {
        cves_format(&a.format, "text")?
    };
    let (target, found, warnings) = engine.scout_secrets(&a.image.image).map_err(fail)?;
    warn_all(&warnings);
    emit(
        a.output.as_deref(),
        &report::render_secrets(format, &target, &found),
    )?;
    Ok(if a.exit_code && !found.is_empty() {
        2
    } else {
        0
    })
}

fn import(engine: &Engine, paths: &[std::path::PathBuf]) -> Result<i32, CliError> {
    let r = engine.scout_import(paths).map_err(fail)?;
    for s in &r.skipped {
        eprintln!("WARNING: skipped {s}");
    }
    for (eco, n) in &r.unknown_ecosystems {
        eprintln!("WARNING: {n} record(s) name the ecosystem {eco:?}, which berth does not match: stored, never reported");
    }
    println!(
        "Imported {} record(s) ({} already up to date, {} skipped)",
        r.stored,
        r.unchanged,
        r.skipped.len()
    );
    Ok(0)
}

fn status(engine: &Engine) -> Result<i32, CliError> {
    let st = engine.scout_status().map_err(fail)?;
    if st.is_empty() {
        println!("No vulnerability records: import some with `berth scout db import all.zip`");
        return Ok(0);
    }
    let rows: Vec<[String; 3]> = st
        .iter()
        .map(|e| [e.ecosystem.clone(), e.records.to_string(), e.newest.clone()])
        .collect();
    print!(
        "{}",
        report::table(&["ECOSYSTEM", "RECORDS", "NEWEST MODIFIED"], &rows)
    );
    Ok(0)
}
