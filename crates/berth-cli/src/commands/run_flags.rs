//! `run` and `create` flags turned into docker's create body, as docker's
//! CLI does it: strings parsed here (sizes, `-p`, `--mount`, `--ulimit`,
//! durations, env files, seccomp profiles read from disk), their meaning
//! checked by the engine, which the API's bodies reach the same way.

use std::collections::BTreeMap;

use berth_engine::containers::parse_bytes;
use berth_engine::model::{
    Config, CreateBody, DeviceMapping, DeviceRequest, HostConfig, LogConfig, MountConfig,
    NetworkingConfig, PortBinding, RestartPolicy, ThrottleDevice, TmpfsOptions, Ulimit,
    VolumeOptions, WeightDevice,
};
use berth_engine::networks::{Endpoint, EndpointIpam};
use berth_engine::EngineError;
use serde_json::{json, Value};

use crate::cli::RunArgs;

/// The body for `a`, and the container name it asks for.
pub fn create_body(a: &RunArgs) -> Result<CreateBody, EngineError> {
    for stream in &a.attach {
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
        if a.attach.is_empty() {
            default
        } else {
            a.attach.iter().any(|s| s.eq_ignore_ascii_case(stream))
        }
    };
    let (mut host_config, volumes) = host_config(a)?;
    devices_and_limits(a, &mut host_config)?;
    let mut exposed = exposed_by(&host_config.port_bindings);
    for e in &a.expose {
        for key in expose(e)? {
            exposed.insert(key, json!({}));
        }
    }
    let mut labels = labels_from_files(&a.label_file)?;
    labels.extend(berth_engine::key_values(&a.label));
    let attach_stdin = attached("stdin", a.interactive);
    let config = Config {
        hostname: a.hostname.clone().unwrap_or_default(),
        user: a.user.clone().unwrap_or_default(),
        attach_stdin,
        attach_stdout: attached("stdout", true),
        attach_stderr: attached("stderr", true),
        tty: a.tty,
        open_stdin: a.interactive,
        // As docker's CLI: an attached stdin closes when its input ends.
        stdin_once: a.interactive && attach_stdin && !a.detach,
        env: env(&a.env, &a.env_file)?,
        cmd: Some(a.command.clone()).filter(|c| !c.is_empty()),
        image: a.image.clone(),
        volumes: Some(volumes).filter(|v| !v.is_empty()),
        working_dir: a.workdir.clone().unwrap_or_default(),
        entrypoint: a.entrypoint.as_ref().map(|e| vec![e.clone()]),
        labels,
        domainname: a.domainname.clone().unwrap_or_default(),
        stop_signal: a.stop_signal.clone(),
        stop_timeout: a.stop_timeout,
        healthcheck: healthcheck(a)?,
        exposed_ports: Some(exposed).filter(|e| !e.is_empty()),
        ..Config::default()
    };
    let mut endpoints = BTreeMap::new();
    if a.ip.is_some()
        || a.ip6.is_some()
        || !a.link_local_ip.is_empty()
        || !a.network_alias.is_empty()
        || a.mac_address.is_some()
    {
        endpoints.insert(
            host_config.network_mode.clone(),
            Endpoint {
                ipam_config: (a.ip.is_some() || a.ip6.is_some() || !a.link_local_ip.is_empty())
                    .then(|| EndpointIpam {
                        ipv4_address: a.ip.clone().unwrap_or_default(),
                        ipv6_address: a.ip6.clone().unwrap_or_default(),
                        link_local_ips: a.link_local_ip.clone(),
                    }),
                aliases: Some(a.network_alias.clone()).filter(|a| !a.is_empty()),
                mac_address: a.mac_address.clone().unwrap_or_default(),
                ..Endpoint::default()
            },
        );
    }
    Ok(CreateBody {
        config,
        host_config,
        networking_config: NetworkingConfig {
            endpoints_config: endpoints,
        },
    })
}

/// The HostConfig, and `-v /path` anonymous volumes (Config.Volumes).
fn host_config(a: &RunArgs) -> Result<(HostConfig, BTreeMap<String, Value>), EngineError> {
    let restart_policy = a
        .restart
        .as_deref()
        .map(RestartPolicy::parse)
        .transpose()
        .map_err(EngineError::invalid)?
        .unwrap_or_default();
    if a.rm && restart_policy.name != "no" {
        return Err(EngineError::invalid(
            "Conflicting options: --restart and --rm",
        ));
    }
    let mut binds = Vec::new();
    let mut volumes = BTreeMap::new();
    for v in &a.volume {
        if v.split(':').count() == 1 {
            if !v.starts_with('/') {
                return Err(EngineError::invalid(format!(
                    "invalid volume specification: '{v}'"
                )));
            }
            volumes.insert(v.clone(), json!({}));
        } else {
            binds.push(v.clone());
        }
    }
    let mounts = a
        .mount
        .iter()
        .map(|m| parse_mount(m))
        .collect::<Result<Vec<_>, _>>()?;
    let mut tmpfs = BTreeMap::new();
    for t in &a.tmpfs {
        let (path, opts) = t.split_once(':').unwrap_or((t, ""));
        tmpfs.insert(path.to_string(), opts.to_string());
    }
    let ulimits = a
        .ulimit
        .iter()
        .map(|u| parse_ulimit(u))
        .collect::<Result<Vec<_>, _>>()?;
    let memory = a
        .memory
        .as_deref()
        .map(parse_bytes)
        .transpose()?
        .unwrap_or(0);
    let memory_swap = match a.memory_swap.as_deref() {
        Some("-1") => -1,
        Some(s) => parse_bytes(s)?,
        None => 0,
    };
    let opt_vec = |v: &Vec<String>| Some(v.clone()).filter(|v| !v.is_empty());
    let h = HostConfig {
        binds: Some(binds).filter(|b| !b.is_empty()),
        network_mode: a.network.clone().unwrap_or_else(|| "default".into()),
        auto_remove: a.rm,
        cap_add: opt_vec(&a.cap_add),
        cap_drop: opt_vec(&a.cap_drop),
        privileged: a.privileged,
        readonly_rootfs: a.read_only,
        security_opt: Some(security_opts(&a.security_opt)?).filter(|s| !s.is_empty()),
        tmpfs: Some(tmpfs).filter(|t| !t.is_empty()),
        secrets: a
            .secret
            .iter()
            .map(|f| berth_engine::secrets::parse_flag(f))
            .collect::<Result<_, _>>()?,
        pod: a.pod.clone().unwrap_or_default(),
        memory,
        memory_swap,
        nano_cpus: nano_cpus(a.cpus.as_deref())?,
        cpu_shares: a.cpu_shares.unwrap_or(0),
        pids_limit: a.pids_limit,
        ulimits: Some(ulimits).filter(|u| !u.is_empty()),
        mounts: Some(mounts).filter(|m| !m.is_empty()),
        init: a.init.then_some(true),
        restart_policy,
        log_config: log_config(a)?,
        port_bindings: port_bindings(&a.publish)?,
        publish_all_ports: a.publish_all,
        extra_hosts: opt_vec(&a.add_host),
        dns: a.dns.clone(),
        dns_search: a.dns_search.clone(),
        dns_options: a.dns_option.clone(),
        volumes_from: opt_vec(&a.volumes_from),
        ..HostConfig::default()
    };
    Ok((h, volumes))
}

/// The run flags that take host devices and set cgroup limits and
/// namespaces, as HostConfig fields.
fn devices_and_limits(a: &RunArgs, h: &mut HostConfig) -> Result<(), EngineError> {
    let mut cdi = Vec::new();
    let mut devices = Vec::new();
    for d in &a.device {
        if berth_engine::is_cdi_device(d) {
            cdi.push(d.clone());
        } else {
            devices.push(device_mapping(d)?);
        }
    }
    let mut requests = Vec::new();
    if !cdi.is_empty() {
        requests.push(DeviceRequest {
            driver: "cdi".into(),
            device_ids: Some(cdi),
            ..Default::default()
        });
    }
    if let Some(g) = &a.gpus {
        requests.push(gpu_request(g)?);
    }
    let opt_vec = |v: &Vec<String>| Some(v.clone()).filter(|v| !v.is_empty());
    h.devices = Some(devices).filter(|d| !d.is_empty());
    h.device_requests = Some(requests).filter(|r| !r.is_empty());
    h.device_cgroup_rules = opt_vec(&a.device_cgroup_rule);
    let throttle = |list: &[String],
                    bytes: bool|
     -> Result<Option<Vec<ThrottleDevice>>, EngineError> {
        let out = list
            .iter()
            .map(|t| {
                let (path, rate) = t.rsplit_once(':').ok_or_else(|| {
                    EngineError::invalid(format!("bad format: {t}: PATH:RATE, as /dev/sda:1mb"))
                })?;
                let rate = if bytes {
                    parse_bytes(rate)? as u64
                } else {
                    rate.parse().map_err(|_| {
                        EngineError::invalid(format!("invalid rate for device: {t}. The correct format is <device-path>:<number>. Number must be a positive integer"))
                    })?
                };
                Ok(ThrottleDevice {
                    path: path.into(),
                    rate,
                })
            })
            .collect::<Result<Vec<_>, EngineError>>()?;
        Ok(Some(out).filter(|o| !o.is_empty()))
    };
    h.blkio_device_read_bps = throttle(&a.device_read_bps, true)?;
    h.blkio_device_write_bps = throttle(&a.device_write_bps, true)?;
    h.blkio_device_read_iops = throttle(&a.device_read_iops, false)?;
    h.blkio_device_write_iops = throttle(&a.device_write_iops, false)?;
    h.blkio_weight = a.blkio_weight.unwrap_or(0);
    h.blkio_weight_device = Some(
        a.blkio_weight_device
            .iter()
            .map(|w| {
                let (path, weight) = w.rsplit_once(':').ok_or_else(|| {
                    EngineError::invalid(format!("bad format: {w}: PATH:WEIGHT, as /dev/sda:500"))
                })?;
                Ok(WeightDevice {
                    path: path.into(),
                    weight: weight.parse().map_err(|_| {
                        EngineError::invalid(format!("invalid weight for device: {w}"))
                    })?,
                })
            })
            .collect::<Result<Vec<_>, EngineError>>()?,
    )
    .filter(|w| !w.is_empty());
    h.shm_size = a
        .shm_size
        .as_deref()
        .map(parse_bytes)
        .transpose()?
        .unwrap_or(0);
    if a.shm_size.is_some() && h.shm_size <= 0 {
        return Err(EngineError::invalid(format!(
            "invalid size for --shm-size: {:?}: a size like 64m",
            a.shm_size.as_deref().unwrap_or("")
        )));
    }
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    h.ipc_mode = text(&a.ipc);
    h.pid_mode = text(&a.pid);
    h.uts_mode = text(&a.uts);
    h.userns_mode = text(&a.userns);
    h.cgroupns_mode = text(&a.cgroupns);
    h.cgroup_parent = text(&a.cgroup_parent);
    let mut sysctls = BTreeMap::new();
    for s in &a.sysctl {
        let (k, v) = s.split_once('=').ok_or_else(|| {
            EngineError::invalid(format!(
                "invalid argument {s:?} for \"--sysctl\" flag: sysctl {s:?} is not a key=value pair"
            ))
        })?;
        sysctls.insert(k.to_string(), v.to_string());
    }
    h.sysctls = Some(sysctls).filter(|s| !s.is_empty());
    h.group_add = opt_vec(&a.group_add);
    h.cpuset_cpus = text(&a.cpuset_cpus);
    h.cpuset_mems = text(&a.cpuset_mems);
    h.cpu_period = a.cpu_period.unwrap_or(0);
    h.cpu_quota = a.cpu_quota.unwrap_or(0);
    h.cpu_realtime_period = a.cpu_rt_period.unwrap_or(0);
    h.cpu_realtime_runtime = a.cpu_rt_runtime.unwrap_or(0);
    h.memory_reservation = a
        .memory_reservation
        .as_deref()
        .map(parse_bytes)
        .transpose()?
        .unwrap_or(0);
    h.memory_swappiness = a.memory_swappiness.filter(|s| *s != -1);
    h.kernel_memory = a
        .kernel_memory
        .as_deref()
        .map(parse_bytes)
        .transpose()?
        .unwrap_or(0);
    h.oom_kill_disable = a.oom_kill_disable.then_some(true);
    h.oom_score_adj = a.oom_score_adj.unwrap_or(0);
    h.links = opt_vec(&a.link);
    h.runtime = text(&a.runtime);
    h.isolation = text(&a.isolation);
    h.storage_opt = Some(berth_engine::key_values(&a.storage_opt)).filter(|s| !s.is_empty());
    h.volume_driver = text(&a.volume_driver);
    Ok(())
}

/// `--device /dev/x[:/dev/y][:rwm]`.
fn device_mapping(d: &str) -> Result<DeviceMapping, EngineError> {
    let perms = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let parts: Vec<&str> = d.split(':').collect();
    let (host, inside, permissions) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, p] if perms(p) => (*host, *host, *p),
        [host, inside] => (*host, *inside, "rwm"),
        [host, inside, p] if perms(p) => (*host, *inside, *p),
        [_, _, p] => {
            return Err(EngineError::invalid(format!(
                "invalid device mode: {p}: r, w and m, as rwm"
            )))
        }
        _ => {
            return Err(EngineError::invalid(format!(
                "invalid device specification: {d}: /dev/x[:/dev/y][:rwm]"
            )))
        }
    };
    if !host.starts_with('/') {
        return Err(EngineError::invalid(format!(
            "invalid device specification: {d}: the host path must be absolute (or a CDI name, vendor.com/class=name)"
        )));
    }
    Ok(DeviceMapping {
        path_on_host: host.into(),
        path_in_container: inside.into(),
        cgroup_permissions: permissions.into(),
    })
}

/// `--gpus all`, `--gpus 2`, `--gpus '"device=0,1",capabilities=compute'`:
/// docker's comma-separated fields, quotes keeping commas in a value.
pub fn gpu_request(s: &str) -> Result<DeviceRequest, EngineError> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in s.chars() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    fields.push(cur);
    let bad = |why: &str| {
        EngineError::invalid(format!("invalid argument {s:?} for \"--gpus\" flag: {why}"))
    };
    let mut r = DeviceRequest {
        count: 0,
        ..Default::default()
    };
    let mut caps = vec!["gpu".to_string()];
    let mut seen_count = false;
    for f in fields.iter().map(|f| f.trim()).filter(|f| !f.is_empty()) {
        match f.split_once('=') {
            None if f == "all" => {
                r.count = -1;
                seen_count = true;
            }
            None => {
                r.count = f.parse().map_err(|_| bad("a count, all, or device=IDS"))?;
                seen_count = true;
            }
            Some(("count", v)) => {
                r.count = if v == "all" {
                    -1
                } else {
                    v.parse().map_err(|_| bad("count takes a number or all"))?
                };
                seen_count = true;
            }
            Some(("device", v)) => {
                r.device_ids = Some(
                    v.split(',')
                        .map(String::from)
                        .filter(|i| !i.is_empty())
                        .collect(),
                )
            }
            Some(("driver", v)) => r.driver = v.into(),
            Some(("capabilities", v)) => caps.extend(v.split(',').map(String::from)),
            Some(("options", _)) => return Err(bad("options are not supported")),
            Some((k, _)) => return Err(bad(&format!("unexpected key '{k}'"))),
        }
    }
    if seen_count && r.device_ids.is_some() {
        return Err(bad("cannot set both Count and DeviceIDs on device request"));
    }
    if !seen_count && r.device_ids.is_none() {
        r.count = -1;
    }
    caps.dedup();
    r.capabilities = Some(vec![caps]);
    Ok(r)
}

/// `--expose 80`, `80/udp`, `8000-8010`.
fn expose(e: &str) -> Result<Vec<String>, EngineError> {
    let (ports, proto) = e.split_once('/').unwrap_or((e, "tcp"));
    let bad = || EngineError::invalid(format!("invalid range format for --expose: {e}"));
    if !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(bad());
    }
    let (lo, hi) = ports.split_once('-').unwrap_or((ports, ports));
    let (lo, hi): (u16, u16) = (
        lo.parse().map_err(|_| bad())?,
        hi.parse().map_err(|_| bad())?,
    );
    if lo == 0 || lo > hi {
        return Err(bad());
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// `--label-file`: `KEY=VALUE` lines, `#` comments.
fn labels_from_files(
    files: &[std::path::PathBuf],
) -> Result<BTreeMap<String, String>, EngineError> {
    let mut out = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| {
            EngineError::invalid(format!(
                "open {}: {}",
                f.display(),
                e.kind().to_string().to_lowercase()
            ))
        })?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (k, v) = berth_engine::key_value(line);
            out.insert(k, v);
        }
    }
    Ok(out)
}

/// `--env-file`s, then `-e`; `-e KEY` takes this process's value (and is
/// dropped when it has none), as docker's CLI does.
pub fn env(given: &[String], files: &[std::path::PathBuf]) -> Result<Vec<String>, EngineError> {
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file).map_err(|e| {
            EngineError::invalid(format!(
                "open {}: {}",
                file.display(),
                e.kind().to_string().to_lowercase()
            ))
        })?;
        out.extend(
            text.lines()
                .map(str::trim_start)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    out.extend(given.iter().cloned());
    Ok(out
        .into_iter()
        .filter_map(|e| match e.split_once('=') {
            Some(_) => Some(e),
            None if e.is_empty() || e.contains(char::is_whitespace) => Some(e),
            None => std::env::var(&e).ok().map(|v| format!("{e}={v}")),
        })
        .collect())
}

/// `--health-*` and `--no-healthcheck` as Config.Healthcheck.
fn healthcheck(a: &RunArgs) -> Result<Option<Value>, EngineError> {
    let any = a.health_cmd.is_some()
        || a.health_interval.is_some()
        || a.health_timeout.is_some()
        || a.health_start_period.is_some()
        || a.health_retries.is_some();
    if a.no_healthcheck {
        if any {
            return Err(EngineError::invalid(
                "--no-healthcheck conflicts with --health-* options",
            ));
        }
        return Ok(Some(json!({"Test": ["NONE"]})));
    }
    if !any {
        return Ok(None);
    }
    let mut hc = json!({});
    if let Some(cmd) = &a.health_cmd {
        hc["Test"] = json!(["CMD-SHELL", cmd]);
    }
    for (given, field, flag) in [
        (&a.health_interval, "Interval", "--health-interval"),
        (&a.health_timeout, "Timeout", "--health-timeout"),
        (
            &a.health_start_period,
            "StartPeriod",
            "--health-start-period",
        ),
    ] {
        if let Some(v) = given {
            let d = berth_engine::logs::parse_duration(v)
                .filter(|d| *d >= chrono::Duration::zero())
                .ok_or_else(|| {
                    EngineError::invalid(format!(
                        "invalid argument \"{v}\" for \"{flag}\" flag: a duration like 30s or 1m30s"
                    ))
                })?;
            hc[field] = json!(d.num_nanoseconds().unwrap_or(0));
        }
    }
    if let Some(r) = a.health_retries {
        hc["Retries"] = json!(r);
    }
    Ok(Some(hc))
}

/// `--security-opt`; `seccomp=FILE` carries the profile itself, as docker's CLI sends it.
fn security_opts(opts: &[String]) -> Result<Vec<String>, EngineError> {
    opts.iter()
        .map(|o| match o.split_once(['=', ':']) {
            Some(("seccomp", file)) if file != "unconfined" && !file.is_empty() => {
                let data = std::fs::read(file).map_err(|e| {
                    EngineError::invalid(format!("opening seccomp profile ({file}) failed: {e}"))
                })?;
                Ok(format!("seccomp={}", String::from_utf8_lossy(&data)))
            }
            _ => Ok(o.clone()),
        })
        .collect()
}

/// `--cpus` as nano-CPUs; 0 for none.
fn nano_cpus(s: Option<&str>) -> Result<i64, EngineError> {
    let Some(s) = s else { return Ok(0) };
    let v: f64 = s.parse().map_err(|_| {
        EngineError::invalid(format!("invalid argument \"{s}\" for \"--cpus\" flag"))
    })?;
    Ok((v * 1e9).round() as i64)
}

/// The ports that port bindings expose (Config.ExposedPorts).
pub fn exposed_by(
    bindings: &Option<BTreeMap<String, Vec<PortBinding>>>,
) -> BTreeMap<String, serde_json::Value> {
    bindings
        .iter()
        .flat_map(|p| p.keys())
        .map(|k| (k.clone(), json!({})))
        .collect()
}

/// `-p` values as HostConfig.PortBindings (`80/tcp` → host address and port).
pub fn port_bindings(
    publish: &[String],
) -> Result<Option<BTreeMap<String, Vec<PortBinding>>>, EngineError> {
    let mut out: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for p in publish {
        for s in berth_net::parse_publish(p).map_err(EngineError::invalid)? {
            out.entry(s.key()).or_default().push(PortBinding {
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

fn log_config(a: &RunArgs) -> Result<LogConfig, EngineError> {
    let mut config = BTreeMap::new();
    for opt in &a.log_opt {
        let (k, v) = opt.split_once('=').ok_or_else(|| {
            EngineError::invalid(format!("invalid log opt {opt:?}: expected key=value"))
        })?;
        config.insert(k.to_string(), v.to_string());
    }
    Ok(LogConfig {
        kind: a.log_driver.clone().unwrap_or_default(),
        config,
    })
}

/// `--ulimit NAME=SOFT[:HARD]`.
fn parse_ulimit(s: &str) -> Result<Ulimit, EngineError> {
    let bad = || {
        EngineError::invalid(format!(
            "invalid ulimit argument: {s} (want NAME=SOFT[:HARD])"
        ))
    };
    let (name, values) = s.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = values.split_once(':').unwrap_or((values, values));
    Ok(Ulimit {
        name: name.into(),
        soft: soft.parse().map_err(|_| bad())?,
        hard: hard.parse().map_err(|_| bad())?,
    })
}

/// `--mount type=bind,source=/a,target=/b,readonly`, `type=volume,...,volume-opt=K=V`,
/// `type=tmpfs,target=/t,tmpfs-size=..,tmpfs-mode=..`.
fn parse_mount(s: &str) -> Result<MountConfig, EngineError> {
    let mut m = MountConfig::default();
    let mut tmpfs = TmpfsOptions::default();
    let mut volume = VolumeOptions::default();
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
                volume.labels.extend([berth_engine::key_value(v)]);
            }
            "volume-driver" => {
                volume
                    .driver_config
                    .get_or_insert_with(Default::default)
                    .name = v.into()
            }
            "volume-opt" => {
                let driver = volume.driver_config.get_or_insert_with(Default::default);
                driver.options.extend([berth_engine::key_value(v)]);
            }
            "bind-propagation" | "consistency" => {}
            _ => {
                return Err(EngineError::invalid(format!(
                    "invalid field '{k}' in --mount {s:?}"
                )))
            }
        }
    }
    if volume != VolumeOptions::default() {
        if m.kind != "volume" {
            return Err(EngineError::invalid(format!(
                "invalid mount config: volume options need type=volume in --mount {s:?}"
            )));
        }
        m.volume_options = Some(volume);
    }
    if tmpfs != TmpfsOptions::default() {
        m.tmpfs_options = Some(tmpfs);
    }
    if m.kind.is_empty() {
        return Err(EngineError::invalid(format!(
            "invalid mount config: type is required in --mount {s:?}"
        )));
    }
    if m.target.is_empty() {
        return Err(EngineError::invalid(format!(
            "invalid mount config: target is required in --mount {s:?}"
        )));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(parse_ulimit("nofile").is_err());
        let m = parse_mount("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        assert_eq!(m.tmpfs_options.unwrap().mode, Some(0o1770));
        assert!(parse_mount("type=tmpfs").is_err());
        assert!(parse_mount("target=/x").is_err());
        assert!(parse_mount("type=bind,volume-nocopy,target=/x").is_err());
    }

    #[test]
    fn gpu_requests_parse_as_dockers() {
        let all = gpu_request("all").unwrap();
        assert_eq!(
            (all.count, all.capabilities.unwrap()),
            (-1, vec![vec!["gpu".to_string()]])
        );
        assert_eq!(gpu_request("2").unwrap().count, 2);
        let ids = gpu_request("\"device=0,2\",\"capabilities=compute,utility\"").unwrap();
        assert_eq!(ids.device_ids.unwrap(), ["0", "2"]);
        assert_eq!(ids.capabilities.unwrap()[0], ["gpu", "compute", "utility"]);
        assert!(gpu_request("lots").is_err());
        assert!(gpu_request("2,device=1").is_err());
        assert!(gpu_request("colour=red").is_err());
        // As docker's: unquoted, `utility` is a field of its own, and no count.
        assert!(gpu_request("\"device=0\",capabilities=compute,utility").is_err());
    }

    #[test]
    fn devices_and_exposed_ports() {
        let d = device_mapping("/dev/fuse").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
            ("/dev/fuse", "rwm")
        );
        let d = device_mapping("/dev/sda:/dev/xvda:r").unwrap();
        assert_eq!(
            (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
            ("/dev/xvda", "r")
        );
        assert_eq!(
            device_mapping("/dev/null:rw").unwrap().path_in_container,
            "/dev/null"
        );
        assert!(device_mapping("dev/null").is_err());
        assert!(device_mapping("/a:/b:rwx").is_err());
        assert_eq!(
            expose("8000-8002/udp").unwrap(),
            ["8000/udp", "8001/udp", "8002/udp"]
        );
        assert!(expose("80/ip").is_err());
        assert!(expose("0").is_err());
    }

    #[test]
    fn env_takes_the_callers_value_for_a_bare_key() {
        std::env::set_var("BERTH_FLAGS_TEST", "v");
        let env = env(
            &[
                "A=1".into(),
                "BERTH_FLAGS_TEST".into(),
                "BERTH_UNSET_X".into(),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(env, vec!["A=1", "BERTH_FLAGS_TEST=v"]);
    }
}
