//! `berth secret` and `run --secret`: values given to containers at run
//! time — a file from a private tmpfs, or a variable — that no image layer,
//! commit, export, diff, log, inspect or event ever holds.

mod common;

use common::{has, Env};

const VALUE: &str = "correct-horse-battery-staple";

/// Every file under `dir` that holds the value.
fn files_with_value(dir: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("grep")
        .args(["-rlF", VALUE])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn with_secret() -> Env {
    let env = Env::with_busybox();
    let r = env.berth_stdin(
        &["secret", "create", "--label", "team=db", "db_pass", "-"],
        format!("{VALUE}\n").as_bytes(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim().len(), 24, "{}", r.stdout);
    env
}

#[test]
fn secrets_are_created_listed_inspected_and_removed() {
    let env = with_secret();
    let file = env.path("api.key");
    std::fs::write(&file, "key-from-a-file").unwrap();
    env.berth(&[
        "secret",
        "create",
        "--driver",
        "file",
        "api_key",
        file.to_str().unwrap(),
    ])
    .ok();

    let ls = env.berth(&["secret", "ls"]).ok();
    let header: Vec<&str> = ls.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["ID", "NAME", "DRIVER", "CREATED", "UPDATED"]);
    let names: Vec<&str> = ls
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(names, ["api_key", "db_pass"]);
    assert_eq!(
        env.berth(&[
            "secret",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}}",
            "--filter",
            "label=team=db"
        ])
        .ok(),
        "db_pass file\n"
    );
    assert_eq!(
        env.berth(&[
            "secret",
            "ls",
            "--filter",
            "name=api",
            "--format",
            "{{.Name}}"
        ])
        .ok(),
        "api_key\n"
    );
    let ids = env.berth(&["secret", "ls", "-q"]).ok();
    assert_eq!(ids.lines().count(), 2);

    let inspect = env.berth(&["secret", "inspect", "db_pass"]).ok();
    assert!(!inspect.contains(VALUE), "{inspect}");
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(v[0]["Spec"]["Name"], "db_pass");
    assert_eq!(v[0]["Spec"]["Labels"]["team"], "db");
    assert_eq!(v[0]["Spec"]["Driver"]["Name"], "file");
    let id = v[0]["ID"].as_str().unwrap().to_string();
    assert_eq!(
        env.berth(&["secret", "inspect", "--format", "{{.Spec.Name}}", &id[..6]])
            .ok(),
        "db_pass\n"
    );

    // The value: a root-only file under the store root, in no database document.
    let value_file = env.root().join("secrets").join(&id);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&value_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(env.root().join("secrets"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    assert_eq!(
        files_with_value(&env.root()),
        [value_file.display().to_string()]
    );

    env.berth(&["secret", "rm", "api_key", "db_pass"]).ok();
    assert_eq!(env.berth(&["secret", "ls", "-q"]).ok(), "");
    assert!(!value_file.exists());
    assert!(files_with_value(&env.root()).is_empty());
}

#[test]
fn bad_secrets_are_refused_and_change_nothing() {
    let env = with_secret();
    env.berth_stdin(&["secret", "create", "db_pass", "-"], b"other")
        .fails(1, "secret db_pass already exists");
    env.berth_stdin(&["secret", "create", "bad!", "-"], b"x")
        .fails(
            1,
            "invalid secret name \"bad!\": only 64 [a-zA-Z0-9-_.] characters allowed",
        );
    env.berth_stdin(&["secret", "create", "empty", "-"], b"")
        .fails(1, "secret data must be larger than 0 and less than 500KB");
    env.berth_stdin(&["secret", "create", "big", "-"], &vec![b'x'; 600 * 1024])
        .fails(1, "secret data must be larger than 0 and less than 500KB");
    env.berth(&["secret", "create", "nofile", "/nonexistent/file"])
        .fails(
            1,
            "reading the secret from /nonexistent/file: No such file or directory",
        );
    env.berth_stdin(&["secret", "create", "--driver", "vault", "v", "-"], b"x")
        .fails(1, "secret driver \"vault\" is not supported");
    env.berth(&["secret", "inspect", "nope"])
        .fails(1, "no such secret: nope");
    env.berth(&["secret", "rm", "nope"])
        .fails(1, "no such secret: nope");
    env.berth(&["secret", "ls", "--filter", "colour=red"])
        .fails(1, "colour");
    let names = env.berth(&["secret", "ls", "--format", "{{.Name}}"]).ok();
    assert_eq!(names, "db_pass\n");
    // Nothing was left half-written.
    let entries: Vec<String> = std::fs::read_dir(env.root().join("secrets"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");

    // run --secret: what it names must exist; its options must read.
    env.refuses_run(
        &["--secret", "nope"],
        "no such secret: nope: create it first with `berth secret create nope FILE`",
    );
    env.refuses_run(
        &["--secret", "source=db_pass,mode=rw"],
        "invalid --secret \"source=db_pass,mode=rw\": mode=rw is not a number",
    );
    env.refuses_run(
        &["--secret", "source=db_pass,type=file"],
        "type must be mount or env",
    );
    env.refuses_run(
        &[
            "--secret",
            "db_pass",
            "--secret",
            "source=db_pass,target=db_pass",
        ],
        "secret target /run/secrets/db_pass is given twice",
    );
}

#[test]
fn containers_get_secrets_as_files_and_variables() {
    let env = with_secret();
    env.berth_stdin(&["secret", "create", "api", "-"], b"api-token-value")
        .ok();
    let out = env
        .sh(
            &[
                "--secret", "db_pass",
                "--secret", "source=api,target=/etc/app/api.key,uid=1000,gid=50,mode=0400",
                "--secret", "source=api,target=nested/api",
                "--secret", "source=db_pass,type=env,target=DB_PASSWORD",
            ],
            "cat /run/secrets/db_pass; stat -c '%a %u %g' /run/secrets/db_pass /etc/app/api.key; cat /etc/app/api.key; echo; cat /run/secrets/nested/api; echo; echo \"env=$DB_PASSWORD\"; echo x > /run/secrets/db_pass 2>/dev/null || echo read-only",
        )
        .ok();
    assert_eq!(
        out,
        format!("{VALUE}\n444 0 0\n400 1000 50\napi-token-value\napi-token-value\nenv={VALUE}\nread-only\n")
    );
    // A user that is not root reads a default (0444) secret.
    let out = env
        .sh(
            &["--user", "65534", "--secret", "db_pass"],
            "cat /run/secrets/db_pass",
        )
        .ok();
    assert_eq!(out, format!("{VALUE}\n"));
}

#[test]
fn no_layer_record_log_or_event_holds_a_secret() {
    let env = with_secret();
    env.berth(&[
        "run",
        "-d",
        "--name",
        "app",
        "--secret",
        "db_pass",
        "--secret",
        "source=db_pass,type=env,target=DB_PASSWORD",
        "busybox",
        "sh",
        "-c",
        "echo started; sleep 300",
    ])
    .ok();
    env.wait_running();
    // exec sees the variable too, as the container's own process does.
    assert_eq!(
        env.berth(&["exec", "app", "sh", "-c", "echo $DB_PASSWORD"])
            .ok(),
        format!("{VALUE}\n")
    );
    let inspect = env.berth(&["inspect", "app"]).ok();
    assert!(!inspect.contains(VALUE), "inspect");
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(v[0]["HostConfig"]["Secrets"][0]["Source"], "db_pass");
    assert_eq!(
        v[0]["HostConfig"]["Secrets"][0]["Target"],
        "/run/secrets/db_pass"
    );
    assert!(!v[0]["Config"]["Env"].to_string().contains("DB_PASSWORD"));
    let diff = env.berth(&["diff", "app"]).ok();
    assert!(
        !diff.contains("db_pass"),
        "the layer names no secret: {diff}"
    );
    assert!(!env.berth(&["logs", "app"]).ok().contains(VALUE));
    let export = env.path("app.tar");
    env.berth(&["export", "-o", export.to_str().unwrap(), "app"])
        .ok();
    env.berth(&["commit", "app", "committed"]).ok();
    let saved = env.path("committed.tar");
    env.berth(&["save", "-o", saved.to_str().unwrap(), "committed"])
        .ok();
    for f in [&export, &saved] {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(VALUE.len()).any(|w| w == VALUE.as_bytes()),
            "{}",
            f.display()
        );
    }
    let events = env.berth(&["events", "--since", "0", "--until", "0s"]).ok();
    has(&events, "secret create");
    assert!(!events.contains(VALUE));
    // Only the value file, and what a running container needs in memory:
    // its tmpfs and its runtime bundle under the state directory.
    assert_eq!(
        files_with_value(&env.root()).len(),
        1,
        "{:?}",
        files_with_value(&env.root())
    );
    assert!(files_with_value(&env.state())
        .iter()
        .all(|f| f.contains("/secrets/") || f.contains("/bundles/")));

    // While a container uses it, a secret stays (unless forced).
    env.berth(&["secret", "rm", "db_pass"]).fails(
        1,
        "secret db_pass is in use by container(s) app: remove them first, or use -f",
    );
    env.berth(&["rm", "-f", "app"]).ok();
    assert!(
        files_with_value(&env.state()).is_empty(),
        "released with the container"
    );
    env.berth(&[
        "create", "--name", "later", "--secret", "db_pass", "busybox", "true",
    ])
    .ok();
    env.berth(&["secret", "rm", "-f", "db_pass"]).ok();
    env.berth(&["start", "-a", "later"]).fails(
        125,
        "secret db_pass was removed: recreate it, or the container without it",
    );
    env.berth(&["rm", "later"]).ok();
}
