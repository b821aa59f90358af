//! Containers: create (every option checked before anything is written),
//! list, inspect, rename, remove, prune, logs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_store::db::ContainerRow;
use serde_json::json;

use crate::model::{
    Config, Container, GraphDriver, HostConfig, MountConfig, MountPoint, State, TmpfsOptions,
    Ulimit,
};
use crate::{logs, names, time, Engine, EngineError};

/// `create` / `run` options, as the user gave them.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    pub image: String,
    pub name: Option<String>,
    pub command: Vec<String>,
    pub entrypoint: Option<String>,
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub labels: Vec<String>,
    pub volumes: Vec<String>,
    pub mounts: Vec<String>,
    pub tmpfs: Vec<String>,
    pub read_only: bool,
    pub network: Option<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub security_opt: Vec<String>,
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub cpus: Option<String>,
    pub cpu_shares: Option<i64>,
    pub pids_limit: Option<i64>,
    pub ulimits: Vec<String>,
    pub interactive: bool,
    pub tty: bool,
    pub auto_remove: bool,
    /// `--restart`.
    pub restart: Option<String>,
    pub health: crate::health::HealthOptions,
    /// `--log-driver` (json-file or none) and `--log-opt KEY=VALUE`.
    pub log_driver: Option<String>,
    pub log_opts: Vec<String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u32>,
    /// `--init`.
    pub init: bool,
    /// `-a STREAM`: the streams a foreground run shows (all when empty).
    pub attach: Vec<String>,
    /// `-p` and `-P`.
    pub publish: Vec<String>,
    pub publish_all: bool,
    pub add_hosts: Vec<String>,
    /// `--ip`, `--network-alias`, `--mac-address`.
    pub ip: Option<String>,
    pub network_aliases: Vec<String>,
    pub mac_address: Option<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub volumes_from: Vec<String>,
}

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Engine {
    /// Creates a container (state `created`) and returns it.
    pub fn create(&self, opts: &CreateOptions) -> Result<Container, EngineError> {
        let image = self.resolve_image(&opts.image)?;
        let image_config = self.image_config(&image)?.config;
        let name = match &opts.name {
            Some(n) if !names::valid(n.trim_start_matches('/')) => {
                return Err(EngineError::invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )))
            }
            Some(n) => n.trim_start_matches('/').to_string(),
            None => names::random(),
        };
        for stream in &opts.attach {
            if !matches!(
                stream.to_ascii_lowercase().as_str(),
                "stdin" | "stdout" | "stderr"
            ) {
                return Err(EngineError::invalid(format!(
                    "invalid argument \"{stream}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
                )));
            }
        }
        let attached = |stream: &str, default: bool| {
            if opts.attach.is_empty() {
                default
            } else {
                opts.attach.iter().any(|a| a.eq_ignore_ascii_case(stream))
            }
        };
        let mut host_config = host_config(opts)?;
        self.share_from_others(&mut host_config)?;
        let (network_mode, endpoints) = self.initial_endpoints(
            &host_config.network_mode,
            opts.ip.as_deref(),
            &opts.network_aliases,
        )?;
        host_config.network_mode = network_mode;
        let mac_address = opts.mac_address.as_deref().map(parse_mac).transpose()?;
        self.attach_volumes(&mut host_config, image_config.volumes.as_ref())?;

        let (entrypoint, cmd) = match &opts.entrypoint {
            Some(e) if e.is_empty() => (None, Some(opts.command.clone()).filter(|c| !c.is_empty())),
            Some(e) => (
                Some(vec![e.clone()]),
                Some(opts.command.clone()).filter(|c| !c.is_empty()),
            ),
            None => (
                image_config.entrypoint.clone(),
                if opts.command.is_empty() {
                    image_config.cmd.clone()
                } else {
                    Some(opts.command.clone())
                },
            ),
        };
        let argv: Vec<String> = entrypoint
            .iter()
            .flatten()
            .chain(cmd.iter().flatten())
            .cloned()
            .collect();
        if argv.is_empty() {
            return Err(EngineError::invalid("No command specified"));
        }
        let id = berth_store::random_hex(32);
        let hostname = opts
            .hostname
            .clone()
            .unwrap_or_else(|| id[..12].to_string());
        let env = merge_env(image_config.env.as_deref().unwrap_or(&[]), &hostname, opts)?;
        let mut labels = image_config.labels.clone().unwrap_or_default();
        labels.extend(crate::key_values(&opts.labels));
        let dir = self.store.container_dir(&id);
        let container = Container {
            id: id.clone(),
            created: time::now(),
            path: argv[0].clone(),
            args: argv[1..].to_vec(),
            state: State {
                status: "created".into(),
                started_at: time::ZERO.into(),
                finished_at: time::ZERO.into(),
                ..State::default()
            },
            image: image.id.to_string(),
            resolv_conf_path: dir.join("resolv.conf").display().to_string(),
            hostname_path: dir.join("hostname").display().to_string(),
            hosts_path: dir.join("hosts").display().to_string(),
            log_path: dir.join(format!("{id}-json.log")).display().to_string(),
            name: format!("/{name}"),
            restart_count: 0,
            driver: "overlay2".into(),
            platform: "linux".into(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            mounts: mount_points(&host_config, &self.root().join("volumes")),
            graph_driver: GraphDriver {
                name: "overlay2".into(),
                data: BTreeMap::from([
                    ("UpperDir".into(), dir.join("upper").display().to_string()),
                    ("WorkDir".into(), dir.join("work").display().to_string()),
                    ("MergedDir".into(), dir.join("rootfs").display().to_string()),
                ]),
            },
            config: Config {
                hostname: hostname.clone(),
                user: opts
                    .user
                    .clone()
                    .unwrap_or_else(|| image_config.user.clone()),
                attach_stdin: attached("stdin", opts.interactive),
                attach_stdout: attached("stdout", true),
                attach_stderr: attached("stderr", true),
                tty: opts.tty,
                open_stdin: opts.interactive,
                stdin_once: opts.interactive,
                env,
                cmd,
                image: opts.image.clone(),
                volumes: image_config.volumes.clone(),
                working_dir: opts
                    .workdir
                    .clone()
                    .unwrap_or_else(|| image_config.working_dir.clone()),
                entrypoint,
                on_build: image_config.on_build.clone(),
                labels,
                stop_signal: match &opts.stop_signal {
                    Some(s) => {
                        crate::lifecycle::parse_signal(s)?;
                        Some(s.clone())
                    }
                    None => image_config.stop_signal.clone(),
                },
                stop_timeout: opts.stop_timeout,
                mac_address,
                healthcheck: crate::health::merge(image_config.healthcheck.as_ref(), &opts.health)?,
                ..Config::default()
            },
            network_settings: json!({
                "Bridge": "", "SandboxID": "", "HairpinMode": false,
                "Ports": {}, "SandboxKey": "", "IPAddress": "", "IPPrefixLen": 0,
                "Gateway": "", "MacAddress": "", "Networks": endpoints,
            }),
            host_config,
        };
        if !container.config.working_dir.is_empty()
            && !container.config.working_dir.starts_with('/')
        {
            return Err(EngineError::invalid(format!(
                "the working directory '{}' is invalid, it needs to be an absolute path",
                container.config.working_dir
            )));
        }
        self.write_container_dir(&container)?;
        let row = ContainerRow {
            id: id.clone(),
            name,
            image_id: image.id.to_string(),
            record: to_json(&container),
        };
        if let Err(e) = self.store.db.insert_container(&row, &container.created) {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(match e {
                berth_store::StoreError::NameConflict { .. } => {
                    EngineError::Conflict(format!("Conflict. {e}"))
                }
                other => other.into(),
            });
        }
        self.emit_container(&container, "create", &[]);
        Ok(container)
    }

    fn write_container_dir(&self, c: &Container) -> Result<(), EngineError> {
        let dir = self.store.container_dir(&c.id);
        for sub in ["upper", "work", "rootfs"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| EngineError::io(&dir.join(sub), e))?;
        }
        let host_net = c.host_config.network_mode == "host";
        let mut hosts = if host_net {
            std::fs::read_to_string("/etc/hosts").unwrap_or_default()
        } else {
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n".to_string()
        };
        for h in c.host_config.extra_hosts.iter().flatten() {
            if let Some((name, ip)) = h.split_once(':') {
                hosts.push_str(&format!("{ip}\t{name}\n"));
            }
        }
        let hostname = if host_net {
            nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            c.config.hostname.clone()
        };
        let h = &c.host_config;
        let mode = h.network_mode.as_str();
        let embedded_dns =
            !matches!(mode, "bridge" | "host" | "none") && !mode.starts_with("container:");
        let resolv = if embedded_dns {
            embedded_resolv_conf(h)
        } else if h.dns.is_empty() && h.dns_search.is_empty() && h.dns_options.is_empty() {
            resolv_conf(host_net)
        } else {
            // docker: given servers, search domains and options replace the host's.
            let mut r = String::new();
            let host = resolv_conf(host_net);
            let keep = |key: &str| {
                host.lines()
                    .filter(|l| l.starts_with(key))
                    .map(|l| format!("{l}\n"))
                    .collect::<String>()
            };
            match h.dns.is_empty() {
                true => r.push_str(&keep("nameserver")),
                false => h
                    .dns
                    .iter()
                    .for_each(|d| r.push_str(&format!("nameserver {d}\n"))),
            }
            match h.dns_search.is_empty() {
                true => r.push_str(&keep("search")),
                false => r.push_str(&format!("search {}\n", h.dns_search.join(" "))),
            }
            if !h.dns_options.is_empty() {
                r.push_str(&format!("options {}\n", h.dns_options.join(" ")));
            }
            r
        };
        for (path, content) in [
            (&c.hosts_path, hosts),
            (&c.hostname_path, format!("{hostname}\n")),
            (&c.resolv_conf_path, resolv),
        ] {
            std::fs::write(path, content).map_err(|e| EngineError::io(Path::new(path), e))?;
        }
        Ok(())
    }

    /// Looks a container up by id, name or unique id prefix.
    pub fn container(&self, key: &str) -> Result<Container, EngineError> {
        let rows = self.store.db.find_container(key)?;
        match rows.len() {
            0 => Err(EngineError::NoSuchContainer(key.into())),
            1 => self.reconciled(&rows[0]),
            _ => Err(EngineError::invalid(format!(
                "multiple IDs found with provided prefix: {key}"
            ))),
        }
    }

    /// Every container, newest first.
    pub fn list_containers(&self) -> Result<Vec<Container>, EngineError> {
        self.store
            .db
            .containers()?
            .iter()
            .map(|r| self.reconciled(r))
            .collect()
    }

    /// A record whose process is gone without anyone noting it (its berth was
    /// killed) is corrected to what really happened, so no container shows as
    /// running that is not.
    fn reconciled(&self, row: &ContainerRow) -> Result<Container, EngineError> {
        let c: Container = from_json(&row.record)?;
        if c.state.restarting && !process_alive(c.state.monitor_pid) {
            // Its monitor died while waiting to restart it: it stays down.
            return self.update(&c.id, |c| {
                if c.state.restarting && !process_alive(c.state.monitor_pid) {
                    c.state.status = "exited".into();
                    c.state.restarting = false;
                    c.state.monitor_pid = 0;
                }
            });
        }
        if !c.state.running || process_alive(c.state.pid) {
            return Ok(c);
        }
        self.release(&c);
        self.update(&c.id, |c| {
            if c.state.running && !process_alive(c.state.pid) {
                c.state = State {
                    status: "exited".into(),
                    exit_code: 137,
                    finished_at: time::now(),
                    ..c.state.clone()
                };
                c.state.running = false;
                c.state.pid = 0;
            }
        })
    }

    /// Rewrites a container's record in one transaction and returns the new one.
    pub(crate) fn update(
        &self,
        id: &str,
        f: impl FnOnce(&mut Container),
    ) -> Result<Container, EngineError> {
        let mut out = None;
        self.store.db.update_container(id, |json| {
            let mut c: Container = serde_json::from_str(json)
                .map_err(|e| berth_store::StoreError::Corrupt(e.to_string()))?;
            f(&mut c);
            let s = to_json(&c);
            out = Some(c);
            Ok(s)
        })?;
        Ok(out.expect("update ran"))
    }

    /// `rename OLD NEW`.
    pub fn rename(&self, key: &str, new_name: &str) -> Result<(), EngineError> {
        let c = self.container(key)?;
        let new_name = new_name.trim_start_matches('/');
        if !names::valid(new_name) {
            return Err(EngineError::invalid(format!(
                "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        if c.short_name() == new_name {
            return Err(EngineError::invalid(
                "Renaming a container with the same name as its current name",
            ));
        }
        let mut renamed = c.clone();
        renamed.name = format!("/{new_name}");
        self.store
            .db
            .rename_container(&c.id, new_name, &to_json(&renamed))
            .map_err(|e| match e {
                berth_store::StoreError::NameConflict { .. } => {
                    EngineError::Conflict(format!("Error when allocating new name: Conflict. {e}"))
                }
                other => other.into(),
            })?;
        self.emit_container(&renamed, "rename", &[("oldName", c.name.clone())]);
        Ok(())
    }

    /// `rm`: refuses a running container unless `force` (which kills it first).
    pub fn remove_container(&self, key: &str, force: bool) -> Result<String, EngineError> {
        self.remove_container_with(key, force, false)
    }

    /// `rm [-v]`: with `volumes`, its anonymous volumes go too (as `--rm` does).
    pub fn remove_container_with(
        &self,
        key: &str,
        force: bool,
        volumes: bool,
    ) -> Result<String, EngineError> {
        let c = self.container(key)?;
        if force && (c.state.running || c.state.restarting) {
            // Its restart policy must not bring it back while it is removed.
            self.update(&c.id, |c| c.state.manually_stopped = true)?;
        }
        // A start under way finishes (and is then killed) before removal.
        let _start = self.start_lock(&c.id)?;
        let c = self.container(&c.id)?;
        if c.state.running {
            if !force {
                return Err(EngineError::Conflict(format!(
                    "cannot remove container \"{}\": container is running: stop the container before removing or force remove",
                    c.name
                )));
            }
            self.thaw(&c);
            let _ = berth_runtime::container::kill(&self.runtime_dir(), &c.id, libc::SIGKILL);
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.state.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        self.release(&c);
        let dir = self.store.container_dir(&c.id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(EngineError::io(&dir, e))
            }
            _ => {}
        }
        self.store.db.remove_container(&c.id)?;
        self.emit_container(&c, "destroy", &[]);
        if volumes {
            self.remove_anonymous_volumes(&c);
        }
        Ok(c.id)
    }

    /// `container prune`: removes the stopped containers `selected` picks;
    /// returns their ids and the bytes their writable layers held.
    pub fn prune_containers(
        &self,
        selected: &dyn Fn(&Container) -> bool,
    ) -> Result<(Vec<String>, u64), EngineError> {
        let mut removed = Vec::new();
        let mut freed = 0;
        for c in self.list_containers()? {
            if !c.state.running && !c.state.restarting && selected(&c) {
                freed += self.container_size(&c).0;
                removed.push(self.remove_container(&c.id, false)?);
            }
        }
        Ok((removed, freed))
    }

    /// `logs`: the container's json-file log (followed with `opts.follow`).
    pub fn logs(
        &self,
        key: &str,
        opts: &logs::LogOptions,
        stdout: &mut dyn std::io::Write,
        stderr: &mut dyn std::io::Write,
    ) -> Result<(), EngineError> {
        let c = self.container(key)?;
        if c.host_config.log_config.kind == "none" {
            return Err(EngineError::invalid(
                "configured logging driver does not support reading",
            ));
        }
        let path = Path::new(&c.log_path);
        let running = || {
            opts.follow
                && self
                    .container(&c.id)
                    .map(|c| c.state.running)
                    .unwrap_or(false)
        };
        logs::follow(path, opts, stdout, stderr, &running).map_err(|e| EngineError::io(path, e))
    }

    /// The image a container was made from.
    pub(crate) fn container_image(
        &self,
        c: &Container,
    ) -> Result<berth_store::ImageRecord, EngineError> {
        c.image
            .parse()
            .ok()
            .and_then(|id| self.store.db.image(&id).ok().flatten())
            .ok_or_else(|| EngineError::NoSuchImage(c.config.image.clone()))
    }

    /// Mounts the container's root (its image's layers under its own upper
    /// directory) at `rootfs` in its directory, and returns that path.
    pub(crate) fn mount_rootfs(&self, c: &Container) -> Result<PathBuf, EngineError> {
        let image = self.container_image(c)?;
        let dir = self.store.container_dir(&c.id);
        let rootfs = dir.join("rootfs");
        let chain: Vec<_> = image.layers.iter().map(|l| l.chain_id.clone()).collect();
        berth_store::snapshot::unmount(&rootfs)?;
        self.store.snapshots.mount_overlay(
            &chain,
            &dir.join("upper"),
            &dir.join("work"),
            &rootfs,
        )?;
        Ok(rootfs)
    }

    /// `diff`: what the container changed, from its upper directory: `A` added,
    /// `C` changed (it exists below), `D` deleted (a whiteout), sorted by path.
    pub fn container_changes(&self, key: &str) -> Result<Vec<(char, String)>, EngineError> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let c = self.container(key)?;
        let image = self.container_image(&c)?;
        let chain: Vec<_> = image.layers.iter().map(|l| l.chain_id.clone()).collect();
        let upper = self.store.container_dir(&c.id).join("upper");
        let mut out = Vec::new();
        // Directories that held mount stubs only are the runtime's, not changes.
        let mut stub_parents = Vec::new();
        let mut stack = vec![(upper.clone(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let path = format!("{rel}/{}", e.file_name().to_string_lossy());
                let Ok(meta) = e.metadata() else { continue };
                if berth_image::diff::is_mount_stub(&path, &meta)
                    && std::fs::read_dir(e.path()).map_or(true, |mut d| d.next().is_none())
                {
                    stub_parents.push(rel.clone());
                    continue;
                }
                if meta.file_type().is_char_device() && meta.rdev() == 0 {
                    out.push(('D', path));
                    continue;
                }
                let below = chain.iter().any(|c| {
                    self.store
                        .snapshots
                        .path(c)
                        .join(path.trim_start_matches('/'))
                        .symlink_metadata()
                        .is_ok()
                });
                out.push((if below { 'C' } else { 'A' }, path.clone()));
                // Everything under an added directory is added; a changed one is looked into.
                if meta.is_dir() {
                    stack.push((e.path(), path));
                }
            }
        }
        let changed_below = |dir: &str, out: &[(char, String)]| {
            out.iter().any(|(_, p)| p.starts_with(&format!("{dir}/")))
        };
        let keep: Vec<(char, String)> = out
            .iter()
            .filter(|(_, p)| !stub_parents.contains(p) || changed_below(p, &out))
            .cloned()
            .collect();
        let mut out = keep;
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }

    /// The container's writable layer size and that plus its image (`ps -s`).
    pub fn container_size(&self, c: &Container) -> (u64, u64) {
        let rw = dir_size(&self.store.container_dir(&c.id).join("upper"));
        let image = self.container_image(c).map_or(0, |i| i.size);
        (rw, rw + image)
    }

    /// Releases what a container holds on the host while not running: its
    /// runtime state and cgroup, network namespace and rootfs mount. Idempotent.
    pub(crate) fn release(&self, c: &Container) {
        berth_runtime::container::delete(&self.runtime_dir(), &c.id, &Self::cgroups_path(&c.id));
        let _ = berth_runtime::netns::remove(&self.netns_path(&c.id));
        let _ = self.store.db.release_addresses(&c.id, None);
        let _ = berth_store::snapshot::unmount(&self.store.container_dir(&c.id).join("rootfs"));
    }
}

/// Bytes of regular files below `dir`, not following links.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) if m.is_file() => m.len(),
            _ => 0,
        })
        .sum()
}

fn process_alive(pid: i32) -> bool {
    pid > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

pub(crate) fn to_json(c: &Container) -> String {
    serde_json::to_string(c).expect("container serialises")
}

fn from_json(s: &str) -> Result<Container, EngineError> {
    serde_json::from_str(s)
        .map_err(|e| EngineError::Store(berth_store::StoreError::Corrupt(e.to_string())))
}

/// The host's resolv.conf; with a private network, loopback resolvers are
/// unreachable and dropped, as docker does.
/// resolv.conf for docker's embedded DNS, which forwards what it does not
/// know to the --dns servers or the host's.
pub(crate) fn embedded_resolv_conf(h: &HostConfig) -> String {
    let host = resolv_conf(false);
    let mut r = format!("nameserver {}\n", berth_net::dns::ADDRESS);
    match h.dns_search.is_empty() {
        true => host
            .lines()
            .filter(|l| l.starts_with("search"))
            .for_each(|l| r.push_str(&format!("{l}\n"))),
        false => r.push_str(&format!("search {}\n", h.dns_search.join(" "))),
    }
    let mut options = vec!["ndots:0".to_string()];
    options.extend(h.dns_options.iter().cloned());
    r.push_str(&format!("options {}\n", options.join(" ")));
    r
}

/// `--mac-address`: six hex octets, as docker takes them.
fn parse_mac(s: &str) -> Result<String, EngineError> {
    let octets: Vec<&str> = s.split([':', '-']).collect();
    let valid = octets.len() == 6
        && octets
            .iter()
            .all(|o| o.len() == 2 && o.chars().all(|c| c.is_ascii_hexdigit()));
    if !valid {
        return Err(EngineError::invalid(format!(
            "{s} is not a valid mac address"
        )));
    }
    Ok(octets.join(":").to_lowercase())
}

fn resolv_conf(host_net: bool) -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if host_net {
        return host;
    }
    host.lines()
        .filter(|l| {
            let mut w = l.split_whitespace();
            !(w.next() == Some("nameserver")
                && w.next()
                    .is_some_and(|ip| ip.starts_with("127.") || ip == "::1"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Image env, then `--env-file`, then `-e`; later keys win. `-e KEY` takes the host's value.
fn merge_env(
    image_env: &[String],
    hostname: &str,
    opts: &CreateOptions,
) -> Result<Vec<String>, EngineError> {
    let mut env: Vec<String> = Vec::new();
    let mut set = |entry: String| {
        let key = entry.split('=').next().unwrap_or("").to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(entry);
    };
    if !image_env.iter().any(|e| e.starts_with("PATH=")) {
        set(DEFAULT_PATH.into());
    }
    set(format!("HOSTNAME={hostname}"));
    for e in image_env {
        set(e.clone());
    }
    if opts.tty {
        set("TERM=xterm".into());
    }
    let mut user_env = Vec::new();
    for file in &opts.env_files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            EngineError::invalid(format!(
                "open {}: {}",
                file.display(),
                e.kind().to_string().to_lowercase()
            ))
        })?;
        for line in text
            .lines()
            .map(str::trim_start)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            user_env.push(line.to_string());
        }
    }
    user_env.extend(opts.env.iter().cloned());
    for e in user_env {
        let (key, value) = match e.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (e.clone(), std::env::var(&e).ok()),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(EngineError::invalid(format!(
                "invalid environment variable: {e}"
            )));
        }
        // `-e KEY` with KEY unset on the host is dropped, as docker does.
        if let Some(v) = value {
            set(format!("{key}={v}"));
        }
    }
    Ok(env)
}

/// Parses docker's byte sizes: `512m`, `1g`, `1024`, `64mb` (binary units).
pub fn parse_bytes(s: &str) -> Result<i64, EngineError> {
    let lower = s.trim().to_ascii_lowercase();
    let digits: String = lower
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let unit = lower[digits.len()..].trim_end_matches('b');
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024f64.powi(2),
        "g" => 1024f64.powi(3),
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(EngineError::invalid(format!("invalid size: '{s}'"))),
    };
    let v: f64 = digits
        .parse()
        .map_err(|_| EngineError::invalid(format!("invalid size: '{s}'")))?;
    Ok((v * mult) as i64)
}

const ULIMITS: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
    "as",
];

fn parse_ulimit(s: &str) -> Result<Ulimit, EngineError> {
    let bad = || {
        EngineError::invalid(format!(
            "invalid ulimit argument: {s} (want NAME=SOFT[:HARD])"
        ))
    };
    let (name, values) = s.split_once('=').ok_or_else(bad)?;
    if !ULIMITS.contains(&name) {
        return Err(EngineError::invalid(format!("invalid ulimit type: {name}")));
    }
    let (soft, hard) = values.split_once(':').unwrap_or((values, values));
    let (soft, hard): (i64, i64) = (
        soft.parse().map_err(|_| bad())?,
        hard.parse().map_err(|_| bad())?,
    );
    if soft > hard && hard != -1 {
        return Err(EngineError::invalid(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )));
    }
    Ok(Ulimit {
        name: name.into(),
        soft,
        hard,
    })
}

/// `--mount type=bind,source=/a,target=/b,readonly` and `type=tmpfs,target=/t,tmpfs-size=..,tmpfs-mode=..`.
fn parse_mount(s: &str) -> Result<MountConfig, EngineError> {
    let mut m = MountConfig::default();
    let mut tmpfs = TmpfsOptions::default();
    let mut volume = crate::model::VolumeOptions::default();
    for field in s.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "type" => m.kind = v.into(),
            "source" | "src" => m.source = v.into(),
            "target" | "destination" | "dst" => m.target = v.into(),
            "readonly" | "ro" => m.read_only = !matches!(v, "false" | "0"),
            "tmpfs-size" => tmpfs.size_bytes = Some(parse_bytes(v)?),
            "tmpfs-mode" => {
                tmpfs.mode = Some(
                    u32::from_str_radix(v, 8)
                        .map_err(|_| EngineError::invalid(format!("invalid tmpfs-mode: {v}")))?,
                )
            }
            "volume-nocopy" => volume.no_copy = !matches!(v, "false" | "0"),
            "volume-label" => {
                volume.labels.extend([crate::key_value(v)]);
            }
            "volume-driver" => {
                volume
                    .driver_config
                    .get_or_insert_with(Default::default)
                    .name = v.into()
            }
            "volume-opt" => {
                let driver = volume.driver_config.get_or_insert_with(Default::default);
                driver.options.extend([crate::key_value(v)]);
            }
            "bind-propagation" | "consistency" => {}
            _ => {
                return Err(EngineError::invalid(format!(
                    "invalid field '{k}' in --mount {s:?}"
                )))
            }
        }
    }
    if volume != crate::model::VolumeOptions::default() {
        if m.kind != "volume" {
            return Err(EngineError::invalid(format!(
                "invalid mount config: volume options need type=volume in --mount {s:?}"
            )));
        }
        m.volume_options = Some(volume);
    }
    if m.target.is_empty() {
        return Err(EngineError::invalid(format!(
            "invalid mount config: target is required in --mount {s:?}"
        )));
    }
    if !m.target.starts_with('/') {
        return Err(EngineError::invalid(format!(
            "invalid mount config: mount path must be absolute: {}",
            m.target
        )));
    }
    match m.kind.as_str() {
        "bind" => {
            if m.source.is_empty() {
                return Err(EngineError::invalid(
                    "invalid mount config for type \"bind\": field Source must not be empty",
                ));
            }
            if !Path::new(&m.source).exists() {
                return Err(EngineError::invalid(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    m.source
                )));
            }
        }
        "tmpfs" => {
            if !m.source.is_empty() {
                return Err(EngineError::invalid(
                    "invalid mount config for type \"tmpfs\": field Source must not be specified",
                ));
            }
            if tmpfs != TmpfsOptions::default() {
                m.tmpfs_options = Some(tmpfs);
            }
        }
        "volume" => {
            if !m.source.is_empty() && !names::valid(&m.source) {
                return Err(EngineError::invalid(format!(
                    "invalid mount config for type \"volume\": invalid volume name {:?}",
                    m.source
                )));
            }
        }
        "" => {
            return Err(EngineError::invalid(format!(
                "invalid mount config: type is required in --mount {s:?}"
            )))
        }
        other => {
            return Err(EngineError::invalid(format!(
                "invalid mount config: mount type unknown: \"{other}\""
            )))
        }
    }
    Ok(m)
}

/// `-v /host:/container[:mode]` (a bind, as a Binds entry), or
/// `-v NAME:/container[:mode]` and `-v /container` (a named or anonymous
/// volume, as a Mounts entry whose empty source means anonymous).
enum VolumeFlag {
    Bind(String),
    Volume(MountConfig),
}

fn parse_volume_flag(s: &str) -> Result<VolumeFlag, EngineError> {
    let parts: Vec<&str> = s.split(':').collect();
    if let [dst] = parts.as_slice() {
        if !dst.starts_with('/') {
            return Err(EngineError::invalid(format!(
                "invalid volume specification: '{s}'"
            )));
        }
        return Ok(VolumeFlag::Volume(MountConfig {
            kind: "volume".into(),
            target: dst.to_string(),
            ..MountConfig::default()
        }));
    }
    match parts.as_slice() {
        [src, dst] | [src, dst, _] if !src.starts_with('/') => {
            if !names::valid(src) {
                return Err(EngineError::invalid(format!(
                    "create {src}: \"{src}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
                )));
            }
            if !dst.starts_with('/') {
                return Err(EngineError::invalid(format!("invalid volume specification: '{s}': invalid mount config: mount path must be absolute")));
            }
            let mode = parts.get(2).copied().unwrap_or("");
            if !mode
                .split(',')
                .all(|o| matches!(o, "" | "ro" | "rw" | "z" | "Z" | "nocopy"))
            {
                return Err(EngineError::invalid(format!("invalid mode: {mode}")));
            }
            Ok(VolumeFlag::Volume(MountConfig {
                kind: "volume".into(),
                source: src.to_string(),
                target: dst.to_string(),
                read_only: mode.split(',').any(|o| o == "ro"),
                ..MountConfig::default()
            }))
        }
        _ => parse_bind(s).map(VolumeFlag::Bind),
    }
}

/// `-v /host:/container[:ro|rw]`; a missing host path is created, as docker does.
fn parse_bind(s: &str) -> Result<String, EngineError> {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [src, dst] => (*src, *dst, None),
        [src, dst, mode] => (*src, *dst, Some(*mode)),
        _ => {
            return Err(EngineError::invalid(format!(
                "invalid volume specification: '{s}'"
            )))
        }
    };
    if !dst.starts_with('/') {
        return Err(EngineError::invalid(format!("invalid volume specification: '{s}': invalid mount config: mount path must be absolute")));
    }
    if let Some(m) = mode {
        if !m.split(',').all(|o| {
            matches!(
                o,
                "ro" | "rw"
                    | "z"
                    | "Z"
                    | "rprivate"
                    | "private"
                    | "rshared"
                    | "shared"
                    | "rslave"
                    | "slave"
            )
        }) {
            return Err(EngineError::invalid(format!("invalid mode: {m}")));
        }
    }
    if !Path::new(src).exists() {
        std::fs::create_dir_all(src).map_err(|e| EngineError::io(Path::new(src), e))?;
    }
    Ok(s.to_string())
}

fn parse_security_opts(opts: &[String]) -> Result<Vec<String>, EngineError> {
    let mut out = Vec::new();
    for o in opts {
        let (k, v) = o.split_once(['=', ':']).unwrap_or((o, ""));
        match k {
            "seccomp" if v == "unconfined" => out.push(o.clone()),
            "seccomp" if v.is_empty() => {
                return Err(EngineError::invalid(format!(
                    "invalid --security-opt: {o:?}"
                )))
            }
            "seccomp" => {
                let data = std::fs::read(v).map_err(|e| {
                    EngineError::invalid(format!("opening seccomp profile ({v}) failed: {e}"))
                })?;
                berth_runtime::seccomp::Profile::from_json(&data)
                    .map_err(|e| EngineError::invalid(format!("{v}: {e}")))?;
                out.push(format!("seccomp={}", String::from_utf8_lossy(&data)));
            }
            "no-new-privileges" if matches!(v, "" | "true" | "false") => out.push(o.clone()),
            "apparmor" | "label" => out.push(o.clone()),
            _ => {
                return Err(EngineError::invalid(format!(
                    "invalid --security-opt: {o:?}"
                )))
            }
        }
    }
    Ok(out)
}

/// Everything in the host config, checked.
fn host_config(o: &CreateOptions) -> Result<HostConfig, EngineError> {
    let restart_policy = o
        .restart
        .as_deref()
        .map(crate::model::RestartPolicy::parse)
        .transpose()
        .map_err(EngineError::invalid)?
        .unwrap_or_default();
    if o.auto_remove && restart_policy.name != "no" {
        return Err(EngineError::invalid(
            "Conflicting options: --restart and --rm",
        ));
    }
    let network_mode = match o.network.as_deref() {
        None | Some("default") => "bridge".to_string(),
        // Resolved to the network (or the other container's id) by create.
        Some(other) => other.to_string(),
    };
    for h in &o.add_hosts {
        let valid = h
            .split_once(':')
            .is_some_and(|(name, ip)| !name.is_empty() && ip.parse::<std::net::IpAddr>().is_ok());
        if !valid {
            return Err(EngineError::invalid(format!(
                "invalid argument \"{h}\" for \"--add-host\" flag: expected HOST:IP"
            )));
        }
    }
    for d in &o.dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            return Err(EngineError::invalid(format!("{d} is not an ip address")));
        }
    }
    let memory = parse_memory(o.memory.as_deref())?;
    let memory_swap = parse_memory_swap(o.memory_swap.as_deref(), memory)?;
    let nano_cpus = parse_cpus(o.cpus.as_deref())?;
    let mut binds = Vec::new();
    let mut mounts = Vec::new();
    for v in &o.volumes {
        match parse_volume_flag(v)? {
            VolumeFlag::Bind(b) => binds.push(b),
            VolumeFlag::Volume(m) => mounts.push(m),
        }
    }
    for m in &o.mounts {
        mounts.push(parse_mount(m)?);
    }
    let mut tmpfs = BTreeMap::new();
    for t in &o.tmpfs {
        let (path, opts) = t.split_once(':').unwrap_or((t, ""));
        if !path.starts_with('/') {
            return Err(EngineError::invalid(format!(
                "invalid mount path for --tmpfs {t:?}: it must be absolute"
            )));
        }
        tmpfs.insert(path.to_string(), opts.to_string());
    }
    berth_runtime::caps::effective(&o.cap_add, &o.cap_drop, o.privileged)
        .map_err(|e| EngineError::invalid(e.to_string()))?;
    let ulimits = o
        .ulimits
        .iter()
        .map(|u| parse_ulimit(u))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(p) = o.pids_limit.filter(|p| *p < -1) {
        return Err(EngineError::invalid(format!("invalid --pids-limit {p}")));
    }
    let opt_vec = |v: &Vec<String>| Some(v.clone()).filter(|v| !v.is_empty());
    Ok(HostConfig {
        binds: Some(binds).filter(|b| !b.is_empty()),
        network_mode,
        auto_remove: o.auto_remove,
        cap_add: opt_vec(&o.cap_add),
        cap_drop: opt_vec(&o.cap_drop),
        privileged: o.privileged,
        readonly_rootfs: o.read_only,
        security_opt: Some(parse_security_opts(&o.security_opt)?).filter(|s| !s.is_empty()),
        tmpfs: Some(tmpfs).filter(|t| !t.is_empty()),
        memory,
        // docker's default: as much swap as memory.
        memory_swap: if memory > 0 && memory_swap == 0 {
            memory * 2
        } else {
            memory_swap
        },
        nano_cpus,
        cpu_shares: o.cpu_shares.unwrap_or(0),
        pids_limit: o.pids_limit.filter(|p| *p > 0),
        ulimits: Some(ulimits).filter(|u| !u.is_empty()),
        mounts: Some(mounts).filter(|m| !m.is_empty()),
        init: o.init.then_some(true),
        port_bindings: port_bindings(&o.publish)?,
        extra_hosts: Some(o.add_hosts.clone()).filter(|h| !h.is_empty()),
        dns: o.dns.clone(),
        dns_search: o.dns_search.clone(),
        dns_options: o.dns_options.clone(),
        volumes_from: Some(o.volumes_from.clone()).filter(|v| !v.is_empty()),
        publish_all_ports: o.publish_all,
        restart_policy,
        log_config: log_config(o)?,
    })
}

/// `-p` values as HostConfig.PortBindings (`80/tcp` → host address and port).
fn port_bindings(
    publish: &[String],
) -> Result<Option<BTreeMap<String, Vec<crate::model::PortBinding>>>, EngineError> {
    let mut out: BTreeMap<String, Vec<crate::model::PortBinding>> = BTreeMap::new();
    for p in publish {
        for s in berth_net::parse_publish(p).map_err(EngineError::invalid)? {
            out.entry(s.key())
                .or_default()
                .push(crate::model::PortBinding {
                    host_ip: s.host_ip.clone(),
                    host_port: if s.host_port == 0 {
                        String::new()
                    } else {
                        s.host_port.to_string()
                    },
                });
        }
    }
    Ok(Some(out).filter(|o| !o.is_empty()))
}

/// json-file (with docker's max-size / max-file rotation) or none.
fn log_config(o: &CreateOptions) -> Result<crate::model::LogConfig, EngineError> {
    let kind = o.log_driver.clone().unwrap_or_else(|| "json-file".into());
    if kind != "json-file" && kind != "none" {
        return Err(EngineError::invalid(format!(
            "logging driver {kind:?} is not supported: berth has json-file and none"
        )));
    }
    let mut config = BTreeMap::new();
    for opt in &o.log_opts {
        let (k, v) = opt.split_once('=').ok_or_else(|| {
            EngineError::invalid(format!("invalid log opt {opt:?}: expected key=value"))
        })?;
        match k {
            "max-size" if kind == "json-file" => {
                if parse_bytes(v).map_or(true, |n| n <= 0) {
                    return Err(EngineError::invalid(format!(
                        "invalid log opt max-size={v}: a size like 10m"
                    )));
                }
            }
            "max-file" if kind == "json-file" => {
                if v.parse::<u32>().map_or(true, |n| n < 1) {
                    return Err(EngineError::invalid("max-file cannot be less than 1"));
                }
            }
            _ => {
                return Err(EngineError::invalid(format!(
                    "unknown log opt '{k}' for {kind} log driver"
                )))
            }
        }
        config.insert(k.to_string(), v.to_string());
    }
    if config.contains_key("max-file") && !config.contains_key("max-size") {
        return Err(EngineError::invalid(
            "max-file cannot be used without max-size",
        ));
    }
    Ok(crate::model::LogConfig { kind, config })
}

/// `--memory`: 0 for none, at least 6 MB otherwise.
pub(crate) fn parse_memory(s: Option<&str>) -> Result<i64, EngineError> {
    let memory = s.map(parse_bytes).transpose()?.unwrap_or(0);
    if memory != 0 && memory < 6 * 1024 * 1024 {
        return Err(EngineError::invalid("Minimum memory limit allowed is 6MB"));
    }
    Ok(memory)
}

/// `--memory-swap` (memory plus swap; -1 unlimited) against `memory`.
pub(crate) fn parse_memory_swap(s: Option<&str>, memory: i64) -> Result<i64, EngineError> {
    let memory_swap = match s {
        Some("-1") => -1,
        Some(s) => parse_bytes(s)?,
        None => 0,
    };
    if memory_swap != 0 && memory == 0 {
        return Err(EngineError::invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ));
    }
    if memory_swap > 0 && memory_swap < memory {
        return Err(EngineError::invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ));
    }
    Ok(memory_swap)
}

/// `--cpus` as nano-CPUs; 0 for none.
pub(crate) fn parse_cpus(s: Option<&str>) -> Result<i64, EngineError> {
    let Some(s) = s else { return Ok(0) };
    let v: f64 = s.parse().map_err(|_| {
        EngineError::invalid(format!("invalid argument \"{s}\" for \"--cpus\" flag"))
    })?;
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as f64;
    if v < 0.01 || v > n {
        return Err(EngineError::invalid(format!(
            "Range of CPUs is from 0.01 to {n:.2}, as there are only {n} CPUs available"
        )));
    }
    Ok((v * 1e9) as i64)
}

impl Engine {
    /// `--network container:NAME` names the other container by id, and
    /// `--volumes-from NAME[:ro|:rw]` takes its binds and volumes.
    fn share_from_others(&self, h: &mut HostConfig) -> Result<(), EngineError> {
        if let Some(other) = h.network_mode.strip_prefix("container:") {
            let target = self.container(other)?;
            h.network_mode = format!("container:{}", target.id);
        }
        for spec in h.volumes_from.clone().iter().flatten() {
            let (name, mode) = match spec.rsplit_once(':') {
                Some((n, m)) if m == "ro" || m == "rw" => (n, Some(m)),
                _ => (spec.as_str(), None),
            };
            let from = self.container(name)?;
            let fh = &from.host_config;
            for b in fh.binds.iter().flatten() {
                let mut parts: Vec<&str> = b.split(':').collect();
                if let Some(m) = mode {
                    parts.truncate(2);
                    parts.push(m);
                }
                h.binds.get_or_insert_with(Vec::new).push(parts.join(":"));
            }
            for m in fh.mounts.iter().flatten().filter(|m| m.kind != "tmpfs") {
                let mut m = m.clone();
                if let Some(mode) = mode {
                    m.read_only = mode == "ro";
                }
                h.mounts.get_or_insert_with(Vec::new).push(m);
            }
        }
        Ok(())
    }

    /// Gives each volume mount its volume (created when missing; a random
    /// name for an anonymous one), and the image's VOLUMEs that nothing
    /// mounts an anonymous volume each, as docker does.
    fn attach_volumes(
        &self,
        h: &mut HostConfig,
        image_volumes: Option<&BTreeMap<String, serde_json::Value>>,
    ) -> Result<(), EngineError> {
        let mut mounts = h.mounts.take().unwrap_or_default();
        let taken = |target: &str, mounts: &[MountConfig]| {
            mounts
                .iter()
                .any(|m| m.target.trim_end_matches('/') == target.trim_end_matches('/'))
                || h.binds
                    .iter()
                    .flatten()
                    .any(|b| b.split(':').nth(1) == Some(target))
        };
        for path in image_volumes.into_iter().flat_map(|v| v.keys()) {
            if !taken(path, &mounts) {
                mounts.push(MountConfig {
                    kind: "volume".into(),
                    target: path.clone(),
                    ..MountConfig::default()
                });
            }
        }
        for m in mounts.iter_mut().filter(|m| m.kind == "volume") {
            let anonymous = m.source.is_empty();
            let name = (!anonymous).then_some(m.source.as_str());
            let o = m.volume_options.clone().unwrap_or_default();
            let driver = o.driver_config.unwrap_or_default();
            let spec = crate::volumes::VolumeSpec {
                labels: o.labels,
                driver: Some(driver.name).filter(|d| !d.is_empty()),
                options: driver.options,
            };
            m.source = self.make_volume(name, spec, anonymous)?.name;
        }
        h.mounts = Some(mounts).filter(|m| !m.is_empty());
        Ok(())
    }
}

/// inspect's `Mounts`, from the host config.
fn mount_points(h: &HostConfig, volumes_root: &Path) -> Vec<MountPoint> {
    let mut out = Vec::new();
    for b in h.binds.iter().flatten() {
        let parts: Vec<&str> = b.split(':').collect();
        let mode = parts.get(2).copied().unwrap_or("");
        out.push(MountPoint {
            kind: "bind".into(),
            name: None,
            driver: None,
            source: parts[0].into(),
            destination: parts[1].into(),
            mode: mode.into(),
            rw: !mode.split(',').any(|m| m == "ro"),
            propagation: "rprivate".into(),
        });
    }
    for m in h.mounts.iter().flatten() {
        if m.kind == "volume" {
            out.push(MountPoint {
                kind: "volume".into(),
                name: Some(m.source.clone()),
                source: volumes_root
                    .join(&m.source)
                    .join("_data")
                    .display()
                    .to_string(),
                destination: m.target.clone(),
                driver: Some("local".into()),
                mode: "z".into(),
                rw: !m.read_only,
                propagation: String::new(),
            });
            continue;
        }
        out.push(MountPoint {
            kind: m.kind.clone(),
            name: None,
            driver: None,
            source: m.source.clone(),
            destination: m.target.clone(),
            mode: String::new(),
            rw: !m.read_only,
            propagation: if m.kind == "bind" {
                "rprivate".into()
            } else {
                String::new()
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_bytes("512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("64mb").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("12q").is_err());
    }

    #[test]
    fn ulimits_and_mounts() {
        assert_eq!(
            parse_ulimit("nofile=1024:2048").unwrap(),
            Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            }
        );
        assert_eq!(parse_ulimit("nproc=64").unwrap().hard, 64);
        assert!(parse_ulimit("nofile=10:5").is_err());
        assert!(parse_ulimit("bogus=1").is_err());
        let m = parse_mount("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        assert_eq!(m.tmpfs_options.unwrap().mode, Some(0o1770));
        assert!(parse_mount("type=bind,source=/does/not/exist,target=/x")
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
        assert!(parse_mount("type=tmpfs").is_err());
        assert!(parse_mount("type=nfs,target=/x").is_err());
    }

    #[test]
    fn env_merging() {
        let opts = CreateOptions {
            env: vec!["A=2".into(), "B=x=y".into()],
            ..Default::default()
        };
        let env = merge_env(&["A=1".into(), "PATH=/bin".into()], "h", &opts).unwrap();
        assert_eq!(env, vec!["HOSTNAME=h", "PATH=/bin", "A=2", "B=x=y"]);
        let bad = CreateOptions {
            env: vec!["=x".into()],
            ..Default::default()
        };
        assert!(merge_env(&[], "h", &bad).is_err());
    }
}
