//! Published ports end to end: docker's -p forms, -P, port and ps, a port in
//! use refused before the container starts, and the port freed when it
//! stops. Traffic goes to 127.0.0.1 only, to containers this test started.

mod common;

use common::registry::free_port;
use common::Env;

fn get(port: u16) -> String {
    common::http_get("127.0.0.1", port)
}

const WEB: &str =
    "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www";

/// `web`, serving "hello-from-web" on 127.0.0.1:port.
fn start_web(env: &Env, port: u16) {
    let publish = format!("127.0.0.1:{port}:80");
    env.berth(&[
        "run",
        "-d",
        "--name",
        "web",
        "--hostname",
        "web",
        "-p",
        &publish,
        "busybox",
        "sh",
        "-c",
        WEB,
    ])
    .ok();
}

#[test]
fn published_ports_reach_the_container() {
    let env = Env::with_busybox();
    let port = free_port();
    start_web(&env, port);
    assert_eq!(get(port), "hello-from-web\n");
    assert_eq!(
        env.berth(&["port", "web"]).ok(),
        format!("80/tcp -> 127.0.0.1:{port}\n")
    );
    assert_eq!(
        env.berth(&["port", "web", "80"]).ok(),
        format!("127.0.0.1:{port}\n")
    );
    assert_eq!(
        env.berth(&["ps", "--format", "{{.Ports}}"]).ok(),
        format!("127.0.0.1:{port}->80/tcp\n")
    );
    let ports = env.inspect("web", "{{json .NetworkSettings.Ports}}");
    assert_eq!(
        ports,
        format!(r#"{{"80/tcp":[{{"HostIp":"127.0.0.1","HostPort":"{port}"}}]}}"#)
    );
    assert_eq!(
        env.inspect("web", "{{json .HostConfig.PortBindings}}"),
        format!(r#"{{"80/tcp":[{{"HostIp":"127.0.0.1","HostPort":"{port}"}}]}}"#)
    );

    // A port in use is refused before the container starts.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "clash",
        "-p",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        "sleep",
        "30",
    ])
    .fails(125, "port is already allocated");
    assert_eq!(env.inspect("clash", "{{.State.Status}}"), "created");

    // A free host port when none is given, and -P for the image's EXPOSEd ports.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "any",
        "--hostname",
        "any",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sh",
        "-c",
        WEB,
    ])
    .ok();
    let any: u16 = env
        .berth(&["port", "any", "80"])
        .ok()
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(any > 0);
    assert_eq!(get(any), "hello-from-any\n");
    let ctx = env.path("exposed");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nEXPOSE 80\n").unwrap();
    env.berth(&["build", "-q", "-t", "exposed", ctx.to_str().unwrap()])
        .ok();
    env.berth(&[
        "run",
        "-d",
        "--name",
        "all",
        "--hostname",
        "all",
        "-P",
        "exposed",
        "sh",
        "-c",
        WEB,
    ])
    .ok();
    let mapped = env.berth(&["port", "all"]).ok();
    assert!(mapped.starts_with("80/tcp -> 0.0.0.0:"), "{mapped}");
    let all: u16 = mapped.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(get(all), "hello-from-all\n");

    // Stopping frees the port, and the mapping is gone from port and inspect.
    env.berth(&["stop", "-t", "1", "web"]).ok();
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
        "the port is free again"
    );
    assert_eq!(env.berth(&["port", "web"]).ok(), "");
    env.berth(&["port", "web", "80"])
        .fails(1, "No public port '80/tcp' published for web");

    // Bad input.
    env.berth(&["run", "-p", "99999:80", "busybox", "true"])
        .fails(125, "invalid port");
    env.berth(&["run", "-p", "1.2.3:80:80", "busybox", "true"])
        .fails(125, "invalid IP address");
    env.berth(&["run", "-p", "80/sctpx", "busybox", "true"])
        .fails(125, "invalid proto");
    // With the host's network there is nothing to publish: docker warns and runs.
    let host = env.berth(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-p",
        "80:80",
        "busybox",
        "true",
    ]);
    assert_eq!(host.code, 0, "{}", host.stderr);
    assert!(
        host.stderr
            .contains("WARNING: Published ports are discarded when using host network mode"),
        "{}",
        host.stderr
    );
    env.berth(&["rm", "-f", "web", "clash", "any", "all"]).ok();
}

#[test]
fn network_container_mode_hosts_dns_and_volumes_from() {
    let env = Env::with_busybox();
    // --network container:NAME shares the other's namespace: its loopback server answers.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "server",
        "--hostname",
        "server",
        "busybox",
        "sh",
        "-c",
        WEB,
    ])
    .ok();
    let out = env
        .berth(&["run", "--rm", "--network", "container:server", "busybox", "sh", "-c",
            "for i in $(seq 50); do wget -q -O - http://127.0.0.1:80/ && exit 0; sleep 0.1; done; exit 1"])
        .ok();
    assert_eq!(out, "hello-from-server\n");
    let id = env.inspect("server", "{{.Id}}");
    env.berth(&[
        "create",
        "--name",
        "joiner",
        "--network",
        "container:server",
        "busybox",
        "true",
    ])
    .ok();
    assert_eq!(
        env.inspect("joiner", "{{.HostConfig.NetworkMode}}"),
        format!("container:{id}")
    );
    env.berth(&["stop", "-t", "1", "server"]).ok();
    env.berth(&["start", "joiner"])
        .fails(1, "cannot join network of a non running container: server");
    env.berth(&["run", "--network", "container:nosuch", "busybox", "true"])
        .fails(125, "No such container: nosuch");
    env.berth(&["run", "--network", "mynet", "busybox", "true"])
        .fails(125, "network mynet not found");

    // --add-host and --dns write the container's /etc/hosts and resolv.conf.
    let out = env
        .berth(&[
            "run",
            "--rm",
            "--add-host",
            "db.internal:10.1.2.3",
            "--dns",
            "192.0.2.53",
            "--dns-search",
            "example.test",
            "--dns-option",
            "ndots:2",
            "busybox",
            "sh",
            "-c",
            "grep db.internal /etc/hosts; cat /etc/resolv.conf",
        ])
        .ok();
    assert_eq!(
        out,
        "10.1.2.3\tdb.internal\nnameserver 192.0.2.53\nsearch example.test\noptions ndots:2\n"
    );
    env.berth(&["run", "--add-host", "nocolon", "busybox", "true"])
        .fails(125, "expected HOST:IP");
    env.berth(&["run", "--dns", "not-an-ip", "busybox", "true"])
        .fails(125, "not-an-ip is not an ip address");

    // --volumes-from takes another container's volumes (read-only with :ro).
    env.berth(&[
        "run",
        "--name",
        "owner",
        "-v",
        "shared:/shared",
        "busybox",
        "sh",
        "-c",
        "echo from-owner > /shared/f",
    ])
    .ok();
    assert_eq!(
        env.berth(&[
            "run",
            "--rm",
            "--volumes-from",
            "owner",
            "busybox",
            "cat",
            "/shared/f"
        ])
        .ok(),
        "from-owner\n"
    );
    env.berth(&[
        "run",
        "--rm",
        "--volumes-from",
        "owner:ro",
        "busybox",
        "touch",
        "/shared/g",
    ])
    .fails_in_container("Read-only file system");
    env.berth(&["rm", "-f", "server", "joiner", "owner"]).ok();
}

/// A UDP echo server: the host's python3, mounted read-only into a busybox
/// container (busybox has no UDP server of its own).
const UDP_ECHO: &str = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('0.0.0.0', 9999))\nwhile True:\n    d, a = s.recvfrom(2048)\n    s.sendto(b'echo:' + d, a)\n";

#[test]
fn udp_ports_are_relayed() {
    let python = std::fs::canonicalize("/usr/bin/python3").expect("python3 is installed");
    let env = Env::with_busybox();
    let port = free_port();
    let mut args: Vec<String> = vec!["run".into(), "-d".into(), "--name".into(), "echo".into()];
    args.extend(["-p".into(), format!("127.0.0.1:{port}:9999/udp")]);
    for dir in ["/usr", "/lib", "/lib64"] {
        let real = std::fs::canonicalize(dir).unwrap();
        args.extend(["-v".into(), format!("{}:{dir}:ro", real.display())]);
    }
    args.extend([
        "busybox".into(),
        python.display().to_string(),
        "-c".into(),
        UDP_ECHO.into(),
    ]);
    env.berth(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .ok();
    assert_eq!(
        env.berth(&["port", "echo"]).ok(),
        format!("9999/udp -> 127.0.0.1:{port}\n")
    );
    // Two clients, each answered on its own address; datagrams may be lost
    // while the server starts, so each asks until answered (bounded).
    for who in ["one", "two"] {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 64];
        let answer = (0..50).find_map(|_| {
            s.send_to(who.as_bytes(), ("127.0.0.1", port)).unwrap();
            s.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
        });
        assert_eq!(answer.as_deref(), Some(format!("echo:{who}").as_bytes()));
    }
    env.berth(&["rm", "-f", "echo"]).ok();
}

/// berth's DNAT rules (nat table) that send host port `port` somewhere.
fn dnat_rules(port: u16) -> Vec<String> {
    let out = std::process::Command::new("iptables")
        .args(["-w", "5", "-t", "nat", "-S", "BERTH-DNAT"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&format!("--dport {port} ")))
        .map(String::from)
        .collect()
}

#[test]
fn the_kernel_forwards_published_ports_and_crashes_leave_no_rules() {
    let env = Env::with_busybox();
    let port = free_port();
    start_web(&env, port);
    let ip = env.inspect("web", "{{.NetworkSettings.IPAddress}}");
    let rules = dnat_rules(port);
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert!(
        rules[0].contains(&format!("--to-destination {ip}:80")),
        "{rules:?}"
    );
    assert_eq!(get(port), "hello-from-web\n");

    // The process holding the rules dies without cleaning up (SIGKILL, as a
    // crash): the next container that publishes removes what it left.
    let owner: i32 = rules[0]
        .split("berth:")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|p| p.parse().ok())
        .expect("the rule names its owner");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(owner), nix::sys::signal::SIGKILL).unwrap();
    common::wait_until("the owner to die", || {
        !std::path::Path::new(&format!("/proc/{owner}")).exists()
    });
    assert_eq!(dnat_rules(port).len(), 1, "a crash leaves its rule");
    env.berth(&["rm", "-f", "web"]).ok();
    let other = free_port();
    env.berth(&[
        "run",
        "-d",
        "--name",
        "next",
        "-p",
        &format!("127.0.0.1:{other}:80"),
        "busybox",
        "sh",
        "-c",
        WEB,
    ])
    .ok();
    assert!(dnat_rules(port).is_empty(), "the stale rule is gone");
    assert_eq!(dnat_rules(other).len(), 1);
    env.berth(&["rm", "-f", "next"]).ok();
    assert!(dnat_rules(other).is_empty(), "rules go with the container");
}
