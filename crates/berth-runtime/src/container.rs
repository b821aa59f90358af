//! Create, start, wait, kill and delete one container through libcontainer.
//!
//! The caller must be single-threaded when calling [`create`]: libcontainer
//! clones the process, and a clone taken while other threads hold locks can
//! deadlock. Threads for I/O are started after `create` returns.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::Container;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::executor::{BerthExecutor, IS_A_DIRECTORY, NOT_FOUND, NO_SUCH_FILE, PERMISSION_DENIED};
use crate::spec::{oci_spec, ContainerSpec};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The command could not be found (docker exits 127).
    #[error("{0}")]
    NotFound(String),
    /// The command could not be invoked (docker exits 126).
    #[error("{0}")]
    CannotInvoke(String),
    #[error("{0}")]
    Failed(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl RuntimeError {
    fn from_libcontainer(e: libcontainer::error::LibcontainerError) -> Self {
        let text = format!("{e}");
        let mut detail = text.as_str();
        // libcontainer wraps the init's own message; keep the part users act on.
        if let Some(i) = text.find("exec: ") {
            detail = &text[i..];
        }
        let detail = detail.trim().to_string();
        if detail.contains(NOT_FOUND) || detail.contains(NO_SUCH_FILE) {
            RuntimeError::NotFound(detail)
        } else if detail.contains(PERMISSION_DENIED) || detail.contains(IS_A_DIRECTORY) {
            RuntimeError::CannotInvoke(detail)
        } else {
            RuntimeError::Failed(detail)
        }
    }
}

/// Where the container's standard streams go.
#[derive(Default)]
pub struct Stdio {
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    /// For a terminal: where libcontainer sends the PTY master.
    pub console_socket: Option<PathBuf>,
}

/// libcontainer's builder for container `id` with our executor (`init`: see
/// `executor::run_as_init`) and stdio.
fn builder(
    state_root: &Path,
    id: &str,
    stdio: Stdio,
    init: bool,
) -> Result<ContainerBuilder, RuntimeError> {
    let mut b = ContainerBuilder::new(id.to_string(), SyscallType::Linux)
        .with_root_path(state_root)
        .map_err(RuntimeError::from_libcontainer)?
        .with_executor(BerthExecutor::new(init))
        .with_console_socket(stdio.console_socket.as_ref());
    if let Some(fd) = stdio.stdin {
        b = b.with_stdin(fd);
    }
    if let Some(fd) = stdio.stdout {
        b = b.with_stdout(fd);
    }
    if let Some(fd) = stdio.stderr {
        b = b.with_stderr(fd);
    }
    Ok(b)
}

/// A created container whose process waits to be started.
pub struct Created {
    container: Container,
}

impl Created {
    pub fn pid(&self) -> i32 {
        self.container.pid().map(|p| p.as_raw()).unwrap_or(0)
    }

    /// Lets the container's process exec its command.
    pub fn start(&mut self) -> Result<(), RuntimeError> {
        self.container
            .start()
            .map_err(RuntimeError::from_libcontainer)?;
        keep_state(self.container.root.as_path());
        Ok(())
    }
}

/// libcontainer writes its state file in place (truncate, then write): a
/// berth killed in between leaves it empty, and every later operation on
/// the container would fail to read it. So a copy of each state it wrote
/// whole is kept beside it, and [`restore_state`] puts it back.
fn keep_state(dir: &Path) {
    let (tmp, kept) = (dir.join("state.json.tmp"), dir.join("state.json.kept"));
    if std::fs::copy(dir.join("state.json"), &tmp).is_ok() {
        let _ = std::fs::rename(&tmp, kept);
    }
}

/// Puts back the copy [`keep_state`] kept when the state file does not
/// read; the process it names is running (an exec needs it so, and
/// libcontainer reads the truth about the process itself).
fn restore_state(dir: &Path) {
    let state = dir.join("state.json");
    let readable = std::fs::read(&state)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some();
    if readable {
        return;
    }
    let Some(mut kept) = std::fs::read(dir.join("state.json.kept"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    else {
        return;
    };
    kept["status"] = serde_json::json!("running");
    let tmp = dir.join("state.json.tmp");
    if std::fs::write(&tmp, kept.to_string()).is_ok() {
        let _ = std::fs::rename(&tmp, state);
    }
}

/// Writes `bundle/config.json` and creates the container (namespaces, cgroup,
/// rootfs, the process stopped before exec). `state_root` is libcontainer's state directory.
pub fn create(
    state_root: &Path,
    bundle: &Path,
    spec: &ContainerSpec,
    stdio: Stdio,
) -> Result<Created, RuntimeError> {
    let config = serde_json::to_vec(&oci_spec(spec)).expect("spec serialises");
    let config_path = bundle.join("config.json");
    std::fs::write(&config_path, config).map_err(|source| RuntimeError::Io {
        context: config_path.display().to_string(),
        source,
    })?;
    std::fs::create_dir_all(state_root).map_err(|source| RuntimeError::Io {
        context: state_root.display().to_string(),
        source,
    })?;
    crate::cgroups::prepare(spec).map_err(|source| RuntimeError::Io {
        context: format!("the cgroup {}", spec.cgroups_path),
        source,
    })?;
    let result = builder(state_root, &spec.id, stdio, spec.init)?
        .as_init(bundle)
        .with_systemd(false)
        .with_detach(spec.terminal)
        .build();
    let result = result
        .map_err(RuntimeError::from_libcontainer)
        .and_then(|c| {
            crate::cgroups::finish(spec).map_err(|source| RuntimeError::Io {
                context: format!("the cgroup {}", spec.cgroups_path),
                source,
            })?;
            Ok(c)
        });
    match result {
        Ok(container) => Ok(Created { container }),
        Err(e) => {
            // A failed create can leave libcontainer's state and cgroup behind.
            delete(state_root, &spec.id, &spec.cgroups_path);
            Err(e)
        }
    }
}

/// A process to run inside a running container (`exec`).
#[derive(Clone, Debug, Default)]
pub struct ExecSpec {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub additional_gids: Vec<u32>,
    /// `--privileged`: every capability the host allows.
    pub capabilities: Option<Vec<String>>,
    pub terminal: bool,
    /// The terminal's size (rows, columns), set before the command runs.
    pub console_size: Option<(u16, u16)>,
}

/// Starts a process in the container `id` (joining its namespaces and cgroup)
/// and returns its pid, a child of this process.
///
/// The process is described as an OCI process file derived from the
/// container's own (its rlimits, no-new-privileges and capabilities), so that a
/// terminal can be asked for even when the container has none.
pub fn exec(
    state_root: &Path,
    id: &str,
    spec: &ExecSpec,
    stdio: Stdio,
) -> Result<i32, RuntimeError> {
    restore_state(&state_root.join(id));
    let container =
        Container::load(state_root.join(id)).map_err(RuntimeError::from_libcontainer)?;
    let config_path = container.bundle().join("config.json");
    let io = |context: &Path, source| RuntimeError::Io {
        context: context.display().to_string(),
        source,
    };
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&config_path).map_err(|e| io(&config_path, e))?)
            .map_err(|e| RuntimeError::Failed(format!("{}: {e}", config_path.display())))?;
    let mut process = config["process"].clone();
    process["terminal"] = serde_json::json!(spec.terminal);
    match spec.console_size {
        Some((rows, cols)) if spec.terminal => {
            process["consoleSize"] = serde_json::json!({"height": rows, "width": cols})
        }
        _ => {
            if let Some(p) = process.as_object_mut() {
                p.remove("consoleSize");
            }
        }
    }
    process["args"] = serde_json::json!(spec.args);
    process["env"] = serde_json::json!(spec
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>());
    if let Some(cwd) = &spec.cwd {
        process["cwd"] = serde_json::json!(cwd);
    }
    process["user"] = serde_json::json!({"uid": spec.uid.unwrap_or(0), "gid": spec.gid.unwrap_or(0), "additionalGids": spec.additional_gids});
    if let Some(caps) = &spec.capabilities {
        process["capabilities"] =
            serde_json::json!({"bounding": caps, "effective": caps, "permitted": caps});
    }
    // One file per exec: a service runs several at once.
    static EXECS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = EXECS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let process_path = state_root.join(format!("{id}.exec-{}-{n}.json", std::process::id()));
    std::fs::write(&process_path, serde_json::to_vec(&process).expect("json"))
        .map_err(|e| io(&process_path, e))?;
    let result = builder(state_root, id, stdio, false)?
        .as_tenant()
        .with_process(Some(&process_path))
        .with_detach(spec.terminal)
        .build();
    let _ = std::fs::remove_file(&process_path);
    Ok(result.map_err(RuntimeError::from_libcontainer)?.as_raw())
}

/// Waits for the container's init (a child of this process) and returns its
/// exit code as docker reports it (128 + signal when killed).
pub fn wait(pid: i32) -> Result<i32, RuntimeError> {
    let code = wait_exited(pid)?;
    reap(pid);
    Ok(code)
}

/// Waits for `pid` to end but leaves it a zombie until [`reap`]: its pid stays
/// taken and signal 0 still reaches it, so whoever records the exit can do so
/// before anyone else may take the process for gone.
pub fn wait_exited(pid: i32) -> Result<i32, RuntimeError> {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT;
    loop {
        match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return Err(RuntimeError::Io {
                    context: format!("waiting for pid {pid}"),
                    source: e.into(),
                })
            }
        }
    }
}

/// Collects the zombie [`wait_exited`] left.
pub fn reap(pid: i32) {
    let _ = waitpid(Pid::from_raw(pid), None);
}

/// The cgroup manager (v1 or v2) of the container at `cgroups_path`.
fn cgroup(cgroups_path: &str) -> Result<libcgroups::common::AnyCgroupManager, RuntimeError> {
    libcgroups::common::create_cgroup_manager(libcgroups::common::CgroupConfig {
        cgroup_path: PathBuf::from(cgroups_path),
        systemd_cgroup: false,
        container_name: String::new(),
    })
    .map_err(|e| RuntimeError::Failed(format!("the cgroup {cgroups_path}: {e}")))
}

/// Sends `signal` to every process of the container (those in its cgroup).
///
/// This, [`freeze`] and [`update_resources`] work on the cgroup, not
/// through libcontainer: its pause, resume and kill rewrite the state file
/// in place, and a berth killed during the write would leave it unreadable.
pub fn kill_all(cgroups_path: &str, signal: i32) -> Result<(), RuntimeError> {
    use libcgroups::common::CgroupManager;
    let sig = nix::sys::signal::Signal::try_from(signal)
        .map_err(|e| RuntimeError::Failed(e.to_string()))?;
    let pids = cgroup(cgroups_path)?
        .get_all_pids()
        .map_err(|e| RuntimeError::Failed(format!("the cgroup {cgroups_path}: {e}")))?;
    for pid in pids {
        let _ = nix::sys::signal::kill(pid, sig);
    }
    Ok(())
}

/// Freezes (`pause`) or thaws every process of the container (cgroup freezer).
pub fn freeze(cgroups_path: &str, frozen: bool) -> Result<(), RuntimeError> {
    use libcgroups::common::{CgroupManager, FreezerState};
    let state = if frozen {
        FreezerState::Frozen
    } else {
        FreezerState::Thawed
    };
    cgroup(cgroups_path)?
        .freeze(state)
        .map_err(|e| RuntimeError::Failed(format!("the cgroup {cgroups_path}: {e}")))
}

/// Removes libcontainer's state and the container's cgroup; quiet when gone.
///
/// The cgroup is removed here too, whatever libcontainer managed: when two
/// berths release one container at once (`rm -f` beside its foreground `run`),
/// the second finds libcontainer's state gone while the cgroup may still be
/// busy with a dying process.
pub fn delete(state_root: &Path, id: &str, cgroups_path: &str) {
    let dir = state_root.join(id);
    let cgroups = cgroup_dirs(cgroups_path);
    if !dir.exists() && cgroups.is_empty() {
        // Released already (a foreground `run --rm` releases at the exit, then removes).
        return;
    }
    if ended_without_poststop(&dir) {
        // What libcontainer's delete would do, without its cgroup manager
        // (which reads the mount table once per controller): the first
        // process is gone, so only strays of a shared pid namespace remain.
        if cgroups.iter().any(|d| has_processes(d)) {
            let _ = kill_all(cgroups_path, libc::SIGKILL);
        }
        let _ = std::fs::remove_dir_all(&dir);
        remove_cgroup(cgroups_path);
        return;
    }
    match Container::load(dir.clone()) {
        Ok(mut c) => {
            if let Err(e) = c.delete(true) {
                tracing::debug!("libcontainer delete of {id}: {e}");
            }
        }
        // Made only in part, or by a berth killed while it wrote the state:
        // what runs in the cgroup goes all the same.
        Err(_) => {
            let _ = kill_all(cgroups_path, libc::SIGKILL);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    remove_cgroup(cgroups_path);
}

/// Removes `cgroups_path` from every hierarchy (v1 controllers, or v2), waiting
/// up to a second for the last processes in it to be gone.
fn remove_cgroup(cgroups_path: &str) {
    for d in cgroup_dirs(cgroups_path) {
        for _ in 0..100 {
            match std::fs::remove_dir(&d) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                _ => break,
            }
        }
    }
}

/// The names of the cgroups directly below `parent` (`/berth`), in any
/// hierarchy (v1 controllers, or v2).
pub fn cgroups_below(parent: &str) -> Vec<String> {
    let mut names: Vec<String> = cgroup_dirs(parent)
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The directories of `cgroups_path` that exist: in the v2 tree, or in each v1 hierarchy.
fn cgroup_dirs(cgroups_path: &str) -> Vec<PathBuf> {
    let rel = cgroups_path.trim_start_matches('/');
    if rel.is_empty() {
        return Vec::new();
    }
    let mut dirs: Vec<PathBuf> = vec![PathBuf::from("/sys/fs/cgroup").join(rel)];
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        dirs.extend(entries.flatten().map(|e| e.path().join(rel)));
    }
    dirs.retain(|d| d.is_dir());
    dirs
}

fn has_processes(cgroup: &Path) -> bool {
    std::fs::read(cgroup.join("cgroup.procs")).is_ok_and(|b| !b.is_empty())
}

/// Whether libcontainer's container in `dir` has a first process that has
/// ended (a zombie, or gone) and no poststop hooks to run at its deletion.
fn ended_without_poststop(dir: &Path) -> bool {
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    };
    let (Some(state), Some(config)) = (read("state.json"), read("youki_config.json")) else {
        return false;
    };
    let hooks = &config["hooks"]["poststop"];
    if hooks.as_array().is_some_and(|h| !h.is_empty()) {
        return false;
    }
    let Some(pid) = state["pid"].as_i64().filter(|p| *p > 0) else {
        return false;
    };
    // /proc/PID/stat: "PID (COMM) STATE ...", COMM may hold spaces and parentheses.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|s| s == "Z" || s == "X"),
    }
}

/// Whether the kernel's OOM killer killed a process in the container's cgroup.
/// Must be read before [`delete`] removes the cgroup.
pub fn oom_killed(cgroups_path: &str) -> bool {
    let rel = cgroups_path.trim_start_matches('/');
    let candidates = [
        (
            PathBuf::from("/sys/fs/cgroup/memory")
                .join(rel)
                .join("memory.oom_control"),
            "oom_kill ",
        ),
        (
            PathBuf::from("/sys/fs/cgroup")
                .join(rel)
                .join("memory.events"),
            "oom_kill ",
        ),
    ];
    candidates.iter().any(|(path, key)| {
        std::fs::read_to_string(path)
            .map(|s| {
                s.lines().any(|l| {
                    l.strip_prefix(key)
                        .and_then(|n| n.trim().parse::<u64>().ok())
                        .is_some_and(|n| n > 0)
                })
            })
            .unwrap_or(false)
    })
}

/// Whether this host uses the unified cgroup v2 hierarchy.
pub fn cgroup_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// Changes a running container's limits in place (`update`), in its cgroup
/// v1 controllers or v2 files. Only the limits given are written.
pub fn update_resources(cgroups_path: &str, r: &crate::Resources) -> Result<(), RuntimeError> {
    use libcgroups::common::{CgroupManager, ControllerOpt};
    let failed =
        |e: String| RuntimeError::Failed(format!("updating the cgroup {cgroups_path}: {e}"));
    let manager = cgroup(cgroups_path)?;
    let resources = crate::spec::linux_resources(r);
    manager
        .apply(&ControllerOpt {
            resources: &resources,
            disable_oom_killer: r.oom_kill_disable,
            oom_score_adj: None,
            freezer_state: None,
        })
        .map_err(|e| failed(e.to_string()))
}
