//! The packet filter rules a bridge network needs, through `iptables`
//! (either backend: on current distributions it programs nftables).
//!
//! berth keeps its rules in its own chains, jumped to first from FORWARD
//! and POSTROUTING, so it works beside docker's (whose FORWARD policy is
//! DROP) and its rules are easy to find and remove:
//! - BERTH-FORWARD: traffic within a network, and out of it to the world,
//!   and replies back in, is accepted; traffic from one berth network to
//!   another goes through BERTH-ISOLATION, which drops it.
//! - BERTH-POSTROUTING (nat): containers' traffic leaving the host is
//!   masqueraded.
//! - BERTH-DNAT (nat, from PREROUTING and OUTPUT for local addresses): a
//!   published port goes to the container's address in the kernel, for
//!   other hosts and the host itself, 127.0.0.1 included (the bridge gets
//!   route_localnet, and loopback sources are masqueraded onto it).
//!   Each rule is commented with the pid of the process that holds the
//!   container, so rules a crash left behind are known and removed.

use std::net::Ipv4Addr;
use std::process::Command;

use crate::ipam::Subnet;
use crate::publish::PortSpec;
use crate::NetError;

const FORWARD: &str = "BERTH-FORWARD";
const ISOLATION: &str = "BERTH-ISOLATION";
const POSTROUTING: &str = "BERTH-POSTROUTING";
const DNAT: &str = "BERTH-DNAT";

/// One rule: table, chain, and the match and target.
type Rule = (&'static str, &'static str, Vec<String>);

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// The rules for network `bridge` over `subnet`.
fn rules(bridge: &str, subnet: Subnet, internal: bool) -> Vec<Rule> {
    let b = bridge;
    let mut r: Vec<Rule> = vec![
        ("filter", FORWARD, args(&format!("-i {b} -o {b} -j ACCEPT"))),
        (
            "filter",
            FORWARD,
            args(&format!("-i {b} ! -o {b} -j {ISOLATION}")),
        ),
        ("filter", ISOLATION, args(&format!("-o {b} -j DROP"))),
    ];
    if internal {
        r.push(("filter", FORWARD, args(&format!("-i {b} ! -o {b} -j DROP"))));
        r.push(("filter", FORWARD, args(&format!("-o {b} ! -i {b} -j DROP"))));
    } else {
        r.push((
            "filter",
            FORWARD,
            args(&format!(
                "-o {b} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
            )),
        ));
        r.push((
            "filter",
            FORWARD,
            args(&format!("-i {b} ! -o {b} -j ACCEPT")),
        ));
        r.push((
            "nat",
            POSTROUTING,
            args(&format!("-s {subnet} ! -o {b} -j MASQUERADE")),
        ));
    }
    // Published ports reached from the host's loopback.
    r.push((
        "nat",
        POSTROUTING,
        args(&format!("-s 127.0.0.0/8 -o {b} -j MASQUERADE")),
    ));
    r
}

fn iptables(table: &str, op: &str, chain: &str, rule: &[String]) -> Result<bool, NetError> {
    let out = Command::new("iptables")
        .args(["-w", "5", "-t", table, op, chain])
        .args(rule)
        .output()
        .map_err(|e| NetError(format!("running iptables (install iptables): {e}")))?;
    if op == "-C" || op == "-N" {
        return Ok(out.status.success());
    }
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(NetError(format!(
            "iptables -t {table} {op} {chain}: {}",
            err.lines().next().unwrap_or("failed").trim()
        )));
    }
    Ok(true)
}

/// Makes berth's chains and the jumps to them, once.
fn ensure_chains() -> Result<(), NetError> {
    for (table, chain, from, only) in [
        ("filter", FORWARD, "FORWARD", ""),
        ("filter", ISOLATION, "", ""),
        ("nat", POSTROUTING, "POSTROUTING", ""),
        ("nat", DNAT, "PREROUTING", "-m addrtype --dst-type LOCAL"),
        ("nat", DNAT, "OUTPUT", "-m addrtype --dst-type LOCAL"),
    ] {
        iptables(table, "-N", chain, &[])?;
        if from.is_empty() {
            continue;
        }
        let jump = args(&format!("{only} -j {chain}"));
        if !iptables(table, "-C", from, &jump)? {
            let mut first = vec!["1".to_string()];
            first.extend(jump);
            iptables(table, "-I", from, &first)?;
        }
    }
    Ok(())
}

/// Installs a network's rules; those already there are not added twice.
/// Callers hold [`crate::HostLock`], so two berths do not interleave.
pub fn install(bridge: &str, subnet: Subnet, internal: bool) -> Result<(), NetError> {
    ensure_chains()?;
    // Packets from 127.0.0.1 may leave through the bridge (to a published port).
    let localnet = format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet");
    std::fs::write(&localnet, "1").map_err(|e| NetError(format!("{localnet}: {e}")))?;
    for (table, chain, rule) in rules(bridge, subnet, internal) {
        if !iptables(table, "-C", chain, &rule)? {
            // Isolation and drops go before the accepts that follow them.
            if chain == FORWARD && rule.last().is_some_and(|t| t == "DROP") {
                let mut first = vec!["1".to_string()];
                first.extend(rule);
                iptables(table, "-I", chain, &first)?;
            } else {
                iptables(table, "-A", chain, &rule)?;
            }
        }
    }
    Ok(())
}

/// Removes a network's rules (every copy; missing ones are fine).
pub fn remove(bridge: &str, subnet: Subnet, internal: bool) {
    if Command::new("iptables").arg("--version").output().is_err() {
        return;
    }
    for (table, chain, rule) in rules(bridge, subnet, internal) {
        while iptables(table, "-C", chain, &rule).unwrap_or(false) {
            if iptables(table, "-D", chain, &rule).is_err() {
                break;
            }
        }
    }
}

/// Whether the rules of a network are all in place.
pub fn installed(bridge: &str, subnet: Subnet, internal: bool) -> bool {
    rules(bridge, subnet, internal)
        .iter()
        .all(|(table, chain, rule)| iptables(table, "-C", chain, rule).unwrap_or(false))
}

/// The kernel rules of one container's published ports, removed when dropped.
pub struct PortRules {
    rules: Vec<Rule>,
}

/// Forwards `ports` to `container_ip` on `bridge` in the kernel. Ports on an
/// IPv6 host address are left to the userland forwarder. Rules that a dead
/// process left behind are removed first.
pub fn publish(
    bridge: &str,
    container_ip: Ipv4Addr,
    ports: &[PortSpec],
) -> Result<PortRules, NetError> {
    remove_stale();
    let owner = format!("berth:{}", std::process::id());
    let mut rules = Vec::new();
    for p in ports.iter().filter(|p| !p.host_ip.contains(':')) {
        let dest = match p.host_ip.as_str() {
            "" | "0.0.0.0" => String::new(),
            ip => format!("-d {ip}/32 "),
        };
        let (proto, hp, cp) = (&p.proto, p.host_port, p.container_port);
        rules.push((
            "nat",
            DNAT,
            args(&format!(
                "{dest}! -i {bridge} -p {proto} -m {proto} --dport {hp} -m comment --comment {owner} -j DNAT --to-destination {container_ip}:{cp}"
            )),
        ));
        rules.push((
            "filter",
            FORWARD,
            args(&format!(
                "-d {container_ip}/32 ! -i {bridge} -o {bridge} -p {proto} -m {proto} --dport {cp} -m comment --comment {owner} -j ACCEPT"
            )),
        ));
    }
    if rules.is_empty() {
        return Ok(PortRules { rules });
    }
    if restore("-A", &rules).is_err() {
        // Chains from an older berth, or removed by hand: make them, once more.
        ensure_chains()?;
        restore("-A", &rules)?;
    }
    Ok(PortRules { rules })
}

impl Drop for PortRules {
    fn drop(&mut self) {
        if !self.rules.is_empty() {
            let _ = restore("-D", &self.rules);
        }
    }
}

/// Adds (`-A`) or deletes (`-D`) rules in one `iptables-restore --noflush`.
fn restore(op: &str, rules: &[Rule]) -> Result<(), NetError> {
    let mut script = String::new();
    for table in ["nat", "filter"] {
        script.push_str(&format!("*{table}\n"));
        for (_, chain, rule) in rules.iter().filter(|(t, _, _)| *t == table) {
            script.push_str(&format!("{op} {chain} {}\n", rule.join(" ")));
        }
        script.push_str("COMMIT\n");
    }
    crate::run_with_input(
        "iptables-restore",
        &["--noflush", "-w", "5"],
        &script,
        "iptables",
    )
}

/// Deletes port rules whose owning process is gone (a crash, a SIGKILL).
fn remove_stale() {
    // One iptables-save reads both tables (nat's BERTH-DNAT, filter's BERTH-FORWARD).
    let Ok(out) = Command::new("iptables-save").output() else {
        return;
    };
    let mut stale: Vec<Rule> = Vec::new();
    let mut table = "";
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(t) = line.strip_prefix('*') {
            table = if t == "nat" {
                "nat"
            } else if t == "filter" {
                "filter"
            } else {
                ""
            };
            continue;
        }
        let (chain, rule) = match (table, line.split_once(' ')) {
            ("nat", Some(("-A", rest))) if rest.starts_with(DNAT) => (DNAT, &rest[DNAT.len()..]),
            ("filter", Some(("-A", rest))) if rest.starts_with(FORWARD) => {
                (FORWARD, &rest[FORWARD.len()..])
            }
            _ => continue,
        };
        let owner = rule
            .split_whitespace()
            .find_map(|w| w.trim_matches('"').strip_prefix("berth:"))
            .and_then(|pid| pid.parse::<u32>().ok());
        if owner.is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()) {
            stale.push((table, chain, args(rule)));
        }
    }
    if !stale.is_empty() {
        let _ = restore("-D", &stale);
    }
}

/// A port that answers on another inside one namespace: (protocol, port,
/// target port). Kubernetes' Service `port` forwarded to its `targetPort`.
pub type Redirect = (String, u16, u16);

/// Installs `redirects` in the nat table of the namespace at `netns`, for
/// connections from outside (PREROUTING) and from the namespace itself to
/// its own addresses (OUTPUT). The rules live and go with the namespace.
pub fn redirect_in(netns: &std::path::Path, redirects: &[Redirect]) -> Result<(), NetError> {
    if redirects.is_empty() {
        return Ok(());
    }
    let mut script = String::from("*nat\n");
    for (proto, port, target) in redirects {
        let m = format!("-p {proto} -m {proto} --dport {port} -j REDIRECT --to-ports {target}");
        script.push_str(&format!("-A PREROUTING {m}\n"));
        script.push_str(&format!("-A OUTPUT -m addrtype --dst-type LOCAL {m}\n"));
    }
    script.push_str("COMMIT\n");
    crate::in_netns(netns, move || {
        crate::run_with_input(
            "iptables-restore",
            &["--noflush", "-w", "5"],
            &script,
            "iptables",
        )
    })
}
