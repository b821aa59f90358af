//! Probes made from inside a container's network namespace (Kubernetes'
//! `tcpSocket` and `httpGet`), so that they need nothing in the image.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::NetError;

/// Opens (and closes) a TCP connection to `addr:port` in `netns`.
pub fn tcp(netns: &Path, addr: IpAddr, port: u16, timeout: Duration) -> Result<(), NetError> {
    crate::in_netns(netns, move || {
        TcpStream::connect_timeout(&SocketAddr::new(addr, port), timeout)
            .map(drop)
            .map_err(|e| NetError(format!("dial tcp {}: {e}", SocketAddr::new(addr, port))))
    })
}

/// `GET path` from `addr:port` in `netns`: the status code, which the
/// kubelet takes for success from 200 to 399.
pub fn http_get(
    netns: &Path,
    addr: IpAddr,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<u16, NetError> {
    let target = SocketAddr::new(addr, port);
    let has_host = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host"));
    let mut request = format!("GET {path} HTTP/1.1\r\n");
    if !has_host {
        request.push_str(&format!("Host: {target}\r\n"));
    }
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("User-Agent: berth-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    crate::in_netns(netns, move || {
        let fail = |e: std::io::Error| NetError(format!("Get \"http://{target}{}\": {e}", ""));
        let mut s = TcpStream::connect_timeout(&target, timeout).map_err(fail)?;
        s.set_read_timeout(Some(timeout)).map_err(fail)?;
        s.set_write_timeout(Some(timeout)).map_err(fail)?;
        s.write_all(request.as_bytes()).map_err(fail)?;
        // The status line is all that counts; read until it is whole.
        let mut head = Vec::new();
        let mut buf = [0u8; 512];
        while !head.contains(&b'\n') && head.len() < 4096 {
            let n = s.read(&mut buf).map_err(fail)?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&head);
        line.split_whitespace()
            .nth(1)
            .filter(|_| line.starts_with("HTTP/"))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| NetError(format!("http://{target}: not an HTTP response")))
    })
}
