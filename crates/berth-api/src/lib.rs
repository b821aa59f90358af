//! The Docker Engine API over the berth engine: `berth system service`
//! listens on a socket and maps docker's routes onto the same engine calls
//! the CLI makes, so the docker CLI, Compose and the SDKs work unchanged.
//! The only crate with an async runtime (tokio, hyper); engine calls run on
//! its blocking threads.

mod containers;
mod exec;
mod http;
mod images;
mod networks;
mod routes;
mod service;
mod state;
mod system;
mod volumes;

pub use service::{default_socket, notify_ready, Service, ServiceOptions, TlsFiles};
pub use state::EngineConfig;
