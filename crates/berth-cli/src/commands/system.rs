//! version, info, system check.

use berth_engine::Engine;
use serde_json::{json, Value};

use super::{fail, CliError};
use crate::cli::{FormatArgs, ImagePruneArgs};
use crate::format;

fn print_formatted(
    value: &Value,
    template: Option<&str>,
    plain: impl FnOnce(),
) -> Result<i32, CliError> {
    match template {
        Some("json") => println!("{}", serde_json::to_string(value).unwrap()),
        Some(t) => println!(
            "{}",
            format::render_one(t, value).map_err(|e| CliError::new(1, e))?
        ),
        None => plain(),
    }
    Ok(0)
}

pub fn version(a: &FormatArgs) -> Result<i32, CliError> {
    use berth_engine::system::{arch, kernel, API_VERSION};
    let v = berth_engine::VERSION;
    let mut server = berth_engine::system::version();
    server["Platform"]["Name"] = json!("berth (daemonless)");
    let info = json!({
        "Client": {"Platform": {"Name": "berth"}, "Version": v, "ApiVersion": API_VERSION, "Os": "linux", "Arch": arch(), "Experimental": false},
        "Server": server,
    });
    print_formatted(&info, a.format.as_deref(), || {
        println!("Client:\n Version:           {v}\n API version:       {API_VERSION}\n OS/Arch:           linux/{}\n", arch());
        println!("Server: berth (daemonless)\n Engine:\n  Version:          {v}\n  API version:      {API_VERSION} (minimum version {})\n  OS/Arch:          linux/{}\n  Kernel Version:   {}", berth_engine::system::MIN_API_VERSION, arch(), kernel());
    })
}

pub fn info(engine: &Engine, a: FormatArgs) -> Result<i32, CliError> {
    let info = engine.info().map_err(fail)?;
    print_formatted(&info, a.format.as_deref(), || {
        let s = |k: &str| match &info[k] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!(
            "Client:\n Version:    {}\n Context:    default (daemonless)\n",
            berth_engine::VERSION
        );
        println!("Server:");
        println!(
            " Containers: {}\n  Running: {}\n  Paused: {}\n  Stopped: {}",
            s("Containers"),
            s("ContainersRunning"),
            s("ContainersPaused"),
            s("ContainersStopped")
        );
        println!(" Images: {}", s("Images"));
        println!(" Server Version: {}", s("ServerVersion"));
        println!(" Storage Driver: overlay2\n Logging Driver: json-file\n Cgroup Driver: cgroupfs\n Cgroup Version: {}", s("CgroupVersion"));
        println!(" Security Options:\n  seccomp\n   Profile: builtin");
        println!(
            " Kernel Version: {}\n Operating System: {}\n OSType: linux\n Architecture: {}",
            s("KernelVersion"),
            s("OperatingSystem"),
            s("Architecture")
        );
        println!(
            " CPUs: {}\n Total Memory: {}",
            s("NCPU"),
            berth_engine::time::human_size(info["MemTotal"].as_u64().unwrap_or(0))
        );
        println!(
            " Name: {}\n Berth Root Dir: {}\n Berth State Dir: {}",
            s("Name"),
            s("DockerRootDir"),
            s("StateDir")
        );
        let list = |k: &str| info[k].as_array().cloned().unwrap_or_default();
        println!(" CDI spec directories:");
        for d in list("CDISpecDirs") {
            println!("  {}", d.as_str().unwrap_or_default());
        }
        let devices = list("DiscoveredDevices");
        if !devices.is_empty() {
            println!(" Discovered Devices:");
            for d in devices {
                println!(
                    "  {}: {}",
                    d["Source"].as_str().unwrap_or_default(),
                    d["ID"].as_str().unwrap_or_default()
                );
            }
        }
    })
}

pub fn check(engine: &Engine) -> Result<i32, CliError> {
    let problems = berth_store::check::check(&engine.store).map_err(|e| fail(e.into()))?;
    if problems.is_empty() {
        println!("No problems found.");
        return Ok(0);
    }
    for p in &problems {
        println!("{p}");
    }
    Err(CliError::new(
        1,
        format!(
            "{} problem{} found in {}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            engine.root().display()
        ),
    ))
}

/// `system df`: images, containers and the build cache, as docker prints them.
pub fn df(engine: &Engine, a: crate::cli::DfArgs) -> Result<i32, CliError> {
    let images = engine.list_images().map_err(fail)?;
    let containers = engine.list_containers().map_err(fail)?;
    if a.verbose {
        return df_verbose(engine, &images, &containers);
    }
    let used: std::collections::HashSet<&str> =
        containers.iter().map(|c| c.image.as_str()).collect();
    let image_size: u64 = images.iter().map(|i| i.record.size).sum();
    let unused_size: u64 = images
        .iter()
        .filter(|i| !used.contains(i.record.id.as_str()))
        .map(|i| i.record.size)
        .sum();
    let sizes: Vec<(u64, bool)> = containers
        .iter()
        .map(|c| (engine.container_size(c).0, c.state.running))
        .collect();
    let c_size: u64 = sizes.iter().map(|s| s.0).sum();
    let c_reclaim: u64 = sizes.iter().filter(|s| !s.1).map(|s| s.0).sum();
    let (cache_n, cache_size, cache_reclaim) = engine.build_cache_usage().map_err(fail)?;
    let pct = |part: u64, whole: u64| {
        (part * 100)
            .checked_div(whole)
            .map(|p| format!(" ({p}%)"))
            .unwrap_or_default()
    };
    let row = |kind: &str, total: usize, active: usize, size: u64, reclaim: u64| serde_json::json!({"Type": kind, "TotalCount": total.to_string(), "Active": active.to_string(), "Size": berth_engine::time::human_size(size), "Reclaimable": format!("{}{}", berth_engine::time::human_size(reclaim), pct(reclaim, size))});
    let rows = vec![
        row(
            "Images",
            images.len(),
            images
                .iter()
                .filter(|i| used.contains(i.record.id.as_str()))
                .count(),
            image_size,
            unused_size,
        ),
        row(
            "Containers",
            containers.len(),
            containers.iter().filter(|c| c.state.running).count(),
            c_size,
            c_reclaim,
        ),
        {
            let volumes = engine.list_volumes().map_err(fail)?;
            let mut active = 0;
            let (mut size, mut reclaim) = (0, 0);
            for v in &volumes {
                let s = berth_engine::containers::dir_size(&v.mountpoint);
                size += s;
                if engine.volume_users(&v.name).map_err(fail)?.is_empty() {
                    reclaim += s;
                } else {
                    active += 1;
                }
            }
            row("Local Volumes", volumes.len(), active, size, reclaim)
        },
        row("Build Cache", cache_n, 0, cache_size, cache_reclaim),
    ];
    let headers = [
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
    ];
    let default = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
    super::print_listing(a.format.as_deref(), default, &rows, &headers)
}

/// `system df -v`: each image (with the size its layers share with other
/// images), each container, volumes, and the build cache.
fn df_verbose(
    engine: &Engine,
    images: &[berth_engine::images::ImageSummary],
    containers: &[berth_engine::model::Container],
) -> Result<i32, CliError> {
    use berth_engine::time::{ago, human_size};
    let mut users: std::collections::HashMap<&berth_image::Digest, usize> = Default::default();
    for i in images {
        for l in &i.record.layers {
            *users.entry(&l.chain_id).or_default() += 1;
        }
    }
    let mut image_rows = Vec::new();
    for i in images {
        let mut shared = 0;
        for l in i.record.layers.iter().filter(|l| users[&l.chain_id] > 1) {
            shared += engine
                .store
                .db
                .snapshot_size(&l.chain_id)
                .map_err(|e| fail(e.into()))?
                .unwrap_or(0);
        }
        let (repo, tag) = i
            .tags
            .first()
            .map(|t| (t.familiar_name(), t.tag.clone().unwrap_or_default()))
            .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
        image_rows.push(serde_json::json!({
            "Repository": repo, "Tag": tag, "ID": i.record.id.short(),
            "CreatedSince": ago(&i.record.created), "Size": human_size(i.record.size),
            "SharedSize": human_size(shared), "UniqueSize": human_size(i.record.size - shared.min(i.record.size)),
            "Containers": containers.iter().filter(|c| c.image == i.record.id.as_str()).count().to_string(),
        }));
    }
    let container_rows: Vec<serde_json::Value> = containers
        .iter()
        .map(|c| {
            let command: String = c.path.clone() + &c.args.iter().map(|a| format!(" {a}")).collect::<String>();
            serde_json::json!({
                "ID": c.short_id(), "Image": c.config.image,
                "Command": format!("{:?}", crate::format::ellipsis(&command, 20)),
                "LocalVolumes": "0", "Size": human_size(engine.container_size(c).0),
                "RunningFor": ago(&c.created), "Status": super::containers::status_text(c), "Names": c.short_name(),
            })
        })
        .collect();
    println!("Images space usage:\n");
    super::print_listing(
        None,
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
        &image_rows,
        &[("Repository", "REPOSITORY"), ("Tag", "TAG"), ("ID", "IMAGE ID"), ("CreatedSince", "CREATED"), ("Size", "SIZE"), ("SharedSize", "SHARED SIZE"), ("UniqueSize", "UNIQUE SIZE"), ("Containers", "CONTAINERS")],
    )?;
    println!("\nContainers space usage:\n");
    super::print_listing(
        None,
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
        &container_rows,
        &[("ID", "CONTAINER ID"), ("Image", "IMAGE"), ("Command", "COMMAND"), ("LocalVolumes", "LOCAL VOLUMES"), ("Size", "SIZE"), ("RunningFor", "CREATED"), ("Status", "STATUS"), ("Names", "NAMES")],
    )?;
    println!("\nLocal Volumes space usage:\n");
    println!("VOLUME NAME   LINKS     SIZE");
    let (_, cache_size, _) = engine.build_cache_usage().map_err(fail)?;
    println!("\nBuild cache usage: {}", human_size(cache_size));
    Ok(0)
}

/// `system prune`: stopped containers, then unused images, then the build
/// cache and partial downloads.
pub fn prune(engine: &Engine, a: ImagePruneArgs) -> Result<i32, CliError> {
    let filters = super::filters::prune(&a.filter)?;
    let images = super::images_to_prune(a.all);
    let volumes = if a.volumes {
        "\n  - all anonymous volumes not used by at least one container"
    } else {
        ""
    };
    let prompt = format!("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container{volumes}\n  - {images}\n  - unused build cache\n\nAre you sure you want to continue? [y/N] ");
    if !a.force && !super::containers::confirm(&prompt) {
        return Ok(0);
    }
    let (containers, containers_freed) = engine
        .prune_containers(&|c| filters.selects(&c.created, &c.config.labels))
        .map_err(fail)?;
    super::print_deleted("Containers", &containers);
    let networks = engine
        .prune_networks(&|n| filters.selects(&n.created, &n.labels))
        .map_err(fail)?;
    super::print_deleted("Networks", &networks);
    let (lines, mut freed) = engine
        .prune_images(a.all, &|i| filters.selects(&i.record.created, &i.labels))
        .map_err(fail)?;
    freed += containers_freed;
    super::print_deleted("Images", &lines);
    let cache = engine
        .prune_build_cache(a.all, filters.until)
        .map_err(fail)?;
    if !cache.keys.is_empty() {
        println!("Deleted build cache objects:");
        cache
            .keys
            .iter()
            .for_each(|k| println!("{}", &k.hex()[..25]));
        println!();
    }
    freed += cache.reclaimed;
    if a.volumes {
        let (removed, volumes_freed) = engine
            .prune_volumes(false, &|v| filters.selects(&v.created, &v.labels))
            .map_err(fail)?;
        super::print_deleted("Volumes", &removed);
        freed += volumes_freed;
    }
    // Downloads an interrupted pull left to resume, and what interrupted
    // work left unrecorded.
    freed += engine.store.content.prune_partials();
    freed += engine.collect_garbage();
    println!(
        "Total reclaimed space: {}",
        berth_engine::time::human_size(freed)
    );
    Ok(0)
}

/// `events`: the past ones from --since, then new ones as they come (until
/// --until, or Ctrl-C).
pub fn events(engine: &Engine, a: crate::cli::EventsArgs) -> Result<i32, CliError> {
    let time = |flag: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| {
                berth_engine::logs::parse_time(s).ok_or_else(|| {
                    CliError::new(1, format!("invalid value for --{flag}: {s:?}: a time (RFC 3339 or Unix) or a duration like 10m"))
                })
            })
            .transpose()
    };
    let mut filters = Vec::new();
    for f in &a.filter {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            CliError::new(
                1,
                format!("bad format of filter (expected name=value): {f}"),
            )
        })?;
        filters.push((k.to_string(), v.to_string()));
    }
    let opts = berth_engine::events::EventOptions {
        since: time("since", &a.since)?,
        until: time("until", &a.until)?,
        filters,
    };
    let json_only = matches!(a.format.as_deref(), Some("json") | Some("{{json .}}"));
    let mut out = std::io::stdout().lock();
    engine
        .events(&opts, &mut |e| {
            use std::io::Write as _;
            let line = match a.format.as_deref() {
                None => e.line(),
                Some(_) if json_only => e.json().to_string(),
                Some(t) => {
                    let v = serde_json::json!({
                        "Status": e.action, "ID": e.id, "From": e.attributes.get("image").cloned().unwrap_or_default(),
                        "Type": e.kind, "Action": e.action, "Scope": "local",
                        "Actor": {"ID": e.id, "Attributes": e.attributes},
                        "Time": e.time_nano / 1_000_000_000, "TimeNano": e.time_nano,
                    });
                    crate::format::render_one(t, &v).map_err(std::io::Error::other)?
                }
            };
            writeln!(out, "{line}")?;
            out.flush()
        })
        .map_err(fail)?;
    Ok(0)
}
