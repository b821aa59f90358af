//! BuildKit's own test vectors (../shared/testdata/buildkit): every parser
//! case dumps exactly its `result`, every negative case fails, and every
//! shell-expansion vector expands as BuildKit does.

use std::path::PathBuf;

use berth_dockerfile::shell::Lex;

fn testdata() -> PathBuf {
    let dir = std::env::var_os("BERTH_BUILDKIT_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/buildkit")
        });
    assert!(
        dir.is_dir(),
        "BuildKit test vectors not found at {} (set BERTH_BUILDKIT_TESTDATA)",
        dir.display()
    );
    dir
}

#[test]
fn every_parser_case_dumps_its_result() {
    let dir = testdata().join("parser/testfiles");
    let mut cases = 0;
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let case = entry.unwrap().path();
        let text = std::fs::read_to_string(case.join("Dockerfile")).unwrap();
        let expected = std::fs::read_to_string(case.join("result")).unwrap();
        cases += 1;
        match berth_dockerfile::parse(&text) {
            Ok(df) if df.dump() == expected => {}
            Ok(df) => failures.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{}",
                case.display(),
                df.dump()
            )),
            Err(e) => failures.push(format!("{}: {e}", case.display())),
        }
    }
    assert!(cases >= 30, "only {cases} cases found");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_negative_case_fails() {
    let dir = testdata().join("parser/testfiles-negative");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let case = entry.unwrap().path();
        let text = std::fs::read_to_string(case.join("Dockerfile")).unwrap();
        assert!(
            berth_dockerfile::parse(&text).is_err(),
            "{} should fail",
            case.display()
        );
    }
}

#[test]
fn line_numbers_match_buildkit() {
    let text = std::fs::read_to_string(testdata().join("parser/testfile-line/Dockerfile")).unwrap();
    let df = berth_dockerfile::parse(&text).unwrap();
    let lines: Vec<(usize, usize)> = df
        .instructions
        .iter()
        .map(|i| (i.start_line, i.end_line))
        .collect();
    assert_eq!(lines, vec![(5, 5), (11, 12), (17, 31)]);
}

#[test]
fn shell_expansion_vectors() {
    let text = std::fs::read_to_string(testdata().join("shell/envVarTest")).unwrap();
    let env = |name: &str| match name {
        "PWD" => Some("/home".to_string()),
        "SHELL" => Some("bash".to_string()),
        "KOREAN" => Some("한국어".to_string()),
        "NULL" => Some(String::new()),
        _ => None,
    };
    let lex = Lex::new('\\');
    let mut checked = 0;
    let mut failures = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.trim().split('|').collect();
        assert_eq!(parts.len(), 3, "line {}: {line}", n + 1);
        let (platform, source, expected) = (parts[0].trim(), parts[1].trim(), parts[2].trim());
        if platform == "W" {
            continue;
        }
        checked += 1;
        let got = lex.process_word(source, &env);
        let ok = match (&got, expected) {
            (Err(_), "error") => true,
            (Ok(w), e) => w == e,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "line {}: {source:?} expected {expected:?}, got {got:?}",
                n + 1
            ));
        }
    }
    assert!(checked > 200);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn word_splitting_vectors() {
    let text = std::fs::read_to_string(testdata().join("shell/wordsTest")).unwrap();
    let mut envs: Vec<(String, String)> = Vec::new();
    let lex = Lex::new('\\');
    let mut failures = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("ENV ") {
            let rest = rest.trim_start_matches(' ');
            let (k, v) = rest.split_once('=').unwrap();
            envs.push((k.to_string(), v.to_string()));
            continue;
        }
        let parts: Vec<&str> = line.split('|').collect();
        assert_eq!(parts.len(), 2, "line {}", n + 1);
        let source = parts[0].trim();
        let expected: Vec<&str> = parts[1].trim_start_matches(' ').split(',').collect();
        let lookup = |name: &str| {
            envs.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let got = lex
            .process_words(source, &lookup)
            .unwrap_or_else(|_| vec!["error".into()]);
        if got != expected {
            failures.push(format!(
                "line {}: {source:?} expected {expected:?}, got {got:?}",
                n + 1
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
