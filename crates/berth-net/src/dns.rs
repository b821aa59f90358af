//! The embedded DNS server of user networks, as docker's: it listens on
//! 127.0.0.11:53 inside a container's namespace, answers the names of the
//! containers it shares a network with, and forwards other questions to the
//! host's resolvers from the host's namespace (so a resolver on the host's
//! loopback still answers).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::NetError;

/// Answers a name (lowercase, no trailing dot): Some addresses when it is a
/// container's, None to forward the question.
pub type Lookup = Box<dyn Fn(&str) -> Option<Vec<IpAddr>> + Send + Sync>;

/// A running server (UDP and TCP); it stops when dropped.
pub struct DnsServer {
    stop: Arc<AtomicBool>,
    tcp: TcpListener,
}

/// Where the server listens inside the container.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);

impl DnsServer {
    /// Binds 127.0.0.11:53 in the namespace at `netns` and serves from a thread.
    pub fn start(
        netns: &Path,
        lookup: Lookup,
        upstream: Vec<SocketAddr>,
    ) -> Result<DnsServer, NetError> {
        // A socket keeps the namespace it was made in.
        let (socket, tcp) = crate::in_netns(netns, || {
            let bind = || {
                Ok((
                    UdpSocket::bind((ADDRESS, 53))?,
                    TcpListener::bind((ADDRESS, 53))?,
                ))
            };
            bind().map_err(|e: std::io::Error| {
                NetError(format!("embedded DNS server on {ADDRESS}:53: {e}"))
            })
        })?;
        let _ = socket.set_read_timeout(Some(Duration::from_secs(1)));
        let stop = Arc::new(AtomicBool::new(false));
        let resolver = Arc::new(Resolver { lookup, upstream });
        let (st, r) = (stop.clone(), resolver.clone());
        crate::spawn_started(move || serve_udp(&socket, &st, &r));
        let (listener, st) = (
            tcp.try_clone().map_err(|e| NetError(e.to_string()))?,
            stop.clone(),
        );
        crate::spawn_started(move || serve_tcp(&listener, &st, &resolver));
        Ok(DnsServer { stop, tcp })
    }
}

/// What answers a query: the containers' names, then the upstream servers.
struct Resolver {
    lookup: Lookup,
    upstream: Vec<SocketAddr>,
}

impl Resolver {
    /// The answer to a query, asking upstream when the name is not a
    /// container's (SERVFAIL when nobody answers); None for junk.
    fn answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        let q = Question::parse(query)?;
        match (self.lookup)(&q.name) {
            Some(ips) => Some(q.answer(query, &ips)),
            None => Some(forward(query, &self.upstream).unwrap_or_else(|| q.fail(query))),
        }
    }

    /// Whether the query is for a container's name (answered at once).
    fn local(&self, query: &[u8]) -> bool {
        Question::parse(query).is_some_and(|q| (self.lookup)(&q.name).is_some())
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        // The UDP thread sees it within its read timeout. (Not shutdown(2):
        // a UDP receive it wakes returns no address, which std asserts on.)
        self.stop.store(true, Ordering::Relaxed);
        // SAFETY: shutdown on a listener we hold; it wakes the accept loop.
        unsafe { libc::shutdown(self.tcp.as_raw_fd(), libc::SHUT_RDWR) };
    }
}

fn serve_udp(socket: &UdpSocket, stop: &AtomicBool, resolver: &Arc<Resolver>) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, client)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let query = buf[..n].to_vec();
        if resolver.local(&query) {
            if let Some(reply) = resolver.answer(&query) {
                let _ = socket.send_to(&reply, client);
            }
            continue;
        }
        // Forwarding waits on another server: not on this thread.
        let (socket, resolver) = (socket.try_clone(), resolver.clone());
        std::thread::spawn(move || {
            if let (Ok(socket), Some(reply)) = (socket, resolver.answer(&query)) {
                let _ = socket.send_to(&reply, client);
            }
        });
    }
}

/// DNS over TCP (RFC 7766): each message behind its two-byte length, as
/// many as the client sends on one connection.
fn serve_tcp(listener: &TcpListener, stop: &AtomicBool, resolver: &Arc<Resolver>) {
    for conn in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut conn) = conn else { continue };
        let resolver = resolver.clone();
        std::thread::spawn(move || {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            while let Some(query) = read_framed(&mut conn) {
                let Some(reply) = resolver.answer(&query) else {
                    return;
                };
                let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&reply);
                if conn.write_all(&framed).is_err() {
                    return;
                }
            }
        });
    }
}

fn read_framed(conn: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    conn.read_exact(&mut len).ok()?;
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    conn.read_exact(&mut msg).ok()?;
    Some(msg)
}

/// Asks each upstream resolver in turn; None when none answered.
fn forward(query: &[u8], upstream: &[SocketAddr]) -> Option<Vec<u8>> {
    for server in upstream {
        let bind: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse().ok()?
        } else {
            "[::]:0".parse().ok()?
        };
        let Ok(s) = UdpSocket::bind(bind) else {
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.send_to(query, server).is_err() {
            continue;
        }
        let mut buf = [0u8; 4096];
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            if n >= 2 && buf[..2] == query[..2] {
                return Some(buf[..n].to_vec());
            }
        }
    }
    None
}

/// The one question of a standard query.
struct Question {
    name: String,
    qtype: u16,
    /// Where the question section ends in the query.
    end: usize,
}

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const TYPE_ANY: u16 = 255;

impl Question {
    fn parse(m: &[u8]) -> Option<Question> {
        if m.len() < 12 || m[2] & 0x80 != 0 || (m[2] >> 3) & 0xf != 0 {
            return None; // a response, or not a standard query
        }
        if u16::from_be_bytes([m[4], m[5]]) != 1 {
            return None;
        }
        let (mut i, mut labels) = (12, Vec::new());
        loop {
            let len = *m.get(i)? as usize;
            i += 1;
            if len == 0 {
                break;
            }
            if len > 63 {
                return None; // compression has no place in a question
            }
            labels.push(String::from_utf8_lossy(m.get(i..i + len)?).to_lowercase());
            i += len;
        }
        let qtype = u16::from_be_bytes([*m.get(i)?, *m.get(i + 1)?]);
        m.get(i + 3)?;
        Some(Question {
            name: labels.join("."),
            qtype,
            end: i + 4,
        })
    }

    /// A response with the header, the question, and `rcode`.
    fn header(&self, query: &[u8], answers: u16, rcode: u8) -> Vec<u8> {
        let mut r = Vec::with_capacity(self.end + 16 * answers as usize);
        r.extend_from_slice(&query[..2]);
        // QR, AA, RD copied, RA; then the response code.
        r.push(0x84 | (query[2] & 0x01));
        r.push(0x80 | rcode);
        r.extend_from_slice(&[0, 1]);
        r.extend_from_slice(&answers.to_be_bytes());
        r.extend_from_slice(&[0, 0, 0, 0]);
        r.extend_from_slice(&query[12..self.end]);
        r
    }

    /// The addresses of a known name: A records for an A question, AAAA
    /// for AAAA, both for ANY; an empty answer for other types (the name
    /// exists, has no such record).
    fn answer(&self, query: &[u8], ips: &[IpAddr]) -> Vec<u8> {
        let wanted = |ip: &&IpAddr| match ip {
            IpAddr::V4(_) => matches!(self.qtype, TYPE_A | TYPE_ANY),
            IpAddr::V6(_) => matches!(self.qtype, TYPE_AAAA | TYPE_ANY),
        };
        let ips: Vec<&IpAddr> = ips.iter().filter(wanted).collect();
        let mut r = self.header(query, ips.len() as u16, 0);
        for ip in ips {
            // A pointer to the question's name, the type, class IN, TTL 600.
            let (kind, data) = match ip {
                IpAddr::V4(v4) => (TYPE_A, v4.octets().to_vec()),
                IpAddr::V6(v6) => (TYPE_AAAA, v6.octets().to_vec()),
            };
            r.extend_from_slice(&[0xc0, 12]);
            r.extend_from_slice(&kind.to_be_bytes());
            r.extend_from_slice(&[0, 1, 0, 0, 2, 0x58]);
            r.extend_from_slice(&(data.len() as u16).to_be_bytes());
            r.extend_from_slice(&data);
        }
        r
    }

    /// SERVFAIL: nobody could answer.
    fn fail(&self, query: &[u8]) -> Vec<u8> {
        self.header(query, 0, 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        q
    }

    #[test]
    fn answers_a_questions_with_every_address() {
        let q = query("Web.example", TYPE_A);
        let parsed = Question::parse(&q).unwrap();
        assert_eq!(parsed.name, "web.example");
        let both = [
            IpAddr::from([10, 0, 0, 2]),
            IpAddr::from([10, 0, 0, 3]),
            "fd00::2".parse().unwrap(),
        ];
        let r = parsed.answer(&q, &both);
        assert_eq!(&r[..2], &[0x12, 0x34], "the id is kept");
        assert_eq!(r[3] & 0x0f, 0, "NOERROR");
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 2);
        assert_eq!(&r[r.len() - 4..], &[10, 0, 0, 3]);
        let q6 = query("web", TYPE_AAAA);
        let r6 = Question::parse(&q6).unwrap().answer(&q6, &both);
        assert_eq!(u16::from_be_bytes([r6[6], r6[7]]), 1);
        assert_eq!(&r6[r6.len() - 18..r6.len() - 16], &[0, 16]);
        assert_eq!(r6[r6.len() - 16], 0xfd);
    }

    #[test]
    fn other_types_get_an_empty_answer_and_junk_is_ignored() {
        let q = query("web", TYPE_AAAA);
        let r = Question::parse(&q)
            .unwrap()
            .answer(&q, &[IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        assert_eq!(u16::from_be_bytes([r[6], r[7]]), 0);
        assert!(Question::parse(&[1, 2, 3]).is_none());
        let mut response = query("web", 1);
        response[2] |= 0x80;
        assert!(Question::parse(&response).is_none());
        let mut truncated = query("web", 1);
        truncated.truncate(15);
        assert!(Question::parse(&truncated).is_none());
    }

    #[test]
    fn failures_are_servfail() {
        let q = query("nowhere", TYPE_A);
        let r = Question::parse(&q).unwrap().fail(&q);
        assert_eq!(r[3] & 0x0f, 2);
    }
}
