//! RUN: one build step in a real container (namespaces, cgroup, seccomp,
//! docker's capabilities) on an overlay of the stage so far.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use berth_runtime::container::{self as rt, Stdio};
use berth_runtime::{ContainerSpec, MountSpec, Resources};

use super::progress::Step;
use crate::{Engine, EngineError};

pub(crate) struct RunStep {
    pub rootfs: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub user: String,
    pub network: StepNetwork,
    /// `RUN --mount=...` mounts.
    pub mounts: Vec<MountSpec>,
}

/// Where a RUN step's network comes from (`--network`, `RUN --network`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StepNetwork {
    /// The default bridge, as `docker build` gives.
    Bridge,
    /// The host's own network.
    Host,
    /// Loopback only.
    None,
}

/// Runs the step and returns its exit code; output goes to `step` line by line.
pub(crate) fn run(engine: &Engine, r: &RunStep, step: &Step) -> Result<i32, EngineError> {
    berth_runtime::cgroups::warm_migration();
    let id = crate::networks::build_holder();
    let cwd = if r.cwd.is_empty() {
        "/".to_string()
    } else {
        r.cwd.clone()
    };
    berth_image::layer::create_dir_all_in(&r.rootfs, Path::new(&cwd))
        .map_err(|e| EngineError::io(Path::new(&cwd), e))?;
    let user = berth_runtime::user::resolve(&r.rootfs, &r.user)
        .map_err(|e| EngineError::invalid(e.to_string()))?;
    let bundle = engine.store.temp_dir("run")?;
    let netns = if r.network == StepNetwork::Host {
        None
    } else {
        let path = engine.netns_path(&id);
        std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| EngineError::io(&path, e))?;
        berth_runtime::netns::create(&path).map_err(|e| EngineError::io(&path, e))?;
        if r.network == StepNetwork::Bridge {
            if let Err(e) = engine.plug_build_step(&id, &path) {
                let _ = berth_runtime::netns::remove(&path);
                return Err(e);
            }
        }
        Some(path)
    };
    let capabilities = berth_runtime::caps::effective(&[], &[], false)
        .map_err(|e| EngineError::invalid(e.to_string()))?;
    let seccomp = crate::run::seccomp_for(&[], false, &capabilities)?;
    let mut env = r.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", user.home));
    }
    let mut mounts: Vec<MountSpec> = ["/etc/resolv.conf", "/etc/hosts"]
        .iter()
        .filter(|p| Path::new(p).exists())
        .map(|p| MountSpec::Bind {
            source: PathBuf::from(p),
            destination: p.to_string(),
            read_only: true,
        })
        .collect();
    mounts.extend(r.mounts.iter().cloned());
    let spec = ContainerSpec {
        id: id.clone(),
        rootfs: r.rootfs.clone(),
        args: r.args.clone(),
        env,
        cwd,
        uid: user.uid,
        gid: user.gid,
        additional_gids: user.additional_gids,
        hostname: "buildkitsandbox".into(),
        terminal: false,
        read_only: false,
        mounts,
        netns: netns.clone(),
        privileged: false,
        capabilities,
        seccomp,
        no_new_privileges: false,
        resources: Resources::default(),
        rlimits: vec![],
        cgroups_path: crate::cgroup_under("", &id),
        cgroup_v2: rt::cgroup_v2(),
        init: false,
        namespaces: berth_runtime::Namespaces {
            cgroup: rt::cgroup_v2(),
            ..Default::default()
        },
        ..Default::default()
    };
    let result = (|| {
        let (out_r, out_w) =
            nix::unistd::pipe().map_err(|e| EngineError::io(Path::new("pipe"), e.into()))?;
        let err_w = out_w
            .try_clone()
            .map_err(|e| EngineError::io(Path::new("pipe"), e))?;
        let stdin: OwnedFd = File::open("/dev/null")
            .map_err(|e| EngineError::io(Path::new("/dev/null"), e))?
            .into();
        let stdio = Stdio {
            stdin: Some(stdin),
            stdout: Some(out_w),
            stderr: Some(err_w),
            console_socket: None,
        };
        let mut created = rt::create(&engine.runtime_dir(), bundle.path(), &spec, stdio)?;
        let pid = created.pid();
        let reader_step = step.clone_handle();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(File::from(out_r))
                .split(b'\n')
                .map_while(Result::ok)
            {
                reader_step.output(String::from_utf8_lossy(&line).trim_end_matches('\r'));
            }
        });
        // Ctrl-C during the step kills the step's container; the build then stops cleanly.
        let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let finished = finished.clone();
            std::thread::spawn(move || {
                while !finished.load(std::sync::atomic::Ordering::Relaxed) {
                    if super::interrupted() {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            })
        };
        let code = match created.start() {
            Ok(()) => rt::wait(pid),
            Err(e) => {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = rt::wait(pid);
                Err(e)
            }
        };
        finished.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = watcher.join();
        let _ = reader.join();
        if super::interrupted() {
            return Err(EngineError::Interrupted);
        }
        Ok(code?)
    })();
    rt::delete(&engine.runtime_dir(), &id, &spec.cgroups_path);
    if let Some(p) = netns {
        let _ = berth_runtime::netns::remove(&p);
        let _ = engine.store.db.release_addresses(&id, None);
    }
    result
}
