//! `berth lint` end to end: a Dockerfile with the usual mistakes names each of
//! them; exit codes, JSON output, rule selection and bad input.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;

const MISTAKES: &str = r#"FROM python
MAINTAINER me@example.com
ENV API_TOKEN=abc123
RUN apt-get update
RUN apt-get install -y curl
COPY . .
RUN pip install -r requirements.txt
COPY id_rsa /root/.ssh/
ADD app.py /app/
WORKDIR app
RUN cd /app && sudo make
EXPOSE 8080 99999
CMD python app.py
"#;

fn lint(dir: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    // Lint needs no root: run it as nobody.
    let out = Command::new(common::BIN)
        .arg("lint")
        .args(extra)
        .arg(dir)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn context(dockerfile: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    dir
}

#[test]
fn names_every_mistake() {
    let dir = context(MISTAKES);
    let (code, out, _) = lint(dir.path(), &[]);
    assert_eq!(code, 1, "an error-level finding exits 1:\n{out}");
    for rule in [
        "FromLatestTag",
        "MaintainerDeprecated",
        "SecretsUsedInArgOrEnv",
        "AptGetUpdateAlone",
        "MultipleConsecutiveRun",
        "AptGetNoInstallRecommends",
        "AptGetListsNotRemoved",
        "CopyAllBeforeInstall",
        "NoDockerignore",
        "PipNoCacheDir",
        "SecretFileCopied",
        "AddInsteadOfCopy",
        "WorkdirRelativePath",
        "CdInRun",
        "SudoInRun",
        "ExposeInvalidPort",
        "JSONArgsRecommended",
        "NoUserInFinalStage",
        "NoHealthcheck",
    ] {
        assert!(
            out.contains(&format!("[{rule}]")),
            "{rule} missing from:\n{out}"
        );
    }
    assert!(
        out.contains("Dockerfile:12: error[ExposeInvalidPort]"),
        "{out}"
    );
    assert!(out.contains("  fix: CMD [\"python\", \"app.py\"]"), "{out}");
}

#[test]
fn json_ignore_and_clean_files() {
    let dir = context(MISTAKES);
    let (_, out, _) = lint(dir.path(), &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let first = &v[0];
    assert!(
        first["rule"].is_string()
            && first["line"].is_number()
            && first["level"].is_string()
            && first["fix"].is_string()
    );
    let (code, out, _) = lint(dir.path(), &["--ignore", "ExposeInvalidPort"]);
    assert_eq!(code, 0, "warnings only exit 0");
    assert!(!out.contains("ExposeInvalidPort"));
    let clean = context("FROM python:3.12.1-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nUSER app\nCMD [\"python\", \"app.py\"]\n");
    std::fs::write(clean.path().join(".dockerignore"), ".git\n").unwrap();
    let (code, out, _) = lint(clean.path(), &[]);
    assert_eq!(
        (code, out.trim_end().ends_with("no problems found")),
        (0, true),
        "{out}"
    );
    // The directive in the file is honoured.
    let skipped = context(&format!("# check=skip=all\n{MISTAKES}"));
    let (code, out, _) = lint(skipped.path(), &[]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn bad_input() {
    let dir = context("FROM a\nRUN <<EOF\nnever ends\n");
    let (code, _, err) = lint(dir.path(), &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Dockerfile:2:5: unterminated heredoc"),
        "line and column of the <<: {err}"
    );
    let (code, _, err) = lint(std::path::Path::new("/no/such/dir"), &[]);
    assert_eq!(code, 1);
    assert!(
        err.contains("failed to read /no/such/dir/Dockerfile"),
        "{err}"
    );
    let typo = context("FROM a:1.2.3\nRUNN echo\n");
    let (code, out, _) = lint(typo.path(), &[]);
    assert_eq!(code, 1);
    assert!(
        out.contains("unknown instruction: RUNN (did you mean RUN?)"),
        "{out}"
    );
    let (code, _, err) = lint(typo.path(), &["--ignore", "NoSuchRule"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown rule \"NoSuchRule\""), "{err}");
    let (code, _, err) = lint(typo.path(), &["--format", "yaml"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown --format"), "{err}");
}
