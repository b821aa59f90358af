//! Published ports without a bridge: the host side listens (bound before
//! the container starts, so a port in use is an error up front), and each
//! connection is carried to 127.0.0.1:PORT inside the container's network
//! namespace. Sockets keep the namespace they were made in, so one thread
//! that entered the container's namespace makes them all; bytes move with
//! splice(2) through a pipe, never through user space. UDP ports relay each
//! client's datagrams through a socket of its own inside the container.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
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
    listeners: Vec<(PortSpec, Listener)>,
    stop: Arc<AtomicBool>,
}

enum Listener {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// What the thread inside the container's namespace makes: a connection to
/// a TCP port, or a UDP socket connected to a port.
enum Request {
    Tcp(u16, mpsc::Sender<std::io::Result<TcpStream>>),
    Udp(u16, mpsc::Sender<std::io::Result<UdpSocket>>),
}

/// How long a UDP relay waits before looking at the stop flag again.
const UDP_TICK: std::time::Duration = std::time::Duration::from_millis(500);
/// UDP clients relayed at once per port; beyond, new ones are dropped.
const UDP_FLOWS: usize = 1024;

impl Forwarder {
    /// Binds every port (`host_port` 0 takes a free one). A port in use is
    /// docker's error, before anything else happens.
    pub fn bind(specs: &[PortSpec]) -> Result<Forwarder, ForwardError> {
        let mut listeners = Vec::new();
        for s in specs {
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
            let bound = if s.proto == "udp" {
                UdpSocket::bind(addr).map(Listener::Udp)
            } else {
                TcpListener::bind(addr).map(Listener::Tcp)
            };
            let l = bound.map_err(|e| {
                ForwardError(format!(
                    "driver failed programming external connectivity: Bind for {addr} failed: {}",
                    if e.kind() == std::io::ErrorKind::AddrInUse {
                        "port is already allocated".to_string()
                    } else {
                        e.to_string()
                    }
                ))
            })?;
            let local = match &l {
                Listener::Tcp(t) => t.local_addr(),
                Listener::Udp(u) => u.local_addr(),
            };
            let mut bound = s.clone();
            bound.host_port = local.map(|a| a.port()).unwrap_or(s.host_port);
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
        let ns = crate::open_netns(netns).map_err(|e| ForwardError(e.0))?;
        let (tx, rx) = mpsc::channel::<Request>();
        crate::spawn_started(move || {
            // This thread alone enters the container's namespace.
            if crate::enter(&ns).is_err() {
                tracing::warn!("cannot enter the container's network namespace");
                return;
            }
            for request in rx {
                match request {
                    Request::Tcp(port, reply) => {
                        let _ = reply.send(TcpStream::connect(("127.0.0.1", port)));
                    }
                    Request::Udp(port, reply) => {
                        let socket = UdpSocket::bind(("127.0.0.1", 0))
                            .and_then(|u| u.connect(("127.0.0.1", port)).map(|()| u));
                        let _ = reply.send(socket);
                    }
                }
            }
        });
        for (spec, l) in &self.listeners {
            let (tx, stop, port) = (tx.clone(), self.stop.clone(), spec.container_port);
            match l {
                Listener::Tcp(l) => {
                    let l = l.try_clone().map_err(|e| ForwardError(e.to_string()))?;
                    crate::spawn_started(move || serve_tcp(&l, &tx, &stop, port));
                }
                Listener::Udp(u) => {
                    let u = u.try_clone().map_err(|e| ForwardError(e.to_string()))?;
                    let _ = u.set_read_timeout(Some(UDP_TICK));
                    crate::spawn_started(move || serve_udp(&u, &tx, &stop, port));
                }
            }
        }
        Ok(())
    }
}

fn serve_tcp(l: &TcpListener, tx: &mpsc::Sender<Request>, stop: &AtomicBool, port: u16) {
    for conn in l.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(client) = conn else { continue };
        let (reply_tx, reply_rx) = mpsc::channel();
        if tx.send(Request::Tcp(port, reply_tx)).is_err() {
            return;
        }
        match reply_rx.recv() {
            Ok(Ok(upstream)) => carry(client, upstream),
            _ => drop(client),
        }
    }
}

/// Relays datagrams: each client gets a socket inside the container, and a
/// thread sending that socket's replies back to the client.
fn serve_udp(host: &UdpSocket, tx: &mpsc::Sender<Request>, stop: &Arc<AtomicBool>, port: u16) {
    let mut flows: HashMap<SocketAddr, UdpSocket> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, client)) = host.recv_from(&mut buf) else {
            continue;
        };
        if !flows.contains_key(&client) {
            if flows.len() >= UDP_FLOWS {
                continue;
            }
            let (reply_tx, reply_rx) = mpsc::channel();
            if tx.send(Request::Udp(port, reply_tx)).is_err() {
                return;
            }
            let Ok(Ok(inner)) = reply_rx.recv() else {
                continue;
            };
            let _ = inner.set_read_timeout(Some(UDP_TICK));
            let (Ok(back), Ok(host)) = (inner.try_clone(), host.try_clone()) else {
                continue;
            };
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(n) = back.recv(&mut buf) {
                        let _ = host.send_to(&buf[..n], client);
                    }
                }
            });
            flows.insert(client, inner);
        }
        let _ = flows[&client].send(&buf[..n]);
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for (_, l) in &self.listeners {
            // Wakes the accept loop, which then sees the stop flag (UDP
            // relays see it within their read timeout).
            if let Listener::Tcp(l) = l {
                // SAFETY: shutdown on a socket we own.
                unsafe { libc::shutdown(l.as_raw_fd(), libc::SHUT_RDWR) };
            }
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
        let n = splice(from.as_raw_fd(), pw.as_raw_fd(), CHUNK, flags);
        if n <= 0 {
            break;
        }
        let mut left = n as usize;
        while left > 0 {
            let m = splice(pr.as_raw_fd(), to.as_raw_fd(), left, flags);
            if m <= 0 {
                break 'outer;
            }
            left -= m as usize;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}

/// splice(2) of up to `len` bytes between two descriptors, no offsets.
fn splice(from: RawFd, to: RawFd, len: usize, flags: libc::c_uint) -> isize {
    // SAFETY: the caller holds both descriptors open; no offsets are passed.
    unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            flags,
        )
    }
}
