//! Registries end to end, against Debian's docker-registry on 127.0.0.1:
//! push and pull, skopeo reading what berth pushed and the other way round,
//! zstd layers, multi-platform indexes, OCI artifacts, basic and token auth,
//! mirrors, and every failure a registry can cause, each leaving the store clean.

mod common;

use std::io::Write;
use std::process::Command;

use common::registry::{free_port, registries_file, sha256, Auth, Fault, FaultProxy, Registry};
use common::{busybox_tar, wait_until, Env};

/// busybox pushed as `REGISTRY/bb:v1`; returns the push's digest.
fn push_busybox(env: &Env, reg: &str, name: &str) -> String {
    let target = format!("{reg}/{name}");
    env.berth(&["tag", "busybox", &target]).ok();
    let out = env.berth(&["push", &target]).ok();
    let line = out.lines().last().unwrap().to_string();
    line.split_whitespace().nth(2).unwrap().to_string()
}

fn image_id(env: &Env, name: &str) -> String {
    env.berth(&["image", "inspect", "-f", "{{.Id}}", name])
        .ok()
        .trim()
        .to_string()
}

/// The store holds nothing and is sound.
#[track_caller]
fn assert_empty_store(env: &Env) {
    assert_eq!(env.store_entries(), Vec::<String>::new());
    assert_eq!(env.berth(&["images", "-aq"]).ok(), "");
    env.check_clean();
}

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo runs");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn push_then_pull_round_trip() {
    let reg = Registry::start();
    let env = Env::with_busybox();
    let target = format!("{}/bb:v1", reg.addr);
    env.berth(&["tag", "busybox", &target]).ok();
    let out = env.berth(&["push", &target]).ok();
    assert!(
        out.starts_with(&format!(
            "The push refers to repository [{}/bb]\n",
            reg.addr
        )),
        "{out}"
    );
    assert!(out.contains(": Pushed\n"), "{out}");
    let digest_line = out.lines().last().unwrap();
    assert!(
        digest_line.starts_with("v1: digest: sha256:") && digest_line.contains(" size: "),
        "{out}"
    );
    let digest = digest_line.split_whitespace().nth(2).unwrap();
    let again = env.berth(&["push", &target]).ok();
    assert!(again.contains(": Layer already exists\n"), "{again}");
    assert!(!again.contains("Pushed"), "{again}");

    // skopeo reads what berth pushed.
    let inspect: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{target}"),
    ]))
    .unwrap();
    assert_eq!(inspect["Digest"], digest);
    let oci = env.path("oci");
    skopeo(&[
        "copy",
        "-q",
        "--src-tls-verify=false",
        &format!("docker://{target}"),
        &format!("oci:{}:v1", oci.display()),
    ]);

    // A fresh store pulls it back: same image, runnable, recorded digest.
    let other = Env::new();
    let out = other.berth(&["pull", &target]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "v1: Pulling from bb");
    assert!(out.contains(": Pull complete\n"), "{out}");
    assert!(out.contains(&format!("Digest: {digest}\n")), "{out}");
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {target}\n")),
        "{out}"
    );
    assert_eq!(*lines.last().unwrap(), target);
    assert_eq!(image_id(&other, &target), image_id(&env, "busybox"));
    assert_eq!(
        other
            .berth(&["run", "--rm", &target, "echo", "pulled"])
            .ok(),
        "pulled\n"
    );
    assert_eq!(
        other
            .berth(&["image", "inspect", "-f", "{{json .RepoDigests}}", &target])
            .ok()
            .trim(),
        format!("[\"{}/bb@{digest}\"]", reg.addr)
    );
    let digests = other
        .berth(&["images", "--digests", "--format", "{{.Digest}}"])
        .ok();
    assert_eq!(digests.trim(), digest);
    let out = other.berth(&["pull", &target]).ok();
    assert!(out.contains(": Already exists\n"), "{out}");
    assert!(
        out.contains(&format!("Status: Image is up to date for {target}")),
        "{out}"
    );
    // By digest, and quietly.
    let by_digest = format!("{}/bb@{digest}", reg.addr);
    assert_eq!(
        other.berth(&["pull", "-q", &by_digest]).ok(),
        format!("{by_digest}\n")
    );
    assert_eq!(image_id(&other, &by_digest), image_id(&env, "busybox"));
    other.check_clean();
    env.check_clean();
    // The layer went as gzip (made for the push, as docker does), and goes
    // with the image.
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{target}"),
    ]);
    assert!(
        raw.contains("application/vnd.oci.image.layer.v1.tar+gzip"),
        "{raw}"
    );
    env.berth(&["rmi", &target, "busybox"]).ok();
    assert_eq!(env.store_entries(), Vec::<String>::new());
}

#[test]
fn pulls_what_skopeo_pushed_and_zstd_layers_both_ways() {
    let reg = Registry::start();
    let env = Env::with_busybox();
    // skopeo pushes a docker-archive berth saved (skopeo recompresses its layers).
    let archive = env.path("bb.tar");
    env.berth(&["save", "-o", archive.to_str().unwrap(), "busybox"])
        .ok();
    skopeo(&[
        "copy",
        "-q",
        "--dest-tls-verify=false",
        &format!("docker-archive:{}", archive.display()),
        &format!("docker://{}/from-skopeo:1", reg.addr),
    ]);
    let other = Env::new();
    let name = format!("{}/from-skopeo:1", reg.addr);
    other.berth(&["pull", "-q", &name]).ok();
    assert_eq!(image_id(&other, &name), image_id(&env, "busybox"));
    assert_eq!(other.berth(&["run", "--rm", &name, "true"]).ok(), "");

    // A zstd layer: imported as zstd, pushed as zstd, pulled back.
    let zst = env.path("bb.tar.zst");
    let status = Command::new("zstd")
        .args([
            "-q",
            "-f",
            "-o",
            zst.to_str().unwrap(),
            busybox_tar().to_str().unwrap(),
        ])
        .status()
        .expect("zstd runs");
    assert!(status.success());
    let zname = format!("{}/zstd:1", reg.addr);
    env.berth(&["import", zst.to_str().unwrap(), &zname]).ok();
    env.berth(&["push", &zname]).ok();
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{zname}"),
    ]);
    assert!(
        raw.contains("application/vnd.oci.image.layer.v1.tar+zstd"),
        "{raw}"
    );
    other.berth(&["pull", &zname]).ok();
    assert_eq!(
        other.berth(&["run", "--rm", &zname, "echo", "zstd"]).ok(),
        "zstd\n"
    );
    other.check_clean();
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A one-file layer tar.
fn tar_with(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, content).unwrap();
    b.into_inner().unwrap()
}

/// Uploads a one-layer image for `arch`; returns (manifest digest, manifest size).
fn put_image(reg: &Registry, repo: &str, arch: &str, layer_tar: &[u8]) -> (String, usize) {
    let gz = gzip(layer_tar);
    let layer = reg.put_blob(repo, &gz);
    let config = serde_json::json!({
        "architecture": arch, "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer_tar)]},
        "history": [{"created_by": format!("{arch} layer")}],
    })
    .to_string();
    let config_digest = reg.put_blob(repo, config.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": gz.len()}],
    })
    .to_string();
    let digest = reg.put_manifest(
        repo,
        &sha256(manifest.as_bytes()),
        "application/vnd.oci.image.manifest.v1+json",
        manifest.as_bytes(),
    );
    (digest, manifest.len())
}

#[test]
fn multi_platform_index_gives_this_platform_or_the_one_asked() {
    let reg = Registry::start();
    let busybox = std::fs::read(busybox_tar()).unwrap();
    let (amd, amd_size) = put_image(&reg, "multi", "amd64", &busybox);
    let (arm, arm_size) = put_image(&reg, "multi", "arm64", &tar_with("arm", b"arm64 only\n"));
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm, "size": arm_size,
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
            // An attestation, as BuildKit adds: never a platform to run.
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm, "size": arm_size,
             "platform": {"architecture": "unknown", "os": "unknown"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd, "size": amd_size,
             "platform": {"architecture": "amd64", "os": "linux"}},
        ],
    })
    .to_string();
    let index_digest = reg.put_manifest(
        "multi",
        "1",
        "application/vnd.oci.image.index.v1+json",
        index.as_bytes(),
    );
    let env = Env::new();
    let name = format!("{}/multi:1", reg.addr);
    let out = env.berth(&["pull", &name]).ok();
    // The digest shown and recorded is the index's, as docker does.
    assert!(out.contains(&format!("Digest: {index_digest}")), "{out}");
    assert_eq!(
        env.berth(&["image", "inspect", "-f", "{{.Architecture}}", &name])
            .ok()
            .trim(),
        "amd64"
    );
    assert_eq!(
        env.berth(&["run", "--rm", &name, "echo", "amd64"]).ok(),
        "amd64\n"
    );
    env.berth(&["pull", "--platform", "linux/arm64", &name])
        .ok();
    assert_eq!(
        env.berth(&["image", "inspect", "-f", "{{.Architecture}}", &name])
            .ok()
            .trim(),
        "arm64"
    );
    let before = env.store_entries();
    env.berth(&["pull", "--platform", "linux/s390x", &name])
        .fails(1, "no matching manifest for linux/s390x");
    env.berth(&["pull", "--platform", "linux/", &name])
        .fails(1, "invalid platform");
    assert_eq!(env.store_entries(), before);
    env.check_clean();
}

#[test]
fn oci_artifacts_and_missing_manifests_are_refused_cleanly() {
    let reg = Registry::start();
    let blob = reg.put_blob("artifact", b"{\"sbom\": true}");
    let config = reg.put_blob("artifact", b"{}");
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.example.sbom.config.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.example.sbom.v1+json", "digest": blob, "size": 14}],
    })
    .to_string();
    reg.put_manifest(
        "artifact",
        "1",
        "application/vnd.oci.image.manifest.v1+json",
        manifest.as_bytes(),
    );
    let env = Env::new();
    env.berth(&["pull", &format!("{}/artifact:1", reg.addr)])
        .fails(1, "is not a container image but an OCI artifact (config type application/vnd.example.sbom.config.v1+json)");
    env.berth(&["pull", &format!("{}/artifact:nope", reg.addr)])
        .fails(
            1,
            &format!(
                "manifest for {}/artifact:nope not found: manifest unknown",
                reg.addr
            ),
        );
    env.berth(&["pull", &format!("{}/none:1", reg.addr)])
        .fails(1, "not found");
    let dead = format!("127.0.0.1:{}/x:1", free_port());
    env.berth(&["pull", &dead])
        .fails(1, "cannot reach registry 127.0.0.1:");
    env.berth(&["pull", "Upper/Case"])
        .fails(1, "invalid reference format");
    env.berth(&["pull", "-a", &format!("{}/artifact:1", reg.addr)])
        .fails(1, "tag can't be used with --all-tags/-a");
    assert_empty_store(&env);
}

#[test]
fn pull_all_tags() {
    let reg = Registry::start();
    let env = Env::with_busybox();
    push_busybox(&env, &reg.addr, "tags:a");
    push_busybox(&env, &reg.addr, "tags:b");
    let other = Env::new();
    let out = other
        .berth(&["pull", "-a", &format!("{}/tags", reg.addr)])
        .ok();
    assert!(out.ends_with(&format!("{}/tags\n", reg.addr)), "{out}");
    let tags = other.berth(&["images", "--format", "{{.Tag}}"]).ok();
    let mut tags: Vec<&str> = tags.lines().collect();
    tags.sort();
    assert_eq!(tags, ["a", "b"]);
}

#[test]
fn push_mounts_across_repositories_and_sends_chunks() {
    let reg = Registry::start();
    let proxy = FaultProxy::start(&reg.addr, Fault::ManifestType("unused"));
    let env = Env::with_busybox();
    // Through the proxy, to see the requests; small chunks to force PATCH uploads.
    let first = format!("{}/chunked:1", proxy.addr);
    env.berth(&["tag", "busybox", &first]).ok();
    let mut cmd = env.cmd(&["push", &first]);
    cmd.env("BERTH_PUSH_CHUNK_SIZE", "150000");
    env.output(cmd).ok();
    let patches = proxy
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("PATCH "))
        .count();
    assert!(
        patches >= 5,
        "a ~2 MB layer in 300 kB chunks: {patches} PATCHes"
    );
    // What skopeo reads back has the layer berth holds.
    let raw = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{}/chunked:1", reg.addr),
    ]);
    let m: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap();
    let local: serde_json::Value = serde_json::from_str(
        &env.berth(&["image", "inspect", "-f", "{{json .RootFS}}", "busybox"])
            .ok(),
    )
    .unwrap();
    assert_eq!(local["Layers"].as_array().unwrap().len(), 1);
    assert!(env
        .root()
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"))
        .exists());
    // A second repository of the same registry gets the layer by mount.
    let second = format!("{}/mounted:1", proxy.addr);
    env.berth(&["tag", "busybox", &second]).ok();
    let out = env.berth(&["push", &second]).ok();
    assert!(out.contains(": Mounted from chunked\n"), "{out}");
}

#[test]
fn basic_auth_login_push_pull_logout() {
    let reg = Registry::with_auth(Auth::Basic {
        user: "alice".into(),
        password: "s3cret-pw".into(),
    });
    let env = Env::with_busybox();
    let target = format!("{}/private:1", reg.addr);
    env.berth(&["tag", "busybox", &target]).ok();
    env.berth(&["push", &target]).fails(
        1,
        &format!(
            "unauthorized: authentication required; run `berth login {}` first",
            reg.addr
        ),
    );
    let config = env.path("docker-config/config.json");
    let bad = env.berth_stdin(
        &["login", "-u", "alice", "--password-stdin", &reg.addr],
        b"wrong\n",
    );
    let bad = bad.fails(1, &format!("login to {} failed: unauthorized", reg.addr));
    assert!(!bad.stderr.contains("wrong"));
    assert!(!config.exists(), "nothing saved after a refused login");
    let ok = env.berth_stdin(
        &["login", "-u", "alice", "--password-stdin", &reg.addr],
        b"s3cret-pw\n",
    );
    assert_eq!(ok.ok(), "Login Succeeded\n");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(
        saved["auths"][&reg.addr]["auth"], "YWxpY2U6czNjcmV0LXB3",
        "base64 of alice:s3cret-pw, as docker writes"
    );
    let pushed = env.berth(&["push", &target]);
    assert!(!pushed.stdout.contains("s3cret") && !pushed.stderr.contains("s3cret"));
    pushed.ok();
    env.berth(&["rmi", &target]).ok();
    env.berth(&["pull", &target]).ok();
    // -p works too, with docker's warning.
    let with_p = env.berth(&["login", "-u", "alice", "-p", "s3cret-pw", &reg.addr]);
    assert!(with_p
        .stderr
        .contains("WARNING! Using --password via the CLI is insecure"));
    with_p.ok();
    assert_eq!(
        env.berth(&["logout", &reg.addr]).ok(),
        format!("Removing login credentials for {}\n", reg.addr)
    );
    assert_eq!(
        env.berth(&["logout", &reg.addr]).ok(),
        format!("Not logged in to {}\n", reg.addr)
    );
    env.berth(&["rmi", &target]).ok();
    env.berth(&["pull", &target]).fails(1, "unauthorized");
    // Saved credentials that the registry refuses: a 401 after login.
    std::fs::write(
        &config,
        format!(
            "{{\"auths\":{{\"{}\":{{\"auth\":\"YWxpY2U6b2xk\"}}}}}}",
            reg.addr
        ),
    )
    .unwrap();
    env.berth(&["pull", &target]).fails(
        1,
        &format!(
            "the credentials for {} were refused; run `berth login {}` again",
            reg.addr, reg.addr
        ),
    );
    // Bad input to login itself.
    env.berth(&["login", "-u", "alice", &reg.addr]).fails(
        1,
        "Cannot perform an interactive login from a non TTY device",
    );
    env.berth(&["login", "--password-stdin", &reg.addr])
        .fails(1, "Must provide --username with --password-stdin");
    env.berth(&["login", "-u", "a", "-p", "b", "--password-stdin", &reg.addr])
        .fails(1, "mutually exclusive");
    env.check_clean();
}

#[test]
fn credential_helpers_store_and_get() {
    let reg = Registry::with_auth(Auth::Basic {
        user: "bob".into(),
        password: "pw-helper".into(),
    });
    let env = Env::with_busybox();
    // A docker-credential helper on PATH that keeps secrets in a file.
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let store = env.path("helper-store");
    let helper = bin.join("docker-credential-testfile");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n store) cat > {s} ;;\n get) cat >/dev/null; [ -f {s} ] || {{ echo 'credentials not found in native keychain'; exit 1; }}; cat {s} ;;\n erase) rm -f {s} ;;\nesac\n",
            s = store.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(env.path("docker-config")).unwrap();
    std::fs::write(
        env.path("docker-config/config.json"),
        "{\"credsStore\":\"testfile\"}",
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut login = env.cmd(&["login", "-u", "bob", "--password-stdin", &reg.addr]);
    login.env("PATH", &path).stdin(std::process::Stdio::piped());
    let mut child = login.stdout(std::process::Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"pw-helper").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let kept = std::fs::read_to_string(&store).unwrap();
    assert!(
        kept.contains("\"Secret\":\"pw-helper\""),
        "the helper got the secret: {kept}"
    );
    let config = std::fs::read_to_string(env.path("docker-config/config.json")).unwrap();
    assert!(
        !config.contains("pw-helper"),
        "no secret in config.json with a helper: {config}"
    );
    let target = format!("{}/helped:1", reg.addr);
    env.berth(&["tag", "busybox", &target]).ok();
    let mut push = env.cmd(&["push", &target]);
    push.env("PATH", &path);
    env.output(push).ok();
}

#[test]
fn token_auth_with_scopes_and_one_token_per_pull() {
    let reg = Registry::with_auth(Auth::Token {
        user: "carol".into(),
        password: "tok-pw".into(),
    });
    let env = Env::with_busybox();
    let target = format!("{}/tokened:1", reg.addr);
    env.berth(&["tag", "busybox", &target]).ok();
    // Anonymous callers get pull-only tokens: the push is refused.
    env.berth(&["push", &target]).fails(1, "unauthorized");
    env.berth_stdin(
        &["login", "-u", "carol", "--password-stdin", &reg.addr],
        b"nope",
    )
    .fails(1, "unauthorized");
    assert_eq!(
        env.berth_stdin(
            &["login", "-u", "carol", "--password-stdin", &reg.addr],
            b"tok-pw"
        )
        .ok(),
        "Login Succeeded\n"
    );
    env.berth(&["push", &target]).ok();
    env.berth(&["rmi", &target]).ok();
    let before = reg.token_requests();
    env.berth(&["pull", &target]).ok();
    assert_eq!(
        reg.token_requests() - before,
        1,
        "one token serves the whole pull (manifest, config, layers)"
    );
    assert_eq!(
        env.berth(&["run", "--rm", &target, "echo", "token"]).ok(),
        "token\n"
    );
}

#[test]
fn mirrors_serve_docker_io_and_run_pulls_what_is_missing() {
    let mirror = Registry::start();
    let env = Env::with_busybox();
    push_busybox(&env, &mirror.addr, "library/busybox:latest");
    let other = Env::new();
    // The first mirror is down; the second answers; Docker Hub is never asked.
    let config = registries_file(
        other.dir.path(),
        &format!(
            "[[registry]]\nlocation = \"docker.io\"\nmirrors = [\"127.0.0.1:{}\", \"{}\"]\n",
            free_port(),
            mirror.addr
        ),
    );
    let mut pull = other.cmd(&[
        "--registries-config",
        config.to_str().unwrap(),
        "pull",
        "busybox",
    ]);
    pull.stdin(std::process::Stdio::null());
    let out = other.output(pull).ok();
    assert!(
        out.starts_with("Using default tag: latest\nlatest: Pulling from library/busybox\n"),
        "{out}"
    );
    assert!(
        out.ends_with(
            "Status: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n"
        ),
        "{out}"
    );
    assert_eq!(image_id(&other, "busybox"), image_id(&env, "busybox"));

    // run pulls a missing image through the same configuration (here from the environment).
    let third = Env::new();
    let mut run = third.cmd(&["run", "--rm", "busybox", "echo", "from the mirror"]);
    run.env("BERTH_REGISTRIES_CONFIG", &config);
    let out = third.output(run);
    assert!(
        out.stderr
            .starts_with("Unable to find image 'busybox:latest' locally\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("Status: Downloaded newer image for busybox:latest"),
        "{}",
        out.stderr
    );
    assert_eq!(out.ok(), "from the mirror\n");
    // --pull never does not pull; --pull always does.
    let fourth = Env::new();
    fourth
        .berth(&["run", "--rm", "--pull", "never", "busybox", "true"])
        .fails(125, "No such image: busybox");
    let mut always = third.cmd(&["create", "--pull", "always", "busybox", "true"]);
    always.env("BERTH_REGISTRIES_CONFIG", &config);
    let out = third.output(always);
    assert!(
        out.stderr
            .contains("Status: Image is up to date for busybox:latest"),
        "{}",
        out.stderr
    );
    out.ok();
    let bad_policy = third.berth(&["run", "--pull", "sometimes", "busybox"]);
    assert_eq!(bad_policy.code, 125);
    assert!(
        bad_policy
            .stderr
            .contains("invalid value 'sometimes' for '--pull <PULL>'"),
        "{}",
        bad_policy.stderr
    );

    // A registries file that is wrong is named, with the reason.
    let bad = registries_file(other.dir.path(), "[[registry]]\nlocaton = \"docker.io\"\n");
    other
        .berth(&[
            "--registries-config",
            bad.to_str().unwrap(),
            "pull",
            "busybox",
        ])
        .fails(1, "unknown field");
}

#[test]
fn build_pulls_from_images_and_copy_from_images() {
    let reg = Registry::start();
    let env = Env::with_busybox();
    push_busybox(&env, &reg.addr, "base:1");
    let other = Env::new();
    let ctx = other.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {r}/base:1\nCOPY --from={r}/base:1 /bin /copied\nRUN /copied/busybox echo built > /out\n", r = reg.addr),
    )
    .unwrap();
    other
        .berth(&["build", "-q", "-t", "built", ctx.to_str().unwrap()])
        .ok();
    assert_eq!(
        other.berth(&["run", "--rm", "built", "cat", "/out"]).ok(),
        "built\n"
    );
    other
        .berth(&[
            "build",
            "-q",
            "--pull",
            "-t",
            "built2",
            ctx.to_str().unwrap(),
        ])
        .ok();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {}/absent:1\n", reg.addr),
    )
    .unwrap();
    other
        .berth(&["build", "-t", "x", ctx.to_str().unwrap()])
        .fails(1, "not found");
}

#[test]
fn retries_and_resumes_get_through_a_flaky_registry() {
    let reg = Registry::start();
    let env = Env::with_busybox();
    push_busybox(&env, &reg.addr, "flaky:1");
    for fault in [Fault::Unavailable(3), Fault::DropOnce] {
        let proxy = FaultProxy::start(&reg.addr, fault);
        let other = Env::new();
        let name = format!("{}/flaky:1", proxy.addr);
        other.berth(&["pull", "-q", &name]).ok();
        assert_eq!(other.berth(&["run", "--rm", &name, "true"]).ok(), "");
        other.check_clean();
        let seen = proxy.seen.lock().unwrap().clone();
        if fault == Fault::DropOnce {
            assert!(
                seen.iter().any(|l| l.contains("[bytes=")),
                "resumed with Range: {seen:?}"
            );
        } else {
            let blob_gets = seen
                .iter()
                .filter(|l| l.starts_with("GET ") && l.contains("/blobs/"))
                .count();
            assert!(blob_gets >= 5, "retried: {seen:?}");
        }
    }
}

#[test]
fn bad_content_is_refused_and_nothing_is_kept() {
    let reg = Registry::start();
    let env = Env::with_busybox();
    push_busybox(&env, &reg.addr, "bad:1");
    let cases = [
        (Fault::Corrupt, "the registry sent content with digest"),
        (Fault::Truncate, "broke off"),
        (
            Fault::ManifestType("application/vnd.oci.image.index.v1+json"),
            "the registry says it is application/vnd.oci.image.index.v1+json but it is",
        ),
    ];
    for (fault, message) in cases {
        let proxy = FaultProxy::start(&reg.addr, fault);
        let other = Env::new();
        other
            .berth(&["pull", &format!("{}/bad:1", proxy.addr)])
            .fails(1, message);
        assert_empty_store(&other);
    }
    // A manifest that is not the one its digest names.
    let proxy = FaultProxy::start(
        &reg.addr,
        Fault::ManifestType("application/vnd.docker.distribution.manifest.v2+json"),
    );
    let other = Env::new();
    let wrong = format!("{}/bad@{}", proxy.addr, sha256(b"something else"));
    other.berth(&["pull", &wrong]).fails(1, "not found");
    assert_empty_store(&other);
}

#[test]
fn ctrl_c_during_a_pull_leaves_the_store_clean_and_the_next_pull_works() {
    let reg = Registry::start();
    let env = Env::with_busybox();
    push_busybox(&env, &reg.addr, "slow:1");
    let proxy = FaultProxy::start(&reg.addr, Fault::Slow);
    let other = Env::new();
    let name = format!("{}/slow:1", proxy.addr);
    let child = other
        .cmd(&["pull", &name])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the layer download to start", || {
        proxy
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("/blobs/"))
            .count()
            >= 2
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("canceled"));
    assert_empty_store(&other);
    other
        .berth(&["pull", "-q", &format!("{}/slow:1", reg.addr)])
        .ok();
    other.check_clean();
}

#[test]
fn push_refuses_bad_input_before_contacting_anyone() {
    let env = Env::with_busybox();
    let port = free_port();
    env.berth(&["push", &format!("127.0.0.1:{port}/absent:1")])
        .fails(1, "No such image: 127.0.0.1:");
    env.berth(&["push", &format!("127.0.0.1:{port}/x@{}", sha256(b"x"))])
        .fails(1, "cannot push a digest reference");
    env.berth(&["push", "-a", &format!("127.0.0.1:{port}/x:1")])
        .fails(1, "tag can't be used with --all-tags/-a");
    env.berth(&["push", "x/NotValid"])
        .fails(1, "invalid reference format");
    env.berth(&["tag", "busybox", &format!("127.0.0.1:{port}/x:1")])
        .ok();
    env.berth(&["push", &format!("127.0.0.1:{port}/x:1")])
        .fails(1, "cannot reach registry");
}

#[test]
fn proxies_from_the_environment_carry_registry_traffic() {
    let reg = Registry::start();
    let env = Env::with_busybox();
    push_busybox(&env, &reg.addr, "proxied:1");
    // The proxy forwards to the registry whatever host the request names.
    let proxy = FaultProxy::start(&reg.addr, Fault::ManifestType("unused"));
    let other = Env::new();
    let name = format!(
        "localhost:{}/proxied:1",
        reg.addr.rsplit(':').next().unwrap()
    );
    let mut pull = other.cmd(&["pull", "-q", &name]);
    pull.env("HTTPS_PROXY", format!("http://{}", proxy.addr))
        .env("NO_PROXY", "");
    other.output(pull).ok();
    let seen = proxy.seen.lock().unwrap().clone();
    let host = name.split('/').next().unwrap();
    assert!(
        seen.iter()
            .any(|l| l == &format!("CONNECT {host} HTTP/1.1")),
        "requests went through the proxy: {seen:?}"
    );
    assert!(
        seen.iter()
            .any(|l| l.starts_with("GET /v2/proxied/manifests/1 ")),
        "{seen:?}"
    );
    assert_eq!(
        other
            .berth(&["run", "--rm", &name, "echo", "via proxy"])
            .ok(),
        "via proxy\n"
    );
}

#[test]
fn tls_registries_and_pushing_every_tag() {
    // Loopback registries are insecure by default: an unverified certificate is accepted.
    let reg = Registry::with_tls();
    let env = Env::with_busybox();
    let repo = format!("{}/alltags", reg.addr);
    for t in ["a", "b", "c"] {
        env.berth(&["tag", "busybox", &format!("{repo}:{t}")]).ok();
    }
    let out = env.berth(&["push", "-a", &repo]).ok();
    for t in ["a", "b", "c"] {
        assert!(out.contains(&format!("\n{t}: digest: sha256:")), "{out}");
    }
    assert_eq!(
        env.berth(&["push", "-q", &format!("{repo}:a")]).ok(),
        format!("{repo}:a\n"),
        "-q prints only the name"
    );
    let other = Env::new();
    other.berth(&["pull", "-a", "-q", &repo]).ok();
    assert_eq!(other.berth(&["images", "-q"]).ok().lines().count(), 1);
    assert_eq!(
        other
            .berth(&["images", "--format", "{{.Tag}}"])
            .ok()
            .lines()
            .count(),
        3
    );
    // A tag that is not here fails before any registry is asked.
    let config = registries_file(
        other.dir.path(),
        "[[registry]]\nlocation = \"mirror.invalid\"\ninsecure = true\n",
    );
    let mut cmd = other.cmd(&[
        "--registries-config",
        config.to_str().unwrap(),
        "push",
        "-q",
        "busybox:nope",
    ]);
    cmd.stdin(std::process::Stdio::null());
    other.output(cmd).fails(1, "No such image: busybox:nope");
}
