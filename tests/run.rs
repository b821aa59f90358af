//! `berth run` / `create` / `start -a` end to end: real namespaces, cgroups,
//! seccomp and overlayfs, on a busybox image.

mod common;

use std::os::unix::process::CommandExt;

use common::Env;

#[test]
fn exit_codes_follow_docker() {
    let env = Env::with_busybox();
    assert_eq!(env.sh(&[], "exit 0").code, 0);
    assert_eq!(env.sh(&[], "exit 3").code, 3);
    env.berth(&["run", "--rm", "busybox", "nosuchcmd"])
        .fails(127, "executable file not found in $PATH");
    env.berth(&["run", "--rm", "busybox", "/no/such/path"])
        .fails(127, "no such file or directory");
    env.berth(&["run", "--rm", "busybox", "/etc"])
        .fails(126, "is a directory");
    env.berth(&["run", "--rm", "busybox", "/etc/passwd"])
        .fails(126, "permission denied");
    env.berth(&["run", "--rm", "--pull", "never", "nosuchimage"])
        .fails(125, "No such image: nosuchimage");
    // A missing image is pulled; here the registry cannot be reached.
    let r = env
        .berth(&["run", "--rm", "nosuchimage"])
        .fails(125, "cannot reach registry registry-1.docker.io");
    assert!(r
        .stderr
        .starts_with("Unable to find image 'nosuchimage:latest' locally\n"));
    env.berth(&["run", "--rm", "Bad:Ref"])
        .fails(125, "invalid reference format");
    assert_eq!(
        env.berth(&["run", "--rm", "--bogus-flag", "busybox"]).code,
        125,
        "unknown flag exits 125"
    );
    // A command killed by a signal reports 128 + signal.
    assert_eq!(env.sh(&[], "sh -c 'kill -9 $$'; exit $?").code, 137);
    // Nothing was left behind by --rm, failed or not.
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    env.check_clean();
}

#[test]
fn streams_are_separate_and_logged() {
    let env = Env::with_busybox();
    let r = env.berth(&[
        "run",
        "--name",
        "s1",
        "busybox",
        "sh",
        "-c",
        "echo out; echo err >&2",
    ]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, "out\n", "err\n")
    );
    let logs = env.berth(&["logs", "s1"]);
    assert_eq!(
        (logs.stdout.as_str(), logs.stderr.as_str()),
        ("out\n", "err\n")
    );
    let raw = std::fs::read_to_string(env.inspect("s1", "{{.LogPath}}")).unwrap();
    let entries: Vec<serde_json::Value> = raw
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let out = entries
        .iter()
        .find(|e| e["stream"] == "stdout")
        .expect("a stdout entry");
    assert_eq!(out["log"], "out\n");
    assert!(out["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(entries.len(), 2);
}

#[test]
fn env_workdir_entrypoint_hostname_labels() {
    let env = Env::with_busybox();
    std::fs::write(env.path("envfile"), "# comment\nFROM_FILE=yes\nA=file\n").unwrap();
    let out = env
        .sh(
            &[
                "-e",
                "A=flag",
                "-e",
                "B=two words",
                "--env-file",
                env.path("envfile").to_str().unwrap(),
                "-w",
                "/tmp",
                "-h",
                "myhost",
            ],
            "echo $A,$B,$FROM_FILE; pwd; hostname; cat /etc/hostname",
        )
        .ok();
    assert_eq!(out, "flag,two words,yes\n/tmp\nmyhost\nmyhost\n");
    // --entrypoint replaces the image's, and the command follows it.
    assert_eq!(
        env.berth(&["run", "--rm", "--entrypoint", "echo", "busybox", "a", "b"])
            .ok(),
        "a b\n"
    );
    // A relative or missing workdir is created / refused as docker does.
    assert_eq!(env.sh(&["-w", "/new/dir"], "pwd").ok(), "/new/dir\n");
    env.refuses_run(&["-w", "rel"], "it needs to be an absolute path");
    env.refuses_run(&["--env-file", "/no/such/file"], "/no/such/file");
    env.refuses_run(&["-e", "=x"], "invalid environment variable");
    env.berth(&[
        "run", "--name", "l1", "--label", "a=b", "--label", "c", "busybox", "true",
    ])
    .ok();
    assert_eq!(
        env.inspect("l1", "{{json .Config.Labels}}"),
        r#"{"a":"b","c":""}"#
    );
}

#[test]
fn users_resolve_in_the_image() {
    let env = Env::with_busybox();
    assert_eq!(
        env.sh(&[], "id").ok(),
        "uid=0(root) gid=0(root) groups=0(root)\n".replace(" groups=0(root)", "")
    );
    assert_eq!(
        env.sh(&["-u", "app"], "id -u; id -g; id -G").ok(),
        "1000\n1000\n1000 50\n"
    );
    assert_eq!(
        env.sh(&["-u", "nobody:app"], "id -u; id -g").ok(),
        "65534\n1000\n"
    );
    assert_eq!(
        env.sh(&["-u", "4242:4343"], "id -u; id -g").ok(),
        "4242\n4343\n"
    );
    env.refuses_run(&["-u", "nosuch"], "unable to find user nosuch");
    env.refuses_run(&["-u", "app:nogrp"], "unable to find group nogrp");
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
}

#[test]
fn names_are_unique_and_generated() {
    let env = Env::with_busybox();
    env.berth(&["create", "--name", "web", "busybox", "true"])
        .ok();
    env.berth(&["run", "--name", "web", "busybox", "true"])
        .fails(125, "is already in use by container");
    env.berth(&["run", "--name", "bad name!", "busybox", "true"])
        .fails(125, "Invalid container name");
    let id = env.berth(&["create", "busybox", "true"]).ok();
    let name = env.inspect(id.trim(), "{{.Name}}");
    assert!(
        name.starts_with('/') && name.contains('_'),
        "docker-style name: {name}"
    );
}

#[test]
fn create_then_start_attached() {
    let env = Env::with_busybox();
    let id = env
        .berth(&["create", "--name", "c1", "busybox", "echo", "hi"])
        .ok();
    assert_eq!(id.trim().len(), 64);
    assert_eq!(env.inspect("c1", "{{.State.Status}}"), "created");
    assert_eq!(env.berth(&["start", "-a", "c1"]).ok(), "hi\n");
    assert_eq!(
        env.inspect(
            "c1",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}"
        ),
        "exited 0 false"
    );
    // A second start runs it again, as docker does.
    assert_eq!(env.berth(&["start", "-a", "c1"]).ok(), "hi\n");
    env.berth(&["start", "-a", "nosuch"])
        .fails(125, "No such container: nosuch");
}

#[test]
fn interactive_stdin() {
    let env = Env::with_busybox();
    let r = env.berth_stdin(
        &["run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z"],
        b"hello\n",
    );
    assert_eq!(r.stdout, "HELLO\n");
    // Without -i the container's stdin is empty.
    let r = env.berth_stdin(&["run", "--rm", "busybox", "cat"], b"ignored\n");
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
}

#[test]
fn tty_gives_a_terminal() {
    let env = Env::with_busybox();
    let (mut child, mut master) = common::spawn_in_pty(
        env.cmd(&[
            "run",
            "--rm",
            "-t",
            "busybox",
            "sh",
            "-c",
            "tty; stty size; echo TERM=$TERM",
        ]),
        None,
    );
    let status = child.wait().unwrap();
    let mut out = Vec::new();
    let _ = std::io::Read::read_to_end(&mut master, &mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(status.success(), "{text}");
    assert!(text.contains("/dev/pts/"), "{text}");
    assert!(text.contains("TERM=xterm"), "{text}");
}

#[test]
fn mounts_binds_tmpfs_and_read_only() {
    let env = Env::with_busybox();
    let data = env.path("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("in"), "from host").unwrap();
    let bind = format!("{}:/data", data.display());
    assert_eq!(
        env.sh(&["-v", &bind], "cat /data/in; echo back > /data/out")
            .ok(),
        "from host"
    );
    assert_eq!(std::fs::read_to_string(data.join("out")).unwrap(), "back\n");
    let ro = format!("{}:/data:ro", data.display());
    env.sh(&["-v", &ro], "echo x > /data/x")
        .fails_in_container("Read-only file system");
    // -v creates a missing host directory, as docker does; --mount refuses it.
    let created = env.path("created");
    env.sh(&["-v", &format!("{}:/c", created.display())], "true")
        .ok();
    assert!(created.is_dir());
    env.refuses_run(
        &["--mount", "type=bind,source=/no/such,target=/x"],
        "bind source path does not exist: /no/such",
    );
    let m = format!("type=bind,source={},target=/m,readonly", data.display());
    env.sh(&["--mount", &m], "touch /m/x")
        .fails_in_container("Read-only file system");
    assert_eq!(
        env.sh(
            &["--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m"],
            "df -k /scratch | tail -1 | awk '{print $2}'"
        )
        .ok(),
        "1024\n"
    );
    env.sh(&["--read-only"], "touch /x")
        .fails_in_container("Read-only file system");
    assert!(env
        .sh(
            &["--read-only", "--tmpfs", "/tmp"],
            "touch /tmp/x && grep ' /tmp ' /proc/mounts | cut -d' ' -f3",
        )
        .ok()
        .contains("tmpfs"));
    env.refuses_run(
        &["-v", "./relative:/x"],
        "includes invalid characters for a local volume name",
    );
    env.refuses_run(&["-v", "/a:/b:bogus"], "invalid mode: bogus");
    env.refuses_run(&["--mount", "type=nfs,target=/x"], "mount type unknown");
    env.berth(&["run", "--name", "mnt", "-v", &ro, "busybox", "true"])
        .ok();
    let mounts: serde_json::Value =
        serde_json::from_str(&env.inspect("mnt", "{{json .Mounts}}")).unwrap();
    assert_eq!(mounts[0]["Destination"], "/data");
    assert_eq!(mounts[0]["RW"], false);
}

#[test]
fn etc_files_and_networks() {
    let env = Env::with_busybox();
    let out = env
        .sh(
            &[],
            "cat /etc/hosts; ls /sys/class/net; test -f /etc/resolv.conf && echo resolv",
        )
        .ok();
    assert!(out.starts_with("127.0.0.1\tlocalhost\n"), "{out}");
    assert!(
        out.ends_with("lo\nresolv\n"),
        "only loopback in --network none: {out}"
    );
    // Loopback is up: a server and client in the container talk over 127.0.0.1.
    env.sh(
        &["--network", "none"],
        "nc -l -p 7777 -e echo pong & sleep 0.2; nc 127.0.0.1 7777 | grep pong",
    )
    .ok();
    // The host's interfaces (leaving out the bridges and veths that tests
    // running beside this one make and remove meanwhile).
    let stable = |names: Vec<String>| -> Vec<String> {
        let mut v: Vec<String> = names
            .into_iter()
            .filter(|n| !["veth", "bt-", "br-"].iter().any(|p| n.starts_with(p)))
            .collect();
        v.sort();
        v
    };
    let host_ifaces = stable(
        std::fs::read_dir("/sys/class/net")
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
    );
    let out = env.sh(&["--network", "host"], "ls /sys/class/net").ok();
    assert_eq!(stable(out.lines().map(String::from).collect()), host_ifaces);
    env.refuses_run(&["--network", "bogus"], "network bogus not found");
}

#[test]
fn capabilities_like_docker() {
    let env = Env::with_busybox();
    // docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
    // NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP = 0xa80425fb.
    assert_eq!(
        env.sh(&[], "grep CapEff /proc/self/status").ok(),
        "CapEff:\t00000000a80425fb\n"
    );
    assert_eq!(
        env.sh(
            &["--cap-drop", "ALL", "--cap-add", "chown"],
            "grep CapEff /proc/self/status"
        )
        .ok(),
        "CapEff:\t0000000000000001\n"
    );
    assert_eq!(
        env.sh(&["--cap-drop", "NET_RAW"], "grep CapEff /proc/self/status")
            .ok(),
        "CapEff:\t00000000a80405fb\n"
    );
    env.sh(&["--cap-add", "NET_ADMIN"], "ip link set lo down")
        .ok();
    env.sh(&[], "ip link set lo down")
        .fails_in_container("Operation not permitted");
    env.refuses_run(&["--cap-add", "BOGUS"], "unknown capability: \"BOGUS\"");
    let privileged = env.sh(&["--privileged"], "grep -E 'CapEff|Seccomp:' /proc/self/status; mkdir /m; mount -t tmpfs t /m && echo mounted").ok();
    assert!(
        privileged.contains("Seccomp:\t0") && privileged.contains("mounted"),
        "{privileged}"
    );
    // The host's devices are there, as docker gives them to privileged containers.
    let host_dev = std::fs::read_dir("/dev")
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| {
            use std::os::unix::fs::FileTypeExt;
            let t = e.file_type().unwrap();
            (t.is_char_device() || t.is_block_device())
                && ![
                    "null", "zero", "full", "random", "urandom", "tty", "console", "ptmx",
                ]
                .contains(&e.file_name().to_str().unwrap())
        });
    if let Some(dev) = host_dev {
        let name = dev.file_name().to_string_lossy().into_owned();
        env.sh(&["--privileged"], &format!("test -e /dev/{name}"))
            .ok();
        env.sh(&[], &format!("test ! -e /dev/{name}")).ok();
    }
}

#[test]
fn seccomp_and_no_new_privileges() {
    let env = Env::with_busybox();
    assert!(env
        .sh(&[], "grep Seccomp: /proc/self/status")
        .ok()
        .contains('2'));
    // The default profile refuses what needs CAP_SYS_ADMIN, even with the cap added...
    env.sh(&["--cap-add", "SYS_ADMIN"], "mkdir /m; mount -t tmpfs t /m")
        .ok();
    // ...and namespace creation without it.
    env.sh(&[], "unshare -n true")
        .fails_in_container("Operation not permitted");
    assert!(env
        .sh(
            &["--security-opt", "seccomp=unconfined"],
            "grep Seccomp: /proc/self/status"
        )
        .ok()
        .contains('0'));
    let profile = env.path("profile.json");
    std::fs::write(&profile, r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod","fchmodat","fchmodat2"],"action":"SCMP_ACT_ERRNO"}]}"#).unwrap();
    env.sh(
        &["--security-opt", &format!("seccomp={}", profile.display())],
        "chmod 600 /etc/passwd",
    )
    .fails_in_container("Operation not permitted");
    std::fs::write(&profile, "{not json").unwrap();
    env.berth(&[
        "run",
        "--rm",
        "--security-opt",
        &format!("seccomp={}", profile.display()),
        "busybox",
        "true",
    ])
    .fails(125, "seccomp profile");
    env.refuses_run(
        &["--security-opt", "seccomp=/no/such.json"],
        "opening seccomp profile",
    );
    env.refuses_run(&["--security-opt", "bogus"], "invalid --security-opt");
    assert!(env
        .sh(
            &["--security-opt", "no-new-privileges"],
            "grep NoNewPrivs /proc/self/status"
        )
        .ok()
        .contains('1'));
    assert!(env
        .sh(&[], "grep NoNewPrivs /proc/self/status")
        .ok()
        .contains('0'));
}

#[test]
fn proc_and_sys_are_masked_and_read_only() {
    let env = Env::with_busybox();
    env.sh(&[], "echo 1 > /proc/sys/kernel/domainname")
        .fails_in_container("Read-only file system");
    assert_eq!(env.sh(&[], "cat /proc/timer_list | wc -c").ok(), "0\n");
    env.sh(&[], "touch /sys/x")
        .fails_in_container("Read-only file system");
    assert_eq!(
        env.sh(&[], "ls /dev | tr '\\n' ' '").ok(),
        "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero "
    );
}

/// Runs `berth run` in the background, waits until the container is running,
/// hands its id to `check`, and removes it.
fn while_running(env: &Env, flags: &[&str], check: impl FnOnce(&str)) {
    let mut args = vec!["run", "--name", "bg"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "sleep", "30"]);
    let mut child = env
        .cmd(&args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the container to start", || {
        env.berth(&["inspect", "-f", "{{.State.Running}}", "bg"])
            .stdout
            .trim()
            == "true"
    });
    let id = env.inspect("bg", "{{.Id}}");
    check(&id);
    env.berth(&["rm", "-f", "bg"]).ok();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(137), "killed by rm -f");
    // Both berths released it; neither may leave its cgroup behind.
    for base in [
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/pids",
        "/sys/fs/cgroup",
    ] {
        let dir = std::path::Path::new(base).join("berth").join(&id);
        assert!(!dir.exists(), "leaked cgroup {}", dir.display());
    }
}

fn cgroup_file(id: &str, v1_controller: &str, file_v1: &str, file_v2: &str) -> String {
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let path = if v2 {
        format!("/sys/fs/cgroup/berth/{id}/{file_v2}")
    } else {
        format!("/sys/fs/cgroup/{v1_controller}/berth/{id}/{file_v1}")
    };
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_string()
}

#[test]
fn resources_reach_the_cgroup() {
    let env = Env::with_busybox();
    while_running(
        &env,
        &[
            "--memory",
            "64m",
            "--memory-swap",
            "128m",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "--pids-limit",
            "42",
        ],
        |id| {
            let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
            assert_eq!(
                cgroup_file(id, "memory", "memory.limit_in_bytes", "memory.max"),
                (64u64 << 20).to_string()
            );
            assert_eq!(cgroup_file(id, "pids", "pids.max", "pids.max"), "42");
            if v2 {
                assert_eq!(cgroup_file(id, "cpu", "", "cpu.max"), "50000 100000");
            } else {
                assert_eq!(cgroup_file(id, "cpu", "cpu.cfs_quota_us", ""), "50000");
                assert_eq!(cgroup_file(id, "cpu", "cpu.shares", ""), "512");
                // The memsw files exist only where the kernel accounts swap.
                let swap_accounted =
                    std::path::Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
                        .exists();
                if swap_accounted {
                    assert_eq!(
                        cgroup_file(id, "memory", "memory.memsw.limit_in_bytes", ""),
                        (128u64 << 20).to_string()
                    );
                }
            }
            // ps shows it running.
            assert!(env.berth(&["ps"]).ok().contains("Up "));
        },
    );
    // The cgroup is gone once the container is.
    env.berth(&["run", "--rm", "--memory", "6m", "busybox", "true"])
        .ok();
    env.refuses_run(&["--memory", "1m"], "Minimum memory limit allowed is 6MB");
    env.refuses_run(&["--memory", "lots"], "invalid size");
    env.refuses_run(&["--memory-swap", "1g"], "always set the Memory limit");
    env.refuses_run(
        &["--memory", "64m", "--memory-swap", "32m"],
        "should be larger than memory limit",
    );
    env.refuses_run(&["--cpus", "1000"], "Range of CPUs is from 0.01");
    env.refuses_run(&["--cpus", "x"], "invalid argument \"x\" for \"--cpus\"");
}

#[test]
fn pids_limit_is_enforced() {
    let env = Env::with_busybox();
    env.sh(
        &["--pids-limit", "5"],
        "for i in 1 2 3 4 5 6 7 8; do sleep 5 & done",
    )
    .fails_in_container("Resource temporarily unavailable");
    env.sh(
        &["--pids-limit", "10"],
        "for i in 1 2 3 4 5; do sleep 1 & done; wait",
    )
    .ok();
}

#[test]
fn ulimits_are_set_and_never_above_the_hard_limit() {
    let env = Env::with_busybox();
    assert_eq!(
        env.sh(&["--ulimit", "nofile=100:200"], "ulimit -n; ulimit -Hn")
            .ok(),
        "100\n200\n"
    );
    // Far above this process's hard limit: clamped, and the container still starts.
    let mut hard = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut hard) };
    let out = env
        .sh(&["--ulimit", "nofile=999999999:999999999"], "ulimit -Hn")
        .ok();
    assert_eq!(out.trim(), hard.rlim_max.to_string());
    env.refuses_run(
        &["--ulimit", "nofile=10:5"],
        "soft limit must be less than or equal to hard limit",
    );
    env.refuses_run(&["--ulimit", "bogus=1"], "invalid ulimit type: bogus");
}

#[test]
fn oom_kill_is_reported() {
    let env = Env::with_busybox();
    // Fill a tmpfs past the memory limit (tmpfs pages are charged to the cgroup).
    let r = env.berth(&[
        "run",
        "--name",
        "oom",
        "--memory",
        "8m",
        "--memory-swap",
        "8m",
        "--tmpfs",
        "/big:size=64m",
        "busybox",
        "sh",
        "-c",
        "dd if=/dev/zero of=/big/f bs=1M count=60",
    ]);
    assert_eq!(r.code, 137, "{}", r.stderr);
    assert_eq!(
        env.inspect("oom", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
}

#[test]
fn rm_flag_and_container_dirs() {
    let env = Env::with_busybox();
    env.berth(&["run", "--rm", "busybox", "touch", "/x"]).ok();
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    assert_eq!(
        std::fs::read_dir(env.root().join("containers"))
            .unwrap()
            .count(),
        0
    );
    env.berth(&[
        "run",
        "--name",
        "keep",
        "busybox",
        "sh",
        "-c",
        "echo data > /kept",
    ])
    .ok();
    let upper = env.inspect("keep", "{{.GraphDriver.Data.UpperDir}}");
    assert_eq!(
        std::fs::read_to_string(format!("{upper}/kept")).unwrap(),
        "data\n"
    );
    // The writable layer survives a restart.
    assert_eq!(env.berth(&["start", "-a", "keep"]).ok(), "");
    env.berth(&["rm", "keep"]).ok();
    assert!(!std::path::Path::new(&upper).exists());

    // The writable layer of an --rm container is mounted volatile (nothing
    // syncs what is thrown away), that of any other as usual; mounted again
    // (cp before the start mounts it once), it still starts.
    let overlay_of = |name: &str| {
        let rootfs = env.inspect(name, "{{.GraphDriver.Data.MergedDir}}");
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        mounts
            .lines()
            .find(|l| l.split(' ').nth(1) == Some(rootfs.as_str()))
            .unwrap_or_else(|| panic!("{rootfs} is not mounted"))
            .to_string()
    };
    env.berth(&[
        "run", "-d", "--rm", "--name", "gone", "busybox", "sleep", "30",
    ])
    .ok();
    env.berth(&["run", "-d", "--name", "kept", "busybox", "sleep", "30"])
        .ok();
    assert!(
        overlay_of("gone").contains("volatile"),
        "{}",
        overlay_of("gone")
    );
    assert!(
        !overlay_of("kept").contains("volatile"),
        "{}",
        overlay_of("kept")
    );
    env.berth(&["rm", "-f", "gone", "kept"]).ok();
    env.berth(&[
        "create", "--rm", "--name", "again", "busybox", "cat", "/note",
    ])
    .ok();
    let note = env.path("note");
    std::fs::write(&note, "copied in\n").unwrap();
    env.berth(&["cp", note.to_str().unwrap(), "again:/note"])
        .ok();
    assert_eq!(env.berth(&["start", "-a", "again"]).ok(), "copied in\n");
    env.check_clean();
}

#[test]
fn not_root_is_refused() {
    let env = Env::with_busybox();
    let out = env.cmd(&["ps"]).uid(65534).gid(65534).output().unwrap();
    assert_eq!(out.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("needs root") && stderr.lines().count() == 1,
        "{stderr}"
    );
    // version and help need no root.
    assert!(env
        .cmd(&["version"])
        .uid(65534)
        .output()
        .unwrap()
        .status
        .success());
}

#[test]
fn tty_forwards_keys_size_and_ctrl_c() {
    let env = Env::with_busybox();
    let script = "trap 'echo got-int; exit 7' INT; stty size; echo ready; read line; echo typed:$line; while true; do sleep 0.05; done";
    let (mut child, mut master) = common::spawn_in_pty(
        env.cmd(&["run", "--rm", "-it", "busybox", "sh", "-c", script]),
        Some((33, 101)),
    );
    let mut seen = String::new();
    common::read_until(&mut master, &mut seen, "ready");
    assert!(
        seen.contains("33 101"),
        "the container's terminal has ours size: {seen:?}"
    );
    std::io::Write::write_all(&mut master, b"hello\r").unwrap();
    common::read_until(&mut master, &mut seen, "typed:hello");
    // Ctrl-C reaches the container through its terminal, as a key.
    std::io::Write::write_all(&mut master, b"\x03").unwrap();
    common::read_until(&mut master, &mut seen, "got-int");
    assert_eq!(child.wait().unwrap().code(), Some(7), "{seen:?}");
}
