//! Pods: containers that share one network namespace (one address,
//! `localhost` between them), IPC and UTS namespaces, held by berth's own
//! infra process, with ports published on the pod.

mod common;

use common::{has, http_get, registry::free_port, Env};

fn pod_line(env: &Env, name: &str) -> Vec<String> {
    let ls = env.berth(&["pod", "ls"]).ok();
    ls.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("{name} is not in:\n{ls}"))
        .split("   ")
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn a_pods_containers_share_localhost_ipc_and_hostname_and_its_ports() {
    let env = Env::with_busybox();
    let port = free_port();
    let id = env
        .berth(&[
            "pod",
            "create",
            "--name",
            "web",
            "-p",
            &format!("127.0.0.1:{port}:80"),
            "--label",
            "app=shop",
        ])
        .ok();
    assert_eq!(id.trim().len(), 64, "{id}");
    let header = env.berth(&["pod", "ls"]).ok();
    let cols: Vec<&str> = header
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cols,
        [
            "POD ID",
            "NAME",
            "STATUS",
            "CREATED",
            "INFRA ID",
            "# OF CONTAINERS"
        ]
    );
    let line = pod_line(&env, "web");
    assert_eq!(
        (line[2].as_str(), line[5].as_str()),
        ("Created", "1"),
        "{line:?}"
    );
    // The infra program was made here, not pulled.
    has(
        &env.berth(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .ok(),
        "berth/pod-infra:1",
    );

    env.berth(&[
        "run",
        "-d",
        "--pod",
        "web",
        "--name",
        "srv",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo hello from the pod > /www/index.html && exec httpd -f -p 80 -h /www",
    ])
    .ok();
    // localhost is the pod's: a second container reaches the first there.
    let out = env
        .berth(&["run", "--rm", "--pod", "web", "busybox", "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://localhost:80/ && break; sleep 0.2; done; hostname"])
        .ok();
    assert_eq!(out, "hello from the pod\nweb\n");
    // The port is published on the pod.
    assert_eq!(http_get("127.0.0.1", port), "hello from the pod\n");
    // One network namespace and one IPC namespace for the pod's containers.
    let ns = |c: &str| {
        env.berth(&[
            "exec",
            c,
            "sh",
            "-c",
            "for n in net ipc uts; do readlink /proc/self/ns/$n; done",
        ])
        .ok()
    };
    env.berth(&[
        "run", "-d", "--pod", "web", "--name", "side", "busybox", "sleep", "300",
    ])
    .ok();
    assert_eq!(ns("srv"), ns("side"));
    let line = pod_line(&env, "web");
    assert_eq!(
        (line[2].as_str(), line[5].as_str()),
        ("Running", "3"),
        "{line:?}"
    );

    let v: serde_json::Value =
        serde_json::from_str(&env.berth(&["pod", "inspect", "web"]).ok()).unwrap();
    assert_eq!(v[0]["Name"], "web");
    assert_eq!(v[0]["State"], "Running");
    assert_eq!(v[0]["Labels"]["app"], "shop");
    assert_eq!(
        v[0]["SharedNamespaces"],
        serde_json::json!(["net", "ipc", "uts"])
    );
    assert_eq!(v[0]["NumContainers"], 3);
    assert_eq!(
        v[0]["InfraConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
        port.to_string()
    );
    assert_eq!(
        env.berth(&["pod", "inspect", "--format", "{{.State}}", "web"])
            .ok(),
        "Running\n"
    );
    let top = env.berth(&["pod", "top", "web"]).ok();
    has(&top, "httpd -f -p 80");
    has(&top, "sleep 300");
    assert!(
        top.lines().next().unwrap().starts_with("CONTAINER"),
        "{top}"
    );

    // What a pod decides is not asked of its containers.
    env.refuses_run(
        &["--pod", "web", "-p", "8080:80"],
        "published ports must be given when the pod is created",
    );
    env.refuses_run(
        &["--pod", "web", "--network", "none"],
        "a container of a pod uses the pod's network",
    );
    env.refuses_run(&["--pod", "nope"], "no such pod: nope");

    // Stop, start, kill, remove: the pod's containers together.
    env.berth(&["pod", "stop", "-t", "1", "web"]).ok();
    assert_eq!(pod_line(&env, "web")[2], "Exited");
    assert_eq!(env.berth(&["ps", "-q"]).ok(), "");
    env.berth(&["pod", "start", "web"]).ok();
    assert_eq!(pod_line(&env, "web")[2], "Running");
    assert_eq!(http_get("127.0.0.1", port), "hello from the pod\n");
    // restart: stopped and started again, the port still answering.
    env.berth(&["pod", "restart", "web"]).ok();
    assert_eq!(pod_line(&env, "web")[2], "Running");
    assert_eq!(http_get("127.0.0.1", port), "hello from the pod\n");
    env.berth(&["pod", "kill", "web"]).ok();
    common::wait_until("the pod's containers to die", || {
        env.berth(&["ps", "-q"]).stdout.is_empty()
    });
    env.berth(&["pod", "start", "web"]).ok();
    env.berth(&["pod", "rm", "web"])
        .fails(1, "pod web has running containers (");
    env.berth(&["pod", "rm", "-f", "web"]).ok();
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    assert_eq!(env.berth(&["pod", "ls", "-q"]).ok(), "");
}

#[test]
fn bad_pods_are_refused() {
    let env = Env::with_busybox();
    env.berth(&["pod", "create", "--name", "p1", "--share", "net"])
        .ok();
    env.berth(&["pod", "create", "--name", "p1"])
        .fails(1, "pod p1 already exists");
    env.berth(&["pod", "create", "--name", "bad name"])
        .fails(1, "invalid pod name \"bad name\"");
    env.berth(&["pod", "create", "--share", "net,pid"])
        .fails(1, "invalid --share \"pid\": a pod shares net, ipc and uts");
    env.berth(&["pod", "create", "-p", "notaport"])
        .fails(1, "notaport");
    env.berth(&["pod", "inspect", "nope"])
        .fails(1, "no such pod: nope");
    env.berth(&["pod", "stop", "nope"])
        .fails(1, "no such pod: nope");
    env.berth(&["pod", "kill", "p1"])
        .fails(1, "pod p1 has no running container to signal");
    env.berth(&["pod", "top", "p1"])
        .fails(1, "pod p1 is not running");
    // Only the network is shared in p1: each container has its own hostname.
    let out = env
        .berth(&[
            "run",
            "--rm",
            "--pod",
            "p1",
            "--hostname",
            "mine",
            "busybox",
            "hostname",
        ])
        .ok();
    assert_eq!(out, "mine\n");
    assert_eq!(
        env.berth(&["pod", "ls", "--format", "{{.Name}} {{.NumberOfContainers}}"])
            .ok(),
        "p1 1\n"
    );
    env.berth(&["pod", "rm", "p1"]).ok();
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
}
