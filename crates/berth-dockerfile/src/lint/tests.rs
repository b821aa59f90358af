//! Each rule: a Dockerfile where it fires, and one where it does not.

use super::*;
use crate::parse;

fn rules(text: &str) -> Vec<&'static str> {
    rules_with(text, &Options::default())
}

fn rules_with(text: &str, opts: &Options) -> Vec<&'static str> {
    let df = parse(text).unwrap();
    lint(&df, opts).into_iter().map(|f| f.rule).collect()
}

/// `rule` fires on `bad` and not on `good`.
fn fires(rule: &str, bad: &str, good: &str) {
    assert!(
        rules(bad).contains(&rule),
        "{rule} should fire on:\n{bad}\ngot {:?}",
        rules(bad)
    );
    assert!(
        !rules(good).contains(&rule),
        "{rule} should not fire on:\n{good}\ngot {:?}",
        rules(good)
    );
}

const OK_TAIL: &str = "USER app\nCMD [\"app\"]\n";

#[test]
fn invalid_instruction() {
    fires(
        "InvalidInstruction",
        "FROM a:1.2.3\nRUNN x\n",
        "FROM a:1.2.3\nRUN x\n",
    );
}

#[test]
fn consecutive_runs() {
    fires(
        "MultipleConsecutiveRun",
        "FROM a:1.2.3\nRUN a\nRUN b\n",
        "FROM a:1.2.3\nRUN a && b\nENV X=1\nRUN c\n",
    );
}

#[test]
fn apt_rules() {
    fires("AptGetUpdateAlone", "FROM debian:12.5.0\nRUN apt-get update\n", "FROM debian:12.5.0\nRUN apt-get update && apt-get install -y --no-install-recommends x && rm -rf /var/lib/apt/lists/*\n");
    fires("AptGetNoInstallRecommends", "FROM debian:12.5.0\nRUN apt-get update && apt-get install -y x && rm -rf /var/lib/apt/lists/*\n", "FROM debian:12.5.0\nRUN apt-get update && apt-get install -y --no-install-recommends x && rm -rf /var/lib/apt/lists/*\n");
    fires("AptGetListsNotRemoved", "FROM debian:12.5.0\nRUN apt-get update && apt-get install -y --no-install-recommends x\n", "FROM debian:12.5.0\nRUN --mount=type=cache,target=/var/lib/apt apt-get update && apt-get install -y --no-install-recommends x\n");
}

#[test]
fn pip_cache() {
    fires("PipNoCacheDir", "FROM python:3.12.1\nRUN pip install flask\n", "FROM python:3.12.1\nRUN pip install --no-cache-dir flask\nRUN --mount=type=cache,target=/root/.cache/pip pip install x\n");
}

#[test]
fn base_image_tags() {
    fires("FromLatestTag", "FROM python\n", "FROM python:3.12.1\n");
    fires(
        "FromLatestTag",
        "FROM python:latest\n",
        "FROM python@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    );
    let opts = Options {
        enable: vec!["FromFloatingTag".into()],
        ..Options::default()
    };
    assert!(rules_with("FROM python:3.12-slim\n", &opts).contains(&"FromFloatingTag"));
    assert!(!rules_with("FROM python:3.12.1-slim\n", &opts).contains(&"FromFloatingTag"));
    assert!(
        !rules("FROM python:3.12-slim\n").contains(&"FromFloatingTag"),
        "off by default"
    );
    assert!(!rules("FROM scratch\n").contains(&"FromLatestTag"));
    assert!(!rules("ARG IMG=x\nFROM $IMG\n").contains(&"FromLatestTag"));
}

#[test]
fn users() {
    fires(
        "NoUserInFinalStage",
        "FROM a:1.2.3\nCMD [\"x\"]\n",
        "FROM a:1.2.3\nUSER app\n",
    );
    fires(
        "UserRootLast",
        "FROM a:1.2.3\nUSER app\nUSER root\n",
        "FROM a:1.2.3\nUSER root\nRUN x\nUSER 1000\n",
    );
    // Only the final stage counts.
    assert!(
        !rules("FROM a:1.2.3 AS build\nRUN x\nFROM b:1.2.3\nUSER app\n")
            .contains(&"NoUserInFinalStage")
    );
}

#[test]
fn secrets() {
    fires(
        "SecretsUsedInArgOrEnv",
        "FROM a:1.2.3\nARG DB_PASSWORD\n",
        "FROM a:1.2.3\nARG DB_HOST\nENV PUBLIC_KEY=x\n",
    );
    fires(
        "SecretsUsedInArgOrEnv",
        "FROM a:1.2.3\nENV GITHUB_TOKEN=x\n",
        "FROM a:1.2.3\nENV TOKENIZER=x\n",
    );
    fires(
        "SecretsUsedInArgOrEnv",
        "FROM a:1.2.3\nENV AWS=AKIAABCDEFGHIJKLMNOP\n",
        "FROM a:1.2.3\nENV AWS=eu-west-1\n",
    );
    fires(
        "SecretFileCopied",
        "FROM a:1.2.3\nCOPY .env /app/\n",
        "FROM a:1.2.3\nCOPY .env.example /app/\n",
    );
    fires(
        "SecretFileCopied",
        "FROM a:1.2.3\nCOPY id_rsa server.pem /root/\n",
        "FROM a:1.2.3\nCOPY --from=build /out/server.pem /etc/\n",
    );
}

#[test]
fn copy_order_and_dockerignore() {
    fires("CopyAllBeforeInstall", "FROM python:3.12.1\nCOPY . .\nRUN pip install --no-cache-dir -r requirements.txt\n", "FROM python:3.12.1\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\n");
    let missing = Options {
        has_dockerignore: Some(false),
        ..Options::default()
    };
    let present = Options {
        has_dockerignore: Some(true),
        ..Options::default()
    };
    assert!(rules_with("FROM a:1.2.3\nCOPY . .\n", &missing).contains(&"NoDockerignore"));
    assert!(!rules_with("FROM a:1.2.3\nCOPY . .\n", &present).contains(&"NoDockerignore"));
    assert!(
        !rules_with("FROM a:1.2.3\nRUN x\n", &missing).contains(&"NoDockerignore"),
        "nothing copied"
    );
}

#[test]
fn add_json_workdir_cd_sudo() {
    fires(
        "AddInsteadOfCopy",
        "FROM a:1.2.3\nADD app.py /app/\n",
        "FROM a:1.2.3\nADD rootfs.tar.gz /\nADD https://example.com/x /x\n",
    );
    fires(
        "JSONArgsRecommended",
        "FROM a:1.2.3\nCMD python app.py\n",
        "FROM a:1.2.3\nCMD [\"python\", \"app.py\"]\n",
    );
    fires(
        "JSONArgsRecommended",
        "FROM a:1.2.3\nENTRYPOINT ./run\n",
        "FROM a:1.2.3\nENTRYPOINT [\"./run\"]\n",
    );
    fires(
        "JSONArgsSingleQuotes",
        "FROM a:1.2.3\nCMD ['python', 'app.py']\n",
        "FROM a:1.2.3\nCMD [\"python\", \"app.py\"]\n",
    );
    fires(
        "WorkdirRelativePath",
        "FROM a:1.2.3\nWORKDIR app\n",
        "FROM a:1.2.3\nWORKDIR /app\nWORKDIR sub\n",
    );
    fires(
        "CdInRun",
        "FROM a:1.2.3\nRUN cd /app && make\n",
        "FROM a:1.2.3\nWORKDIR /app\nRUN make\n",
    );
    fires(
        "SudoInRun",
        "FROM a:1.2.3\nRUN sudo make install\n",
        "FROM a:1.2.3\nRUN make install\n",
    );
}

#[test]
fn expose_maintainer_healthcheck() {
    fires(
        "ExposeInvalidPort",
        "FROM a:1.2.3\nEXPOSE 99999\n",
        "FROM a:1.2.3\nEXPOSE 80 443/tcp 53/udp 8000-8010\n",
    );
    fires(
        "ExposeInvalidPort",
        "FROM a:1.2.3\nEXPOSE http\n",
        "FROM a:1.2.3\nARG P\nEXPOSE $P\n",
    );
    fires(
        "ExposeProtoCasing",
        "FROM a:1.2.3\nEXPOSE 80/TCP\n",
        "FROM a:1.2.3\nEXPOSE 80/tcp\n",
    );
    fires(
        "MaintainerDeprecated",
        "FROM a:1.2.3\nMAINTAINER me\n",
        "FROM a:1.2.3\nLABEL org.opencontainers.image.authors=me\n",
    );
    fires(
        "NoHealthcheck",
        "FROM a:1.2.3\nEXPOSE 80\n",
        "FROM a:1.2.3\nEXPOSE 80\nHEALTHCHECK CMD true\n",
    );
    let f = lint(
        &parse("FROM a:1.2.3\nEXPOSE 80\n").unwrap(),
        &Options::default(),
    );
    assert_eq!(
        f.iter().find(|f| f.rule == "NoHealthcheck").unwrap().level,
        Level::Info
    );
}

#[test]
fn stages() {
    fires(
        "DuplicateStageName",
        "FROM a:1.2.3 AS x\nFROM b:1.2.3 AS x\n",
        "FROM a:1.2.3 AS x\nFROM b:1.2.3 AS y\n",
    );
    fires(
        "StageUsedBeforeDefined",
        "FROM base\nFROM a:1.2.3 AS base\n",
        "FROM a:1.2.3 AS base\nFROM base\n",
    );
    fires(
        "StageUsedBeforeDefined",
        "FROM a:1.2.3\nCOPY --from=later /x /x\nFROM b:1.2.3 AS later\n",
        "FROM b:1.2.3 AS early\nFROM a:1.2.3\nCOPY --from=early /x /x\n",
    );
    fires(
        "ReservedStageName",
        "FROM a:1.2.3 AS scratch\n",
        "FROM a:1.2.3 AS build\n",
    );
    fires(
        "StageNameCasing",
        "FROM a:1.2.3 AS Build\n",
        "FROM a:1.2.3 AS build\n",
    );
    fires(
        "FromAsCasing",
        "FROM a:1.2.3 as build\n",
        "FROM a:1.2.3 AS build\nfrom b:1.2.3 as c\n",
    );
    fires(
        "MultipleInstructionsDisallowed",
        "FROM a:1.2.3\nCMD [\"a\"]\nCMD [\"b\"]\n",
        "FROM a:1.2.3\nCMD [\"a\"]\nFROM b:1.2.3\nCMD [\"b\"]\n",
    );
}

#[test]
fn variables_and_casing() {
    fires(
        "UndefinedVar",
        "FROM a:1.2.3\nCOPY $SRC /app\n",
        "FROM a:1.2.3\nARG SRC=.\nCOPY $SRC /app\nENV P=$PATH:/x\n",
    );
    fires(
        "UndefinedVar",
        "ARG V=1\nFROM a:1.2.3\nLABEL v=$V\n",
        "ARG V=1\nFROM a:1.2.3\nARG V\nLABEL v=$V\nLABEL w=${W:-x}\n",
    );
    fires(
        "ConsistentInstructionCasing",
        "FROM a:1.2.3\nRUN x\nrun y\nRUN z\n",
        "FROM a:1.2.3\nRUN x\n",
    );
    fires(
        "LegacyKeyValueFormat",
        "FROM a:1.2.3\nENV A 1\n",
        "FROM a:1.2.3\nENV A=1\n",
    );
}

#[test]
fn directives_and_options_control_rules() {
    let bad = "FROM a\nCMD x\n";
    assert!(rules(bad).contains(&"JSONArgsRecommended"));
    assert!(!rules(&format!(
        "# check=skip=JSONArgsRecommended,FromLatestTag\n{bad}"
    ))
    .contains(&"JSONArgsRecommended"));
    assert!(rules(&format!("# check=skip=all\n{bad}")).is_empty());
    let opts = Options {
        ignore: vec!["JSONArgsRecommended".into()],
        ..Options::default()
    };
    assert!(!rules_with(bad, &opts).contains(&"JSONArgsRecommended"));
    let f = lint(
        &parse(&format!("# check=error=true\n{bad}")).unwrap(),
        &Options::default(),
    );
    assert!(f
        .iter()
        .all(|f| f.level == Level::Error || f.level == Level::Info));
    // A clean Dockerfile has no findings at all.
    let clean = format!("FROM python:3.12.1-slim AS build\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nFROM python:3.12.1-slim\nCOPY --from=build /app /app\nEXPOSE 8000\nHEALTHCHECK CMD wget -qO- localhost:8000 || exit 1\n{OK_TAIL}");
    assert_eq!(
        rules_with(
            &clean,
            &Options {
                has_dockerignore: Some(true),
                ..Options::default()
            }
        ),
        Vec::<&str>::new()
    );
}
