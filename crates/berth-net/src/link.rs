//! Network devices over netlink (no `ip` process on the way): a network's
//! bridge, and the veth pair that plugs a container's namespace into it
//! (with an IPv6 address too on a network that has an IPv6 subnet).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::ipam::{Subnet, Subnet6};
use crate::netlink::{self, Netlink};
use crate::NetError;

/// Runs netlink requests in the calling thread's namespace; an error says
/// what was being done.
fn with_netlink<T>(
    what: impl std::fmt::Display,
    f: impl FnOnce(&mut Netlink) -> std::io::Result<T>,
) -> Result<T, NetError> {
    Netlink::new()
        .and_then(|mut nl| f(&mut nl))
        .map_err(|e| NetError(format!("{what}: {e}")))
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
    with_netlink(format_args!("making the bridge {name}"), |nl| {
        nl.add_bridge(name, owner)?;
        let i = netlink::index(name)?;
        nl.add_address(i, gateway.into(), subnet.prefix, false, false)?;
        nl.set_up(i)
    })
    .inspect_err(|_| {
        let _ = delete(name);
    })
}

/// Gives bridge `name` its IPv6 gateway address (a network made with
/// `--ipv6`); idempotent.
pub fn ensure_ipv6(name: &str, gateway: Ipv6Addr, subnet: Subnet6) -> Result<(), NetError> {
    enable_ipv6(&format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"))?;
    with_netlink(format_args!("giving {name} its IPv6 address"), |nl| {
        nl.add_address(
            netlink::index(name)?,
            gateway.into(),
            subnet.prefix,
            true,
            true,
        )
    })
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

/// The devices marked as `owner`'s (by their interface alias).
pub fn owned_by(owner: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/class/net") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| self::owner(name).as_deref() == Some(owner))
        .collect()
}

/// Removes bridge `name` that no network records, with the rules made for
/// the subnet of its address (internal or not: which, nothing recorded).
pub fn remove_unrecorded(name: &str) -> Result<(), NetError> {
    if let Some((gateway, prefix)) = ipv4_of(name) {
        let subnet = crate::ipam::Subnet::containing(gateway, prefix);
        for internal in [false, true] {
            crate::firewall::remove(name, subnet, internal);
        }
    }
    delete(name)
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
                with_netlink(format_args!("marking the bridge {name}"), |nl| {
                    nl.set_alias(netlink::index(name)?, owner)
                })
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
    with_netlink(format_args!("deleting {name}"), |nl| {
        nl.delete(netlink::index(name)?)
    })
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
    let ns = crate::open_netns(netns)?;
    with_netlink(
        format_args!("plugging {} into {}", e.host_if, e.bridge),
        |nl| {
            nl.add_veth(
                e.host_if,
                netlink::index(e.bridge)?,
                e.ifname,
                ns.as_raw_fd(),
            )?;
            nl.set_up(netlink::index(e.host_if)?)
        },
    )?;
    let inside = Inside {
        ifname: e.ifname.to_string(),
        mac: netlink::parse_mac(e.mac)
            .ok_or_else(|| NetError(format!("{}: not a MAC address", e.mac)))?,
        addresses: std::iter::once((IpAddr::V4(e.address), e.subnet.prefix, false))
            .chain(e.link_local.iter().map(|ll| (IpAddr::V4(*ll), 16, false)))
            // nodad: the address is leased, so duplicate detection would only
            // hold it back (tentative) for a second or two.
            .chain(
                e.address6
                    .map(|(ip6, s6)| (IpAddr::V6(ip6), s6.prefix, true)),
            )
            .collect(),
        routes: e
            .default_route
            .map(IpAddr::V4)
            .into_iter()
            .chain(e.default_route6.map(IpAddr::V6))
            .collect(),
    };
    crate::in_netns(netns, move || inside.configure()).inspect_err(|_| {
        let _ = delete(e.host_if);
    })
}

/// What a container's interface gets inside its namespace.
struct Inside {
    ifname: String,
    mac: [u8; 6],
    /// Address, prefix length, and whether duplicate detection is skipped.
    addresses: Vec<(IpAddr, u8, bool)>,
    /// Default routes' gateways.
    routes: Vec<IpAddr>,
}

impl Inside {
    fn configure(self) -> Result<(), NetError> {
        with_netlink(format_args!("configuring {}", self.ifname), |nl| {
            let i = netlink::index(&self.ifname)?;
            nl.set_mac(i, self.mac)?;
            let (first, rest) = self.addresses.split_first().expect("an IPv4 address");
            nl.add_address(i, first.0, first.1, first.2, false)?;
            nl.set_up(i)?;
            for (ip, prefix, nodad) in rest {
                nl.add_address(i, *ip, *prefix, *nodad, false)?;
            }
            for gw in &self.routes {
                nl.add_default_route(*gw, i)?;
            }
            Ok(())
        })
    }
}

/// Takes interface `ifname` out of the namespace at `netns` (its veth peer
/// on the host goes with it).
pub fn detach(netns: &Path, ifname: &str) -> Result<(), NetError> {
    let ifname = ifname.to_string();
    crate::in_netns(netns, move || {
        with_netlink(format_args!("deleting {ifname}"), |nl| {
            nl.delete(netlink::index(&ifname)?)
        })
    })
}

/// Turns on IPv4 forwarding, which NAT to and from containers needs.
pub fn enable_forwarding() -> Result<(), NetError> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(path).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    std::fs::write(path, "1").map_err(|e| NetError(format!("enabling IP forwarding: {e}")))
}
