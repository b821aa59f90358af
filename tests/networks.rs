//! Networks end to end: the default bridge (addresses, routes, /etc/hosts,
//! reachability), user networks (names through the embedded DNS, aliases,
//! static addresses, isolation, connect and disconnect), and every bad input.
//! Each test has a bridge and an address range of its own (see
//! common::Env), taken off the host when it ends; traffic goes only to
//! containers the test started.

mod common;

use std::path::Path;

use common::{http_get, Env};

const WEB: &str =
    "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www";

/// `wget` from a new container on `flags`' network, tried for a few seconds.
fn fetch_from(env: &Env, flags: &[&str], url: &str) -> String {
    let script = format!(
        "for i in $(seq 50); do timeout 3 wget -q -O - {url} && exit 0; sleep 0.1; done; exit 1"
    );
    env.sh(flags, &script).ok()
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

#[test]
fn default_bridge_gives_each_container_an_address() {
    let env = Env::with_busybox();
    let out = env.berth(&["network", "ls"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NETWORK ID     NAME      DRIVER    SCOPE"),
        "{out}"
    );
    for (name, driver) in [("bridge", "bridge"), ("host", "host"), ("none", "null")] {
        assert!(
            lines
                .iter()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()[1..] == [name, driver, "local"]),
            "{name} missing: {out}"
        );
    }
    assert!(
        link_exists(&env.bridge),
        "the default bridge device is made"
    );
    let subnet = env
        .berth(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
            "bridge",
        ])
        .ok();
    assert!(
        subnet.starts_with("10.213."),
        "from the test's pool: {subnet}"
    );

    // Eight containers started at once: eight different addresses.
    let runs: Vec<_> = (0..8)
        .map(|i| {
            let name = format!("web{i}");
            let mut cmd = env.cmd(&["run", "-d", "--name", &name, "busybox", "sh", "-c", WEB]);
            cmd.stdout(std::process::Stdio::null());
            cmd.spawn().unwrap()
        })
        .collect();
    for mut r in runs {
        assert!(r.wait().unwrap().success());
    }
    let mut ips: Vec<String> = (0..8)
        .map(|i| env.inspect(&format!("web{i}"), "{{.NetworkSettings.IPAddress}}"))
        .collect();
    let gateway = env.inspect("web0", "{{.NetworkSettings.Gateway}}");
    assert!(ips.iter().all(|ip| ip.starts_with("10.213.")), "{ips:?}");
    ips.sort();
    ips.dedup();
    assert_eq!(
        ips.len(),
        8,
        "an address is never handed out twice: {ips:?}"
    );

    // The host reaches a container's address; containers reach each other.
    let ip0 = env.inspect("web0", "{{.NetworkSettings.IPAddress}}");
    let id0 = env.inspect("web0", "{{.Config.Hostname}}");
    assert_eq!(http_get(&ip0, 80), format!("hello-from-{id0}\n"));
    assert_eq!(
        fetch_from(&env, &[], &format!("http://{ip0}/")),
        format!("hello-from-{id0}\n")
    );
    let inside = env
        .sh(
            &[],
            "ip route; grep $(hostname) /etc/hosts; cat /sys/class/net/eth0/address",
        )
        .ok();
    assert!(
        inside.contains(&format!("default via {gateway} dev eth0")),
        "{inside}"
    );
    assert!(
        inside.contains("02:42:0a:d5:"),
        "docker's MAC from the address: {inside}"
    );
    let inspected = env
        .berth(&["network", "inspect", "-f", "{{len .Containers}}", "bridge"])
        .ok();
    assert_eq!(inspected.trim(), "8");

    // A stopped container gives its address back; a restart takes one again.
    env.berth(&["stop", "-t", "1", "web0"]).ok();
    assert_eq!(env.inspect("web0", "{{.NetworkSettings.IPAddress}}"), "");
    env.berth(&["start", "web0"]).ok();
    assert!(env
        .inspect("web0", "{{.NetworkSettings.IPAddress}}")
        .starts_with("10.213."));

    // --mac-address, and --network none keeping only loopback.
    let mac = env
        .sh(
            &["--mac-address", "92:d0:c6:0a:29:33"],
            "cat /sys/class/net/eth0/address",
        )
        .ok();
    assert_eq!(mac, "92:d0:c6:0a:29:33\n");
    let none = env.sh(&["--network", "none"], "ls /sys/class/net").ok();
    assert_eq!(none, "lo\n");
    env.check_clean();
}

#[test]
fn user_networks_resolve_names_and_stay_apart() {
    let env = Env::with_busybox();
    let id = env
        .berth(&[
            "network",
            "create",
            "--subnet",
            "10.214.7.0/24",
            "--gateway",
            "10.214.7.254",
            "--label",
            "team=web",
            "app",
        ])
        .ok();
    assert_eq!(id.trim().len(), 64);
    let bridge = format!("br-{}", &id.trim()[..12]);
    assert!(link_exists(&bridge));
    env.berth(&["network", "create", "other"]).ok();
    env.berth(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "app",
        "--network-alias",
        "www",
        "--ip",
        "10.214.7.50",
        "busybox",
        "sh",
        "-c",
        WEB,
    ])
    .ok();
    assert_eq!(
        env.inspect(
            "web",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{.Gateway}}{{end}}"
        ),
        "10.214.7.50 10.214.7.254"
    );
    let hostname = env.inspect("web", "{{.Config.Hostname}}");
    let hello = format!("hello-from-{hostname}\n");

    // By name, alias and NAME.NETWORK, through the resolver at 127.0.0.11.
    for url in ["http://web/", "http://www/", "http://web.app/"] {
        assert_eq!(fetch_from(&env, &["--network", "app"], url), hello, "{url}");
    }
    let resolv = env.sh(&["--network", "app"], "cat /etc/resolv.conf").ok();
    assert!(resolv.starts_with("nameserver 127.0.0.11\n"), "{resolv}");
    assert!(resolv.contains("options ndots:0"), "{resolv}");

    // Another network reaches neither the address nor the name.
    let blocked = env.sh(
        &["--network", "other"],
        "timeout 3 wget -q -O - http://10.214.7.50/ && echo reached",
    );
    assert!(!blocked.stdout.contains("reached"), "networks are isolated");

    // connect and disconnect a running container.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "client",
        "--network",
        "other",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    env.berth(&[
        "network",
        "connect",
        "--alias",
        "c2",
        "--ip",
        "10.214.7.77",
        "app",
        "client",
    ])
    .ok();
    assert_eq!(
        env.inspect(
            "client",
            "{{(index .NetworkSettings.Networks \"app\").IPAddress}}"
        ),
        "10.214.7.77"
    );
    let via = env
        .berth(&[
            "exec",
            "client",
            "wget",
            "-q",
            "-O",
            "-",
            "http://10.214.7.50/",
        ])
        .ok();
    assert_eq!(via, hello);
    let both = env.inspect(
        "client",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
    );
    let mut both: Vec<&str> = both.split_whitespace().collect();
    both.sort();
    assert_eq!(both, ["app", "other"]);
    env.berth(&["network", "connect", "app", "client"])
        .fails(1, "already exists in network app");
    env.berth(&["network", "disconnect", "app", "client"]).ok();
    let ifaces = env.berth(&["exec", "client", "ls", "/sys/class/net"]).ok();
    assert_eq!(ifaces, "eth0\nlo\n");
    env.berth(&["network", "disconnect", "app", "client"])
        .fails(1, "is not connected to network app");

    // A container of the default bridge connected later resolves names too.
    env.berth(&["run", "-d", "--name", "plain", "busybox", "sleep", "60"])
        .ok();
    env.berth(&["network", "connect", "app", "plain"]).ok();
    let by_name = env
        .berth(&["exec", "plain", "sh", "-c", "for i in $(seq 30); do timeout 3 wget -q -O - http://web/ && exit 0; sleep 0.1; done; exit 1"])
        .ok();
    assert_eq!(by_name, hello);
    env.berth(&["rm", "-f", "plain"]).ok();

    // In use: refused; removed with its last container: device and rules gone.
    env.berth(&["network", "rm", "app"])
        .fails(1, "has active endpoints");
    let ls = env
        .berth(&[
            "network",
            "ls",
            "--filter",
            "label=team=web",
            "--format",
            "{{.Name}}",
        ])
        .ok();
    assert_eq!(ls, "app\n");
    env.berth(&["rm", "-f", "web", "client"]).ok();
    env.berth(&["network", "rm", "app"]).ok();
    assert!(!link_exists(&bridge), "the bridge goes with the network");
    let rules = std::process::Command::new("iptables")
        .args(["-S", "BERTH-FORWARD"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&rules.stdout).contains(&bridge));
    env.berth(&["network", "create", "--label", "keep=1", "labelled"])
        .ok();
    let pruned = env
        .berth(&["network", "prune", "-f", "--filter", "label=keep=1"])
        .ok();
    assert_eq!(pruned, "Deleted Networks:\nlabelled\n\n");
    let pruned = env.berth(&["network", "prune", "-f"]).ok();
    assert_eq!(pruned, "Deleted Networks:\nother\n\n");
    env.check_clean();
}

#[test]
fn network_bad_inputs() {
    let env = Env::with_busybox();
    env.berth(&["network", "create", "--subnet", "10.215.1.0/24", "taken"])
        .ok();
    let before = env.berth(&["network", "ls", "-q"]).ok();
    env.berth(&["network", "create", "bad/name"])
        .fails(1, "invalid network name");
    env.berth(&["network", "create", "taken"])
        .fails(1, "network with name taken already exists");
    env.berth(&["network", "create", "--subnet", "10.215.1.5/24", "n1"])
        .fails(1, "it should be 10.215.1.0/24");
    env.berth(&["network", "create", "--subnet", "10.215.0.0/16", "n2"])
        .fails(1, "Pool overlaps with other one on this address space");
    env.berth(&[
        "network",
        "create",
        "--subnet",
        "10.216.0.0/24",
        "--gateway",
        "10.9.9.9",
        "n3",
    ])
    .fails(1, "not a host address of subnet 10.216.0.0/24");
    env.berth(&["network", "create", "--gateway", "10.9.9.9", "n4"])
        .fails(1, "a gateway needs a subnet");
    env.berth(&["network", "create", "-d", "overlay", "n5"])
        .fails(1, "plugin \"overlay\" not found");
    assert_eq!(
        env.berth(&["network", "ls", "-q"]).ok(),
        before,
        "nothing made"
    );

    env.berth(&["network", "rm", "bridge"])
        .fails(1, "bridge is a pre-defined network and cannot be removed");
    env.berth(&["network", "rm", "nosuch"])
        .fails(1, "No such network: nosuch");
    env.berth(&["network", "rm", "-f", "nosuch"]).ok();
    env.berth(&["network", "inspect", "nosuch"])
        .fails(1, "No such network: nosuch");
    env.berth(&["network", "connect", "nosuch", "nobody"])
        .fails(1, "No such network: nosuch");

    env.berth(&["run", "--network", "nosuch", "busybox", "true"])
        .fails(125, "network nosuch not found");
    env.berth(&["run", "--ip", "10.1.1.1", "busybox", "true"])
        .fails(
            125,
            "user specified IP address is supported on user defined networks only",
        );
    env.berth(&["run", "--network-alias", "x", "busybox", "true"])
        .fails(
            125,
            "network-scoped alias is supported only for containers in user defined networks",
        );
    env.berth(&[
        "run",
        "--network",
        "taken",
        "--ip",
        "10.99.0.1",
        "busybox",
        "true",
    ])
    .fails(
        125,
        "no configured subnet or ip-range contain the IP address 10.99.0.1",
    );
    env.berth(&["run", "--mac-address", "zz:00", "busybox", "true"])
        .fails(125, "zz:00 is not a valid mac address");
    env.berth(&[
        "run",
        "-d",
        "--name",
        "first",
        "--network",
        "taken",
        "--ip",
        "10.215.1.9",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    env.berth(&[
        "run",
        "--name",
        "second",
        "--network",
        "taken",
        "--ip",
        "10.215.1.9",
        "busybox",
        "true",
    ])
    .fails(125, "Address already in use");
    env.berth(&["rm", "-f", "first", "second"]).ok();
    env.berth(&["--default-address-pool", "base=10.0.0.0/8", "network", "ls"])
        .fails(125, "expected base=CIDR,size=N");
    env.check_clean();
}

#[test]
fn internal_networks_bridge_names_filters_and_prune() {
    let env = Env::with_busybox();
    let bridge = format!("{}-in", env.bridge);
    env.berth(&[
        "network",
        "create",
        "--internal",
        "-o",
        &format!("com.docker.network.bridge.name={bridge}"),
        "--subnet",
        "10.217.3.0/24",
        "inside",
    ])
    .ok();
    assert!(link_exists(&bridge), "the bridge takes the name asked for");
    // No way out: no default route, and the filter drops what leaves the bridge.
    let routes = env.sh(&["--network", "inside"], "ip route").ok();
    assert!(!routes.contains("default"), "{routes}");
    let rules = std::process::Command::new("iptables")
        .args(["-S", "BERTH-FORWARD"])
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout).to_string();
    assert!(
        rules.contains(&format!(
            "-A BERTH-FORWARD -i {bridge} ! -o {bridge} -j DROP"
        )),
        "{rules}"
    );
    let nat = std::process::Command::new("iptables")
        .args(["-t", "nat", "-S", "BERTH-POSTROUTING"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&nat.stdout).contains("10.217.3.0/24"),
        "an internal network is not masqueraded"
    );

    // ps filters and shows networks; events record the network's life.
    env.berth(&[
        "run",
        "-d",
        "--name",
        "inner",
        "--network",
        "inside",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    env.berth(&["run", "-d", "--name", "outer", "busybox", "sleep", "60"])
        .ok();
    let on = env
        .berth(&[
            "ps",
            "--filter",
            "network=inside",
            "--format",
            "{{.Names}} {{.Networks}}",
        ])
        .ok();
    assert_eq!(on, "inner inside\n");
    let events = env
        .berth(&[
            "events",
            "--since",
            "0",
            "--until",
            "0s",
            "--filter",
            "type=network",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .ok();
    assert!(events.starts_with("create inside\n"), "{events}");
    // network ls: its filters, -q and --no-trunc; --attachable is recorded.
    let id = env
        .berth(&["network", "create", "--attachable", "extra"])
        .ok();
    assert_eq!(
        env.berth(&["network", "inspect", "-f", "{{.Attachable}}", "extra"])
            .ok(),
        "true\n"
    );
    let ls = |filter: &str| {
        env.berth(&["network", "ls", "--filter", filter, "--format", "{{.Name}}"])
            .ok()
    };
    assert_eq!(ls("driver=null"), "none\n");
    assert_eq!(ls("type=custom"), "extra\ninside\n");
    assert_eq!(ls("type=builtin"), "bridge\nhost\nnone\n");
    assert_eq!(ls(&format!("id={}", &id[..8])), "extra\n");
    let full = env
        .berth(&[
            "network",
            "ls",
            "-q",
            "--no-trunc",
            "--filter",
            "name=extra",
        ])
        .ok();
    assert_eq!(full, id);
    let short = env
        .berth(&["network", "ls", "-q", "--filter", "name=extra"])
        .ok();
    assert_eq!(short.trim(), &id[..12]);
    env.berth(&["network", "ls", "--filter", "colour=red"])
        .fails(1, "invalid filter 'colour'");
    env.berth(&["network", "rm", "extra"]).ok();
    env.berth(&["network", "create", "unused"]).ok();
    env.berth(&["rm", "-f", "inner", "outer"]).ok();
    let pruned = env.berth(&["system", "prune", "-f"]).ok();
    assert!(pruned.contains("Deleted Networks:\n"), "{pruned}");
    assert!(
        pruned.contains("inside\n") && pruned.contains("unused\n"),
        "{pruned}"
    );
    assert!(!link_exists(&bridge));
    let left = env.berth(&["network", "ls", "--format", "{{.Name}}"]).ok();
    assert_eq!(left, "bridge\nhost\nnone\n");
    env.check_clean();
}

/// A second "host" for the test: a network namespace of its own, joined to
/// this one by a veth pair (host side .1, namespace side .2 of a /30).
/// Removed, with anything running in it, when dropped.
struct OtherHost {
    ns: String,
    veth: String,
    host_ip: String,
    ip: String,
    children: Vec<std::process::Child>,
}

impl OtherHost {
    fn new(tag: &str, octet: u8) -> OtherHost {
        let (ns, veth) = (format!("berth-t-{tag}"), format!("vx-{tag}"));
        let (host_ip, ip) = (format!("10.220.{octet}.1"), format!("10.220.{octet}.2"));
        let h = OtherHost {
            ns,
            veth,
            host_ip,
            ip,
            children: Vec::new(),
        };
        let ip_cmd = |args: &str| {
            let ok = std::process::Command::new("ip")
                .args(args.split_whitespace())
                .status()
                .unwrap()
                .success();
            assert!(ok, "ip {args}");
        };
        ip_cmd(&format!("netns add {}", h.ns));
        ip_cmd(&format!(
            "link add {} type veth peer name eth0 netns {}",
            h.veth, h.ns
        ));
        ip_cmd(&format!("addr add {}/30 dev {}", h.host_ip, h.veth));
        ip_cmd(&format!("link set {} up", h.veth));
        ip_cmd(&format!("-n {} addr add {}/30 dev eth0", h.ns, h.ip));
        ip_cmd(&format!("-n {} link set eth0 up", h.ns));
        ip_cmd(&format!("-n {} link set lo up", h.ns));
        h
    }

    /// Runs a command inside the namespace.
    fn exec(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new("ip");
        c.args(["netns", "exec", &self.ns]).args(args);
        c
    }
}

impl Drop for OtherHost {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.veth])
            .status();
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.ns])
            .status();
    }
}

/// A DNS server that answers every A question with 192.0.2.99.
const FAKE_DNS: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
while True:
    q, a = s.recvfrom(512)
    end = q.index(b"\0", 12) + 5
    s.sendto(q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + q[12:end]
             + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([192, 0, 2, 99]), a)
"#;

#[test]
fn other_hosts_reach_published_ports_and_containers_reach_out() {
    let env = Env::with_busybox();
    let tag: String = env.bridge.chars().skip(3).collect();
    let mut other = OtherHost::new(&tag, 1 + (std::process::id() % 250) as u8);
    // From the other host to a port published on all addresses: DNAT in PREROUTING.
    let port = common::registry::free_port();
    env.berth(&web("web", &format!("{port}:80"), "busybox", WEB))
        .ok();
    let hostname = env.inspect("web", "{{.Config.Hostname}}");
    let script = format!(
        "for i in $(seq 50); do busybox wget -q -O - http://{}:{port}/ && exit 0; sleep 0.1; done; exit 1",
        other.host_ip
    );
    let out = other.exec(&["sh", "-c", &script]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("hello-from-{hostname}\n")
    );

    // From a container to the other host: it has no route back to the
    // container's subnet, so the answer proves the masquerade.
    let dir = env.path("www");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "from-the-other-host\n").unwrap();
    let server = other
        .exec(&[
            "busybox",
            "httpd",
            "-f",
            "-p",
            &format!("{}:8080", other.ip),
            "-h",
            dir.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    other.children.push(server);
    let got = fetch_from(&env, &[], &format!("http://{}:8080/", other.ip));
    assert_eq!(got, "from-the-other-host\n");

    // The embedded DNS forwards names it does not know to --dns servers.
    let python = std::fs::canonicalize("/usr/bin/python3").unwrap();
    let dns = other
        .exec(&[python.to_str().unwrap(), "-c", FAKE_DNS])
        .spawn()
        .unwrap();
    other.children.push(dns);
    env.berth(&["network", "create", "fwd"]).ok();
    let script = "for i in $(seq 50); do nslookup somewhere.example 2>/dev/null | grep -q 192.0.2.99 && exit 0; sleep 0.1; done; exit 1";
    env.sh(&["--network", "fwd", "--dns", &other.ip], script)
        .ok();
}

#[test]
fn containers_recorded_before_networks_still_start() {
    let env = Env::with_busybox();
    env.berth(&[
        "create",
        "--name",
        "old",
        "--network",
        "none",
        "busybox",
        "echo",
        "still-runs",
    ])
    .ok();
    let id = env.inspect("old", "{{.Id}}");
    // What an earlier berth wrote: a network entry without an id.
    let db = berth_store::Db::open(&env.root().join("berth.db")).unwrap();
    db.update_container(&id, |record| {
        let mut c: serde_json::Value = serde_json::from_str(record).unwrap();
        c["NetworkSettings"] = serde_json::json!({"Networks": {"none": {}}});
        // A whole record serves as its own listing.
        Ok((c.to_string(), c.to_string()))
    })
    .unwrap();
    assert_eq!(env.berth(&["start", "-a", "old"]).ok(), "still-runs\n");
}

/// Asks 127.0.0.11 over TCP for NAME's A record, from inside namespace PID;
/// prints the addresses answered.
const TCP_QUERY: &str = r#"
import socket, struct, sys
name = sys.argv[1]
q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\x00\x01\x00\x01"
s = socket.create_connection(("127.0.0.11", 53), timeout=5)
s.sendall(struct.pack(">H", len(q)) + q)
n = struct.unpack(">H", s.recv(2))[0]
r = b""
while len(r) < n:
    r += s.recv(n - len(r))
count = struct.unpack(">H", r[6:8])[0]
print(" ".join(".".join(str(b) for b in r[len(r) - 16 * i + 12:len(r) - 16 * i + 16]) for i in range(count, 0, -1)))
"#;

#[test]
fn the_embedded_dns_answers_over_tcp_too() {
    let env = Env::with_busybox();
    env.berth(&["network", "create", "tcpnet"]).ok();
    for name in ["db", "asker"] {
        env.berth(&[
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "tcpnet",
            "busybox",
            "sleep",
            "60",
        ])
        .ok();
    }
    let db_ip = env.inspect(
        "db",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
    );
    let pid = env.inspect("asker", "{{.State.Pid}}");
    let out = std::process::Command::new("nsenter")
        .args([
            &format!("--net=/proc/{pid}/ns/net"),
            "python3",
            "-c",
            TCP_QUERY,
            "db",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), db_ip);
}

/// A bridge and its subnet are one thing on the host: a second store
/// that finds another store's bridge under its default name refuses
/// (nothing made), and with a bridge of its own both stores publish ports
/// that answer.
#[test]
fn two_stores_share_a_host() {
    let a = Env::with_busybox();
    let b = Env::with_busybox();
    let port = common::registry::free_port();
    a.berth(&web(
        "in-a",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        &serving("from-a"),
    ))
    .ok();
    // b told to use a's bridge: refused, with what to do.
    let r = b.output({
        let mut c = b.cmd(&["run", "--rm", "busybox", "true"]);
        c.env("BERTH_BRIDGE", &a.bridge);
        c
    });
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("the bridge {} is another berth store's", a.bridge)),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--bridge NAME"), "{}", r.stderr);
    assert_eq!(b.berth(&["ps", "-aq"]).ok(), "");
    // Its own bridge: both answer.
    let port_b = common::registry::free_port();
    b.berth(&web(
        "in-b",
        &format!("127.0.0.1:{port_b}:80"),
        "busybox",
        &serving("from-b"),
    ))
    .ok();
    assert_eq!(http_get("127.0.0.1", port), "from-a\n");
    assert_eq!(http_get("127.0.0.1", port_b), "from-b\n");
    let subnet = |e: &Env| {
        e.berth(&[
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Subnet}}",
            "bridge",
        ])
        .ok()
    };
    assert_ne!(subnet(&a), subnet(&b));
    // A device someone else made under the name is not taken over either.
    let foreign = format!("bf-{}", &b.bridge[3..]);
    assert!(std::process::Command::new("ip")
        .args(["link", "add", &foreign, "type", "bridge"])
        .status()
        .unwrap()
        .success());
    let c = Env::with_busybox();
    let r = c.output({
        let mut cmd = c.cmd(&["run", "--rm", "busybox", "true"]);
        cmd.env("BERTH_BRIDGE", &foreign);
        cmd
    });
    let _ = std::process::Command::new("ip")
        .args(["link", "del", &foreign])
        .status();
    assert_eq!(r.code, 125, "{}", r.stderr);
    assert!(
        r.stderr.contains("already exists and is not berth's"),
        "{}",
        r.stderr
    );
    let r = b.berth(&[
        "network",
        "create",
        "-o",
        &format!("com.docker.network.bridge.name={}", a.bridge),
        "takeover",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
    assert!(!b.berth(&["network", "ls"]).ok().contains("takeover"));
}

/// A berth killed while it made a network leaves a bridge marked as its
/// store's that no network records: garbage collection (here `system
/// prune`) removes it, and leaves the store's recorded bridges alone.
#[test]
fn a_bridge_no_network_records_is_collected() {
    let env = Env::with_busybox();
    env.berth(&["network", "create", "kept"]).ok();
    env.berth(&[
        "run",
        "-d",
        "--name",
        "on-kept",
        "--network",
        "kept",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    let kept = env
        .berth(&[
            "network",
            "inspect",
            "-f",
            "{{index .Options \"com.docker.network.bridge.name\"}}",
            "kept",
        ])
        .ok()
        .trim()
        .to_string();
    let orphan = format!("bo-{}", &env.bridge[3..]);
    let ip = |args: &[&str]| {
        assert!(std::process::Command::new("ip")
            .args(args)
            .status()
            .unwrap()
            .success())
    };
    ip(&["link", "add", &orphan, "type", "bridge"]);
    ip(&[
        "link",
        "set",
        &orphan,
        "alias",
        &format!("berth {}", env.root().display()),
    ]);
    ip(&["addr", "add", "10.251.7.1/24", "dev", &orphan]);
    env.berth(&["system", "prune", "-f"]).ok();
    assert!(!berth_net::link::exists(&orphan), "{orphan} is still there");
    // In use: the network, its bridge and the default one stay.
    assert!(berth_net::link::exists(&kept));
    assert!(berth_net::link::exists(&env.bridge));
    assert_eq!(env.inspect("on-kept", "{{.State.Status}}"), "running");
}

/// berth, docker (where an engine answers) and podman on one host: each
/// publishes a port that answers on 127.0.0.1, and each one's containers
/// reach the others' by address: no engine's bridge or rules shadow another's.
#[test]
fn berth_beside_docker_and_podman() {
    let env = Env::with_busybox();
    let get =
        |addr: &str| format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {addr} 80 | tail -1");
    let port = common::registry::free_port();
    env.berth(&web(
        "web",
        &format!("127.0.0.1:{port}:80"),
        "busybox",
        &serving("from-berth"),
    ))
    .ok();
    let berth_ip = env.inspect("web", "{{.NetworkSettings.IPAddress}}");
    let podman = common::Podman::new(&env);
    let podman_port = common::registry::free_port();
    podman.run(&web(
        "web",
        &format!("127.0.0.1:{podman_port}:80"),
        "IMAGE",
        &serving("from-podman"),
    ));
    let podman_ip = podman.run(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"]);
    assert_eq!(http_get("127.0.0.1", port), "from-berth\n");
    assert_eq!(http_get("127.0.0.1", podman_port), "from-podman\n");
    let from_berth = |addr: &str| {
        env.berth(&["run", "--rm", "busybox", "sh", "-c", &get(addr)])
            .ok()
            .trim()
            .to_string()
    };
    assert_eq!(from_berth(&podman_ip), "from-podman");
    assert_eq!(
        podman.run(&["run", "--rm", "IMAGE", "sh", "-c", &get(&berth_ip)]),
        "from-berth"
    );
    let Some(docker) = common::Docker::new(&env) else {
        eprintln!("docker part skipped: no docker engine answers here");
        return;
    };
    let docker_port = common::registry::free_port();
    docker.run(&web(
        "DOCKER-web",
        &format!("127.0.0.1:{docker_port}:80"),
        "IMAGE",
        &serving("from-docker"),
    ));
    let docker_ip = docker.run(&[
        "inspect",
        "-f",
        "{{.NetworkSettings.IPAddress}}",
        "DOCKER-web",
    ]);
    assert_eq!(http_get("127.0.0.1", docker_port), "from-docker\n");
    assert_eq!(http_get("127.0.0.1", port), "from-berth\n");
    assert_eq!(http_get("127.0.0.1", podman_port), "from-podman\n");
    assert_eq!(from_berth(&docker_ip), "from-docker");
    assert_eq!(
        docker.run(&["run", "--rm", "IMAGE", "sh", "-c", &get(&berth_ip)]),
        "from-berth"
    );
}

/// `run -d --name NAME -p PUBLISH IMAGE sh -c SCRIPT`, as every engine's client takes it.
fn web<'a>(name: &'a str, publish: &'a str, image: &'a str, script: &'a str) -> [&'a str; 10] {
    [
        "run", "-d", "--name", name, "-p", publish, image, "sh", "-c", script,
    ]
}

/// A script that serves `text` at / on port 80 (busybox httpd).
fn serving(text: &str) -> String {
    format!("echo {text} > /i; mkdir /w; mv /i /w/index.html; exec httpd -f -p 80 -h /w")
}
