//! The Engine API with real clients no one here wrote: the docker CLIs (28
//! and Debian's 20.10), Compose 1.29 and v2, docker-py, testcontainers and
//! bollard, each against `berth system service` on a socket of the test's
//! own; and the requests no client sends, for docker's status codes.

mod common;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::api::{clients_venv, docker_cli, wait_for_socket, Api, DOCKER_20};
use common::{wait_until, Env};

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn docker_cli_runs_a_users_day() {
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let v = api
        .docker(&[
            "version",
            "--format",
            "{{.Server.APIVersion}} {{.Server.Os}}",
        ])
        .ok();
    assert_eq!(v.trim(), "1.47 linux");
    assert!(api.docker(&["info"]).ok().contains("Server Version"));
    assert_eq!(
        api.docker(&["run", "--rm", "busybox", "echo", "hello"])
            .ok(),
        "hello\n"
    );
    // Exit codes and stderr are the container's.
    let r = api.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo oops >&2; exit 7",
    ]);
    assert_eq!((r.code, r.stderr.as_str()), (7, "oops\n"));
    // Piped stdin reaches a `-i` container and its end ends the container.
    let r = api.run_stdin(
        api.client(docker_cli()).args([
            "run",
            "-i",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "cat; echo done",
        ]),
        b"piped\n",
    );
    assert_eq!(r.stdout, "piped\ndone\n", "{}", r.stderr);

    // A detached container: ps, logs, exec, top, stats, inspect, port.
    let id = api
        .docker(&[
            "run", "-d", "--name", "web", "-p", "127.0.0.1::80", "-e", "MODE=api", "busybox",
            "sh", "-c", "echo served > /www; mkdir -p /w && mv /www /w/index.html; echo started; exec httpd -f -p 80 -h /w",
        ])
        .ok();
    assert_eq!(id.trim().len(), 64);
    wait_until("web to log", || {
        api.docker(&["logs", "web"]).stdout == "started\n"
    });
    let ps = api
        .docker(&["ps", "--format", "{{.Names}} {{.Status}} {{.Image}}"])
        .ok();
    assert!(ps.starts_with("web Up"), "{ps}");
    assert_eq!(
        api.docker(&["exec", "web", "sh", "-c", "echo $MODE"]).ok(),
        "api\n"
    );
    assert_eq!(api.docker(&["exec", "web", "sh", "-c", "exit 5"]).code, 5);
    assert!(api.docker(&["top", "web"]).ok().contains("httpd"));
    let stats = api
        .docker(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDs}}",
            "web",
        ])
        .ok();
    assert_eq!(stats.trim(), "web 1");
    let port = api.docker(&["port", "web", "80"]).ok();
    let port: u16 = port.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(common::http_get("127.0.0.1", port), "served\n");
    assert_eq!(
        api.docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.Config.Image}}",
            "web"
        ])
        .ok(),
        "running busybox\n"
    );
    // cp both ways, rename, pause, diff, commit.
    std::fs::write(env.path("note.txt"), "from the host\n").unwrap();
    api.docker(&["cp", env.path("note.txt").to_str().unwrap(), "web:/tmp/"])
        .ok();
    assert_eq!(
        api.docker(&["exec", "web", "cat", "/tmp/note.txt"]).ok(),
        "from the host\n"
    );
    let back = env.path("back");
    std::fs::create_dir(&back).unwrap();
    api.docker(&["cp", "web:/tmp/note.txt", back.to_str().unwrap()])
        .ok();
    assert_eq!(
        std::fs::read_to_string(back.join("note.txt")).unwrap(),
        "from the host\n"
    );
    assert!(api
        .docker(&["diff", "web"])
        .ok()
        .contains("A /tmp/note.txt"));
    api.docker(&["rename", "web", "web2"]).ok();
    api.docker(&["pause", "web2"]).ok();
    assert_eq!(
        api.docker(&["inspect", "-f", "{{.State.Status}}", "web2"])
            .ok(),
        "paused\n"
    );
    api.docker(&["unpause", "web2"]).ok();
    api.docker(&["commit", "web2", "committed:v1"]).ok();
    assert_eq!(
        api.docker(&["run", "--rm", "committed:v1", "cat", "/tmp/note.txt"])
            .ok(),
        "from the host\n"
    );
    api.docker(&["stop", "-t", "1", "web2"]).ok();
    assert_eq!(api.docker(&["wait", "web2"]).ok().trim(), "137");
    api.docker(&["start", "web2"]).ok();
    api.docker(&["kill", "web2"]).ok();
    api.docker(&["rm", "web2"]).ok();

    // Volumes, networks and name resolution.
    api.docker(&["volume", "create", "data"]).ok();
    assert!(api.docker(&["volume", "ls", "-q"]).ok().contains("data"));
    api.docker(&["network", "create", "appnet"]).ok();
    api.docker(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "appnet",
        "--network-alias",
        "database",
        "-v",
        "data:/data",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let r = api
        .docker(&[
            "run",
            "--rm",
            "--network",
            "appnet",
            "busybox",
            "sh",
            "-c",
            "nslookup database 127.0.0.11 >/dev/null && ping -c1 -W2 db >/dev/null && echo reached",
        ])
        .ok();
    assert_eq!(r, "reached\n");
    let r = api.docker(&["volume", "rm", "data"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("volume is in use"), "{}", r.stderr);
    api.docker(&["rm", "-f", "db"]).ok();
    api.docker(&["network", "rm", "appnet"]).ok();
    api.docker(&["volume", "rm", "data"]).ok();

    // save and load, tag and rmi, images and system df.
    let archive = env.path("saved.tar");
    api.docker(&["save", "-o", archive.to_str().unwrap(), "committed:v1"])
        .ok();
    api.docker(&["rmi", "committed:v1"]).ok();
    assert!(api
        .docker(&["load", "-i", archive.to_str().unwrap()])
        .ok()
        .contains("Loaded image: committed:v1"));
    api.docker(&["tag", "busybox", "retagged:x"]).ok();
    let images = api
        .docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok();
    for want in ["busybox:latest", "committed:v1", "retagged:x"] {
        assert!(lines(&images).contains(&want), "{images}");
    }
    assert!(api.docker(&["system", "df"]).ok().contains("Images"));
    api.docker(&["rmi", "retagged:x", "committed:v1"]).ok();

    // Bad input: docker's words and exit codes, nothing made.
    api.docker(&["rm", "nosuch"])
        .fails(1, "No such container: nosuch");
    let r = api.docker(&["run", "--pull", "never", "nosuchimage"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("No such image"), "{}", r.stderr);
    let r = api.docker(&["run", "--rm", "busybox", "nosuchcommand"]);
    assert_eq!(r.code, 127, "{}", r.stderr);
    assert!(
        r.stderr.contains("executable file not found"),
        "{}",
        r.stderr
    );
    let r = api.docker(&["volume", "inspect", "nosuchvolume"]);
    assert_eq!(r.code, 1);
    let r = api.docker(&["run", "--name", "bad name", "busybox", "true"]);
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(r.stderr.contains("Invalid container name"), "{}", r.stderr);
    assert_eq!(api.docker(&["ps", "-aq"]).ok(), "");
    env.check_clean();
}

/// `docker run -it` and `docker exec -it` on a real terminal: a shell, the
/// terminal's size, the exit code.
#[test]
fn docker_cli_terminal_sessions() {
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let mut cmd = api.client(docker_cli());
    cmd.args(["run", "-it", "--rm", "--name", "tty", "busybox", "sh"]);
    let (mut child, mut master) = common::spawn_in_pty(cmd, Some((33, 101)));
    let mut seen = String::new();
    common::read_until(&mut master, &mut seen, "# ");
    master
        .write_all(b"stty size; echo mark$((40+2))\r")
        .unwrap();
    common::read_until(&mut master, &mut seen, "mark42");
    assert!(seen.contains("33 101"), "{seen:?}");

    // exec -it into it, while it runs.
    let mut exec = api.client(docker_cli());
    // (An old client resizes after the start: the command waits a little.)
    exec.args([
        "exec",
        "-it",
        "tty",
        "sh",
        "-c",
        "sleep 0.3; stty size; tty; exit 3",
    ]);
    let (mut ex, mut ex_master) = common::spawn_in_pty(exec, Some((20, 70)));
    let mut ex_seen = String::new();
    common::read_until(&mut ex_master, &mut ex_seen, "/dev/pts/");
    assert!(ex_seen.contains("20 70"), "{ex_seen:?}");
    assert_eq!(ex.wait().unwrap().code(), Some(3));

    master.write_all(b"exit 4\r").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(4));
    assert_eq!(api.docker(&["ps", "-aq"]).ok(), "", "--rm removed it");

    // attach to a detached -it container, and detach with Ctrl-P Ctrl-Q.
    api.docker(&["run", "-dit", "--name", "bg", "busybox", "sh"])
        .ok();
    let mut att = api.client(docker_cli());
    att.args(["attach", "bg"]);
    let (mut a, mut a_master) = common::spawn_in_pty(att, Some((24, 80)));
    let mut a_seen = String::new();
    std::thread::sleep(Duration::from_millis(300));
    a_master.write_all(b"echo attached$((1+1))\r").unwrap();
    common::read_until(&mut a_master, &mut a_seen, "attached2");
    a_master.write_all(&[0x10, 0x11]).unwrap();
    // docker's CLI detaches itself, and says so with exit 1.
    let code = a.wait().unwrap().code();
    assert_eq!(code, Some(1), "detached: {a_seen:?}");
    assert_eq!(
        api.docker(&["inspect", "-f", "{{.State.Running}}", "bg"])
            .ok(),
        "true\n"
    );
    api.docker(&["rm", "-f", "bg"]).ok();
}

/// Debian's docker.io client (API 1.41) on the same service.
#[test]
fn docker_20_10_client() {
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let docker = |args: &[&str]| api.run(api.client(DOCKER_20).args(args));
    assert_eq!(
        docker(&["version", "--format", "{{.Client.APIVersion}}"])
            .ok()
            .trim(),
        "1.41"
    );
    assert_eq!(
        docker(&["run", "--rm", "busybox", "echo", "old client"]).ok(),
        "old client\n"
    );
    docker(&[
        "run",
        "-d",
        "--name",
        "w1",
        "busybox",
        "sh",
        "-c",
        "echo line; sleep 300",
    ])
    .ok();
    wait_until("w1 to log", || docker(&["logs", "w1"]).stdout == "line\n");
    // logs -f follows until the container ends.
    let follower = api
        .client(DOCKER_20)
        .args(["logs", "-f", "w1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    docker(&["exec", "w1", "sh", "-c", "echo more > /proc/1/fd/1"]).ok();
    docker(&["kill", "w1"]).ok();
    let out = follower.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "line\nmore\n");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.ExitCode}}", "w1"]).ok(),
        "137\n"
    );
    docker(&["rm", "w1"]).ok();
    // docker's rule: a name has two characters at least.
    let r = docker(&["run", "--name", "w", "busybox"]);
    assert_eq!(r.code, 125);
    assert!(
        r.stderr.contains("Invalid container name (w)"),
        "{}",
        r.stderr
    );
    assert!(docker(&["images"]).ok().contains("busybox"));
    docker(&["network", "create", "n20"]).ok();
    assert!(docker(&["network", "inspect", "-f", "{{.Driver}}", "n20"])
        .ok()
        .contains("bridge"));
    docker(&["network", "rm", "n20"]).ok();
    docker(&["rm", "nosuch"]).fails(1, "No such container: nosuch");
}

/// The CLI and the service work on one store at once: what either starts,
/// the other lists, attaches to, stops; events from both reach /events.
#[test]
fn cli_and_api_share_one_store() {
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let events = api
        .client(docker_cli())
        .args([
            "events",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Started by the CLI, seen and stopped through the API.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "from-cli",
        "busybox",
        "sh",
        "-c",
        "while true; do echo tick; sleep 0.2; done",
    ])
    .ok();
    assert!(api
        .docker(&["ps", "--format", "{{.Names}}"])
        .ok()
        .contains("from-cli"));
    let attach = api
        .client(docker_cli())
        .args(["attach", "--no-stdin", "from-cli"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    api.docker(&["stop", "-t", "1", "from-cli"]).ok();
    let out = attach.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("tick\n"),
        "attach saw the output"
    );
    assert_eq!(env.inspect("from-cli", "{{.State.Status}}"), "exited");
    // Started through the API, seen and stopped by the CLI.
    api.docker(&[
        "run",
        "-d",
        "--name",
        "from-api",
        "busybox",
        "sh",
        "-c",
        "echo api-side; sleep 300",
    ])
    .ok();
    wait_until("from-api to log", || {
        env.berth(&["logs", "from-api"]).stdout == "api-side\n"
    });
    assert!(env.berth(&["ps"]).ok().contains("from-api"));
    env.berth(&["stop", "-t", "1", "from-api"]).ok();
    assert_eq!(
        api.docker(&["inspect", "-f", "{{.State.Status}}", "from-api"])
            .ok(),
        "exited\n"
    );
    // A foreground CLI run is attachable through the API too.
    let fg = env
        .cmd(&[
            "run",
            "--name",
            "fg",
            "busybox",
            "sh",
            "-c",
            "sleep 1; echo late-line; sleep 1",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("fg to run", || {
        env.berth(&["inspect", "-f", "{{.State.Running}}", "fg"])
            .stdout
            == "true\n"
    });
    let out = api.docker(&["attach", "fg"]).ok();
    assert_eq!(out, "late-line\n");
    let _ = fg.wait_with_output();
    env.berth(&["rm", "from-cli", "from-api", "fg"]).ok();
    std::thread::sleep(Duration::from_millis(300));
    let mut events = events;
    let _ = events.kill();
    let seen = String::from_utf8_lossy(&events.wait_with_output().unwrap().stdout).into_owned();
    for want in [
        "start from-cli",
        "die from-cli",
        "start from-api",
        "destroy from-api",
        "destroy fg",
    ] {
        assert!(seen.contains(want), "{want} missing from {seen}");
    }
}

/// `docker build` with the classic builder (the protocol berth serves).
#[test]
fn builds_through_the_classic_protocol() {
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let ctx = env.path("app");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nARG WHO=nobody\nCOPY greeting.txt /\nRUN echo \"built for $WHO\" > /built\nLABEL stage=test\nCMD [\"cat\", \"/built\", \"/greeting.txt\"]\n",
    )
    .unwrap();
    std::fs::write(ctx.join("greeting.txt"), "hello from the context\n").unwrap();
    std::fs::write(ctx.join(".dockerignore"), "secret.txt\n").unwrap();
    std::fs::write(ctx.join("secret.txt"), "never sent\n").unwrap();
    let r = api.docker(&[
        "build",
        "-t",
        "app:1",
        "-t",
        "app:latest",
        "--build-arg",
        "WHO=api",
        ctx.to_str().unwrap(),
    ]);
    let out = r.ok();
    assert!(out.contains("Step 3/6 : COPY greeting.txt /"), "{out}");
    assert!(out.contains("Successfully built "), "{out}");
    assert!(out.contains("Successfully tagged app:1"), "{out}");
    assert_eq!(
        api.docker(&["run", "--rm", "app:latest"]).ok(),
        "built for api\nhello from the context\n"
    );
    assert_eq!(
        api.docker(&["inspect", "-f", "{{.Config.Labels.stage}}", "app:1"])
            .ok(),
        "test\n"
    );
    // Cached the second time; -q prints the id alone.
    let again = api
        .docker(&["build", "-q", "-t", "app:1", ctx.to_str().unwrap()])
        .ok();
    assert!(again.trim().starts_with("sha256:"), "{again}");
    // A Dockerfile error is reported and fails the build.
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nRUN exit 9\n").unwrap();
    let r = api.docker(&["build", ctx.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        (r.stdout.clone() + &r.stderr).contains("exit code: 9"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    // The BuildKit session endpoint says what to do.
    let resp = api.http("POST", "/v1.47/session", None);
    resp.error(501, "DOCKER_BUILDKIT=0");
}

/// Pull and push through the API with a local registry; a missing image is
/// a 404 before any output.
#[test]
fn pulls_and_pushes_through_the_api() {
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let registry = common::registry::Registry::start();
    let name = format!("{}/tools/bb:v1", registry.addr);
    api.docker(&["tag", "busybox", &name]).ok();
    let pushed = api.docker(&["push", &name]).ok();
    assert!(pushed.contains("v1: digest: sha256:"), "{pushed}");
    api.docker(&["rmi", &name]).ok();
    let pulled = api.docker(&["pull", &name]).ok();
    assert!(pulled.contains("Digest: sha256:"), "{pulled}");
    assert!(
        pulled.contains(&format!("Status: Downloaded newer image for {name}"))
            || pulled.contains("Image is up to date"),
        "{pulled}"
    );
    assert_eq!(
        api.docker(&["run", "--rm", &name, "echo", "pulled"]).ok(),
        "pulled\n"
    );
    // A missing tag: docker's error, exit 1.
    let r = api.docker(&["pull", &format!("{}/tools/bb:nope", registry.addr)]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let missing = api.http(
        "POST",
        &format!(
            "/v1.47/images/create?fromImage={}/tools/bb&tag=nope",
            registry.addr
        ),
        None,
    );
    assert_eq!(missing.status, 404, "{missing:?}");
    // run pulls what it lacks.
    api.docker(&["rmi", &name]).ok();
    assert_eq!(
        api.docker(&["run", "--rm", &name, "echo", "auto"]).ok(),
        "auto\n"
    );
    let dist = api.http("GET", &format!("/v1.47/distribution/{name}/json"), None);
    assert_eq!(dist.status, 200, "{dist:?}");
    assert!(dist.json()["Descriptor"]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    env.check_clean();
}

/// `docker login` checks through `/auth`; a push then carries the saved
/// credential in X-Registry-Auth, which the service uses for that push.
#[test]
fn logins_and_registry_credentials_through_the_api() {
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let registry = common::registry::Registry::with_auth(common::registry::Auth::Basic {
        user: "ci".into(),
        password: "s3cret".into(),
    });
    let r = api.docker(&["login", "-u", "ci", "-p", "wrong", &registry.addr]);
    assert_ne!(r.code, 0, "a wrong password logged in: {}", r.stdout);
    let r = api.docker(&["login", "-u", "ci", "-p", "s3cret", &registry.addr]);
    assert!(
        r.stdout.contains("Login Succeeded"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let name = format!("{}/private/bb:1", registry.addr);
    api.docker(&["tag", "busybox", &name]).ok();
    api.docker(&["push", &name]).ok();
    api.docker(&["rmi", &name]).ok();
    api.docker(&["pull", &name]).ok();
    // The service saved nothing of its own: without the client's
    // credential the registry refuses.
    api.docker(&["logout", &registry.addr]).ok();
    let r = api.docker(&["pull", &name]);
    assert_eq!(r.code, 1, "pulled without a credential: {}", r.stdout);
    assert!(
        r.stderr.to_lowercase().contains("unauthorized") || r.stderr.contains("credential"),
        "{}",
        r.stderr
    );
    let auth = api.http(
        "POST",
        "/v1.47/auth",
        Some(&format!(
            r#"{{"username": "ci", "password": "nope", "serveraddress": "{}"}}"#,
            registry.addr
        )),
    );
    assert_eq!(auth.status, 401, "{auth:?}");
    api.http("POST", "/v1.47/auth", Some("{}"))
        .error(400, "username is required");
}

fn compose_project(env: &Env) -> (std::path::PathBuf, u16) {
    let dir = env.path("proj");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/compose/docker-compose.yml"
        ),
        dir.join("docker-compose.yml"),
    )
    .unwrap();
    (dir, common::registry::free_port())
}

/// Brings the fixture app up with `compose` (its web port `port`), checks
/// it, brings it down.
fn compose_round_trip(env: &Env, port: u16, compose: impl Fn(&[&str]) -> common::Run) {
    let up = compose(&["up", "-d"]);
    assert_eq!(up.code, 0, "up: {}{}", up.stdout, up.stderr);
    let client = wait_for_compose_log(&compose, "hello-from-volume");
    assert!(client.contains("hello-from-volume"), "{client}");
    assert_eq!(common::http_get("127.0.0.1", port), "hello-from-volume\n");
    let ps = compose(&["ps"]).ok();
    assert!(ps.contains("healthy"), "{ps}");
    let down = compose(&["down", "-v", "-t", "1"]);
    assert_eq!(down.code, 0, "down: {}{}", down.stdout, down.stderr);
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    assert_eq!(env.berth(&["volume", "ls", "-q"]).ok(), "");
    assert!(!env.berth(&["network", "ls"]).ok().contains("proj_default"));
}

fn wait_for_compose_log(compose: &impl Fn(&[&str]) -> common::Run, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logs = compose(&["logs", "client"]).stdout;
        if logs.contains(needle) || Instant::now() > deadline {
            return logs;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn compose_v2_brings_an_app_up_and_down() {
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let (dir, port) = compose_project(&env);
    let compose = clients_venv().join("bin/docker-compose");
    compose_round_trip(&env, port, |args| {
        api.run(
            api.client(&compose)
                .args(args)
                .current_dir(&dir)
                .env("WEB_PORT", port.to_string())
                .env("COMPOSE_BAKE", "false"),
        )
    });
}

#[test]
fn compose_v1_brings_an_app_up_and_down() {
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let (dir, port) = compose_project(&env);
    compose_round_trip(&env, port, |args| {
        api.run(
            api.client("/usr/bin/docker-compose")
                .args(args)
                .current_dir(&dir)
                .env("WEB_PORT", port.to_string()),
        )
    });
}

/// `berth compose` needs nothing set up: it serves the provider itself.
#[test]
fn berth_compose_serves_its_provider() {
    let env = Env::with_busybox();
    let (dir, port) = compose_project(&env);
    let path = format!(
        "{}:{}",
        clients_venv().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    compose_round_trip(&env, port, |args| {
        let mut all = vec!["compose"];
        all.extend_from_slice(args);
        env.output({
            let mut c = env.cmd(&all);
            c.current_dir(&dir)
                .env("WEB_PORT", port.to_string())
                .env("PATH", &path);
            c
        })
    });
    // No provider: a clear error naming what to install.
    let r = env.output({
        let mut c = env.cmd(&["compose", "ps"]);
        c.env("PATH", "/nonexistent")
            .env("HOME", env.path("nohome"));
        c
    });
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(r.stderr.contains("install Docker Compose"), "{}", r.stderr);
}

fn python(api: &Api, script: &str) -> common::Run {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/");
    api.run(
        api.client(clients_venv().join("bin/python"))
            .arg(format!("{path}{script}"))
            .env("PYTHONUNBUFFERED", "1"),
    )
}

#[test]
fn docker_py_sdk() {
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let r = python(&api, "api_docker_py.py");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.lines().last(), Some("ok"));
    env.check_clean();
}

#[test]
fn testcontainers_python() {
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let r = python(&api, "api_testcontainers.py");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout.lines().last(), Some("ok"));
}

/// bollard, Rust's Docker client.
#[test]
fn bollard_client() {
    use bollard::query_parameters::{
        CreateContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
        RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
    };
    use futures_util::StreamExt;
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let docker = bollard::Docker::connect_with_unix(
            api.socket.to_str().unwrap(),
            60,
            bollard::API_DEFAULT_VERSION,
        )
        .unwrap();
        let v = docker.version().await.unwrap();
        assert_eq!(v.api_version.as_deref(), Some("1.47"));
        let images = docker
            .list_images(None::<bollard::query_parameters::ListImagesOptions>)
            .await
            .unwrap();
        assert!(images
            .iter()
            .any(|i| i.repo_tags.iter().any(|t| t == "busybox:latest")));
        let body = bollard::models::ContainerCreateBody {
            image: Some("busybox".into()),
            cmd: Some(vec![
                "sh".into(),
                "-c".into(),
                "echo from-bollard; exit 2".into(),
            ]),
            ..Default::default()
        };
        let created = docker
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name("bol").build()),
                body,
            )
            .await
            .unwrap();
        docker
            .start_container(
                &created.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .unwrap();
        // bollard sends the wait when first polled, after the start: not-running.
        let mut wait = docker.wait_container(
            &created.id,
            Some(
                WaitContainerOptionsBuilder::new()
                    .condition("not-running")
                    .build(),
            ),
        );

        // A non-zero exit comes back as an error carrying the code.
        let waited = wait.next().await.unwrap();
        match waited {
            Err(bollard::errors::Error::DockerContainerWaitError { code, .. }) => {
                assert_eq!(code, 2)
            }
            other => panic!("wait: {other:?}"),
        }
        let logs: Vec<_> = docker
            .logs(
                &created.id,
                Some(LogsOptionsBuilder::new().stdout(true).build()),
            )
            .collect()
            .await;
        let text: String = logs.into_iter().map(|l| l.unwrap().to_string()).collect();
        assert_eq!(text, "from-bollard\n");
        let listed = docker
            .list_containers(Some(ListContainersOptionsBuilder::new().all(true).build()))
            .await
            .unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].names.as_deref(), Some(&["/bol".to_string()][..]));
        docker
            .remove_container(
                &created.id,
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await
            .unwrap();
        let missing = docker
            .inspect_container(
                "bol",
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await;
        match missing {
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            }) => {
                assert_eq!(status_code, 404);
                assert!(message.contains("No such container: bol"), "{message}");
            }
            other => panic!("inspect of a removed container: {other:?}"),
        }
    });
}

/// What no client sends: docker's status codes and messages, no panic,
/// nothing made.
#[test]
fn bad_requests_get_dockers_status_and_message() {
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let ping = api.http("GET", "/_ping", None);
    assert_eq!((ping.status, ping.body.as_str()), (200, "OK"));
    assert_eq!(ping.header("api-version"), Some("1.47"));
    assert_eq!(ping.header("ostype"), Some("linux"));
    assert_eq!(ping.header("builder-version"), Some("1"));
    let head = api.http("HEAD", "/_ping", None);
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    let version = api.http("GET", "/v1.24/version", None).json();
    assert_eq!(version["MinAPIVersion"], "1.24");
    let info = api.http("GET", "/info", None).json();
    assert_eq!(info["Swarm"]["LocalNodeState"], "inactive");

    api.http("GET", "/v1.99/containers/json", None).error(
        400,
        "client version 1.99 is too new. Maximum supported API version is 1.47",
    );
    api.http("GET", "/v1.12/containers/json", None)
        .error(400, "is too old. Minimum supported API version is 1.24");
    api.http("GET", "/v1.47/no/such/route", None)
        .error(404, "page not found");
    api.http("POST", "/containers/create", Some("{not json"))
        .error(400, "invalid JSON");
    api.http("POST", "/containers/create", Some(r#"{"Image": 5}"#))
        .error(400, "invalid request body: Image: invalid type");
    api.http("POST", "/containers/create", None)
        .error(400, "config cannot be empty");
    api.http(
        "POST",
        "/containers/create",
        Some(r#"{"Image": "busybox", "HostConfig": {"Memory": "lots"}}"#),
    )
    .error(400, "HostConfig.Memory: invalid type");
    api.http("POST", "/containers/create", Some(r#"{"Cmd": ["true"]}"#))
        .error(400, "Image must be set");
    api.http(
        "POST",
        "/containers/create",
        Some(r#"{"Image": "nosuchimage"}"#),
    )
    .error(404, "No such image: nosuchimage");
    api.http(
        "POST",
        "/containers/create?name=bad%20name",
        Some(r#"{"Image": "busybox"}"#),
    )
    .error(400, "Invalid container name");
    api.http(
        "POST",
        "/containers/create",
        Some(r#"{"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}"#),
    )
    .error(400, "invalid restart policy");
    api.http(
        "POST",
        "/containers/create",
        Some(r#"{"Image": "busybox", "HostConfig": {"Mounts": [{"Type": "bind", "Source": "/no/such/dir", "Target": "/x"}]}}"#),
    )
    .error(400, "bind source path does not exist");
    api.http(
        "POST",
        "/containers/create",
        Some(r#"{"Image": "busybox", "HostConfig": {"Memory": 1024}}"#),
    )
    .error(400, "Minimum memory limit allowed is 6MB");
    api.http("GET", "/containers/json?filters=%7Bbad", None)
        .error(400, "invalid filter");
    api.http(
        "GET",
        "/containers/json?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D",
        None,
    )
    .error(400, "invalid filter 'bogus'");
    api.http("GET", "/containers/json?all=perhaps", None)
        .error(400, "invalid value for all");
    api.http("GET", "/containers/nosuch/json", None)
        .error(404, "No such container: nosuch");
    api.http("POST", "/containers/nosuch/start", None)
        .error(404, "No such container: nosuch");
    api.http("DELETE", "/containers/nosuch", None)
        .error(404, "No such container: nosuch");
    api.http("GET", "/images/nosuch:tag/json", None)
        .error(404, "No such image: nosuch:tag");
    api.http("GET", "/volumes/nosuch", None)
        .error(404, "No such volume: nosuch");
    api.http("GET", "/networks/nosuch", None)
        .error(404, "nosuch");
    api.http("POST", "/exec/nosuch/start", Some("{}"))
        .error(404, "No such exec instance: nosuch");

    // Create, then the state conflicts docker reports.
    let created = api.http(
        "POST",
        "/containers/create?name=c1",
        Some(r#"{"Image": "busybox", "Cmd": ["sleep", "300"]}"#),
    );
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.json()["Warnings"], serde_json::json!([]));
    api.http(
        "POST",
        "/containers/create?name=c1",
        Some(r#"{"Image": "busybox", "Cmd": ["true"]}"#),
    )
    .error(409, "is already in use");
    api.http("POST", "/containers/c1/exec", Some(r#"{"Cmd": ["true"]}"#))
        .error(409, "is not running");
    api.http("POST", "/containers/c1/kill", None)
        .error(409, "is not running");
    assert_eq!(api.http("POST", "/containers/c1/stop", None).status, 304);
    assert_eq!(api.http("POST", "/containers/c1/start", None).status, 204);
    assert_eq!(api.http("POST", "/containers/c1/start", None).status, 304);
    api.http("POST", "/containers/c1/exec", Some(r#"{"Cmd": []}"#))
        .error(400, "No exec command specified");
    api.http("POST", "/containers/c1/rename", None)
        .error(400, "name parameter is required");
    api.http("POST", "/containers/c1/wait?condition=whenever", None)
        .error(400, "invalid condition");
    api.http("POST", "/containers/c1/kill?signal=SIGNOPE", None)
        .error(400, "invalid signal");
    api.http("GET", "/containers/c1/logs", None)
        .error(400, "you must choose at least one stream");
    api.http("DELETE", "/containers/c1", None)
        .error(409, "container is running");
    api.http("GET", "/containers/c1/archive?path=/no/such", None)
        .error(404, "Could not find the file /no/such");
    api.http("GET", "/containers/c1/archive", None)
        .error(400, "path parameter is required");
    let exec = api
        .http(
            "POST",
            "/containers/c1/exec",
            Some(r#"{"Cmd": ["sh", "-c", "exit 6"]}"#),
        )
        .json();
    let exec_id = exec["Id"].as_str().unwrap().to_string();
    let started = api.http(
        "POST",
        &format!("/exec/{exec_id}/start"),
        Some(r#"{"Detach": true}"#),
    );
    assert_eq!(started.status, 200, "{started:?}");
    wait_until("the exec to end", || {
        api.http("GET", &format!("/exec/{exec_id}/json"), None)
            .json()["ExitCode"]
            == 6
    });
    api.http("POST", &format!("/exec/{exec_id}/start"), Some("{}"))
        .error(409, "has already run");
    // HEAD archive: the path's stat in docker's header.
    let stat = api.http("HEAD", "/containers/c1/archive?path=/etc/passwd", None);
    assert_eq!(stat.status, 200);
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(stat.header("x-docker-container-path-stat").unwrap())
        .unwrap();
    let stat: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
    assert_eq!(stat["name"], "passwd");
    assert_eq!(stat["mode"].as_u64().unwrap() & 0o777, 0o644);
    // Wait flushes its headers at once; the body comes at the exit.
    let mut s = std::os::unix::net::UnixStream::connect(&api.socket).unwrap();
    write!(
        s,
        "POST /v1.47/containers/c1/wait HTTP/1.1\r\nHost: berth\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let killed = api.http("POST", "/containers/c1/kill", None);
    assert_eq!(killed.status, 204);
    let mut rest = String::new();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 1024];
    while !rest.contains("StatusCode") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the wait ended without its body: {rest}");
        rest.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(rest.contains(r#""StatusCode":137"#), "{rest}");
    assert_eq!(api.http("DELETE", "/containers/c1", None).status, 204);

    // Volumes and networks.
    let v = api.http(
        "POST",
        "/volumes/create",
        Some(r#"{"Name": "v1", "Labels": {"a": "b"}}"#),
    );
    assert_eq!(v.status, 201, "{v:?}");
    api.http("POST", "/volumes/create", Some(r#"{"Name": "bad/name"}"#))
        .error(400, "includes invalid characters");
    let n = api.http(
        "POST",
        "/networks/create",
        Some(r#"{"Name": "n1", "Labels": {"a": "b"}}"#),
    );
    assert_eq!(n.status, 201, "{n:?}");
    api.http("POST", "/networks/create", Some(r#"{"Name": "n1"}"#))
        .error(409, "already exists");
    api.http("POST", "/networks/create", Some(r#"{}"#))
        .error(400, "network name is required");
    let n6 = api.http(
        "POST",
        "/networks/create",
        Some(r#"{"Name": "n6", "EnableIPv6": true, "IPAM": {"Config": [{"Subnet": "fd00:a91::/64", "Gateway": "fd00:a91::1"}]}}"#),
    );
    assert_eq!(n6.status, 201, "{n6:?}");
    let shown = api.http("GET", "/networks/n6", None).json();
    assert_eq!(shown["EnableIPv6"], true, "{shown}");
    assert!(
        shown["IPAM"]["Config"]
            .to_string()
            .contains("fd00:a91::/64"),
        "{shown}"
    );
    api.http(
        "POST",
        "/networks/create",
        Some(r#"{"Name": "n7", "IPAM": {"Config": [{"Subnet": "fd00:a92::/64"}]}}"#),
    )
    .error(400, "add --ipv6");
    assert_eq!(api.http("DELETE", "/networks/n6", None).status, 204);
    api.http("DELETE", "/networks/bridge", None)
        .error(409, "pre-defined network");
    let listed = api
        .http(
            "GET",
            "/networks?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D",
            None,
        )
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(api.http("DELETE", "/networks/n1", None).status, 204);
    assert_eq!(api.http("DELETE", "/volumes/v1", None).status, 204);
    let events = api.http(
        "GET",
        "/events?since=0&until=1&filters=%7B%22nope%22%3A%5B%22x%22%5D%7D",
        None,
    );
    events.error(400, "invalid filter 'nope'");
    api.http("GET", "/events?since=yesterday-ish", None)
        .error(400, "invalid value for since");
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    env.check_clean();
}

/// The service's life: idle exit, activity keeping it, SIGTERM leaving
/// containers running, READY=1, and sockets from systemd.
#[test]
fn service_lifecycle() {
    let env = Env::with_busybox();
    // Idle for a second: it exits; the socket is gone.
    let socket = env.path("idle.sock");
    let uri = format!("unix://{}", socket.display());
    let notify = std::os::unix::net::UnixDatagram::bind(env.path("notify.sock")).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut child = env
        .cmd(&["system", "service", "--time", "1", &uri])
        .env("NOTIFY_SOCKET", env.path("notify.sock"))
        .spawn()
        .unwrap();
    let mut buf = [0u8; 64];
    let n = notify.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");
    wait_for_socket(&socket);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o660
    );
    // A streaming /events connection is activity: it holds the service.
    let api = Api::start_on(&env, &socket);
    let events = api
        .client(docker_cli())
        .args(["events"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited while streaming events"
    );
    let mut events = events;
    events.kill().unwrap();
    let _ = events.wait();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert!(started.elapsed() >= Duration::from_millis(3000));
    assert!(!socket.exists(), "the socket is removed");

    // SIGTERM: a clean exit, and the container it started runs on.
    let api = Api::start(&env);
    api.docker(&["run", "-d", "--name", "survivor", "busybox", "sleep", "300"])
        .ok();
    let pid = api.pid();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let code = api.wait_exit();
    assert_eq!(code, Some(0));
    assert_eq!(env.inspect("survivor", "{{.State.Running}}"), "true");
    env.berth(&["rm", "-f", "survivor"]).ok();

    // Another service on a socket in use is refused, and plain TCP off loopback.
    let api = Api::start(&env);
    let r = env.berth(&["system", "service", "--time", "1", &api.host()]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("in use"), "{}", r.stderr);
    let r = env.berth(&["system", "service", "--time", "1", "tcp://0.0.0.0:0"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("without TLS"), "{}", r.stderr);
    let r = env.berth(&["system", "service", "ftp://nowhere"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("unsupported address"), "{}", r.stderr);

    // systemd socket activation: the listening socket comes as fd 3.
    let activated = env.path("activated.sock");
    let mut service = if std::path::Path::new("/usr/bin/systemd-socket-activate").exists() {
        std::process::Command::new("/usr/bin/systemd-socket-activate")
            .arg("-l")
            .arg(&activated)
            .arg(common::api::berth())
            .args([
                "--root",
                env.root().to_str().unwrap(),
                "--state-dir",
                env.state().to_str().unwrap(),
            ])
            .args(["system", "service", "--time", "0"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    } else {
        // Without systemd's helper: the same descriptor passing by hand.
        let listener = std::os::unix::net::UnixListener::bind(&activated).unwrap();
        let mut cmd = env.cmd(&["system", "service", "--time", "0"]);
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let fd = listener.as_raw_fd();
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let pid = format!("{}\0", libc::getpid());
                libc::setenv(c"LISTEN_PID".as_ptr(), pid.as_ptr().cast(), 1);
                libc::setenv(c"LISTEN_FDS".as_ptr(), c"1".as_ptr(), 1);
                Ok(())
            });
        }
        // The child has its own copy of the descriptor once spawned.
        cmd.stderr(Stdio::null()).spawn().unwrap()
    };
    wait_for_socket(&activated);
    let api = Api::start_on(&env, &activated);
    assert_eq!(
        api.docker(&["run", "--rm", "busybox", "echo", "activated"])
            .ok(),
        "activated\n"
    );
    let _ = service.kill();
    let _ = service.wait();
}

/// Mutual TLS over TCP: the docker CLI with its certificate gets in; a
/// client without one does not.
#[test]
fn tcp_with_mutual_tls() {
    let env = Env::with_busybox();
    let certs = env.path("certs");
    std::fs::create_dir(&certs).unwrap();
    let sh = |script: &str| {
        let ok = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&certs)
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "{script}");
    };
    sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=berth-test-ca -keyout ca-key.pem -out ca.pem");
    sh("openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out server.csr && printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -extfile server.ext -out server-cert.pem");
    sh("openssl req -newkey rsa:2048 -nodes -subj /CN=client -keyout client-key.pem -out client.csr && printf 'extendedKeyUsage=clientAuth\\n' > client.ext && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 -extfile client.ext -out cert.pem && cp client-key.pem key.pem.client");
    let port = common::registry::free_port();
    let c = |f: &str| certs.join(f).display().to_string();
    let mut child = env
        .cmd(&[
            "system",
            "service",
            "--time",
            "0",
            &format!("tcp://127.0.0.1:{port}"),
            "--tlsverify",
            "--tlscacert",
            &c("ca.pem"),
            "--tlscert",
            &c("server-cert.pem"),
            "--tlskey",
            &c("key.pem"),
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the TLS service never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The docker CLI reads ca.pem, cert.pem and key.pem from DOCKER_CERT_PATH.
    let client_dir = env.path("client-certs");
    std::fs::create_dir(&client_dir).unwrap();
    for (from, to) in [
        ("ca.pem", "ca.pem"),
        ("cert.pem", "cert.pem"),
        ("key.pem.client", "key.pem"),
    ] {
        std::fs::copy(certs.join(from), client_dir.join(to)).unwrap();
    }
    let docker = |with_certs: bool, args: &[&str]| {
        let mut cmd = std::process::Command::new(docker_cli());
        cmd.env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
            .env("DOCKER_CONFIG", env.path("docker-config"))
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .args(args);
        if with_certs {
            cmd.env("DOCKER_TLS_VERIFY", "1")
                .env("DOCKER_CERT_PATH", &client_dir);
        } else {
            cmd.env("DOCKER_TLS_VERIFY", "1")
                .env("DOCKER_CERT_PATH", &certs);
        }
        common::Run::from_output(cmd.output().unwrap())
    };
    assert_eq!(
        docker(true, &["run", "--rm", "busybox", "echo", "over tls"]).ok(),
        "over tls\n"
    );
    // ca.pem without a client certificate signed by it: refused.
    std::fs::remove_file(certs.join("cert.pem")).unwrap();
    let r = docker(false, &["ps"]);
    assert_ne!(r.code, 0, "a client without a certificate got in");
    let _ = child.kill();
    let _ = child.wait();
}

/// Many `docker run -d` at once through the socket: all succeed, each
/// container once.
#[test]
fn parallel_runs_through_the_socket() {
    let env = Env::with_busybox();
    let api = Api::start(&env);
    let children: Vec<_> = (0..25)
        .map(|_| {
            api.client(docker_cli())
                .args(["run", "-d", "--network", "none", "busybox", "sleep", "60"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        ids.insert(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    assert_eq!(ids.len(), 25);
    let running = api.docker(&["ps", "-q"]).ok();
    assert_eq!(running.lines().count(), 25);
    let all: Vec<&str> = running.lines().collect();
    let mut args = vec!["rm", "-f"];
    args.extend(all);
    api.docker(&args).ok();
    env.check_clean();
}
