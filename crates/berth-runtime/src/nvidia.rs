//! NVIDIA GPUs without a CDI spec: where the driver is loaded but nobody ran
//! `nvidia-ctk cdi generate`, berth finds what that generator would — the
//! GPUs' device nodes, the driver's control nodes, its libraries and tools —
//! and gives them to the container the same way.

use std::path::{Path, PathBuf};

use crate::cdi::Applied;
use crate::spec::MountSpec;

/// Which GPUs a request wants.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    All,
    Count(usize),
    /// Indexes (`0`, `1`) as `--gpus device=0,1` names them.
    Ids(Vec<String>),
}

/// The GPU device nodes of the loaded driver (`/dev/nvidia0`, ...), by index.
pub fn gpus() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(u32, PathBuf)> = std::fs::read_dir("/dev")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n: u32 = name.strip_prefix("nvidia")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(n, p)| (n.to_string(), p)).collect()
}

/// Whether an NVIDIA driver is loaded here.
pub fn driver_present() -> bool {
    Path::new("/dev/nvidiactl").exists()
}

const CONTROL: &[&str] = &[
    "/dev/nvidiactl",
    "/dev/nvidia-uvm",
    "/dev/nvidia-uvm-tools",
    "/dev/nvidia-modeset",
];

const TOOLS: &[&str] = &[
    "nvidia-smi",
    "nvidia-debugdump",
    "nvidia-persistenced",
    "nvidia-cuda-mps-control",
    "nvidia-cuda-mps-server",
];

/// The driver's user-space libraries the dynamic linker knows (`ldconfig -p`).
fn driver_libraries() -> Vec<PathBuf> {
    let Ok(out) = std::process::Command::new("ldconfig").arg("-p").output() else {
        return Vec::new();
    };
    libraries_in(&String::from_utf8_lossy(&out.stdout))
}

/// The driver's libraries in `ldconfig -p`'s listing, for this machine's
/// architecture.
fn libraries_in(listing: &str) -> Vec<PathBuf> {
    let mut libs: Vec<PathBuf> = listing
        .lines()
        .filter_map(|l| {
            let (name, path) = l.trim().split_once(" => ")?;
            let name = name.split_whitespace().next()?;
            let ours = name.starts_with("libcuda")
                || name.starts_with("libnvidia-")
                || name.starts_with("libnvcuvid")
                || name.starts_with("libnvoptix");
            (ours && l.contains("x86-64") == cfg!(target_arch = "x86_64"))
                .then(|| PathBuf::from(path))
        })
        .collect();
    libs.sort();
    libs.dedup();
    libs
}

fn tools() -> Vec<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into());
    TOOLS
        .iter()
        .filter_map(|t| {
            std::env::split_paths(&path)
                .map(|d| d.join(t))
                .find(|p| p.is_file())
        })
        .collect()
}

/// What the container gets for `wanted`, and a line saying what was found;
/// None without a driver. An index that is not here is an error.
pub fn discover(wanted: &Selection) -> Result<Option<(Applied, String)>, String> {
    if !driver_present() {
        return Ok(None);
    }
    let chosen = choose(&gpus(), wanted)?;
    let mut applied = Applied::default();
    for (_, node) in &chosen {
        let p = node.to_string_lossy();
        applied
            .nodes
            .extend(crate::devices::nodes_of(&p, &p, "rwm")?);
    }
    for c in CONTROL.iter().filter(|c| Path::new(c).exists()) {
        applied.nodes.extend(crate::devices::nodes_of(c, c, "rwm")?);
    }
    let libs = driver_libraries();
    let tools = tools();
    for f in libs.iter().chain(&tools) {
        applied.mounts.push(MountSpec::Bind {
            source: f.clone(),
            destination: f.to_string_lossy().into_owned(),
            read_only: true,
        });
    }
    let ids: Vec<&str> = chosen.iter().map(|(n, _)| n.as_str()).collect();
    applied
        .env
        .push(format!("NVIDIA_VISIBLE_DEVICES={}", ids.join(",")));
    let said = format!(
        "no CDI spec names nvidia.com/gpu devices (nvidia-ctk cdi generate writes one); using the NVIDIA driver found here: {} GPU(s), {} driver libraries, {}",
        chosen.len(),
        libs.len(),
        if tools.is_empty() {
            "no tools".to_string()
        } else {
            tools
                .iter()
                .filter_map(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    Ok(Some((applied, said)))
}

/// The GPUs of `all` (index, node) that `wanted` names.
fn choose(all: &[(String, PathBuf)], wanted: &Selection) -> Result<Vec<(String, PathBuf)>, String> {
    Ok(match wanted {
        Selection::All => all.to_vec(),
        Selection::Count(n) => {
            if *n > all.len() {
                return Err(format!(
                    "{n} GPUs asked for, {} found on this host",
                    all.len()
                ));
            }
            all[..*n].to_vec()
        }
        Selection::Ids(ids) => ids
            .iter()
            .map(|id| {
                all.iter()
                    .find(|(n, _)| n == id)
                    .cloned()
                    .ok_or_else(|| format!("no GPU {id} on this host (found {})", all.len()))
            })
            .collect::<Result<_, _>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_pick_gpus_by_count_and_index() {
        let all: Vec<(String, PathBuf)> = (0..3)
            .map(|n| (n.to_string(), PathBuf::from(format!("/dev/nvidia{n}"))))
            .collect();
        assert_eq!(choose(&all, &Selection::All).unwrap().len(), 3);
        assert_eq!(choose(&all, &Selection::Count(2)).unwrap()[1].0, "1");
        let ids = Selection::Ids(vec!["2".into(), "0".into()]);
        let picked: Vec<String> = choose(&all, &ids)
            .unwrap()
            .into_iter()
            .map(|g| g.0)
            .collect();
        assert_eq!(picked, ["2", "0"]);
        let e = choose(&all, &Selection::Count(4)).unwrap_err();
        assert_eq!(e, "4 GPUs asked for, 3 found on this host");
        let e = choose(&all, &Selection::Ids(vec!["7".into()])).unwrap_err();
        assert!(e.contains("no GPU 7"), "{e}");
    }

    #[test]
    fn driver_libraries_come_from_the_linker_cache() {
        let listing = "1234 libs found in cache `/etc/ld.so.cache'
\tlibnvidia-ml.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1
\tlibcuda.so.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcuda.so.1
\tlibcuda.so.1 (libc6) => /usr/lib/i386-linux-gnu/libcuda.so.1
\tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6
\tlibnvcuvid.so.1 (libc6,AArch64) => /usr/lib/aarch64-linux-gnu/libnvcuvid.so.1
";
        let libs = libraries_in(listing);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(
                libs,
                [
                    PathBuf::from("/usr/lib/x86_64-linux-gnu/libcuda.so.1"),
                    PathBuf::from("/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"),
                ]
            );
        } else {
            assert!(libs.iter().all(|l| !l.to_string_lossy().contains("x86_64")));
        }
    }
}
