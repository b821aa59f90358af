//! Linux capabilities: docker's default set and `--cap-add` / `--cap-drop`.

use std::collections::BTreeSet;

/// Every capability the kernel knows, in number order.
pub const ALL: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// What a docker container gets unless told otherwise.
pub const DEFAULT: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

#[derive(Debug, thiserror::Error)]
pub enum UnknownCapability {
    #[error("invalid {flag}: unknown capability: {name:?}")]
    Unknown { flag: &'static str, name: String },
    #[error("capability {0} is not available to berth on this host (not in its bounding set)")]
    Unavailable(String),
}

/// The capabilities this process may hand on: its bounding set. Where root
/// itself lacks one (a restricted VM or a nested container), "all" means all it has.
pub fn available() -> BTreeSet<String> {
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("CapBnd:")
                    .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            })
        })
        .unwrap_or(u64::MAX);
    ALL.iter()
        .enumerate()
        .filter(|(i, _)| bounding >> i & 1 == 1)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` all name CAP_NET_ADMIN; `ALL` stays `ALL`.
fn normalise(name: &str, flag: &'static str) -> Result<String, UnknownCapability> {
    let up = name.trim().to_ascii_uppercase();
    if up == "ALL" {
        return Ok(up);
    }
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    if ALL.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(UnknownCapability::Unknown {
            flag,
            name: name.to_string(),
        })
    }
}

/// The capability set for a container, by docker's rules: `--privileged` gets
/// everything; `ALL` in `--cap-add` starts from everything, in `--cap-drop`
/// from nothing; then adds and drops apply.
pub fn effective(
    add: &[String],
    drop: &[String],
    privileged: bool,
) -> Result<BTreeSet<String>, UnknownCapability> {
    let add = add
        .iter()
        .map(|c| normalise(c, "CapAdd"))
        .collect::<Result<Vec<_>, _>>()?;
    let drop = drop
        .iter()
        .map(|c| normalise(c, "CapDrop"))
        .collect::<Result<Vec<_>, _>>()?;
    let available = available();
    if let Some(missing) = add.iter().find(|c| *c != "ALL" && !available.contains(*c)) {
        return Err(UnknownCapability::Unavailable(missing.clone()));
    }
    if privileged || add.iter().any(|c| c == "ALL") {
        let mut all = available;
        if !privileged {
            for d in &drop {
                all.remove(d);
            }
        }
        return Ok(all);
    }
    let mut set: BTreeSet<String> = if drop.iter().any(|c| c == "ALL") {
        BTreeSet::new()
    } else {
        DEFAULT
            .iter()
            .map(|s| s.to_string())
            .filter(|c| !drop.contains(c))
            .collect()
    };
    set.extend(add);
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn docker_rules() {
        assert_eq!(effective(&[], &[], false).unwrap().len(), DEFAULT.len());
        let c = effective(&s(&["net_admin"]), &s(&["CHOWN"]), false).unwrap();
        assert!(c.contains("CAP_NET_ADMIN") && !c.contains("CAP_CHOWN"));
        let c = effective(&s(&["NET_RAW"]), &s(&["ALL"]), false).unwrap();
        assert_eq!(c.into_iter().collect::<Vec<_>>(), s(&["CAP_NET_RAW"]));
        let c = effective(&s(&["ALL"]), &s(&["SYS_ADMIN"]), false).unwrap();
        assert_eq!(c.len(), available().len() - 1);
        assert_eq!(effective(&[], &[], true).unwrap(), available());
        let err = effective(&s(&["FOO"]), &[], false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid CapAdd: unknown capability: \"FOO\""
        );
    }
}
