//! Networks, as docker has them: the predefined `bridge` (the default, a
//! bridge device with NAT to the world), `host` and `none`, and user bridge
//! networks whose containers find each other by name through an embedded
//! DNS server. A network is a row in the store plus, for bridges, a device
//! and packet filter rules on the host; a container's place on a network
//! (its endpoint) lives in its record's NetworkSettings.Networks and its
//! address in the store's leases.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use berth_net::ipam::{self, Pool, Subnet, Subnet6};
use berth_net::{firewall, link, HostLock};
use berth_store::db::NamedRow;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Container;
use crate::{names, time, Engine, EngineError};

/// Where the options keep a bridge network's device name, as docker's do.
const BRIDGE_NAME: &str = "com.docker.network.bridge.name";

/// How the host side of networking is set up (dockerd's `--bridge` and
/// `--default-address-pool`); read when a network is first made.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// The default bridge's device.
    pub bridge: String,
    pub pools: Vec<Pool>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            bridge: "berth0".into(),
            pools: ipam::default_pools(),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Network {
    pub name: String,
    #[serde(rename = "Id")]
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigFrom,
    pub config_only: bool,
    /// Filled in when shown: the containers running on it.
    pub containers: BTreeMap<String, NetworkContainer>,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// Always empty: berth has no config-only networks.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigFrom {
    pub network: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    pub driver: String,
    pub options: Option<BTreeMap<String, String>>,
    pub config: Vec<IpamConfig>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    pub subnet: String,
    /// Shown only when given (docker's way); the subnet's first host otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkContainer {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// A container's place on one network (EndpointSettings in docker's API).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Endpoint {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpam>,
    pub links: Option<Vec<String>>,
    pub aliases: Option<Vec<String>>,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    pub mac_address: String,
    pub driver_opts: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointIpam {
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address", skip_serializing_if = "String::is_empty")]
    pub ipv6_address: String,
    /// `--link-local-ip`: more addresses on the interface (169.254.0.0/16, fe80::/10).
    #[serde(rename = "LinkLocalIPs", skip_serializing_if = "Vec::is_empty")]
    pub link_local_ips: Vec<String>,
}

/// `network create`'s options.
#[derive(Clone, Debug, Default)]
pub struct NetworkCreate {
    pub name: String,
    pub driver: Option<String>,
    /// One IPv4 subnet and, with `ipv6`, one IPv6 subnet, in any order;
    /// each gateway goes with the subnet that holds it.
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub ipv6: bool,
    pub internal: bool,
    pub attachable: bool,
    pub labels: Vec<String>,
    pub options: Vec<String>,
}

impl Network {
    /// The bridge device of a bridge network.
    pub fn bridge(&self) -> Option<&str> {
        (self.driver == "bridge")
            .then(|| self.options.get(BRIDGE_NAME).map(String::as_str))
            .flatten()
    }

    fn subnet(&self) -> Option<(Subnet, Ipv4Addr)> {
        self.ipam_entry(Subnet::first_host)
    }

    /// The IPv6 subnet and gateway of a network made with `--ipv6`.
    fn subnet6(&self) -> Option<(Subnet6, Ipv6Addr)> {
        self.ipam_entry(Subnet6::first_host)
            .filter(|_| self.enable_ipv6)
    }

    /// The first IPAM entry whose subnet is an `S`, with its gateway (the
    /// subnet's first host unless one was given).
    fn ipam_entry<S: std::str::FromStr, A: std::str::FromStr>(
        &self,
        first_host: fn(&S) -> A,
    ) -> Option<(S, A)> {
        self.ipam.config.iter().find_map(|c| {
            let subnet: S = c.subnet.parse().ok()?;
            let gateway = match c.gateway.as_str() {
                "" => first_host(&subnet),
                g => g.parse().ok()?,
            };
            Some((subnet, gateway))
        })
    }

    /// bridge, host and none: made by berth, never removed.
    pub fn predefined(&self) -> bool {
        matches!(self.name.as_str(), "bridge" | "host" | "none")
    }

    /// A network whose containers resolve each other by name.
    fn user_bridge(&self) -> bool {
        self.driver == "bridge" && !self.predefined()
    }

    fn from_row(row: &NamedRow) -> Result<Network, EngineError> {
        serde_json::from_str(&row.record)
            .map_err(|e| EngineError::BadContent(format!("network {}: {e}", row.name)))
    }

    /// Makes the bridge device and its rules when missing (after a
    /// reboot); one that is there must be this store's (`owner`).
    fn ensure_device(&self, owner: &str) -> Result<(), EngineError> {
        let (Some(bridge), Some((subnet, gateway))) = (self.bridge(), self.subnet()) else {
            return Ok(());
        };
        if link::exists(bridge) {
            link::claim(bridge, gateway, subnet, owner).map_err(net_error)?;
        } else {
            let _lock = HostLock::take().map_err(net_error)?;
            make_device(bridge, subnet, gateway, self.internal, owner)?;
        }
        match self.subnet6() {
            Some((subnet6, gateway6)) => {
                link::ensure_ipv6(bridge, gateway6, subnet6).map_err(net_error)
            }
            None => Ok(()),
        }
    }
}

/// The subnets and gateways `network create` was given, by family.
struct Addressing {
    subnet: Option<Subnet>,
    gateway: Option<Ipv4Addr>,
    subnet6: Option<Subnet6>,
    gateway6: Option<Ipv6Addr>,
}

impl Addressing {
    fn of(o: &NetworkCreate) -> Result<Addressing, EngineError> {
        let mut a = Addressing {
            subnet: None,
            gateway: None,
            subnet6: None,
            gateway6: None,
        };
        for s in &o.subnets {
            let taken = if s.contains(':') {
                if !o.ipv6 {
                    return Err(EngineError::invalid(format!(
                        "IPv6 subnet {s} given to a network without IPv6: add --ipv6"
                    )));
                }
                a.subnet6
                    .replace(s.parse().map_err(EngineError::invalid)?)
                    .is_some()
            } else {
                a.subnet
                    .replace(s.parse().map_err(EngineError::invalid)?)
                    .is_some()
            };
            if taken {
                return Err(EngineError::invalid(
                    "berth networks have one IPv4 and one IPv6 subnet at most: give --subnet once for each",
                ));
            }
        }
        for g in &o.gateways {
            let bad = || EngineError::invalid(format!("invalid gateway address {g}"));
            match g.parse::<std::net::IpAddr>().map_err(|_| bad())? {
                std::net::IpAddr::V4(g) => {
                    let s = a.subnet.ok_or_else(|| {
                        EngineError::invalid("a gateway needs a subnet: give --subnet too")
                    })?;
                    if !s.usable(g) {
                        return Err(EngineError::invalid(format!(
                            "invalid gateway {g}: it is not a host address of subnet {s}"
                        )));
                    }
                    a.gateway = Some(g);
                }
                std::net::IpAddr::V6(g) => {
                    let s = a.subnet6.ok_or_else(|| {
                        EngineError::invalid(
                            "an IPv6 gateway needs an IPv6 subnet: give --subnet too",
                        )
                    })?;
                    if !s.usable(g) {
                        return Err(EngineError::invalid(format!(
                            "invalid gateway {g}: it is not a host address of subnet {s}"
                        )));
                    }
                    a.gateway6 = Some(g);
                }
            }
        }
        Ok(a)
    }
}

fn net_error(e: berth_net::NetError) -> EngineError {
    EngineError::Runtime(e.0)
}

/// The bridge, its rules, and forwarding on; the caller holds [`HostLock`].
fn make_device(
    bridge: &str,
    subnet: Subnet,
    gateway: Ipv4Addr,
    internal: bool,
    owner: &str,
) -> Result<(), EngineError> {
    link::ensure_bridge(bridge, gateway, subnet, owner).map_err(net_error)?;
    let done = link::enable_forwarding().and_then(|()| firewall::install(bridge, subnet, internal));
    if let Err(e) = done {
        firewall::remove(bridge, subnet, internal);
        let _ = link::delete(bridge);
        return Err(net_error(e));
    }
    Ok(())
}

/// A container's endpoints by network name.
pub type Endpoints = BTreeMap<String, Endpoint>;

/// A container's endpoints, from its record.
pub fn endpoints(c: &Container) -> Endpoints {
    use serde::Deserialize;
    c.network_settings
        .get("Networks")
        .and_then(|n| Endpoints::deserialize(n).ok())
        .unwrap_or_default()
}

pub(crate) fn set_endpoints(c: &mut Container, eps: &Endpoints) {
    if !c.network_settings.is_object() {
        c.network_settings = Value::Object(Default::default());
    }
    c.network_settings["Networks"] = serde_json::to_value(eps).unwrap_or(Value::Null);
    // docker shows the default bridge's address at the top level too.
    let bridge = eps.get("bridge");
    let field = |f: fn(&Endpoint) -> Value| bridge.map_or(Value::from(""), f);
    c.network_settings["IPAddress"] = field(|e| e.ip_address.clone().into());
    c.network_settings["Gateway"] = field(|e| e.gateway.clone().into());
    c.network_settings["MacAddress"] = field(|e| e.mac_address.clone().into());
    c.network_settings["IPPrefixLen"] = bridge.map_or(0.into(), |e| e.ip_prefix_len.into());
    c.network_settings["GlobalIPv6Address"] = field(|e| e.global_ipv6_address.clone().into());
    c.network_settings["GlobalIPv6PrefixLen"] =
        bridge.map_or(0.into(), |e| e.global_ipv6_prefix_len.into());
    c.network_settings["IPv6Gateway"] = field(|e| e.ipv6_gateway.clone().into());
}

impl Engine {
    pub fn set_network_config(&mut self, config: NetConfig) {
        self.net_config = config;
    }

    /// How this store marks the bridges it makes (their alias), so that
    /// another store on the host finds them taken.
    fn bridge_owner(&self) -> String {
        format!("berth {}", self.root().display())
    }

    /// Removes the bridges marked as this store's that no network of it
    /// records: a berth killed while it made a network leaves its device
    /// (and rules) behind. Under the host lock that creation holds, so no
    /// bridge about to be recorded is taken.
    pub(crate) fn collect_orphan_bridges(&self) -> Result<(), EngineError> {
        let owned = link::owned_by(&self.bridge_owner());
        if owned.is_empty() {
            return Ok(());
        }
        let _lock = HostLock::take().map_err(net_error)?;
        let recorded: Vec<String> = self
            .network_rows()?
            .iter()
            .filter_map(|n| n.bridge().map(String::from))
            .collect();
        for bridge in owned.iter().filter(|b| !recorded.contains(b)) {
            link::remove_unrecorded(bridge).map_err(net_error)?;
        }
        Ok(())
    }

    fn network_rows(&self) -> Result<Vec<Network>, EngineError> {
        self.store
            .db
            .networks()?
            .iter()
            .map(Network::from_row)
            .collect()
    }

    /// Every network, the predefined ones made on first use.
    fn all_networks(&self) -> Result<Vec<Network>, EngineError> {
        let nets = self.network_rows()?;
        if ["bridge", "host", "none"]
            .iter()
            .all(|n| nets.iter().any(|x| x.name == *n))
        {
            return Ok(nets);
        }
        // Chosen under the host lock, after reading again: another berth
        // may have made them meanwhile.
        let _lock = HostLock::take().map_err(net_error)?;
        let nets = self.network_rows()?;
        for (name, driver) in [("bridge", "bridge"), ("host", "host"), ("none", "null")] {
            if nets.iter().any(|x| x.name == name) {
                continue;
            }
            let mut n = Network {
                name: name.into(),
                driver: driver.into(),
                ..self.new_network()
            };
            if name == "bridge" {
                // The device may be this store's from before its records
                // were lost: its subnet is the network's. Anyone else's is
                // refused by make_device.
                let device = &self.net_config.bridge;
                let (subnet, gateway) = match link::ipv4_of(device) {
                    Some((ip, prefix))
                        if link::owner(device).as_deref() == Some(&self.bridge_owner()) =>
                    {
                        (Subnet::containing(ip, prefix), ip)
                    }
                    _ => {
                        let subnet = self.free_subnet(&nets)?;
                        (subnet, subnet.first_host())
                    }
                };
                n.ipam.config.push(IpamConfig {
                    subnet: subnet.to_string(),
                    gateway: gateway.to_string(),
                });
                let bridge = self.net_config.bridge.clone();
                n.options.extend([
                    (BRIDGE_NAME.to_string(), bridge.clone()),
                    (
                        "com.docker.network.bridge.default_bridge".into(),
                        "true".into(),
                    ),
                    ("com.docker.network.driver.mtu".into(), "1500".into()),
                ]);
                make_device(&bridge, subnet, gateway, false, &self.bridge_owner())?;
            }
            self.insert_network(&n)?;
        }
        self.network_rows()
    }

    fn new_network(&self) -> Network {
        Network {
            id: berth_store::random_hex(32),
            created: time::now(),
            scope: "local".into(),
            ipam: Ipam {
                driver: "default".into(),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn insert_network(&self, n: &Network) -> Result<bool, EngineError> {
        let record = serde_json::to_string(n).expect("network serialises");
        Ok(self.store.db.add_network(&NamedRow {
            id: n.id.clone(),
            name: n.name.clone(),
            record,
        })?)
    }

    /// A subnet from the pools that neither the host routes nor another
    /// network of this store has.
    fn free_subnet(&self, nets: &[Network]) -> Result<Subnet, EngineError> {
        let mut in_use = ipam::host_routes();
        in_use.extend(nets.iter().filter_map(|n| n.subnet().map(|(s, _)| s)));
        ipam::pick_subnet(&self.net_config.pools, &in_use).ok_or_else(|| {
            EngineError::invalid(
                "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
            )
        })
    }

    /// A network by name, id or unique id prefix.
    pub fn network(&self, key: &str) -> Result<Network, EngineError> {
        let nets = self.all_networks()?;
        if let Some(n) = nets.iter().find(|n| n.name == key || n.id == key) {
            return Ok(n.clone());
        }
        let matches: Vec<&Network> = nets.iter().filter(|n| n.id.starts_with(key)).collect();
        match matches.as_slice() {
            [n] => Ok((*n).clone()),
            [] => Err(EngineError::NoSuchNetwork(format!(
                "No such network: {key}"
            ))),
            _ => Err(EngineError::invalid(format!(
                "network {key} is ambiguous ({} matches found based on ID prefix)",
                matches.len()
            ))),
        }
    }

    /// Every network with the containers running on it.
    pub fn list_networks(&self) -> Result<Vec<Network>, EngineError> {
        let mut nets = self.all_networks()?;
        let containers = self.list_containers()?;
        for n in &mut nets {
            n.containers = attached(n, &containers);
        }
        Ok(nets)
    }

    /// One network as `network inspect` shows it.
    pub fn inspect_network(&self, key: &str) -> Result<Network, EngineError> {
        let mut n = self.network(key)?;
        n.containers = attached(&n, &self.list_containers()?);
        Ok(n)
    }

    /// `network create`.
    pub fn create_network(&self, o: &NetworkCreate) -> Result<Network, EngineError> {
        if !names::valid(&o.name) {
            return Err(EngineError::invalid(format!(
                "invalid network name {:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                o.name
            )));
        }
        match o.driver.as_deref().unwrap_or("bridge") {
            "bridge" => {}
            "host" | "null" => {
                return Err(EngineError::Conflict(format!(
                    "only one instance of \"{}\" network is allowed",
                    o.driver.as_deref().unwrap_or_default()
                )))
            }
            other => {
                return Err(EngineError::NoSuchNetwork(format!(
                    "plugin \"{other}\" not found: berth has the bridge driver"
                )))
            }
        }
        let wanted = Addressing::of(o)?;
        let (subnet, gateway) = (wanted.subnet, wanted.gateway);
        let labels = crate::key_values(&o.labels);
        let mut options = crate::key_values(&o.options);
        let mut n = Network {
            name: o.name.clone(),
            driver: "bridge".into(),
            internal: o.internal,
            attachable: o.attachable,
            labels,
            ..self.new_network()
        };
        let bridge = options
            .entry(BRIDGE_NAME.to_string())
            .or_insert_with(|| format!("br-{}", &n.id[..12]))
            .clone();
        if bridge.is_empty() || bridge.len() > 15 || bridge.contains(['/', ' ']) {
            return Err(EngineError::invalid(format!(
                "invalid bridge name {bridge:?}: at most 15 characters, no '/' or spaces"
            )));
        }
        n.options = options;
        // The predefined networks first: making them takes the lock too.
        self.all_networks()?;
        let _lock = HostLock::take().map_err(net_error)?;
        let nets = self.network_rows()?;
        if nets.iter().any(|x| x.name == o.name) {
            return Err(EngineError::Conflict(format!(
                "network with name {} already exists",
                o.name
            )));
        }
        if link::exists(&bridge) {
            return Err(EngineError::Conflict(format!(
                "bridge {bridge} already exists on this host: choose another com.docker.network.bridge.name"
            )));
        }
        let subnet = match subnet {
            Some(s) => {
                let mut in_use = ipam::host_routes();
                in_use.extend(nets.iter().filter_map(|n| n.subnet().map(|(s, _)| s)));
                if in_use.iter().any(|u| u.overlaps(&s)) {
                    return Err(EngineError::Conflict(format!(
                        "Pool overlaps with other one on this address space: {s} is in use on this host"
                    )));
                }
                s
            }
            None => self.free_subnet(&nets)?,
        };
        n.ipam.config.push(IpamConfig {
            subnet: subnet.to_string(),
            gateway: gateway.map(|g| g.to_string()).unwrap_or_default(),
        });
        let gateway = gateway.unwrap_or_else(|| subnet.first_host());
        let v6 = if o.ipv6 {
            let subnet6 = wanted.subnet6.unwrap_or_else(Subnet6::random_ula);
            if let Some(other) = nets
                .iter()
                .find(|x| x.subnet6().is_some_and(|(s, _)| s.overlaps(&subnet6)))
            {
                return Err(EngineError::Conflict(format!(
                    "Pool overlaps with other one on this address space: {subnet6} is network {}'s",
                    other.name
                )));
            }
            n.enable_ipv6 = true;
            n.ipam.config.push(IpamConfig {
                subnet: subnet6.to_string(),
                gateway: wanted.gateway6.map(|g| g.to_string()).unwrap_or_default(),
            });
            Some((
                subnet6,
                wanted.gateway6.unwrap_or_else(|| subnet6.first_host()),
            ))
        } else {
            None
        };
        make_device(&bridge, subnet, gateway, n.internal, &self.bridge_owner())?;
        let made = match v6 {
            Some((subnet6, gateway6)) => {
                link::ensure_ipv6(&bridge, gateway6, subnet6).map_err(net_error)
            }
            None => Ok(()),
        };
        if let Err(e) = made.and_then(|()| self.insert_network(&n)) {
            firewall::remove(&bridge, subnet, n.internal);
            let _ = link::delete(&bridge);
            return Err(e);
        }
        self.emit_network(&n, "create", &[]);
        Ok(n)
    }

    /// `network rm`: refused for the predefined networks and while a
    /// running container is on it.
    pub fn remove_network(&self, key: &str) -> Result<Network, EngineError> {
        let n = self.network(key)?;
        if n.predefined() {
            return Err(EngineError::Conflict(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        let running = attached(&n, &self.list_containers()?);
        if !running.is_empty() {
            return Err(EngineError::Conflict(format!(
                "error while removing network: network {} id {} has active endpoints",
                n.name, n.id
            )));
        }
        let _lock = HostLock::take().map_err(net_error)?;
        self.store.db.remove_network(&n.id)?;
        if let (Some(bridge), Some((subnet, _))) = (n.bridge(), n.subnet()) {
            firewall::remove(bridge, subnet, n.internal);
            link::delete(bridge).map_err(net_error)?;
        }
        self.emit_network(&n, "destroy", &[]);
        Ok(n)
    }

    /// `network prune`: user networks no container refers to, that `keep`
    /// does not keep. Returns their names.
    pub fn prune_networks(
        &self,
        prune: &dyn Fn(&Network) -> bool,
    ) -> Result<Vec<String>, EngineError> {
        let containers = self.list_containers()?;
        let mut removed = Vec::new();
        // Rows only: the predefined networks are never pruned, so none is made.
        for n in self.network_rows()? {
            let used = containers
                .iter()
                .any(|c| endpoints(c).values().any(|e| e.network_id == n.id));
            if n.predefined() || used || !prune(&n) {
                continue;
            }
            self.remove_network(&n.id)?;
            removed.push(n.name);
        }
        Ok(removed)
    }

    fn emit_network(&self, n: &Network, action: &str, extra: &[(&str, String)]) {
        let mut attrs = BTreeMap::from([
            ("name".to_string(), n.name.clone()),
            ("type".to_string(), n.driver.clone()),
        ]);
        attrs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        self.emit("network", action, &n.id, attrs);
    }

    /// The endpoints `create` records for `--network`: the network's, with
    /// the requested address and aliases. `mode` is what `--network` said.
    pub(crate) fn initial_endpoints(
        &self,
        mode: &str,
        ip: Option<&str>,
        ip6: Option<&str>,
        aliases: &[String],
    ) -> Result<(String, BTreeMap<String, Endpoint>), EngineError> {
        if mode.starts_with("container:") {
            if ip.is_some() || ip6.is_some() || !aliases.is_empty() {
                return Err(EngineError::invalid(
                    "conflicting options: --ip and --network-alias cannot be used with --network container:NAME",
                ));
            }
            return Ok((mode.to_string(), BTreeMap::new()));
        }
        let n = match mode {
            "default" => self.network("bridge")?,
            other => self.network(other).map_err(|e| match e {
                EngineError::NoSuchNetwork(_) => {
                    EngineError::NoSuchNetwork(format!("network {other} not found"))
                }
                e => e,
            })?,
        };
        if !n.user_bridge() && !aliases.is_empty() {
            return Err(EngineError::invalid(
                "network-scoped alias is supported only for containers in user defined networks",
            ));
        }
        if !n.user_bridge() && (ip.is_some() || ip6.is_some()) {
            return Err(EngineError::invalid(
                "user specified IP address is supported on user defined networks only",
            ));
        }
        if let Some(ip) = ip {
            let addr: Ipv4Addr = ip
                .parse()
                .map_err(|_| EngineError::invalid(format!("invalid IPv4 address: {ip}")))?;
            let (subnet, _) = n.subnet().expect("a bridge network has a subnet");
            if !subnet.usable(addr) {
                return Err(EngineError::invalid(format!(
                    "no configured subnet or ip-range contain the IP address {ip}"
                )));
            }
        }
        if let Some(ip6) = ip6 {
            let addr: Ipv6Addr = ip6
                .parse()
                .map_err(|_| EngineError::invalid(format!("invalid IPv6 address: {ip6}")))?;
            let Some((subnet6, _)) = n.subnet6() else {
                return Err(EngineError::invalid(format!(
                    "network {} has no IPv6 subnet, so --ip6 {ip6} has nowhere to go: make the network with --ipv6 --subnet CIDR",
                    n.name
                )));
            };
            if !subnet6.usable(addr) {
                return Err(EngineError::invalid(format!(
                    "no configured subnet or ip-range contain the IP address {ip6}"
                )));
            }
        }
        let ep = Endpoint {
            network_id: n.id.clone(),
            ipam_config: (ip.is_some() || ip6.is_some()).then(|| EndpointIpam {
                ipv4_address: ip.unwrap_or_default().to_string(),
                ipv6_address: ip6.unwrap_or_default().to_string(),
                ..Default::default()
            }),
            aliases: Some(aliases.to_vec()).filter(|a| !a.is_empty()),
            ..Default::default()
        };
        let mode = match n.name.as_str() {
            "bridge" => "bridge".to_string(),
            _ => n.name.clone(),
        };
        Ok((mode, BTreeMap::from([(n.name.clone(), ep)])))
    }

    /// Plugs a starting container into its bridge networks: an address
    /// leased on each, a veth pair per network into the namespace at
    /// `netns`, and the default route through the first. Returns the
    /// endpoints with their addresses, for the start to record with the
    /// rest; the leases are given back by [`Engine::release`].
    pub(crate) fn attach_networks(
        &self,
        c: &Container,
        netns: &Path,
    ) -> Result<Endpoints, EngineError> {
        let mut eps = endpoints(c);
        // The container's own network first: it is eth0 and holds the route.
        let mut order: Vec<String> = eps.keys().cloned().collect();
        order.sort_by_key(|name| *name != c.host_config.network_mode);
        let nets = self.all_networks()?;
        let mut first = true;
        for (i, name) in order.iter().enumerate() {
            let ep = eps.get_mut(name).expect("listed");
            // By id; by name for records made before networks had ids (`none`).
            let found = nets.iter().find(|n| n.id == ep.network_id).or_else(|| {
                (ep.network_id.is_empty())
                    .then(|| nets.iter().find(|n| n.name == *name))
                    .flatten()
            });
            let Some(n) = found else {
                return Err(EngineError::NoSuchNetwork(format!(
                    "network {name} not found"
                )));
            };
            if n.bridge().is_none() {
                continue;
            }
            let route = first && !n.internal;
            first = false;
            let mac = c.config.mac_address.as_deref();
            self.plug(&c.id, mac, n, ep, netns, &format!("eth{i}"), route)?;
        }
        // docker's /etc/hosts names the container's own address.
        if let Some(ip) = eps
            .values()
            .map(|e| &e.ip_address)
            .find(|ip| !ip.is_empty())
        {
            let path = Path::new(&c.hosts_path);
            let hostname = &c.config.hostname;
            let old = std::fs::read_to_string(path).unwrap_or_default();
            let mut hosts: String = old
                .lines()
                .filter(|l| !l.ends_with(&format!("\t{hostname}")))
                .map(|l| format!("{l}\n"))
                .collect();
            hosts.push_str(&format!("{ip}\t{hostname}\n"));
            std::fs::write(path, hosts).map_err(|e| EngineError::io(path, e))?;
        }
        Ok(eps)
    }

    /// One endpoint: lease, veth, addresses, filled into `ep`. `holder`
    /// holds the lease: a container id, or a build step's.
    #[allow(clippy::too_many_arguments)]
    fn plug(
        &self,
        holder: &str,
        mac: Option<&str>,
        n: &Network,
        ep: &mut Endpoint,
        netns: &Path,
        ifname: &str,
        route: bool,
    ) -> Result<(), EngineError> {
        n.ensure_device(&self.bridge_owner())?;
        let (subnet, gateway) = n.subnet().expect("a bridge network has a subnet");
        let wanted = ep
            .ipam_config
            .as_ref()
            .map(|i| i.ipv4_address.clone())
            .filter(|a| !a.is_empty());
        // Checked at create: IPv4 in 169.254/16.
        let link_local: Vec<Ipv4Addr> = ep
            .ipam_config
            .iter()
            .flat_map(|i| &i.link_local_ips)
            .filter_map(|a| a.parse().ok())
            .collect();
        let ip = self.lease(n, holder, wanted.as_deref(), gateway, "IPv4", |held| {
            subnet.next_free(gateway, held)
        })?;
        let v6 = match n.subnet6() {
            Some((subnet6, gateway6)) => {
                let wanted6 = ep
                    .ipam_config
                    .as_ref()
                    .map(|i| i.ipv6_address.as_str())
                    .filter(|a| !a.is_empty());
                let leased = self.lease(n, holder, wanted6, gateway6, "IPv6", |held| {
                    subnet6.next_free(gateway6, held)
                });
                match leased {
                    Ok(ip6) => Some((ip6, subnet6, gateway6)),
                    Err(e) => {
                        let _ = self.store.db.release_addresses(holder, Some(&n.id));
                        return Err(e);
                    }
                }
            }
            None => None,
        };
        let endpoint_id = berth_store::random_hex(32);
        let mac = mac
            .filter(|_| ifname == "eth0")
            .map_or_else(|| ipam::mac_for(ip), str::to_string);
        let host_if = format!("veth{}", &endpoint_id[..7]);
        let plugged = link::attach(
            netns,
            &link::Endpoint {
                bridge: n.bridge().expect("a bridge network"),
                host_if: &host_if,
                ifname,
                address: ip,
                subnet,
                mac: &mac,
                default_route: route.then_some(gateway),
                link_local: &link_local,
                address6: v6.map(|(ip6, subnet6, _)| (ip6, subnet6)),
                default_route6: v6.filter(|_| route).map(|(_, _, gw6)| gw6),
            },
        );
        if let Err(e) = plugged {
            let _ = self.store.db.release_addresses(holder, Some(&n.id));
            return Err(net_error(e));
        }
        ep.endpoint_id = endpoint_id;
        ep.ip_address = ip.to_string();
        ep.ip_prefix_len = subnet.prefix;
        ep.gateway = gateway.to_string();
        ep.mac_address = mac;
        if let Some((ip6, subnet6, gateway6)) = v6 {
            ep.global_ipv6_address = ip6.to_string();
            ep.global_ipv6_prefix_len = subnet6.prefix;
            ep.ipv6_gateway = gateway6.to_string();
        }
        Ok(())
    }

    /// Leases `holder` an address of `family` on network `n`: `wanted`
    /// when given and free, else the first `next_free` finds among those
    /// not held.
    fn lease<A>(
        &self,
        n: &Network,
        holder: &str,
        wanted: Option<&str>,
        gateway: A,
        family: &str,
        next_free: impl FnOnce(&[A]) -> Option<A>,
    ) -> Result<A, EngineError>
    where
        A: std::str::FromStr + PartialEq + std::fmt::Display + Copy,
    {
        let address =
            self.store
                .db
                .lease_address(&n.id, holder, |held| -> Result<String, EngineError> {
                    let held: Vec<A> = held.iter().filter_map(|a| a.parse().ok()).collect();
                    match wanted {
                        Some(w) => {
                            let ip: A = w.parse().map_err(|_| {
                                EngineError::invalid(format!("invalid {family} address: {w}"))
                            })?;
                            if held.contains(&ip) || ip == gateway {
                                return Err(EngineError::Conflict(format!(
                                    "Address already in use: {ip} on network {}",
                                    n.name
                                )));
                            }
                            Ok(ip.to_string())
                        }
                        None => next_free(&held).map(|ip| ip.to_string()).ok_or_else(|| {
                            EngineError::Conflict(format!(
                                "no available {family} addresses on network {}: all are in use",
                                n.name
                            ))
                        }),
                    }
                })?;
        address
            .parse()
            .map_err(|_| EngineError::BadContent(format!("leased address {address}")))
    }

    /// Plugs a build step's namespace into the default bridge (as `docker
    /// build` runs RUN steps); its lease is given back when the step ends,
    /// or by the next lease once its process is gone.
    pub(crate) fn plug_build_step(&self, holder: &str, netns: &Path) -> Result<(), EngineError> {
        let n = self.network("bridge")?;
        let mut ep = Endpoint::default();
        self.plug(holder, None, &n, &mut ep, netns, "eth0", true)
    }

    /// `network connect`: on a running container the interface appears at
    /// once; a stopped one gets it when it starts.
    pub fn connect_network(
        &self,
        network: &str,
        container: &str,
        ip: Option<&str>,
        aliases: &[String],
    ) -> Result<(), EngineError> {
        let n = self.network(network)?;
        let c = self.container(container)?;
        let mode = &c.host_config.network_mode;
        if mode == "host" || mode == "none" || mode.starts_with("container:") {
            return Err(EngineError::Conflict(format!(
                "container {} is on the {mode} network and cannot be connected to another",
                c.short_name()
            )));
        }
        let mut eps = endpoints(&c);
        if eps.contains_key(&n.name) {
            return Err(EngineError::Conflict(format!(
                "endpoint with name {} already exists in network {}",
                c.short_name(),
                n.name
            )));
        }
        let (_, mut new) = self.initial_endpoints(&n.name, ip, None, aliases)?;
        let mut ep = new.remove(&n.name).expect("made for this network");
        if c.state.running {
            let ifname = format!("eth{}", eps.len());
            let netns = self.netns_path(&c.id);
            self.plug(&c.id, None, &n, &mut ep, &netns, &ifname, false)?;
        }
        eps.insert(n.name.clone(), ep);
        self.update(&c.id, |c| set_endpoints(c, &eps))?;
        if n.user_bridge() {
            // Names on the new network resolve through the embedded DNS;
            // written in place, so the container's bind mount sees it.
            let path = Path::new(&c.resolv_conf_path);
            let embedded = crate::containers::embedded_resolv_conf(&c.host_config);
            if std::fs::read_to_string(path).is_ok_and(|r| r != embedded) {
                std::fs::write(path, embedded).map_err(|e| EngineError::io(path, e))?;
            }
        }
        self.emit_network(&n, "connect", &[("container", c.id.clone())]);
        Ok(())
    }

    /// `network disconnect`.
    pub fn disconnect_network(&self, network: &str, container: &str) -> Result<(), EngineError> {
        let n = self.network(network)?;
        let c = self.container(container)?;
        let mut eps = endpoints(&c);
        let Some(ep) = eps.remove(&n.name) else {
            return Err(EngineError::Conflict(format!(
                "container {} is not connected to network {}",
                c.short_name(),
                n.name
            )));
        };
        if !ep.endpoint_id.is_empty() {
            // Deleting the host end takes the pair, and the container's interface.
            link::delete(&format!("veth{}", &ep.endpoint_id[..7])).map_err(net_error)?;
        }
        self.store.db.release_addresses(&c.id, Some(&n.id))?;
        self.update(&c.id, |c| {
            set_endpoints(c, &eps);
            // As docker: the mode names the first network still there; after
            // the last one goes it stays, so a connect can bring one back
            // (Compose 1 reconnects this way to add its aliases).
            if c.host_config.network_mode == n.name {
                if let Some(next) = eps.keys().next() {
                    c.host_config.network_mode = next.clone();
                }
            }
        })?;
        self.emit_network(&n, "disconnect", &[("container", c.id.clone())]);
        Ok(())
    }

    /// The embedded DNS server of a container on a bridge network. Only user
    /// networks' containers are pointed at it (the default bridge uses the
    /// host's resolvers, as docker's does).
    pub(crate) fn dns_server(
        &self,
        c: &Container,
        netns: &Path,
    ) -> Result<Option<berth_net::dns::DnsServer>, EngineError> {
        // Started on any bridge network, so that a later `network connect`
        // to a user network finds it running (connect then points the
        // container's resolv.conf at it, as docker rebuilds it).
        // Every network but host and none is a bridge (the one driver).
        let mode = c.host_config.network_mode.as_str();
        if matches!(mode, "host" | "none") || endpoints(c).is_empty() {
            return Ok(None);
        }
        let upstream = upstream_resolvers(&c.host_config.dns);
        let db_path = self.root().join("berth.db");
        let me = c.id.clone();
        let db = std::sync::Mutex::new(None::<berth_store::Db>);
        let lookup = Box::new(move |name: &str| {
            let mut db = db.lock().ok()?;
            if db.is_none() {
                *db = berth_store::Db::open(&db_path).ok();
            }
            resolve(db.as_ref()?, &me, name)
        });
        berth_net::dns::DnsServer::start(netns, lookup, upstream)
            .map(Some)
            .map_err(net_error)
    }
}

/// The lease holder of a build step: `build-PID-RANDOM`, so a lease whose
/// process died is known as stale (see `Db::lease_address`).
pub(crate) fn build_holder() -> String {
    format!(
        "build-{}-{}",
        std::process::id(),
        berth_store::random_hex(8)
    )
}

/// Whether `holder` is a build step's ([`build_holder`]) whose berth is gone.
pub(crate) fn abandoned_build(holder: &str) -> bool {
    let pid = holder
        .strip_prefix("build-")
        .and_then(|rest| rest.split_once('-'))
        .and_then(|(pid, _)| pid.parse::<i32>().ok());
    pid.is_some_and(|pid| {
        pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
    })
}

/// Clears the addresses from the record of a container that stopped (its
/// leases are given back by [`Engine::release`], its veths went with its
/// namespace); what was asked for (address, aliases) stays.
pub(crate) fn forget_addresses(c: &mut Container) {
    let mut eps = endpoints(c);
    if eps.values().all(|e| e.ip_address.is_empty()) {
        return;
    }
    for e in eps.values_mut() {
        *e = Endpoint {
            ipam_config: e.ipam_config.take(),
            aliases: e.aliases.take(),
            network_id: std::mem::take(&mut e.network_id),
            ..Default::default()
        };
    }
    set_endpoints(c, &eps);
}

/// The containers running on `n`, as `network inspect` shows them.
fn attached(n: &Network, containers: &[Container]) -> BTreeMap<String, NetworkContainer> {
    containers
        .iter()
        .filter(|c| c.state.running)
        .filter_map(|c| {
            let ep = endpoints(c)
                .into_values()
                .find(|e| e.network_id == n.id && !e.ip_address.is_empty())?;
            Some((
                c.id.clone(),
                NetworkContainer {
                    name: c.short_name().to_string(),
                    endpoint_id: ep.endpoint_id,
                    mac_address: ep.mac_address,
                    ipv4_address: format!("{}/{}", ep.ip_address, ep.ip_prefix_len),
                    ipv6_address: Some(&ep.global_ipv6_address)
                        .filter(|a| !a.is_empty())
                        .map(|a| format!("{a}/{}", ep.global_ipv6_prefix_len))
                        .unwrap_or_default(),
                },
            ))
        })
        .collect()
}

/// What the embedded DNS answers for `name` asked by container `me`: the
/// addresses of running containers on a user network `me` is on, found by
/// name, short id, hostname or alias (also as `NAME.NETWORK`).
fn resolve(db: &berth_store::Db, me: &str, name: &str) -> Option<Vec<std::net::IpAddr>> {
    let nets: Vec<Network> = db
        .networks()
        .ok()?
        .iter()
        .filter_map(|r| Network::from_row(r).ok())
        .filter(Network::user_bridge)
        .collect();
    let containers: Vec<Container> = db
        .containers()
        .ok()?
        .iter()
        .filter_map(|r| serde_json::from_str(&r.record).ok())
        .collect();
    let mine: Vec<String> = containers
        .iter()
        .find(|c| c.id == me)
        .map(|c| endpoints(c).into_values().map(|e| e.network_id).collect())?;
    let mut found = Vec::new();
    for c in containers.iter().filter(|c| c.state.running) {
        for (net_name, ep) in endpoints(c) {
            if !mine.contains(&ep.network_id)
                || !nets.iter().any(|n| n.id == ep.network_id)
                || ep.ip_address.is_empty()
            {
                continue;
            }
            let mut names = vec![
                c.short_name().to_lowercase(),
                c.short_id().to_string(),
                c.config.hostname.to_lowercase(),
            ];
            names.extend(ep.aliases.iter().flatten().map(|a| a.to_lowercase()));
            let hit = names
                .iter()
                .any(|n| name == n || name == format!("{n}.{}", net_name.to_lowercase()));
            if hit {
                let both = [&ep.ip_address, &ep.global_ipv6_address];
                found.extend(
                    both.into_iter()
                        .filter_map(|a| a.parse::<std::net::IpAddr>().ok()),
                );
            }
        }
    }
    (!found.is_empty()).then_some(found)
}

/// Where the embedded DNS sends other questions: `--dns` servers, or the
/// host's (which it reaches from the host's namespace, loopback ones too).
fn upstream_resolvers(dns: &[String]) -> Vec<SocketAddr> {
    let host;
    let servers: Vec<&str> = if dns.is_empty() {
        host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        host.lines()
            .filter_map(|l| l.strip_prefix("nameserver"))
            .map(str::trim)
            .collect()
    } else {
        dns.iter().map(String::as_str).collect()
    };
    servers
        .iter()
        .filter_map(|s| s.parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}
