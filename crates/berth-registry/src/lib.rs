//! berth-registry: the OCI distribution-spec client. It resolves manifests,
//! streams blobs (resuming with `Range` after a dropped connection), uploads
//! blobs and manifests, and does the registry auth dance (anonymous, basic,
//! bearer tokens with scopes) with the credentials docker saved.
//!
//! It is blocking on purpose: a pull is a handful of parallel layer streams,
//! which plain threads carry with less code, memory and start-up time than an
//! async runtime would.

pub mod auth;
mod client;
pub mod config;

pub use auth::{Credential, DockerConfig};
pub use client::{BlobReader, Client, Upload, MANIFEST_ACCEPT};
pub use config::{Endpoint, RegistriesConfig};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A bad registries file, config.json or credential helper.
    #[error("{0}")]
    Config(String),
    /// The registry could not be reached (DNS, refused, TLS, timeout).
    #[error("{0}")]
    Connect(String),
    /// 401: no or wrong credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403.
    #[error("{0}")]
    Denied(String),
    /// 404: no such repository, manifest or blob.
    #[error("{0}")]
    NotFound(String),
    /// Content that is not what it claims: digest, size, media type, JSON.
    #[error("{0}")]
    BadContent(String),
    /// Any other answer the registry gave.
    #[error("{0}")]
    Server(String),
    #[error("canceled: interrupted")]
    Interrupted,
}

/// The error a blob stream returns when the operation was cancelled (Ctrl-C).
/// It is not `ErrorKind::Interrupted`, which `io::copy` would retry forever.
#[derive(Debug)]
pub struct Cancelled;

impl std::fmt::Display for Cancelled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("canceled: interrupted")
    }
}

impl std::error::Error for Cancelled {}

pub fn is_cancelled(e: &std::io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<Cancelled>())
}
