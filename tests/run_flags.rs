//! The rest of `docker run`'s flags against real containers: the
//! container's view of its cgroup (v1 here, v2 in a cgroup2 mount of the
//! test's own), devices and CDI, GPUs, namespaces shared with the host or
//! another container, sysctls, limits, legacy links, sessions that detach.

mod common;

use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::Command;

use common::Env;

fn v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// `berth run --rm` with `flags` and `sh -c script`, its output.
fn sh(env: &Env, flags: &[&str], script: &str) -> String {
    env.sh(flags, script).ok()
}

#[test]
fn the_container_sees_its_own_cgroup_and_limits() {
    let env = Env::with_busybox();
    let flags = ["--memory", "64m", "--cpus", "0.5", "--pids-limit", "42"];
    if v2() {
        let out = sh(&env, &flags, "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max; cat /proc/self/cgroup");
        assert_eq!(out, "67108864\n42\n50000 100000\n0::/\n");
    } else {
        // docker's v1 view: each hierarchy the container's own, at its root.
        let out = sh(
            &env,
            &flags,
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us",
        );
        assert_eq!(out, "67108864\n42\n50000\n");
        let mounts = sh(&env, &[], "grep ' /sys/fs/cgroup' /proc/self/mountinfo");
        assert!(
            mounts.contains(" /sys/fs/cgroup ") && mounts.contains(" /sys/fs/cgroup/memory "),
            "{mounts}"
        );
        // Only the container's own processes are in its cgroup.
        assert_eq!(
            sh(&env, &[], "wc -l < /sys/fs/cgroup/pids/cgroup.procs").trim(),
            "1"
        );
    }
    let limit = if v2() {
        "/sys/fs/cgroup/memory.max"
    } else {
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    };
    env.sh(&["--memory", "64m"], &format!("echo 1 > {limit}"))
        .fails_in_container("Read-only file system");
    // The cgroup namespace: private shows the container's cgroup as the root.
    let private = sh(&env, &["--cgroupns", "private"], "cat /proc/self/cgroup");
    assert!(private.lines().all(|l| l.ends_with(":/")), "{private}");
    let host = sh(&env, &["--cgroupns", "host"], "cat /proc/self/cgroup");
    assert!(host.contains("/berth/"), "{host}");
    env.refuses_run(&["--cgroupns", "both"], "invalid cgroup namespace mode");
}

#[test]
fn cgroup_parent_places_the_container() {
    let env = Env::with_busybox();
    let parent = format!("berth-test-{}", std::process::id());
    env.berth(&[
        "run",
        "-d",
        "--name",
        "parented",
        "--cgroup-parent",
        &parent,
        "--memory",
        "32m",
        "busybox",
        "sleep",
        "30",
    ])
    .ok();
    let id = env.inspect("parented", "{{.Id}}");
    assert_eq!(
        env.inspect("parented", "{{.HostConfig.CgroupParent}}"),
        parent
    );
    let file = if v2() {
        format!("/sys/fs/cgroup/{parent}/{id}/memory.max")
    } else {
        format!("/sys/fs/cgroup/memory/{parent}/{id}/memory.limit_in_bytes")
    };
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim(),
        (32u64 << 20).to_string()
    );
    // Its view is its own cgroup all the same.
    if !v2() {
        let seen = env
            .berth(&[
                "exec",
                "parented",
                "cat",
                "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            ])
            .ok();
        assert_eq!(seen.trim(), (32u64 << 20).to_string());
    }
    env.berth(&["rm", "-f", "parented"]).ok();
    assert!(!Path::new(&file).exists(), "its cgroup went with it");
    for dir in [
        "/sys/fs/cgroup",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup/pids",
    ] {
        let _ = std::fs::remove_dir(Path::new(dir).join(&parent));
    }
    env.refuses_run(
        &["--cgroup-parent", "../escape"],
        "invalid cgroup parent \"../escape\"",
    );
}

/// `env.cmd(args)` run in a mount namespace of its own where /sys/fs/cgroup
/// is a pure cgroup2 mount: the v2 code on a v1 (hybrid) host.
fn in_cgroup2_mount(env: &Env, args: &[&str]) -> common::Run {
    let berth = env.cmd(args);
    let mut cmd = Command::new("unshare");
    cmd.args([
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        "mount -t cgroup2 none /sys/fs/cgroup && exec \"$@\"",
        "sh",
    ])
    .arg(berth.get_program())
    .args(berth.get_args());
    for (k, v) in berth.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    env.output(cmd)
}

#[test]
fn the_cgroup_v2_view_in_a_cgroup2_mount() {
    if v2() {
        eprintln!(
            "this host is cgroup v2: the_container_sees_its_own_cgroup_and_limits ran the v2 code"
        );
        return;
    }
    let env = Env::with_busybox();
    let out = in_cgroup2_mount(
        &env,
        &["run", "--rm", "busybox", "sh", "-c", "grep ' /sys/fs/cgroup ' /proc/self/mountinfo; tail -1 /proc/self/cgroup; wc -l < /sys/fs/cgroup/cgroup.procs"],
    )
    .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains(" - cgroup2 ") && lines[0].contains(" ro,"),
        "a read-only cgroup2 mount: {out}"
    );
    assert_eq!(lines[1], "0::/", "its own cgroup namespace: {out}");
    assert_eq!(lines[2], "1", "only its process (wc, exec'd by sh): {out}");
    // --cgroupns host: the host's path, the container's own cgroup under berth/.
    let host = in_cgroup2_mount(
        &env,
        &[
            "run",
            "--rm",
            "--cgroupns",
            "host",
            "busybox",
            "tail",
            "-1",
            "/proc/self/cgroup",
        ],
    )
    .ok();
    assert!(host.starts_with("0::/berth/"), "{host}");
    // Limits whose controller this hierarchy lacks are discarded with docker's words.
    let controllers =
        std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers").unwrap_or_default();
    if !controllers.split_whitespace().any(|c| c == "memory") {
        let run = in_cgroup2_mount(&env, &["run", "--rm", "--memory", "64m", "busybox", "true"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.contains("Your kernel does not support memory limit capabilities or the cgroup is not mounted. Limitation discarded."), "{}", run.stderr);
    }
}

/// A character device node in the test's directory with a major number no
/// driver has (240, for local use): opening it fails with ENXIO where the
/// cgroup lets it, EPERM where it does not.
fn driverless_node(env: &Env) -> String {
    let path = env.path("dev-240-0");
    nix::sys::stat::mknod(
        &path,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits(0o666).unwrap(),
        nix::sys::stat::makedev(240, 0),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn devices_their_permissions_and_cgroup_rules() {
    let env = Env::with_busybox();
    let node = driverless_node(&env);
    let allowed = "No such device or address";
    let denied = "Operation not permitted";
    let listing = sh(
        &env,
        &["--device", &format!("{node}:/dev/mine")],
        "ls -l /dev/mine; cat /dev/mine 2>&1; true",
    );
    assert!(
        listing.starts_with('c') && listing.contains("240,   0"),
        "{listing}"
    );
    assert!(listing.contains(allowed), "{listing}");
    // r only: reading reaches the (absent) driver, writing stops at the cgroup.
    let ro = sh(
        &env,
        &["--device", &format!("{node}:/dev/mine:r")],
        "cat /dev/mine 2>&1; echo x 2>&1 > /dev/mine; true",
    );
    assert!(ro.contains(allowed) && ro.contains(denied), "{ro}");
    env.berth(&[
        "create",
        "--name",
        "dev",
        "--device",
        &format!("{node}:/dev/mine:rw"),
        "busybox",
        "true",
    ])
    .ok();
    assert_eq!(
        env.inspect("dev", "{{range .HostConfig.Devices}}{{.PathOnHost}} {{.PathInContainer}} {{.CgroupPermissions}}{{end}}"),
        format!("{node} /dev/mine rw")
    );
    // A node made inside is refused by default, taken with a rule.
    let script = "mknod /dev/x c 240 0 && cat /dev/x 2>&1; true";
    assert!(sh(&env, &[], script).contains(denied));
    let ruled = sh(&env, &["--device-cgroup-rule", "c 240:* rwm"], script);
    assert!(ruled.contains(allowed), "{ruled}");
    env.berth(&[
        "run",
        "--rm",
        "--device",
        "/dev/berth-none",
        "busybox",
        "true",
    ])
    .fails(
        125,
        "error gathering device information while adding custom device \"/dev/berth-none\"",
    );
    env.berth(&[
        "run",
        "--rm",
        "--device",
        &format!("{node}:/dev/x:rwz"),
        "busybox",
        "true",
    ])
    .fails(125, "invalid device mode");
    env.berth(&[
        "run",
        "--rm",
        "--device",
        &format!("{node}:dev/x"),
        "busybox",
        "true",
    ])
    .fails(125, "must be absolute");
    env.refuses_run(
        &["--device-cgroup-rule", "x 1:3 rw"],
        "invalid device cgroup rule",
    );
}

/// A block device of this host, for the throttles (only its numbers are used).
fn block_device() -> Option<String> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("loop") && !n.starts_with("ram"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| format!("/dev/{n}"))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.file_type().is_block_device()))
}

#[test]
fn block_io_throttles_and_weights() {
    let env = Env::with_busybox();
    let Some(dev) = block_device() else {
        eprintln!("skipped: no block device here");
        return;
    };
    let numbers = std::fs::read_to_string(format!(
        "/sys/block/{}/dev",
        dev.trim_start_matches("/dev/")
    ))
    .unwrap();
    let numbers = numbers.trim();
    let flags = [
        "--device-read-bps",
        &format!("{dev}:1mb"),
        "--device-write-bps",
        &format!("{dev}:2mb"),
        "--device-read-iops",
        &format!("{dev}:100"),
        "--device-write-iops",
        &format!("{dev}:200"),
    ];
    if v2() {
        let out = sh(&env, &flags, "cat /sys/fs/cgroup/io.max");
        assert!(
            out.contains(&format!(
                "{numbers} rbps=1048576 wbps=2097152 riops=100 wiops=200"
            )),
            "{out}"
        );
    } else {
        let out = sh(&env, &flags, "cd /sys/fs/cgroup/blkio; cat blkio.throttle.read_bps_device blkio.throttle.write_bps_device blkio.throttle.read_iops_device blkio.throttle.write_iops_device");
        assert_eq!(
            out,
            format!("{numbers} 1048576\n{numbers} 2097152\n{numbers} 100\n{numbers} 200\n")
        );
    }
    // A weight: set where the kernel weighs I/O, else docker's warning.
    let run = env.sh(&["--blkio-weight", "300"], "cat /sys/fs/cgroup/blkio/blkio.weight 2>/dev/null || cat /sys/fs/cgroup/blkio/blkio.bfq.weight 2>/dev/null || cat /sys/fs/cgroup/io.weight 2>/dev/null; true");
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Whether this kernel weighs I/O: a weight file, or v2's io controller.
    let weighs = [
        "blkio/blkio.weight",
        "blkio/blkio.bfq.weight",
        "io.weight",
        "io.bfq.weight",
    ]
    .iter()
    .any(|f| Path::new("/sys/fs/cgroup").join(f).exists())
        || (v2()
            && std::fs::read_to_string("/sys/fs/cgroup/cgroup.subtree_control")
                .is_ok_and(|s| s.contains("io")));
    if weighs {
        assert!(run.stdout.contains("300"), "{} {}", run.stdout, run.stderr);
    } else {
        assert!(
            run.stderr.contains("WARNING: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."),
            "{}",
            run.stderr
        );
    }
    env.refuses_run(
        &["--blkio-weight", "5"],
        "Range of blkio weight is from 10 to 1000",
    );
    env.refuses_run(
        &["--device-read-bps", &format!("{dev}:lots")],
        "invalid size",
    );
    env.refuses_run(
        &["--device-read-iops", "/dev/null:10"],
        "not a block device",
    );
}

/// A CDI spec directory with a JSON spec (0.6.0) and a YAML one (0.8.0), of
/// fake devices whose nodes are the host's /dev/null and /dev/zero.
fn fake_cdi(env: &Env) -> std::path::PathBuf {
    let dir = env.path("cdi");
    std::fs::create_dir_all(&dir).unwrap();
    let conf = env.path("fake.conf");
    std::fs::write(&conf, "from the spec\n").unwrap();
    let hook_out = env.path("hook-ran");
    std::fs::write(
        dir.join("fake.json"),
        serde_json::json!({
            "cdiVersion": "0.6.0",
            "kind": "example.com/fake",
            "annotations": {"made-by": "the test"},
            "containerEdits": {
                "env": ["FAKE_SPEC=1"],
                "hooks": [{"hookName": "createRuntime", "path": "/bin/sh", "args": ["sh", "-c", format!("echo ran > {}", hook_out.display())]}]
            },
            "devices": [
                {"name": "one", "containerEdits": {
                    "env": ["FAKE_DEVICE=one"],
                    "deviceNodes": [{"path": "/dev/fake0", "hostPath": "/dev/null", "permissions": "rw"}],
                    "mounts": [{"hostPath": conf, "containerPath": "/etc/fake.conf", "options": ["ro", "bind"]}],
                    "additionalGids": [4321]
                }},
                {"name": "two", "containerEdits": {
                    "env": ["FAKE_DEVICE=two"],
                    "deviceNodes": [{"path": "/dev/fake1", "hostPath": "/dev/zero"}]
                }}
            ]
        })
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("other.yaml"),
        "cdiVersion: 0.8.0\nkind: example.org/thing\ndevices:\n  - name: all\n    containerEdits:\n      env: [THING=all]\n      deviceNodes:\n        - path: /dev/thing\n          hostPath: /dev/null\n",
    )
    .unwrap();
    // A spec that is not one: skipped, the others still read.
    std::fs::write(
        dir.join("broken.json"),
        "{\"cdiVersion\": \"9.9.9\", \"kind\": \"x.com/y\"}",
    )
    .unwrap();
    dir
}

fn with_cdi(env: &Env, dir: &Path, args: &[&str]) -> common::Run {
    let mut cmd = env.cmd(args);
    cmd.env("BERTH_CDI_SPEC_DIRS", dir);
    env.output(cmd)
}

#[test]
fn cdi_devices_apply_their_specs_edits() {
    let env = Env::with_busybox();
    let dir = fake_cdi(&env);
    let script = "echo $FAKE_SPEC $FAKE_DEVICE; ls -l /dev/fake0 /dev/fake1 2>&1 | cut -c1-10,35-45; cat /etc/fake.conf; id -G; echo x > /dev/fake0 && head -c 3 /dev/fake1 | wc -c";
    let out = with_cdi(
        &env,
        &dir,
        &[
            "run",
            "--rm",
            "--device",
            "example.com/fake=one",
            "--device",
            "example.com/fake=two",
            "busybox",
            "sh",
            "-c",
            script,
        ],
    )
    .ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "1 two",
        "the spec's env once, the later device's over the earlier's: {out}"
    );
    assert!(
        lines[1].starts_with("crw") && lines[1].contains("1,   3"),
        "/dev/fake0 is /dev/null's node: {out}"
    );
    assert!(
        lines[2].starts_with("crw") && lines[2].contains("1,   5"),
        "/dev/fake1 is /dev/zero's: {out}"
    );
    assert_eq!(lines[3], "from the spec");
    assert!(
        lines[4].split_whitespace().any(|g| g == "4321"),
        "additional GIDs: {out}"
    );
    assert_eq!(lines[5], "3");
    assert_eq!(
        std::fs::read_to_string(env.path("hook-ran")).unwrap(),
        "ran\n",
        "the spec's hook ran"
    );
    // YAML specs too; a device named all is just a name.
    let yaml = with_cdi(
        &env,
        &dir,
        &[
            "run",
            "--rm",
            "--device",
            "example.org/thing=all",
            "busybox",
            "sh",
            "-c",
            "echo $THING; test -c /dev/thing && echo node",
        ],
    )
    .ok();
    assert_eq!(yaml, "all\nnode\n");
    // The create records them as docker does: a DeviceRequest of driver cdi.
    with_cdi(
        &env,
        &dir,
        &[
            "create",
            "--name",
            "cdi",
            "--device",
            "example.com/fake=one",
            "busybox",
            "true",
        ],
    )
    .ok();
    assert_eq!(
        env.inspect(
            "cdi",
            "{{range .HostConfig.DeviceRequests}}{{.Driver}} {{.DeviceIDs}}{{end}}"
        ),
        "cdi [example.com/fake=one]"
    );
    // info lists what the specs define.
    let info = with_cdi(&env, &dir, &["info"]).ok();
    for d in [
        "cdi: example.com/fake=one",
        "cdi: example.com/fake=two",
        "cdi: example.org/thing=all",
    ] {
        assert!(info.contains(d), "{info}");
    }
    let json = with_cdi(
        &env,
        &dir,
        &["info", "--format", "{{json .DiscoveredDevices}}"],
    )
    .ok();
    assert!(
        json.contains("{\"ID\":\"example.com/fake=one\",\"Source\":\"cdi\"}"),
        "{json}"
    );
    // A device no spec has is an error naming it; nothing is left behind.
    let before = env.berth(&["ps", "-aq"]).ok();
    for (device, needle) in [
        (
            "example.com/fake=three",
            "unresolvable CDI devices example.com/fake=three",
        ),
        (
            "example.com/=x",
            "invalid device specification: example.com/=x",
        ),
    ] {
        let args = ["run", "--rm", "--device", device, "busybox", "true"];
        with_cdi(&env, &dir, &args).fails(125, needle);
    }
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), before);
}

#[test]
fn gpus_map_to_cdi_devices_or_say_there_are_none() {
    let env = Env::with_busybox();
    let dir = env.path("cdi");
    std::fs::create_dir_all(&dir).unwrap();
    // What `nvidia-ctk cdi generate` writes, in shape: per-GPU devices and all.
    let node = |p: &str| serde_json::json!({"path": p, "hostPath": "/dev/null"});
    std::fs::write(
        dir.join("nvidia.json"),
        serde_json::json!({
            "cdiVersion": "0.5.0",
            "kind": "nvidia.com/gpu",
            "containerEdits": {"env": ["NVIDIA_VISIBLE_DEVICES=void"], "deviceNodes": [node("/dev/nvidiactl")]},
            "devices": [
                {"name": "0", "containerEdits": {"deviceNodes": [node("/dev/nvidia0")]}},
                {"name": "1", "containerEdits": {"deviceNodes": [node("/dev/nvidia1")]}},
                {"name": "all", "containerEdits": {"deviceNodes": [node("/dev/nvidia0"), node("/dev/nvidia1")]}}
            ]
        })
        .to_string(),
    )
    .unwrap();
    let nodes = |flags: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&[
            "busybox",
            "sh",
            "-c",
            "ls /dev | grep nvidia | tr '\\n' ' '",
        ]);
        with_cdi(&env, &dir, &args).ok()
    };
    assert_eq!(nodes(&["--gpus", "all"]), "nvidia0 nvidia1 nvidiactl ");
    assert_eq!(nodes(&["--gpus", "1"]), "nvidia0 nvidiactl ");
    assert_eq!(nodes(&["--gpus", "device=1"]), "nvidia1 nvidiactl ");
    assert_eq!(
        nodes(&["--gpus", "\"device=0,1\",\"capabilities=compute,utility\""]),
        "nvidia0 nvidia1 nvidiactl "
    );
    assert_eq!(
        nodes(&["--device", "nvidia.com/gpu=all"]),
        "nvidia0 nvidia1 nvidiactl "
    );
    with_cdi(
        &env,
        &dir,
        &["create", "--name", "gpu", "--gpus", "2", "busybox", "true"],
    )
    .ok();
    assert_eq!(
        env.inspect(
            "gpu",
            "{{range .HostConfig.DeviceRequests}}{{.Count}} {{json .Capabilities}}{{end}}"
        ),
        "2 [[\"gpu\"]]"
    );
    with_cdi(
        &env,
        &dir,
        &["run", "--rm", "--gpus", "3", "busybox", "true"],
    )
    .fails(125, "3 GPUs asked for");
    env.refuses_run(
        &["--gpus", "bogus=1"],
        "invalid argument \"bogus=1\" for \"--gpus\" flag",
    );
    // No spec, and (on a machine without a GPU) no driver: docker's error.
    if !Path::new("/dev/nvidiactl").exists() {
        let none = env.path("no-cdi");
        with_cdi(
            &env,
            &none,
            &["run", "--rm", "--gpus", "all", "busybox", "true"],
        )
        .fails(
            125,
            "could not select device driver \"\" with capabilities: [[gpu]]",
        );
        with_cdi(
            &env,
            &none,
            &[
                "run",
                "--rm",
                "--device",
                "nvidia.com/gpu=all",
                "busybox",
                "true",
            ],
        )
        .fails(125, "unresolvable CDI devices nvidia.com/gpu=all");
    }
}

/// On a machine with an NVIDIA GPU: a busybox image with the host's C
/// library (nvidia-smi is linked against it) lists the GPUs that came in.
#[test]
fn gpus_reach_a_container_on_real_hardware() {
    if !Path::new("/dev/nvidiactl").exists() {
        eprintln!("skipped: no NVIDIA GPU on this machine");
        return;
    }
    let env = Env::with_busybox();
    let ctx = env.path("glibc");
    let libdir = ["/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu"]
        .into_iter()
        .find(|d| Path::new(d).exists())
        .expect("a multiarch C library");
    std::fs::create_dir_all(ctx.join("lib")).unwrap();
    for lib in [
        "libc.so.6",
        "libm.so.6",
        "libdl.so.2",
        "libpthread.so.0",
        "librt.so.1",
    ] {
        let _ = std::fs::copy(Path::new(libdir).join(lib), ctx.join("lib").join(lib));
    }
    let loader = ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"]
        .into_iter()
        .find(|l| Path::new(l).exists())
        .unwrap();
    std::fs::copy(loader, ctx.join("loader")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM busybox\nCOPY lib/ {libdir}/\nCOPY loader {loader}\n"),
    )
    .unwrap();
    env.berth(&["build", "-q", "-t", "gpubox", ctx.to_str().unwrap()])
        .ok();
    let out = env.berth(&["run", "--rm", "--gpus", "all", "gpubox", "nvidia-smi", "-L"]);
    eprintln!(
        "nvidia-smi -L in a berth container:\n{}{}",
        out.stdout, out.stderr
    );
    assert!(out.ok().contains("GPU 0:"));
}

#[test]
fn shm_ipc_pid_uts_and_userns_modes() {
    let env = Env::with_busybox();
    let shm_kb = |flags: &[&str]| {
        sh(&env, flags, "df -k /dev/shm | tail -1")
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(shm_kb(&[]), "65536", "docker's 64 MiB default");
    assert_eq!(shm_kb(&["--shm-size", "128m"]), "131072");
    env.refuses_run(&["--shm-size", "lots"], "invalid size");
    let ns = |kind: &str| {
        std::fs::read_link(format!("/proc/self/ns/{kind}"))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let shared = sh(
        &env,
        &["--ipc", "host", "--pid", "host", "--uts", "host"],
        "readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid; hostname",
    );
    assert_eq!(
        shared,
        format!("{}\n{}\n{}", ns("ipc"), ns("pid"), host_name)
    );
    let own = sh(&env, &["--ipc", "private"], "readlink /proc/self/ns/ipc");
    assert_ne!(own.trim(), ns("ipc"));
    assert_eq!(
        sh(
            &env,
            &["--ipc", "none"],
            "test -e /dev/shm/. && echo shm || echo none"
        ),
        "none\n"
    );
    // Another container's namespaces.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "first",
        "--ipc",
        "shareable",
        "busybox",
        "sleep",
        "30",
    ])
    .ok();
    let first_ipc = env
        .berth(&["exec", "first", "readlink", "/proc/self/ns/ipc"])
        .ok();
    let joined = sh(
        &env,
        &["--ipc", "container:first", "--pid", "container:first"],
        "readlink /proc/self/ns/ipc; ps -o comm | grep -c sleep",
    );
    assert_eq!(joined, format!("{first_ipc}1\n"));
    env.berth(&["run", "-d", "--name", "private", "busybox", "sleep", "30"])
        .ok();
    env.refuses_run(&["--ipc", "container:private"], "non-shareable IPC");
    env.refuses_run(&["--pid", "container:nobody-here"], "nobody-here");
    for (flag, value, says) in [
        ("--ipc", "bogus", "invalid IPC mode"),
        ("--pid", "bogus", "invalid PID mode"),
        ("--uts", "bogus", "invalid UTS mode"),
        ("--userns", "bogus", "invalid user namespace mode"),
    ] {
        env.berth(&["run", "--rm", flag, value, "busybox", "true"])
            .fails(125, says);
    }
    env.refuses_run(
        &["--uts", "host", "--hostname", "x"],
        "Conflicting options: hostname and the UTS mode",
    );
    assert_eq!(
        sh(
            &env,
            &["--userns", "host", "--domainname", "example.org"],
            "cat /proc/sys/kernel/domainname"
        ),
        "example.org\n"
    );
    env.berth(&[
        "create",
        "--name",
        "modes",
        "--ipc",
        "host",
        "--pid",
        "host",
        "--uts",
        "host",
        "--userns",
        "host",
        "--shm-size",
        "1g",
        "busybox",
        "true",
    ])
    .ok();
    assert_eq!(
        env.inspect("modes", "{{.HostConfig.IpcMode}} {{.HostConfig.PidMode}} {{.HostConfig.UTSMode}} {{.HostConfig.UsernsMode}} {{.HostConfig.ShmSize}}"),
        "host host host host 1073741824"
    );
}

#[test]
fn sysctls_groups_and_oom_score() {
    let env = Env::with_busybox();
    let out = sh(
        &env,
        &[
            "--sysctl",
            "net.ipv4.ip_forward=0",
            "--sysctl",
            "kernel.msgmax=65536",
        ],
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax",
    );
    assert_eq!(out, "0\n65536\n");
    let refused: [(&[&str], &str); 4] = [
        (
            &["--sysctl", "vm.swappiness=1"],
            "sysctl \"vm.swappiness\" is not allowed",
        ),
        (
            &["--sysctl", "net.ipv4.ip_forward=1", "--network", "host"],
            "not allowed in host network namespace",
        ),
        (
            &["--sysctl", "kernel.shmmax=1", "--ipc", "host"],
            "not allowed in host IPC namespace",
        ),
        (&["--sysctl", "bad"], "not a key=value pair"),
    ];
    for (flags, needle) in refused {
        env.refuses_run(flags, needle);
    }
    let groups = sh(&env, &["--group-add", "1234", "--group-add", "99"], "id -G");
    assert_eq!(groups, "0 99 1234\n");
    env.refuses_run(
        &["--group-add", "no-such-group"],
        "unable to find group no-such-group",
    );
    assert_eq!(
        sh(
            &env,
            &["--oom-score-adj", "500"],
            "cat /proc/self/oom_score_adj"
        ),
        "500\n"
    );
    env.refuses_run(
        &["--oom-score-adj", "2000"],
        "range for oom score adj is [-1000, 1000]",
    );
}

#[test]
fn cpu_and_memory_limits_and_their_update() {
    let env = Env::with_busybox();
    let run = env.sh(
        &["--memory", "64m", "--oom-kill-disable", "--memory-reservation", "32m", "--memory-swappiness", "10", "--kernel-memory", "8m", "--cpu-period", "50000", "--cpu-quota", "25000", "--cpuset-cpus", "0", "--cpuset-mems", "0"],
        if v2() {
            "cat /sys/fs/cgroup/memory.low /sys/fs/cgroup/cpu.max /sys/fs/cgroup/cpuset.cpus /sys/fs/cgroup/cpuset.mems"
        } else {
            "cd /sys/fs/cgroup; grep oom_kill_disable memory/memory.oom_control; cat memory/memory.soft_limit_in_bytes memory/memory.swappiness cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us cpuset/cpuset.cpus cpuset/cpuset.mems"
        },
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    if v2() {
        assert_eq!(run.stdout, "33554432\n25000 50000\n0\n0\n");
    } else {
        assert_eq!(
            run.stdout,
            "oom_kill_disable 1\n33554432\n10\n50000\n25000\n0\n0\n"
        );
    }
    assert!(
        run.stderr
            .contains("WARNING: Specifying a kernel memory limit is deprecated"),
        "{}",
        run.stderr
    );
    if Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() && !v2() {
        assert_eq!(
            sh(
                &env,
                &["--cpu-rt-runtime", "10000"],
                "cat /sys/fs/cgroup/cpu/cpu.rt_runtime_us"
            ),
            "10000\n"
        );
    }
    for (flags, says) in [
        (
            &["--cpus", "1", "--cpu-quota", "10000"][..],
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ),
        (
            &["--cpu-quota", "10"],
            "CPU cfs quota can not be less than 1ms",
        ),
        (&["--cpuset-cpus", "99"], "Requested CPUs are not available"),
        (&["--cpuset-cpus", "x"], "Invalid value x for cpuset cpus"),
        (
            &["--memory-swappiness", "200"],
            "valid memory swappiness range is 0-100",
        ),
        (
            &["--memory", "16m", "--memory-reservation", "32m"],
            "Minimum memory limit can not be less than memory reservation limit",
        ),
        (
            &["--cpu-rt-runtime", "2000000"],
            "cpu-rt-runtime cannot be higher than cpu-rt-period",
        ),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        env.berth(&args).fails(125, says);
    }
    // update changes them in place, and the record keeps them.
    env.berth(&[
        "run", "-d", "--name", "upd", "--memory", "64m", "busybox", "sleep", "30",
    ])
    .ok();
    env.berth(&[
        "update",
        "--memory",
        "96m",
        "--memory-reservation",
        "16m",
        "--cpuset-cpus",
        "0",
        "--cpu-period",
        "100000",
        "--cpu-quota",
        "30000",
        "upd",
    ])
    .ok();
    let seen = env
        .berth(&["exec", "upd", "sh", "-c", if v2() {
            "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.low /sys/fs/cgroup/cpuset.cpus /sys/fs/cgroup/cpu.max"
        } else {
            "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes cpuset/cpuset.cpus cpu/cpu.cfs_quota_us"
        }])
        .ok();
    let quota = if v2() { "30000 100000" } else { "30000" };
    assert_eq!(
        seen,
        format!("{}\n{}\n0\n{quota}\n", 96u64 << 20, 16u64 << 20)
    );
    assert_eq!(
        env.inspect("upd", "{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}} {{.HostConfig.CpusetCpus}} {{.HostConfig.CpuQuota}}"),
        format!("{} {} 0 30000", 96u64 << 20, 16u64 << 20)
    );
    env.berth(&["update", "--cpuset-cpus", "99", "upd"])
        .fails(1, "Requested CPUs are not available");
    env.berth(&["update", "--blkio-weight", "5", "upd"])
        .fails(1, "Range of blkio weight is from 10 to 1000");
    let kept = env.inspect("upd", "{{.HostConfig.CpusetCpus}}");
    assert_eq!(kept, "0", "a refused update changes nothing");
}

#[test]
fn cidfile_labels_expose_and_the_flags_taken_as_given() {
    let env = Env::with_busybox();
    let cid = env.path("cid");
    let cid_s = cid.to_str().unwrap();
    env.berth(&[
        "run",
        "--cidfile",
        cid_s,
        "--name",
        "one",
        "busybox",
        "true",
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(&cid).unwrap(),
        env.inspect("one", "{{.Id}}")
    );
    env.berth(&["run", "--cidfile", cid_s, "--name", "two", "busybox", "true"])
        .fails(125, &format!("Container ID file found, make sure the other container isn't running or delete {cid_s}"));
    env.berth(&["inspect", "two"]).fails(1, "No such");
    let labels = env.path("labels");
    std::fs::write(&labels, "# a comment\n\na=1\nb=from-file\nflag\n").unwrap();
    env.berth(&[
        "create",
        "--name",
        "labelled",
        "--label-file",
        labels.to_str().unwrap(),
        "--label",
        "b=from-flag",
        "--expose",
        "8080",
        "--expose",
        "9000-9001/udp",
        "busybox",
        "true",
    ])
    .ok();
    assert_eq!(
        env.inspect(
            "labelled",
            "{{json .Config.Labels}} {{json .Config.ExposedPorts}}"
        ),
        r#"{"a":"1","b":"from-flag","flag":""} {"8080/tcp":{},"9000/udp":{},"9001/udp":{}}"#
    );
    env.refuses_run(
        &["--label-file", "/nonexistent/labels"],
        "/nonexistent/labels",
    );
    env.refuses_run(&["--expose", "x"], "invalid range format for --expose: x");
    // Accepted as docker's defaults.
    let out = env
        .berth(&[
            "run",
            "--rm",
            "--runtime",
            "runc",
            "--isolation",
            "default",
            "--volume-driver",
            "local",
            "--disable-content-trust",
            "--sig-proxy=true",
            "busybox",
            "echo",
            "ok",
        ])
        .ok();
    assert_eq!(out, "ok\n");
    for (flag, value, says) in [
        ("--runtime", "kata", "unknown or invalid runtime name: kata"),
        ("--isolation", "hyperv", "Invalid isolation: \"hyperv\""),
        (
            "--volume-driver",
            "nfs",
            "error looking up volume plugin nfs",
        ),
        (
            "--storage-opt",
            "size=10m",
            "--storage-opt is supported only for overlay over xfs with 'pquota' mount option",
        ),
        ("--detach-keys", "ctrl-pp", "Invalid detach keys (ctrl-pp)"),
    ] {
        env.berth(&["run", "--rm", flag, value, "busybox", "true"])
            .fails(125, says);
    }
}

#[test]
fn legacy_links_and_link_local_addresses() {
    let env = Env::with_busybox();
    env.berth(&[
        "run",
        "-d",
        "--name",
        "db",
        "-e",
        "DB_USER=admin",
        "--expose",
        "5432",
        "busybox",
        "sleep",
        "30",
    ])
    .ok();
    let ip = env.inspect("db", "{{.NetworkSettings.IPAddress}}");
    let seen = sh(
        &env,
        &["--name", "app", "--link", "db:database"],
        "env | grep ^DATABASE_ | sort; grep -w database /etc/hosts",
    );
    assert_eq!(
        seen,
        format!(
            "DATABASE_ENV_DB_USER=admin\nDATABASE_NAME=/app/database\nDATABASE_PORT=tcp://{ip}:5432\nDATABASE_PORT_5432_TCP=tcp://{ip}:5432\nDATABASE_PORT_5432_TCP_ADDR={ip}\nDATABASE_PORT_5432_TCP_PORT=5432\nDATABASE_PORT_5432_TCP_PROTO=tcp\n{ip}\tdatabase {} db\n",
            &env.inspect("db", "{{.Id}}")[..12]
        )
    );
    assert!(sh(&env, &["--link", "db"], "ping -c 1 -W 2 db").contains("1 packets received"));
    env.refuses_run(&["--link", "nobody"], "nobody");
    env.berth(&["create", "--name", "stopped", "busybox", "true"])
        .ok();
    env.refuses_run(
        &["--link", "stopped"],
        "Cannot link to a non running container",
    );
    let addrs = sh(
        &env,
        &["--link-local-ip", "169.254.10.10"],
        "ip -4 addr show eth0 | grep -o 'inet [0-9./]*'",
    );
    assert!(addrs.contains("inet 169.254.10.10/16"), "{addrs}");
    env.refuses_run(
        &["--link-local-ip", "10.1.2.3"],
        "invalid link-local IP address: 10.1.2.3",
    );
    env.refuses_run(
        &["--ip6", "2001:db8::33"],
        "user specified IP address is supported on user defined networks only",
    );
}

#[test]
fn ipv6_networks_give_ip6_addresses() {
    let env = Env::with_busybox();
    env.berth(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "fd00:b37::/64",
        "n6",
    ])
    .ok();
    assert_eq!(
        env.berth(&[
            "network",
            "inspect",
            "-f",
            "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{end}}",
            "n6"
        ])
        .ok()
        .split_whitespace()
        .filter(|w| *w == "true" || w.contains(':'))
        .collect::<Vec<_>>(),
        ["true", "fd00:b37::/64"]
    );
    // The address asked for, the gateway's route, and what inspect says.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "web6",
        "--network",
        "n6",
        "--ip6",
        "fd00:b37::33",
        "busybox",
        "sleep",
        "600",
    ])
    .ok();
    let shown = env
        .berth(&[
            "exec",
            "web6",
            "sh",
            "-c",
            "ip -6 addr show eth0 | grep global; ip -6 route | grep default",
        ])
        .ok();
    assert!(
        shown.contains("inet6 fd00:b37::33/64 scope global"),
        "{shown}"
    );
    assert!(
        shown.contains("default via fd00:b37::1 dev eth0"),
        "{shown}"
    );
    assert_eq!(
        env.inspect(
            "web6",
            "{{with .NetworkSettings.Networks.n6}}{{.GlobalIPv6Address}}/{{.GlobalIPv6PrefixLen}} {{.IPv6Gateway}} {{.IPAMConfig.IPv6Address}}{{end}}"
        ),
        "fd00:b37::33/64 fd00:b37::1 fd00:b37::33"
    );
    // Without --ip6, the first free address; the two reach each other.
    let other = sh(
        &env,
        &["--network", "n6"],
        "ip -6 addr show eth0 | grep -o 'fd00:b37::[0-9a-f]*/64'; ping -6 -c 1 -W 2 fd00:b37::33; nslookup -type=AAAA web6 127.0.0.11",
    );
    assert!(other.starts_with("fd00:b37::2/64\n"), "{other}");
    assert!(other.contains("1 packets received"), "{other}");
    // The embedded DNS answers AAAA questions with the IPv6 address.
    assert!(other.contains("Address: fd00:b37::33"), "{other}");
    let members = env
        .berth(&[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.IPv6Address}}{{end}}",
            "n6",
        ])
        .ok();
    assert_eq!(members.trim(), "fd00:b37::33/64");
    for (ip6, needle) in [
        (
            "fd00:b37::33",
            "Address already in use: fd00:b37::33 on network n6",
        ),
        (
            "fd00:b38::1",
            "no configured subnet or ip-range contain the IP address fd00:b38::1",
        ),
        ("nonsense", "invalid IPv6 address: nonsense"),
    ] {
        env.refuses_run(&["--network", "n6", "--ip6", ip6], needle);
    }
    env.berth(&["network", "create", "n4"]).ok();
    env.refuses_run(
        &["--network", "n4", "--ip6", "fd00:b37::34"],
        "network n4 has no IPv6 subnet",
    );
    // --ipv6 alone takes a unique local /64.
    env.berth(&["network", "create", "--ipv6", "ula"]).ok();
    let ula = env
        .berth(&["network", "inspect", "-f", "{{json .IPAM.Config}}", "ula"])
        .ok();
    assert!(
        ula.contains("\"Subnet\":\"fd") && ula.contains("::/64\""),
        "{ula}"
    );
    // What network create refuses.
    let refused = |args: &[&str], needle: &str| {
        let mut all = vec!["network", "create"];
        all.extend_from_slice(args);
        all.push("bad6");
        env.berth(&all).fails(1, needle);
    };
    refused(&["--subnet", "fd00:b39::/64"], "add --ipv6");
    refused(
        &["--ipv6", "--subnet", "fd00:b39::1/64"],
        "it should be fd00:b39::/64",
    );
    refused(
        &[
            "--ipv6",
            "--subnet",
            "fd00:b39::/64",
            "--subnet",
            "fd00:b3a::/64",
        ],
        "one IPv4 and one IPv6 subnet at most",
    );
    refused(
        &[
            "--ipv6",
            "--subnet",
            "fd00:b39::/64",
            "--gateway",
            "fd00:b3a::1",
        ],
        "it is not a host address of subnet fd00:b39::/64",
    );
    refused(
        &["--ipv6", "--subnet", "fd00:b37:0:0:1::/80"],
        "Pool overlaps",
    );
    assert!(!env.berth(&["network", "ls"]).ok().contains("bad6"));
}

#[test]
fn images_for_other_platforms() {
    let env = Env::with_busybox();
    let tar = common::busybox_tar().to_str().unwrap();
    env.berth(&["import", "--platform", "linux/arm64", tar, "armbox"])
        .ok();
    assert_eq!(
        env.inspect("armbox", "{{.Os}}/{{.Architecture}}"),
        "linux/arm64"
    );
    let emulated = std::fs::read_to_string("/proc/sys/fs/binfmt_misc/qemu-aarch64")
        .is_ok_and(|s| s.starts_with("enabled"));
    let native = std::env::consts::ARCH == "aarch64";
    let run = env.berth(&["run", "--rm", "--platform", "linux/arm64", "armbox", "true"]);
    if native || emulated {
        assert_eq!(run.code, 0, "{}", run.stderr);
    } else {
        run.fails(126, "exec format error");
    }
    if !native {
        env.refuses_run(&["--platform", "linux/arm64", "--pull", "never"], "image with reference busybox was found but does not match the specified platform: wanted linux/arm64");
    }
    env.refuses_run(&["--platform", "nonsense/"], "invalid platform");
}

#[test]
fn quiet_runs_pull_without_a_word() {
    let env = Env::with_busybox();
    let registry = common::registry::Registry::start();
    let name = format!("{}/quiet/busybox", registry.addr);
    env.berth(&["tag", "busybox", &name]).ok();
    env.berth(&["push", &name]).ok();
    env.berth(&["rmi", &name]).ok();
    let run = env.berth(&["run", "--rm", "-q", &name, "echo", "ran"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "ran\n", "")
    );
    env.berth(&["rmi", &name]).ok();
    let loud = env.berth(&["run", "--rm", &name, "echo", "ran"]);
    assert!(
        loud.stderr.contains("Unable to find image"),
        "{}",
        loud.stderr
    );
}

/// Reads the terminal until `needle`, then types `keys`.
fn type_after(master: &mut std::fs::File, seen: &mut String, needle: &str, keys: &[u8]) {
    common::read_until(master, seen, needle);
    std::io::Write::write_all(master, keys).unwrap();
}

#[test]
fn sessions_detach_with_their_keys_and_keep_signals_when_asked() {
    let env = Env::with_busybox();
    // run -it: Ctrl-P Ctrl-Q leaves it running, quietly, with 0.
    let (mut child, mut master) = common::spawn_in_pty(
        env.cmd(&["run", "-it", "--name", "sess", "busybox", "sh"]),
        None,
    );
    let mut seen = String::new();
    type_after(&mut master, &mut seen, "# ", b"echo one-$((1+1))\r");
    type_after(&mut master, &mut seen, "one-2", b"\x10\x11");
    assert_eq!(child.wait().unwrap().code(), Some(0), "{seen:?}");
    assert_eq!(env.inspect("sess", "{{.State.Running}}"), "true");
    // attach with keys of its own: docker's words and 1.
    let (mut child, mut master) = common::spawn_in_pty(
        env.cmd(&["attach", "--detach-keys", "ctrl-a,x", "sess"]),
        None,
    );
    let mut seen = String::new();
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::io::Write::write_all(&mut master, b"echo two-$((1+1))\r").unwrap();
    type_after(&mut master, &mut seen, "two-2", b"\x01x");
    common::read_until(&mut master, &mut seen, "read escape sequence");
    assert_eq!(child.wait().unwrap().code(), Some(1), "{seen:?}");
    // exec -it: the exec'd shell stays after its session detaches.
    let (mut child, mut master) =
        common::spawn_in_pty(env.cmd(&["exec", "-it", "sess", "sh"]), None);
    let mut seen = String::new();
    type_after(&mut master, &mut seen, "# ", b"exec sleep 1234\r");
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::io::Write::write_all(&mut master, b"\x10\x11").unwrap();
    common::read_until(&mut master, &mut seen, "read escape sequence");
    assert_eq!(child.wait().unwrap().code(), Some(1), "{seen:?}");
    assert!(env
        .berth(&["exec", "sess", "ps"])
        .ok()
        .contains("sleep 1234"));
    // start -ai detaches too, and the keys need not be the default.
    env.berth(&["rm", "-f", "sess"]).ok();
    env.berth(&["create", "-it", "--name", "s2", "busybox", "sh"])
        .ok();
    let (mut child, mut master) = common::spawn_in_pty(
        env.cmd(&["start", "-ai", "--detach-keys", "ctrl-b", "s2"]),
        None,
    );
    let mut seen = String::new();
    type_after(&mut master, &mut seen, "# ", b"echo three-$((1+2))\r");
    type_after(&mut master, &mut seen, "three-3", b"\x02");
    assert_eq!(child.wait().unwrap().code(), Some(0), "{seen:?}");
    assert_eq!(env.inspect("s2", "{{.State.Running}}"), "true");
    env.berth(&["attach", "--detach-keys", "ctrl-", "s2"])
        .fails(1, "Invalid detach keys (ctrl-)");
    // --sig-proxy=false: a signal to the CLI ends the CLI, not the container.
    let mut run = env
        .cmd(&[
            "run",
            "--name",
            "kept",
            "--sig-proxy=false",
            "busybox",
            "sh",
            "-c",
            "echo started; sleep 30",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = run.stdout.take().unwrap();
    let mut first = [0u8; 8];
    std::io::Read::read_exact(&mut out, &mut first).unwrap();
    assert_eq!(&first, b"started\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    run.wait().unwrap();
    assert_eq!(env.inspect("kept", "{{.State.Running}}"), "true");
}

#[test]
fn use_api_socket_gives_the_socket_and_the_logins() {
    let env = Env::with_busybox();
    let api = common::api::Api::start(&env);
    let config = env.path("docker-config");
    std::fs::create_dir_all(&config).unwrap();
    // A saved login (base64 of "user:secret").
    std::fs::write(
        config.join("config.json"),
        r#"{"auths": {"127.0.0.1:5999": {"auth": "dXNlcjpzZWNyZXQ="}}}"#,
    )
    .unwrap();
    let mut cmd = env.cmd(&["run", "--rm", "--use-api-socket", "busybox", "sh", "-c", "test -S /var/run/docker.sock && echo socket; echo $DOCKER_CONFIG; stat -c %a /run/secrets/docker/config.json; cat /run/secrets/docker/config.json"]);
    cmd.env("DOCKER_HOST", api.host());
    let out = env.output(cmd).ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("socket"));
    assert_eq!(lines.next(), Some("/run/secrets/docker"));
    assert_eq!(lines.next(), Some("600"));
    let json: serde_json::Value =
        serde_json::from_str(&lines.collect::<Vec<_>>().join("\n")).unwrap();
    assert_eq!(json["auths"]["127.0.0.1:5999"]["auth"], "dXNlcjpzZWNyZXQ=");
    // The socket is the service's own.
    let mut cmd = env.cmd(&[
        "run",
        "--rm",
        "--use-api-socket",
        "busybox",
        "stat",
        "-c",
        "%i",
        "/var/run/docker.sock",
    ]);
    cmd.env("DOCKER_HOST", api.host());
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&api.socket).unwrap());
    assert_eq!(env.output(cmd).ok().trim(), inode.to_string());
    let mut tcp = env.cmd(&["run", "--rm", "--use-api-socket", "busybox", "true"]);
    tcp.env("DOCKER_HOST", "tcp://127.0.0.1:2375");
    env.output(tcp).fails(
        125,
        "flag --use-api-socket can only be used with unix sockets",
    );
    let mut none = env.cmd(&["run", "--rm", "--use-api-socket", "busybox", "true"]);
    none.env(
        "DOCKER_HOST",
        format!("unix://{}", env.path("nothing.sock").display()),
    );
    env.output(none).fails(125, "no Engine API socket at");
}
