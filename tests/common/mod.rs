//! Shared harness for the end-to-end tests: a private `--root` / `--state-dir`
//! pair per test, a busybox image made from Debian's busybox-static binary, and
//! cleanup (containers, mounts) that runs even when a test fails.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub mod api;
pub mod registry;

pub const BIN: &str = env!("CARGO_BIN_EXE_berth");

pub struct Env {
    pub dir: tempfile::TempDir,
    /// This test's default bridge device: tests run side by side, each
    /// with a bridge of its own.
    pub bridge: String,
}

/// What a berth invocation did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(o: Output) -> Run {
        Self::from(o)
    }

    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "expected success; stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        self.stdout
    }

    /// Asserts exit `code` and that stderr has `needle`.
    #[track_caller]
    pub fn fails(self, code: i32, needle: &str) -> Run {
        assert_eq!(
            self.code, code,
            "wrong exit code; stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        assert!(
            self.stderr.contains(needle),
            "stderr {:?} lacks {:?}",
            self.stderr,
            needle
        );
        assert_eq!(
            self.stderr
                .trim()
                .lines()
                .filter(|l| l.starts_with("Error"))
                .count(),
            1,
            "one error line: {:?}",
            self.stderr
        );
        self
    }
}

impl Run {
    /// Asserts the container's own command failed (non-zero) saying `needle`.
    #[track_caller]
    pub fn fails_in_container(self, needle: &str) -> Run {
        assert_ne!(self.code, 0, "expected failure; stdout: {}", self.stdout);
        assert!(
            self.stderr.contains(needle),
            "stderr {:?} lacks {:?}",
            self.stderr,
            needle
        );
        self
    }
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("berth-e2e-")
            .tempdir()
            .expect("tempdir");
        let suffix: String = dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .chars()
            .rev()
            .take(6)
            .collect();
        Env {
            dir,
            bridge: format!("bt-{suffix}"),
        }
    }

    /// A store with the busybox image imported as `busybox:latest`.
    pub fn with_busybox() -> Env {
        let env = Env::new();
        env.berth(&["import", busybox_tar().to_str().unwrap(), "busybox"])
            .ok();
        env
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        // Credentials stay in the test's directory, and anything not meant for
        // 127.0.0.1 meets a dead proxy instead of the network.
        c.env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", "127.0.0.1,localhost,::1")
            .env_remove("BERTH_REGISTRIES_CONFIG")
            .env("BERTH_BRIDGE", &self.bridge)
            // Test networks keep to a range of their own.
            .env("BERTH_DEFAULT_ADDRESS_POOL", "base=10.213.0.0/16,size=24");
        c.arg("--root")
            .arg(self.root())
            .arg("--state-dir")
            .arg(self.state())
            .args(args);
        c.stdin(Stdio::null());
        c
    }

    pub fn berth(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().expect("berth runs"))
    }

    /// Runs a command made with [`Env::cmd`] (and changed by the caller).
    pub fn output(&self, mut cmd: Command) -> Run {
        Run::from(cmd.output().expect("berth runs"))
    }

    /// Files in the store's blob and snapshot directories, to show that a
    /// failed operation added nothing.
    pub fn store_entries(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["blobs/sha256", "snapshots"] {
            if let Ok(rd) = std::fs::read_dir(self.root().join(sub)) {
                out.extend(
                    rd.flatten()
                        .map(|e| format!("{sub}/{}", e.file_name().to_string_lossy())),
                );
            }
        }
        out.sort();
        out
    }

    pub fn berth_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        run_with_stdin(&mut self.cmd(args), input)
    }

    /// `berth run --rm busybox sh -c SCRIPT` with extra flags; returns the run.
    pub fn sh(&self, flags: &[&str], script: &str) -> Run {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "sh", "-c", script]);
        self.berth(&args)
    }

    /// `berth run --rm FLAGS busybox true` is refused before it starts:
    /// docker's exit code 125 and a message containing `needle`.
    pub fn refuses_run(&self, flags: &[&str], needle: &str) {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        self.berth(&args).fails(125, needle);
    }

    pub fn inspect(&self, name: &str, template: &str) -> String {
        self.berth(&["inspect", "-f", template, name])
            .ok()
            .trim()
            .to_string()
    }

    /// Waits (10 s at most) until `ps -q` lists a running container.
    pub fn wait_running(&self) {
        wait_until("a container to run", || {
            !self.berth(&["ps", "-q"]).stdout.is_empty()
        });
    }

    pub fn check_clean(&self) {
        let out = self.berth(&["system", "check"]);
        assert_eq!(
            out.code, 0,
            "system check found problems: {}{}",
            out.stdout, out.stderr
        );
    }
}

impl Env {
    /// Takes every bridge network of this store off the host (device and
    /// packet filter rules), read from the store itself so nothing new is made.
    fn remove_networks(&self) {
        let Ok(db) = berth_store::Db::open(&self.root().join("berth.db")) else {
            return;
        };
        for row in db.networks().unwrap_or_default() {
            let n: serde_json::Value = serde_json::from_str(&row.record).unwrap_or_default();
            let bridge = n["Options"]["com.docker.network.bridge.name"].as_str();
            let subnet = n["IPAM"]["Config"][0]["Subnet"].as_str();
            if let (Some(bridge), Some(Ok(subnet))) = (bridge, subnet.map(str::parse)) {
                let internal = n["Internal"].as_bool().unwrap_or(false);
                berth_net::firewall::remove(bridge, subnet, internal);
                let _ = berth_net::link::delete(bridge);
            }
        }
        // And a bridge no network records (a create killed by the test).
        let owner = format!("berth {}", self.root().display());
        for bridge in berth_net::link::owned_by(&owner) {
            let _ = berth_net::link::remove_unrecorded(&bridge);
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Containers first (kills, cgroups, namespaces), then any mount left below the dir.
        if let Ok(out) = self.cmd(&["ps", "-aq", "--no-trunc"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = self.cmd(&["rm", "-f", id]).output();
            }
        }
        self.remove_networks();
        berth_store::snapshot::unmount_below(self.dir.path());
    }
}

/// Runs `cmd` with `input` on its stdin (written while it runs).
pub fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Run {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command runs");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Run::from(out)
}

/// Runs `cmd` on a new terminal (`size` rows x cols, if given) and returns it
/// with the terminal's non-blocking master side, to type into and read from.
pub fn spawn_in_pty(
    mut cmd: std::process::Command,
    size: Option<(u16, u16)>,
) -> (std::process::Child, std::fs::File) {
    let ws = size.map(|(rows, cols)| nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    });
    let pty = nix::pty::openpty(ws.as_ref(), None).unwrap();
    let slave = std::fs::File::from(pty.slave);
    let child = cmd
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let master = std::fs::File::from(pty.master);
    nix::fcntl::fcntl(
        std::os::fd::AsRawFd::as_raw_fd(&master),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    (child, master)
}

/// Starts every command at once, waits for all, asserts each succeeded and
/// returns their standard outputs.
pub fn all_at_once(cmds: Vec<std::process::Command>) -> Vec<String> {
    let children: Vec<_> = cmds
        .into_iter()
        .map(|mut c| {
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect()
}

/// Polls `cond` every 20 ms for 10 s at most.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Asserts that `text` holds `needle`, showing the text when not.
#[track_caller]
pub fn has(text: &str, needle: impl AsRef<str>) {
    let needle = needle.as_ref();
    assert!(text.contains(needle), "{needle:?} is not in:\n{text}");
}

/// A busybox root filesystem tarball, made once per test process from the
/// static busybox binary (Debian's busybox-static).
pub fn busybox_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("busybox-static is not installed: apt-get install busybox-static");
        let list = Command::new(busybox).arg("--list").output().expect("busybox --list");
        // Kept in cargo's directory for test files (under target/), shared by
        // the test processes: written under a temporary name, renamed into place.
        let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("busybox.tar");
        let tmp = dir.join(format!("busybox.tar.{}", std::process::id()));
        let mut b = tar::Builder::new(std::fs::File::create(&tmp).unwrap());
        let dir_entry = |b: &mut tar::Builder<std::fs::File>, name: &str, mode: u32| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(mode);
            h.set_size(0);
            h.set_mtime(1_700_000_000);
            b.append_data(&mut h, name, &[][..]).unwrap();
        };
        for (d, mode) in [("bin", 0o755), ("etc", 0o755), ("tmp", 0o1777), ("root", 0o700), ("proc", 0o755), ("sys", 0o755), ("dev", 0o755), ("home", 0o755)] {
            dir_entry(&mut b, d, mode);
        }
        let data = std::fs::read(busybox).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o755);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, "bin/busybox", &data[..]).unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines().filter(|a| *a != "busybox") {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(0o777);
            h.set_size(0);
            h.set_mtime(1_700_000_000);
            b.append_link(&mut h, format!("bin/{applet}"), "busybox").unwrap();
        }
        for (name, text) in [
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n"),
            ("etc/group", "root:x:0:\nnogroup:x:65534:\napp:x:1000:\nstaff:x:50:app\n"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(text.len() as u64);
            h.set_mtime(1_700_000_000);
            b.append_data(&mut h, name, text.as_bytes()).unwrap();
        }
        b.into_inner().unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    })
}

/// Reads what the terminal shows until `needle` appears (or 10 s pass).
pub fn read_until(master: &mut std::fs::File, seen: &mut String, needle: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while !seen.contains(needle) {
        assert!(
            std::time::Instant::now() < deadline,
            "terminal never showed {needle:?}: {seen:?}"
        );
        match std::io::Read::read(master, &mut buf) {
            Ok(n) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

/// An HTTP GET to host:port (127.0.0.1, or a container this test started),
/// retried for a few seconds while the server starts; the response's body.
pub fn http_get(host: &str, port: u16) -> String {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect((host, port))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut out = String::new();
            s.read_to_string(&mut out)?;
            Ok(out)
        })();
        match attempt {
            Ok(r) if r.starts_with("HTTP/1") => {
                return r.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
            }
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => panic!("no answer on {host}:{port}: {other:?}"),
        }
    }
}

/// This process's soft limit `name` (as /proc/self/limits names it): podman
/// asks for more open files than this machine's hard limit allows.
fn own_limit(name: &str) -> String {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l[name.len()..].split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "1024".into())
}

/// Runs a tool no one here wrote (skopeo, another engine); its stdout, or
/// a panic with its stderr.
pub fn tool<S: AsRef<std::ffi::OsStr>>(program: &str, args: &[S]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (scripts/setup --packages installs it)"));
    let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
    assert!(
        out.status.success(),
        "{program} {}: {}",
        shown.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`tool`] for another engine's command line: its stdout trimmed.
fn engine(program: &str, args: &[String]) -> String {
    tool(program, args).trim().to_string()
}

/// Podman with a store of its own in the test's directory, the busybox
/// image imported as `IMAGE`, and runc (crun refuses a hybrid cgroup host
/// whose v2 tree holds a controller). Its containers go with it.
pub struct Podman {
    base: Vec<String>,
}

impl Podman {
    pub fn new(env: &Env) -> Podman {
        let dir = env.path("podman");
        let base = vec![
            "--root".into(),
            dir.join("root").display().to_string(),
            "--runroot".into(),
            dir.join("run").display().to_string(),
            "--runtime".into(),
            "runc".into(),
            "--cgroup-manager".into(),
            "cgroupfs".into(),
            "--events-backend".into(),
            "file".into(),
        ];
        let p = Podman { base };
        p.run(&["import", busybox_tar().to_str().unwrap(), "IMAGE"]);
        p
    }

    /// `podman ARGS`, with `IMAGE` standing for the busybox image.
    pub fn run(&self, args: &[&str]) -> String {
        let mut all = self.base.clone();
        for (i, a) in args.iter().enumerate() {
            all.push(a.replace("IMAGE", "localhost/berth-test-busybox:1"));
            if i == 0 && *a == "run" {
                let files = own_limit("Max open files");
                all.extend(["--ulimit".into(), format!("nofile={files}:{files}")]);
                // podman's own default is more than runc may set here; a test container needs few.
                all.extend(["--ulimit".into(), "nproc=4096:4096".into()]);
            }
        }
        engine("podman", &all)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| self.run(&["rm", "-a", "-f", "-t", "0"]));
        let _ = std::panic::catch_unwind(|| self.run(&["rmi", "-a", "-f"]));
    }
}

/// The docker engine this machine runs, when one answers: the busybox
/// image imported as `IMAGE`, containers named `DOCKER-…` made unique to
/// this test, all removed with it.
pub struct Docker {
    prefix: String,
    names: std::cell::RefCell<Vec<String>>,
}

impl Docker {
    pub fn new(env: &Env) -> Option<Docker> {
        let answers = Command::new("docker")
            .args(["version", "-f", "{{.Server.Version}}"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !answers {
            return None;
        }
        let unique = env
            .dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase();
        let d = Docker {
            prefix: format!("berth-test-{}", unique.trim_start_matches("berth-e2e-")),
            names: Default::default(),
        };
        d.run(&["import", busybox_tar().to_str().unwrap(), "IMAGE"]);
        Some(d)
    }

    fn image(&self) -> String {
        format!("{}:busybox", self.prefix)
    }

    /// `docker ARGS`, with `IMAGE` and `DOCKER-` standing for this test's image and names.
    pub fn run(&self, args: &[&str]) -> String {
        let all: Vec<String> = args
            .iter()
            .map(|a| {
                let a = a.replace("IMAGE", &self.image());
                if let Some(name) = a.strip_prefix("DOCKER-") {
                    let name = format!("{}-{name}", self.prefix);
                    self.names.borrow_mut().push(name.clone());
                    return name;
                }
                a
            })
            .collect();
        engine("docker", &all)
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        for name in self.names.borrow().iter() {
            let _ = Command::new("docker").args(["rm", "-f", name]).output();
        }
        let _ = Command::new("docker")
            .args(["rmi", "-f", &self.image()])
            .output();
    }
}
