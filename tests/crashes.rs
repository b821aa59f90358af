//! `kill -9` at random moments of every operation that changes the store
//! (what an OOM kill, a CI timeout or a crash does to a berth process): no
//! process of the dead berth waits on, `system check` finds the store sound,
//! and the same command then succeeds. Rounds are bounded: BERTH_CRASH_ROUNDS
//! per operation (3 by default).

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::registry::Registry;
use common::{wait_until, Env};

/// A small pseudo-random source (the test needs spread, not quality).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: Duration) -> Duration {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        n.mul_f64((self.0 >> 11) as f64 / (1u64 << 53) as f64)
    }
}

/// The processes of this store's berths other than the container monitors
/// (which belong to the containers `run -d` left running): the clones that
/// libcontainer makes share berth's binary and command line until they exec.
fn stragglers(env: &Env) -> Vec<String> {
    let root = env.root().display().to_string();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let exe = std::fs::read_link(e.path().join("exe")).unwrap_or_default();
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if exe.to_string_lossy().ends_with("/berth")
            && cmdline.contains(&root)
            && !cmdline.contains("container-monitor")
        {
            found.push(format!("{pid}: {cmdline}"));
        }
    }
    found
}

/// Runs `args` once to time it, then `rounds` times killed at a random
/// moment of that time; after each, the store is sound, no berth of it is
/// left waiting, and `args` runs to success.
fn crash(env: &Env, rng: &mut Rng, rounds: usize, args: &[&str]) {
    crash_with(env, rng, rounds, &|_| {
        args.iter().map(|a| a.to_string()).collect()
    });
}

/// [`crash`] with the arguments of each attempt made by `args` (for names
/// that must be new each time).
fn crash_with(env: &Env, rng: &mut Rng, rounds: usize, args: &dyn Fn(usize) -> Vec<String>) {
    let run = |n: usize| {
        let a = args(n);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        env.berth(&a).ok();
    };
    let started = Instant::now();
    run(0);
    let took = started.elapsed();
    for round in 1..=rounds {
        let a = args(2 * round - 1);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let mut child = env
            .cmd(&a)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(rng.below(took));
        let _ = child.kill();
        let _ = child.wait();
        wait_until(&format!("{a:?}'s processes to go"), || {
            stragglers(env).is_empty()
        });
        env.check_clean();
        run(2 * round);
    }
}

#[test]
fn kill_9_anywhere_leaves_a_sound_store() {
    let rounds: usize = std::env::var("BERTH_CRASH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3);
    let mut rng = Rng(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64);
    let env = Env::with_busybox();
    let reg = Registry::start();
    // An image of a few layers to pull, and a build that makes some.
    let ctx = env.path("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nRUN head -c 300000 /dev/urandom > /a\nRUN head -c 300000 /dev/urandom > /b\nRUN echo done > /c\n",
    )
    .unwrap();
    let ctx = ctx.to_str().unwrap();
    let remote = format!("{}/crash/layers:v1", reg.addr);
    env.berth(&["build", "-q", "-t", &remote, ctx]).ok();
    env.berth(&["push", &remote]).ok();
    let saved = env.path("saved.tar");
    env.berth(&["save", "-o", saved.to_str().unwrap(), &remote])
        .ok();
    env.berth(&["rmi", &remote]).ok();
    env.berth(&["run", "-d", "--name", "target", "busybox", "sleep", "600"])
        .ok();

    crash(&env, &mut rng, rounds, &["pull", "-q", &remote]);
    crash(&env, &mut rng, rounds, &["build", "-q", "--no-cache", ctx]);
    crash(&env, &mut rng, rounds, &["run", "--rm", "busybox", "true"]);
    crash(
        &env,
        &mut rng,
        rounds,
        &["run", "-d", "busybox", "sleep", "600"],
    );
    crash(&env, &mut rng, rounds, &["exec", "target", "true"]);
    crash(&env, &mut rng, rounds, &["commit", "target"]);
    crash(
        &env,
        &mut rng,
        rounds,
        &["load", "-q", "-i", saved.to_str().unwrap()],
    );
    crash(&env, &mut rng, rounds, &["volume", "create"]);
    crash_with(&env, &mut rng, rounds, &|n| {
        ["network", "create", &format!("crashnet{n}")]
            .map(String::from)
            .to_vec()
    });
    // rm -f of running containers, killed part way.
    for _ in 0..rounds {
        let id = env.berth(&["run", "-d", "busybox", "sleep", "600"]).ok();
        let mut child = env
            .cmd(&["rm", "-f", id.trim()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(rng.below(Duration::from_millis(60)));
        let _ = child.kill();
        let _ = child.wait();
        env.check_clean();
    }
    // Everything left, whatever state it was killed in, goes without a wait.
    let all = env.berth(&["ps", "-aq"]).ok();
    let started = Instant::now();
    let mut rm = vec!["rm", "-f"];
    rm.extend(all.split_whitespace());
    env.berth(&rm).ok();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "rm -f took {:?}",
        started.elapsed()
    );
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    // What the killed work left is garbage that prune collects.
    env.berth(&["system", "prune", "-af", "--volumes"]).ok();
    env.check_clean();
    let left = env.store_entries();
    let images = env.berth(&["images", "-q"]).ok();
    assert!(images.is_empty(), "{images}");
    assert!(left.is_empty(), "prune left {left:?}");
    let tmp: Vec<_> = std::fs::read_dir(env.root().join("tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(tmp.is_empty(), "tmp/ holds {tmp:?}");
    // Nor does the host keep a bridge of a network create that was killed:
    // prune removed every network, and with them every bridge of this store
    // but the default one.
    let owner = format!("berth {}", env.root().display());
    let mut bridges = berth_net::link::owned_by(&owner);
    bridges.retain(|b| *b != env.bridge);
    assert!(bridges.is_empty(), "bridges left on the host: {bridges:?}");
    // Nor the cgroup of a build step whose berth was killed.
    let abandoned: Vec<String> = berth_runtime::container::cgroups_below("/berth")
        .into_iter()
        .filter(|name| {
            let pid = name
                .strip_prefix("build-")
                .and_then(|r| r.split('-').next());
            pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        })
        .collect();
    assert!(
        abandoned.is_empty(),
        "cgroups of killed build steps: {abandoned:?}"
    );
}

/// A removal killed after it deleted the container's directory (and the
/// start lock in it) but before it forgot the record: rm -f finishes it.
#[test]
fn rm_finishes_a_removal_killed_after_the_directory_went() {
    let env = Env::with_busybox();
    let id = env
        .berth(&["run", "-d", "busybox", "sleep", "600"])
        .ok()
        .trim()
        .to_string();
    env.berth(&["stop", "-t", "0", &id]).ok();
    std::fs::remove_dir_all(env.root().join("containers").join(&id)).unwrap();
    env.berth(&["rm", "-f", &id]).ok();
    assert_eq!(env.berth(&["ps", "-aq"]).ok(), "");
    env.check_clean();
}
