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
pub struct BerthExecutor;

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
        let args = args(spec).map_err(ExecutorValidationError::ArgValidationError)?;
        resolve(&args[0], &env_path(spec))
            .map(|_| ())
            .map_err(ExecutorValidationError::ArgValidationError)
    }

    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        let args = args(spec).map_err(ExecutorError::Other)?;
        let program = resolve(&args[0], &env_path(spec)).map_err(ExecutorError::Other)?;
        let to_c = |s: &str| CString::new(s).map_err(|_| ExecutorError::InvalidArg);
        let path = to_c(&program.to_string_lossy())?;
        let argv = args
            .iter()
            .map(|a| to_c(a))
            .collect::<Result<Vec<_>, _>>()?;
        // The environment was set by setup_envs; execv keeps it.
        let err = nix::unistd::execv(&path, &argv).unwrap_err();
        Err(ExecutorError::Other(format!(
            "exec: {:?}: {}",
            args[0],
            err.desc().to_lowercase()
        )))
    }
}
