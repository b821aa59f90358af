//! Containers end to end: ps, inspect, logs, rename, rm, prune, and many
//! berth processes at once.

mod common;

use common::Env;

fn make(env: &Env, name: &str, extra: &[&str], cmd: &str) {
    let mut args = vec!["run", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", cmd]);
    let r = env.berth(&args);
    assert!(r.code == 0 || cmd.starts_with("exit"), "{}", r.stderr);
}

#[test]
fn ps_columns_flags_and_filters() {
    let env = Env::with_busybox();
    make(&env, "first", &["--label", "tier=web"], "exit 0");
    make(&env, "second", &[], "exit 2");
    env.berth(&[
        "create",
        "--name",
        "third",
        "busybox",
        "echo",
        "a long command line that is truncated",
    ])
    .ok();
    // Only running containers by default: none.
    assert_eq!(
        env.berth(&["ps"]).ok(),
        format!(
            "{:<15}{:<10}{:<10}{:<10}{:<10}{:<10}NAMES\n",
            "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS"
        )
    );
    let all = env.berth(&["ps", "-a"]).ok();
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 4, "{all}");
    assert!(
        lines[1].contains("\"echo a long command…\"")
            && lines[1].contains("Created")
            && lines[1].ends_with("third"),
        "{all}"
    );
    assert!(
        lines[2].contains("Exited (2) ") && lines[2].ends_with("second"),
        "{all}"
    );
    assert!(lines[3].contains("Exited (0) "), "{all}");
    assert_eq!(env.berth(&["ps", "-aq"]).ok().lines().count(), 3);
    assert_eq!(env.berth(&["ps", "-q", "-n", "2"]).ok().lines().count(), 2);
    assert_eq!(
        env.berth(&["ps", "-l", "--format", "{{.Names}}"]).ok(),
        "third\n"
    );
    assert_eq!(
        env.berth(&["ps", "-aq", "--no-trunc"])
            .ok()
            .lines()
            .next()
            .unwrap()
            .len(),
        64
    );
    assert!(env
        .berth(&["ps", "-a", "--no-trunc", "--format", "{{.Command}}"])
        .ok()
        .contains("\"echo a long command line that is truncated\""));
    let f = |filter: &str| {
        env.berth(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"])
            .ok()
    };
    assert_eq!(f("status=exited"), "second\nfirst\n");
    assert_eq!(f("status=created"), "third\n");
    assert_eq!(f("name=sec"), "second\n");
    assert_eq!(f("label=tier=web"), "first\n");
    assert_eq!(f("label=tier"), "first\n");
    assert_eq!(f("exited=2"), "second\n");
    assert_eq!(f("ancestor=busybox"), "third\nsecond\nfirst\n");
    assert_eq!(
        env.berth(&[
            "ps",
            "--filter",
            "status=exited",
            "--filter",
            "name=first",
            "--format",
            "{{.Names}}"
        ])
        .ok(),
        "first\n"
    );
    env.berth(&["ps", "--filter", "bogus=1"])
        .fails(1, "invalid filter 'bogus'");
    env.berth(&["ps", "--filter", "nonsense"])
        .fails(1, "bad format of filter");
    let sized = env.berth(&["ps", "-a", "-s"]).ok();
    assert!(
        sized.lines().next().unwrap().ends_with("SIZE") && sized.contains("(virtual "),
        "{sized}"
    );
    let json = env.berth(&["ps", "-a", "--format", "json", "-n", "1"]).ok();
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["Names"], "third");
    assert_eq!(v["State"], "created");
    let custom = env
        .berth(&[
            "ps",
            "-a",
            "--format",
            "table {{.Names}}\t{{.Status}}",
            "-n",
            "1",
        ])
        .ok();
    assert_eq!(custom, "NAMES     STATUS\nthird     Created\n");
}

#[test]
fn inspect_shows_docker_fields() {
    let env = Env::with_busybox();
    make(
        &env,
        "insp",
        &[
            "-e",
            "X=1",
            "--memory",
            "64m",
            "--cap-add",
            "NET_ADMIN",
            "--read-only",
            "-h",
            "hh",
        ],
        "exit 4",
    );
    let out = env.berth(&["inspect", "insp"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = &v[0];
    assert_eq!(c["Id"].as_str().unwrap().len(), 64);
    assert_eq!(c["Name"], "/insp");
    assert_eq!(c["Path"], "sh");
    assert_eq!(c["Args"], serde_json::json!(["-c", "exit 4"]));
    let state = &c["State"];
    assert_eq!(
        (
            state["Status"].as_str(),
            state["ExitCode"].as_i64(),
            state["Running"].as_bool()
        ),
        (Some("exited"), Some(4), Some(false))
    );
    assert_eq!(state["OOMKilled"], false);
    assert!(state["StartedAt"].as_str().unwrap() <= state["FinishedAt"].as_str().unwrap());
    assert_eq!(c["Config"]["Hostname"], "hh");
    assert_eq!(c["Config"]["Image"], "busybox");
    assert!(c["Config"]["Env"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("X=1")));
    assert_eq!(c["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(c["HostConfig"]["ReadonlyRootfs"], true);
    assert_eq!(c["HostConfig"]["CapAdd"], serde_json::json!(["NET_ADMIN"]));
    assert_eq!(c["HostConfig"]["NetworkMode"], "bridge");
    assert_eq!(c["GraphDriver"]["Name"], "overlay2");
    assert!(c["Image"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(
        env.berth(&[
            "inspect",
            "-f",
            "{{.State.ExitCode}}",
            "--type",
            "container",
            "insp"
        ])
        .ok(),
        "4\n"
    );
    assert_eq!(
        env.berth(&["container", "inspect", "-f", "{{json .Config.Cmd}}", "insp"])
            .ok(),
        "[\"sh\",\"-c\",\"exit 4\"]\n"
    );
    let sized = env
        .berth(&["inspect", "-s", "-f", "{{.SizeRootFs}}", "insp"])
        .ok();
    assert!(sized.trim().parse::<u64>().unwrap() > 1_000_000);
    env.berth(&["container", "inspect", "busybox"])
        .fails(1, "No such container: busybox");
    env.berth(&["inspect", "--type", "volume", "insp"])
        .fails(1, "is not a valid value for --type");
}

#[test]
fn logs_tail_timestamps_and_times() {
    let env = Env::with_busybox();
    make(
        &env,
        "logger",
        &[],
        "for i in 1 2 3 4 5; do echo line$i; done",
    );
    let all = env.berth(&["logs", "logger"]);
    assert_eq!(all.stdout, "line1\nline2\nline3\nline4\nline5\n");
    assert_eq!(all.stderr, "");
    assert_eq!(
        env.berth(&["logs", "--tail", "2", "logger"]).stdout,
        "line4\nline5\n"
    );
    assert_eq!(
        env.berth(&["logs", "-n", "3", "logger"]).stdout,
        "line3\nline4\nline5\n"
    );
    let ts = env.berth(&["logs", "-t", "--tail", "2", "logger"]).stdout;
    let first = ts.lines().next().unwrap();
    assert!(
        first.ends_with("Z line4") && first.starts_with("20"),
        "{first}"
    );
    assert_eq!(
        env.berth(&["logs", "--since", "1h", "logger"])
            .stdout
            .lines()
            .count(),
        5
    );
    assert_eq!(env.berth(&["logs", "--until", "1h", "logger"]).stdout, "");
    assert_eq!(
        env.berth(&["logs", "--since", "2099-01-01T00:00:00Z", "logger"])
            .stdout,
        ""
    );
    env.berth(&["logs", "--since", "yesterday", "logger"])
        .fails(1, "invalid value for --since");
    env.berth(&["logs", "--tail", "x", "logger"])
        .fails(1, "invalid value for --tail");
    env.berth(&["logs", "nosuch"])
        .fails(1, "No such container: nosuch");
}

#[test]
fn rename_rm_and_prune() {
    let env = Env::with_busybox();
    make(&env, "old", &[], "true");
    make(&env, "taken", &[], "true");
    env.berth(&["rename", "old", "new"]).ok();
    assert_eq!(env.inspect("new", "{{.Name}}"), "/new");
    env.berth(&["rename", "new", "taken"])
        .fails(1, "is already in use");
    env.berth(&["rename", "new", "bad name"])
        .fails(1, "Invalid container name");
    env.berth(&["rename", "nosuch", "x1"])
        .fails(1, "No such container: nosuch");
    env.berth(&["rename", "new", "new"]).fails(1, "same name");
    assert_eq!(
        env.berth(&["rm", "new", "nosuch", "taken"])
            .fails(1, "No such container: nosuch")
            .stdout,
        "new\ntaken\n"
    );
    make(&env, "p1", &[], "true");
    make(&env, "p2", &[], "true");
    let out = env.berth(&["container", "prune", "-f"]).ok();
    assert!(
        out.starts_with("Deleted Containers:\n") && out.lines().count() >= 3,
        "{out}"
    );
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    // Prune without -f asks, and "no" keeps everything.
    make(&env, "kept", &[], "true");
    let r = env.berth_stdin(&["container", "prune"], b"n\n");
    assert_eq!(r.code, 0);
    assert_eq!(env.berth(&["ps", "-aq"]).ok().lines().count(), 1);
    // Filters: labels (and their absence), and age.
    env.berth(&[
        "run",
        "--name",
        "tmp1",
        "--label",
        "env=test",
        "busybox",
        "sh",
        "-c",
        "echo x > /x",
    ])
    .ok();
    env.berth(&[
        "run", "--name", "keep1", "--label", "keep", "busybox", "true",
    ])
    .ok();
    let out = env
        .berth(&["container", "prune", "-f", "--filter", "label=env=test"])
        .ok();
    assert!(
        !out.contains(&env.inspect("kept", "{{.Id}}")) && out.lines().count() == 4,
        "{out}"
    );
    assert!(
        !out.ends_with("Total reclaimed space: 0B\n"),
        "the written file is reclaimed: {out}"
    );
    let out = env
        .berth(&["container", "prune", "-f", "--filter", "until=1h"])
        .ok();
    assert_eq!(out, "Total reclaimed space: 0B\n", "nothing is an hour old");
    env.berth(&["container", "prune", "-f", "--filter", "label!=keep"])
        .ok();
    let mut left: Vec<String> = env
        .berth(&["ps", "-a", "--format", "{{.Names}}"])
        .ok()
        .lines()
        .map(String::from)
        .collect();
    left.sort();
    assert_eq!(left, ["keep1"]);
    env.berth(&["container", "prune", "-f", "--filter", "colour=red"])
        .fails(1, "invalid filter");
    env.check_clean();
}

#[test]
fn running_containers_are_refused_by_rm_without_force() {
    let env = Env::with_busybox();
    let child = env
        .cmd(&["run", "--name", "busy", "busybox", "sleep", "30"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    env.wait_running();
    assert!(env.berth(&["ps"]).ok().contains("Up "));
    env.berth(&["rm", "busy"]).fails(
        1,
        "container is running: stop the container before removing or force remove",
    );
    // As docker's: start -a of a running container attaches to it.
    let attached = env
        .cmd(&["start", "-a", "busy"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    env.berth(&["rmi", "busybox"])
        .fails(1, "image is being used by running container");
    std::thread::sleep(std::time::Duration::from_millis(200));
    env.berth(&["rm", "-f", "busy"]).ok();
    assert_eq!(
        attached.wait_with_output().unwrap().status.code(),
        Some(137)
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(137),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
}

#[test]
fn a_killed_berth_leaves_a_truthful_record() {
    let env = Env::with_busybox();
    let mut child = env
        .cmd(&["run", "--name", "orphan", "busybox", "sleep", "30"])
        .spawn()
        .unwrap();
    env.wait_running();
    let pid: i32 = env.inspect("orphan", "{{.State.Pid}}").parse().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    // The container's init outlives its berth; once it is gone, ps says so.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    common::wait_until("the container to exit", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    assert_eq!(
        env.inspect("orphan", "{{.State.Status}} {{.State.Running}}"),
        "exited false"
    );
    assert_eq!(env.berth(&["ps", "-q"]).ok(), "");
}

#[test]
fn twenty_berths_at_once() {
    let env = Env::with_busybox();
    common::all_at_once(
        (0..20)
            .map(|i| env.cmd(&["run", "--name", &format!("c{i:02}"), "busybox", "true"]))
            .collect(),
    );
    assert_eq!(
        env.berth(&["ps", "-a", "--filter", "status=exited", "-q"])
            .ok()
            .lines()
            .count(),
        20
    );
    for out in common::all_at_once((0..20).map(|_| env.cmd(&["ps", "-aq"])).collect()) {
        assert_eq!(out.lines().count(), 20);
    }
    env.check_clean();
}

#[test]
fn info_version_and_completion() {
    let env = Env::with_busybox();
    let info = env.berth(&["info"]).ok();
    assert!(
        info.contains("Images: 1") && info.contains("Storage Driver: overlay2"),
        "{info}"
    );
    assert_eq!(env.berth(&["info", "--format", "{{.Images}}"]).ok(), "1\n");
    assert!(env.berth(&["version"]).ok().contains("Version:"));
    assert_eq!(
        env.berth(&["version", "--format", "{{.Client.Version}}"])
            .ok()
            .trim(),
        env!("CARGO_PKG_VERSION")
    );
    assert!(env.berth(&["--version"]).ok().starts_with("berth version "));
    assert!(env.berth(&["completion", "bash"]).ok().contains("_berth"));
    assert!(env.berth(&["run", "--help"]).ok().contains("--hostname"));
    assert_eq!(
        env.berth(&["completion", "tcsh"]).code,
        125,
        "unknown shell is a usage error"
    );
}

#[test]
fn wait_reports_the_exit_the_container_made() {
    let env = Env::with_busybox();
    // The monitor's cleanup after the exit must not look, to a concurrent
    // `wait`, like a lost monitor (which reads as 137).
    for _ in 0..10 {
        let id = env
            .berth(&["run", "-d", "busybox", "sh", "-c", "exit 3"])
            .ok();
        assert_eq!(env.berth(&["wait", id.trim()]).ok(), "3\n");
        env.berth(&["rm", id.trim()]).ok();
    }
}

#[test]
fn detached_containers_stop_kill_wait_restart_and_follow() {
    let env = Env::with_busybox();
    let id = env
        .berth(&[
            "run",
            "-d",
            "--name",
            "bg",
            "busybox",
            "sh",
            "-c",
            "echo hello; sleep 30",
        ])
        .ok();
    assert_eq!(id.trim().len(), 64, "run -d prints the full id");
    assert!(
        env.berth(&["ps"]).ok().contains("Up "),
        "running when run -d returns"
    );
    common::wait_until("the first log line", || {
        env.berth(&["logs", "bg"]).stdout == "hello\n"
    });
    // sleep as pid 1 ignores SIGTERM: stop kills it after -t.
    let t0 = std::time::Instant::now();
    assert_eq!(env.berth(&["stop", "-t", "1", "bg"]).ok(), "bg\n");
    assert!(t0.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(env.berth(&["wait", "bg"]).ok(), "137\n");
    assert_eq!(
        env.inspect("bg", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    // start (detached) and restart bring it back; kill stops it.
    assert_eq!(env.berth(&["start", "bg"]).ok(), "bg\n");
    assert_eq!(env.inspect("bg", "{{.State.Running}}"), "true");
    env.berth(&["restart", "-t", "0", "bg"]).ok();
    assert_eq!(env.inspect("bg", "{{.State.Running}}"), "true");
    env.berth(&["kill", "-s", "TERM", "bg"]).ok();
    env.berth(&["kill", "bg"]).ok();
    assert_eq!(env.berth(&["wait", "bg"]).ok(), "137\n");
    env.berth(&["kill", "bg"]).fails(1, "is not running");
    env.berth(&["kill", "-s", "NOPE", "bg"])
        .fails(1, "invalid signal");
    // logs -f follows until the container stops.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo line$i; sleep 0.2; done",
    ])
    .ok();
    assert_eq!(
        env.berth(&["logs", "-f", "talker"]).ok(),
        "line1\nline2\nline3\n"
    );
    // -d with --rm removes it after it exits; a missing command is still 127.
    env.berth(&["run", "-d", "--rm", "--name", "brief", "busybox", "true"])
        .ok();
    common::wait_until("--rm to remove it", || {
        env.berth(&["ps", "-a", "--filter", "name=brief", "-q"])
            .stdout
            .is_empty()
    });
    env.berth(&["run", "-d", "busybox", "nosuchcmd"])
        .fails(127, "executable file not found");
    env.berth(&["stop", "nosuch"])
        .fails(1, "No such container: nosuch");
    env.check_clean();
}

#[test]
fn exec_joins_a_running_container() {
    let env = Env::with_busybox();
    env.berth(&[
        "run", "-d", "--name", "target", "-e", "FOO=bar", "-w", "/tmp", "busybox", "sleep", "60",
    ])
    .ok();
    assert_eq!(
        env.berth(&[
            "exec",
            "target",
            "sh",
            "-c",
            "echo $FOO; pwd; cat /proc/1/cmdline | tr '\\0' ' '"
        ])
        .ok(),
        "bar\n/tmp\nsleep 60 "
    );
    assert_eq!(
        env.berth(&[
            "exec",
            "-u",
            "nobody",
            "-w",
            "/",
            "-e",
            "X=1",
            "target",
            "sh",
            "-c",
            "id -u; pwd; echo $X"
        ])
        .ok(),
        "65534\n/\n1\n"
    );
    assert_eq!(env.berth(&["exec", "target", "sh", "-c", "exit 5"]).code, 5);
    env.berth(&["exec", "target", "nosuch"])
        .fails(127, "executable file not found");
    assert_eq!(
        env.berth_stdin(&["exec", "-i", "target", "cat"], b"piped\n")
            .ok(),
        "piped\n"
    );
    env.berth(&[
        "exec",
        "-d",
        "target",
        "sh",
        "-c",
        "echo detached > /tmp/mark",
    ])
    .ok();
    common::wait_until("the detached exec", || {
        env.berth(&["exec", "target", "cat", "/tmp/mark"]).stdout == "detached\n"
    });
    let caps = env
        .berth(&[
            "exec",
            "--privileged",
            "target",
            "grep",
            "CapEff",
            "/proc/self/status",
        ])
        .ok();
    let bits = u64::from_str_radix(caps.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert!(
        bits & (1 << 21) != 0,
        "CAP_SYS_ADMIN with --privileged: {caps}"
    );
    // A PTY session, driven through a terminal.
    let (mut child, mut master) =
        common::spawn_in_pty(env.cmd(&["exec", "-it", "target", "sh"]), None);
    let mut seen = String::new();
    std::io::Write::write_all(&mut master, b"tty; echo in-$((6*7))\r").unwrap();
    common::read_until(&mut master, &mut seen, "in-42");
    assert!(seen.contains("/dev/pts/"), "{seen}");
    std::io::Write::write_all(&mut master, b"exit 3\r").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(3));
    env.berth(&["rm", "-f", "target"]).ok();
    env.berth(&["exec", "target", "true"])
        .fails(1, "No such container: target");
    env.berth(&["create", "--name", "idle", "busybox", "true"])
        .ok();
    env.berth(&["exec", "idle", "true"])
        .fails(1, "is not running");
}

#[test]
fn pause_unpause_and_diff() {
    let env = Env::with_busybox();
    env.berth(&["run", "-d", "--name", "pz", "busybox", "sh", "-c", "mkdir /newdir && echo x > /newdir/f && echo y >> /etc/passwd && rm /bin/vi && while true; do date +%s%N > /tmp/tick; sleep 0.05; done"]).ok();
    common::wait_until("the first tick", || {
        env.berth(&["exec", "pz", "cat", "/tmp/tick"]).code == 0
    });
    env.berth(&["pause", "pz"]).ok();
    assert!(env.berth(&["ps"]).ok().contains("(Paused)"));
    assert_eq!(
        env.inspect("pz", "{{.State.Status}} {{.State.Paused}}"),
        "paused true"
    );
    env.berth(&["exec", "pz", "true"]).fails(1, "is paused");
    env.berth(&["pause", "pz"]).fails(1, "already paused");
    let diff = env.berth(&["diff", "pz"]).ok();
    for line in [
        "A /newdir",
        "A /newdir/f",
        "C /etc",
        "C /etc/passwd",
        "D /bin/vi",
        "C /tmp",
    ] {
        assert!(diff.lines().any(|l| l == line), "{line} in:\n{diff}");
    }
    env.berth(&["unpause", "pz"]).ok();
    assert_eq!(env.inspect("pz", "{{.State.Status}}"), "running");
    env.berth(&["unpause", "pz"]).fails(1, "is not paused");
    // A paused container still stops (it is thawed first).
    env.berth(&["pause", "pz"]).ok();
    env.berth(&["stop", "-t", "1", "pz"]).ok();
    assert_eq!(env.inspect("pz", "{{.State.Status}}"), "exited");
    env.berth(&["pause", "pz"]).fails(1, "is not running");
}

#[test]
fn top_lists_the_container_processes() {
    let env = Env::with_busybox();
    env.berth(&[
        "run",
        "-d",
        "--name",
        "busy",
        "busybox",
        "sh",
        "-c",
        "sleep 31 & sleep 32",
    ])
    .ok();
    common::wait_until("both sleeps", || {
        env.berth(&["top", "busy"]).stdout.contains("sleep 32")
    });
    let out = env.berth(&["top", "busy"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("PID") && lines[0].contains("CMD"),
        "{out}"
    );
    assert!(
        out.contains("sleep 31") && out.contains("sleep 32"),
        "{out}"
    );
    assert_eq!(
        lines.len(),
        3,
        "the two sleeps (sh exec-ed the last), nothing from the host: {out}"
    );
    let custom = env.berth(&["top", "busy", "-o", "pid,comm"]).ok();
    assert!(
        custom.lines().next().unwrap().contains("COMMAND"),
        "{custom}"
    );
    env.berth(&["top", "busy", "-o", "comm"])
        .fails(1, "no PID column");
    env.berth(&["rm", "-f", "busy"]).ok();
    env.berth(&["top", "nosuch"]).fails(1, "No such container");
}

/// The pid of a container's monitor process.
fn monitor_pid(env: &Env, name: &str) -> i32 {
    let id = env.inspect(name, "{{.Id}}");
    let out = std::process::Command::new("pgrep")
        .args(["-f", &format!("container-monitor {id}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_else(|| panic!("no monitor for {name}"))
        .parse()
        .unwrap()
}

#[test]
fn restart_policies_bring_crashing_containers_back_with_backoff() {
    let env = Env::with_busybox();
    // on-failure:2 — the first run and two restarts, then it stays down.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "twice",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo ran; exit 3",
    ])
    .ok();
    common::wait_until("two restarts", || {
        env.inspect("twice", "{{.RestartCount}} {{.State.Status}}") == "2 exited"
    });
    assert_eq!(env.berth(&["logs", "twice"]).ok(), "ran\nran\nran\n");
    assert_eq!(env.inspect("twice", "{{.State.ExitCode}}"), "3");
    assert_eq!(
        env.inspect(
            "twice",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure:2"
    );
    // A clean exit is not a failure.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "clean",
        "--restart",
        "on-failure",
        "busybox",
        "true",
    ])
    .ok();
    common::wait_until("it to exit", || {
        env.inspect("clean", "{{.State.Status}}") == "exited"
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(env.inspect("clean", "{{.RestartCount}}"), "0");

    // always — restarts, with delays that double (100, 200, 400, 800 ms ...).
    env.berth(&[
        "run",
        "-d",
        "--name",
        "crashy",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "exit 1",
    ])
    .ok();
    std::thread::sleep(std::time::Duration::from_millis(1600));
    let restarts: u32 = env.inspect("crashy", "{{.RestartCount}}").parse().unwrap();
    assert!(
        (2..=6).contains(&restarts),
        "backoff keeps restarts few: {restarts} in 1.6 s"
    );
    let status = env
        .berth(&[
            "ps",
            "-a",
            "--filter",
            "name=crashy",
            "--format",
            "{{.Status}}",
        ])
        .ok();
    assert!(
        status.starts_with("Restarting (1)") || status.starts_with("Up "),
        "{status}"
    );
    // stop ends it for good, even between two runs.
    env.berth(&["stop", "-t", "1", "crashy"]).ok();
    let after = env.inspect("crashy", "{{.RestartCount}}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        env.inspect("crashy", "{{.RestartCount}} {{.State.Status}}"),
        format!("{after} exited")
    );
    // start applies the policy again; kill ends it too.
    env.berth(&["start", "crashy"]).ok();
    common::wait_until("a restart", || {
        env.inspect("crashy", "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap()
            > after.parse().unwrap()
    });
    // A monitor killed while it waits to restart leaves the container truthfully exited.
    common::wait_until("the restart wait", || {
        env.inspect("crashy", "{{.State.Status}}") == "restarting"
    });
    unsafe { libc::kill(monitor_pid(&env, "crashy"), libc::SIGKILL) };
    common::wait_until("exited", || {
        env.inspect("crashy", "{{.State.Status}}") == "exited"
    });

    // Bad input.
    env.berth(&["run", "--restart", "sometimes", "busybox", "true"])
        .fails(125, "invalid restart policy format: sometimes");
    env.berth(&["run", "--restart", "always:3", "busybox", "true"])
        .fails(
            125,
            "maximum retry count cannot be used with restart policy 'always'",
        );
    env.refuses_run(
        &["--restart", "always"],
        "Conflicting options: --restart and --rm",
    );
    env.check_clean();
}

#[test]
fn start_all_brings_back_what_a_reboot_stopped() {
    let env = Env::with_busybox();
    for (name, policy) in [
        ("aa", "always"),
        ("uu", "unless-stopped"),
        ("ss", "unless-stopped"),
        ("nn", "no"),
    ] {
        env.berth(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            "busybox",
            "sleep",
            "600",
        ])
        .ok();
    }
    env.berth(&["stop", "-t", "0", "ss"]).ok();
    // A reboot: every monitor and container process dies at once.
    for name in ["aa", "uu", "nn"] {
        let pid: i32 = env.inspect(name, "{{.State.Pid}}").parse().unwrap();
        let monitor = monitor_pid(&env, name);
        unsafe {
            libc::kill(monitor, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
    }
    common::wait_until("all down", || env.berth(&["ps", "-q"]).ok().is_empty());
    assert_eq!(
        env.inspect("aa", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    // What the shipped systemd unit runs at boot.
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../contrib/systemd/berth-restart.service"
    ))
    .unwrap();
    assert!(unit.contains(
        "start --all --filter restart-policy=always --filter restart-policy=unless-stopped"
    ));
    let out = env
        .berth(&[
            "start",
            "--all",
            "--filter",
            "restart-policy=always",
            "--filter",
            "restart-policy=unless-stopped",
        ])
        .ok();
    let mut started: Vec<&str> = out.lines().collect();
    started.sort();
    assert_eq!(
        started,
        ["aa", "uu"],
        "the stopped unless-stopped and the no-policy containers stay down"
    );
    let mut running: Vec<String> = env
        .berth(&["ps", "--format", "{{.Names}}"])
        .ok()
        .lines()
        .map(String::from)
        .collect();
    running.sort();
    assert_eq!(running, ["aa", "uu"]);
    env.berth(&["start", "--all", "--filter", "policy=x"])
        .fails(1, "invalid filter 'policy=x'");
    env.berth(&["rm", "-f", "aa", "uu", "ss", "nn"]).ok();
}

#[test]
fn healthchecks_report_starting_healthy_and_unhealthy() {
    let env = Env::with_busybox();
    env.berth(&[
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    let status = || {
        env.berth(&["ps", "--filter", "name=hc", "--format", "{{.Status}}"])
            .ok()
    };
    assert!(status().ends_with("(health: starting)\n"), "{}", status());
    common::wait_until("unhealthy", || {
        env.inspect("hc", "{{.State.Health.Status}}") == "unhealthy"
    });
    assert!(status().ends_with("(unhealthy)\n"), "{}", status());
    let health: serde_json::Value =
        serde_json::from_str(&env.inspect("hc", "{{json .State.Health}}")).unwrap();
    assert!(health["FailingStreak"].as_u64().unwrap() >= 2);
    let log = health["Log"].as_array().unwrap();
    assert!(!log.is_empty() && log.len() <= 5);
    assert_eq!(log[0]["ExitCode"], 1);
    env.berth(&["exec", "hc", "touch", "/tmp/ok"]).ok();
    common::wait_until("healthy", || {
        env.inspect("hc", "{{.State.Health.Status}}") == "healthy"
    });
    assert!(status().ends_with("(healthy)\n"), "{}", status());
    assert_eq!(env.inspect("hc", "{{.State.Health.FailingStreak}}"), "0");
    assert_eq!(
        env.berth(&["ps", "--filter", "health=healthy", "--format", "{{.Names}}"])
            .ok(),
        "hc\n"
    );

    // A probe that runs past its timeout fails with docker's message.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 5",
        "--health-timeout",
        "300ms",
        "--health-interval",
        "100ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    common::wait_until("a timed-out probe", || {
        env.inspect("slow", "{{.State.Health.Status}}") == "unhealthy"
    });
    assert!(env
        .inspect("slow", "{{json .State.Health.Log}}")
        .contains("Health check exceeded timeout"));

    // Failures in the start period do not count: it stays starting.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "warming",
        "--health-cmd",
        "false",
        "--health-interval",
        "100ms",
        "--health-retries",
        "1",
        "--health-start-period",
        "30s",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    common::wait_until("probes in the start period", || {
        env.inspect("warming", "{{len .State.Health.Log}}") != "0"
    });
    assert_eq!(
        env.inspect(
            "warming",
            "{{.State.Health.Status}} {{.State.Health.FailingStreak}}"
        ),
        "starting 0"
    );
    env.berth(&["rm", "-f", "warming"]).ok();

    // The image's HEALTHCHECK, and --no-healthcheck turning it off.
    let ctx = env.path("hc-image");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nHEALTHCHECK --interval=200ms CMD true\n",
    )
    .unwrap();
    env.berth(&["build", "-q", "-t", "checked", ctx.to_str().unwrap()])
        .ok();
    env.berth(&["run", "-d", "--name", "img", "checked", "sleep", "60"])
        .ok();
    common::wait_until("healthy from the image's check", || {
        env.inspect("img", "{{.State.Health.Status}}") == "healthy"
    });
    env.berth(&[
        "run",
        "-d",
        "--name",
        "off",
        "--no-healthcheck",
        "checked",
        "sleep",
        "60",
    ])
    .ok();
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(env.inspect("off", "{{json .State.Health}}"), "null");
    assert_eq!(
        env.inspect("off", "{{json .Config.Healthcheck}}"),
        r#"{"Test":["NONE"]}"#
    );

    env.berth(&["run", "--health-interval", "soon", "busybox", "true"])
        .fails(
            125,
            "invalid argument \"soon\" for \"--health-interval\" flag",
        );
    env.berth(&[
        "run",
        "--no-healthcheck",
        "--health-cmd",
        "true",
        "busybox",
        "true",
    ])
    .fails(125, "--no-healthcheck conflicts with --health-* options");
    env.berth(&["rm", "-f", "hc", "slow", "img", "off"]).ok();
}

#[test]
fn logs_rotate_and_follow_across_rotation() {
    let env = Env::with_busybox();
    let id = env
        .berth(&[
            "run",
            "-d",
            "--name",
            "chatty",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=3",
            "busybox",
            "sh",
            "-c",
            "sleep 0.3; i=0; while [ $i -lt 150 ]; do echo line $i; i=$((i+1)); sleep 0.01; done",
        ])
        .ok();
    let follower = env
        .cmd(&["logs", "-f", id.trim()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = follower.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let expected: String = (0..150).map(|i| format!("line {i}\n")).collect();
    assert_eq!(
        text, expected,
        "logs -f lost or repeated lines across rotations"
    );
    let log = env.inspect("chatty", "{{.LogPath}}");
    for n in ["", ".1", ".2"] {
        let size = std::fs::metadata(format!("{log}{n}")).unwrap().len();
        assert!(size <= 1024, "{log}{n}: {size} bytes");
    }
    assert!(
        !std::path::Path::new(&format!("{log}.3")).exists(),
        "max-file=3 keeps three files"
    );
    let kept = env.berth(&["logs", "chatty"]).ok();
    assert!(
        kept.ends_with("line 149\n") && !kept.starts_with("line 0\n"),
        "{kept}"
    );
    assert_eq!(
        env.inspect("chatty", "{{json .HostConfig.LogConfig}}"),
        r#"{"Config":{"max-file":"3","max-size":"1k"},"Type":"json-file"}"#
    );

    env.berth(&[
        "run",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "busybox",
        "echo",
        "hi",
    ])
    .ok();
    env.berth(&["logs", "quiet"])
        .fails(1, "configured logging driver does not support reading");
    env.berth(&["run", "--log-opt", "max-size=lots", "busybox", "true"])
        .fails(125, "invalid log opt max-size=lots");
    env.berth(&["run", "--log-opt", "colour=blue", "busybox", "true"])
        .fails(125, "unknown log opt 'colour' for json-file log driver");
    env.berth(&["run", "--log-opt", "max-file=2", "busybox", "true"])
        .fails(125, "max-file cannot be used without max-size");
    env.berth(&["run", "--log-driver", "syslog", "busybox", "true"])
        .fails(125, "logging driver \"syslog\" is not supported");
}

#[test]
fn export_and_commit_a_containers_filesystem() {
    let env = Env::with_busybox();
    env.berth(&[
        "run",
        "--name",
        "src",
        "busybox",
        "sh",
        "-c",
        "echo made > /made && rm /bin/yes",
    ])
    .ok();
    let diff = env.berth(&["diff", "src"]).ok();
    assert!(
        diff.contains("A /made\n") && diff.contains("D /bin/yes\n"),
        "{diff}"
    );
    for stub in ["/etc/hostname", "/proc", "/sys", "/dev"] {
        assert!(
            !diff.lines().any(|l| l.ends_with(stub)),
            "the runtime's {stub} is no change: {diff}"
        );
    }
    // export: the whole tree, as the container sees it.
    let tar_path = env.path("src.tar");
    env.berth(&["export", "-o", tar_path.to_str().unwrap(), "src"])
        .ok();
    let mut names = Vec::new();
    for e in tar::Archive::new(std::fs::File::open(&tar_path).unwrap())
        .entries()
        .unwrap()
    {
        names.push(e.unwrap().path().unwrap().to_string_lossy().into_owned());
    }
    assert!(
        names.iter().any(|n| n == "made") && names.iter().any(|n| n == "bin/busybox"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n == "bin/yes"),
        "deleted files are not exported"
    );
    let piped = env.cmd(&["export", "src"]).output().unwrap();
    assert!(piped.status.success() && piped.stdout.len() > 1_000_000);

    // commit: the changes as a layer, with the container's config and --change.
    let id = env
        .berth(&[
            "commit",
            "-a",
            "me <me@example.com>",
            "-m",
            "snapshot",
            "-c",
            "CMD [\"cat\", \"/made\"]",
            "src",
            "snap:1",
        ])
        .ok();
    assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id}");
    assert_eq!(env.berth(&["run", "--rm", "snap:1"]).ok(), "made\n");
    env.berth(&["run", "--rm", "snap:1", "ls", "/bin/yes"])
        .fails_in_container("No such file");
    assert_eq!(
        env.berth(&[
            "image",
            "inspect",
            "-f",
            "{{.Author}} {{.Comment}}",
            "snap:1"
        ])
        .ok()
        .trim(),
        "me <me@example.com> snapshot"
    );
    let history = env
        .berth(&["history", "--format", "{{.Comment}}", "snap:1"])
        .ok();
    assert_eq!(history.lines().next(), Some("snapshot"));

    // A running container is frozen for the commit, and runs on after it.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "live",
        "busybox",
        "sh",
        "-c",
        "echo live > /live; sleep 60",
    ])
    .ok();
    common::wait_until("the file", || {
        env.berth(&["exec", "live", "cat", "/live"]).stdout == "live\n"
    });
    env.berth(&["commit", "live", "live:1"]).ok();
    assert_eq!(env.inspect("live", "{{.State.Status}}"), "running");
    assert_eq!(
        env.berth(&["run", "--rm", "live:1", "cat", "/live"]).ok(),
        "live\n"
    );
    env.berth(&["rm", "-f", "live"]).ok();

    env.berth(&["commit", "nosuch"])
        .fails(1, "No such container: nosuch");
    env.berth(&["commit", "src", "Bad:Ref!"])
        .fails(1, "invalid reference format");
    env.berth(&[
        "export",
        "-o",
        env.path("x.tar").to_str().unwrap(),
        "nosuch",
    ])
    .fails(1, "No such container");
    assert!(!env.path("x.tar").exists());
    env.check_clean();
}

#[test]
fn stop_signal_and_stop_timeout() {
    let env = Env::with_busybox();
    env.berth(&[
        "run",
        "-d",
        "--name",
        "trapper",
        "--stop-signal",
        "USR1",
        "--stop-timeout",
        "1",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got usr1' USR1; while true; do sleep 0.1; done",
    ])
    .ok();
    assert_eq!(
        env.inspect("trapper", "{{.Config.StopSignal}} {{.Config.StopTimeout}}"),
        "USR1 1"
    );
    let started = std::time::Instant::now();
    env.berth(&["stop", "trapper"]).ok();
    let took = started.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(900) && took < std::time::Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(env.berth(&["logs", "trapper"]).ok(), "got usr1\n");
    assert_eq!(env.inspect("trapper", "{{.State.ExitCode}}"), "137");
    env.berth(&["run", "--stop-signal", "BOGUS", "busybox", "true"])
        .fails(125, "invalid signal: BOGUS");
}

/// A cgroup v1 (or v2) file of a container.
fn cgroup_file(env: &Env, name: &str, v1: &str, v2: &str) -> String {
    let id = env.inspect(name, "{{.Id}}");
    let path = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        format!("/sys/fs/cgroup/berth/{id}/{v2}")
    } else {
        format!("/sys/fs/cgroup/{v1}").replace("{id}", &id)
    };
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_string()
}

#[test]
fn stats_and_update_read_and_change_the_cgroup() {
    let env = Env::with_busybox();
    env.berth(&[
        "run",
        "-d",
        "--name",
        "burner",
        "--memory",
        "64m",
        "busybox",
        "sh",
        "-c",
        "while true; do :; done",
    ])
    .ok();
    env.berth(&["run", "-d", "--name", "idle", "busybox", "sleep", "60"])
        .ok();
    env.berth(&["create", "--name", "stopped", "busybox", "true"])
        .ok();
    let out = env.berth(&["stats", "--no-stream"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    let header: Vec<&str> = lines[0]
        .split("  ")
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ],
        "{out}"
    );
    assert_eq!(lines.len(), 3, "running containers only: {out}");
    let row = |name: &str, all: bool| {
        let mut args = vec![
            "stats",
            "--no-stream",
            "--format",
            "{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}|{{.NetIO}}",
        ];
        if all {
            args.push("-a");
        }
        args.push(name);
        env.berth(&args).ok().trim().to_string()
    };
    let burner = row("burner", false);
    let fields: Vec<&str> = burner.split('|').collect();
    let cpu: f64 = fields[0].trim_end_matches('%').parse().unwrap();
    assert!(cpu > 40.0, "a busy loop shows CPU: {burner}");
    assert!(fields[1].ends_with(" / 64MiB"), "{burner}");
    assert_eq!(fields[2], "1", "{burner}");
    // The container's eth0 counts (IPv6 neighbour discovery, at least).
    let (rx, tx) = fields[3].split_once(" / ").unwrap();
    assert!(rx.ends_with('B') && tx.ends_with('B'), "{burner}");
    assert!(
        row("idle", false).starts_with("0.0"),
        "{}",
        row("idle", false)
    );
    assert_eq!(row("stopped", true), "--|-- / --|--|-- / --");

    // update: limits change in the running container's cgroup and in the record.
    let out = env
        .berth(&[
            "update",
            "--memory",
            "128m",
            "--memory-swap",
            "256m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "20",
            "--restart",
            "on-failure:3",
            "idle",
        ])
        .ok();
    assert_eq!(out, "idle\n");
    assert_eq!(
        cgroup_file(
            &env,
            "idle",
            "memory/berth/{id}/memory.limit_in_bytes",
            "memory.max"
        ),
        "134217728"
    );
    assert_eq!(
        cgroup_file(&env, "idle", "pids/berth/{id}/pids.max", "pids.max"),
        "20"
    );
    let quota = cgroup_file(&env, "idle", "cpu/berth/{id}/cpu.cfs_quota_us", "cpu.max");
    assert!(quota.starts_with("50000"), "{quota}");
    assert_eq!(
        env.inspect("idle", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}"),
        "134217728 500000000 20 on-failure"
    );
    // A stopped container takes them at its next start.
    env.berth(&["update", "--memory", "32m", "stopped"]).ok();
    assert_eq!(env.inspect("stopped", "{{.HostConfig.Memory}}"), "33554432");

    env.berth(&["update", "--memory", "1k", "idle"])
        .fails(1, "Minimum memory limit allowed is 6MB");
    env.berth(&["update", "--memory", "512m", "idle"]).fails(
        1,
        "Memory limit should be smaller than already set memoryswap limit",
    );
    env.berth(&["update", "--cpus", "999", "idle"])
        .fails(1, "Range of CPUs is from 0.01");
    env.berth(&["update", "--restart", "never", "idle"])
        .fails(1, "invalid restart policy format");
    env.berth(&["update", "--memory", "64m", "nosuch"])
        .fails(1, "No such container: nosuch");
    assert_eq!(
        env.inspect("idle", "{{.HostConfig.Memory}}"),
        "134217728",
        "a refused update changes nothing"
    );
    env.berth(&["rm", "-f", "burner", "idle", "stopped"]).ok();
}

#[test]
fn cp_both_ways_with_tar_streams() {
    let env = Env::with_busybox();
    env.berth(&["run", "-d", "--name", "box", "busybox", "sh", "-c",
        "mkdir -p /data/sub && echo one > /data/a && echo two > /data/sub/b && ln -s /etc/passwd /data/link && ln -s / /escape && sleep 60"]).ok();
    common::wait_until("the files", || {
        env.berth(&["exec", "box", "test", "-L", "/escape"]).code == 0
    });
    let host = env.path("host");
    std::fs::create_dir_all(&host).unwrap();
    // Out of the container: a file, a directory (into an existing dir, and as a new name), contents with /.
    env.berth(&["cp", "box:/data/a", host.to_str().unwrap()])
        .ok();
    assert_eq!(std::fs::read_to_string(host.join("a")).unwrap(), "one\n");
    env.berth(&["cp", "box:/data", host.to_str().unwrap()]).ok();
    assert_eq!(
        std::fs::read_to_string(host.join("data/sub/b")).unwrap(),
        "two\n"
    );
    assert!(
        std::fs::symlink_metadata(host.join("data/link"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "links stay links"
    );
    env.berth(&["cp", "box:/data/.", host.join("copy").to_str().unwrap()])
        .ok();
    assert_eq!(
        std::fs::read_to_string(host.join("copy/sub/b")).unwrap(),
        "two\n"
    );
    // -L follows the link; paths resolve inside the container, never on the host.
    env.berth(&[
        "cp",
        "-L",
        "box:/data/link",
        host.join("passwd").to_str().unwrap(),
    ])
    .ok();
    assert!(std::fs::read_to_string(host.join("passwd"))
        .unwrap()
        .starts_with("root:x:0:0:root"));
    let host_hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    env.berth(&[
        "cp",
        "box:/escape/etc/hostname",
        host.join("h").to_str().unwrap(),
    ])
    .ok();
    let copied = std::fs::read_to_string(host.join("h")).unwrap_or_default();
    assert!(
        copied != host_hostname || copied.is_empty(),
        "read the container's file, not the host's"
    );
    // A tar on stdout.
    let tar = env.cmd(&["cp", "box:/data", "-"]).output().unwrap();
    assert!(tar.status.success());
    let names: Vec<String> = tar::Archive::new(&tar.stdout[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"data/sub/b".to_string()), "{names:?}");

    // Into the container: a file as a new name, a directory, and a tar on stdin.
    std::fs::write(host.join("new.txt"), "hello\n").unwrap();
    std::os::unix::fs::chown(host.join("new.txt"), Some(1234), Some(1234)).unwrap();
    env.berth(&[
        "cp",
        host.join("new.txt").to_str().unwrap(),
        "box:/tmp/renamed.txt",
    ])
    .ok();
    assert_eq!(
        env.berth(&["exec", "box", "cat", "/tmp/renamed.txt"]).ok(),
        "hello\n"
    );
    assert_eq!(
        env.berth(&["exec", "box", "stat", "-c", "%u", "/tmp/renamed.txt"])
            .ok(),
        "0\n",
        "root-owned without -a"
    );
    env.berth(&[
        "cp",
        "-a",
        host.join("new.txt").to_str().unwrap(),
        "box:/tmp/",
    ])
    .ok();
    assert_eq!(
        env.berth(&["exec", "box", "stat", "-c", "%u", "/tmp/new.txt"])
            .ok(),
        "1234\n",
        "-a keeps owners"
    );
    env.berth(&["cp", host.join("copy").to_str().unwrap(), "box:/tmp"])
        .ok();
    assert_eq!(
        env.berth(&["exec", "box", "cat", "/tmp/copy/sub/b"]).ok(),
        "two\n"
    );
    env.berth_stdin(&["cp", "-", "box:/tmp"], &tar.stdout).ok();
    assert_eq!(
        env.berth(&["exec", "box", "cat", "/tmp/data/a"]).ok(),
        "one\n"
    );
    // Through a link to / inside the container: still inside the container.
    env.berth(&[
        "cp",
        host.join("new.txt").to_str().unwrap(),
        "box:/escape/tmp/via-link",
    ])
    .ok();
    assert_eq!(
        env.berth(&["exec", "box", "cat", "/tmp/via-link"]).ok(),
        "hello\n"
    );
    assert!(!std::path::Path::new("/tmp/via-link").exists());
    // A stopped container too.
    env.berth(&["stop", "-t", "0", "box"]).ok();
    env.berth(&[
        "cp",
        "box:/tmp/renamed.txt",
        host.join("after-stop").to_str().unwrap(),
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(host.join("after-stop")).unwrap(),
        "hello\n"
    );

    env.berth(&["cp", "box:/nope", host.to_str().unwrap()])
        .fails(1, "box:/nope");
    env.berth(&["cp", "nosuch:/a", host.to_str().unwrap()])
        .fails(1, "No such container: nosuch");
    env.berth(&["cp", "a", "b"])
        .fails(1, "must specify at least one container source");
    env.berth(&["cp", "box:/a", "box:/b"])
        .fails(1, "copying between containers is not supported");
    env.berth(&["cp", "box:/data", host.join("a").to_str().unwrap()])
        .fails(1, "cannot copy directory");
    env.berth(&["cp", "box:/data/a", "/nonexistent-dir/x"])
        .fails(1, "destination directory /nonexistent-dir does not exist");
    env.berth(&["rm", "-f", "box"]).ok();
    env.check_clean();
}

#[test]
fn events_record_what_every_berth_did() {
    let env = Env::with_busybox();
    let start = chrono_now_secs();
    // A follower started first sees what happens next.
    let mut follower = KillOnDrop(
        env.cmd(&[
            "events",
            "--filter",
            "type=container",
            "--filter",
            "container=ev",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    env.berth(&[
        "run", "--name", "ev", "--label", "team=a", "busybox", "sh", "-c", "exit 3",
    ])
    .fails_in_container("");
    env.berth(&["rename", "ev", "ev2"]).ok();
    env.berth(&["rm", "ev2"]).ok();
    env.berth(&["tag", "busybox", "busybox:other"]).ok();
    env.berth(&["rmi", "busybox:other"]).ok();
    let past = env
        .berth(&[
            "events",
            "--since",
            &start.to_string(),
            "--until",
            &(chrono_now_secs() + 1).to_string(),
        ])
        .ok();
    let actions: Vec<&str> = past
        .lines()
        .map(|l| l.split(' ').nth(2).unwrap_or(""))
        .collect();
    for a in [
        "create", "start", "die", "rename", "destroy", "tag", "untag",
    ] {
        assert!(actions.contains(&a), "{a} missing from {past}");
    }
    let die = past
        .lines()
        .find(|l| l.contains(" container die "))
        .unwrap();
    assert!(
        die.contains("exitCode=3")
            && die.contains("image=busybox")
            && die.contains("name=ev")
            && die.contains("team=a"),
        "{die}"
    );
    assert!(die.split(' ').next().unwrap().ends_with('Z'), "{die}");
    // Filters and JSON.
    let images = env
        .berth(&[
            "events",
            "--since",
            &start.to_string(),
            "--until",
            &(chrono_now_secs() + 1).to_string(),
            "--filter",
            "type=image",
            "--format",
            "{{json .}}",
        ])
        .ok();
    let tag: serde_json::Value = images
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["Action"] == "tag")
        .unwrap_or_else(|| panic!("no tag event: {images}"));
    assert_eq!(tag["Type"], "image");
    assert_eq!(tag["Actor"]["Attributes"]["name"], "busybox:other");
    let first = tag;
    assert!(first["timeNano"].as_i64().unwrap() > 0 && first["scope"] == "local");
    let templated = env
        .berth(&[
            "events",
            "--since",
            &start.to_string(),
            "--until",
            &(chrono_now_secs() + 1).to_string(),
            "--filter",
            "event=die",
            "--format",
            "{{.Actor.Attributes.exitCode}}",
        ])
        .ok();
    assert_eq!(templated, "3\n");
    // The follower got the container's events as they happened (only ev's).
    unsafe { libc::kill(follower.0.id() as i32, libc::SIGTERM) };
    let mut seen = String::new();
    std::io::Read::read_to_string(follower.0.stdout.as_mut().unwrap(), &mut seen).unwrap();
    let followed: Vec<&str> = seen
        .lines()
        .map(|l| l.split(' ').nth(2).unwrap_or(""))
        .collect();
    assert_eq!(&followed[..3], ["create", "start", "die"], "{seen}");
    assert!(!seen.contains(" image "), "{seen}");
    env.berth(&["events", "--filter", "colour=red"])
        .fails(1, "invalid filter 'colour'");
    env.berth(&["events", "--since", "yesterday-ish"])
        .fails(1, "invalid value for --since");
}

/// A child process killed when the test ends, passing or failing.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chrono_now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn attach_to_detached_containers() {
    let env = Env::with_busybox();
    // Output from now on, and the container's exit code.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "late",
        "busybox",
        "sh",
        "-c",
        "echo early; sleep 1; echo late; exit 4",
    ])
    .ok();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let r = env.berth(&["attach", "late"]);
    assert_eq!((r.code, r.stdout.as_str()), (4, "late\n"), "{}", r.stderr);

    // stdin of a -i container, through the attach.
    env.berth(&[
        "run",
        "-d",
        "-i",
        "--name",
        "reader",
        "busybox",
        "sh",
        "-c",
        "read line; echo got $line; exit 7",
    ])
    .ok();
    let r = env.berth_stdin(&["attach", "reader"], b"hello\n");
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (7, "got hello\n"),
        "{}",
        r.stderr
    );

    // A terminal: typed input, then Ctrl-P Ctrl-Q detaches and the container runs on.
    env.berth(&["run", "-d", "-it", "--name", "shell", "busybox", "sh"])
        .ok();
    let (mut child, mut master) =
        common::spawn_in_pty(env.cmd(&["attach", "shell"]), Some((24, 80)));
    std::thread::sleep(std::time::Duration::from_millis(300));
    use std::io::Write as _;
    master.write_all(b"echo typed-$((6*7))\r").unwrap();
    let mut seen = String::new();
    common::read_until(&mut master, &mut seen, "typed-42");
    master.write_all(&[0x10, 0x11]).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    common::read_until(&mut master, &mut seen, "read escape sequence");
    assert_eq!(env.inspect("shell", "{{.State.Status}}"), "running");

    env.berth(&["attach", "late"]).fails(
        1,
        "You cannot attach to a stopped container, start it first",
    );
    env.berth(&["attach", "nosuch"])
        .fails(1, "No such container: nosuch");
    env.berth(&["rm", "-f", "shell", "late", "reader"]).ok();
}

#[test]
fn init_reaps_forwards_and_exits_as_the_command() {
    let env = Env::with_busybox();
    // pid 1 is the built-in init; the command is its child.
    let out = env
        .berth(&[
            "run",
            "--rm",
            "--init",
            "busybox",
            "sh",
            "-c",
            "echo $$; ps -o pid,comm | grep '^ *1 '",
        ])
        .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], "1", "{out}");
    assert!(lines[1].trim().ends_with("berth-init"), "{out}");
    assert_eq!(
        env.berth(&["run", "--rm", "busybox", "sh", "-c", "echo $$"])
            .ok(),
        "1\n"
    );
    // Orphans are reaped: no zombie is left behind.
    let ps = env
        .berth(&[
            "run",
            "--rm",
            "--init",
            "busybox",
            "sh",
            "-c",
            "(sleep 0.1 &); sleep 0.6; ps -o stat,comm",
        ])
        .ok();
    assert!(!ps.lines().any(|l| l.trim_start().starts_with('Z')), "{ps}");
    // The exit code, and signals passed on (stop's SIGTERM reaches the shell's trap).
    assert_eq!(
        env.berth(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 5"])
            .code,
        5
    );
    env.berth(&[
        "run",
        "-d",
        "--init",
        "--name",
        "trap",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 9' TERM; while true; do sleep 0.1; done",
    ])
    .ok();
    env.berth(&["stop", "-t", "5", "trap"]).ok();
    assert_eq!(
        env.inspect("trap", "{{.State.ExitCode}} {{.HostConfig.Init}}"),
        "9 true"
    );
    env.berth(&["rm", "trap"]).ok();
}

#[test]
fn system_df_verbose_and_port() {
    let env = Env::with_busybox();
    env.berth(&[
        "run",
        "--name",
        "sized",
        "busybox",
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /blob",
    ])
    .ok();
    let out = env.berth(&["system", "df", "-v"]).ok();
    let sections: Vec<&str> = out
        .lines()
        .filter(|l| l.ends_with("space usage:"))
        .collect();
    assert_eq!(
        sections,
        [
            "Images space usage:",
            "Containers space usage:",
            "Local Volumes space usage:"
        ],
        "{out}"
    );
    assert!(
        out.contains("REPOSITORY   TAG       IMAGE ID       CREATED")
            && out.contains("SHARED SIZE   UNIQUE SIZE   CONTAINERS"),
        "{out}"
    );
    let image_line = out.lines().find(|l| l.starts_with("busybox ")).unwrap();
    assert!(
        image_line.trim_end().ends_with(" 1"),
        "one container uses it: {image_line}"
    );
    let container_line = out
        .lines()
        .find(|l| l.trim_end().ends_with(" sized"))
        .unwrap();
    assert!(container_line.contains("100kB"), "{container_line}");
    assert!(out.contains("\nBuild cache usage: "), "{out}");
    // No container publishes ports until bridge networking: docker's answers for that.
    assert_eq!(env.berth(&["port", "sized"]).ok(), "");
    env.berth(&["port", "sized", "80"])
        .fails(1, "No public port '80/tcp' published for sized");
    env.berth(&["port", "sized", "eighty"])
        .fails(1, "invalid port");
    env.berth(&["port", "nosuch"])
        .fails(1, "No such container: nosuch");
}

#[test]
fn run_attach_streams_logs_details_and_concurrent_starts() {
    let env = Env::with_busybox();
    // -a picks the streams a foreground run shows; the log keeps both.
    let r = env.berth(&[
        "run",
        "--name",
        "streams",
        "-a",
        "stdout",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, "out\n", "")
    );
    let r = env.berth(&[
        "run",
        "--rm",
        "-a",
        "STDERR",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", "err\n"));
    let logs = env.berth(&["logs", "streams"]);
    assert_eq!(
        (logs.stdout.as_str(), logs.stderr.as_str()),
        ("out\n", "err\n")
    );
    assert_eq!(
        env.berth(&["logs", "--details", "streams"]).stdout,
        " out\n"
    );
    env.berth(&["run", "-d", "-a", "stdout", "busybox", "true"])
        .fails(125, "Conflicting options: -a and -d");
    env.berth(&["run", "-a", "stdweird", "busybox", "true"])
        .fails(125, "valid streams are STDIN, STDOUT and STDERR");

    // Five starts of one container at once start it once.
    env.berth(&[
        "create",
        "--name",
        "once",
        "busybox",
        "sh",
        "-c",
        "echo started; sleep 30",
    ])
    .ok();
    for out in common::all_at_once((0..5).map(|_| env.cmd(&["start", "once"])).collect()) {
        assert_eq!(out, "once\n");
    }
    common::wait_until("its output", || {
        env.berth(&["logs", "once"]).stdout == "started\n"
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        env.berth(&["logs", "once"]).stdout,
        "started\n",
        "one run, not five"
    );
    let id = env.inspect("once", "{{.Id}}");
    let monitors = std::process::Command::new("pgrep")
        .args(["-fc", &format!("container-monitor {id}")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&monitors.stdout).trim(), "1");
    env.berth(&["rm", "-f", "once", "streams"]).ok();
    env.berth(&["system", "prune", "-f", "--volumes"]).ok();
}
