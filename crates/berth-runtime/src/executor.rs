//! The workload executor run inside the container just before exec: it checks
//! the command the way docker reports it, so that "not found" (exit 127) and
//! "cannot invoke" (exit 126) reach the user with docker's wording.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use oci_spec::runtime::Spec;

/// Marks in error texts that the engine maps to exit codes.
pub const NOT_FOUND: &str = "executable file not found in $PATH";
pub const NO_SUCH_FILE: &str = "no such file or directory";
pub const PERMISSION_DENIED: &str = "permission denied";
pub const IS_A_DIRECTORY: &str = "is a directory";

#[derive(Clone, Default)]
pub struct BerthExecutor {
    /// `--init`: stay as the container's pid 1 (see [`run_as_init`]).
    pub init: bool,
    /// A pidfd of the berth making the container (see [`die_with_creator`]).
    pub creator: Option<i32>,
}

impl BerthExecutor {
    pub fn new(init: bool) -> Self {
        BerthExecutor {
            init,
            creator: creator_pidfd(),
        }
    }
}

/// A pidfd of this process, opened once per process and kept: it is
/// inherited by each container's first process (see [`die_with_creator`]).
fn creator_pidfd() -> Option<i32> {
    use std::sync::Mutex;
    static FD: Mutex<Option<(u32, i32)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut fd = FD.lock().unwrap_or_else(|e| e.into_inner());
    match *fd {
        Some((p, f)) if p == pid => Some(f),
        _ => {
            // SAFETY: pidfd_open on our own pid; the fd is ours (O_CLOEXEC by default).
            let f = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) } as i32;
            (f >= 0).then(|| {
                *fd = Some((pid, f));
                f
            })
        }
    }
}

/// Until it execs, the container's process dies with the berth that made it:
/// one killed (`kill -9`, the OOM killer, a CI timeout) between creating and
/// starting the container would otherwise leave it waiting for a start that
/// never comes, holding what it inherited (the container's start lock among
/// them). The kernel's parent-death signal does this; `creator`, a pidfd,
/// covers a berth that died before the signal was asked for.
fn die_with_creator(creator: Option<i32>) {
    // SAFETY: prctl and poll on values we own; _exit ends this process only.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if let Some(fd) = creator {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            if libc::poll(&mut p, 1, 0) > 0 {
                libc::_exit(137);
            }
        }
    }
}

fn env_path(spec: &Spec) -> String {
    spec.process()
        .as_ref()
        .and_then(|p| p.env().as_ref())
        .and_then(|env| {
            env.iter()
                .find_map(|e| e.strip_prefix("PATH=").map(String::from))
        })
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into())
}

fn args(spec: &Spec) -> Result<&Vec<String>, String> {
    spec.process()
        .as_ref()
        .and_then(|p| p.args().as_ref())
        .filter(|a| !a.is_empty())
        .ok_or_else(|| "no command specified".into())
}

/// Finds the program as execvp would, returning docker's error text when it can't.
fn resolve(program: &str, path_var: &str) -> Result<PathBuf, String> {
    let check = |p: &Path| -> Result<(), String> {
        let meta = std::fs::metadata(p)
            .map_err(|_| format!("exec: {program:?}: stat {}: {NO_SUCH_FILE}", p.display()))?;
        if meta.is_dir() {
            return Err(format!("exec: {program:?}: {IS_A_DIRECTORY}"));
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(format!("exec: {program:?}: {PERMISSION_DENIED}"));
        }
        Ok(())
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        check(&p)?;
        return Ok(p);
    }
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(program);
        if candidate.is_file() {
            check(&candidate)?;
            return Ok(candidate);
        }
    }
    Err(format!("exec: {program:?}: {NOT_FOUND}"))
}

impl Executor for BerthExecutor {
    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        die_with_creator(self.creator);
        let args = args(spec).map_err(ExecutorValidationError::ArgValidationError)?;
        resolve(&args[0], &env_path(spec))
            .map(|_| ())
            .map_err(ExecutorValidationError::ArgValidationError)
    }

    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        // Started: from here it outlives whoever started it, as docker's do.
        // SAFETY: prctl on this process.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0) };
        let args = args(spec).map_err(ExecutorError::Other)?;
        let program = resolve(&args[0], &env_path(spec)).map_err(ExecutorError::Other)?;
        let to_c = |s: &str| CString::new(s).map_err(|_| ExecutorError::InvalidArg);
        let path = to_c(&program.to_string_lossy())?;
        let argv = args
            .iter()
            .map(|a| to_c(a))
            .collect::<Result<Vec<_>, _>>()?;
        // The terminal's size, where asked, before the command can read it
        // (stdin is the terminal here).
        if let Some(size) = spec
            .process()
            .as_ref()
            .filter(|p| p.terminal() == Some(true))
            .and_then(|p| p.console_size())
        {
            crate::tty::set_size(0, size.height() as u16, size.width() as u16);
        }
        if self.init {
            run_as_init(&path, &argv);
        }
        // The environment was set by setup_envs; execv keeps it.
        let err = nix::unistd::execv(&path, &argv).unwrap_err();
        Err(ExecutorError::Other(format!(
            "exec: {:?}: {}",
            args[0],
            err.desc().to_lowercase()
        )))
    }
}

/// `--init`, built in: this process (already in the container, and already
/// loaded, so the image needs no init binary of its own) stays as pid 1,
/// runs the command as its child, passes every signal on to it, reaps every
/// zombie that lands here, and exits as the command did (128+N for signal N).
/// Returns only if the fork fails.
fn run_as_init(path: &std::ffi::CStr, argv: &[CString]) {
    use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    use nix::unistd::{fork, ForkResult, Pid};
    // Blocked signals are queued for pid 1 even where their default would
    // drop them, and sigwait takes them one at a time.
    let all = SigSet::all();
    let mut before = SigSet::empty();
    if sigprocmask(SigmaskHow::SIG_SETMASK, Some(&all), Some(&mut before)).is_err() {
        return;
    }
    // SAFETY: the container's init is single-threaded here; the child only
    // restores its mask and execs.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&before), None);
            let _ = nix::unistd::execv(path, argv);
            // SAFETY: _exit in a forked child, nothing to unwind.
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => {
            // SAFETY: PR_SET_NAME with a NUL-terminated name of at most 16
            // bytes; close_range on fds this process no longer uses: never
            // having exec'd, it still holds what berth had open (the
            // container's start lock, the store's), which close-on-exec
            // would have closed.
            unsafe {
                libc::prctl(libc::PR_SET_NAME, c"berth-init".as_ptr());
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            }
            child
        }
        Err(_) => {
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&before), None);
            return;
        }
    };
    loop {
        let Ok(sig) = all.wait() else { continue };
        if sig != Signal::SIGCHLD {
            let _ = kill(child, sig);
            continue;
        }
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == child => std::process::exit(code),
                Ok(WaitStatus::Signaled(pid, s, _)) if pid == child => {
                    std::process::exit(128 + s as i32)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }
}
