//! Seccomp: profiles in docker's JSON format (for `--security-opt seccomp=PATH`),
//! berth's default profile (the same policy as docker's default: an allowlist,
//! with groups opened up by the capabilities a container holds), and the
//! translation to the OCI runtime spec for this architecture and capability set.

use std::collections::HashSet;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscallBuilder,
};
use serde::Deserialize;

/// A seccomp profile in docker's format.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default)]
    pub arch_map: Vec<ArchMap>,
    #[serde(default)]
    pub architectures: Vec<String>,
    #[serde(default)]
    pub syscalls: Vec<Rule>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: String,
    #[serde(default)]
    pub sub_architectures: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    #[serde(default)]
    pub includes: Filter,
    #[serde(default)]
    pub excludes: Filter,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: usize,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// When a rule applies: to these arches / when the container holds these caps.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp profile: {0}")]
    Invalid(String),
}

impl Profile {
    pub fn from_json(data: &[u8]) -> Result<Profile, SeccompError> {
        serde_json::from_slice(data).map_err(|e| SeccompError::Invalid(e.to_string()))
    }
}

/// Syscalls every container may make, whatever its capabilities.
const ALLOWED: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "getxattrat",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listmount",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "removexattrat",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "riscv_hwprobe",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "setxattrat",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statmount",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "uretprobe",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];

/// Syscalls opened by one capability each.
const BY_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "lsm_get_self_attr",
            "lsm_list_modules",
            "lsm_set_self_attr",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];

/// Namespace-creating clone flags, refused to containers without CAP_SYS_ADMIN
/// (CLONE_NEWNS | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWCGROUP).
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

fn allow(names: &[&str]) -> Rule {
    Rule {
        names: names.iter().map(|s| s.to_string()).collect(),
        action: "SCMP_ACT_ALLOW".into(),
        ..Rule::default()
    }
}

fn arg(index: usize, value: u64, op: &str) -> Arg {
    Arg {
        index,
        value,
        value_two: 0,
        op: op.into(),
    }
}

fn on_arches(mut r: Rule, arches: &[&str]) -> Rule {
    r.includes.arches = Some(arches.iter().map(|s| s.to_string()).collect());
    r
}

/// berth's default profile: docker's default policy, built in code.
pub fn default_profile() -> Profile {
    let mut rules = vec![allow(ALLOWED)];
    let mut ptrace = allow(&["process_vm_readv", "process_vm_writev", "ptrace"]);
    ptrace.includes.min_kernel = Some("4.8".into());
    rules.push(ptrace);
    // Every socket family but AF_VSOCK (40).
    for (value, op) in [(40, "SCMP_CMP_LT"), (40, "SCMP_CMP_GT")] {
        rules.push(Rule {
            args: Some(vec![arg(0, value, op)]),
            ..allow(&["socket"])
        });
    }
    // personality(2) only with the harmless personas (PER_LINUX, PER_LINUX32,
    // UNAME26, UNAME26|PER_LINUX32, and the query 0xffffffff).
    for persona in [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff] {
        rules.push(Rule {
            args: Some(vec![arg(0, persona, "SCMP_CMP_EQ")]),
            ..allow(&["personality"])
        });
    }
    rules.push(on_arches(
        allow(&["sync_file_range2", "swapcontext"]),
        &["ppc64le"],
    ));
    rules.push(on_arches(
        allow(&[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ]),
        &["arm", "arm64"],
    ));
    rules.push(on_arches(allow(&["arch_prctl"]), &["amd64", "x32"]));
    rules.push(on_arches(allow(&["modify_ldt"]), &["amd64", "x32", "x86"]));
    rules.push(on_arches(
        allow(&[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ]),
        &["s390", "s390x"],
    ));
    rules.push(on_arches(allow(&["riscv_flush_icache"]), &["riscv64"]));
    for (cap, names) in BY_CAPABILITY {
        let mut r = allow(names);
        r.includes.caps = Some(vec![cap.to_string()]);
        rules.push(r);
    }
    // Without CAP_SYS_ADMIN: clone without namespace flags; clone3 answers ENOSYS
    // so that libcs fall back to clone, where the flags can be checked.
    let sys_admin = Some(vec!["CAP_SYS_ADMIN".to_string()]);
    let mut clone = Rule {
        args: Some(vec![arg(0, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ")]),
        ..allow(&["clone"])
    };
    clone.excludes = Filter {
        caps: sys_admin.clone(),
        arches: Some(vec!["s390".into(), "s390x".into()]),
        min_kernel: None,
    };
    rules.push(clone);
    let mut clone_s390 = Rule {
        args: Some(vec![arg(1, CLONE_NAMESPACE_FLAGS, "SCMP_CMP_MASKED_EQ")]),
        ..allow(&["clone"])
    };
    clone_s390 = on_arches(clone_s390, &["s390", "s390x"]);
    clone_s390.excludes.caps = sys_admin.clone();
    rules.push(clone_s390);
    let mut clone3 = Rule {
        action: "SCMP_ACT_ERRNO".into(),
        errno_ret: Some(libc::ENOSYS as u32),
        ..allow(&["clone3"])
    };
    clone3.excludes.caps = sys_admin;
    rules.push(clone3);
    Profile {
        default_action: "SCMP_ACT_ERRNO".into(),
        default_errno_ret: Some(libc::EPERM as u32),
        arch_map: vec![
            ArchMap {
                architecture: "SCMP_ARCH_X86_64".into(),
                // docker also lists X32; x32 binaries are all but extinct, and leaving
                // the ABI out kills them instead of filtering them (stricter), while
                // saving ~4 ms of filter compilation on every container start.
                sub_architectures: Some(vec!["SCMP_ARCH_X86".into()]),
            },
            ArchMap {
                architecture: "SCMP_ARCH_AARCH64".into(),
                sub_architectures: Some(vec!["SCMP_ARCH_ARM".into()]),
            },
        ],
        architectures: vec![],
        syscalls: rules,
    }
}

/// This machine's architecture in docker's profile terms.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "x86",
        "arm" => "arm",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn native_scmp_arch() -> &'static str {
    match host_arch() {
        "amd64" => "SCMP_ARCH_X86_64",
        "arm64" => "SCMP_ARCH_AARCH64",
        "x86" => "SCMP_ARCH_X86",
        "arm" => "SCMP_ARCH_ARM",
        "s390x" => "SCMP_ARCH_S390X",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        _ => "SCMP_ARCH_NATIVE",
    }
}

fn kernel_at_least(min: &str) -> bool {
    let Ok(uts) = nix::sys::utsname::uname() else {
        return true;
    };
    let release = uts.release().to_string_lossy().into_owned();
    let parse = |s: &str| -> (u32, u32) {
        let mut it = s
            .split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .map(|p| p.parse().unwrap_or(0));
        (it.next().unwrap_or(0), it.next().unwrap_or(0))
    };
    parse(&release) >= parse(min)
}

fn parse_action(s: &str, errno: Option<u32>) -> Result<LinuxSeccompAction, SeccompError> {
    Ok(match s {
        "SCMP_ACT_ALLOW" => LinuxSeccompAction::ScmpActAllow,
        "SCMP_ACT_ERRNO" => LinuxSeccompAction::ScmpActErrno,
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => LinuxSeccompAction::ScmpActKill,
        "SCMP_ACT_KILL_PROCESS" => LinuxSeccompAction::ScmpActKillProcess,
        "SCMP_ACT_TRAP" => LinuxSeccompAction::ScmpActTrap,
        "SCMP_ACT_TRACE" => LinuxSeccompAction::ScmpActTrace,
        "SCMP_ACT_LOG" => LinuxSeccompAction::ScmpActLog,
        other => {
            return Err(SeccompError::Invalid(format!(
                "unknown action {other:?}{}",
                errno.map(|_| "").unwrap_or("")
            )))
        }
    })
}

fn parse_op(s: &str) -> Result<LinuxSeccompOperator, SeccompError> {
    Ok(match s {
        "SCMP_CMP_NE" => LinuxSeccompOperator::ScmpCmpNe,
        "SCMP_CMP_LT" => LinuxSeccompOperator::ScmpCmpLt,
        "SCMP_CMP_LE" => LinuxSeccompOperator::ScmpCmpLe,
        "SCMP_CMP_EQ" => LinuxSeccompOperator::ScmpCmpEq,
        "SCMP_CMP_GE" => LinuxSeccompOperator::ScmpCmpGe,
        "SCMP_CMP_GT" => LinuxSeccompOperator::ScmpCmpGt,
        "SCMP_CMP_MASKED_EQ" => LinuxSeccompOperator::ScmpCmpMaskedEq,
        other => return Err(SeccompError::Invalid(format!("unknown operator {other:?}"))),
    })
}

fn parse_arch(s: &str) -> Option<Arch> {
    Some(match s {
        "SCMP_ARCH_X86" => Arch::ScmpArchX86,
        "SCMP_ARCH_X86_64" => Arch::ScmpArchX86_64,
        "SCMP_ARCH_X32" => Arch::ScmpArchX32,
        "SCMP_ARCH_ARM" => Arch::ScmpArchArm,
        "SCMP_ARCH_AARCH64" => Arch::ScmpArchAarch64,
        "SCMP_ARCH_S390" => Arch::ScmpArchS390,
        "SCMP_ARCH_S390X" => Arch::ScmpArchS390x,
        "SCMP_ARCH_RISCV64" => Arch::ScmpArchRiscv64,
        "SCMP_ARCH_PPC64LE" => Arch::ScmpArchPpc64le,
        _ => return None,
    })
}

/// Translates `profile` into the OCI spec's seccomp section for a container
/// holding `caps` on this machine's architecture.
pub fn to_oci(profile: &Profile, caps: &HashSet<String>) -> Result<LinuxSeccomp, SeccompError> {
    let arch = host_arch();
    let native = native_scmp_arch();
    let mut arches: Vec<Arch> = Vec::new();
    for m in &profile.arch_map {
        if m.architecture == native {
            arches.extend(parse_arch(&m.architecture));
            for sub in m.sub_architectures.iter().flatten() {
                arches.extend(parse_arch(sub));
            }
        }
    }
    for a in &profile.architectures {
        if let Some(a) = parse_arch(a) {
            if !arches.contains(&a) {
                arches.push(a);
            }
        }
    }
    let applies = |r: &Rule| {
        let inc = &r.includes;
        let exc = &r.excludes;
        let arch_ok = inc
            .arches
            .as_ref()
            .is_none_or(|a| a.iter().any(|x| x == arch));
        let caps_ok = inc
            .caps
            .as_ref()
            .is_none_or(|c| c.iter().all(|x| caps.contains(x)));
        let kernel_ok = inc.min_kernel.as_deref().is_none_or(kernel_at_least);
        let arch_excluded = exc
            .arches
            .as_ref()
            .is_some_and(|a| a.iter().any(|x| x == arch));
        let caps_excluded = exc
            .caps
            .as_ref()
            .is_some_and(|c| c.iter().any(|x| caps.contains(x)));
        arch_ok && caps_ok && kernel_ok && !arch_excluded && !caps_excluded
    };
    let mut syscalls = Vec::new();
    for r in profile.syscalls.iter().filter(|r| applies(r)) {
        let mut names = r.names.clone();
        names.extend(r.name.clone());
        if names.is_empty() {
            continue;
        }
        let mut b = LinuxSyscallBuilder::default()
            .names(names)
            .action(parse_action(&r.action, r.errno_ret)?);
        if let Some(e) = r.errno_ret {
            b = b.errno_ret(e);
        }
        if let Some(args) = &r.args {
            let args = args
                .iter()
                .map(|a| {
                    LinuxSeccompArgBuilder::default()
                        .index(a.index)
                        .value(a.value)
                        .value_two(a.value_two)
                        .op(parse_op(&a.op)?)
                        .build()
                        .map_err(|e| SeccompError::Invalid(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            b = b.args(args);
        }
        syscalls.push(
            b.build()
                .map_err(|e| SeccompError::Invalid(e.to_string()))?,
        );
    }
    let mut b = LinuxSeccompBuilder::default()
        .default_action(parse_action(
            &profile.default_action,
            profile.default_errno_ret,
        )?)
        .architectures(arches)
        .syscalls(syscalls);
    if let Some(e) = profile.default_errno_ret {
        b = b.default_errno_ret(e);
    }
    b.build().map_err(|e| SeccompError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(s: &LinuxSeccomp, name: &str) -> bool {
        s.syscalls().iter().flatten().any(|r| {
            r.action() == LinuxSeccompAction::ScmpActAllow
                && r.names().iter().any(|n| n == name)
                && r.args().is_none()
        })
    }

    #[test]
    fn default_profile_opens_groups_by_capability() {
        let none = to_oci(&default_profile(), &HashSet::new()).unwrap();
        assert!(allowed(&none, "read"));
        assert!(!allowed(&none, "mount"));
        assert!(!allowed(&none, "clone"), "clone only with checked flags");
        let admin = to_oci(
            &default_profile(),
            &HashSet::from(["CAP_SYS_ADMIN".to_string()]),
        )
        .unwrap();
        assert!(allowed(&admin, "mount"));
        assert!(allowed(&admin, "clone"));
        assert_eq!(none.default_action(), LinuxSeccompAction::ScmpActErrno);
    }

    #[test]
    fn docker_format_profiles_load() {
        let p = Profile::from_json(br#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod"],"action":"SCMP_ACT_ERRNO"}]}"#).unwrap();
        let oci = to_oci(&p, &HashSet::new()).unwrap();
        assert_eq!(oci.default_action(), LinuxSeccompAction::ScmpActAllow);
        assert!(Profile::from_json(b"{not json").is_err());
        let bad = Profile::from_json(br#"{"defaultAction":"SCMP_ACT_NOPE"}"#).unwrap();
        assert!(to_oci(&bad, &HashSet::new()).is_err());
    }
}
