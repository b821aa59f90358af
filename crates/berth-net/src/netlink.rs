//! rtnetlink from berth itself: links, addresses and routes without an `ip`
//! process. A [`Netlink`] talks to the network namespace of the thread that
//! made it.

use std::io;
use std::net::IpAddr;
use std::os::fd::RawFd;

use netlink_packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};

pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn new() -> io::Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// Sends one request and waits for its acknowledgement.
    fn request(&mut self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut nl = NetlinkMessage::from(msg);
        nl.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        nl.header.sequence_number = self.seq;
        nl.finalize();
        let mut buf = vec![0u8; nl.header.length as usize];
        nl.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        let mut reply = vec![0u8; 8192];
        loop {
            let n = self.socket.recv(&mut &mut reply[..], 0)?;
            let mut offset = 0;
            while offset < n {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&reply[offset..n])
                    .map_err(|e| io::Error::other(format!("netlink: {e}")))?;
                let len = msg.header.length as usize;
                if msg.header.sequence_number == self.seq {
                    if let NetlinkPayload::Error(e) = msg.payload {
                        return match e.code {
                            None => Ok(()),
                            Some(_) => Err(e.to_io()),
                        };
                    }
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }

    fn new_link(&mut self, msg: LinkMessage) -> io::Result<()> {
        self.request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
    }

    fn set_link(&mut self, msg: LinkMessage) -> io::Result<()> {
        self.request(RouteNetlinkMessage::SetLink(msg), 0)
    }

    /// `ip link add NAME type bridge` (with an alias).
    pub fn add_bridge(&mut self, name: &str, alias: &str) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes = vec![
            LinkAttribute::IfName(name.into()),
            LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]),
        ];
        self.new_link(msg)?;
        self.set_alias(index(name)?, alias)
    }

    /// `ip link add HOST master BRIDGE type veth peer name PEER netns NS`.
    pub fn add_veth(
        &mut self,
        host: &str,
        bridge: u32,
        peer: &str,
        netns: RawFd,
    ) -> io::Result<()> {
        let mut peer_msg = LinkMessage::default();
        peer_msg.attributes = vec![
            LinkAttribute::IfName(peer.into()),
            LinkAttribute::NetNsFd(netns),
        ];
        let mut msg = LinkMessage::default();
        msg.attributes = vec![
            LinkAttribute::IfName(host.into()),
            LinkAttribute::Controller(bridge),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
            ]),
        ];
        self.new_link(msg)
    }

    pub fn set_alias(&mut self, index: u32, alias: &str) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes = vec![LinkAttribute::IfAlias(alias.into())];
        self.set_link(msg)
    }

    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.set_link(msg)
    }

    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes = vec![LinkAttribute::Address(mac.to_vec())];
        self.set_link(msg)
    }

    pub fn delete(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.request(RouteNetlinkMessage::DelLink(msg), 0)
    }

    /// `ip addr add|replace IP/PREFIX dev INDEX [nodad]`.
    pub fn add_address(
        &mut self,
        index: u32,
        ip: IpAddr,
        prefix: u8,
        nodad: bool,
        replace: bool,
    ) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = family(ip);
        msg.header.prefix_len = prefix;
        msg.header.index = index;
        if nodad {
            msg.header.flags = AddressHeaderFlags::Nodad;
        }
        msg.attributes = vec![AddressAttribute::Local(ip), AddressAttribute::Address(ip)];
        if let IpAddr::V4(v4) = ip {
            // The broadcast address `ip addr add` computes for an IPv4 subnet.
            let host_bits = 32 - u32::from(prefix.min(32));
            let mask = if host_bits == 32 {
                0
            } else {
                u32::MAX << host_bits
            };
            let bcast = (u32::from(v4) & mask) | !mask;
            if prefix < 31 {
                msg.attributes
                    .push(AddressAttribute::Broadcast(bcast.into()));
            }
        }
        let flags = if replace {
            NLM_F_CREATE | NLM_F_REPLACE
        } else {
            NLM_F_CREATE | NLM_F_EXCL
        };
        self.request(RouteNetlinkMessage::NewAddress(msg), flags)
    }

    /// `ip route add default via GATEWAY dev INDEX`.
    pub fn add_default_route(&mut self, gateway: IpAddr, index: u32) -> io::Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = family(gateway);
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        let gw = match gateway {
            IpAddr::V4(v4) => RouteAddress::Inet(v4),
            IpAddr::V6(v6) => RouteAddress::Inet6(v6),
        };
        msg.attributes = vec![RouteAttribute::Gateway(gw), RouteAttribute::Oif(index)];
        self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }
}

fn family(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// A device's index in the calling thread's namespace.
pub fn index(name: &str) -> io::Result<u32> {
    let c =
        std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a plain lookup with a NUL-terminated name.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if i == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i)
    }
}

/// `aa:bb:cc:dd:ee:ff` as bytes.
pub fn parse_mac(mac: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = mac
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    parts.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac("02:42:ac:11:00:02"),
            Some([2, 0x42, 0xac, 0x11, 0, 2])
        );
        assert_eq!(parse_mac("02:42"), None);
        assert_eq!(parse_mac("zz:42:ac:11:00:02"), None);
    }

    /// A bridge, a veth into a fresh namespace, an address and a route, as
    /// `ip` would make them (needs root, as the tests have).
    #[test]
    fn links_addresses_and_routes_in_a_namespace() {
        let name = format!("btnl{}", std::process::id() % 100000);
        let mut nl = Netlink::new().unwrap();
        nl.add_bridge(&name, "berth-test").unwrap();
        let br = index(&name).unwrap();
        assert_eq!(
            std::fs::read_to_string(format!("/sys/class/net/{name}/ifalias"))
                .unwrap()
                .trim(),
            "berth-test"
        );
        nl.add_address(br, "10.251.7.1".parse().unwrap(), 24, false, false)
            .unwrap();
        nl.set_up(br).unwrap();
        // The same address again is refused, as `ip addr add` is.
        let again = nl.add_address(br, "10.251.7.1".parse().unwrap(), 24, false, false);
        assert_eq!(again.unwrap_err().raw_os_error(), Some(libc::EEXIST));
        nl.add_address(br, "10.251.7.1".parse().unwrap(), 24, false, true)
            .unwrap();

        let ns = tempfile::NamedTempFile::new().unwrap();
        let status = std::process::Command::new("unshare")
            .arg(format!("--net={}", ns.path().display()))
            .arg("true")
            .status()
            .unwrap();
        assert!(status.success());
        let nsfd = std::fs::File::open(ns.path()).unwrap();
        let host = format!("vtnl{}", std::process::id() % 100000);
        use std::os::fd::AsRawFd;
        nl.add_veth(&host, br, "eth0", nsfd.as_raw_fd()).unwrap();
        nl.set_up(index(&host).unwrap()).unwrap();
        assert_eq!(
            std::fs::read_link(format!("/sys/class/net/{host}/master"))
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy(),
            name
        );
        let inside = crate::in_netns(ns.path(), || {
            let mut nl = Netlink::new().map_err(|e| crate::NetError(e.to_string()))?;
            let i = index("eth0").map_err(|e| crate::NetError(e.to_string()))?;
            let r = (|| {
                nl.set_mac(i, [2, 0x42, 10, 251, 7, 2])?;
                nl.add_address(i, "10.251.7.2".parse().unwrap(), 24, false, false)?;
                nl.set_up(i)?;
                nl.add_default_route("10.251.7.1".parse().unwrap(), i)
            })();
            r.map_err(|e| crate::NetError(e.to_string()))?;
            let out = std::process::Command::new("ip")
                .args(["-o", "addr", "show", "eth0"])
                .output()
                .unwrap();
            let routes = std::process::Command::new("ip")
                .args(["route"])
                .output()
                .unwrap();
            Ok(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&routes.stdout)
            ))
        });
        let _ = nl.delete(br);
        drop(nsfd);
        let _ = std::process::Command::new("umount").arg(ns.path()).status();
        let inside = inside.unwrap();
        assert!(
            inside.contains("inet 10.251.7.2/24 brd 10.251.7.255"),
            "{inside}"
        );
        assert!(
            inside.contains("default via 10.251.7.1 dev eth0"),
            "{inside}"
        );
    }
}
