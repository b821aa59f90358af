//! Real tools no one here wrote, reading what berth writes and writing what
//! berth reads: skopeo always (Debian's package), docker where an engine answers.

mod common;

use std::process::Command;

use common::{busybox_tar, tool, Env};

fn docker_available() -> bool {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn skopeo_reads_berth_archives_and_berth_reads_oci_archives() {
    let env = Env::with_busybox();
    let archive = env.path("berth.tar");
    env.berth(&["save", "-o", archive.to_str().unwrap(), "busybox"])
        .ok();
    let inspected = tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            &format!("docker-archive:{}", archive.display()),
        ],
    );
    assert!(inspected.contains("\"layers\""), "{inspected}");
    let oci = env.path("oci.tar");
    tool(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("docker-archive:{}", archive.display()),
            &format!("oci-archive:{}:busybox:fromskopeo", oci.display()),
        ],
    );
    let other = Env::new();
    assert_eq!(
        other.berth(&["load", "-i", oci.to_str().unwrap()]).ok(),
        "Loaded image: busybox:fromskopeo\n"
    );
    assert_eq!(
        other
            .berth(&["run", "--rm", "busybox:fromskopeo", "echo", "ok"])
            .ok(),
        "ok\n"
    );
    assert_eq!(
        other.berth(&["images", "-q"]).ok(),
        env.berth(&["images", "-q"]).ok(),
        "same image id"
    );
    other.check_clean();
}

#[test]
fn docker_loads_berth_images_and_berth_loads_docker_images() {
    if !docker_available() {
        eprintln!("skipped: no docker engine answers here");
        return;
    }
    let env = Env::with_busybox();
    let tag = format!("berth-compat-{}", std::process::id());
    env.berth(&["tag", "busybox", &format!("{tag}:a")]).ok();
    let archive = env.path("berth.tar");
    env.berth(&["save", "-o", archive.to_str().unwrap(), &format!("{tag}:a")])
        .ok();
    tool("docker", &["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(
        tool(
            "docker",
            &["run", "--rm", &format!("{tag}:a"), "echo", "from berth"]
        ),
        "from berth\n"
    );
    // docker's own image of the same tree, two names sharing one layer (docker writes a symlink).
    tool(
        "docker",
        &[
            "import",
            busybox_tar().to_str().unwrap(),
            &format!("{tag}:b"),
        ],
    );
    tool("docker", &["tag", &format!("{tag}:b"), &format!("{tag}:c")]);
    let docker_archive = env.path("docker.tar");
    tool(
        "docker",
        &[
            "save",
            "-o",
            docker_archive.to_str().unwrap(),
            &format!("{tag}:b"),
            &format!("{tag}:c"),
            &format!("{tag}:a"),
        ],
    );
    let other = Env::new();
    let out = other
        .berth(&["load", "-i", docker_archive.to_str().unwrap()])
        .ok();
    assert!(
        out.contains(&format!("Loaded image: {tag}:b"))
            && out.contains(&format!("Loaded image: {tag}:a")),
        "{out}"
    );
    assert_eq!(
        other
            .berth(&["run", "--rm", &format!("{tag}:c"), "echo", "from docker"])
            .ok(),
        "from docker\n"
    );
    let docker_id = tool(
        "docker",
        &["image", "inspect", "-f", "{{.Id}}", &format!("{tag}:b")],
    );
    assert_eq!(
        other
            .berth(&["image", "inspect", "-f", "{{.Id}}", &format!("{tag}:b")])
            .ok(),
        docker_id
    );
    other.check_clean();
    for t in ["a", "b", "c"] {
        let _ = Command::new("docker")
            .args(["rmi", "-f", &format!("{tag}:{t}")])
            .output();
    }
}

#[test]
fn archives_cannot_link_outside() {
    let env = Env::new();
    let manifest = r#"[{"Config":"c.json","RepoTags":["evil:1"],"Layers":["l/layer.tar"]}]"#;
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "manifest.json", manifest.as_bytes())
        .unwrap();
    for (name, target) in [
        ("c.json", "/etc/hostname"),
        ("l/layer.tar", "../../../../../etc/hostname"),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, name, target).unwrap();
    }
    env.berth_stdin(&["load"], &b.into_inner().unwrap())
        .fails(1, "outside the archive");
    assert_eq!(env.berth(&["images", "-q"]).ok(), "");
}

/// The docker client that matches Debian's engine (BuildKit built in).
fn docker_client() -> &'static str {
    if std::path::Path::new("/usr/bin/docker").exists() {
        "/usr/bin/docker"
    } else {
        "docker"
    }
}

#[test]
fn docker_and_berth_build_the_same_tree_and_config() {
    if !docker_available() {
        eprintln!("skipped: no docker engine answers here");
        return;
    }
    let env = Env::with_busybox();
    let tag = format!("berth-compat-build-{}", std::process::id());
    let base = format!("{tag}-base");
    tool(
        docker_client(),
        &["import", busybox_tar().to_str().unwrap(), &base],
    );
    env.berth(&["tag", "busybox", &base]).ok();
    let ctx = env.path("ctx");
    std::fs::create_dir_all(ctx.join("files/sub")).unwrap();
    std::fs::write(ctx.join("files/a.txt"), "alpha\n").unwrap();
    std::fs::write(ctx.join("files/sub/b.sh"), "#!/bin/sh\necho b\n").unwrap();
    std::fs::set_permissions(
        ctx.join("files/sub/b.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(ctx.join(".dockerignore"), "files/ignored\n").unwrap();
    std::fs::write(ctx.join("files/ignored"), "no").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {base}\nENV APP=/app\nWORKDIR /app\nCOPY files/ ./files/\nCOPY --chown=nobody:nogroup files/a.txt /app/owned.txt\nRUN mkdir -p data && echo x > data/f && ln -s data/f link && chmod 600 data/f && rm files/a.txt\nUSER nobody\nEXPOSE 8080\nLABEL k=v\nCMD [\"sh\"]\n"),
    )
    .unwrap();
    let status = std::process::Command::new(docker_client())
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "-q", "-t", &tag, ctx.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    env.berth(&["build", "-q", "-t", &tag, ctx.to_str().unwrap()])
        .ok();
    let listing = "find /app | sort | while read f; do stat -c '%n %a %u %g %F' \"$f\"; [ -f \"$f\" ] && [ -r \"$f\" ] && md5sum \"$f\"; [ -L \"$f\" ] && readlink \"$f\"; done; true";
    let theirs = tool(
        docker_client(),
        &["run", "--rm", "-u", "0", &tag, "sh", "-c", listing],
    );
    let ours = env
        .berth(&["run", "--rm", "-u", "0", &tag, "sh", "-c", listing])
        .ok();
    assert_eq!(
        ours, theirs,
        "the same file tree (names, modes, owners, types, contents, links)"
    );
    for field in [
        "{{json .Config.Env}}",
        "{{.Config.WorkingDir}}",
        "{{.Config.User}}",
        "{{json .Config.ExposedPorts}}",
        "{{json .Config.Cmd}}",
        "{{json .Config.Labels}}",
        "{{len .RootFS.Layers}}",
    ] {
        let d = tool(docker_client(), &["image", "inspect", "-f", field, &tag]);
        let b = env.berth(&["image", "inspect", "-f", field, &tag]).ok();
        assert_eq!(b, d, "config field {field}");
    }
    let _ = std::process::Command::new(docker_client())
        .args(["rmi", "-f", &tag, &base])
        .output();
}

#[test]
fn docker_pulls_what_berth_pushed_and_berth_uses_dockers_login() {
    if !docker_available() {
        eprintln!("skipped: no docker engine answers here");
        return;
    }
    let reg = common::registry::Registry::with_auth(common::registry::Auth::Basic {
        user: "dave".into(),
        password: "compat-pw".into(),
    });
    let env = Env::with_busybox();
    // docker logs in (its daemon checks the password) and writes config.json ...
    let config = env.path("docker-config");
    let mut login = Command::new(docker_client());
    login
        .env("DOCKER_CONFIG", &config)
        .args(["login", "-u", "dave", "--password-stdin", &reg.addr])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null());
    let mut child = login.spawn().unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"compat-pw").unwrap();
    assert!(child.wait().unwrap().success(), "docker login");
    // ... which berth uses to push ...
    let name = format!("{}/compat:1", reg.addr);
    env.berth(&["tag", "busybox", &name]).ok();
    env.berth(&["push", &name]).ok();
    // ... and docker pulls and runs what berth pushed.
    let docker = |args: &[&str]| {
        Command::new(docker_client())
            .env("DOCKER_CONFIG", &config)
            .args(args)
            .output()
            .unwrap()
    };
    let pulled = docker(&["pull", "-q", &name]);
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let ran = docker(&["run", "--rm", &name, "echo", "pushed by berth"]);
    let _ = docker(&["rmi", "-f", &name]);
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "pushed by berth\n");
}

/// The keys of a JSON object, sorted.
fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

#[test]
fn networks_inspect_as_dockers_do() {
    if !docker_available() {
        eprintln!("skipped: no docker engine answers here");
        return;
    }
    let env = Env::with_busybox();
    let name = format!("berth-compat-net-{}", std::process::id());
    let image = format!("{name}-img");
    /// docker's container, network and image go even when an assertion fails.
    struct DockerCleanup(String);
    impl Drop for DockerCleanup {
        fn drop(&mut self) {
            let docker = |args: &[&str]| Command::new(docker_client()).args(args).output();
            let _ = docker(&["rm", "-f", &self.0]);
            let _ = docker(&["network", "rm", &self.0]);
            let _ = docker(&["rmi", &format!("{}-img", self.0)]);
        }
    }
    let _cleanup = DockerCleanup(name.clone());
    tool(
        docker_client(),
        &["import", busybox_tar().to_str().unwrap(), &image],
    );
    // Side by side on one host: the two networks cannot share a subnet.
    let create = |subnet| {
        [
            "network", "create", "--subnet", subnet, "--label", "k=v", &name,
        ]
    };
    tool(docker_client(), &create("10.219.9.0/24"));
    env.berth(&create("10.219.10.0/24")).ok();
    let run = |engine: &dyn Fn(&[&str]) -> String, image: &str| {
        engine(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &name,
            "--network-alias",
            "db",
            image,
            "sleep",
            "30",
        ]);
    };
    let docker = |args: &[&str]| tool(docker_client(), args);
    let berth = |args: &[&str]| env.berth(args).ok();
    run(&docker, &image);
    run(&berth, "busybox");
    let inspect = |out: String| -> serde_json::Value {
        serde_json::from_str::<serde_json::Value>(&out).unwrap()[0].clone()
    };
    let d = inspect(docker(&["network", "inspect", &name]));
    let b = inspect(berth(&["network", "inspect", &name]));
    let (dc, bc) = (docker(&["inspect", &name]), berth(&["inspect", &name]));
    assert_eq!(keys(&b), keys(&d), "network inspect keys");
    assert_eq!(keys(&b["IPAM"]), keys(&d["IPAM"]));
    assert_eq!(keys(&b["IPAM"]["Config"][0]), keys(&d["IPAM"]["Config"][0]));
    assert_eq!(b["Labels"], d["Labels"]);
    let (dcont, bcont) = (
        d["Containers"].as_object().unwrap(),
        b["Containers"].as_object().unwrap(),
    );
    assert_eq!(
        keys(dcont.values().next().unwrap()),
        keys(bcont.values().next().unwrap())
    );
    assert_eq!(
        dcont.values().next().unwrap()["IPv4Address"],
        "10.219.9.2/24"
    );
    assert_eq!(
        bcont.values().next().unwrap()["IPv4Address"],
        "10.219.10.2/24"
    );
    let (dc, bc) = (inspect(dc), inspect(bc));
    let (de, be) = (
        &dc["NetworkSettings"]["Networks"][&name],
        &bc["NetworkSettings"]["Networks"][&name],
    );
    assert_eq!(keys(be), keys(de), "endpoint keys");
    assert_eq!(
        (
            &de["IPAddress"],
            &de["Gateway"],
            &de["MacAddress"],
            &de["IPPrefixLen"]
        ),
        (
            &"10.219.9.2".into(),
            &"10.219.9.1".into(),
            &"02:42:0a:db:09:02".into(),
            &24.into()
        )
    );
    assert_eq!(
        (
            &be["IPAddress"],
            &be["Gateway"],
            &be["MacAddress"],
            &be["IPPrefixLen"]
        ),
        (
            &"10.219.10.2".into(),
            &"10.219.10.1".into(),
            &"02:42:0a:db:0a:02".into(),
            &24.into()
        )
    );
    assert!(de["Aliases"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("db")));
    assert!(be["Aliases"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("db")));
}

/// The same `docker run` flags under docker and berth: what the container
/// sees of its cgroup, limits, namespaces, devices and identity is the same.
#[test]
fn docker_and_berth_containers_see_the_same_flags() {
    if !docker_available() {
        eprintln!("skipped: no docker engine answers here");
        return;
    }
    let env = Env::with_busybox();
    let image = format!("berth-compat-flags-{}", std::process::id());
    tool(
        docker_client(),
        &["import", busybox_tar().to_str().unwrap(), &image],
    );
    env.berth(&["tag", "busybox", &image]).ok();
    let flags = [
        "--memory",
        "64m",
        "--memory-reservation",
        "32m",
        "--cpus",
        "0.5",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "42",
        "--shm-size",
        "128m",
        "--oom-score-adj",
        "300",
        "--group-add",
        "1234",
        "--sysctl",
        "kernel.msgmax=65536",
        "--hostname",
        "flags",
        "--domainname",
        "example.org",
        "--device",
        "/dev/null:/dev/mynull:rw",
        "--pid",
        "host",
        "--expose",
        "8080",
    ];
    let script = r#"
        if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
            cd /sys/fs/cgroup; cat memory.max memory.low cpu.max cpuset.cpus pids.max
        else
            cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes cpu/cpu.cfs_quota_us cpuset/cpuset.cpus pids/pids.max
            grep ' /sys/fs/cgroup/memory ' /proc/self/mounts | grep -c ' ro,'
        fi
        df -k /dev/shm | tail -1 | awk '{print $2}'
        cat /proc/self/oom_score_adj; id -G; cat /proc/sys/kernel/msgmax /proc/sys/kernel/domainname; hostname
        ls -l /dev/mynull | awk '{print $1, $5, $6}'
        readlink /proc/self/ns/pid
    "#;
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(&flags);
    args.extend_from_slice(&[&image, "sh", "-c", script]);
    let docker = tool(docker_client(), &args);
    let berth = env.berth(&args).ok();
    let _ = Command::new(docker_client()).args(["rmi", &image]).output();
    assert_eq!(berth, docker, "berth saw:\n{berth}\ndocker saw:\n{docker}");
}

#[test]
fn docker_and_berth_give_the_same_ip6_addresses() {
    if !docker_available() {
        eprintln!("skipped: no docker engine answers here");
        return;
    }
    let env = Env::with_busybox();
    let tag = std::process::id();
    let (image, net) = (format!("berth-compat-ip6-{tag}"), format!("compat6-{tag}"));
    tool(
        docker_client(),
        &["import", busybox_tar().to_str().unwrap(), &image],
    );
    env.berth(&["tag", "busybox", &image]).ok();
    // Each on a subnet of its own: both engines' bridges are on this host.
    let seen = |run: &dyn Fn(&[&str]) -> String, subnet: &str, ip6: &str| {
        run(&["network", "create", "--ipv6", "--subnet", subnet, &net]);
        let out = run(&[
            "run", "--rm", "--network", &net, "--ip6", ip6, &image, "sh", "-c",
            "ip -6 addr show eth0 | grep -o 'inet6 [0-9a-f:]*/[0-9]* scope global'; ip -6 route | grep -o '^default via [0-9a-f:]*'",
        ]);
        run(&["network", "rm", &net]);
        out.replace(subnet.trim_end_matches("::/64"), "PREFIX")
    };
    let docker = seen(
        &|a| tool(docker_client(), a),
        "fd00:d0c::/64",
        "fd00:d0c::33",
    );
    let berth = seen(&|a| env.berth(a).ok(), "fd00:be7::/64", "fd00:be7::33");
    let _ = Command::new(docker_client()).args(["rmi", &image]).output();
    assert_eq!(berth, docker, "berth saw:\n{berth}\ndocker saw:\n{docker}");
    assert!(
        berth.contains("inet6 PREFIX::33/64 scope global"),
        "{berth}"
    );
}
