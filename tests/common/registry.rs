//! Real registries for the tests: Debian's docker-registry (the distribution
//! project's) on 127.0.0.1 with a temporary root, optionally behind htpasswd
//! basic auth or token auth (tests/fixtures/token-server.py), and a proxy that
//! injects faults (5xx, dropped and corrupted bodies) in front of one.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A self-signed key and certificate (`NAME.key`, `NAME.crt` in `dir`) made by openssl.
fn self_signed(dir: &Path, name: &str, subject: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let (key, cert) = (
        dir.join(format!("{name}.key")),
        dir.join(format!("{name}.crt")),
    );
    let ok = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject,
        ])
        .args(extra)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs")
        .success();
    assert!(ok, "openssl made no certificate");
    (key, cert)
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub enum Auth {
    None,
    /// htpasswd basic auth for one user.
    Basic {
        user: String,
        password: String,
    },
    /// Bearer tokens from a token service that knows one user.
    Token {
        user: String,
        password: String,
    },
}

pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub dir: tempfile::TempDir,
    children: Vec<Child>,
}

impl Registry {
    pub fn start() -> Registry {
        Self::with_auth(Auth::None)
    }

    pub fn with_auth(auth: Auth) -> Registry {
        Self::start_with(auth, false)
    }

    /// A registry that speaks only HTTPS, with a self-signed certificate.
    pub fn with_tls() -> Registry {
        Self::start_with(Auth::None, true)
    }

    fn start_with(auth: Auth, tls: bool) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("berth-registry-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let mut children = Vec::new();
        let mut config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n",
            dir.path().join("data").display()
        );
        match &auth {
            Auth::None => {}
            Auth::Basic { user, password } => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .expect("htpasswd (apache2-utils) runs");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, out.stdout).unwrap();
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                    file.display()
                ));
            }
            Auth::Token { user, password } => {
                let (key, cert) = self_signed(dir.path(), "token", "/CN=berth-test-token", &[]);
                let token_port = free_port();
                let script = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../tests/fixtures/token-server.py");
                children.push(
                    Command::new("python3")
                        .arg(script)
                        .arg(token_port.to_string())
                        .arg(&key)
                        .arg(&cert)
                        .arg(user)
                        .arg(password)
                        .arg(dir.path().join("tokens.log"))
                        .spawn()
                        .expect("python3 runs"),
                );
                wait_for_port(token_port, "the token server");
                config.push_str(&format!(
                    "auth:\n  token:\n    realm: http://127.0.0.1:{token_port}/token\n    service: berth-test-registry\n    issuer: berth-test\n    rootcertbundle: {}\n",
                    cert.display()
                ));
            }
        }
        if tls {
            let (key, cert) = self_signed(
                dir.path(),
                "tls",
                "/CN=127.0.0.1",
                &["-addext", "subjectAltName=IP:127.0.0.1"],
            );
            config = config.replace(
                &format!("  addr: 127.0.0.1:{port}\n"),
                &format!(
                    "  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {}\n    key: {}\n",
                    cert.display(),
                    key.display()
                ),
            );
        }
        let config_file = dir.path().join("config.yml");
        std::fs::write(&config_file, config).unwrap();
        children.push(
            Command::new("docker-registry")
                .arg("serve")
                .arg(&config_file)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
                .spawn()
                .expect("docker-registry runs (Debian package docker-registry)"),
        );
        wait_for_port(port, "docker-registry");
        Registry {
            addr: format!("127.0.0.1:{port}"),
            dir,
            children,
        }
    }

    /// The token requests the token service answered (token auth only).
    pub fn token_requests(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("tokens.log"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// Stores a blob with plain HTTP (no auth), for content berth would not make.
    pub fn put_blob(&self, repo: &str, data: &[u8]) -> String {
        let digest = sha256(data);
        let agent = agent();
        let resp = agent
            .post(format!("http://{}/v2/{repo}/blobs/uploads/", self.addr))
            .send_empty()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 202);
        let loc = resp
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let loc = if loc.starts_with("http") {
            loc
        } else {
            format!("http://{}{loc}", self.addr)
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let resp = agent
            .put(format!("{loc}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .send(data)
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201, "blob upload");
        digest
    }

    /// Stores a manifest or index under `reference`; returns its digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        data: &[u8],
    ) -> String {
        let resp = agent()
            .put(format!(
                "http://{}/v2/{repo}/manifests/{reference}",
                self.addr
            ))
            .header("Content-Type", media_type)
            .send(data)
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            201,
            "manifest upload: {}",
            resp.into_body().read_to_string().unwrap_or_default()
        );
        sha256(data)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .new_agent()
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// What the proxy does to the registry's answers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// Answers the first N blob downloads with 503.
    Unavailable(u32),
    /// Closes the first full blob download half way (the client must resume).
    DropOnce,
    /// Flips a byte in every blob download.
    Corrupt,
    /// Sends every blob download (resumed ones too) short, with the full
    /// Content-Length, and closes.
    Truncate,
    /// Replaces the Content-Type of manifest answers.
    ManifestType(&'static str),
    /// Sends blob bodies slowly (16 KiB every 20 ms).
    Slow,
}

/// An HTTP/1.1 proxy for one upstream registry, one request per connection.
pub struct FaultProxy {
    pub addr: String,
    /// Request lines seen, with their Range header if any.
    pub seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FaultProxy {
    pub fn start(upstream: &str, fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(AtomicU32::new(0));
        let upstream = upstream.to_string();
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (up, seen, count) = (upstream.clone(), seen2.clone(), count.clone());
                        std::thread::spawn(move || {
                            let _ = serve(conn, &up, fault, &seen, &count);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FaultProxy {
            addr,
            seen,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_head(conn: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    Ok(head)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn serve(
    mut conn: TcpStream,
    upstream: &str,
    fault: Fault,
    seen: &Mutex<Vec<String>>,
    count: &AtomicU32,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    // A TLS hello (a client trying HTTPS first) gets what Go's HTTP server
    // answers it, at once, so the client falls back to plain HTTP.
    let mut first = [0u8; 1];
    conn.peek(&mut first)?;
    if first[0] == 0x16 {
        return conn.write_all(
            b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
        );
    }
    let head = String::from_utf8_lossy(&read_head(&mut conn)?).into_owned();
    let request_line = head.lines().next().unwrap_or_default().to_string();
    let range = header(&head, "range").map(String::from);
    seen.lock().unwrap().push(match &range {
        Some(r) => format!("{request_line} [{r}]"),
        None => request_line.clone(),
    });
    if request_line.starts_with("CONNECT ") {
        // A proxy client's tunnel: what comes through it is served as if
        // sent here directly (the upstream is always the registry).
        conn.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        return serve(conn, upstream, fault, seen, count);
    }
    let len: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    conn.read_exact(&mut body)?;
    // Forward with the connection closed after one answer, so the response ends at EOF.
    let mut forwarded = String::new();
    for l in head.lines().filter(|l| !l.is_empty()) {
        if !l.to_ascii_lowercase().starts_with("connection:") {
            forwarded.push_str(l);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(forwarded.as_bytes())?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(answer.len());
    let (resp_head, resp_body) = answer.split_at(split);
    let mut resp_head = String::from_utf8_lossy(resp_head).into_owned();
    let mut resp_body = resp_body.to_vec();
    let is_get = request_line.starts_with("GET ");
    let blob_get = is_get
        && request_line.contains("/blobs/sha256:")
        && (resp_head.starts_with("HTTP/1.1 200") || resp_head.starts_with("HTTP/1.1 206"));
    let manifest_get = is_get && request_line.contains("/manifests/");
    match fault {
        Fault::Unavailable(n) if blob_get && count.fetch_add(1, Ordering::SeqCst) < n => {
            return conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
        Fault::DropOnce
            if blob_get
                && range.is_none()
                && resp_body.len() > 1024
                && count.fetch_add(1, Ordering::SeqCst) == 0 =>
        {
            conn.write_all(resp_head.as_bytes())?;
            conn.write_all(&resp_body[..resp_body.len() / 2])?;
            return Ok(());
        }
        Fault::Corrupt if blob_get && !resp_body.is_empty() => {
            let mid = resp_body.len() / 2;
            resp_body[mid] ^= 0xff;
        }
        Fault::Truncate if blob_get && !resp_body.is_empty() => {
            conn.write_all(resp_head.as_bytes())?;
            conn.write_all(&resp_body[..resp_body.len() / 2])?;
            return Ok(());
        }
        Fault::ManifestType(t) if manifest_get => {
            let old = header(&resp_head, "content-type")
                .unwrap_or_default()
                .to_string();
            resp_head = resp_head.replacen(
                &format!("Content-Type: {old}"),
                &format!("Content-Type: {t}"),
                1,
            );
        }
        Fault::Slow if blob_get => {
            conn.write_all(resp_head.as_bytes())?;
            for chunk in resp_body.chunks(16 * 1024) {
                conn.write_all(chunk)?;
                std::thread::sleep(Duration::from_millis(20));
            }
            return Ok(());
        }
        _ => {}
    }
    conn.write_all(resp_head.as_bytes())?;
    conn.write_all(&resp_body)
}

/// A `registries.toml` in `dir` with `text`; returns its path.
pub fn registries_file(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("registries.toml");
    std::fs::write(&p, text).unwrap();
    p
}
