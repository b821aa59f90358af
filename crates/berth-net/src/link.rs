//! Network devices, through iproute2's `ip -batch`: a network's bridge, and
//! the veth pair that plugs a container's namespace into it.

use std::net::Ipv4Addr;
use std::path::Path;

use crate::ipam::Subnet;
use crate::NetError;

/// Runs `ip -batch -` with `script`, in the namespace at `netns` when given
/// (a thread enters it, and the `ip` it spawns is born there).
fn ip_batch(netns: Option<&Path>, script: &str) -> Result<(), NetError> {
    let run = |script: String| crate::run_with_input("ip", &["-batch", "-"], &script, "iproute2");
    let Some(netns) = netns else {
        return run(script.to_string());
    };
    let script = script.to_string();
    crate::in_netns(netns, move || run(script))
}

pub fn exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Makes bridge `name` with the gateway address, up; an existing one is
/// left as it is.
pub fn ensure_bridge(name: &str, gateway: Ipv4Addr, subnet: Subnet) -> Result<(), NetError> {
    if exists(name) {
        return Ok(());
    }
    let script = format!(
        "link add name {name} type bridge\naddr add {gateway}/{} dev {name}\nlink set {name} up\n",
        subnet.prefix
    );
    ip_batch(None, &script).inspect_err(|_| {
        let _ = delete(name);
    })
}

/// Deletes a device (a bridge, or a veth with its peer); missing is fine.
pub fn delete(name: &str) -> Result<(), NetError> {
    if !exists(name) {
        return Ok(());
    }
    ip_batch(None, &format!("link del {name}\n"))
}

/// One container interface on a network.
pub struct Endpoint<'a> {
    pub bridge: &'a str,
    /// The host end's name (`veth...`).
    pub host_if: &'a str,
    /// The name inside the container (`eth0`, `eth1`, ...).
    pub ifname: &'a str,
    pub address: Ipv4Addr,
    pub subnet: Subnet,
    pub mac: &'a str,
    /// The default route through this network's gateway, when it is the
    /// container's first network and not internal.
    pub default_route: Option<Ipv4Addr>,
}

/// Plugs the namespace at `netns` into a bridge: a veth pair whose inner
/// end is configured inside. Nothing is left behind when it fails.
pub fn attach(netns: &Path, e: &Endpoint<'_>) -> Result<(), NetError> {
    let ns = netns.display();
    let host = format!(
        "link add name {host} master {bridge} type veth peer name {ifname} netns {ns}\nlink set {host} up\n",
        host = e.host_if,
        bridge = e.bridge,
        ifname = e.ifname,
    );
    ip_batch(None, &host)?;
    let mut inside = format!(
        "link set {i} address {mac}\naddr add {ip}/{prefix} dev {i}\nlink set {i} up\n",
        i = e.ifname,
        mac = e.mac,
        ip = e.address,
        prefix = e.subnet.prefix
    );
    if let Some(gw) = e.default_route {
        inside.push_str(&format!("route add default via {gw} dev {}\n", e.ifname));
    }
    ip_batch(Some(netns), &inside).inspect_err(|_| {
        let _ = delete(e.host_if);
    })
}

/// Takes interface `ifname` out of the namespace at `netns` (its veth peer
/// on the host goes with it).
pub fn detach(netns: &Path, ifname: &str) -> Result<(), NetError> {
    ip_batch(Some(netns), &format!("link del {ifname}\n"))
}

/// Turns on IPv4 forwarding, which NAT to and from containers needs.
pub fn enable_forwarding() -> Result<(), NetError> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(path).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    std::fs::write(path, "1").map_err(|e| NetError(format!("enabling IP forwarding: {e}")))
}
