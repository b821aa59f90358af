//! Real tools no one here wrote, reading what berth writes and writing what
//! berth reads: skopeo always (Debian's package), docker where an engine answers.

mod common;

use std::process::Command;

use common::{busybox_tar, Env};

fn docker_available() -> bool {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn tool(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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
