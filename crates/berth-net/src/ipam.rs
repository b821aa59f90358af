//! Address management: IPv4 subnets, the pools networks take them from
//! (skipping what the host already routes), and the next free address;
//! IPv6 subnets of networks made with `--ipv6`.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 subnet, always held by its network address (`172.18.0.0/16`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        }
    }

    /// The subnet of `ip/prefix` (host bits cleared).
    pub fn of(ip: Ipv4Addr, prefix: u8) -> Subnet {
        Subnet {
            network: Ipv4Addr::from(u32::from(ip) & Self::mask(prefix)),
            prefix,
        }
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask(self.prefix) == u32::from(self.network)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.contains(other.network) || other.contains(self.network)
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !Self::mask(self.prefix))
    }

    /// The first host address: docker's default gateway.
    /// The subnet of `prefix` bits that holds `ip`.
    pub fn containing(ip: Ipv4Addr, prefix: u8) -> Subnet {
        Subnet {
            network: Ipv4Addr::from(u32::from(ip) & Self::mask(prefix)),
            prefix,
        }
    }

    pub fn first_host(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    /// The lowest address in the subnet that is neither the network, the
    /// broadcast address, the gateway nor `taken`.
    pub fn next_free(&self, gateway: Ipv4Addr, taken: &[Ipv4Addr]) -> Option<Ipv4Addr> {
        let (first, last) = (u32::from(self.network) + 1, u32::from(self.broadcast()));
        (first..last)
            .map(Ipv4Addr::from)
            .find(|ip| *ip != gateway && !taken.contains(ip))
    }

    /// Whether `ip` may be handed to a container: inside, and not the
    /// network or broadcast address.
    pub fn usable(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip) && ip != self.network && ip != self.broadcast()
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = String;

    /// `A.B.C.D/N`; an address with host bits set is refused, as docker does.
    fn from_str(s: &str) -> Result<Subnet, String> {
        let bad = || format!("invalid subnet {s}: expected an IPv4 CIDR such as 172.20.0.0/16");
        let (ip, prefix) = s.split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 30 {
            return Err(format!(
                "invalid subnet {s}: a /{prefix} leaves no room for containers"
            ));
        }
        let subnet = Subnet::of(ip, prefix);
        if subnet.network != ip {
            return Err(format!("invalid subnet {s}: it should be {subnet}"));
        }
        Ok(subnet)
    }
}

/// An IPv6 subnet, held by its network address (`fd00:1::/64`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet6 {
    pub network: Ipv6Addr,
    pub prefix: u8,
}

impl Subnet6 {
    fn mask(prefix: u8) -> u128 {
        if prefix == 0 {
            0
        } else {
            u128::MAX << (128 - prefix)
        }
    }

    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & Self::mask(self.prefix) == u128::from(self.network)
    }

    pub fn overlaps(&self, other: &Subnet6) -> bool {
        self.contains(other.network) || other.contains(self.network)
    }

    /// The first host address: docker's default gateway.
    pub fn first_host(&self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.network) + 1)
    }

    /// Whether `ip` may be handed to a container: inside, and not the
    /// subnet-router anycast address (the network's own).
    pub fn usable(&self, ip: Ipv6Addr) -> bool {
        self.contains(ip) && ip != self.network
    }

    /// The lowest address after the network's that is neither the gateway
    /// nor `taken` (among the first 65,536: enough for any bridge).
    pub fn next_free(&self, gateway: Ipv6Addr, taken: &[Ipv6Addr]) -> Option<Ipv6Addr> {
        let size = 1u128
            .checked_shl(128 - u32::from(self.prefix))
            .unwrap_or(u128::MAX);
        (1..size.min(1 << 16))
            .map(|i| Ipv6Addr::from(u128::from(self.network) + i))
            .find(|ip| *ip != gateway && !taken.contains(ip))
    }

    /// A random unique local /64 (RFC 4193): for `--ipv6` without `--subnet`.
    pub fn random_ula() -> Subnet6 {
        let mut bits = [0u8; 16];
        bits[0] = 0xfd;
        // SAFETY: getrandom fills the 7 bytes it is given.
        unsafe { libc::getrandom(bits[1..8].as_mut_ptr().cast(), 7, 0) };
        Subnet6 {
            network: Ipv6Addr::from(bits),
            prefix: 64,
        }
    }
}

impl fmt::Display for Subnet6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet6 {
    type Err = String;

    /// `ADDR/N`; an address with host bits set is refused, as docker does.
    fn from_str(s: &str) -> Result<Subnet6, String> {
        let bad = || format!("invalid subnet {s}: expected an IPv6 CIDR such as fd00:1::/64");
        let (ip, prefix) = s.split_once('/').ok_or_else(bad)?;
        let ip: Ipv6Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 126 {
            return Err(format!(
                "invalid subnet {s}: a /{prefix} leaves no room for containers"
            ));
        }
        let subnet = Subnet6 {
            network: Ipv6Addr::from(u128::from(ip) & Subnet6::mask(prefix)),
            prefix,
        };
        if subnet.network != ip {
            return Err(format!("invalid subnet {s}: it should be {subnet}"));
        }
        Ok(subnet)
    }
}

/// Where new networks take their subnets: `base` cut into `/size` pieces
/// (dockerd's `--default-address-pool base=...,size=...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    pub base: Subnet,
    pub size: u8,
}

impl FromStr for Pool {
    type Err = String;

    fn from_str(s: &str) -> Result<Pool, String> {
        let (mut base, mut size) = (None, None);
        for part in s.split(',') {
            match part.split_once('=') {
                Some(("base", v)) => base = Some(v.parse::<Subnet>()?),
                Some(("size", v)) => {
                    size = Some(
                        v.parse::<u8>()
                            .map_err(|_| format!("invalid pool size {v:?}"))?,
                    )
                }
                _ => {
                    return Err(format!(
                        "invalid address pool {s:?}: expected base=CIDR,size=N"
                    ))
                }
            }
        }
        match (base, size) {
            (Some(base), Some(size)) if size >= base.prefix && size <= 30 => {
                Ok(Pool { base, size })
            }
            (Some(_), Some(size)) => Err(format!(
                "invalid address pool {s:?}: size /{size} must be within the base and at most /30"
            )),
            _ => Err(format!(
                "invalid address pool {s:?}: expected base=CIDR,size=N"
            )),
        }
    }
}

/// docker's default pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s.
pub fn default_pools() -> Vec<Pool> {
    let mut pools: Vec<Pool> = (17..=31)
        .map(|b| Pool {
            base: Subnet::of(Ipv4Addr::new(172, b, 0, 0), 16),
            size: 16,
        })
        .collect();
    pools.push(Pool {
        base: Subnet::of(Ipv4Addr::new(192, 168, 0, 0), 16),
        size: 20,
    });
    pools
}

/// The first subnet of the pools that overlaps none of `in_use`.
pub fn pick_subnet(pools: &[Pool], in_use: &[Subnet]) -> Option<Subnet> {
    pools.iter().find_map(|p| {
        let step = 1u64 << (32 - p.size);
        let count = 1u64 << (p.size - p.base.prefix);
        (0..count)
            .map(|i| Subnet {
                network: Ipv4Addr::from((u64::from(u32::from(p.base.network)) + i * step) as u32),
                prefix: p.size,
            })
            .find(|s| !in_use.iter().any(|u| u.overlaps(s)))
    })
}

/// The subnets the host routes (its IPv4 routing table, default route
/// left out): a new network must not shadow any of them.
pub fn host_routes() -> Vec<Subnet> {
    let table = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            // The kernel prints each address as the u32 it holds in memory:
            // its native-endian bytes are the address in network order.
            let mask = u32::from_be_bytes(mask.to_ne_bytes());
            (mask != 0)
                .then(|| Subnet::of(Ipv4Addr::from(dest.to_ne_bytes()), mask.count_ones() as u8))
        })
        .collect()
}

/// docker's MAC address for a container address: 02:42 and the four octets.
pub fn mac_for(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:42:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_parse_and_refuse_host_bits() {
        let s: Subnet = "172.20.0.0/16".parse().unwrap();
        assert_eq!(s.to_string(), "172.20.0.0/16");
        assert_eq!(s.first_host(), Ipv4Addr::new(172, 20, 0, 1));
        assert_eq!(s.broadcast(), Ipv4Addr::new(172, 20, 255, 255));
        let e = "172.20.1.0/16".parse::<Subnet>().unwrap_err();
        assert!(e.contains("it should be 172.20.0.0/16"), "{e}");
        assert!("nonsense".parse::<Subnet>().is_err());
        assert!("10.0.0.0/31".parse::<Subnet>().is_err());
    }

    #[test]
    fn next_free_skips_gateway_and_taken() {
        let s: Subnet = "10.1.0.0/29".parse().unwrap();
        let gw = s.first_host();
        assert_eq!(s.next_free(gw, &[]), Some(Ipv4Addr::new(10, 1, 0, 2)));
        let taken: Vec<Ipv4Addr> = (2..=6).map(|i| Ipv4Addr::new(10, 1, 0, i)).collect();
        assert_eq!(
            s.next_free(gw, &taken),
            None,
            "the broadcast is never handed out"
        );
        assert!(!s.usable(Ipv4Addr::new(10, 1, 0, 7)));
        assert!(s.usable(Ipv4Addr::new(10, 1, 0, 5)));
    }

    #[test]
    fn pools_skip_routed_subnets() {
        let pools = default_pools();
        let docker0: Subnet = "172.17.0.0/16".parse().unwrap();
        assert_eq!(
            pick_subnet(&pools, &[docker0]).unwrap().to_string(),
            "172.18.0.0/16"
        );
        let all16: Vec<Subnet> = (17..=31)
            .map(|b| Subnet::of(Ipv4Addr::new(172, b, 0, 0), 16))
            .collect();
        assert_eq!(
            pick_subnet(&pools, &all16).unwrap().to_string(),
            "192.168.0.0/20"
        );
        let small: Pool = "base=10.9.0.0/24,size=26".parse().unwrap();
        let first: Subnet = "10.9.0.0/26".parse().unwrap();
        assert_eq!(
            pick_subnet(&[small], &[first]).unwrap().to_string(),
            "10.9.0.64/26"
        );
        assert!("base=10.9.0.0/24,size=20".parse::<Pool>().is_err());
    }

    #[test]
    fn routes_are_read_as_ip_shows_them() {
        let shown = std::process::Command::new("ip")
            .args(["-4", "route", "show", "table", "main"])
            .output();
        let Ok(shown) = shown else { return };
        let shown = String::from_utf8_lossy(&shown.stdout).to_string();
        for r in host_routes() {
            let text = if r.prefix == 32 {
                r.network.to_string()
            } else {
                r.to_string()
            };
            assert!(shown.contains(&text), "{text} not in {shown}");
        }
    }

    #[test]
    fn ipv6_subnets_parse_and_hand_out_addresses() {
        let s: Subnet6 = "fd00:dbb::/64".parse().unwrap();
        assert_eq!(s.to_string(), "fd00:dbb::/64");
        let gw = s.first_host();
        assert_eq!(gw.to_string(), "fd00:dbb::1");
        assert_eq!(s.next_free(gw, &[]).unwrap().to_string(), "fd00:dbb::2");
        let two: Ipv6Addr = "fd00:dbb::2".parse().unwrap();
        assert_eq!(s.next_free(gw, &[two]).unwrap().to_string(), "fd00:dbb::3");
        assert!(s.usable("fd00:dbb::33".parse().unwrap()));
        assert!(!s.usable("fd00:dbc::33".parse().unwrap()));
        assert!(!s.usable(s.network));
        let e = "fd00:dbb::1/64".parse::<Subnet6>().unwrap_err();
        assert!(e.contains("it should be fd00:dbb::/64"), "{e}");
        assert!("10.0.0.0/8".parse::<Subnet6>().is_err());
        assert!("fd00::/127".parse::<Subnet6>().is_err());
        let tiny: Subnet6 = "fd00::/126".parse().unwrap();
        let taken: Vec<Ipv6Addr> = ["fd00::2", "fd00::3"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(tiny.next_free(tiny.first_host(), &taken), None);
        let ula = Subnet6::random_ula();
        assert_eq!((ula.network.octets()[0], ula.prefix), (0xfd, 64));
        assert!(ula.to_string().parse::<Subnet6>().is_ok());
    }

    #[test]
    fn macs_follow_docker() {
        assert_eq!(mac_for(Ipv4Addr::new(172, 17, 0, 2)), "02:42:ac:11:00:02");
    }
}
