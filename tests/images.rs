//! Local images end to end: import, images, tag, rmi, inspect, history,
//! save, load, and the store's integrity under bad input.

mod common;

use std::io::Write;

use common::{busybox_tar, Env};

#[test]
fn import_with_changes_and_message() {
    let env = Env::new();
    let id = env
        .berth(&[
            "import",
            "-c",
            "CMD [\"echo\", \"imported\"]",
            "-c",
            "ENV GREETING=hi",
            "-c",
            "WORKDIR /tmp",
            "-m",
            "my message",
            busybox_tar().to_str().unwrap(),
            "mine:v1",
        ])
        .ok();
    assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id}");
    assert_eq!(env.berth(&["run", "--rm", "mine:v1"]).ok(), "imported\n");
    assert_eq!(
        env.berth(&["run", "--rm", "mine:v1", "sh", "-c", "echo $GREETING; pwd"])
            .ok(),
        "hi\n/tmp\n"
    );
    let inspect = env
        .berth(&[
            "image",
            "inspect",
            "-f",
            "{{.Comment}}|{{json .Config.Cmd}}|{{.Os}}|{{len .RootFS.Layers}}",
            "mine:v1",
        ])
        .ok();
    assert_eq!(inspect.trim(), r#"my message|["echo","imported"]|linux|1"#);
    // From stdin, untagged: a dangling image.
    let data = std::fs::read(busybox_tar()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&data).unwrap();
    let id2 = env
        .berth_stdin(&["import", "-"], &gz.finish().unwrap())
        .ok();
    let zst = zstd_compress(&data);
    env.berth_stdin(&["import", "-", "zstd:1"], &zst).ok();
    assert_eq!(
        env.berth(&["run", "--rm", "zstd:1", "echo", "zstd"]).ok(),
        "zstd\n"
    );
    let dangling = env
        .berth(&["images", "-q", "--no-trunc", "--filter", "dangling=true"])
        .ok();
    assert_eq!(dangling.trim(), id2.trim());
    env.berth(&["import", "-c", "RUN echo", busybox_tar().to_str().unwrap()])
        .fails(1, "RUN is not a valid change command");
    env.berth(&["import", "/no/such.tar"])
        .fails(1, "/no/such.tar");
    env.berth(&["import", busybox_tar().to_str().unwrap(), "Bad:Name"])
        .fails(1, "invalid reference format");
    env.check_clean();
}

#[test]
fn images_lists_filters_and_formats() {
    let env = Env::with_busybox();
    env.berth(&["tag", "busybox", "localhost:5000/team/app:1.0"])
        .ok();
    let table = env.berth(&["images"]).ok();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "{:<26}{:<10}{:<15}CREATED",
            "REPOSITORY", "TAG", "IMAGE ID"
        )),
        "{table}"
    );
    assert!(
        table.contains("localhost:5000/team/app   1.0       "),
        "{table}"
    );
    assert!(
        table.contains("busybox                   latest    "),
        "{table}"
    );
    assert_eq!(lines.len(), 3);
    let q = env.berth(&["images", "-q"]).ok();
    assert_eq!(q.lines().count(), 1, "one id for two tags of one image");
    assert_eq!(q.trim().len(), 12);
    assert_eq!(
        env.berth(&[
            "images",
            "--filter",
            "reference=busy*",
            "--format",
            "{{.Repository}}:{{.Tag}}"
        ])
        .ok(),
        "busybox:latest\n"
    );
    assert_eq!(
        env.berth(&["images", "busybox", "--format", "{{.Repository}}"])
            .ok(),
        "busybox\n"
    );
    assert_eq!(
        env.berth(&["images", "--filter", "dangling=true", "-q"])
            .ok(),
        ""
    );
    assert!(env
        .berth(&["images", "--digests"])
        .ok()
        .lines()
        .next()
        .unwrap()
        .contains("DIGEST"));
    let json = env.berth(&["images", "--format", "json", "busybox"]).ok();
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(
        (v["Repository"].as_str(), v["Tag"].as_str()),
        (Some("busybox"), Some("latest"))
    );
    assert!(env
        .berth(&["images", "--no-trunc", "-q"])
        .ok()
        .starts_with("sha256:"));
    let custom = env
        .berth(&[
            "images",
            "--format",
            "table {{.Repository}}\t{{.Size}}",
            "busybox",
        ])
        .ok();
    assert!(
        custom.starts_with("REPOSITORY   SIZE\nbusybox      "),
        "{custom}"
    );
    env.berth(&["images", "--filter", "bogus=1"])
        .fails(1, "invalid filter 'bogus'");
    env.berth(&["images", "--filter", "dangling=maybe"])
        .fails(1, "invalid filter");
    env.berth(&["images", "--format", "{{.Nope"])
        .fails(1, "template");
    // Labels from --change.
    env.berth(&[
        "import",
        "-c",
        "LABEL team=core",
        busybox_tar().to_str().unwrap(),
        "labelled",
    ])
    .ok();
    assert_eq!(
        env.berth(&[
            "images",
            "--filter",
            "label=team=core",
            "--format",
            "{{.Repository}}"
        ])
        .ok(),
        "labelled\n"
    );
    assert_eq!(
        env.berth(&[
            "images",
            "--filter",
            "label=team",
            "--format",
            "{{.Repository}}"
        ])
        .ok(),
        "labelled\n"
    );
    // before= and since= order by creation time: labelled came after busybox.
    let ids = |args: &[&str]| env.berth(&[&["images", "-q"], args].concat()).ok();
    let (busybox, labelled) = (ids(&["busybox"]), ids(&["labelled"]));
    assert_ne!(busybox, labelled);
    assert_eq!(ids(&["--filter", "since=busybox"]), labelled);
    assert_eq!(ids(&["--filter", "before=labelled"]), busybox);
    assert_eq!(ids(&["--filter", "before=busybox"]), "");
    env.berth(&["images", "--filter", "since=nosuch"])
        .fails(1, "No such image");
}

#[test]
fn tag_and_rmi_untag_or_delete_as_docker() {
    let env = Env::with_busybox();
    let id = env
        .berth(&["images", "-q", "--no-trunc"])
        .ok()
        .trim()
        .to_string();
    env.berth(&["tag", "busybox", "other:1"]).ok();
    env.berth(&["tag", "busybox", "bad@sha256:1"])
        .fails(1, "invalid reference format");
    env.berth(&["tag", "nosuch", "x"])
        .fails(1, "No such image: nosuch");
    // Two names: by id refuses, by name untags.
    env.berth(&["rmi", &id[7..19]])
        .fails(1, "image is referenced in multiple repositories");
    assert_eq!(env.berth(&["rmi", "other:1"]).ok(), "Untagged: other:1\n");
    // A container (even a stopped one) holds the image.
    env.berth(&["create", "--name", "user", "busybox", "true"])
        .ok();
    env.berth(&["rmi", "busybox"])
        .fails(1, "image is being used by stopped container");
    env.berth(&["rm", "user"]).ok();
    let out = env.berth(&["rmi", "busybox"]).ok();
    assert_eq!(out, format!("Untagged: busybox:latest\nDeleted: {id}\n"));
    assert_eq!(env.berth(&["images", "-q"]).ok(), "");
    assert_eq!(
        std::fs::read_dir(env.root().join("snapshots"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name() != "empty")
            .count(),
        0
    );
    assert_eq!(
        std::fs::read_dir(env.root().join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
    env.berth(&["rmi", "busybox"])
        .fails(1, "No such image: busybox");
    // -f removes an image with several names.
    env.berth(&["import", busybox_tar().to_str().unwrap(), "a"])
        .ok();
    env.berth(&["tag", "a", "b"]).ok();
    let id = env.berth(&["images", "-q"]).ok();
    let out = env.berth(&["rmi", "-f", id.trim()]).ok();
    assert!(
        out.contains("Untagged: a:latest")
            && out.contains("Untagged: b:latest")
            && out.contains("Deleted: sha256:"),
        "{out}"
    );
    env.check_clean();
}

#[test]
fn inspect_and_history() {
    let env = Env::with_busybox();
    let out = env.berth(&["image", "inspect", "busybox"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let img = &v[0];
    assert!(img["Id"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(img["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(img["Architecture"], "amd64");
    assert_eq!(img["RootFS"]["Type"], "layers");
    assert_eq!(img["GraphDriver"]["Name"], "overlay2");
    assert!(img["Size"].as_u64().unwrap() > 1_000_000);
    assert!(
        out.starts_with("[\n    {\n        \"Id\""),
        "docker's 4-space indent"
    );
    // Generic inspect falls back from containers to images.
    assert_eq!(
        env.berth(&["inspect", "-f", "{{index .RepoTags 0}}", "busybox"])
            .ok(),
        "busybox:latest\n"
    );
    let r = env.berth(&["inspect", "nosuch"]);
    assert_eq!((r.code, r.stdout.as_str()), (1, "[]\n"));
    assert!(r.stderr.contains("No such object: nosuch"));
    env.berth(&["image", "inspect", "nosuch"])
        .fails(1, "No such image: nosuch");
    let hist = env.berth(&["history", "busybox"]).ok();
    let lines: Vec<&str> = hist.lines().collect();
    assert!(lines[0].starts_with("IMAGE          CREATED"), "{hist}");
    assert!(
        lines[0].contains("CREATED BY")
            && lines[0].contains("SIZE")
            && lines[0].ends_with("COMMENT")
    );
    assert!(lines[1].contains("Imported from "));
    assert_eq!(
        env.berth(&["history", "-q", "busybox"]).ok().trim().len(),
        12
    );
    assert!(env
        .berth(&["history", "-q", "--no-trunc", "busybox"])
        .ok()
        .starts_with("sha256:"));
    assert!(env
        .berth(&["history", "--format", "{{.Size}}", "busybox"])
        .ok()
        .ends_with("MB\n"));
    env.berth(&["history", "nosuch"]).fails(1, "No such image");
}

#[test]
fn save_and_load_round_trip() {
    let env = Env::with_busybox();
    env.berth(&[
        "import",
        "-c",
        "CMD [\"echo\", \"second\"]",
        busybox_tar().to_str().unwrap(),
        "second:v2",
    ])
    .ok();
    let archive = env.path("both.tar");
    env.berth(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        "busybox",
        "second:v2",
    ])
    .ok();
    // The archive has docker 25+'s layout: OCI index plus the legacy manifest.json.
    let mut names = Vec::new();
    for e in tar::Archive::new(std::fs::File::open(&archive).unwrap())
        .entries()
        .unwrap()
    {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    for want in ["index.json", "manifest.json", "oci-layout", "repositories"] {
        assert!(names.contains(&want.to_string()), "{want} in {names:?}");
    }
    let other = Env::new();
    let out = other.berth(&["load", "-i", archive.to_str().unwrap()]).ok();
    assert_eq!(
        out,
        "Loaded image: busybox:latest\nLoaded image: second:v2\n"
    );
    assert_eq!(other.berth(&["run", "--rm", "second:v2"]).ok(), "second\n");
    assert_eq!(
        other.berth(&["images", "-q", "--no-trunc", "busybox"]).ok(),
        env.berth(&["images", "-q", "--no-trunc", "busybox"]).ok(),
        "the same image id after the round trip"
    );
    other.check_clean();
    // Through stdin and stdout.
    let mut child = env
        .cmd(&["save", "busybox"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut child.stdout.take().unwrap(), &mut bytes).unwrap();
    assert!(child.wait().unwrap().success());
    let third = Env::new();
    assert_eq!(
        third.berth_stdin(&["load"], &bytes).ok(),
        "Loaded image: busybox:latest\n"
    );
    assert_eq!(third.berth_stdin(&["load", "-q"], &bytes).ok(), "");
    env.berth(&["save", "-o", env.path("x.tar").to_str().unwrap(), "nosuch"])
        .fails(1, "No such image: nosuch");
    assert!(!env.path("x.tar").exists(), "no half archive");
    third.berth_stdin(&["load"], b"").fails(1, "empty input");
    third
        .berth_stdin(
            &["load"],
            b"not a tar at all, not even close........................",
        )
        .fails(1, "");
}

/// An archive as docker 20-24 wrote it: `<id>/layer.tar`, `<hex>.json`, manifest.json.
#[test]
fn load_accepts_the_legacy_docker_layout() {
    let env = Env::new();
    let layer = std::fs::read(busybox_tar()).unwrap();
    let diff = sha256(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["echo","legacy"]}},"rootfs":{{"type":"layers","diff_ids":["sha256:{diff}"]}},"history":[{{"created_by":"test"}}]}}"#
    );
    let config_hex = sha256(config.as_bytes());
    let manifest = format!(
        r#"[{{"Config":"{config_hex}.json","RepoTags":["legacy:old"],"Layers":["abc/layer.tar"]}}]"#
    );
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        (format!("{config_hex}.json"), config.as_bytes()),
        ("abc/layer.tar".to_string(), &layer[..]),
        ("manifest.json".to_string(), manifest.as_bytes()),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    }
    let archive = b.into_inner().unwrap();
    assert_eq!(
        env.berth_stdin(&["load"], &archive).ok(),
        "Loaded image: legacy:old\n"
    );
    assert_eq!(env.berth(&["run", "--rm", "legacy:old"]).ok(), "legacy\n");
    assert_eq!(
        env.berth(&["images", "-q", "--no-trunc"]).ok().trim(),
        format!("sha256:{config_hex}")
    );
    // A config whose diff ids do not match the layers is refused, and nothing is kept.
    let bad = archive_with_config(
        &layer,
        r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#,
    );
    let fresh = Env::new();
    fresh
        .berth_stdin(&["load"], &bad)
        .fails(1, "do not match its layers");
    assert_eq!(fresh.berth(&["images", "-q"]).ok(), "");
    let count = |d: &str| std::fs::read_dir(fresh.root().join(d)).unwrap().count();
    assert_eq!(
        (count("blobs/sha256"), count("snapshots")),
        (0, 0),
        "no orphans"
    );
}

fn archive_with_config(layer: &[u8], config: &str) -> Vec<u8> {
    let manifest = r#"[{"Config":"c.json","RepoTags":["bad:1"],"Layers":["l/layer.tar"]}]"#;
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("c.json", config.as_bytes()),
        ("l/layer.tar", layer),
        ("manifest.json", manifest.as_bytes()),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn zstd_compress(data: &[u8]) -> Vec<u8> {
    let mut child = std::process::Command::new("zstd")
        .args(["-q", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("zstd (Debian: zstd) compresses the test layer");
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out.stdout
}

fn sha256(data: &[u8]) -> String {
    let out = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        });
    String::from_utf8(out.unwrap().stdout).unwrap()[..64].to_string()
}

/// Writes a raw tar entry whose name the tar crate would refuse to write.
fn raw_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn malicious_layers_change_nothing() {
    let env = Env::with_busybox();
    let before = env.berth(&["images", "-q"]).ok();
    let outside = env.path("outside");
    for (what, tar) in [
        (
            "dotdot",
            raw_tar(&[("../../escape", tar::EntryType::Regular, "", b"x")]),
        ),
        (
            "hardlink out",
            raw_tar(&[("h", tar::EntryType::Link, "../../../etc/passwd", b"")]),
        ),
    ] {
        let r = env.berth_stdin(&["import", "-", "evil"], &tar);
        assert_eq!(r.code, 1, "{what}: {}", r.stderr);
        assert!(
            r.stderr.contains("points outside the root"),
            "{what}: {}",
            r.stderr
        );
    }
    // Symlinks that point out are kept as links, but writes through them stay inside.
    let link_target = outside.to_str().unwrap().to_string();
    let tar = raw_tar(&[
        ("l", tar::EntryType::Symlink, &link_target, b""),
        ("l/pwned", tar::EntryType::Regular, "", b"x"),
    ]);
    std::fs::create_dir(&outside).unwrap();
    env.berth_stdin(&["import", "-", "linky"], &tar).ok();
    assert!(!outside.join("pwned").exists());
    env.berth(&["rmi", "linky"]).ok();
    // A truncated layer is refused and leaves nothing.
    let data = std::fs::read(busybox_tar()).unwrap();
    env.berth_stdin(&["import", "-", "cut"], &data[..data.len() / 2])
        .fails(1, "invalid layer");
    assert_eq!(env.berth(&["images", "-q"]).ok(), before);
    assert_eq!(
        std::fs::read_dir(env.root().join("tmp")).unwrap().count(),
        0,
        "no temporary files left"
    );
    // Nothing from the refused imports stayed: only busybox's three blobs and one snapshot.
    assert_eq!(
        std::fs::read_dir(env.root().join("blobs/sha256"))
            .unwrap()
            .count(),
        3
    );
    let snapshots = std::fs::read_dir(env.root().join("snapshots")).unwrap();
    assert_eq!(
        snapshots
            .filter(|e| e.as_ref().unwrap().file_name() != "empty")
            .count(),
        1
    );
    // The store still checks clean (orphan blobs of refused layers are the only leftovers allowed: none).
    env.check_clean();
}

#[test]
fn system_check_finds_corruption() {
    let env = Env::with_busybox();
    env.check_clean();
    let blobs = env.root().join("blobs/sha256");
    let victim = std::fs::read_dir(&blobs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&victim, b"corrupted").unwrap();
    let r = env.berth(&["system", "check"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("content has digest"), "{}", r.stdout);
    assert!(r.stderr.contains("problem"), "{}", r.stderr);
    std::fs::remove_file(&victim).unwrap();
    let r = env.berth(&["system", "check"]);
    assert!(r.stdout.contains("is missing"), "{}", r.stdout);
}

#[test]
fn references_are_validated() {
    let env = Env::with_busybox();
    for bad in ["UPPER", "a:b:c", "a/-lead", "a@sha256:short"] {
        let r = env.berth(&["tag", "busybox", bad]);
        assert_eq!(r.code, 1, "{bad}");
        assert!(
            r.stderr.contains("invalid reference format"),
            "{bad}: {}",
            r.stderr
        );
    }
    env.berth(&["tag", "busybox", "docker.io/library/busybox:2"])
        .ok();
    assert_eq!(
        env.berth(&["images", "busybox", "--format", "{{.Tag}}"])
            .ok(),
        "2\nlatest\n"
    );
    env.berth(&["tag", "busybox", "index.docker.io/busybox:3"])
        .ok();
    env.berth(&["run", "--rm", "docker.io/library/busybox:3", "true"])
        .ok();
}

#[test]
fn image_and_system_prune() {
    let env = Env::with_busybox();
    env.berth(&["import", busybox_tar().to_str().unwrap()]).ok();
    env.berth(&["import", busybox_tar().to_str().unwrap(), "kept:1"])
        .ok();
    env.berth(&["create", "--name", "user", "kept:1", "true"])
        .ok();
    assert_eq!(env.berth(&["images", "-q"]).ok().lines().count(), 3);
    // Dangling only: the untagged import goes.
    let out = env.berth(&["image", "prune", "-f"]).ok();
    assert!(
        out.starts_with("Deleted Images:\ndeleted: sha256:")
            && out.contains("Total reclaimed space: "),
        "{out}"
    );
    assert_eq!(env.berth(&["images", "-q"]).ok().lines().count(), 2);
    // -a: every image no container uses (busybox), not kept:1 (used by a container).
    let out = env.berth(&["image", "prune", "-a", "-f"]).ok();
    assert!(out.contains("untagged: busybox:latest"), "{out}");
    assert_eq!(
        env.berth(&["images", "--format", "{{.Repository}}"]).ok(),
        "kept\n"
    );
    // system prune: the stopped container, then its image, then nothing is left.
    let out = env.berth(&["system", "prune", "-a", "-f"]).ok();
    assert!(
        out.starts_with("Deleted Containers:\n") && out.contains("untagged: kept:1"),
        "{out}"
    );
    assert_eq!(env.berth(&["images", "-q"]).ok(), "");
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    env.berth(&["image", "prune", "-f", "--filter", "colour=x"])
        .fails(1, "invalid filter");
    // Label filters pick images by their config's labels.
    let tar = busybox_tar().to_str().unwrap();
    env.berth(&["import", "-c", "LABEL keep=yes", tar, "labelled:1"])
        .ok();
    env.berth(&["import", tar, "plain:1"]).ok();
    env.berth(&["image", "prune", "-a", "-f", "--filter", "label!=keep"])
        .ok();
    assert_eq!(
        env.berth(&["images", "--format", "{{.Repository}}"]).ok(),
        "labelled\n"
    );
    env.check_clean();
}
