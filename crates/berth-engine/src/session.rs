//! A terminal's session with a container — `attach`, and `run -it` — as a
//! client of the container's attach socket: our terminal raw and its size
//! sent along, our stdin to the container until the detach keys, our
//! signals forwarded with `sig_proxy`, its output to ours.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::attach::{self, Request};
use crate::lifecycle::WaitCondition;
use crate::model::Container;
use crate::{Engine, EngineError};

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attached {
    /// The container exited with this code.
    Exited(i32),
    /// The user typed the detach keys; the container runs on.
    Detached,
}

/// How a session behaves.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Our stdin goes to the container (when it was started with -i).
    pub stdin: bool,
    /// Our signals go to the container (not with a TTY, which has its own).
    pub sig_proxy: bool,
    /// The keys that end the session and leave the container running.
    pub detach_keys: Vec<u8>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            stdin: true,
            sig_proxy: true,
            detach_keys: DEFAULT_DETACH_KEYS.to_vec(),
        }
    }
}

/// docker's default: Ctrl-P Ctrl-Q.
pub const DEFAULT_DETACH_KEYS: [u8; 2] = [0x10, 0x11];

/// `--detach-keys`: docker's `ctrl-p,ctrl-q`, `ctrl-a,x`, `ctrl-@`; empty
/// turns detaching off.
pub fn parse_detach_keys(s: &str) -> Result<Vec<u8>, EngineError> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let bad = |k: &str| {
        EngineError::invalid(format!(
            "Invalid detach keys ({k}) provided: a comma-separated list of keys, as ctrl-p,ctrl-q (ctrl-a to ctrl-z, ctrl-@, ctrl-[, ctrl-\\, ctrl-], ctrl-^, ctrl-_, or single characters)"
        ))
    };
    s.split(',')
        .map(|k| {
            if let Some(c) = k.strip_prefix("ctrl-") {
                let b = c.as_bytes();
                if b.len() != 1 {
                    return Err(bad(k));
                }
                match b[0] {
                    b'a'..=b'z' => Ok(b[0] - b'a' + 1),
                    b'@' => Ok(0),
                    b'[' => Ok(27),
                    b'\\' => Ok(28),
                    b']' => Ok(29),
                    b'^' => Ok(30),
                    b'_' => Ok(31),
                    _ => Err(bad(k)),
                }
            } else if k.len() == 1 {
                Ok(k.as_bytes()[0])
            } else {
                Err(bad(k))
            }
        })
        .collect()
}

/// Finds the detach keys in a stream of input, holding back a prefix of
/// them until it is known whether the rest follows.
pub(crate) struct DetachMatcher {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachMatcher {
    pub(crate) fn new(keys: Vec<u8>) -> Self {
        DetachMatcher { keys, matched: 0 }
    }

    /// What of `data` to pass on, and whether the keys were typed.
    pub(crate) fn feed(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
                continue;
            }
            // Not the keys after all: what was held back goes on.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

/// How copying our stdin ended.
#[derive(Debug, PartialEq)]
pub(crate) enum StdinEnd {
    /// Our stdin ran out.
    Eof,
    /// The other side stopped taking it.
    Closed,
    /// The detach keys were typed.
    Detached,
}

/// Copies our stdin to `to`, holding back the detach keys; stops when they
/// are typed, at end of input, or when `to` will take no more.
pub(crate) fn copy_stdin(to: &mut impl Write, keys: Vec<u8>) -> StdinEnd {
    let mut matcher = DetachMatcher::new(keys);
    let mut buf = [0u8; 4096];
    let mut stdin = std::io::stdin().lock();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => return StdinEnd::Eof,
            Ok(n) => n,
        };
        let (data, detached) = matcher.feed(&buf[..n]);
        if to.write_all(&data).is_err() {
            return StdinEnd::Closed;
        }
        if detached {
            return StdinEnd::Detached;
        }
    }
}

impl Engine {
    /// `attach` to a running container.
    pub fn attach(&self, key: &str, opts: &SessionOptions) -> Result<Attached, EngineError> {
        let c = self.container(key)?;
        if !c.state.running {
            return Err(EngineError::Conflict(
                "You cannot attach to a stopped container, start it first".into(),
            ));
        }
        if c.state.paused {
            return Err(EngineError::Conflict(
                "You cannot attach to a paused container, unpause it first".into(),
            ));
        }
        let waiter = self.waiter(&c.id, WaitCondition::NextExit)?;
        let path = attach::socket_path(&self.state_dir, c.short_id());
        let sock = attach::connect(&path, &request(&c, opts))
            .map_err(|e| EngineError::Runtime(format!("attaching to {}: {e}", c.short_name())))?;
        let detached = self.session(&c, sock, opts)?;
        self.settle(detached, &waiter)
    }

    /// `run -it` (and the runs that detach or keep their signals): starts
    /// container `key` under its monitor with this session attached before
    /// its command runs, so that nothing it prints is missed.
    pub fn start_and_attach(
        &self,
        key: &str,
        opts: &SessionOptions,
    ) -> Result<Attached, EngineError> {
        let c = self.container(key)?;
        if c.state.running {
            // As docker's `start -a`: the start is a no-op, the attach is not.
            return self.attach(key, opts);
        }
        let waiter = self.waiter(&c.id, WaitCondition::NextExit)?;
        let req = request(&c, opts);
        // Our terminal's size, set before the command runs.
        let size = c.config.tty.then(|| berth_runtime::tty::size(0)).flatten();
        let mut sock = None;
        self.start_detached_with(
            &c.id,
            Some(&mut |path: &std::path::Path| {
                sock = attach::connect(path, &req).ok();
                if let Some(size) = size {
                    let _ = attach::connect(
                        path,
                        &Request {
                            resize: Some(size),
                            ..Request::default()
                        },
                    );
                }
            }),
        )?;
        let sock = sock.ok_or_else(|| {
            EngineError::Runtime(format!(
                "attaching to {}: its monitor did not answer",
                c.short_name()
            ))
        })?;
        let detached = self.session(&c, sock, opts)?;
        self.settle(detached, &waiter)
    }

    fn settle(
        &self,
        detached: bool,
        waiter: &crate::lifecycle::Waiter,
    ) -> Result<Attached, EngineError> {
        if detached {
            return Ok(Attached::Detached);
        }
        Ok(Attached::Exited(self.wait_for(waiter, &|| false)?))
    }

    /// Runs the session on `sock` until the container's output ends (true:
    /// the user detached).
    fn session(
        &self,
        c: &Container,
        sock: UnixStream,
        opts: &SessionOptions,
    ) -> Result<bool, EngineError> {
        use std::os::fd::AsRawFd;
        let path = attach::socket_path(&self.state_dir, c.short_id());
        let terminal = c.config.tty && nix::unistd::isatty(0).unwrap_or(false);
        let _raw = terminal
            .then(|| berth_runtime::tty::RawMode::enter(std::io::stdin()).ok())
            .flatten();
        let resize = {
            let path = path.clone();
            move || {
                if let Some((rows, cols)) = berth_runtime::tty::size(0) {
                    let _ = attach::connect(
                        &path,
                        &Request {
                            resize: Some((rows, cols)),
                            ..Request::default()
                        },
                    );
                }
            }
        };
        if terminal {
            resize();
        }
        let detached = Arc::new(AtomicBool::new(false));
        if opts.stdin && c.config.open_stdin {
            let mut to = sock.try_clone().map_err(|e| EngineError::io(&path, e))?;
            let keys = if c.config.tty {
                opts.detach_keys.clone()
            } else {
                Vec::new()
            };
            let flag = detached.clone();
            // Not joined: it may sit in read(stdin) after the container is gone.
            std::thread::spawn(move || match copy_stdin(&mut to, keys) {
                StdinEnd::Detached => {
                    flag.store(true, Ordering::SeqCst);
                    // Ends our reading of the output too.
                    let _ = to.shutdown(std::net::Shutdown::Both);
                }
                // Our input ended: the container's ends too (with StdinOnce).
                StdinEnd::Eof => {
                    let _ = to.shutdown(std::net::Shutdown::Write);
                }
                StdinEnd::Closed => {}
            });
        }
        let mut handled = vec![libc::SIGWINCH];
        if opts.sig_proxy && !c.config.tty {
            handled.extend([
                libc::SIGINT,
                libc::SIGTERM,
                libc::SIGHUP,
                libc::SIGQUIT,
                libc::SIGUSR1,
                libc::SIGUSR2,
            ]);
        }
        let mut signals = signal_hook::iterator::Signals::new(&handled)
            .map_err(|e| EngineError::Runtime(format!("signal handlers: {e}")))?;
        let signal_handle = signals.handle();
        let (root, state, id) = (
            self.root().to_path_buf(),
            self.state_dir.clone(),
            c.id.clone(),
        );
        std::thread::spawn(move || {
            for sig in signals.forever() {
                if sig == libc::SIGWINCH {
                    if terminal {
                        resize();
                    }
                    continue;
                }
                // The container's pid now (a session may begin before it runs).
                if let Ok(engine) = Engine::open(&root, &state) {
                    if let Ok(c) = engine.container(&id) {
                        // SAFETY: kill(2) with the container's pid and a valid signal.
                        unsafe { libc::kill(c.state.pid, sig) };
                    }
                }
            }
        });
        let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
        let mut sock = sock;
        if c.config.tty {
            let mut buf = [0u8; 32 * 1024];
            while let Ok(n) = sock.read(&mut buf) {
                if n == 0 || out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                    break;
                }
            }
        } else {
            while let Ok(Some((stream, data))) = attach::read_frame(&mut sock) {
                let w: &mut dyn Write = if stream == attach::STDERR {
                    &mut err
                } else {
                    &mut out
                };
                if w.write_all(&data).and_then(|()| w.flush()).is_err() {
                    break;
                }
            }
        }
        let _ = sock.as_raw_fd();
        signal_handle.close();
        Ok(detached.load(Ordering::SeqCst))
    }
}

/// The attach request of a session: stdout and stderr as the container
/// was created to show them, stdin when asked and open.
fn request(c: &Container, opts: &SessionOptions) -> Request {
    Request {
        stdin: opts.stdin && c.config.open_stdin,
        stdout: true,
        stderr: true,
        resize: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_as_dockers() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), [1, b'x']);
        assert_eq!(parse_detach_keys("ctrl-@").unwrap(), [0]);
        assert!(parse_detach_keys("ctrl-pp").is_err());
        assert!(parse_detach_keys("alt-x").is_err());
    }

    #[test]
    fn the_matcher_holds_back_a_prefix_only_while_it_may_be_the_keys() {
        let mut m = DetachMatcher::new(vec![16, 17]);
        assert_eq!(m.feed(b"ab\x10"), (b"ab".to_vec(), false));
        // Ctrl-P then something else: both go on.
        assert_eq!(m.feed(b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(m.feed(b"\x10"), (Vec::new(), false));
        assert_eq!(m.feed(b"\x11rest"), (Vec::new(), true));
        let mut none = DetachMatcher::new(vec![]);
        assert_eq!(none.feed(b"\x10\x11"), (b"\x10\x11".to_vec(), false));
    }
}
