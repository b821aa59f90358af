//! Network devices, through iproute2's `ip -batch`: a network's bridge, and
//! the veth pair that plugs a container's namespace into it (with an IPv6
//! address too on a network that has an IPv6 subnet).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::ipam::{Subnet, Subnet6};
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

/// Makes bridge `name` with the gateway address, up, marked as `owner`'s
/// (a store's); an existing one must be `owner`'s already (see [`claim`]).
pub fn ensure_bridge(
    name: &str,
    gateway: Ipv4Addr,
    subnet: Subnet,
    owner: &str,
) -> Result<(), NetError> {
    if exists(name) {
        return claim(name, gateway, subnet, owner);
    }
    let script = format!(
        "link add name {name} type bridge\nlink set {name} alias \"{owner}\"\naddr add {gateway}/{} dev {name}\nlink set {name} up\n",
        subnet.prefix
    );
    ip_batch(None, &script).inspect_err(|_| {
        let _ = delete(name);
    })
}

/// Gives bridge `name` its IPv6 gateway address (a network made with
/// `--ipv6`); idempotent.
pub fn ensure_ipv6(name: &str, gateway: Ipv6Addr, subnet: Subnet6) -> Result<(), NetError> {
    enable_ipv6(&format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"))?;
    ip_batch(
        None,
        &format!(
            "addr replace {gateway}/{} dev {name} nodad\n",
            subnet.prefix
        ),
    )
}

/// Writes 0 to a `disable_ipv6` switch (of the namespace the calling
/// thread is in).
fn enable_ipv6(path: &str) -> Result<(), NetError> {
    if std::fs::read_to_string(path).is_ok_and(|v| v.trim() == "0") {
        return Ok(());
    }
    std::fs::write(path, "0").map_err(|e| NetError(format!("enabling IPv6 ({path}): {e}")))
}

/// The owner a bridge is marked with (its interface alias), if any.
pub fn owner(name: &str) -> Option<String> {
    let alias =
        std::fs::read_to_string(Path::new("/sys/class/net").join(name).join("ifalias")).ok()?;
    Some(alias.trim().to_string()).filter(|a| !a.is_empty())
}

/// A bridge and its subnet are one thing, on the whole host: an existing
/// bridge serves `owner` when it is marked as `owner`'s, or when it is
/// unmarked (made before bridges were) with `gateway` as its address, and
/// is then marked. Anyone else's bridge is refused, never given a second
/// subnet.
pub fn claim(name: &str, gateway: Ipv4Addr, subnet: Subnet, owner: &str) -> Result<(), NetError> {
    let mine = |o: &str| o == owner;
    match self::owner(name) {
        Some(o) if mine(&o) => Ok(()),
        Some(other) => Err(NetError(format!(
            "the bridge {name} is another berth store's ({other}): give this store a bridge of its own with --bridge NAME (or BERTH_BRIDGE)"
        ))),
        None => match ipv4_of(name) {
            Some((ip, prefix)) if ip == gateway && prefix == subnet.prefix => {
                ip_batch(None, &format!("link set {name} alias \"{owner}\"\n"))
            }
            Some((ip, prefix)) => Err(NetError(format!(
                "the device {name} already exists with address {ip}/{prefix}, not this store's {gateway}/{}: give this store another bridge with --bridge NAME (or BERTH_BRIDGE)",
                subnet.prefix
            ))),
            None => Err(NetError(format!(
                "the device {name} already exists and is not berth's: give this store another bridge with --bridge NAME (or BERTH_BRIDGE)"
            ))),
        },
    }
}

/// The first IPv4 address of device `name`, with its prefix length.
pub fn ipv4_of(name: &str) -> Option<(Ipv4Addr, u8)> {
    let mut addrs: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a list we free below; we read it only meanwhile.
    unsafe {
        if libc::getifaddrs(&mut addrs) != 0 {
            return None;
        }
        let mut found = None;
        let mut cur = addrs;
        while !cur.is_null() {
            let a = &*cur;
            cur = a.ifa_next;
            if a.ifa_addr.is_null() || a.ifa_netmask.is_null() {
                continue;
            }
            if (*a.ifa_addr).sa_family as i32 != libc::AF_INET {
                continue;
            }
            let ifname = std::ffi::CStr::from_ptr(a.ifa_name).to_string_lossy();
            if ifname != name {
                continue;
            }
            let addr = &*(a.ifa_addr as *const libc::sockaddr_in);
            let mask = &*(a.ifa_netmask as *const libc::sockaddr_in);
            let ip = Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr));
            let prefix = u32::from_be(mask.sin_addr.s_addr).count_ones() as u8;
            found = Some((ip, prefix));
            break;
        }
        libc::freeifaddrs(addrs);
        found
    }
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
    /// Link-local addresses besides (`--link-local-ip`), in 169.254/16.
    pub link_local: &'a [Ipv4Addr],
    /// The IPv6 address on a network with an IPv6 subnet, and the default
    /// IPv6 route's gateway when this is the route's network.
    pub address6: Option<(Ipv6Addr, Subnet6)>,
    pub default_route6: Option<Ipv6Addr>,
}

/// Plugs the namespace at `netns` into a bridge: a veth pair whose inner
/// end is configured inside. Nothing is left behind when it fails.
pub fn attach(netns: &Path, e: &Endpoint<'_>) -> Result<(), NetError> {
    if e.address6.is_some() {
        // The interface takes the namespace's default as it is made there.
        crate::in_netns(netns, || {
            enable_ipv6("/proc/sys/net/ipv6/conf/all/disable_ipv6")?;
            enable_ipv6("/proc/sys/net/ipv6/conf/default/disable_ipv6")
        })?;
    }
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
    for ll in e.link_local {
        inside.push_str(&format!("addr add {ll}/16 dev {}\n", e.ifname));
    }
    if let Some((ip6, subnet6)) = e.address6 {
        // nodad: the address is leased, so duplicate detection would only
        // hold it back (tentative) for a second or two.
        inside.push_str(&format!(
            "addr add {ip6}/{} dev {} nodad\n",
            subnet6.prefix, e.ifname
        ));
    }
    if let Some(gw) = e.default_route {
        inside.push_str(&format!("route add default via {gw} dev {}\n", e.ifname));
    }
    if let Some(gw6) = e.default_route6 {
        inside.push_str(&format!("route add default via {gw6} dev {}\n", e.ifname));
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
