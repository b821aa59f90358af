//! Attaching to a container's stdio: whoever holds a running container (its
//! monitor, or the `berth run` in the foreground) serves an attach socket in
//! the state directory, as conmon does. Each client says what it wants in a
//! one-line JSON request and is answered `ok`; it then receives the
//! container's output — docker's multiplexed frames (an 8-byte header:
//! stream, three zeros, big-endian length), or raw bytes with a TTY — and
//! what it writes is the container's input. A request with `resize` sets
//! the terminal's size. The CLI's `attach` and the API's hijacked attach
//! are both clients of this socket, so they behave alike.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// docker's stream numbers in the multiplexed format.
pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

/// A client that does not take output for this long is dropped, so one
/// stuck reader cannot stall the container.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// What an attach client asks for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Request {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// (rows, columns): set the terminal's size, and nothing else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resize: Option<(u16, u16)>,
}

/// Writes one frame of docker's multiplexed stream.
pub fn write_frame(w: &mut dyn Write, stream: u8, data: &[u8]) -> io::Result<()> {
    let mut header = [0u8; 8];
    header[0] = stream;
    header[4..].copy_from_slice(&(data.len() as u32).to_be_bytes());
    w.write_all(&header)?;
    w.write_all(data)
}

/// Reads one frame: its stream and data; None at the end of the stream.
pub fn read_frame(r: &mut dyn Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 8];
    match r.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(header[4..].try_into().expect("four bytes")) as usize;
    let mut data = vec![0u8; len];
    r.read_exact(&mut data)?;
    Ok(Some((header[0], data)))
}

/// The attach socket of container `short_id` under `state_dir`.
pub fn socket_path(state_dir: &Path, short_id: &str) -> PathBuf {
    state_dir.join(format!("{short_id}.attach"))
}

/// Connects to an attach socket and sends `req`; the stream is ready for
/// output (and input) once this returns.
pub fn connect(path: &Path, req: &Request) -> io::Result<UnixStream> {
    let mut s = UnixStream::connect(path)?;
    let mut line = serde_json::to_vec(req).expect("request serialises");
    line.push(b'\n');
    s.write_all(&line)?;
    // The answer is read a byte at a time: nothing after it may be consumed.
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while answer.len() < 512 {
        match s.read(&mut byte)? {
            0 => break,
            _ if byte[0] == b'\n' => break,
            _ => answer.push(byte[0]),
        }
    }
    match answer.as_slice() {
        b"ok" => Ok(s),
        other => Err(io::Error::other(format!(
            "attach: {}",
            String::from_utf8_lossy(other)
        ))),
    }
}

struct Subscriber {
    out: UnixStream,
    stdout: bool,
    stderr: bool,
}

/// The container's stdio as its holder shares it with attach clients.
pub struct Hub {
    tty: bool,
    /// Config.StdinOnce: the container's stdin closes when an attached client's input ends.
    stdin_once: bool,
    clients: Mutex<Vec<Subscriber>>,
    stdin: Mutex<Option<File>>,
    /// The PTY master, for resizes.
    console: Mutex<Option<File>>,
}

impl Hub {
    pub fn new(tty: bool, stdin_once: bool, stdin: Option<File>) -> Arc<Hub> {
        Arc::new(Hub {
            tty,
            stdin_once,
            clients: Mutex::new(Vec::new()),
            stdin: Mutex::new(stdin),
            console: Mutex::new(None),
        })
    }

    /// The terminal, once libcontainer handed it over: resizes go there,
    /// and so does input when no other stdin was given.
    pub fn set_console(&self, master: &File) {
        if let Ok(m) = master.try_clone() {
            *self.console.lock().expect("console lock") = Some(m);
        }
        let mut stdin = self.stdin.lock().expect("stdin lock");
        if stdin.is_none() {
            *stdin = master.try_clone().ok();
        }
    }

    /// Sends output to every client that wants this stream; a client that
    /// cannot take it is dropped.
    pub fn broadcast(&self, stream: u8, data: &[u8]) {
        let mut clients = self.clients.lock().expect("clients lock");
        if clients.is_empty() {
            return;
        }
        clients.retain_mut(|c| {
            let wanted = match stream {
                STDERR => c.stderr,
                _ => c.stdout,
            };
            if !wanted {
                return true;
            }
            let written = if self.tty {
                c.out.write_all(data)
            } else {
                write_frame(&mut c.out, stream, data)
            };
            written.is_ok()
        });
    }

    /// Sets the terminal's size (a container without one has none to set).
    pub fn resize(&self, rows: u16, cols: u16) {
        if let Some(m) = self.console.lock().expect("console lock").as_ref() {
            berth_runtime::tty::set_size(m.as_raw_fd(), rows, cols);
        }
    }

    /// Takes a client that asked `req` on `stream`: answers `ok` (when
    /// `answer`: clients of the socket), then sends it output and carries
    /// its input to the container.
    pub fn join(
        self: &Arc<Self>,
        mut stream: UnixStream,
        req: &Request,
        answer: bool,
    ) -> io::Result<()> {
        if let Some((rows, cols)) = req.resize {
            self.resize(rows, cols);
            return stream.write_all(b"ok\n");
        }
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        {
            // Answered under the lock: no output can come before the `ok`.
            let mut clients = self.clients.lock().expect("clients lock");
            if answer {
                stream.write_all(b"ok\n")?;
            }
            if req.stdout || req.stderr {
                clients.push(Subscriber {
                    out: stream.try_clone()?,
                    stdout: req.stdout,
                    stderr: req.stderr,
                });
            }
        }
        if req.stdin {
            let hub = self.clone();
            std::thread::spawn(move || hub.carry_input(stream));
        }
        Ok(())
    }

    /// Copies a client's input to the container until it ends; then, with
    /// StdinOnce, closes the container's stdin (a TTY stays open).
    fn carry_input(&self, mut from: UnixStream) {
        let mut buf = [0u8; 32 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let mut stdin = self.stdin.lock().expect("stdin lock");
                    let Some(w) = stdin.as_mut() else { return };
                    if w.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
        if self.stdin_once && !self.tty {
            self.stdin.lock().expect("stdin lock").take();
        }
    }

    /// Reads a client's request on a thread of its own (one that never
    /// sends it must not hold up others) and takes it.
    fn accept(self: &Arc<Self>, stream: UnixStream) {
        let hub = self.clone();
        std::thread::spawn(move || {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let Ok(reader) = stream.try_clone() else {
                return;
            };
            let mut line = String::new();
            if BufReader::new(reader.take(4096))
                .read_line(&mut line)
                .is_err()
            {
                return;
            }
            let _ = stream.set_read_timeout(None);
            match serde_json::from_str::<Request>(&line) {
                Ok(req) => {
                    let _ = hub.join(stream, &req, true);
                }
                Err(e) => {
                    let mut s = stream;
                    let _ = writeln!(s, "bad attach request: {e}");
                }
            }
        });
    }

    /// The container is gone: every client sees the end of its stream.
    pub fn close(&self) {
        let mut clients = self.clients.lock().expect("clients lock");
        for c in clients.drain(..) {
            let _ = c.out.shutdown(std::net::Shutdown::Both);
        }
        self.stdin.lock().expect("stdin lock").take();
    }
}

/// The attach socket of a running container, served on a thread; closed
/// and removed when dropped.
pub struct Listener {
    path: PathBuf,
    done: Arc<AtomicBool>,
}

impl Listener {
    /// Binds the socket at `path` and serves `hub` on it.
    pub fn bind(path: &Path, hub: &Arc<Hub>) -> io::Result<Listener> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        let done = Arc::new(AtomicBool::new(false));
        let (hub, flag) = (hub.clone(), done.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = conn {
                    hub.accept(stream);
                }
            }
        });
        Ok(Listener {
            path: path.to_path_buf(),
            done,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees it is done.
        let _ = UnixStream::connect(&self.path);
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, STDERR, b"oops\n").unwrap();
        write_frame(&mut buf, STDOUT, b"").unwrap();
        assert_eq!(&buf[..8], &[2, 0, 0, 0, 0, 0, 0, 5]);
        let mut r = &buf[..];
        assert_eq!(
            read_frame(&mut r).unwrap(),
            Some((STDERR, b"oops\n".to_vec()))
        );
        assert_eq!(read_frame(&mut r).unwrap(), Some((STDOUT, Vec::new())));
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }

    #[test]
    fn clients_get_the_streams_they_asked_for_and_feed_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let (r, w) = std::io::pipe().unwrap();
        let hub = Hub::new(false, true, Some(File::from(std::os::fd::OwnedFd::from(w))));
        let path = socket_path(dir.path(), "abc");
        let _l = Listener::bind(&path, &hub).unwrap();
        let req = Request {
            stdin: true,
            stdout: false,
            stderr: true,
            resize: None,
        };
        let mut client = connect(&path, &req).unwrap();
        hub.broadcast(STDOUT, b"not for you");
        hub.broadcast(STDERR, b"for you");
        assert_eq!(
            read_frame(&mut client).unwrap(),
            Some((STDERR, b"for you".to_vec()))
        );
        client.write_all(b"input").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = String::new();
        // StdinOnce: the end of the client's input is the end of the container's.
        File::from(std::os::fd::OwnedFd::from(r))
            .read_to_string(&mut got)
            .unwrap();
        assert_eq!(got, "input");
        hub.close();
        assert_eq!(read_frame(&mut client).unwrap(), None);
    }
}
