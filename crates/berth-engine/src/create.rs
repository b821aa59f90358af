//! `create`: docker's create body (Config, HostConfig, NetworkingConfig)
//! checked field by field before anything is written, merged with the
//! image's config as dockerd merges it, and recorded as a `created`
//! container. The CLI builds the body from flags; the API reads it as JSON.

use std::collections::BTreeMap;
use std::path::Path;

use berth_store::db::ContainerRow;
use serde_json::json;

use crate::model::{
    Config, Container, CreateBody, GraphDriver, HostConfig, MountConfig, MountPoint, State,
};
use crate::{names, time, Engine, EngineError};

pub(crate) const DEFAULT_PATH: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How often a generated name is drawn again when another container has it.
const NAME_DRAWS: usize = 8;

impl Engine {
    /// Creates a container (state `created`) from docker's create body and
    /// returns it. `name` is `--name` (a generated one when None).
    pub fn create(&self, name: Option<&str>, body: CreateBody) -> Result<Container, EngineError> {
        self.create_with_warnings(name, body).map(|(c, _)| c)
    }

    /// [`Engine::create`], with docker's warnings about what it took but
    /// cannot do here (as the API's create answers them).
    pub fn create_with_warnings(
        &self,
        name: Option<&str>,
        body: CreateBody,
    ) -> Result<(Container, Vec<String>), EngineError> {
        // A created container is usually started next.
        berth_runtime::cgroups::warm_migration();
        let mut body = body;
        self.join_pod(&mut body)?;
        let CreateBody {
            config: mut asked,
            host_config: mut h,
            networking_config,
        } = body;
        if asked.image.is_empty() {
            return Err(EngineError::invalid(
                "config.Image must be set: the image to run",
            ));
        }
        let image = self.resolve_image(&asked.image)?;
        let image_config = self.image_config(&image)?.config;
        if let Some(n) = name {
            if !names::valid(n.trim_start_matches('/')) {
                return Err(EngineError::invalid(format!(
                    "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )));
            }
        }
        let asked_mode = h.network_mode.clone();
        check_host_config(&mut h)?;
        crate::host::check(&h)?;
        let mut warnings = crate::host::fit(&mut h);
        // CDI devices and GPUs are found now, so that a missing one is an
        // error of the create, as docker's is of the run.
        warnings.extend(crate::host::device_edits(&h)?.1);
        if !h.uts_mode.is_empty() && !asked.hostname.is_empty() {
            return Err(EngineError::invalid(
                "Conflicting options: hostname and the UTS mode",
            ));
        }
        self.share_from_others(&mut h)?;
        self.resolve_shared_namespaces(&mut h)?;
        self.resolve_secrets(&mut h.secrets)?;
        self.check_links(&h)?;
        // The first network's endpoint settings: --ip, --network-alias, and
        // the MAC address (Config.MacAddress before API 1.44).
        let eps = &networking_config.endpoints_config;
        let own_key = [asked_mode.as_str(), h.network_mode.as_str()]
            .into_iter()
            .find(|k| eps.contains_key(*k))
            .or_else(|| eps.keys().next().map(String::as_str))
            .unwrap_or_default()
            .to_string();
        let own = eps.get(&own_key).cloned().unwrap_or_default();
        let ip = own
            .ipam_config
            .as_ref()
            .map(|i| i.ipv4_address.clone())
            .filter(|i| !i.is_empty());
        let ip6 = own
            .ipam_config
            .as_ref()
            .map(|i| i.ipv6_address.clone())
            .filter(|i| !i.is_empty());
        let aliases = own.aliases.clone().unwrap_or_default();
        check_link_local(&own)?;
        let (network_mode, mut endpoints) =
            self.initial_endpoints(&h.network_mode, ip.as_deref(), ip6.as_deref(), &aliases)?;
        let link_local = own
            .ipam_config
            .as_ref()
            .map(|i| i.link_local_ips.clone())
            .unwrap_or_default();
        if let Some(ep) = endpoints
            .values_mut()
            .next()
            .filter(|_| !link_local.is_empty())
        {
            ep.ipam_config
                .get_or_insert_with(Default::default)
                .link_local_ips = link_local;
        }
        h.network_mode = network_mode;
        // Further networks named in the body (Compose, SDKs) are joined too.
        for (net, ep) in eps {
            if *net == own_key
                || endpoints.contains_key(net)
                || h.network_mode.starts_with("container:")
            {
                continue;
            }
            let n = self.network(net)?;
            let mut ep = ep.clone();
            ep.network_id = n.id.clone();
            endpoints.insert(n.name.clone(), ep);
        }
        let mac = asked
            .mac_address
            .clone()
            .or_else(|| Some(own.mac_address.clone()))
            .filter(|m| !m.is_empty());
        let mac_address = mac.as_deref().map(parse_mac).transpose()?;
        // Binds that name volumes, and Config.Volumes, become volume mounts.
        let mut mounts = h.mounts.take().unwrap_or_default();
        let mut binds = Vec::new();
        for b in h.binds.take().into_iter().flatten() {
            match parse_bind(&b)? {
                Bind::Host(b) => binds.push(b),
                Bind::Volume(m) => mounts.push(m),
            }
        }
        for path in asked.volumes.iter().flat_map(|v| v.keys()) {
            check_absolute(path)?;
            // A path a bind or mount already covers is not an anonymous volume.
            let covered = |t: &str| t.trim_end_matches('/') == path.trim_end_matches('/');
            if mounts.iter().any(|m| covered(&m.target))
                || binds
                    .iter()
                    .any(|b| b.split(':').nth(1).is_some_and(covered))
            {
                continue;
            }
            mounts.push(MountConfig {
                kind: "volume".into(),
                target: path.clone(),
                ..MountConfig::default()
            });
        }
        for m in &mounts {
            check_mount(m)?;
        }
        h.binds = Some(binds).filter(|b| !b.is_empty());
        h.mounts = Some(mounts).filter(|m| !m.is_empty());
        self.attach_volumes(&mut h, image_config.volumes.as_ref())?;

        let (entrypoint, cmd) = entrypoint_and_cmd(&asked, &image_config);
        let argv: Vec<String> = entrypoint
            .iter()
            .flatten()
            .chain(cmd.iter().flatten())
            .cloned()
            .collect();
        if argv.is_empty() {
            return Err(EngineError::invalid("No command specified"));
        }
        let working_dir = match asked.working_dir.as_str() {
            "" => image_config.working_dir.clone(),
            w => w.to_string(),
        };
        if !working_dir.is_empty() && !working_dir.starts_with('/') {
            return Err(EngineError::invalid(format!(
                "the working directory '{working_dir}' is invalid, it needs to be an absolute path"
            )));
        }
        let stop_signal = match asked.stop_signal.take().filter(|s| !s.is_empty()) {
            Some(s) => {
                crate::lifecycle::parse_signal(&s)?;
                Some(s)
            }
            None => image_config.stop_signal.clone(),
        };
        let healthcheck =
            crate::health::merge(image_config.healthcheck.as_ref(), asked.healthcheck.take())?;
        let id = berth_store::random_hex(32);
        let hostname = match asked.hostname.as_str() {
            "" => id[..12].to_string(),
            h => h.to_string(),
        };
        let env = merge_env(
            image_config.env.as_deref().unwrap_or(&[]),
            &hostname,
            asked.tty,
            &asked.env,
        )?;
        let mut labels = image_config.labels.clone().unwrap_or_default();
        labels.extend(std::mem::take(&mut asked.labels));
        let mut exposed = image_config.exposed_ports.clone().unwrap_or_default();
        exposed.extend(asked.exposed_ports.take().unwrap_or_default());
        for key in h.port_bindings.iter().flat_map(|p| p.keys()) {
            exposed.entry(key.clone()).or_insert_with(|| json!({}));
        }
        let dir = self.store.container_dir(&id);
        let config = Config {
            hostname,
            user: match asked.user.as_str() {
                "" => image_config.user.clone(),
                u => u.to_string(),
            },
            env,
            cmd,
            volumes: image_config.volumes.clone(),
            working_dir,
            entrypoint,
            on_build: image_config.on_build.clone(),
            labels,
            stop_signal,
            mac_address,
            healthcheck,
            exposed_ports: Some(exposed).filter(|e| !e.is_empty()),
            ..asked
        };
        let mut container = Container {
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
            name: String::new(),
            restart_count: 0,
            driver: "overlay2".into(),
            platform: "linux".into(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            mounts: mount_points(&h, &self.root().join("volumes")),
            graph_driver: GraphDriver {
                name: "overlay2".into(),
                data: BTreeMap::from([
                    ("UpperDir".into(), dir.join("upper").display().to_string()),
                    ("WorkDir".into(), dir.join("work").display().to_string()),
                    ("MergedDir".into(), dir.join("rootfs").display().to_string()),
                ]),
            },
            config,
            network_settings: json!({
                "Bridge": "", "SandboxID": "", "HairpinMode": false,
                "Ports": {}, "SandboxKey": "", "IPAddress": "", "IPPrefixLen": 0,
                "Gateway": "", "MacAddress": "", "Networks": endpoints,
            }),
            host_config: h,
        };
        // As docker: a container on another's network reads that one's
        // resolv.conf and hosts (a pod's members see the pod's DNS).
        if let Some(other) = container
            .host_config
            .network_mode
            .strip_prefix("container:")
        {
            let target = self.container(other)?;
            container.resolv_conf_path = target.resolv_conf_path;
            container.hosts_path = target.hosts_path;
        }
        self.write_container_dir(&container)?;
        let inserted = self.insert_named(&mut container, name);
        if let Err(e) = inserted {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        self.emit_container(&container, "create", &[]);
        Ok((container, warnings))
    }

    /// Records the container under `name`, or under a generated name drawn
    /// again while another container has it (as docker does).
    fn insert_named(&self, c: &mut Container, name: Option<&str>) -> Result<(), EngineError> {
        let draws = if name.is_some() { 1 } else { NAME_DRAWS };
        for draw in 1..=draws {
            let name = match name {
                Some(n) => n.trim_start_matches('/').to_string(),
                None => names::random(),
            };
            c.name = format!("/{name}");
            let row = ContainerRow {
                id: c.id.clone(),
                name,
                image_id: c.image.clone(),
                record: crate::containers::to_json(c),
                listing: crate::containers::listing_json(c),
            };
            match self.store.db.insert_container(&row, &c.created) {
                Ok(()) => return Ok(()),
                Err(berth_store::StoreError::NameConflict { .. }) if draw < draws => continue,
                Err(e @ berth_store::StoreError::NameConflict { .. }) => {
                    return Err(EngineError::Conflict(format!("Conflict. {e}")))
                }
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the last draw returns")
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
            crate::containers::embedded_resolv_conf(h)
        } else {
            crate::containers::given_resolv_conf(h, host_net)
        };
        let own = |path: &String| path.starts_with(&*dir.to_string_lossy());
        for (path, content) in [
            (&c.hosts_path, hosts),
            (&c.hostname_path, format!("{hostname}\n")),
            (&c.resolv_conf_path, resolv),
        ] {
            if !own(path) {
                continue;
            }
            std::fs::write(path, content).map_err(|e| EngineError::io(Path::new(path), e))?;
        }
        Ok(())
    }

    /// `--link NAME[:ALIAS]`: the container must exist (it must run when
    /// this one starts).
    fn check_links(&self, h: &HostConfig) -> Result<(), EngineError> {
        for l in h.links.iter().flatten() {
            let (name, alias) = l.split_once(':').unwrap_or((l, l));
            let name = name.trim_start_matches('/');
            if name.is_empty() || alias.is_empty() {
                return Err(EngineError::invalid(format!(
                    "invalid link {l:?}: NAME or NAME:ALIAS"
                )));
            }
            if h.network_mode == "host" || h.network_mode.starts_with("container:") {
                return Err(EngineError::invalid(
                    "Conflicting options: --link and the host or container network mode",
                ));
            }
            self.container(name).map_err(|_| {
                EngineError::invalid(format!(
                    "could not get container for {name}: no such container"
                ))
            })?;
        }
        Ok(())
    }

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

/// dockerd's merge of the container's Entrypoint and Cmd with the image's:
/// an entrypoint given replaces the image's and drops its Cmd; `[""]`
/// clears the entrypoint; an empty Cmd takes the image's.
fn entrypoint_and_cmd(
    asked: &Config,
    image: &berth_image::spec::ContainerConfig,
) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let cmd = asked.cmd.clone().filter(|c| !c.is_empty());
    match &asked.entrypoint {
        Some(e) if e.len() == 1 && e[0].is_empty() => (None, cmd),
        Some(e) if !e.is_empty() => (Some(e.clone()), cmd),
        // An empty entrypoint list resets the image's; a missing one keeps it.
        Some(_) => (None, cmd.or_else(|| image.cmd.clone())),
        None => (image.entrypoint.clone(), cmd.or_else(|| image.cmd.clone())),
    }
}

/// Image env, then the body's; later keys win, and a key without `=` is
/// dropped (the CLI resolves `-e KEY` from its own environment first).
fn merge_env(
    image_env: &[String],
    hostname: &str,
    tty: bool,
    given: &[String],
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
    if tty {
        set("TERM=xterm".into());
    }
    for e in given {
        let key = e.split('=').next().unwrap_or("");
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(EngineError::invalid(format!(
                "invalid environment variable: {e}"
            )));
        }
        if e.contains('=') {
            set(e.clone());
        }
    }
    Ok(env)
}

/// Every HostConfig field berth acts on, checked, with dockerd's defaults
/// filled in (`""` network mode and log type, swap twice the memory).
fn check_host_config(h: &mut HostConfig) -> Result<(), EngineError> {
    if h.network_mode.is_empty() || h.network_mode == "default" {
        h.network_mode = "bridge".into();
    }
    let r = &mut h.restart_policy;
    if r.name.is_empty() {
        r.name = "no".into();
    }
    match r.name.as_str() {
        "no" | "always" | "unless-stopped" if r.maximum_retry_count != 0 => {
            return Err(EngineError::invalid(format!(
                "invalid restart policy: maximum retry count can only be used with 'on-failure', not with '{}'",
                r.name
            )))
        }
        "no" | "always" | "unless-stopped" | "on-failure" => {}
        other => {
            return Err(EngineError::invalid(format!(
                "invalid restart policy: unknown policy '{other}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"
            )))
        }
    }
    if h.auto_remove && r.name != "no" {
        return Err(EngineError::invalid(
            "Conflicting options: --restart and --rm: a container removed when it exits cannot be restarted",
        ));
    }
    for e in h.extra_hosts.iter().flatten() {
        let valid = e
            .split_once(':')
            .is_some_and(|(name, ip)| !name.is_empty() && ip.parse::<std::net::IpAddr>().is_ok());
        if !valid {
            return Err(EngineError::invalid(format!(
                "invalid argument \"{e}\" for \"--add-host\" flag: expected HOST:IP"
            )));
        }
    }
    for d in &h.dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            return Err(EngineError::invalid(format!("{d} is not an ip address")));
        }
    }
    check_memory(h.memory)?;
    check_memory_swap(h.memory_swap, h.memory)?;
    // docker's default: as much swap as memory.
    if h.memory > 0 && h.memory_swap == 0 {
        h.memory_swap = h.memory * 2;
    }
    check_nano_cpus(h.nano_cpus)?;
    if h.cpu_shares < 0 {
        return Err(EngineError::invalid(format!(
            "invalid CPU shares: {}: must not be negative",
            h.cpu_shares
        )));
    }
    for (path, _) in h.tmpfs.iter().flatten() {
        if !path.starts_with('/') {
            return Err(EngineError::invalid(format!(
                "invalid mount path for --tmpfs {path:?}: it must be absolute"
            )));
        }
    }
    berth_runtime::caps::effective(
        h.cap_add.as_deref().unwrap_or(&[]),
        h.cap_drop.as_deref().unwrap_or(&[]),
        h.privileged,
    )
    .map_err(|e| EngineError::invalid(e.to_string()))?;
    for u in h.ulimits.iter().flatten() {
        check_ulimit(u)?;
    }
    match h.pids_limit {
        Some(p) if p < -1 => return Err(EngineError::invalid(format!("invalid --pids-limit {p}"))),
        Some(p) if p <= 0 => h.pids_limit = None,
        _ => {}
    }
    check_security_opts(h.security_opt.as_deref().unwrap_or(&[]))?;
    check_port_bindings(h.port_bindings.as_ref())?;
    check_log_config(&mut h.log_config)?;
    Ok(())
}

/// `Memory`: 0 for none, at least 6 MB otherwise.
pub(crate) fn check_memory(memory: i64) -> Result<(), EngineError> {
    if memory < 0 || (memory != 0 && memory < 6 * 1024 * 1024) {
        return Err(EngineError::invalid("Minimum memory limit allowed is 6MB"));
    }
    Ok(())
}

/// `MemorySwap` (memory plus swap; -1 unlimited) against `memory`.
pub(crate) fn check_memory_swap(memory_swap: i64, memory: i64) -> Result<(), EngineError> {
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
    Ok(())
}

/// `NanoCpus`: 0 for none, else from 0.01 CPUs to as many as there are.
pub(crate) fn check_nano_cpus(nano: i64) -> Result<(), EngineError> {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as i64;
    if nano != 0 && (nano < 10_000_000 || nano > n * 1_000_000_000) {
        return Err(EngineError::invalid(format!(
            "Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"
        )));
    }
    Ok(())
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

fn check_ulimit(u: &crate::model::Ulimit) -> Result<(), EngineError> {
    if !ULIMITS.contains(&u.name.as_str()) {
        return Err(EngineError::invalid(format!(
            "invalid ulimit type: {}",
            u.name
        )));
    }
    if u.soft > u.hard && u.hard != -1 {
        return Err(EngineError::invalid(format!(
            "ulimit soft limit must be less than or equal to hard limit: {} > {}",
            u.soft, u.hard
        )));
    }
    Ok(())
}

fn check_security_opts(opts: &[String]) -> Result<(), EngineError> {
    for o in opts {
        let (k, v) = o.split_once(['=', ':']).unwrap_or((o, ""));
        match k {
            "seccomp" if v == "unconfined" => {}
            "seccomp" if v.is_empty() => {
                return Err(EngineError::invalid(format!(
                    "invalid --security-opt: {o:?}"
                )))
            }
            "seccomp" => {
                berth_runtime::seccomp::Profile::from_json(v.as_bytes())
                    .map_err(|e| EngineError::invalid(format!("seccomp profile: {e}")))?;
            }
            "no-new-privileges" if matches!(v, "" | "true" | "false") => {}
            "apparmor" | "label" => {}
            _ => {
                return Err(EngineError::invalid(format!(
                    "invalid --security-opt: {o:?}"
                )))
            }
        }
    }
    Ok(())
}

/// PortBindings keys (`80/tcp`) and host sides, as dockerd checks them.
fn check_port_bindings(
    bindings: Option<&BTreeMap<String, Vec<crate::model::PortBinding>>>,
) -> Result<(), EngineError> {
    for (key, list) in bindings.into_iter().flatten() {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let ok_port = port.parse::<u16>().is_ok_and(|p| p > 0);
        if !ok_port || !matches!(proto, "tcp" | "udp" | "sctp") {
            return Err(EngineError::invalid(format!(
                "invalid port specification: \"{key}\""
            )));
        }
        for b in list {
            if !b.host_ip.is_empty() && b.host_ip.parse::<std::net::IpAddr>().is_err() {
                return Err(EngineError::invalid(format!(
                    "invalid IP address: {}",
                    b.host_ip
                )));
            }
            if !b.host_port.is_empty() && b.host_port.parse::<u16>().is_err() {
                return Err(EngineError::invalid(format!(
                    "invalid port specification: \"{}\"",
                    b.host_port
                )));
            }
        }
    }
    Ok(())
}

/// json-file (with docker's max-size / max-file rotation) or none.
fn check_log_config(l: &mut crate::model::LogConfig) -> Result<(), EngineError> {
    if l.kind.is_empty() {
        l.kind = "json-file".into();
    }
    let kind = l.kind.clone();
    if kind != "json-file" && kind != "none" {
        return Err(EngineError::invalid(format!(
            "logging driver {kind:?} is not supported: berth has json-file and none"
        )));
    }
    for (k, v) in &l.config {
        match k.as_str() {
            "max-size" if kind == "json-file" => {
                if crate::containers::parse_bytes(v).map_or(true, |n| n <= 0) {
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
    }
    if l.config.contains_key("max-file") && !l.config.contains_key("max-size") {
        return Err(EngineError::invalid(
            "max-file cannot be used without max-size",
        ));
    }
    Ok(())
}

fn check_absolute(path: &str) -> Result<(), EngineError> {
    if !path.starts_with('/') {
        return Err(EngineError::invalid(format!(
            "invalid mount config: mount path must be absolute: {path}"
        )));
    }
    Ok(())
}

/// A HostConfig.Mounts entry, as dockerd checks it.
fn check_mount(m: &MountConfig) -> Result<(), EngineError> {
    if m.target.is_empty() {
        return Err(EngineError::invalid(
            "invalid mount config: Target is required",
        ));
    }
    check_absolute(&m.target)?;
    if m.volume_options.is_some() && m.kind != "volume" {
        return Err(EngineError::invalid(format!(
            "invalid mount config for type \"{}\": VolumeOptions must not be specified",
            m.kind
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
            return Err(EngineError::invalid(
                "invalid mount config: type is required",
            ))
        }
        other => {
            return Err(EngineError::invalid(format!(
                "invalid mount config: mount type unknown: \"{other}\""
            )))
        }
    }
    Ok(())
}

/// A Binds entry: `/host:/container[:mode]` (a bind; a missing host path
/// is created, as dockerd does), or `NAME:/container[:mode]` (a volume).
enum Bind {
    Host(String),
    Volume(MountConfig),
}

fn parse_bind(s: &str) -> Result<Bind, EngineError> {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [src, dst] => (*src, *dst, ""),
        [src, dst, mode] => (*src, *dst, *mode),
        _ => {
            return Err(EngineError::invalid(format!(
                "invalid volume specification: '{s}'"
            )))
        }
    };
    if !dst.starts_with('/') {
        return Err(EngineError::invalid(format!("invalid volume specification: '{s}': invalid mount config: mount path must be absolute")));
    }
    if !src.starts_with('/') {
        if !names::valid(src) {
            return Err(EngineError::invalid(format!(
                "create {src}: \"{src}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
            )));
        }
        if !mode
            .split(',')
            .all(|o| matches!(o, "" | "ro" | "rw" | "z" | "Z" | "nocopy"))
        {
            return Err(EngineError::invalid(format!("invalid mode: {mode}")));
        }
        return Ok(Bind::Volume(MountConfig {
            kind: "volume".into(),
            source: src.to_string(),
            target: dst.to_string(),
            read_only: mode.split(',').any(|o| o == "ro"),
            ..MountConfig::default()
        }));
    }
    let known = |o: &str| {
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
    };
    if !mode.is_empty() && !mode.split(',').all(known) {
        return Err(EngineError::invalid(format!("invalid mode: {mode}")));
    }
    if !Path::new(src).exists() {
        std::fs::create_dir_all(src).map_err(|e| EngineError::io(Path::new(src), e))?;
    }
    Ok(Bind::Host(s.to_string()))
}

/// `--link-local-ip`: the addresses must be link-local.
fn check_link_local(ep: &crate::networks::Endpoint) -> Result<(), EngineError> {
    let Some(ipam) = &ep.ipam_config else {
        return Ok(());
    };
    for a in &ipam.link_local_ips {
        let link_local = match a.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(v4)) => v4.is_link_local(),
            Ok(std::net::IpAddr::V6(_)) => {
                return Err(EngineError::invalid(format!(
                    "invalid link-local address {a}: berth adds IPv4 link-local addresses only (169.254.0.0/16)"
                )))
            }
            Err(_) => false,
        };
        if !link_local {
            return Err(EngineError::invalid(format!(
                "invalid link-local IP address: {a}: it must be in 169.254.0.0/16"
            )));
        }
    }
    Ok(())
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
    fn env_merging() {
        let env = merge_env(
            &["A=1".into(), "PATH=/bin".into()],
            "h",
            false,
            &["A=2".into(), "B=x=y".into(), "UNSET".into()],
        )
        .unwrap();
        assert_eq!(env, vec!["HOSTNAME=h", "PATH=/bin", "A=2", "B=x=y"]);
        assert!(merge_env(&[], "h", false, &["=x".into()]).is_err());
    }

    #[test]
    fn entrypoint_and_cmd_merge_as_dockerd() {
        let image = berth_image::spec::ContainerConfig {
            entrypoint: Some(vec!["/ep".into()]),
            cmd: Some(vec!["default".into()]),
            ..Default::default()
        };
        let asked = |e: Option<Vec<&str>>, c: Option<Vec<&str>>| Config {
            entrypoint: e.map(|v| v.into_iter().map(String::from).collect()),
            cmd: c.map(|v| v.into_iter().map(String::from).collect()),
            ..Config::default()
        };
        let s = |v: &[&str]| Some(v.iter().map(|x| x.to_string()).collect::<Vec<_>>());
        assert_eq!(
            entrypoint_and_cmd(&asked(None, None), &image),
            (s(&["/ep"]), s(&["default"]))
        );
        assert_eq!(
            entrypoint_and_cmd(&asked(None, Some(vec!["x"])), &image),
            (s(&["/ep"]), s(&["x"]))
        );
        assert_eq!(
            entrypoint_and_cmd(&asked(Some(vec!["sh"]), None), &image),
            (s(&["sh"]), None)
        );
        assert_eq!(
            entrypoint_and_cmd(&asked(Some(vec![""]), Some(vec!["ls"])), &image),
            (None, s(&["ls"]))
        );
    }

    #[test]
    fn binds_and_mounts() {
        assert!(matches!(parse_bind("data:/d:ro").unwrap(), Bind::Volume(m) if m.read_only));
        assert!(parse_bind("data:rel").is_err());
        assert!(parse_bind("/tmp:/x:bogus").is_err());
        let m = MountConfig {
            kind: "bind".into(),
            source: "/does/not/exist".into(),
            target: "/x".into(),
            ..Default::default()
        };
        assert!(check_mount(&m)
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
        let tmpfs = MountConfig {
            kind: "tmpfs".into(),
            ..Default::default()
        };
        assert!(check_mount(&tmpfs).is_err());
        let nfs = MountConfig {
            kind: "nfs".into(),
            target: "/x".into(),
            ..Default::default()
        };
        assert!(check_mount(&nfs).is_err());
    }

    #[test]
    fn restart_policies_are_checked() {
        let mut h = HostConfig::default();
        h.restart_policy.name = "sometimes".into();
        assert!(check_host_config(&mut h)
            .unwrap_err()
            .to_string()
            .contains("unknown policy"));
        let mut h = HostConfig::default();
        h.restart_policy.name = "always".into();
        h.restart_policy.maximum_retry_count = 2;
        assert!(check_host_config(&mut h).is_err());
        let mut h = HostConfig::default();
        check_host_config(&mut h).unwrap();
        assert_eq!(
            (h.network_mode.as_str(), h.restart_policy.name.as_str()),
            ("bridge", "no")
        );
    }
}
