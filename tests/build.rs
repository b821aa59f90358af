//! `berth build` end to end: Docker's best-practice patterns, the cache, and
//! every bad input named in the build issue.

mod common;

use std::path::Path;

use common::{Env, Run};

/// A build context directory with these files.
fn context(env: &Env, name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = env.path(name);
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

fn build(env: &Env, dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["build", "--progress", "plain"];
    args.extend_from_slice(extra);
    let d = dir.to_str().unwrap().to_string();
    args.push(&d);
    env.berth(&args)
}

/// The plain-progress line after the step titled `title` ("CACHED" or "DONE ...").
fn outcome(stderr: &str, title: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains(title))
        .unwrap_or_else(|| panic!("no step {title:?} in:\n{stderr}"));
    let num = lines[i].split_whitespace().next().unwrap();
    lines[i + 1..]
        .iter()
        .find(|l| {
            l.starts_with(&format!("{num} "))
                && (l.contains("CACHED") || l.contains("DONE") || l.contains("ERROR"))
        })
        .unwrap()
        .to_string()
}

#[test]
fn dependencies_before_code_keep_their_layer() {
    let env = Env::with_busybox();
    let df = "FROM busybox\nWORKDIR /app\nCOPY requirements.txt .\nRUN cat requirements.txt > /deps.txt && echo installed\nCOPY . .\nCMD [\"cat\", \"/app/app.py\"]\n";
    let dir = context(
        &env,
        "ctx",
        &[
            ("Dockerfile", df),
            ("requirements.txt", "flask\n"),
            ("app.py", "print('v1')\n"),
        ],
    );
    let first = build(&env, &dir, &["-t", "app:1"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first.stderr.contains(" installed"),
        "RUN output shown: {}",
        first.stderr
    );
    assert_eq!(env.berth(&["run", "--rm", "app:1"]).ok(), "print('v1')\n");
    // Nothing changed: every step is a cache hit.
    let again = build(&env, &dir, &["-t", "app:1"]);
    for step in ["COPY requirements.txt", "RUN cat", "COPY . ."] {
        assert!(
            outcome(&again.stderr, step).contains("CACHED"),
            "{step}: {}",
            again.stderr
        );
    }
    // A code change re-runs only what follows the COPY of the code.
    std::fs::write(dir.join("app.py"), "print('v2')\n").unwrap();
    let third = build(&env, &dir, &["-t", "app:2"]);
    assert!(
        outcome(&third.stderr, "RUN cat").contains("CACHED"),
        "{}",
        third.stderr
    );
    assert!(
        outcome(&third.stderr, "COPY . .").contains("DONE"),
        "{}",
        third.stderr
    );
    assert_eq!(env.berth(&["run", "--rm", "app:2"]).ok(), "print('v2')\n");
    // A dependency change re-runs the install.
    std::fs::write(dir.join("requirements.txt"), "flask\ngunicorn\n").unwrap();
    let fourth = build(&env, &dir, &["-t", "app:3"]);
    assert!(
        outcome(&fourth.stderr, "RUN cat").contains("DONE"),
        "{}",
        fourth.stderr
    );
    assert_eq!(
        env.berth(&["run", "--rm", "app:3", "cat", "/deps.txt"])
            .ok(),
        "flask\ngunicorn\n"
    );
    // --no-cache runs everything.
    let fifth = build(&env, &dir, &["--no-cache", "-t", "app:3"]);
    assert!(outcome(&fifth.stderr, "COPY requirements.txt").contains("DONE"));
    env.check_clean();
}

#[test]
fn multi_stage_runtime_copies_the_artifact_and_runs_as_non_root() {
    let env = Env::with_busybox();
    let df = "FROM busybox AS build\nRUN mkdir /out && echo artifact > /out/app && echo junk > /out/junk\n\nFROM busybox\nCOPY --from=build /out/app /usr/local/bin/app\nUSER nobody\nCMD [\"cat\", \"/usr/local/bin/app\"]\n";
    let dir = context(&env, "ctx", &[("Dockerfile", df)]);
    build(&env, &dir, &["-t", "multi"]).ok();
    assert_eq!(env.berth(&["run", "--rm", "multi"]).ok(), "artifact\n");
    assert_eq!(
        env.berth(&["run", "--rm", "multi", "id", "-u"]).ok(),
        "65534\n"
    );
    env.berth(&["run", "--rm", "multi", "test", "!", "-e", "/out/junk"])
        .ok();
    let layers = env
        .berth(&["image", "inspect", "-f", "{{len .RootFS.Layers}}", "multi"])
        .ok();
    assert_eq!(
        layers.trim(),
        "2",
        "busybox's layer and the COPY: nothing from the build stage"
    );
    let hist = env
        .berth(&[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            "multi",
        ])
        .ok();
    assert!(
        hist.contains("COPY /out/app /usr/local/bin/app # buildkit")
            && hist.contains("USER nobody"),
        "{hist}"
    );
}

#[test]
fn targets_pick_one_stage() {
    let env = Env::with_busybox();
    let df = "FROM busybox AS base\nENV MODE=base\nFROM base AS development\nENV MODE=development\nFROM base AS production\nENV MODE=production\nRUN echo prod > /marker\n";
    let dir = context(&env, "ctx", &[("Dockerfile", df)]);
    let dev = build(&env, &dir, &["--target", "development", "-t", "app:dev"]);
    assert_eq!(dev.code, 0, "{}", dev.stderr);
    assert!(
        !dev.stderr.contains("RUN echo prod"),
        "only the stages the target needs: {}",
        dev.stderr
    );
    assert_eq!(
        env.berth(&["run", "--rm", "app:dev", "sh", "-c", "echo $MODE"])
            .ok(),
        "development\n"
    );
    build(&env, &dir, &["--target", "production", "-t", "app:prod"]).ok();
    assert_eq!(
        env.berth(&[
            "run",
            "--rm",
            "app:prod",
            "sh",
            "-c",
            "echo $MODE; cat /marker"
        ])
        .ok(),
        "production\nprod\n"
    );
    let r = build(&env, &dir, &["--target", "nosuch"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("target stage \"nosuch\" could not be found"),
        "{}",
        r.stderr
    );
}

#[test]
fn cache_mounts_survive_and_stay_out_of_the_image() {
    let env = Env::with_busybox();
    let df = "FROM busybox\nRUN --mount=type=cache,target=/cache echo run >> /cache/log && wc -l < /cache/log > /count\n";
    let dir = context(&env, "ctx", &[("Dockerfile", df)]);
    build(&env, &dir, &["-t", "c:1"]).ok();
    build(&env, &dir, &["--no-cache", "-t", "c:2"]).ok();
    assert_eq!(
        env.berth(&["run", "--rm", "c:2", "cat", "/count"])
            .ok()
            .trim(),
        "2",
        "the cache kept the first run's line"
    );
    env.berth(&[
        "run",
        "--rm",
        "c:2",
        "sh",
        "-c",
        "test -z \"$(ls -A /cache 2>/dev/null)\"",
    ])
    .ok();
}

#[test]
fn dockerignore_with_an_exception() {
    let env = Env::with_busybox();
    let df = "FROM busybox\nCOPY . /ctx\n";
    let dir = context(
        &env,
        "ctx",
        &[
            ("Dockerfile", df),
            (".dockerignore", "*.md\n!README.md\nsecrets/\n"),
            ("README.md", "readme"),
            ("NOTES.md", "notes"),
            ("secrets/key", "k"),
            ("src/main.rs", "fn main() {}"),
        ],
    );
    build(&env, &dir, &["-t", "ign"]).ok();
    let listing = env
        .berth(&[
            "run",
            "--rm",
            "ign",
            "sh",
            "-c",
            "cd /ctx && find . -type f | sort",
        ])
        .ok();
    assert_eq!(
        listing,
        "./.dockerignore\n./Dockerfile\n./README.md\n./src/main.rs\n"
    );
    // An ignored file does not invalidate the cache.
    std::fs::write(dir.join("NOTES.md"), "changed").unwrap();
    assert!(outcome(&build(&env, &dir, &["-t", "ign"]).stderr, "COPY . /ctx").contains("CACHED"));
}

#[test]
fn secrets_args_labels_and_outputs() {
    let env = Env::with_busybox();
    let df = "FROM busybox\nARG VERSION=1\nRUN --mount=type=secret,id=token test \"$(cat /run/secrets/token)\" = s3cret && echo v$VERSION > /v\nLABEL stage=final\n";
    let dir = context(&env, "ctx", &[("Dockerfile", df)]);
    std::fs::write(env.path("token"), "s3cret").unwrap();
    let secret = format!("id=token,src={}", env.path("token").display());
    let iid = env.path("iid");
    let r = env.berth(&[
        "build",
        "-q",
        "--secret",
        &secret,
        "--build-arg",
        "VERSION=7",
        "--label",
        "team=core",
        "--iidfile",
        iid.to_str().unwrap(),
        "-t",
        "s",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "", "-q prints no progress");
    assert_eq!(r.stdout.trim(), std::fs::read_to_string(&iid).unwrap());
    assert_eq!(env.berth(&["run", "--rm", "s", "cat", "/v"]).ok(), "v7\n");
    env.berth(&["run", "--rm", "s", "test", "!", "-e", "/run/secrets/token"])
        .ok();
    let inspect = env.berth(&["image", "inspect", "s"]).ok();
    assert!(
        !inspect.contains("s3cret"),
        "the secret is in no history or config"
    );
    assert_eq!(
        env.berth(&[
            "image",
            "inspect",
            "-f",
            "{{.Config.Labels.team}} {{.Config.Labels.stage}}",
            "s"
        ])
        .ok(),
        "core final\n"
    );
    // A required secret that was not given.
    let df2 = "FROM busybox\nRUN --mount=type=secret,id=missing,required=true true\n";
    let dir2 = context(&env, "ctx2", &[("Dockerfile", df2)]);
    let r = build(&env, &dir2, &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("secret missing not found"),
        "{}",
        r.stderr
    );
    // -f outside the context, and from stdin.
    std::fs::write(
        env.path("Other.Dockerfile"),
        "FROM busybox\nRUN echo other > /o\n",
    )
    .unwrap();
    build(
        &env,
        &dir,
        &[
            "-f",
            env.path("Other.Dockerfile").to_str().unwrap(),
            "-t",
            "other",
        ],
    )
    .ok();
    assert_eq!(
        env.berth(&["run", "--rm", "other", "cat", "/o"]).ok(),
        "other\n"
    );
    let r = env.berth_stdin(
        &[
            "build",
            "-q",
            "-f",
            "-",
            "-t",
            "stdin",
            dir.to_str().unwrap(),
        ],
        b"FROM busybox\nCMD [\"echo\", \"from stdin\"]\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(env.berth(&["run", "--rm", "stdin"]).ok(), "from stdin\n");
}

#[test]
fn bad_input_fails_cleanly() {
    let env = Env::with_busybox();
    let cases: &[(&str, &str)] = &[
        (
            "FROM busybox\nRUNN echo\n",
            "unknown instruction: RUNN (did you mean RUN?)",
        ),
        ("FROM busybox\nRUN <<EOF\nno end\n", "unterminated heredoc"),
        (
            "FROM busybox\nCOPY missing.txt /x\n",
            "\"/missing.txt\": not found",
        ),
        (
            "FROM busybox\nCOPY --from=nosuch /x /x\n",
            "COPY --from=nosuch: no stage of that name, and no such image: cannot reach registry registry-1.docker.io",
        ),
        (
            "FROM nosuchimage\n",
            "failed to resolve source metadata for docker.io/library/nosuchimage:latest",
        ),
        (
            "FROM busybox\nRUN echo failing-output; exit 3\n",
            "did not complete successfully: exit code: 3",
        ),
    ];
    for (i, (df, needle)) in cases.iter().enumerate() {
        let dir = context(&env, &format!("bad{i}"), &[("Dockerfile", df)]);
        let r = build(&env, &dir, &["-t", "bad:latest"]);
        assert_eq!(r.code, 1, "{df}: {}", r.stderr);
        assert!(
            r.stderr.contains(needle),
            "{df}: {needle:?} not in {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("Dockerfile:"),
            "names the Dockerfile line: {}",
            r.stderr
        );
    }
    let failing = build(&env, &context(&env, "bad5", &[]), &[]);
    assert!(
        failing.stderr.contains("failing-output"),
        "the last output lines: {}",
        failing.stderr
    );
    // No half image, no containers, no mounts, no temporary directories left.
    assert_eq!(env.berth(&["images", "-q", "bad"]).ok(), "");
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(env.dir.path().to_str().unwrap()),
        "leaked mount"
    );
    assert_eq!(
        std::fs::read_dir(env.root().join("tmp")).unwrap().count(),
        0
    );
    let r = env.berth(&["build", "/no/such/dir"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("/no/such/dir"), "{}", r.stderr);
    let r = env.berth(&["build", "--network", "bridge0", "."]);
    assert!(r.stderr.contains("not supported"), "{}", r.stderr);
    env.check_clean();
}

#[test]
fn check_lints_instead_of_building() {
    let env = Env::with_busybox();
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", "FROM busybox\nCMD echo hi\n")],
    );
    let r = env.berth(&["build", "--check", dir.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("JSONArgsRecommended"), "{}", r.stdout);
    assert_eq!(
        env.berth(&["images", "-q"]).ok().lines().count(),
        1,
        "nothing was built"
    );
}

#[test]
fn source_date_epoch_makes_builds_reproducible() {
    let env = Env::with_busybox();
    let df = "FROM busybox\nCOPY . /src\nRUN echo built > /out && touch /newfile\nENV A=1\nCMD [\"cat\", \"/out\"]\n";
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", df), ("a.txt", "a"), ("sub/b.txt", "b")],
    );
    let id = |extra: &[&str]| {
        let mut args = vec![
            "build",
            "-q",
            "--no-cache",
            "--build-arg",
            "SOURCE_DATE_EPOCH=1700000000",
        ];
        args.extend_from_slice(extra);
        let d = dir.to_str().unwrap().to_string();
        args.push(&d);
        env.berth(&args).ok().trim().to_string()
    };
    let first = id(&[]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = id(&[]);
    assert_eq!(first, second, "the same inputs give the same image");
    assert_eq!(
        env.berth(&["image", "inspect", "-f", "{{.Created}}", &first])
            .ok()
            .trim(),
        "2023-11-14T22:13:20Z"
    );
    // Without it, times differ and so do the ids.
    let plain = env
        .berth(&["build", "-q", "--no-cache", dir.to_str().unwrap()])
        .ok();
    assert_ne!(plain.trim(), first);
}

#[test]
fn outputs_and_calls() {
    let env = Env::with_busybox();
    let df = "# base stage\nFROM busybox AS base\n# the version to build\nARG VERSION=1.0\n# the app\nFROM base AS app\nRUN echo v > /version\n";
    let dir = context(&env, "ctx", &[("Dockerfile", df)]);
    let out = env.path("out");
    build(
        &env,
        &dir,
        &["--output", &format!("type=local,dest={}", out.display())],
    )
    .ok();
    assert_eq!(std::fs::read_to_string(out.join("version")).unwrap(), "v\n");
    assert!(out.join("bin/busybox").is_file());
    assert_eq!(
        env.berth(&["images", "-q", "--filter", "dangling=true"])
            .ok(),
        "",
        "an untagged export is not kept"
    );
    let tar = env.path("rootfs.tar");
    build(
        &env,
        &dir,
        &["--output", &format!("type=tar,dest={}", tar.display())],
    )
    .ok();
    let names: Vec<String> = tar::Archive::new(std::fs::File::open(&tar).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.contains(&"version".to_string()), "{names:?}");
    let archive = env.path("image.tar");
    build(
        &env,
        &dir,
        &[
            "-t",
            "exported",
            "--output",
            &format!("type=docker,dest={}", archive.display()),
        ],
    )
    .ok();
    let other = Env::new();
    assert!(other
        .berth(&["load", "-i", archive.to_str().unwrap()])
        .ok()
        .contains("Loaded image"));
    let targets = env
        .berth(&["build", "--call", "targets", dir.to_str().unwrap()])
        .ok();
    assert!(
        targets.contains("base") && targets.contains("app (default)"),
        "{targets}"
    );
    let outline = env
        .berth(&["build", "--call", "outline", dir.to_str().unwrap()])
        .ok();
    assert!(
        outline.contains("VERSION")
            && outline.contains("1.0")
            && outline.contains("the version to build"),
        "{outline}"
    );
    let r = build(&env, &dir, &["--output", "type=registry"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("use type=local, tar, oci or docker"),
        "{}",
        r.stderr
    );
}

#[test]
fn builder_prune_and_system_df() {
    let env = Env::with_busybox();
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n",
        )],
    );
    build(&env, &dir, &["-t", "kept"]).ok();
    let df = env.berth(&["system", "df"]).ok();
    assert!(
        df.starts_with("TYPE") && df.contains("Build Cache") && df.contains("Images"),
        "{df}"
    );
    assert_eq!(
        env.berth(&["system", "df", "--format", "{{.Type}}:{{.TotalCount}}"])
            .ok(),
        "Images:2\nContainers:0\nLocal Volumes:0\nBuild Cache:2\n"
    );
    // The image uses the cached layers: a plain prune keeps them, -a drops the cache entries.
    let out = env.berth(&["builder", "prune", "-f"]).ok();
    assert!(out.contains("Total:"), "{out}");
    assert!(outcome(&build(&env, &dir, &["-t", "kept"]).stderr, "RUN echo b").contains("CACHED"));
    env.berth(&["builder", "prune", "-a", "-f", "--filter", "until=1h"])
        .ok();
    assert!(
        outcome(&build(&env, &dir, &["-t", "kept"]).stderr, "RUN echo b").contains("CACHED"),
        "until=1h keeps recent entries"
    );
    let out = env.berth(&["builder", "prune", "-a", "-f"]).ok();
    assert!(out.starts_with("Deleted build cache objects:"), "{out}");
    assert!(outcome(&build(&env, &dir, &["-t", "kept"]).stderr, "RUN echo b").contains("DONE"));
    // The image itself is untouched and the store is sound.
    assert_eq!(env.berth(&["run", "--rm", "kept", "cat", "/b"]).ok(), "b\n");
    env.check_clean();
    env.berth(&["builder", "prune", "-f", "--filter", "label=x"])
        .fails(1, "invalid filter");
}

#[test]
fn ctrl_c_stops_cleanly() {
    let env = Env::with_busybox();
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", "FROM busybox\nRUN echo started && sleep 30\n")],
    );
    let mut child = env
        .cmd(&[
            "build",
            "--progress",
            "plain",
            "-t",
            "never",
            dir.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the RUN step's container is running.
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 1024];
    while !seen.contains("started") {
        let n = std::io::Read::read(&mut stderr, &mut buf).unwrap();
        assert!(n > 0, "build ended early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let t0 = std::time::Instant::now();
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(5),
        "stopped promptly"
    );
    assert_eq!(env.berth(&["images", "-q", "never"]).ok(), "");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(env.dir.path().to_str().unwrap()),
        "leaked mount"
    );
    assert_eq!(
        std::fs::read_dir(env.root().join("tmp")).unwrap().count(),
        0
    );
    env.check_clean();
}

#[test]
fn two_builds_at_once_share_the_cache() {
    let env = Env::with_busybox();
    let dir = context(
        &env,
        "ctx",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY . /src\nRUN ls /src > /list\n",
            ),
            ("a", "a"),
        ],
    );
    common::all_at_once(
        (0..2)
            .map(|i| {
                env.cmd(&[
                    "build",
                    "-q",
                    "-t",
                    &format!("par:{i}"),
                    dir.to_str().unwrap(),
                ])
            })
            .collect(),
    );
    assert_eq!(
        env.berth(&["run", "--rm", "par:1", "cat", "/list"]).ok(),
        "Dockerfile\na\n"
    );
    env.check_clean();
}

#[test]
fn onbuild_triggers_run_in_children() {
    let env = Env::with_busybox();
    let parent = context(
        &env,
        "parent",
        &[(
            "Dockerfile",
            "FROM busybox\nONBUILD RUN echo triggered > /trigger\n",
        )],
    );
    build(&env, &parent, &["-t", "parent"]).ok();
    env.berth(&["run", "--rm", "parent", "test", "!", "-e", "/trigger"])
        .ok();
    let child = context(
        &env,
        "child",
        &[("Dockerfile", "FROM parent\nRUN cat /trigger\n")],
    );
    let r = build(&env, &child, &["-t", "child"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        env.berth(&["run", "--rm", "child", "cat", "/trigger"]).ok(),
        "triggered\n"
    );
    assert!(r.stderr.contains("transferring context:"), "{}", r.stderr);
}

#[test]
fn copy_flags_heredocs_and_add() {
    let env = Env::with_busybox();
    // A tar to ADD: it is extracted.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    b.append_data(&mut h, "inner/x.txt", &b"tar"[..]).unwrap();
    let tar_bytes = b.into_inner().unwrap();
    let dir = context(&env, "ctx", &[
        ("Dockerfile", "FROM busybox\nCOPY --exclude=*.log --parents src/a/one.txt src/b/ /dst/\nCOPY --chmod=750 --chown=nobody:nogroup --link src/a/one.txt /perm.txt\nCOPY <<EOF /conf/app.ini\nname=$NAME\nEOF\nADD archive.tar /unpacked/\nRUN <<EOS sh\necho heredoc-run > /hr\nEOS\n"),
        ("src/a/one.txt", "1"),
        ("src/b/two.txt", "2"),
        ("src/b/noise.log", "log"),
    ]);
    std::fs::write(dir.join("archive.tar"), &tar_bytes).unwrap();
    let r = build(&env, &dir, &["-t", "flags"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = env.berth(&["run", "--rm", "flags", "sh", "-c", "find /dst -type f | sort; stat -c '%a %U %G' /perm.txt; cat /conf/app.ini /unpacked/inner/x.txt /hr"]).ok();
    assert_eq!(
        out,
        "/dst/src/a/one.txt\n/dst/src/b/two.txt\n750 nobody nogroup\nname=\ntarheredoc-run\n"
    );
    let r = build(
        &env,
        &context(
            &env,
            "bad",
            &[(
                "Dockerfile",
                "FROM busybox\nCOPY --chmod=9z9 Dockerfile /x\n",
            )],
        ),
        &[],
    );
    assert!(r.stderr.contains("invalid --chmod=9z9"), "{}", r.stderr);
}

/// A static file server on 127.0.0.1 (python3's http.server), stopped on drop.
struct FileServer {
    child: std::process::Child,
    port: u16,
}

impl FileServer {
    fn start(dir: &Path) -> FileServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "file server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        FileServer { child, port }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn add_downloads_urls_with_checksums() {
    let env = Env::with_busybox();
    let served = env.path("served");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::write(served.join("tool.sh"), "echo downloaded\n").unwrap();
    let server = FileServer::start(&served);
    let url = format!("http://127.0.0.1:{}/tool.sh", server.port);
    let sum = "sha256:".to_string()
        + &{
            let out = std::process::Command::new("sha256sum")
                .arg(served.join("tool.sh"))
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout)[..64].to_string()
        };
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            &format!("FROM busybox\nADD --checksum={sum} {url} /dl/\n"),
        )],
    );
    build(&env, &dir, &["-t", "dl"]).ok();
    assert_eq!(
        env.berth(&[
            "run",
            "--rm",
            "dl",
            "sh",
            "-c",
            "stat -c %a /dl/tool.sh; sh /dl/tool.sh"
        ])
        .ok(),
        "600\ndownloaded\n"
    );
    let wrong = context(
        &env,
        "wrong",
        &[(
            "Dockerfile",
            &format!(
                "FROM busybox\nADD --checksum=sha256:{} {url} /dl/\n",
                "0".repeat(64)
            ),
        )],
    );
    let r = build(&env, &wrong, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("checksum mismatch"), "{}", r.stderr);
    let missing = context(
        &env,
        "missing",
        &[(
            "Dockerfile",
            &format!(
                "FROM busybox\nADD http://127.0.0.1:{}/nope /x\n",
                server.port
            ),
        )],
    );
    let r = build(&env, &missing, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("404"), "{}", r.stderr);
    let copy_url = context(
        &env,
        "copyurl",
        &[("Dockerfile", &format!("FROM busybox\nCOPY {url} /x\n"))],
    );
    assert!(build(&env, &copy_url, &[])
        .stderr
        .contains("COPY cannot fetch URLs"));
}

#[test]
fn terminal_progress_is_compact() {
    let env = Env::with_busybox();
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", "FROM busybox\nRUN echo hidden-output\n")],
    );
    let tty = |progress: &str| env.berth(&["build", "--progress", progress, dir.to_str().unwrap()]);
    let first = tty("tty");
    assert!(
        first.stderr.contains(" => [2/2] RUN echo hidden-output"),
        "{}",
        first.stderr
    );
    assert!(
        !first.stderr.contains("\nhidden-output"),
        "output shows only on failure"
    );
    assert!(first.stderr.contains("[+] Building"), "{}", first.stderr);
    let again = tty("tty");
    assert!(
        again.stderr.contains("CACHED [2/2] RUN"),
        "{}",
        again.stderr
    );
    let r = tty("fancy");
    assert!(r.stderr.contains("invalid --progress"), "{}", r.stderr);
}

#[test]
fn same_size_changes_are_seen_by_the_hash_fast_path() {
    let env = Env::with_busybox();
    let dir = context(
        &env,
        "ctx",
        &[
            ("Dockerfile", "FROM busybox\nCOPY data /data\n"),
            ("data", "aaaa"),
        ],
    );
    // Old enough to be remembered by the fast path.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    let set_old = |p: &Path| {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(old)
            .unwrap()
    };
    set_old(&dir.join("data"));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    build(&env, &dir, &["-t", "fp:1"]).ok();
    assert!(outcome(&build(&env, &dir, &["-t", "fp:1"]).stderr, "COPY data").contains("CACHED"));
    // Same size, same mtime: only the inode change time tells.
    std::fs::write(dir.join("data"), "bbbb").unwrap();
    set_old(&dir.join("data"));
    let r = build(&env, &dir, &["-t", "fp:2"]);
    assert!(
        outcome(&r.stderr, "COPY data").contains("DONE"),
        "{}",
        r.stderr
    );
    assert_eq!(
        env.berth(&["run", "--rm", "fp:2", "cat", "/data"]).ok(),
        "bbbb"
    );
}

#[test]
fn a_fully_cached_rebuild_gives_the_same_image() {
    let env = Env::with_busybox();
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\nENV A=1\nRUN echo x > /x\nCOPY Dockerfile /\nCMD [\"sh\"]\n",
        )],
    );
    let id = || {
        env.berth(&["build", "-q", "-t", "same", dir.to_str().unwrap()])
            .ok()
    };
    let first = id();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        id(),
        first,
        "no new image (and no dangling one) for an unchanged build"
    );
    assert_eq!(
        env.berth(&["images", "-q", "--filter", "dangling=true"])
            .ok(),
        ""
    );
}

#[test]
fn run_steps_get_the_default_bridge_unless_told_otherwise() {
    let env = Env::with_busybox();
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN ip route > /route && ls /sys/class/net > /nets\nRUN --network=none ls /sys/class/net > /none\n",
        )],
    );
    build(&env, &dir, &["-t", "netcheck"]).ok();
    let gateway = env
        .berth(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
            "bridge",
        ])
        .ok();
    let out = env
        .berth(&["run", "--rm", "netcheck", "cat", "/route", "/nets", "/none"])
        .ok();
    assert!(
        out.contains(&format!("default via {} dev eth0", gateway.trim())),
        "{out}"
    );
    assert!(out.ends_with("eth0\nlo\nlo\n"), "{out}");
    // The steps gave their addresses back.
    let db = berth_store::Db::open(&env.root().join("berth.db")).unwrap();
    let bridge = env
        .berth(&["network", "inspect", "-f", "{{.Id}}", "bridge"])
        .ok();
    let held = db
        .lease_address(
            bridge.trim(),
            "probe",
            |held| -> Result<String, berth_store::StoreError> { Ok(format!("{}", held.len())) },
        )
        .unwrap();
    assert_eq!(held, "0", "no lease is left behind");
    env.check_clean();
}

/// docker's depth: images of 125 layers build, run and mount (their lower
/// directories would not fit the mount data page by path); the 126th layer
/// is refused with docker's words, by build and by commit.
#[test]
fn images_of_125_layers_build_and_run() {
    let env = Env::with_busybox();
    let mut files: Vec<(String, String)> = (1..=124)
        .map(|i| (format!("f{i}"), format!("{i}\n")))
        .collect();
    let mut dockerfile = String::from("FROM busybox\n");
    for (name, _) in &files {
        dockerfile.push_str(&format!("COPY {name} /layers/\n"));
    }
    files.push(("Dockerfile".into(), dockerfile.clone()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let dir = context(&env, "deep", &refs);
    build(&env, &dir, &["-t", "deep"]).ok();
    assert_eq!(env.inspect("deep", "{{len .RootFS.Layers}}"), "125");
    assert_eq!(
        env.berth(&[
            "run",
            "--rm",
            "deep",
            "sh",
            "-c",
            "ls /layers | wc -l; cat /layers/f1 /layers/f124"
        ])
        .ok(),
        "124\n1\n124\n"
    );
    // One more layer, by commit or by build: docker's error.
    env.berth(&["run", "--name", "deep-c", "deep", "touch", "/x"])
        .ok();
    env.berth(&["commit", "deep-c", "deeper"])
        .fails(1, "max depth exceeded");
    std::fs::write(dir.join("extra"), "x").unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        format!("{dockerfile}COPY extra /\n"),
    )
    .unwrap();
    let r = build(&env, &dir, &["-t", "deeper"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("max depth exceeded"), "{}", r.stderr);
    assert_eq!(env.berth(&["images", "-q", "deeper"]).ok(), "");
    env.berth(&["rm", "deep-c"]).ok();
    env.check_clean();
}
