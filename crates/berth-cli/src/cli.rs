//! The command line, mirroring docker's commands, flags and aliases.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "berth",
    about = "A fast, daemonless, Docker-compatible container engine",
    version,
    disable_version_flag = true
)]
pub struct Cli {
    /// Root of the image and container store
    #[arg(
        long,
        env = "BERTH_ROOT",
        default_value = "/var/lib/berth",
        value_name = "DIR"
    )]
    pub root: PathBuf,
    /// Directory for runtime state (mounts, namespaces, sockets)
    #[arg(
        long,
        env = "BERTH_STATE_DIR",
        default_value = "/run/berth",
        value_name = "DIR"
    )]
    pub state_dir: PathBuf,
    /// Registries configuration: mirrors and insecure registries (TOML)
    #[arg(
        long,
        env = "BERTH_REGISTRIES_CONFIG",
        value_name = "FILE",
        global = true
    )]
    pub registries_config: Option<PathBuf>,
    /// The default bridge network's device (made on first use)
    #[arg(
        long,
        env = "BERTH_BRIDGE",
        default_value = "berth0",
        value_name = "NAME",
        global = true
    )]
    pub bridge: String,
    /// Subnets new networks take from: base=CIDR,size=N (repeatable; docker's defaults otherwise)
    #[arg(
        long,
        env = "BERTH_DEFAULT_ADDRESS_POOL",
        value_name = "POOL",
        global = true,
        value_delimiter = ';'
    )]
    pub default_address_pool: Vec<String>,
    /// Logging level: debug, info, warn, error, fatal
    #[arg(short = 'l', long, default_value = "info", value_name = "LEVEL")]
    pub log_level: String,
    /// Print version information and quit
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Each subcommand's flags are built only when it is the one given
/// (`defer`, here and on every subcommand enum): building all of them cost
/// every command a millisecond.
#[derive(Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(RunArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(NamesArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Pause all processes within one or more containers
    Pause(NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(NamesArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(OneArg),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// List containers
    #[command(visible_alias = "container-ls")]
    Ps(PsArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Return low-level information on containers and images
    Inspect(InspectArgs),
    /// List images
    Images(ImagesArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Manage berth
    #[command(subcommand)]
    System(SystemCommand),
    /// Get real time events from berth (recorded by every berth command)
    Events(EventsArgs),
    /// Show the berth version information
    Version(FormatArgs),
    /// Display system-wide information
    Info(FormatArgs),
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// Manage builds
    #[command(subcommand)]
    Builder(BuilderCommand),
    /// Check a Dockerfile against best practices
    Lint(LintArgs),
    /// Move what runs here to Kubernetes
    #[command(subcommand)]
    Kube(KubeCommand),
    /// Manage pods: containers that share a network (localhost), IPC and UTS namespaces
    #[command(subcommand)]
    Pod(PodCommand),
    /// Manage secrets: values given to containers at run time, never stored in images
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Scan images, offline: packages (SBOM), vulnerabilities, secrets
    #[command(subcommand)]
    Scout(ScoutCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completion { shell: clap_complete::Shell },
    /// Run Docker Compose (v2, or docker-compose 1.x) against berth
    Compose(ComposeArgs),
    /// The monitor of a detached container (started by berth itself)
    #[command(hide = true)]
    ContainerMonitor {
        id: String,
        /// Wait for a line on stdin between creating the container and starting it
        #[arg(long)]
        hold: bool,
    },
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum ImageCommand {
    /// List images
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove")]
    Rm(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Display detailed information on one or more images
    Inspect(TypedInspectArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Save one or more images to a tar archive
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// Remove unused images
    Prune(ImagePruneArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
}

#[derive(Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short, long)]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Set platform if server is multi-platform capable (e.g. linux/arm64)
    #[arg(long)]
    pub platform: Option<String>,
    /// Skip image verification (accepted for docker compatibility; content is always verified by digest)
    #[arg(long, default_value_t = true)]
    pub disable_content_trust: bool,
    /// NAME[:TAG|@DIGEST]
    pub name: String,
}

#[derive(Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short, long)]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short, long)]
    pub quiet: bool,
    /// Skip image signing (accepted for docker compatibility)
    #[arg(long, default_value_t = true)]
    pub disable_content_trust: bool,
    /// NAME[:TAG]
    pub name: String,
}

#[derive(Args, Clone)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password (insecure: it stays in your shell history; use --password-stdin)
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Registry server (default: Docker Hub)
    pub server: Option<String>,
}

#[derive(Args, Clone)]
pub struct LogoutArgs {
    /// Registry server (default: Docker Hub)
    pub server: Option<String>,
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum VolumeCommand {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(VolumeLsArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeInspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove unused local volumes (anonymous ones, or all with -a)
    Prune(VolumePruneArgs),
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum NetworkCommand {
    /// Create a network
    Create(NetworkCreateArgs),
    /// List networks
    #[command(visible_alias = "list")]
    Ls(NetworkLsArgs),
    /// Display detailed information on one or more networks
    Inspect(NetworkInspectArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(NetworkRmArgs),
    /// Remove all unused networks
    Prune(NetworkPruneArgs),
    /// Connect a container to a network
    Connect(NetworkConnectArgs),
    /// Disconnect a container from a network
    Disconnect(NetworkDisconnectArgs),
}

#[derive(Args)]
pub struct NetworkCreateArgs {
    /// Driver to manage the Network (bridge)
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long)]
    pub subnet: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long)]
    pub gateway: Vec<String>,
    /// Enable IPv6 networking
    #[arg(long)]
    pub ipv6: bool,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Enable manual container attachment
    #[arg(long)]
    pub attachable: bool,
    /// Set metadata on a network
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    pub name: String,
}

#[derive(Args)]
pub struct NetworkLsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Provide filter values (driver=, id=, label=, name=, type=custom|builtin)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args)]
pub struct NetworkInspectArgs {
    /// Format output using the given Go template
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Args)]
pub struct NetworkRmArgs {
    /// Do not error if the network does not exist
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub networks: Vec<String>,
}

#[derive(Args)]
pub struct NetworkPruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=24h", "label=env=test")
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Args)]
pub struct NetworkConnectArgs {
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long)]
    pub alias: Vec<String>,
    pub network: String,
    pub container: String,
}

#[derive(Args)]
pub struct NetworkDisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Args)]
pub struct VolumeCreateArgs {
    /// Specify volume driver name
    #[arg(short, long)]
    pub driver: Option<String>,
    /// Set metadata for a volume
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    pub opt: Vec<String>,
    /// Specify volume name
    #[arg(long = "name")]
    pub name_flag: Option<String>,
    pub name: Option<String>,
}

#[derive(Args)]
pub struct VolumeLsArgs {
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
    /// Provide filter values (dangling=true|false, label=, name=)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args)]
pub struct VolumeInspectArgs {
    /// Format output using the given Go template
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub volumes: Vec<String>,
}

#[derive(Args)]
pub struct VolumeRmArgs {
    /// Do not error when a volume does not exist
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub volumes: Vec<String>,
}

#[derive(Args)]
pub struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "label=env=test")
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum BuilderCommand {
    /// Build an image from a Dockerfile
    Build(Box<BuildArgs>),
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

#[derive(Args)]
pub struct BuilderPruneArgs {
    /// Remove all unused build cache, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=24h")
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum ContainerCommand {
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(RunArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(NamesArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Pause all processes within one or more containers
    Pause(NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(NamesArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(OneArg),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// List containers
    #[command(visible_aliases = ["ps", "list"])]
    Ls(PsArgs),
    /// Remove one or more containers
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Display detailed information on one or more containers
    Inspect(TypedInspectArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum SystemCommand {
    /// Verify every blob's digest and every reference in the store
    Check,
    /// Show disk usage
    Df(DfArgs),
    /// Remove stopped containers, unused images and the build cache
    Prune(ImagePruneArgs),
    /// Display system-wide information
    Info(FormatArgs),
    /// Get real time events from berth
    Events(EventsArgs),
    /// Serve the Docker Engine API, for docker's CLI, Compose and the SDKs
    Service(ServiceArgs),
}

#[derive(Args, Clone)]
pub struct ServiceArgs {
    /// Where to listen: unix:///PATH (default STATE_DIR/berth.sock), tcp://HOST:PORT, fd://
    #[arg(value_name = "URI")]
    pub uri: Vec<String>,
    /// More addresses to listen on, as docker's -H
    #[arg(short = 'H', long = "host", value_name = "URI")]
    pub host: Vec<String>,
    /// Seconds with nothing under way before the service exits (0: never)
    #[arg(short, long, default_value_t = 5, value_name = "SECONDS")]
    pub time: u64,
    /// Require clients to present a certificate signed by --tlscacert
    #[arg(long)]
    pub tlsverify: bool,
    /// The CA that signs client certificates
    #[arg(long, value_name = "FILE", requires = "tlsverify")]
    pub tlscacert: Option<PathBuf>,
    /// The service's certificate
    #[arg(long, value_name = "FILE", requires = "tlsverify")]
    pub tlscert: Option<PathBuf>,
    /// The service's private key
    #[arg(long, value_name = "FILE", requires = "tlsverify")]
    pub tlskey: Option<PathBuf>,
}

#[derive(Args, Clone)]
#[command(disable_help_flag = true)]
pub struct ComposeArgs {
    /// What the Compose provider takes (`up -d`, `down`, `ps`, ...)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Args, Clone, Default)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help (docker's -h is --hostname here)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Pull image before running: missing, always or never
    #[arg(long, default_value = "missing", value_parser = ["missing", "always", "never"])]
    pub pull: String,
    /// Restart policy to apply when a container exits: no, always, unless-stopped, on-failure[:max-retries]
    #[arg(long)]
    pub restart: Option<String>,
    /// Command to run to check health
    #[arg(long)]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 30s)
    #[arg(long)]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 30s)
    #[arg(long)]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy (default 3)
    #[arg(long)]
    pub health_retries: Option<u32>,
    /// Start period for the container to initialize before failures count (ms|s|m|h) (default 0s)
    #[arg(long)]
    pub health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Logging driver for the container: json-file or none
    #[arg(long)]
    pub log_driver: Option<String>,
    /// Log driver options: max-size=10m, max-file=3
    #[arg(long)]
    pub log_opt: Vec<String>,
    /// Publish a container's port(s) to the host ([IP:][HOST_PORT:]CONTAINER_PORT[/PROTO])
    #[arg(short = 'p', long)]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long)]
    pub add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long)]
    pub volumes_from: Vec<String>,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long)]
    pub attach: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Signal to stop the container (default SIGTERM, or the image's STOPSIGNAL)
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container before killing it (default 10)
    #[arg(long)]
    pub stop_timeout: Option<u32>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short, long = "env", value_name = "LIST")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Set meta data on a container
    #[arg(short, long = "label")]
    pub label: Vec<String>,
    /// Bind mount a volume
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount")]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long = "tmpfs")]
    pub tmpfs: Vec<String>,
    /// Give the container a secret: NAME, or source=NAME,target=PATH,uid=,gid=,mode=,type=mount|env
    #[arg(long = "secret")]
    pub secret: Vec<String>,
    /// Run the container in a pod (sharing its network, IPC and UTS namespaces)
    #[arg(long)]
    pub pod: Option<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    /// Connect a container to a network (bridge, host, none, container:NAME, or a user network)
    #[arg(long = "network", alias = "net")]
    pub network: Option<String>,
    /// IPv4 address (e.g., 172.30.100.104) on a user network
    #[arg(long)]
    pub ip: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long)]
    pub mac_address: Option<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Security Options
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Memory limit
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Ulimit options
    #[arg(long = "ulimit")]
    pub ulimit: Vec<String>,
    /// Add a host device to the container (/dev/x[:/dev/y][:rwm]), or a CDI device (vendor.com/class=name)
    #[arg(long)]
    pub device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list ('c 1:3 rwm')
    #[arg(long = "device-cgroup-rule")]
    pub device_cgroup_rule: Vec<String>,
    /// Limit read rate (bytes per second) from a device (/dev/sda:1mb)
    #[arg(long = "device-read-bps")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long = "device-write-bps")]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device (/dev/sda:1000)
    #[arg(long = "device-read-iops")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long = "device-write-iops")]
    pub device_write_iops: Vec<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Block IO weight (relative device weight) (/dev/sda:500)
    #[arg(long = "blkio-weight-device")]
    pub blkio_weight_device: Vec<String>,
    /// GPU devices to add to the container ('all' to pass all GPUs)
    #[arg(long)]
    pub gpus: Option<String>,
    /// Size of /dev/shm (default 64m)
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// IPC mode to use: private, shareable, none, host, container:NAME
    #[arg(long)]
    pub ipc: Option<String>,
    /// PID namespace to use: host or container:NAME
    #[arg(long)]
    pub pid: Option<String>,
    /// UTS namespace to use: host
    #[arg(long)]
    pub uts: Option<String>,
    /// User namespace to use: host
    #[arg(long)]
    pub userns: Option<String>,
    /// Cgroup namespace to use: host or private (default: private on cgroup v2, host on v1)
    #[arg(long)]
    pub cgroupns: Option<String>,
    /// Optional parent cgroup for the container
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// Sysctl options (namespaced ones: kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*)
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Add additional groups to join
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<PathBuf>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit CPU real-time period in microseconds
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<i64>,
    /// Limit CPU real-time runtime in microseconds
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long = "memory-swappiness", allow_hyphen_values = true)]
    pub memory_swappiness: Option<i64>,
    /// Kernel memory limit (deprecated: accepted and ignored)
    #[arg(long = "kernel-memory")]
    pub kernel_memory: Option<String>,
    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long = "oom-score-adj", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i64>,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub expose: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file")]
    pub label_file: Vec<PathBuf>,
    /// Add link to another container (NAME[:ALIAS])
    #[arg(long)]
    pub link: Vec<String>,
    /// Container IPv4/IPv6 link-local addresses
    #[arg(long = "link-local-ip")]
    pub link_local_ip: Vec<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long)]
    pub ip6: Option<String>,
    /// Set platform if server is multi-platform capable (linux/arm64)
    #[arg(long)]
    pub platform: Option<String>,
    /// Override the key sequence for detaching a container (ctrl-p,ctrl-q)
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Suppress the pull output
    #[arg(short, long)]
    pub quiet: bool,
    /// Runtime to use for this container (runc, the default, is berth's own)
    #[arg(long)]
    pub runtime: Option<String>,
    /// Container isolation technology (default)
    #[arg(long)]
    pub isolation: Option<String>,
    /// Storage driver options for the container (size=)
    #[arg(long = "storage-opt")]
    pub storage_opt: Vec<String>,
    /// Optional volume driver for the container (local)
    #[arg(long = "volume-driver")]
    pub volume_driver: Option<String>,
    /// Skip image verification (berth does not verify signatures: accepted)
    #[arg(long = "disable-content-trust", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub disable_content_trust: bool,
    /// Bind mount the Engine API socket and the registry credentials
    #[arg(long = "use-api-socket")]
    pub use_api_socket: bool,
    /// The image to run
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args)]
pub struct StartArgs {
    /// Override the key sequence for detaching a container (ctrl-p,ctrl-q)
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    /// Start every stopped container that --filter selects (what the boot unit runs)
    #[arg(long, conflicts_with_all = ["attach", "interactive"])]
    pub all: bool,
    /// With --all: restart-policy=always|unless-stopped|on-failure|no (repeat for several)
    #[arg(long, requires = "all")]
    pub filter: Vec<String>,
    #[arg(required_unless_present = "all")]
    pub containers: Vec<String>,
}

#[derive(Args)]
pub struct ExecArgs {
    /// Override the key sequence for detaching a container (ctrl-p,ctrl-q)
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Set environment variables
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short, long)]
    pub user: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    pub container: String,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout")]
    pub time: Option<u32>,
    /// Signal to send to the container
    #[arg(short, long)]
    pub signal: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args)]
pub struct TopArgs {
    pub container: String,
    /// Options for ps (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_options: Vec<String>,
}

#[derive(Args)]
pub struct OneArg {
    pub container: String,
}

#[derive(Args)]
pub struct UpdateArgs {
    /// Memory limit
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short, long)]
    pub cpu_shares: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Memory soft limit
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Kernel memory limit (deprecated: accepted and ignored)
    #[arg(long)]
    pub kernel_memory: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds
    #[arg(long)]
    pub cpu_rt_period: Option<i64>,
    /// Limit the CPU real-time runtime in microseconds
    #[arg(long)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json' or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

#[derive(Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container (ctrl-p,ctrl-q)
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub sig_proxy: bool,
    pub container: String,
}

#[derive(Args)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}

#[derive(Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH, or SRC_PATH (- for a tar on STDIN)
    pub source: String,
    /// DEST_PATH (- for a tar on STDOUT), or CONTAINER:DEST_PATH
    pub destination: String,
}

#[derive(Args)]
pub struct EventsArgs {
    /// Show all events created since timestamp (RFC 3339, Unix time, or a duration like 10m)
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output based on conditions provided (type=, event=, container=, image=, label=)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format the output using the given Go template, or json
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    pub container: String,
}

#[derive(Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub pause: bool,
    pub container: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

#[derive(Args)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, default_value_t = -1, allow_hyphen_values = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short, long)]
    pub latest: bool,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp or relative time
    #[arg(long)]
    pub until: Option<String>,
    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,
    pub container: String,
}

#[derive(Args)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    pub size: bool,
    /// Return JSON for specified type (container or image)
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args)]
pub struct TypedInspectArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Show only images of this repository (and tag)
    pub reference: Option<String>,
}

#[derive(Args)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

#[derive(Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    pub no_prune: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    pub image: String,
}

#[derive(Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable (the image says it is for it)
    #[arg(long)]
    pub platform: Option<String>,
    /// The tarball: a path, or - for STDIN
    pub file: String,
    /// The repository and tag for the image
    pub reference: Option<String>,
}

#[derive(Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=24h", "label=env=test", "label!=keep")
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Args)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    pub all: bool,
    /// system prune: prune anonymous volumes too
    #[arg(long, hide = true)]
    pub volumes: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. "until=24h")
    #[arg(long)]
    pub filter: Vec<String>,
}

#[derive(Args, Clone)]
pub struct BuildArgs {
    /// Name and optionally a tag (format: "name:tag")
    #[arg(short, long = "tag")]
    pub tag: Vec<String>,
    /// Name of the Dockerfile (default: PATH/Dockerfile; - for STDIN)
    #[arg(short, long)]
    pub file: Option<String>,
    /// Set the target build stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    pub build_arg: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Set metadata for an image
    #[arg(long)]
    pub label: Vec<String>,
    /// Set the networking mode for the RUN instructions during build (default, none, host)
    #[arg(long)]
    pub network: Option<String>,
    /// Type of progress output (auto, plain, tty, quiet)
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to a file
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Check for build warnings and errors (best practices) instead of building
    #[arg(long)]
    pub check: bool,
    /// Set target platform for build (only this host's platform for now)
    #[arg(long)]
    pub platform: Option<String>,
    /// Output destination (format: "type=local,dest=path", type=tar|oci|docker; or a path, - for a tar on STDOUT)
    #[arg(short, long)]
    pub output: Option<String>,
    /// Print information about the build instead of building: outline (stages and build args) or targets
    #[arg(long)]
    pub call: Option<String>,
    /// Secret to expose to the build (format: "id=mysecret[,src=/local/secret]" or "id=x,env=VAR")
    #[arg(long)]
    pub secret: Vec<String>,
    /// Always attempt to pull a newer version of the FROM images
    #[arg(long)]
    pub pull: bool,
    /// Build context: a directory, or - for a tar archive on STDIN
    pub path: String,
}

#[derive(Args)]
pub struct LintArgs {
    /// Name of the Dockerfile (default: PATH/Dockerfile)
    #[arg(short, long)]
    pub file: Option<PathBuf>,
    /// Output format: text or json
    #[arg(long, default_value = "text")]
    pub format: String,
    /// Skip a rule (repeatable; "all" skips every rule)
    #[arg(long)]
    pub ignore: Vec<String>,
    /// Turn on a rule that is off by default (FromFloatingTag)
    #[arg(long)]
    pub enable: Vec<String>,
    /// The build context
    #[arg(default_value = ".")]
    pub path: PathBuf,
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum KubeCommand {
    /// Generate Kubernetes YAML for containers or pods
    Generate {
        /// The kind of workload: pod, deployment or job
        #[arg(short = 't', long = "type", default_value = "pod")]
        kind: String,
        /// The number of replicas (a deployment's)
        #[arg(short, long)]
        replicas: Option<u32>,
        /// Also generate a Service for the published ports
        #[arg(short, long)]
        service: bool,
        /// Write the YAML to a file
        #[arg(short, long)]
        filename: Option<PathBuf>,
        /// Containers or pods
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Create pods, secrets and volumes from Kubernetes YAML
    Play {
        /// Replace what an earlier play of these files made
        #[arg(long)]
        replace: bool,
        /// Start the pods (--start=false creates them only)
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        start: bool,
        /// Connect the pods to this network instead of the play's own
        #[arg(long)]
        network: Option<String>,
        /// Publish a container's port on the host ([ip:]hostPort:containerPort), overriding the file's
        #[arg(long)]
        publish: Vec<String>,
        /// A YAML file of ConfigMaps the pods use (repeatable)
        #[arg(long)]
        configmap: Vec<String>,
        /// Build images from ./IMAGE/Containerfile or Dockerfile even when they are here (--build=false: never)
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
        build: Option<bool>,
        /// YAML files, or - for STDIN
        #[arg(required = true)]
        files: Vec<String>,
    },
    /// Remove what `kube play` made from these files
    Down {
        /// Remove the volumes (PersistentVolumeClaims) too
        #[arg(long)]
        force: bool,
        /// YAML files, or - for STDIN
        #[arg(required = true)]
        files: Vec<String>,
    },
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum PodCommand {
    /// Create a pod
    Create(PodCreateArgs),
    /// List pods
    #[command(visible_aliases = ["ps", "list"])]
    Ls {
        /// Format output using a custom template
        #[arg(long)]
        format: Option<String>,
        /// Only display pod IDs
        #[arg(short, long)]
        quiet: bool,
    },
    /// Display detailed information on one or more pods
    Inspect {
        /// Format output using a custom template
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        pods: Vec<String>,
    },
    /// Start one or more pods
    Start {
        #[arg(required = true)]
        pods: Vec<String>,
    },
    /// Stop one or more pods
    Stop {
        /// Seconds to wait before killing each container
        #[arg(short = 't', long = "time")]
        time: Option<u32>,
        #[arg(required = true)]
        pods: Vec<String>,
    },
    /// Restart one or more pods
    Restart {
        #[arg(required = true)]
        pods: Vec<String>,
    },
    /// Send a signal to the containers of one or more pods
    Kill {
        /// Signal to send
        #[arg(short, long, default_value = "KILL")]
        signal: String,
        #[arg(required = true)]
        pods: Vec<String>,
    },
    /// Remove one or more pods and their containers
    Rm {
        /// Remove them even with running containers
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        pods: Vec<String>,
    },
    /// Display the running processes of a pod's containers
    Top {
        pod: String,
        /// ps options
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
}

#[derive(Args)]
pub struct PodCreateArgs {
    /// Assign a name to the pod
    #[arg(long)]
    pub name: Option<String>,
    /// Publish a port of the pod to the host ([IP:][HOST_PORT:]CONTAINER_PORT[/PROTO])
    #[arg(short = 'p', long)]
    pub publish: Vec<String>,
    /// Connect the pod to a network
    #[arg(long)]
    pub network: Option<String>,
    /// Namespaces the pod's containers share (net, ipc, uts)
    #[arg(long, value_delimiter = ',')]
    pub share: Option<Vec<String>>,
    /// Set metadata on the pod
    #[arg(short, long)]
    pub label: Vec<String>,
    /// The pod's hostname (its name by default)
    #[arg(long)]
    pub hostname: Option<String>,
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum SecretCommand {
    /// Create a secret from a file or STDIN as content
    Create {
        /// Secret labels
        #[arg(short, long)]
        label: Vec<String>,
        /// Secret driver (file)
        #[arg(short, long)]
        driver: Option<String>,
        /// The secret's name
        name: String,
        /// A file with the value, or - for STDIN
        file: String,
    },
    /// List secrets
    #[command(visible_alias = "list")]
    Ls {
        /// Filter output based on conditions provided (id, name, label, driver)
        #[arg(short, long)]
        filter: Vec<String>,
        /// Format output using a custom template
        #[arg(long)]
        format: Option<String>,
        /// Only display IDs
        #[arg(short, long)]
        quiet: bool,
    },
    /// Display detailed information on one or more secrets (never their values)
    Inspect {
        /// Format output using a custom template
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        secrets: Vec<String>,
    },
    /// Remove one or more secrets
    #[command(visible_alias = "remove")]
    Rm {
        /// Remove it even while containers use it
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        secrets: Vec<String>,
    },
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum ScoutCommand {
    /// Display the vulnerabilities of an image's packages
    Cves(ScoutCvesArgs),
    /// Display the packages of an image (its software bill of materials)
    Sbom(ScoutSbomArgs),
    /// Display a quick overview of an image's vulnerabilities
    Quickview(ScoutImageArgs),
    /// Display the secrets an image ships (keys, tokens, passwords) without printing them
    Secrets(ScoutSecretsArgs),
    /// Manage the offline vulnerability database (OSV records)
    #[command(subcommand)]
    Db(ScoutDbCommand),
}

#[derive(Subcommand)]
#[command(defer = true)]
pub enum ScoutDbCommand {
    /// Import OSV records: osv.dev's all.zip files, directories of OSV JSON, or records
    Import {
        /// all.zip files, directories or JSON records
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Show the imported ecosystems, their record counts and newest changes
    Status,
}

#[derive(Args)]
pub struct ScoutImageArgs {
    /// A local image (NAME[:TAG], image://NAME), archive://FILE.tar or fs://DIR
    pub image: String,
}

#[derive(Args)]
pub struct ScoutCvesArgs {
    /// Output format: packages, json, sarif or markdown
    #[arg(long, default_value = "packages")]
    pub format: String,
    /// Comma-separated severities to show: critical, high, medium, low, unspecified
    #[arg(long, value_delimiter = ',')]
    pub only_severity: Vec<String>,
    /// Only vulnerabilities with a fixed version
    #[arg(long, conflicts_with = "only_unfixed")]
    pub only_fixed: bool,
    /// Only vulnerabilities without a fixed version
    #[arg(long)]
    pub only_unfixed: bool,
    /// Comma-separated package types to show: deb, apk, rpm, pypi, npm, golang, cargo, maven, binary
    #[arg(long, value_delimiter = ',')]
    pub only_package_type: Vec<String>,
    /// Exit with status 2 when vulnerabilities are reported
    #[arg(short = 'e', long)]
    pub exit_code: bool,
    /// An OpenVEX document whose not_affected statements suppress findings (repeatable)
    #[arg(long)]
    pub vex_location: Vec<PathBuf>,
    /// Write the report to a file
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub image: ScoutImageArgs,
}

#[derive(Args)]
pub struct ScoutSbomArgs {
    /// Output format: list, json, spdx or cyclonedx
    #[arg(long, default_value = "list")]
    pub format: String,
    /// Write the SBOM to a file
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub image: ScoutImageArgs,
}

#[derive(Args)]
pub struct ScoutSecretsArgs {
    /// Output format: text, json, sarif or markdown
    #[arg(long, default_value = "text")]
    pub format: String,
    /// Exit with status 2 when secrets are found
    #[arg(short = 'e', long)]
    pub exit_code: bool,
    /// Write the report to a file
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub image: ScoutImageArgs,
}

#[derive(Args)]
pub struct DfArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Args)]
pub struct FormatArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    pub format: Option<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
