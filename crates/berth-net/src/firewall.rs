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

use std::process::Command;

use crate::ipam::Subnet;
use crate::NetError;

const FORWARD: &str = "BERTH-FORWARD";
const ISOLATION: &str = "BERTH-ISOLATION";
const POSTROUTING: &str = "BERTH-POSTROUTING";

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
    for (table, chain, from) in [
        ("filter", FORWARD, "FORWARD"),
        ("filter", ISOLATION, ""),
        ("nat", POSTROUTING, "POSTROUTING"),
    ] {
        iptables(table, "-N", chain, &[])?;
        if from.is_empty() {
            continue;
        }
        let jump = args(&format!("-j {chain}"));
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
