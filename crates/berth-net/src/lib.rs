//! berth-net: container networking.
//! - bridge networks: subnets and addresses ([`ipam`]), the bridge and each
//!   container's veth pair ([`link`]), the packet filter rules for NAT and
//!   isolation ([`firewall`]), and the embedded DNS server of user
//!   networks ([`dns`]);
//! - published ports: `-p` specs parsed as docker takes them, and a
//!   forwarder that listens on the host and carries each connection into the
//!   container's network namespace with splice(2);
//! - probes made from a container's namespace ([`probe`]).

pub mod dns;
pub mod firewall;
mod forward;
pub mod ipam;
pub mod link;
mod netlink;
pub mod probe;
mod publish;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

pub use forward::Forwarder;
pub use publish::{parse_publish, PortSpec};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NetError(pub String);

/// Opens the network namespace file at `netns` (a pinned namespace).
pub(crate) fn open_netns(netns: &Path) -> Result<File, NetError> {
    File::open(netns).map_err(|e| NetError(format!("{}: {e}", netns.display())))
}

/// Moves the calling thread into the network namespace `ns` (namespaces
/// belong to threads; the rest of the process stays where it is).
pub(crate) fn enter(ns: &File) -> std::io::Result<()> {
    // SAFETY: setns on an open namespace file, for this thread only.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Spawns a thread for as long as a container runs, and returns once it
/// runs `f`: a thread still starting holds a lock of Rust's runtime, and
/// the container's processes, cloned from this one right after, would wait
/// on that lock forever when they exit (libcontainer's intermediate process
/// did, leaving `run -d` waiting).
pub(crate) fn spawn_started(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = std::sync::mpsc::sync_channel(0);
    std::thread::spawn(move || {
        let _ = tx.send(());
        f()
    });
    let _ = rx.recv();
}

/// Runs `f` on a short-lived thread inside the namespace at `netns` and
/// returns its result. Sockets made there keep that namespace; processes
/// spawned there are born in it.
pub(crate) fn in_netns<T: Send + 'static>(
    netns: &Path,
    f: impl FnOnce() -> Result<T, NetError> + Send + 'static,
) -> Result<T, NetError> {
    let ns = open_netns(netns)?;
    std::thread::spawn(move || {
        enter(&ns)
            .map_err(|e| NetError(format!("entering the container's network namespace: {e}")))?;
        f()
    })
    .join()
    .unwrap_or_else(|_| Err(NetError("a network namespace thread panicked".into())))
}

/// Runs `program` with `args`, `input` on its stdin; a failure is the first
/// line it printed to stderr. `package` names what installs it.
pub(crate) fn run_with_input(
    program: &str,
    args: &[&str],
    input: &str,
    package: &str,
) -> Result<(), NetError> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetError(format!("running {program} (install {package}): {e}")))?;
    let mut stdin = child.stdin.take().expect("piped");
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let out = child
        .wait_with_output()
        .map_err(|e| NetError(format!("{program}: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(NetError(format!(
            "{program}: {}",
            err.lines().next().unwrap_or("failed").trim()
        )));
    }
    Ok(())
}

/// An exclusive lock over the host's network configuration, held while a
/// subnet is chosen and its bridge made, so that two berths (with separate
/// stores, even) never take the same subnet. Released when dropped.
pub struct HostLock(#[allow(dead_code)] File);

impl HostLock {
    pub fn take() -> Result<HostLock, NetError> {
        let path = "/run/berth-network.lock";
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| NetError(format!("{path}: {e}")))?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(NetError(format!(
                "{path}: {}",
                std::io::Error::last_os_error()
            )));
        }
        Ok(HostLock(f))
    }
}
