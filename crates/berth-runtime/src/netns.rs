//! Network namespaces kept as bind-mounted files (as `ip netns add` does), so a
//! container can join one by path and the network code can configure it.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

/// Creates a new network namespace with its loopback interface up, pinned at `path`.
///
/// Namespaces belong to threads: the calling thread enters the new namespace
/// for a moment and returns to its own before this returns.
pub fn create(path: &Path) -> io::Result<()> {
    let original = File::open("/proc/thread-self/ns/net")?;
    File::create(path)?;
    unshare(CloneFlags::CLONE_NEWNET)?;
    let pinned = loopback_up().and_then(|()| {
        mount(
            Some("/proc/thread-self/ns/net"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(io::Error::from)
    });
    setns(&original, CloneFlags::CLONE_NEWNET)?;
    if let Err(e) = pinned {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(())
}

/// Unpins and removes a namespace made by [`create`]; missing is fine.
pub fn remove(path: &Path) -> io::Result<()> {
    let _ = umount2(path, MntFlags::MNT_DETACH);
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// `ip link set lo up` in the current network namespace.
fn loopback_up() -> io::Result<()> {
    // SAFETY: plain socket/ioctl calls on a zeroed ifreq that we own.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return Err(io::Error::last_os_error());
        }
        let sock = std::os::fd::OwnedFd::from_raw_fd_checked(sock);
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(io::Error::last_os_error());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

trait FromRawChecked {
    /// # Safety
    /// `fd` must be an open descriptor owned by the caller.
    unsafe fn from_raw_fd_checked(fd: i32) -> Self;
}

impl FromRawChecked for std::os::fd::OwnedFd {
    unsafe fn from_raw_fd_checked(fd: i32) -> Self {
        use std::os::fd::FromRawFd;
        std::os::fd::OwnedFd::from_raw_fd(fd)
    }
}
