//! `run` and `create` flags turned into docker's create body, as docker's
//! CLI does it: strings parsed here (sizes, `-p`, `--mount`, `--ulimit`,
//! durations, env files, seccomp profiles read from disk), their meaning
//! checked by the engine, which the API's bodies reach the same way.

use std::collections::BTreeMap;

use berth_engine::containers::parse_bytes;
use berth_engine::model::{
    Config, CreateBody, HostConfig, LogConfig, MountConfig, NetworkingConfig, PortBinding,
    RestartPolicy, TmpfsOptions, Ulimit, VolumeOptions,
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
    let (host_config, volumes) = host_config(a)?;
    let mut exposed = BTreeMap::new();
    for key in host_config.port_bindings.iter().flat_map(|p| p.keys()) {
        exposed.insert(key.clone(), json!({}));
    }
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
        labels: berth_engine::key_values(&a.label),
        stop_signal: a.stop_signal.clone(),
        stop_timeout: a.stop_timeout,
        healthcheck: healthcheck(a)?,
        exposed_ports: Some(exposed).filter(|e| !e.is_empty()),
        ..Config::default()
    };
    let mut endpoints = BTreeMap::new();
    if a.ip.is_some() || !a.network_alias.is_empty() || a.mac_address.is_some() {
        endpoints.insert(
            host_config.network_mode.clone(),
            Endpoint {
                ipam_config: a.ip.clone().map(|ip| EndpointIpam { ipv4_address: ip }),
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
        console_size: None,
    };
    Ok((h, volumes))
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

/// `-p` values as HostConfig.PortBindings (`80/tcp` → host address and port).
fn port_bindings(
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
