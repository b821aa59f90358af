//! The service: listeners (a unix socket, TCP with mutual TLS, or what
//! systemd hands over), one HTTP/1.1 connection task each, and the end:
//! SIGTERM, an idle timeout, or `stop()`. Containers are not the service's
//! to stop: each belongs to its monitor, which outlives the service.

use std::convert::Infallible;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_rustls::rustls;

use crate::state::{EngineConfig, State};

/// How `berth system service` runs.
#[derive(Clone, Debug)]
pub struct ServiceOptions {
    pub engine: EngineConfig,
    /// `unix:///path`, `tcp://host:port`, `fd://` (systemd's sockets);
    /// none: `unix://STATE_DIR/berth.sock`, or systemd's when it passed some.
    pub hosts: Vec<String>,
    /// Exit after this long with nothing under way; None runs until stopped.
    pub idle: Option<Duration>,
    pub tls: Option<TlsFiles>,
    /// Stop on SIGTERM and SIGINT (not when serving one command's run, as
    /// `berth compose` does: its provider hears Ctrl-C).
    pub signals: bool,
}

/// `--tlscacert`, `--tlscert`, `--tlskey`: clients must present a
/// certificate the CA signed.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The default socket under the state directory.
pub fn default_socket(state_dir: &Path) -> PathBuf {
    state_dir.join("berth.sock")
}

enum Bound {
    /// `owned`: the path is removed when the service ends (not for sockets
    /// systemd made).
    Unix {
        listener: std::os::unix::net::UnixListener,
        owned: Option<PathBuf>,
    },
    Tcp {
        listener: std::net::TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
    },
}

/// A running service.
pub struct Service {
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Arc<Notify>,
    /// Where it listens, as `unix://...` and `tcp://...`.
    pub endpoints: Vec<String>,
}

impl Service {
    /// Binds every listener (errors come back here), then serves them on a
    /// thread of its own.
    pub fn start(opts: ServiceOptions) -> Result<Service, String> {
        // Few malloc arenas, so that what the blocking threads freed goes
        // back to one place the idle service can return to the system.
        #[cfg(target_env = "gnu")]
        // SAFETY: mallopt only changes the allocator's tuning.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
        let tls = opts.tls.as_ref().map(tls_config).transpose()?;
        let mut bound = activated(tls.as_ref())?;
        let hosts = if opts.hosts.is_empty() && bound.is_empty() {
            vec![format!(
                "unix://{}",
                default_socket(&opts.engine.state_dir).display()
            )]
        } else {
            opts.hosts.clone()
        };
        for h in hosts.iter().filter(|h| *h != "fd://") {
            bound.push(bind(h, tls.as_ref())?);
        }
        if bound.is_empty() {
            return Err("no socket to serve: systemd passed none (fd://)".into());
        }
        let endpoints = bound.iter().map(describe).collect();
        let stop = Arc::new(Notify::new());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(512)
            .thread_keep_alive(Duration::from_secs(5))
            .enable_all()
            .build()
            .map_err(|e| format!("starting the service's runtime: {e}"))?;
        let state = Arc::new(State::new(opts.engine.clone()));
        let (idle, signals, stop2) = (opts.idle, opts.signals, stop.clone());
        let thread = std::thread::spawn(move || {
            runtime.block_on(serve(bound, state, stop2, idle, signals));
        });
        Ok(Service {
            thread: Some(thread),
            stop,
            endpoints,
        })
    }

    /// Tells the service to end (it stops accepting; answers under way are cut).
    pub fn stop(&self) {
        self.stop.notify_one();
    }

    /// Waits for the service to end.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn describe(b: &Bound) -> String {
    match b {
        Bound::Unix { listener, .. } => listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(|p| format!("unix://{}", p.display())))
            .unwrap_or_else(|| "unix://(systemd)".into()),
        Bound::Tcp { listener, .. } => listener
            .local_addr()
            .map(|a| format!("tcp://{a}"))
            .unwrap_or_default(),
    }
}

/// Binds `host`: `unix:///path` (0660, group `berth` where it exists) or
/// `tcp://host:port` (loopback only, unless with TLS).
fn bind(host: &str, tls: Option<&Arc<rustls::ServerConfig>>) -> Result<Bound, String> {
    if let Some(path) = host.strip_prefix("unix://") {
        let path = PathBuf::from(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                return Err(format!(
                    "{} is in use: another service listens there (stop it, or give another unix:// address)",
                    path.display()
                ));
            }
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let listener = std::os::unix::net::UnixListener::bind(&path)
            .map_err(|e| format!("listening on {}: {e}", path.display()))?;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660));
        if let Ok(Some(group)) = nix::unistd::Group::from_name("berth") {
            let _ = nix::unistd::chown(&path, Some(nix::unistd::Uid::from_raw(0)), Some(group.gid));
        }
        return Ok(Bound::Unix {
            listener,
            owned: Some(path),
        });
    }
    if let Some(addr) = host.strip_prefix("tcp://") {
        let listener =
            std::net::TcpListener::bind(addr).map_err(|e| format!("listening on {host}: {e}"))?;
        let local = listener
            .local_addr()
            .map_err(|e| format!("listening on {host}: {e}"))?;
        if tls.is_none() && !local.ip().is_loopback() {
            return Err(format!(
                "refusing to serve {host} without TLS: anyone who reaches it would be root here; use --tlsverify with --tlscacert, --tlscert and --tlskey, or a loopback address"
            ));
        }
        return Ok(Bound::Tcp {
            listener,
            tls: tls.cloned(),
        });
    }
    Err(format!(
        "unsupported address {host:?}: use unix:///path, tcp://host:port or fd://"
    ))
}

/// The sockets systemd passed (`LISTEN_FDS`, for this process).
fn activated(tls: Option<&Arc<rustls::ServerConfig>>) -> Result<Vec<Bound>, String> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count: RawFd = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if !ours || count <= 0 {
        return Ok(Vec::new());
    }
    // SAFETY: unsetenv before any thread of ours reads the environment.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    let mut out = Vec::new();
    for fd in 3..3 + count {
        // SAFETY: systemd passed these descriptors to us, each once.
        let family = unsafe {
            let mut addr: libc::sockaddr_storage = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            if libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len) != 0 {
                return Err(format!("descriptor {fd} from systemd is not a socket"));
            }
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            addr.ss_family as i32
        };
        out.push(match family {
            libc::AF_UNIX => Bound::Unix {
                // SAFETY: a listening unix socket we now own.
                listener: unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) },
                owned: None,
            },
            _ => Bound::Tcp {
                // SAFETY: a listening TCP socket we now own.
                listener: unsafe { std::net::TcpListener::from_raw_fd(fd) },
                tls: tls.cloned(),
            },
        });
    }
    Ok(out)
}

fn tls_config(f: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let read_certs = |p: &Path| -> Result<Vec<CertificateDer<'static>>, String> {
        CertificateDer::pem_file_iter(p)
            .and_then(|i| i.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs(&f.ca)? {
        roots
            .add(c)
            .map_err(|e| format!("{}: {e}", f.ca.display()))?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| format!("{}: {e}", f.ca.display()))?;
    let key =
        PrivateKeyDer::from_pem_file(&f.key).map_err(|e| format!("{}: {e}", f.key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(read_certs(&f.cert)?, key)
        .map_err(|e| format!("{}: {e}", f.cert.display()))?;
    Ok(Arc::new(config))
}

/// Tells systemd the service is ready (`Type=notify`), where it asked.
pub fn notify_ready() {
    let Ok(path) = std::env::var("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let sent = match path.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
                .and_then(|a| sock.send_to_addr(b"READY=1", &a))
        }
        None => sock.send_to(b"READY=1", &path),
    };
    if let Err(e) = sent {
        tracing::warn!("telling systemd we are ready: {e}");
    }
}

async fn serve(
    bound: Vec<Bound>,
    state: Arc<State>,
    stop: Arc<Notify>,
    idle: Option<Duration>,
    signals: bool,
) {
    let mut owned = Vec::new();
    let mut tasks = Vec::new();
    for b in bound {
        match b {
            Bound::Unix { listener, owned: o } => {
                owned.extend(o);
                let _ = listener.set_nonblocking(true);
                match tokio::net::UnixListener::from_std(listener) {
                    Ok(l) => tasks.push(tokio::spawn(accept_unix(l, state.clone()))),
                    Err(e) => tracing::warn!("serving a unix socket: {e}"),
                }
            }
            Bound::Tcp { listener, tls } => {
                let _ = listener.set_nonblocking(true);
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => tasks.push(tokio::spawn(accept_tcp(l, tls, state.clone()))),
                    Err(e) => tracing::warn!("serving a TCP socket: {e}"),
                }
            }
        }
    }
    let idle_out = async {
        let mut trimmed = true;
        loop {
            let tick = idle.map_or(Duration::from_secs(1), |l| {
                (l / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
            });
            tokio::time::sleep(tick).await;
            let quiet = state.idle_for();
            if idle.is_some_and(|limit| quiet >= limit) {
                break;
            }
            // Once quiet (its idle threads gone, after 5 s), what the work
            // used goes back to the system.
            if quiet < Duration::from_secs(6) {
                trimmed = false;
            } else if !trimmed {
                #[cfg(target_env = "gnu")]
                // SAFETY: malloc_trim only releases free memory.
                unsafe {
                    libc::malloc_trim(0);
                }
                trimmed = true;
            }
        }
    };
    let signalled = async {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signals,
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (true, Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = stop.notified() => {}
        _ = idle_out => {}
        _ = signalled => {}
    }
    for t in tasks {
        t.abort();
    }
    for p in owned {
        let _ = std::fs::remove_file(p);
    }
}

async fn accept_unix(listener: tokio::net::UnixListener, state: Arc<State>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(connection(
                    hyper_util::rt::TokioIo::new(stream),
                    state.clone(),
                ));
            }
            Err(e) => {
                tracing::warn!("accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn accept_tcp(
    listener: tokio::net::TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: Arc<State>,
) {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let state = state.clone();
        match &acceptor {
            None => {
                tokio::spawn(connection(hyper_util::rt::TokioIo::new(stream), state));
            }
            Some(a) => {
                let a = a.clone();
                tokio::spawn(async move {
                    match a.accept(stream).await {
                        Ok(s) => connection(hyper_util::rt::TokioIo::new(s), state).await,
                        Err(e) => tracing::info!(%peer, "TLS handshake refused: {e}"),
                    }
                });
            }
        }
    }
}

async fn connection<I>(io: I, state: Arc<State>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(crate::routes::handle(state, req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .with_upgrades()
        .await;
}
