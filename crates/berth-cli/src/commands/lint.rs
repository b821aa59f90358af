//! `berth lint`: best-practice findings for a Dockerfile. Needs no root and no store.

use std::io::IsTerminal;

use berth_dockerfile::lint::{self, Finding, Level, Options};

use super::CliError;
use crate::cli::LintArgs;

pub fn lint(a: &LintArgs) -> Result<i32, CliError> {
    run(&a.path, a.file.clone(), &a.format, &a.ignore, &a.enable)
}

/// Lints the Dockerfile of a context; shared by `lint` and `build --check`.
pub fn run(
    path: &std::path::Path,
    file: Option<std::path::PathBuf>,
    format: &str,
    ignore: &[String],
    enable: &[String],
) -> Result<i32, CliError> {
    let file = file.unwrap_or_else(|| path.join("Dockerfile"));
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(&file)
        .map_err(|e| CliError::new(1, format!("failed to read {shown}: {e}")))?;
    let df = berth_dockerfile::parse(&text).map_err(|e| CliError::new(1, e.located(&shown)))?;
    let has_dockerignore = berth_dockerfile::ignore::ignore_file_for(path, &file).is_some();
    let opts = Options {
        ignore: ignore.to_vec(),
        enable: enable.to_vec(),
        has_dockerignore: Some(has_dockerignore),
    };
    for id in ignore.iter().chain(enable) {
        if id != "all" && !lint::RULES.iter().any(|r| r.id == id) {
            return Err(CliError::new(
                1,
                format!("unknown rule {id:?}: see the rule names in berth lint's output"),
            ));
        }
    }
    let findings = lint::lint(&df, &opts);
    match format {
        "json" => {
            let out: Vec<serde_json::Value> = findings
                .iter()
                .map(|f| {
                    let mut v = serde_json::to_value(f).unwrap();
                    v["file"] = serde_json::json!(shown);
                    v
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&out).unwrap());
        }
        "text" => print_text(&shown, &findings),
        other => {
            return Err(CliError::new(
                1,
                format!("unknown --format {other:?}: use text or json"),
            ))
        }
    }
    Ok(if findings.iter().any(|f| f.level == Level::Error) {
        1
    } else {
        0
    })
}

fn print_text(file: &str, findings: &[Finding]) {
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let paint = |code: &str, s: &str| {
        if colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    for f in findings {
        let (code, word) = match f.level {
            Level::Error => ("1;31", "error"),
            Level::Warning => ("33", "warning"),
            Level::Info => ("36", "info"),
        };
        println!(
            "{file}:{}: {}: {}",
            f.line,
            paint(code, &format!("{word}[{}]", f.rule)),
            f.message
        );
        println!("  fix: {}", f.fix);
    }
    let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
    if findings.is_empty() {
        println!("{file}: no problems found");
    } else {
        println!(
            "{} error(s), {} warning(s), {} note(s)",
            count(Level::Error),
            count(Level::Warning),
            count(Level::Info)
        );
    }
}
