//! Published ports without a bridge: the host side listens (bound before
//! the container starts, so a port in use is an error up front), and each
//! connection is carried to 127.0.0.1:PORT inside the container's network
//! namespace. Sockets keep the namespace they were made in, so one thread
//! that entered the container's namespace makes them all; bytes move with
//! splice(2) through a pipe, never through user space.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use crate::publish::PortSpec;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ForwardError(String);

/// Listeners for a container's published ports, and the threads serving them.
pub struct Forwarder {
    listeners: Vec<(PortSpec, TcpListener)>,
    stop: Arc<AtomicBool>,
}

type Request = (u16, mpsc::Sender<std::io::Result<TcpStream>>);

impl Forwarder {
    /// Binds every port (`host_port` 0 takes a free one). A port in use is
    /// docker's error, before anything else happens.
    pub fn bind(specs: &[PortSpec]) -> Result<Forwarder, ForwardError> {
        let mut listeners = Vec::new();
        for s in specs {
            if s.proto != "tcp" {
                return Err(ForwardError(format!(
                    "publishing {} ports is not supported yet: TCP only",
                    s.proto
                )));
            }
            let ip = if s.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &s.host_ip
            };
            let addr: SocketAddr = format!(
                "{}:{}",
                if ip.contains(':') {
                    format!("[{ip}]")
                } else {
                    ip.to_string()
                },
                s.host_port
            )
            .parse()
            .map_err(|_| ForwardError(format!("invalid host address {ip:?}")))?;
            let l = TcpListener::bind(addr).map_err(|e| {
                ForwardError(format!(
                    "driver failed programming external connectivity: Bind for {addr} failed: {}",
                    if e.kind() == std::io::ErrorKind::AddrInUse {
                        "port is already allocated".to_string()
                    } else {
                        e.to_string()
                    }
                ))
            })?;
            let mut bound = s.clone();
            bound.host_port = l.local_addr().map(|a| a.port()).unwrap_or(s.host_port);
            listeners.push((bound, l));
        }
        Ok(Forwarder {
            listeners,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The ports as bound (free ports resolved).
    pub fn bound(&self) -> Vec<PortSpec> {
        self.listeners.iter().map(|(s, _)| s.clone()).collect()
    }

    /// Starts serving: connections go to the namespace at `netns`.
    pub fn start(&self, netns: &Path) -> Result<(), ForwardError> {
        if self.listeners.is_empty() {
            return Ok(());
        }
        let ns = std::fs::File::open(netns)
            .map_err(|e| ForwardError(format!("{}: {e}", netns.display())))?;
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::spawn(move || {
            // This thread alone enters the container's namespace.
            // SAFETY: setns on an open namespace file, for this thread only.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                tracing::warn!("cannot enter the container's network namespace");
                return;
            }
            for (port, reply) in rx {
                let _ = reply.send(TcpStream::connect(("127.0.0.1", port)));
            }
        });
        for (spec, l) in &self.listeners {
            let l = l.try_clone().map_err(|e| ForwardError(e.to_string()))?;
            let (tx, stop, port) = (tx.clone(), self.stop.clone(), spec.container_port);
            std::thread::spawn(move || {
                for conn in l.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let Ok(client) = conn else { continue };
                    let (reply_tx, reply_rx) = mpsc::channel();
                    if tx.send((port, reply_tx)).is_err() {
                        return;
                    }
                    match reply_rx.recv() {
                        Ok(Ok(upstream)) => carry(client, upstream),
                        _ => drop(client),
                    }
                }
            });
        }
        Ok(())
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for (_, l) in &self.listeners {
            // Wakes the accept loop, which then sees the stop flag.
            // SAFETY: shutdown on a socket we own.
            unsafe { libc::shutdown(l.as_raw_fd(), libc::SHUT_RDWR) };
        }
    }
}

/// Both directions of one connection, each on its own thread.
fn carry(a: TcpStream, b: TcpStream) {
    let _ = a.set_nodelay(true);
    let _ = b.set_nodelay(true);
    let (a2, b2) = match (a.try_clone(), b.try_clone()) {
        (Ok(a2), Ok(b2)) => (a2, b2),
        _ => return,
    };
    std::thread::spawn(move || pump(&a, &b));
    std::thread::spawn(move || pump(&b2, &a2));
}

/// Moves bytes from `from` to `to` until `from` ends, then ends `to`'s writing side.
fn pump(from: &TcpStream, to: &TcpStream) {
    const CHUNK: usize = 1 << 20;
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return;
    }
    // SAFETY: both descriptors were just made by pipe2.
    let (pr, pw) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: fcntl on our pipe; a smaller pipe is fine if this fails.
    unsafe { libc::fcntl(pw.as_raw_fd(), libc::F_SETPIPE_SZ, CHUNK as libc::c_int) };
    // Not SPLICE_F_MORE: on a socket it corks, holding small replies back ~200 ms.
    let flags = libc::SPLICE_F_MOVE;
    'outer: loop {
        // SAFETY: splice between descriptors we hold, no offsets.
        let n = unsafe {
            libc::splice(
                from.as_raw_fd(),
                std::ptr::null_mut(),
                pw.as_raw_fd(),
                std::ptr::null_mut(),
                CHUNK,
                flags,
            )
        };
        if n <= 0 {
            break;
        }
        let mut left = n as usize;
        while left > 0 {
            // SAFETY: as above.
            let m = unsafe {
                libc::splice(
                    pr.as_raw_fd(),
                    std::ptr::null_mut(),
                    to.as_raw_fd(),
                    std::ptr::null_mut(),
                    left,
                    flags,
                )
            };
            if m <= 0 {
                break 'outer;
            }
            left -= m as usize;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}
