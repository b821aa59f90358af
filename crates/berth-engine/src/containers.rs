//! Containers once made: look-up, list, rename, remove, prune, logs, and
//! the record kept true to what runs. (`create` is in create.rs.)

use std::path::{Path, PathBuf};

use crate::model::{Container, HostConfig, State};
use crate::{logs, names, time, Engine, EngineError};

impl Engine {
    /// Looks a container up by id, name or unique id prefix.
    pub fn container(&self, key: &str) -> Result<Container, EngineError> {
        let rows = self.store.db.find_container(key)?;
        match rows.len() {
            0 => Err(EngineError::NoSuchContainer(key.into())),
            1 => self.reconciled(from_json(&rows[0].record)?),
            _ => Err(EngineError::invalid(format!(
                "multiple IDs found with provided prefix: {key}"
            ))),
        }
    }

    /// Every container, newest first.
    pub fn list_containers(&self) -> Result<Vec<Container>, EngineError> {
        self.parse_rows(self.store.db.containers()?, |r| &r.record)
    }

    /// Every container as its listing form ([`listing_json`]), newest first:
    /// for listings, which read nothing else.
    pub(crate) fn list_container_listings(&self) -> Result<Vec<Container>, EngineError> {
        let mut rows = self.store.db.container_listings()?;
        for row in rows.iter_mut().filter(|r| r.listing.is_empty()) {
            // Written before listings were: given one now, once.
            let c = from_json(&row.record)?;
            row.listing = listing_json(&c);
            self.store.db.set_container_listing(&row.id, &row.listing)?;
        }
        self.parse_rows(rows, |r| &r.listing)
    }

    fn parse_rows(
        &self,
        rows: Vec<berth_store::db::ContainerRow>,
        json: fn(&berth_store::db::ContainerRow) -> &String,
    ) -> Result<Vec<Container>, EngineError> {
        // Parsing the records is most of a big listing's time: on every core.
        let workers = match rows.len() {
            n if n >= 256 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            _ => 1,
        };
        crate::parallel::run(&rows, workers, |r| from_json(json(r)), Result::is_err)
            .into_iter()
            .map(|(_, c)| self.reconciled(c?))
            .collect()
    }

    /// A record whose process is gone without anyone noting it (its berth was
    /// killed) is corrected to what really happened, so no container shows as
    /// running that is not.
    fn reconciled(&self, c: Container) -> Result<Container, EngineError> {
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
            let written = (to_json(&c), listing_json(&c));
            out = Some(c);
            Ok(written)
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
            .rename_container(&c.id, new_name, &to_json(&renamed), &listing_json(&renamed))
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
        // With force, what holds the lock may be a process that can never
        // finish (the first process of a container whose berth was killed
        // before it started it, from a berth that did not make it die too):
        // everything in the container's cgroup goes first.
        let dir = self.store.container_dir(&c.id);
        let _start = if !dir.exists() {
            // A removal killed after the directory went (the lock's file
            // with it): nothing can start the container any more.
            None
        } else {
            match self.try_start_lock(&c.id)? {
                Some(lock) => Some(lock),
                None if force => {
                    let _ =
                        berth_runtime::container::kill_all(&Self::cgroups_path(&c), libc::SIGKILL);
                    Some(self.start_lock(&c.id)?)
                }
                None => Some(self.start_lock(&c.id)?),
            }
        };
        let c = self.container(&c.id)?;
        if c.state.running {
            if !force {
                return Err(EngineError::Conflict(format!(
                    "cannot remove container \"{}\": container is running: stop the container before removing or force remove",
                    c.name
                )));
            }
            self.thaw(&c);
            let _ = berth_runtime::container::kill_all(&Self::cgroups_path(&c), libc::SIGKILL);
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.state.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        self.release(&c);
        // Interrupted from here on, it is what docker calls dead: its
        // removal failed, and rm -f (or prune) finishes it.
        self.update(&c.id, |c| {
            c.state.dead = true;
            c.state.running = false;
            c.state.status = "dead".into();
        })?;
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
        self.logs_until(key, opts, stdout, stderr, &|| false)
    }

    /// [`Engine::logs`], following only until `gone()` (the reader left).
    pub fn logs_until(
        &self,
        key: &str,
        opts: &logs::LogOptions,
        stdout: &mut dyn std::io::Write,
        stderr: &mut dyn std::io::Write,
        gone: &dyn Fn() -> bool,
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
                && !gone()
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
            c.host_config.auto_remove,
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
        berth_runtime::container::delete(&self.runtime_dir(), &c.id, &Self::cgroups_path(c));
        let _ = berth_runtime::netns::remove(&self.netns_path(&c.id));
        let _ = self.store.db.release_addresses(&c.id, None);
        let _ = berth_store::snapshot::unmount(&self.store.container_dir(&c.id).join("rootfs"));
        self.release_secrets(&c.id);
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

/// The listing form of a record: what `ps` and `GET /containers/json` show
/// and select by (its state, names, image, command, labels, mounts, ports
/// published and exposed, networks, and what a crashed container's release needs), without
/// the configuration that only inspect and a start read. It parses back as
/// a [`Container`] whose other fields are their defaults.
pub(crate) fn listing_json(c: &Container) -> String {
    let config = &c.config;
    let h = &c.host_config;
    serde_json::json!({
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": c.args,
        "State": c.state,
        "Image": c.image,
        "Name": c.name,
        "RestartCount": c.restart_count,
        "HostConfig": {
            "NetworkMode": h.network_mode,
            "RestartPolicy": h.restart_policy,
            "AutoRemove": h.auto_remove,
            "CgroupParent": h.cgroup_parent,
        },
        "Mounts": c.mounts,
        "Config": {
            "Image": config.image,
            "Labels": config.labels,
            "Cmd": config.cmd,
            "Entrypoint": config.entrypoint,
            "ExposedPorts": config.exposed_ports,
        },
        // Listings read only these two; the rest is most of a record's size.
        "NetworkSettings": {
            "Ports": c.network_settings.get("Ports"),
            "Networks": c.network_settings.get("Networks"),
        },
    })
    .to_string()
}

fn from_json(s: &str) -> Result<Container, EngineError> {
    serde_json::from_str(s)
        .map_err(|e| EngineError::Store(berth_store::StoreError::Corrupt(e.to_string())))
}

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

/// The host's resolv.conf; with a private network, loopback resolvers are
/// unreachable and dropped, as docker does.
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

/// resolv.conf for the default bridge and host networks: the host's
/// (loopback resolvers dropped on a private network), with `--dns`,
/// `--dns-search` and `--dns-option` replacing its lines, as docker does.
pub(crate) fn given_resolv_conf(h: &HostConfig, host_net: bool) -> String {
    let host = resolv_conf(host_net);
    if h.dns.is_empty() && h.dns_search.is_empty() && h.dns_options.is_empty() {
        return host;
    }
    let keep = |key: &str| {
        host.lines()
            .filter(|l| l.starts_with(key))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    let mut r = String::new();
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

/// `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`: docker's Status.
pub fn status_text(c: &Container) -> String {
    let up = || {
        time::parse(&c.state.started_at)
            .map(|t| time::human_duration(chrono::Utc::now() - t))
            .unwrap_or_default()
    };
    let health = match c.state.health.as_ref().map(|h| h.status.as_str()) {
        Some("starting") => " (health: starting)".to_string(),
        Some(s) if !s.is_empty() => format!(" ({s})"),
        _ => String::new(),
    };
    match c.state.status.as_str() {
        "running" => format!("Up {}{health}", up()),
        "paused" => format!("Up {} (Paused)", up()),
        "exited" => format!(
            "Exited ({}) {}",
            c.state.exit_code,
            time::ago(&c.state.finished_at)
        ),
        "created" => "Created".into(),
        "restarting" => format!(
            "Restarting ({}) {}",
            c.state.exit_code,
            time::ago(&c.state.finished_at)
        ),
        other => other[..1].to_uppercase() + &other[1..],
    }
}

/// Seconds since the epoch of a recorded time (0 when unreadable).
fn unix_time(t: &str) -> i64 {
    time::parse(t).map_or(0, |t| t.timestamp())
}

impl Engine {
    /// A container as docker's list shows it (ContainerSummary); with
    /// `size`, SizeRw and SizeRootFs too.
    pub fn container_summary(&self, c: &Container, size: bool) -> serde_json::Value {
        let mut ports = Vec::new();
        let published = c.network_settings.get("Ports").and_then(|p| p.as_object());
        for (key, bindings) in published.into_iter().flatten() {
            let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
            let private: u16 = port.parse().unwrap_or(0);
            let bindings = bindings.as_array().cloned().unwrap_or_default();
            if bindings.is_empty() {
                ports.push(serde_json::json!({"PrivatePort": private, "Type": proto}));
            }
            for b in bindings {
                ports.push(serde_json::json!({
                    "IP": b["HostIp"], "PrivatePort": private,
                    "PublicPort": b["HostPort"].as_str().and_then(|p| p.parse::<u16>().ok()),
                    "Type": proto,
                }));
            }
        }
        for key in c.config.exposed_ports.iter().flat_map(|e| e.keys()) {
            if !published.is_some_and(|p| p.contains_key(key)) {
                let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
                ports.push(serde_json::json!({
                    "PrivatePort": port.parse::<u16>().unwrap_or(0), "Type": proto,
                }));
            }
        }
        let command = std::iter::once(c.path.clone())
            .chain(c.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let mut doc = serde_json::json!({
            "Id": c.id,
            "Names": [c.name],
            "Image": c.config.image,
            "ImageID": c.image,
            "Command": command,
            "Created": unix_time(&c.created),
            "Ports": ports,
            "Labels": c.config.labels,
            "State": c.state.status,
            "Status": status_text(c),
            "HostConfig": {"NetworkMode": c.host_config.network_mode},
            "NetworkSettings": {"Networks": c.network_settings.get("Networks").cloned().unwrap_or_else(|| serde_json::json!({}))},
            "Mounts": c.mounts,
        });
        if size {
            let (rw, root) = self.container_size(c);
            doc["SizeRw"] = rw.into();
            doc["SizeRootFs"] = root.into();
        }
        doc
    }
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
}
