//! berth-net: container networking. For now, published ports: `-p` specs
//! parsed as docker takes them, and a forwarder that listens on the host and
//! carries each connection into the container's network namespace with
//! splice(2), so a container needs no bridge or NAT rule to be reachable.

mod forward;
mod publish;

pub use forward::Forwarder;
pub use publish::{parse_publish, PortSpec};
