//! Volumes end to end: create, ls, inspect, rm, prune; named and anonymous
//! volumes in containers, the image's content copied in on first use, data
//! that outlives its container, read-only mounts, and bad input.

mod common;

use common::Env;

#[test]
fn named_volumes_keep_data_across_containers() {
    let env = Env::with_busybox();
    assert_eq!(
        env.berth(&["volume", "create", "--label", "team=a", "data"])
            .ok(),
        "data\n"
    );
    env.berth(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/file",
    ])
    .ok();
    assert_eq!(
        env.berth(&["run", "--rm", "-v", "data:/d", "busybox", "cat", "/d/file"])
            .ok(),
        "kept\n"
    );
    // A missing named volume is created by run.
    env.berth(&[
        "run",
        "--name",
        "writer",
        "-v",
        "auto:/auto",
        "busybox",
        "sh",
        "-c",
        "echo one > /auto/f",
    ])
    .ok();
    env.berth(&["rm", "-v", "writer"]).ok();
    assert_eq!(
        env.berth(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=auto,dst=/m",
            "busybox",
            "cat",
            "/m/f"
        ])
        .ok(),
        "one\n",
        "rm -v keeps named volumes"
    );
    // :ro refuses writes.
    env.berth(&[
        "run",
        "--rm",
        "-v",
        "data:/data:ro",
        "busybox",
        "sh",
        "-c",
        "echo x > /data/new",
    ])
    .fails_in_container("Read-only file system");
    env.berth(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,src=data,dst=/data,readonly",
        "busybox",
        "touch",
        "/data/new",
    ])
    .fails_in_container("Read-only file system");
    let ls = env.berth(&["volume", "ls"]).ok();
    assert!(
        ls.starts_with("DRIVER    VOLUME NAME\n")
            && ls.contains("local     data\n")
            && ls.contains("local     auto\n"),
        "{ls}"
    );
    assert_eq!(
        env.berth(&["volume", "ls", "-q", "--filter", "label=team=a"])
            .ok(),
        "data\n"
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&env.berth(&["volume", "inspect", "data"]).ok()).unwrap();
    assert_eq!(inspect[0]["Name"], "data");
    assert_eq!(inspect[0]["Labels"]["team"], "a");
    let mountpoint = inspect[0]["Mountpoint"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(format!("{mountpoint}/file")).unwrap(),
        "kept\n"
    );
    // In use: rm is refused; once the container is gone it works.
    env.berth(&[
        "create",
        "--name",
        "user",
        "-v",
        "data:/data",
        "busybox",
        "true",
    ])
    .ok();
    let mount = env.inspect("user", "{{json .Mounts}}");
    assert!(
        mount.contains(r#""Type":"volume""#) && mount.contains(r#""Name":"data""#),
        "{mount}"
    );
    env.berth(&["volume", "rm", "data"])
        .fails(1, "volume is in use");
    assert_eq!(
        env.berth(&["volume", "ls", "-q", "--filter", "dangling=false"])
            .ok(),
        "data\n"
    );
    env.berth(&["rm", "user"]).ok();
    assert_eq!(env.berth(&["volume", "rm", "data"]).ok(), "data\n");
    assert!(!std::path::Path::new(mountpoint).exists());
    env.berth(&["volume", "rm", "data"])
        .fails(1, "No such volume: data");
    env.berth(&["volume", "rm", "-f", "data"]).ok();
    // Bad names and options.
    env.berth(&["volume", "create", "bad/name"])
        .fails(1, "includes invalid characters for a local volume name");
    env.berth(&["run", "-v", "bad$name:/x", "busybox", "true"])
        .fails(125, "includes invalid characters");
    env.berth(&["volume", "create", "-d", "nfs", "v"])
        .fails(1, "local driver only");
    env.berth(&["volume", "inspect", "nosuch"])
        .fails(1, "No such volume: nosuch");
    env.check_clean();
}

#[test]
fn anonymous_volumes_get_the_images_content_and_go_with_rm_v() {
    let env = Env::with_busybox();
    let ctx = env.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN mkdir /seed && echo from-image > /seed/file\nVOLUME /seed\n",
    )
    .unwrap();
    env.berth(&["build", "-q", "-t", "seeded", ctx.to_str().unwrap()])
        .ok();
    // The image's VOLUME gets an anonymous volume, filled from the image on first use.
    env.berth(&[
        "run",
        "--name",
        "anon",
        "seeded",
        "sh",
        "-c",
        "cat /seed/file; echo added > /seed/more",
    ])
    .ok();
    let name = env.inspect("anon", "{{range .Mounts}}{{.Name}}{{end}}");
    assert_eq!(name.len(), 64, "a random name: {name}");
    let data = env
        .berth(&["volume", "inspect", "-f", "{{.Mountpoint}}", &name])
        .ok();
    assert_eq!(
        std::fs::read_to_string(format!("{}/more", data.trim())).unwrap(),
        "added\n"
    );
    // A named volume over the same path is filled from the image too (it was empty).
    assert_eq!(
        env.berth(&[
            "run",
            "--rm",
            "-v",
            "named:/seed",
            "seeded",
            "cat",
            "/seed/file"
        ])
        .ok(),
        "from-image\n"
    );
    // -v /path makes an anonymous volume; --rm takes its anonymous volumes along.
    let before = env.berth(&["volume", "ls", "-q"]).ok().lines().count();
    env.berth(&[
        "run",
        "--rm",
        "-v",
        "/scratch",
        "busybox",
        "touch",
        "/scratch/x",
    ])
    .ok();
    assert_eq!(
        env.berth(&["volume", "ls", "-q"]).ok().lines().count(),
        before
    );
    env.berth(&["rm", "-v", "anon"]).ok();
    env.berth(&["volume", "inspect", &name])
        .fails(1, "No such volume");
    assert!(
        env.berth(&["volume", "ls", "-q"]).ok().contains("named"),
        "rm -v keeps named volumes"
    );
    // prune: anonymous unused ones by default, every unused one with -a.
    env.berth(&["create", "-v", "/anon2", "busybox", "true"])
        .ok();
    env.berth(&["rm", "-f", env.berth(&["ps", "-aq"]).ok().trim()])
        .ok();
    let out = env.berth(&["volume", "prune", "-f"]).ok();
    assert!(out.starts_with("Deleted Volumes:\n"), "{out}");
    assert!(env.berth(&["volume", "ls", "-q"]).ok().contains("named"));
    env.berth(&["volume", "prune", "-a", "-f"]).ok();
    assert_eq!(env.berth(&["volume", "ls", "-q"]).ok(), "");
    env.check_clean();
}

#[test]
fn local_driver_options_tmpfs_and_bind() {
    let env = Env::with_busybox();
    let create = |args: &[&str]| {
        let mut all = vec!["volume", "create"];
        all.extend_from_slice(args);
        env.berth(&all)
    };
    // type=tmpfs: the volume is a tmpfs with the given options.
    create(&[
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        "ramvol",
    ])
    .ok();
    let out = env
        .berth(&[
            "run",
            "--rm",
            "-v",
            "ramvol:/ram",
            "busybox",
            "sh",
            "-c",
            "echo in-ram > /ram/f && grep ' /ram ' /proc/mounts | cut -d' ' -f3",
        ])
        .ok();
    assert_eq!(out, "tmpfs\n");
    assert_eq!(
        env.berth(&[
            "run",
            "--rm",
            "-v",
            "ramvol:/ram",
            "busybox",
            "cat",
            "/ram/f"
        ])
        .ok(),
        "in-ram\n"
    );
    assert_eq!(
        env.berth(&[
            "volume",
            "inspect",
            "-f",
            "{{.Options.type}} {{.Options.o}}",
            "ramvol"
        ])
        .ok(),
        "tmpfs size=1m\n"
    );
    // type=none,o=bind: the volume is a host directory, never filled from the image.
    let host = env.path("bound");
    std::fs::create_dir_all(&host).unwrap();
    create(&[
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &format!("device={}", host.display()),
        "hostdir",
    ])
    .ok();
    env.berth(&[
        "run",
        "--rm",
        "-v",
        "hostdir:/etc",
        "busybox",
        "sh",
        "-c",
        "ls /etc | wc -l; echo written > /etc/f",
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(host.join("f")).unwrap(),
        "written\n"
    );
    assert_eq!(
        std::fs::read_dir(&host).unwrap().count(),
        1,
        "nothing copied in from the image"
    );
    env.berth(&["volume", "rm", "ramvol", "hostdir"]).ok();
    assert!(
        host.join("f").exists(),
        "removing the volume leaves the host directory alone"
    );
    create(&["-o", "type=nfs", "x"]).fails(1, "volume type \"nfs\" is not supported");
    create(&["-o", "type=none", "-o", "device=/nonexistent", "x"])
        .fails(1, "give o=bind and device=");
    create(&["-o", "colour=red", "x"]).fails(1, "invalid option key");
    env.check_clean();
}

#[test]
fn mount_flag_volume_options() {
    let env = Env::with_busybox();
    // volume-opt and volume-label make the missing volume as `volume create -o` would.
    let out = env
        .berth(&[
            "run", "--rm", "--mount",
            "type=volume,src=mounted,dst=/data,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=team=db",
            "busybox", "sh", "-c", "grep ' /data ' /proc/mounts | cut -d' ' -f3",
        ])
        .ok();
    assert_eq!(out, "tmpfs\n");
    assert_eq!(
        env.berth(&[
            "volume",
            "inspect",
            "-f",
            "{{.Options.type}} {{.Labels.team}}",
            "mounted"
        ])
        .ok(),
        "tmpfs db\n"
    );
    // volume-nocopy: the image's files at the path are not copied in.
    let listed = env
        .berth(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=empty,dst=/etc,volume-nocopy",
            "busybox",
            "ls",
            "/etc",
        ])
        .ok();
    assert!(!listed.contains("passwd"), "{listed}");
    let copied = env
        .berth(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=full,dst=/etc",
            "busybox",
            "ls",
            "/etc",
        ])
        .ok();
    assert!(copied.contains("passwd"), "{copied}");
    env.berth(&[
        "run",
        "--mount",
        "type=bind,src=/tmp,dst=/x,volume-nocopy",
        "busybox",
        "true",
    ])
    .fails(125, "volume options need type=volume");
    env.berth(&[
        "run",
        "--mount",
        "type=volume,src=bad/name,dst=/x",
        "busybox",
        "true",
    ])
    .fails(125, "invalid volume name \"bad/name\"");
    env.berth(&[
        "run",
        "--mount",
        "type=volume,src=vol,dst=/x,volume-driver=nfs",
        "busybox",
        "true",
    ])
    .fails(125, "berth has the local driver only");
    env.check_clean();
}
