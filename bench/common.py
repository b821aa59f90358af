"""Shared helpers for the whole-process benchmarks in bench/: building the
release binary, a private berth root, the busybox image, timing, docker."""
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Debian's docker.io client matches its engine and has BuildKit built in; a
# newer client elsewhere on PATH may need the buildx plugin.
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"


def timed(cmd, cwd=None, stdin=None):
    """Wall seconds and the child's peak RSS in kB; exits on failure."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, stdin=stdin)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss


def series(cmd, runs, warmup=3, before=None):
    """Median, p90 and peak RSS over `runs` runs (after `warmup`); `before` runs untimed ahead of each."""
    samples = []
    for i in range(warmup + runs):
        if before:
            before()
        sample = timed(cmd)
        if i >= warmup:
            samples.append(sample)
    times = sorted(t for t, _ in samples)
    return statistics.median(times), times[max(0, int(len(times) * 0.9) - 1)], max(m for _, m in samples)


def berth_binary():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "berth-cli"], cwd=REPO, check=True)
    return os.path.join(REPO, "target", "release", "berth")


def busybox_tar(dest):
    """A busybox root filesystem tarball from Debian's busybox-static."""
    bb = shutil.which("busybox") or "/bin/busybox"
    root = os.path.join(dest, "rootfs")
    tar = os.path.join(dest, "bb.tar")
    subprocess.run(["sh", "-c", f"mkdir -p {root}/bin {root}/etc {root}/tmp && cp {bb} {root}/bin/busybox && "
                    f"for a in $({bb} --list); do [ $a = busybox ] || ln -sf busybox {root}/bin/$a; done && "
                    f"echo 'root:x:0:0:root:/root:/bin/sh' > {root}/etc/passwd && "
                    f"echo 'nobody:x:65534:65534:nobody:/:/bin/false' >> {root}/etc/passwd && "
                    f"printf 'root:x:0:\\nnogroup:x:65534:\\n' > {root}/etc/group && tar -C {root} -cf {tar} ."],
                   check=True, stdout=subprocess.DEVNULL)
    return tar


class Workspace:
    """A private berth root with the busybox image, removed on exit."""

    def __enter__(self):
        self.berth = berth_binary()
        self.dir = tempfile.mkdtemp(prefix="berth-bench-")
        self.tar = busybox_tar(self.dir)
        # A default bridge of its own, taken off the host on exit.
        self.bridge = f"bb-{os.getpid()}"[:15]
        self.base = [self.berth, "--root", os.path.join(self.dir, "root"), "--state-dir", os.path.join(self.dir, "state"),
                     "--bridge", self.bridge]
        subprocess.run(self.base + ["import", self.tar, "busybox"], check=True, stdout=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        ids = subprocess.run(self.base + ["ps", "-aq"], capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run(self.base + ["rm", "-f"] + ids, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        remove_bridge(self.bridge)
        subprocess.run(["sh", "-c", f"grep -o ' {self.dir}[^ ]*' /proc/self/mounts | xargs -r -n1 umount -l"], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


def remove_bridge(name):
    """Deletes a bridge and every berth iptables rule that names it."""
    for table, chain in [("filter", "BERTH-FORWARD"), ("filter", "BERTH-ISOLATION"), ("nat", "BERTH-POSTROUTING")]:
        rules = subprocess.run(["iptables", "-t", table, "-S", chain], capture_output=True, text=True).stdout
        for line in rules.splitlines():
            if line.startswith("-A ") and name in line.split():
                subprocess.run(["iptables", "-t", table, "-D"] + shlex.split(line)[1:], stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "link", "del", name], stderr=subprocess.DEVNULL)


def machine():
    return f"machine: {os.cpu_count()} cores, kernel {os.uname().release}"


def docker_version():
    """The docker engine's version, or None when none answers."""
    out = subprocess.run([DOCKER, "version", "-f", "{{.Server.Version}}"], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRegistry:
    """Debian's docker-registry on 127.0.0.1 with a temporary root."""

    def __enter__(self):
        import urllib.request
        self.dir = tempfile.mkdtemp(prefix="berth-bench-registry-")
        port = free_port()
        self.addr = f"127.0.0.1:{port}"
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {self.dir}/data\n"
                    f"http:\n  addr: {self.addr}\nlog:\n  level: error\n")
        self.proc = subprocess.Popen(["docker-registry", "serve", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://{self.addr}/v2/", timeout=1)
                return self
            except OSError:
                time.sleep(0.05)
        sys.exit("docker-registry did not start")

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
