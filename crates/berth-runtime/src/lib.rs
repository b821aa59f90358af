//! One container on this host.
//!
//! [`spec`] turns a [`ContainerSpec`] (what the engine decided from the image
//! config, the run options and docker's defaults) into an OCI runtime spec;
//! [`container`] drives libcontainer through create, start, wait, kill and
//! delete. The kernel concerns each have a module: capabilities, seccomp,
//! network namespaces, terminals.

pub mod caps;
pub mod cdi;
pub mod cgroups;
pub mod container;
pub mod devices;
pub mod executor;
pub mod netns;
pub mod nvidia;
pub mod seccomp;
pub mod spec;
pub mod stats;
pub mod tty;
pub mod user;

pub use container::{Created, RuntimeError};
pub use spec::{
    Blkio, ContainerSpec, DeviceNode, DeviceRule, Hook, Join, MountSpec, Namespaces, Resources,
    Rlimit, Shm,
};

/// Spec types that callers need to name.
pub mod spec_types {
    pub use oci_spec::runtime::LinuxSeccomp;
}
