//! Starting a container and staying with it until it exits: rootfs, OCI spec,
//! stdio (pipes or a PTY) copied to the terminal and the json-file log,
//! signals forwarded, exit status recorded, everything released afterwards.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use berth_runtime::container::{self as rt, Stdio};
use berth_runtime::spec_types::LinuxSeccomp;
use berth_runtime::tty::{ConsoleSocket, RawMode};
use berth_runtime::{seccomp, ContainerSpec, MountSpec, Rlimit};
use signal_hook::consts::signal::*;

use crate::attach::Hub;
use crate::logs::LogWriter;
use crate::model::{Container, CreateBody};
use crate::secrets::create_private_dir;
use crate::{time, Engine, EngineError};

impl Engine {
    /// `run` in the foreground: create, start attached (stdin too with
    /// OpenStdin), and (with AutoRemove) remove. Returns the container's exit code.
    pub fn run(&self, name: Option<&str>, body: CreateBody) -> Result<i32, EngineError> {
        let c = self.create(name, body)?;
        self.run_created(&c)
    }

    /// [`Engine::run`] of a container already created.
    pub fn run_created(&self, c: &Container) -> Result<i32, EngineError> {
        let result = self.start_attached(&c.id, c.config.open_stdin);
        if c.host_config.auto_remove {
            self.remove_container_with(&c.id, true, true)?;
        }
        // As docker: the attached run ends, and the restart policy carries
        // on in the background (under a monitor).
        if let Ok(code) = result {
            if let Ok(now) = self.container(&c.id) {
                if !now.state.manually_stopped && now.host_config.restart_policy.restarts(code, 0) {
                    self.restart_later(&now.id)?;
                }
            }
        }
        result
    }

    /// Hands a container that just exited to a monitor that restarts it
    /// after the policy's first delay.
    fn restart_later(&self, id: &str) -> Result<(), EngineError> {
        self.update(id, |c| {
            c.state.status = "restarting".into();
            c.state.restarting = true;
        })?;
        self.start_detached(id)
    }

    /// Starts a container with its output on this terminal and waits for it.
    pub fn start_attached(&self, key: &str, interactive: bool) -> Result<i32, EngineError> {
        self.start_with(key, Some(interactive), None, None)
    }

    /// The monitor's work for a detached container: start it with its output
    /// going to the log only, say so on `ready`, wait for it, record how it
    /// ended, release it (and remove it with `--rm`).
    ///
    /// With a restart policy it starts the container again as docker does:
    /// after 100 ms, doubling up to a minute, back to 100 ms after a run of
    /// ten seconds or more; never after `stop` or `kill`.
    pub fn monitor(
        &self,
        key: &str,
        ready: &mut dyn Write,
        hold: Option<&mut dyn FnMut()>,
    ) -> Result<i32, EngineError> {
        const FIRST: Duration = Duration::from_millis(100);
        const LONGEST: Duration = Duration::from_secs(60);
        let c = self.container(key)?;
        let mut delay = FIRST;
        let mut started = Instant::now();
        let mut code = self.start_with(&c.id, None, Some(ready), hold);
        if let Err(EngineError::Conflict(_)) = code {
            // Another start won the race: the container runs under its monitor.
            return code;
        }
        while let Ok(exit) = code {
            let Ok(now) = self.container(&c.id) else {
                break;
            };
            if now.state.manually_stopped
                || !now
                    .host_config
                    .restart_policy
                    .restarts(exit, now.restart_count)
            {
                break;
            }
            if started.elapsed() >= Duration::from_secs(10) {
                delay = FIRST;
            }
            // A stop that came since the exit was recorded wins: it is read
            // in the same transaction that would mark the container restarting.
            let now = self.update(&c.id, |c| {
                if c.state.manually_stopped {
                    return;
                }
                c.state.status = "restarting".into();
                c.state.restarting = true;
                c.state.monitor_pid = std::process::id() as i32;
                c.restart_count += 1;
            })?;
            if now.state.manually_stopped || !self.sleep_unless_stopped(&c.id, delay) {
                break;
            }
            delay = (delay * 2).min(LONGEST);
            started = Instant::now();
            code = self.start_with(&c.id, None, None, None);
        }
        // Stopped while waiting to restart, or given up: it stays exited.
        let _ = self.update(&c.id, |c| {
            if c.state.restarting {
                c.state.status = "exited".into();
                c.state.restarting = false;
            }
            c.state.monitor_pid = 0;
        });
        if c.host_config.auto_remove {
            let _ = self.remove_container_with(&c.id, true, true);
        }
        code
    }

    /// Binds the container's published ports (-p, and -P for the image's
    /// EXPOSEd ports) and starts carrying them into its network namespace;
    /// None when it publishes nothing or shares the host's network.
    fn publish(
        &self,
        c: &Container,
        netns: Option<&Path>,
    ) -> Result<Option<berth_net::Forwarder>, EngineError> {
        let Some(netns) = netns else { return Ok(None) };
        let mut specs = Vec::new();
        for (key, bindings) in c.host_config.port_bindings.iter().flatten() {
            for b in bindings {
                let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
                specs.push(berth_net::PortSpec {
                    host_ip: b.host_ip.clone(),
                    host_port: b.host_port.parse().unwrap_or(0),
                    container_port: port.parse().unwrap_or(0),
                    proto: proto.into(),
                });
            }
        }
        if c.host_config.publish_all_ports {
            let image = self.container_image_config(c)?;
            for key in image.exposed_ports.iter().flatten().map(|(k, _)| k) {
                if !specs.iter().any(|s| s.key() == *key) {
                    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
                    specs.push(berth_net::PortSpec {
                        host_ip: String::new(),
                        host_port: 0,
                        container_port: port.parse().unwrap_or(0),
                        proto: proto.into(),
                    });
                }
            }
        }
        if specs.is_empty() {
            return Ok(None);
        }
        let f =
            berth_net::Forwarder::bind(&specs).map_err(|e| EngineError::Runtime(e.to_string()))?;
        f.start(netns)
            .map_err(|e| EngineError::Runtime(e.to_string()))?;
        Ok(Some(f))
    }

    /// Kernel (DNAT) rules for published ports, to the container's address
    /// on its first bridge network; None where it has none, or the rules
    /// could not be made (the forwarder then carries everything).
    fn kernel_forward(
        &self,
        plugged: &crate::networks::Endpoints,
        ports: &[berth_net::PortSpec],
    ) -> Option<berth_net::firewall::PortRules> {
        let (name, ep) = plugged.iter().find(|(_, e)| !e.ip_address.is_empty())?;
        let network = self.network(name).ok()?;
        let ip = ep.ip_address.parse().ok()?;
        match berth_net::firewall::publish(network.bridge()?, ip, ports) {
            Ok(rules) => Some(rules),
            Err(e) => {
                tracing::warn!("published ports stay in userland: {e}");
                None
            }
        }
    }

    fn container_image_config(
        &self,
        c: &Container,
    ) -> Result<berth_image::spec::ContainerConfig, EngineError> {
        let image = self.container_image(c)?;
        Ok(self.image_config(&image)?.config)
    }

    /// An exclusive lock on starting container `key` (flock on a file in its
    /// directory), released when dropped.
    pub(crate) fn start_lock(&self, key: &str) -> Result<File, EngineError> {
        let id = self.container(key)?.id;
        let path = self.store.container_dir(&id).join("start.lock");
        Ok(crate::lock_file(&path, true)?.expect("a blocking lock is taken"))
    }

    /// [`Engine::start_lock`] if it is free now.
    pub(crate) fn try_start_lock(&self, key: &str) -> Result<Option<File>, EngineError> {
        let id = self.container(key)?.id;
        crate::lock_file(&self.store.container_dir(&id).join("start.lock"), false)
    }

    /// Waits `delay` unless the container is stopped or removed meanwhile
    /// (then false).
    fn sleep_unless_stopped(&self, id: &str, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        loop {
            match self.container(id) {
                Ok(c) if !c.state.manually_stopped => {}
                _ => return false,
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    /// Starts a container in the background under a monitor process (the
    /// same binary, re-executed, in its own session) and returns once it runs.
    pub fn start_detached(&self, key: &str) -> Result<(), EngineError> {
        self.start_detached_with(key, None)
    }

    /// [`Engine::start_detached`], with `hold` called once the container
    /// exists and its attach socket listens, before its command runs: the
    /// API connects the attach requests that came before the start there.
    pub fn start_detached_with(
        &self,
        key: &str,
        hold: Option<&mut dyn FnMut(&Path)>,
    ) -> Result<(), EngineError> {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;
        let c = self.container(key)?;
        if c.state.running {
            return Ok(());
        }
        if c.state.restarting {
            // Its monitor is about to start it again.
            return Ok(());
        }
        let mut cmd = std::process::Command::new(crate::self_exe());
        cmd.arg("--root")
            .arg(self.root())
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("container-monitor")
            .arg(&c.id);
        if hold.is_some() {
            cmd.arg("--hold");
        }
        cmd.stdin(if hold.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
        // SAFETY: setsid is async-signal-safe; the monitor leaves our session and terminal.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()
                    .map(|_| ())
                    .map_err(std::io::Error::from)
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| EngineError::Runtime(format!("starting the container monitor: {e}")))?;
        let mut line = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().expect("piped"));
        let _ = out.read_line(&mut line);
        if let Some(hold) = hold {
            if line.trim_end() == "attach" {
                hold(&crate::attach::socket_path(&self.state_dir, c.short_id()));
                line.clear();
            }
            // The line (or the end of the pipe) lets the container run.
            if let Some(mut go) = child.stdin.take() {
                let _ = go.write_all(b"go\n");
            }
            if line.is_empty() {
                let _ = out.read_line(&mut line);
            }
        }
        // The monitor lives on (it is the container's parent); we do not wait for it.
        std::mem::forget(child);
        match line.trim_end().strip_prefix("error: ") {
            None if line.trim_end() == "ok" => Ok(()),
            // Started meanwhile by another berth: what this start wanted.
            Some(msg) if msg.ends_with("is already running") => Ok(()),
            Some(msg) => Err(classify(
                &self
                    .container(&c.id)
                    .map(|c| c.state.exit_code)
                    .unwrap_or(0),
                msg,
            )),
            None => Err(EngineError::Runtime(
                "the container monitor ended before the container started".into(),
            )),
        }
    }

    /// Starts container `key` and stays with it until it exits: `attach`
    /// is None for a monitor (output to the log only), Some(interactive)
    /// for the foreground; `ready` is told once it runs; `hold` runs after
    /// the container exists and before its command does.
    fn start_with(
        &self,
        key: &str,
        attach: Option<bool>,
        mut ready: Option<&mut dyn Write>,
        hold: Option<&mut dyn FnMut()>,
    ) -> Result<i32, EngineError> {
        let interactive = attach.unwrap_or(false);
        berth_runtime::cgroups::warm_migration();
        // One start at a time per container: whoever comes second sees it
        // running (the lock goes when this function returns or the
        // container is recorded running, whichever is first).
        let mut start_lock = Some(self.start_lock(key)?);
        let c = self.container(key)?;
        if c.state.running {
            return Err(EngineError::Conflict(format!(
                "container {} is already running",
                c.short_id()
            )));
        }
        // A pod's container needs the namespaces its infra holds.
        self.start_pod_of(&c)?;
        let (spec, plugged) = match self.prepare(&c) {
            Ok(prepared) => prepared,
            Err(e) => return Err(self.failed_start(&c, e)),
        };
        let log = match c.host_config.log_config.kind.as_str() {
            "none" => LogWriter::discard(),
            _ => LogWriter::create(Path::new(&c.log_path), log_rotation(&c))
                .map_err(|e| EngineError::io(Path::new(&c.log_path), e))?,
        };
        // A detached container started with -i reads its stdin from a pipe
        // that attach clients write to.
        let io = match StdioPlan::new(
            &self.state_dir.join(format!("{}.console", c.short_id())),
            spec.terminal,
            interactive,
            attach.is_none() && c.config.open_stdin,
            c.config.stdin_once,
        ) {
            Ok(io) => io,
            Err(e) => return Err(self.failed_start(&c, e)),
        };
        let (stdio, mut pumps) = io.split();
        pumps.size = c.host_config.console_size();
        pumps.to_terminal = attach.is_some();
        // `run -a STREAM`: the streams not asked for go to the log only.
        pumps.stderr_to_terminal = attach.is_some() && c.config.attach_stderr;
        pumps.stdout_to_terminal = attach.is_some() && c.config.attach_stdout;
        // Published ports are bound before the container exists, so a port
        // in use stops the start with nothing to undo.
        let forwarder = match self.publish(&c, spec.netns.as_deref()) {
            Ok(f) => f,
            Err(e) => return Err(self.failed_start(&c, e)),
        };
        let ports = forwarder.as_ref().map(|f| ports_json(&f.bound()));
        // The kernel carries what it can; the forwarder keeps the ports
        // bound, and serves what the kernel rules do not cover (IPv6).
        let kernel_ports = forwarder
            .as_ref()
            .and_then(|f| self.kernel_forward(plugged.as_ref()?, &f.bound()));
        // The embedded DNS server of user networks, ready before the command runs.
        let own_netns = spec
            .netns
            .as_deref()
            .filter(|p| *p == self.netns_path(&c.id));
        let dns = match own_netns.map(|ns| self.dns_server(&c, ns)).transpose() {
            Ok(dns) => dns.flatten(),
            Err(e) => return Err(self.failed_start(&c, e)),
        };
        // The runtime's bundle (config.json, which holds the environment,
        // `type=env` secrets included) lives in the state directory, with
        // the rest of what only a running container needs: not in the store.
        let bundle = self.bundle_dir(&c.id);
        if let Err(e) = create_private_dir(&bundle) {
            return Err(self.failed_start(&c, e));
        }
        let mut created = match rt::create(&self.runtime_dir(), &bundle, &spec, stdio) {
            Ok(created) => created,
            Err(e) => return Err(self.failed_start(&c, e.into())),
        };
        let pid = created.pid();
        let check = c
            .config
            .healthcheck
            .as_ref()
            .and_then(crate::health::Check::from_config);
        let probes = crate::health::kube_probes(&c.config.labels);
        // From here on threads are allowed: the clone is done.
        let hub = pumps.hub.clone();
        let running = pumps.spawn(log, pid);
        let listener = crate::attach::Listener::bind(
            &crate::attach::socket_path(&self.state_dir, c.short_id()),
            &hub,
        );
        if let Err(e) = &listener {
            tracing::warn!("container {}: no attach socket: {e}", c.short_id());
        }
        if let Some(hold) = hold {
            // Attach clients that asked before the start connect now, so
            // that they see the container's first output.
            hold();
        }
        let mut stopped = false;
        self.update(&c.id, |c| {
            // A stop that came while the monitor restarted it wins: the
            // restart is undone rather than lifting the stop.
            if c.state.restarting && c.state.manually_stopped {
                stopped = true;
                return;
            }
            c.state.status = "running".into();
            c.state.running = true;
            c.state.restarting = false;
            // A start lifts an earlier stop: the restart policy applies again.
            c.state.manually_stopped = false;
            if let Some(eps) = &plugged {
                crate::networks::set_endpoints(c, eps);
            }
            if let Some(p) = &ports {
                c.network_settings["Ports"] = p.clone();
            }
            c.state.health = (check.is_some() || probes.is_some()).then(|| crate::health::Health {
                status: "starting".into(),
                ..Default::default()
            });
            c.state.pid = pid;
            c.state.exit_code = 0;
            c.state.error.clear();
            c.state.started_at = time::now();
            c.state.finished_at = time::ZERO.into();
        })?;
        if stopped {
            kill_created(pid);
            self.release(&c);
            return Ok(c.state.exit_code);
        }
        if let Err(e) = created.start() {
            kill_created(pid);
            return Err(self.failed_start(&c, e.into()));
        }
        drop(start_lock.take());
        self.emit_container(&c, "start", &[]);
        if let Some(r) = ready.as_mut() {
            let _ = writeln!(r, "ok");
            let _ = r.flush();
        }
        let health = check.map(|check| self.watch_health(&c.id, check));
        let grace = Duration::from_secs(c.config.stop_timeout.unwrap_or(10) as u64);
        let kube_probes = probes.map(|p| self.watch_probes(&c, pid, p, grace));
        // The container stays a zombie until its exit is recorded: were it reaped
        // first, another berth could find the pid gone, take this monitor for
        // lost (exit 137) and start the container again, under our cleanup.
        let code = rt::wait_exited(pid)?;
        drop(health);
        drop(kube_probes);
        drop(kernel_ports);
        drop(forwarder);
        drop(dns);
        running.finish();
        let recorded = self.record_exit(&c, &spec, code);
        // Clients see the end of the stream once the exit is recorded, so
        // what they ask next (inspect, wait) knows the exit code.
        hub.close();
        drop(listener);
        rt::reap(pid);
        recorded.map(|()| code)
    }

    /// Releases what the run took and marks the container exited with `code`.
    fn record_exit(
        &self,
        c: &Container,
        spec: &ContainerSpec,
        code: i32,
    ) -> Result<(), EngineError> {
        let oom = rt::oom_killed(&spec.cgroups_path);
        self.release(c);
        let recorded = self.update(&c.id, |c| {
            if let Some(n) = c.network_settings.as_object_mut() {
                n.remove("Ports");
            }
            crate::networks::forget_addresses(c);
            c.state.status = "exited".into();
            c.state.running = false;
            c.state.pid = 0;
            c.state.exit_code = code;
            c.state.oom_killed = oom;
            c.state.finished_at = time::now();
        });
        // Said once the exit is recorded: a waiter woken by `die` (the
        // API's) finds the container stopped, as docker's does.
        if oom {
            self.emit_container(c, "oom", &[]);
        }
        self.emit_container(c, "die", &[("exitCode", code.to_string())]);
        match recorded {
            // Removed under us (`rm -f`, before or while we wrote): there
            // is no record left to update, and nothing went wrong.
            Err(_) if self.store.db.find_container(&c.id)?.is_empty() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Records a failed start as docker does (the container stays `created`,
    /// with the error and 126/127 where they apply) and releases what was taken.
    fn failed_start(&self, c: &Container, e: EngineError) -> EngineError {
        self.release(c);
        let code = match &e {
            EngineError::CommandNotFound(_) => 127,
            EngineError::CommandNotInvokable(_) => 126,
            _ => 128,
        };
        let message = e.to_string();
        let _ = self.update(&c.id, |c| {
            c.state.error = message;
            c.state.exit_code = code;
        });
        e
    }

    /// Mounts the rootfs, plugs the container into its networks and turns
    /// the record into a runtime spec; with the endpoints it was given on
    /// bridge networks (None when it has no namespace of its own).
    fn prepare(
        &self,
        c: &Container,
    ) -> Result<(ContainerSpec, Option<crate::networks::Endpoints>), EngineError> {
        let rootfs = self.mount_rootfs(c)?;
        for name in crate::volumes::volume_names(c) {
            self.mount_volume_if_tmpfs(name)?;
        }
        self.fill_volumes(c, &rootfs)?;
        if !c.config.working_dir.is_empty() {
            // docker creates a missing working directory.
            berth_image::layer::create_dir_all_in(&rootfs, Path::new(&c.config.working_dir))
                .map_err(|e| EngineError::io(Path::new(&c.config.working_dir), e))?;
        }
        let user = berth_runtime::user::resolve(&rootfs, &c.config.user)
            .map_err(|e| EngineError::invalid(e.to_string()))?;
        let h = &c.host_config;
        let capabilities = berth_runtime::caps::effective(
            h.cap_add.as_deref().unwrap_or(&[]),
            h.cap_drop.as_deref().unwrap_or(&[]),
            h.privileged,
        )
        .map_err(|e| EngineError::invalid(e.to_string()))?;
        let security = h.security_opt.clone().unwrap_or_default();
        let mut plugged = None;
        let netns = if h.network_mode == "host" {
            None
        } else if let Some(other) = h.network_mode.strip_prefix("container:") {
            // Joins the other container's namespace, which must be running.
            let target = self.container(other)?;
            if !target.state.running {
                return Err(EngineError::Conflict(format!(
                    "cannot join network of a non running container: {}",
                    target.short_name()
                )));
            }
            match target.host_config.network_mode.as_str() {
                "host" => None,
                _ => Some(self.netns_path(&target.id)),
            }
        } else {
            let path = self.netns_path(&c.id);
            std::fs::create_dir_all(path.parent().unwrap())
                .map_err(|e| EngineError::io(&path, e))?;
            berth_runtime::netns::remove(&path).map_err(|e| EngineError::io(&path, e))?;
            berth_runtime::netns::create(&path).map_err(|e| EngineError::io(&path, e))?;
            plugged = Some(self.attach_networks(c, &path)?);
            crate::kube::redirect_ports(c, &path)?;
            Some(path)
        };
        let mut env = c.config.env.clone();
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={}", user.home));
        }
        self.check_platform_runs(c)?;
        let (namespaces, shm) = self.namespaces(c)?;
        let (devices, _) = crate::host::device_edits(h)?;
        let mut device_rules: Vec<berth_runtime::DeviceRule> = h
            .device_cgroup_rules
            .iter()
            .flatten()
            .map(|r| berth_runtime::devices::parse_rule(r).map_err(EngineError::invalid))
            .collect::<Result<_, _>>()?;
        let mut nodes = Vec::new();
        for (node, rule) in devices.nodes {
            nodes.push(node);
            device_rules.push(rule);
        }
        for e in &devices.env {
            let key = e.split('=').next().unwrap_or("");
            env.retain(|x| x.split('=').next() != Some(key));
            env.push(e.clone());
        }
        env.extend(self.link_env(c)?);
        let mut additional_gids = user.additional_gids;
        for g in h.group_add.iter().flatten() {
            let gid = berth_runtime::user::group_id(&rootfs, g)
                .map_err(|e| EngineError::invalid(e.to_string()))?;
            if !additional_gids.contains(&gid) {
                additional_gids.push(gid);
            }
        }
        for g in devices.gids {
            if !additional_gids.contains(&g) {
                additional_gids.push(g);
            }
        }
        let mut all_mounts = mounts(c, &|name| self.volume_path(name));
        all_mounts.extend(devices.mounts);
        let (secret_mounts, secret_env) = self.secret_edits(c)?;
        all_mounts.extend(secret_mounts);
        for e in secret_env {
            let key = e.split('=').next().unwrap_or("").to_string();
            env.retain(|x| x.split('=').next() != Some(key.as_str()));
            env.push(e);
        }
        let spec = ContainerSpec {
            id: c.id.clone(),
            rootfs,
            args: std::iter::once(c.path.clone())
                .chain(c.args.iter().cloned())
                .collect(),
            env,
            cwd: if c.config.working_dir.is_empty() {
                "/".into()
            } else {
                c.config.working_dir.clone()
            },
            uid: user.uid,
            gid: user.gid,
            additional_gids,
            hostname: c.config.hostname.clone(),
            terminal: c.config.tty,
            read_only: h.readonly_rootfs,
            mounts: all_mounts,
            netns,
            privileged: h.privileged,
            seccomp: seccomp_for(&security, h.privileged, &capabilities)?,
            no_new_privileges: security.iter().any(|s| {
                s == "no-new-privileges"
                    || s == "no-new-privileges:true"
                    || s == "no-new-privileges=true"
            }),
            capabilities,
            resources: crate::host::resources(h)?,
            rlimits: h
                .ulimits
                .iter()
                .flatten()
                .map(|u| clamp_rlimit(&u.name, u.soft, u.hard))
                .collect(),
            cgroups_path: Self::cgroups_path(c),
            cgroup_v2: rt::cgroup_v2(),
            init: h.init.unwrap_or(false),
            domainname: c.config.domainname.clone(),
            devices: nodes,
            device_rules,
            namespaces,
            shm,
            sysctls: crate::host::sysctls(h),
            oom_score_adj: Some(h.oom_score_adj as i32).filter(|a| *a != 0),
            hooks: devices.hooks,
        };
        Ok((spec, plugged))
    }
}

/// Ends a container that was created but never started.
fn kill_created(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = rt::wait(pid);
}

/// NetworkSettings.Ports as docker shows them: `{"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}`.
fn ports_json(bound: &[berth_net::PortSpec]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for s in bound {
        let ip = if s.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &s.host_ip
        };
        let entry = out.entry(s.key()).or_insert_with(|| serde_json::json!([]));
        if let Some(list) = entry.as_array_mut() {
            list.push(serde_json::json!({"HostIp": ip, "HostPort": s.host_port.to_string()}));
        }
    }
    serde_json::Value::Object(out)
}

/// The container's `--log-opt max-size` / `max-file`.
fn log_rotation(c: &Container) -> crate::logs::Rotation {
    let opts = &c.host_config.log_config.config;
    crate::logs::Rotation {
        max_size: opts
            .get("max-size")
            .and_then(|s| crate::containers::parse_bytes(s).ok())
            .map(|n| n as u64),
        max_files: opts
            .get("max-file")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1),
    }
}

/// The seccomp filter `--security-opt` asks for: none when unconfined or
/// privileged, a given profile, or docker's default (as build RUN steps use).
pub(crate) fn seccomp_for(
    security: &[String],
    privileged: bool,
    caps: &std::collections::BTreeSet<String>,
) -> Result<Option<LinuxSeccomp>, EngineError> {
    if privileged
        || security
            .iter()
            .any(|s| s == "seccomp=unconfined" || s == "seccomp:unconfined")
    {
        return Ok(None);
    }
    let profile = match security.iter().find_map(|s| s.strip_prefix("seccomp=")) {
        Some(json) => seccomp::Profile::from_json(json.as_bytes())
            .map_err(|e| EngineError::invalid(e.to_string()))?,
        None => seccomp::default_profile(),
    };
    let caps: HashSet<String> = caps.iter().cloned().collect();
    Ok(Some(
        seccomp::to_oci(&profile, &caps).map_err(|e| EngineError::invalid(e.to_string()))?,
    ))
}

/// Never above the hard limit this process has: without CAP_SYS_RESOURCE the
/// kernel refuses, and a container must still start.
fn clamp_rlimit(name: &str, soft: i64, hard: i64) -> Rlimit {
    let resource = match name {
        "core" => libc::RLIMIT_CORE,
        "cpu" => libc::RLIMIT_CPU,
        "data" => libc::RLIMIT_DATA,
        "fsize" => libc::RLIMIT_FSIZE,
        "locks" => libc::RLIMIT_LOCKS,
        "memlock" => libc::RLIMIT_MEMLOCK,
        "msgqueue" => libc::RLIMIT_MSGQUEUE,
        "nice" => libc::RLIMIT_NICE,
        "nofile" => libc::RLIMIT_NOFILE,
        "nproc" => libc::RLIMIT_NPROC,
        "rss" => libc::RLIMIT_RSS,
        "rtprio" => libc::RLIMIT_RTPRIO,
        "rttime" => libc::RLIMIT_RTTIME,
        "sigpending" => libc::RLIMIT_SIGPENDING,
        "stack" => libc::RLIMIT_STACK,
        _ => libc::RLIMIT_AS,
    };
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    unsafe { libc::getrlimit(resource, &mut current) };
    let as_u64 = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
    let hard = as_u64(hard).min(current.rlim_max);
    let soft = as_u64(soft).min(hard);
    Rlimit {
        kind: format!("RLIMIT_{}", name.to_ascii_uppercase()),
        soft,
        hard,
    }
}

/// Binds, `--mount`s, tmpfs mounts and the per-container /etc files.
/// The container's mounts; `volume_path` says where a volume's data is.
fn mounts(c: &Container, volume_path: &dyn Fn(&str) -> PathBuf) -> Vec<MountSpec> {
    let h = &c.host_config;
    let mut out = Vec::new();
    for (path, dest) in [
        (&c.hostname_path, "/etc/hostname"),
        (&c.hosts_path, "/etc/hosts"),
        (&c.resolv_conf_path, "/etc/resolv.conf"),
    ] {
        out.push(MountSpec::Bind {
            source: PathBuf::from(path),
            destination: dest.into(),
            read_only: false,
        });
    }
    for b in h.binds.iter().flatten() {
        let parts: Vec<&str> = b.split(':').collect();
        let ro = parts
            .get(2)
            .is_some_and(|m| m.split(',').any(|o| o == "ro"));
        out.push(MountSpec::Bind {
            source: parts[0].into(),
            destination: parts[1].into(),
            read_only: ro,
        });
    }
    for m in h.mounts.iter().flatten() {
        match m.kind.as_str() {
            "bind" => out.push(MountSpec::Bind {
                source: m.source.clone().into(),
                destination: m.target.clone(),
                read_only: m.read_only,
            }),
            "volume" => out.push(MountSpec::Bind {
                source: volume_path(&m.source),
                destination: m.target.clone(),
                read_only: m.read_only,
            }),
            _ => {
                let mut options = Vec::new();
                if let Some(t) = &m.tmpfs_options {
                    options.extend(t.size_bytes.map(|s| format!("size={s}")));
                    options.extend(t.mode.map(|m| format!("mode={m:o}")));
                }
                if m.read_only {
                    options.push("ro".into());
                }
                out.push(MountSpec::Tmpfs {
                    destination: m.target.clone(),
                    options,
                });
            }
        }
    }
    for (path, opts) in h.tmpfs.iter().flatten() {
        let options = opts
            .split(',')
            .filter(|o| !o.is_empty())
            .map(String::from)
            .collect();
        out.push(MountSpec::Tmpfs {
            destination: path.clone(),
            options,
        });
    }
    out
}

/// How the container's stdio is wired before the clone.
struct StdioPlan {
    stdio: Stdio,
    pumps: Pumps,
}

/// The host ends, pumped by threads once the container exists.
struct Pumps {
    /// Output to this terminal too (attached), or only to the log (detached).
    to_terminal: bool,
    stdout_to_terminal: bool,
    stderr_to_terminal: bool,
    console: Option<ConsoleSocket>,
    stdout: Option<File>,
    stderr: Option<File>,
    interactive: bool,
    /// Attach clients: they get the output and may give the input.
    hub: Arc<Hub>,
    /// The terminal's size before the command runs (rows, columns), when
    /// it is not this process's own terminal's.
    size: Option<(u16, u16)>,
    /// An exec's session on this terminal: the keys that leave it running,
    /// and where to say they were typed.
    detach: Option<(Vec<u8>, std::sync::mpsc::Sender<Ended>)>,
}

/// How an exec on this terminal ended.
enum Ended {
    Exited(Result<i32, EngineError>),
    Detached,
}

impl StdioPlan {
    /// `piped_stdin`: the container's stdin is a pipe that attach clients
    /// write to (a detached `-i` container), closed after the first
    /// client's input ends with `stdin_once`.
    fn new(
        console_path: &Path,
        terminal: bool,
        interactive: bool,
        piped_stdin: bool,
        stdin_once: bool,
    ) -> Result<StdioPlan, EngineError> {
        let pipe = || {
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
                .map_err(|e| EngineError::io(Path::new("pipe"), e.into()))
        };
        let (stdin, stdin_writer): (OwnedFd, Option<File>) = if terminal {
            // Input goes through the terminal itself.
            (
                File::open("/dev/null")
                    .map(OwnedFd::from)
                    .map_err(|e| EngineError::io(Path::new("/dev/null"), e))?,
                None,
            )
        } else if piped_stdin {
            let (r, w) = pipe()?;
            (r, Some(File::from(w)))
        } else if interactive {
            let fd = std::io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| EngineError::io(Path::new("stdin"), e))?;
            (fd, None)
        } else {
            let null =
                File::open("/dev/null").map_err(|e| EngineError::io(Path::new("/dev/null"), e))?;
            (OwnedFd::from(null), None)
        };
        let hub = Hub::new(terminal, stdin_once, stdin_writer);
        if terminal {
            let console =
                ConsoleSocket::bind(console_path).map_err(|e| EngineError::io(console_path, e))?;
            let stdio = Stdio {
                console_socket: Some(console.path().to_path_buf()),
                ..Stdio::default()
            };
            drop(stdin);
            return Ok(StdioPlan {
                stdio,
                pumps: Pumps {
                    to_terminal: true,
                    stdout_to_terminal: true,
                    stderr_to_terminal: true,
                    console: Some(console),
                    stdout: None,
                    stderr: None,
                    interactive,
                    hub,
                    size: None,
                    detach: None,
                },
            });
        }
        let (out_r, out_w) =
            nix::unistd::pipe().map_err(|e| EngineError::io(Path::new("pipe"), e.into()))?;
        let (err_r, err_w) =
            nix::unistd::pipe().map_err(|e| EngineError::io(Path::new("pipe"), e.into()))?;
        Ok(StdioPlan {
            stdio: Stdio {
                stdin: Some(stdin),
                stdout: Some(out_w),
                stderr: Some(err_w),
                console_socket: None,
            },
            pumps: Pumps {
                to_terminal: true,
                stdout_to_terminal: true,
                stderr_to_terminal: true,
                console: None,
                stdout: Some(File::from(out_r)),
                stderr: Some(File::from(err_r)),
                interactive,
                hub,
                size: None,
                detach: None,
            },
        })
    }

    fn split(self) -> (Stdio, Pumps) {
        (self.stdio, self.pumps)
    }
}

/// Threads copying output and forwarding signals while the container runs.
struct Running {
    copiers: Vec<JoinHandle<()>>,
    signals: signal_hook::iterator::Handle,
    _raw: Option<RawMode<std::io::Stdin>>,
}

impl Running {
    /// Waits for the output to drain and stops forwarding signals.
    fn finish(self) {
        for c in self.copiers {
            let _ = c.join();
        }
        self.signals.close();
    }
}

impl Pumps {
    fn spawn(self, log: LogWriter, pid: i32) -> Running {
        let mut copiers = Vec::new();
        let mut raw = None;
        let mut master_fd = None;
        if let Some(console) = &self.console {
            if let Ok(master) = console.receive_master() {
                let master = File::from(master);
                self.hub.set_console(&master);
                let stdin = std::io::stdin();
                if self.to_terminal && nix::unistd::isatty(stdin.as_raw_fd()).unwrap_or(false) {
                    berth_runtime::tty::copy_size(stdin.as_raw_fd(), master.as_raw_fd());
                    raw = RawMode::enter(stdin).ok();
                } else if let Some((rows, cols)) = self.size {
                    berth_runtime::tty::set_size(master.as_raw_fd(), rows, cols);
                }
                master_fd = Some(master.as_raw_fd());
                if self.interactive {
                    if let Ok(writer) = master.try_clone() {
                        let detach = self.detach.clone();
                        // Not joined: it may sit in read(stdin) after the container is gone.
                        std::thread::spawn(move || copy_stdin(writer, detach));
                    }
                }
                let log = log.clone();
                let to = self.to_terminal;
                let hub = self.hub.clone();
                copiers.push(std::thread::spawn(move || {
                    copy_out(
                        master,
                        crate::attach::STDOUT,
                        &mut sink_or(to, std::io::stdout()),
                        &log,
                        &hub,
                    )
                }));
            }
        }
        let (to_out, to_err) = (self.stdout_to_terminal, self.stderr_to_terminal);
        if let Some(out) = self.stdout {
            let (log, hub) = (log.clone(), self.hub.clone());
            copiers.push(std::thread::spawn(move || {
                copy_out(
                    out,
                    crate::attach::STDOUT,
                    &mut sink_or(to_out, std::io::stdout()),
                    &log,
                    &hub,
                )
            }));
        }
        if let Some(err) = self.stderr {
            let hub = self.hub.clone();
            copiers.push(std::thread::spawn(move || {
                copy_out(
                    err,
                    crate::attach::STDERR,
                    &mut sink_or(to_err, std::io::stderr()),
                    &log,
                    &hub,
                )
            }));
        }
        let mut signals = signal_hook::iterator::Signals::new([
            SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH,
        ])
        .expect("signal handlers install");
        let handle = signals.handle();
        std::thread::spawn(move || {
            for sig in signals.forever() {
                if sig == SIGWINCH {
                    if let Some(m) = master_fd {
                        berth_runtime::tty::copy_size(0, m);
                    }
                    continue;
                }
                // SAFETY: kill(2) with a pid we started and a valid signal number.
                unsafe { libc::kill(pid, sig) };
            }
        });
        drop(self.console);
        Running {
            copiers,
            signals: handle,
            _raw: raw,
        }
    }
}

/// Our stdin to a terminal's master; with detach keys, until they are
/// typed: then a process of our own keeps the terminal open, so that what
/// runs on it carries on, and the exec's waiter hears of it.
fn copy_stdin(mut to: File, detach: Option<(Vec<u8>, std::sync::mpsc::Sender<Ended>)>) {
    let Some((keys, ended)) = detach else {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut to);
        return;
    };
    if crate::session::copy_stdin(&mut to, keys) == crate::session::StdinEnd::Detached {
        keep_open(&to);
        let _ = ended.send(Ended::Detached);
    }
}

/// Forks a process that holds terminal master `m` open and drains it until
/// the last process on the terminal is gone.
fn keep_open(m: &File) {
    // SAFETY: the child runs only async-signal-safe calls (setsid, open,
    // dup2, read, _exit) on fds it owns, then exits.
    unsafe {
        if libc::fork() != 0 {
            return;
        }
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        for fd in 0..3 {
            libc::dup2(null, fd);
        }
        let mut buf = [0u8; 4096];
        while libc::read(m.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) > 0 {}
        libc::_exit(0);
    }
}

/// `exec` options (docker's exec create body, as the engine needs it).
#[derive(Clone, Debug, Default)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub interactive: bool,
    pub tty: bool,
    /// `KEY=VALUE` entries over the container's env (a bare KEY is dropped).
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub privileged: bool,
    /// The terminal's first size (rows, columns).
    pub console_size: Option<(u16, u16)>,
    /// On this process's terminal with -it: the keys that leave the exec
    /// running (docker's Ctrl-P Ctrl-Q unless set).
    pub detach_keys: Option<Vec<u8>>,
}

/// Where an exec's stdio goes.
pub enum ExecIo {
    /// This process's own terminal or streams (the CLI).
    Terminal,
    /// One attach client (the API's hijacked connection): output in the
    /// attach socket's format, input from it, closed when its input ends.
    Client(std::os::unix::net::UnixStream),
    /// Nowhere: `exec -d`.
    Detached,
}

/// A running exec.
pub struct ExecProcess {
    pid: i32,
    running: Running,
    hub: Arc<Hub>,
    /// Hears the detach keys of a session on this terminal, or its end.
    detached: Option<(
        std::sync::mpsc::Sender<Ended>,
        std::sync::mpsc::Receiver<Ended>,
    )>,
}

impl ExecProcess {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The exec's stdio, to resize its terminal while it runs.
    pub fn hub(&self) -> Arc<Hub> {
        self.hub.clone()
    }

    /// Waits for the exec to exit and its output to drain; `exited` hears
    /// the code before the client's stream ends.
    pub fn wait_then(self, exited: impl FnOnce(i32)) -> Result<i32, EngineError> {
        let code = rt::wait(self.pid);
        self.running.finish();
        if let Ok(code) = &code {
            exited(*code);
        }
        self.hub.close();
        Ok(code?)
    }
}

impl Engine {
    /// `exec`: runs a command in a running container (its namespaces and
    /// cgroup) on this process's stdio; its exit code.
    pub fn exec(
        &self,
        key: &str,
        o: &ExecOptions,
        detach: bool,
    ) -> Result<crate::session::Attached, EngineError> {
        use crate::session::Attached;
        let io = if detach {
            ExecIo::Detached
        } else {
            ExecIo::Terminal
        };
        let mut p = self.exec_start(key, o, io)?;
        if detach {
            return Ok(Attached::Exited(0));
        }
        let Some((tx, ended)) = p.detached.take() else {
            return p.wait_then(|_| {}).map(Attached::Exited);
        };
        let pid = p.pid;
        std::thread::spawn(move || {
            let _ = tx.send(Ended::Exited(rt::wait(pid).map_err(EngineError::from)));
        });
        match ended.recv() {
            Ok(Ended::Detached) => {
                // Its output threads stay behind: the process exits now.
                p.running.signals.close();
                Ok(Attached::Detached)
            }
            Ok(Ended::Exited(code)) => {
                p.running.finish();
                p.hub.close();
                code.map(Attached::Exited)
            }
            Err(_) => Err(EngineError::Runtime("exec: its waiter is gone".into())),
        }
    }

    /// Starts an exec in container `key` with its stdio on `io`.
    pub fn exec_start(
        &self,
        key: &str,
        o: &ExecOptions,
        io: ExecIo,
    ) -> Result<ExecProcess, EngineError> {
        berth_runtime::cgroups::warm_migration();
        let c = self.container(key)?;
        if !c.state.running {
            return Err(EngineError::Conflict(format!(
                "container {} is not running",
                c.id
            )));
        }
        self.thaw_after_dead_commit(&c);
        if c.state.paused {
            return Err(EngineError::Conflict(format!(
                "container {} is paused, unpause the container before exec",
                c.id
            )));
        }
        if o.command.is_empty() {
            return Err(EngineError::invalid("exec needs a command"));
        }
        let rootfs = self.store.container_dir(&c.id).join("rootfs");
        let user =
            berth_runtime::user::resolve(&rootfs, o.user.as_deref().unwrap_or(&c.config.user))
                .map_err(|e| EngineError::invalid(e.to_string()))?;
        // The container's env (with its env secrets), then the exec's.
        let mut env: Vec<(String, String)> = Vec::new();
        let secret_env = self.secret_env(&c)?;
        for e in c.config.env.iter().chain(&secret_env).chain(&o.env) {
            if let Some((k, v)) = e.split_once('=') {
                env.retain(|(x, _)| x != k);
                env.push((k.into(), v.into()));
            }
        }
        if !env.iter().any(|(k, _)| k == "HOME") {
            env.push(("HOME".into(), user.home.clone()));
        }
        // As docker: a terminal exec says what terminal it is.
        if o.tty && !env.iter().any(|(k, _)| k == "TERM") {
            env.push(("TERM".into(), "xterm".into()));
        }
        let capabilities = o
            .privileged
            .then(|| berth_runtime::caps::available().into_iter().collect());
        let spec = rt::ExecSpec {
            args: o.command.clone(),
            env,
            cwd: o
                .workdir
                .clone()
                .filter(|w| !w.is_empty())
                .or_else(|| Some(c.config.working_dir.clone()).filter(|w| !w.is_empty())),
            uid: Some(user.uid),
            gid: Some(user.gid),
            additional_gids: user.additional_gids,
            capabilities,
            terminal: o.tty,
            console_size: o.console_size,
        };
        let console = self.state_dir.join(format!(
            "{}.exec-{}.console",
            c.short_id(),
            berth_store::random_hex(4)
        ));
        let client = matches!(io, ExecIo::Client(_));
        let on_terminal = matches!(io, ExecIo::Terminal);
        let plan = StdioPlan::new(
            &console,
            o.tty,
            o.interactive && on_terminal,
            o.interactive && client,
            true,
        )?;
        let (stdio, mut pumps) = plan.split();
        pumps.size = o.console_size;
        let detached = (on_terminal && o.tty && o.interactive).then(std::sync::mpsc::channel);
        if let Some((tx, _)) = &detached {
            let keys = o
                .detach_keys
                .clone()
                .unwrap_or_else(|| crate::session::DEFAULT_DETACH_KEYS.to_vec());
            pumps.detach = Some((keys, tx.clone()));
        }
        pumps.to_terminal = on_terminal;
        pumps.stdout_to_terminal = on_terminal;
        pumps.stderr_to_terminal = on_terminal;
        let pid = rt::exec(&self.runtime_dir(), &c.id, &spec, stdio)?;
        let hub = pumps.hub.clone();
        if let ExecIo::Client(stream) = io {
            let req = crate::attach::Request {
                stdin: o.interactive,
                stdout: true,
                stderr: true,
                resize: None,
            };
            hub.join(stream, &req, false)
                .map_err(|e| EngineError::io(Path::new("exec stream"), e))?;
        }
        let running = pumps.spawn(LogWriter::discard(), pid);
        Ok(ExecProcess {
            pid,
            running,
            hub,
            detached,
        })
    }
}

/// `w` when attached to a terminal, nowhere otherwise (the log still gets everything).
fn sink_or<W: Write + 'static>(attached: bool, w: W) -> Box<dyn Write> {
    if attached {
        Box::new(w)
    } else {
        Box::new(std::io::sink())
    }
}

/// Turns a monitor's start error back into the kind of error it was, for
/// docker's 126/127 exit codes: by the exit code recorded, or by its words
/// when the container is gone already (`--rm`).
fn classify(exit_code: &i32, msg: &str) -> EngineError {
    use berth_runtime::executor::{IS_A_DIRECTORY, NOT_FOUND, NO_SUCH_FILE, PERMISSION_DENIED};
    if *exit_code == 127 || msg.contains(NOT_FOUND) || msg.contains(NO_SUCH_FILE) {
        EngineError::CommandNotFound(msg.into())
    } else if *exit_code == 126 || msg.contains(PERMISSION_DENIED) || msg.contains(IS_A_DIRECTORY) {
        EngineError::CommandNotInvokable(msg.into())
    } else {
        EngineError::Runtime(msg.into())
    }
}

/// Copies one output stream to the terminal, the log and attach clients
/// until it closes (EOF for a pipe, EIO for a PTY whose other side is gone).
fn copy_out(mut from: File, stream: u8, to: &mut dyn Write, log: &LogWriter, hub: &Hub) {
    let name = if stream == crate::attach::STDERR {
        "stderr"
    } else {
        "stdout"
    };
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let _ = to.write_all(&buf[..n]);
                let _ = to.flush();
                let _ = log.write(name, &buf[..n]);
                hub.broadcast(stream, &buf[..n]);
            }
        }
    }
}
