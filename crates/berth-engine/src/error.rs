//! Engine errors, each with the wording docker uses where users grep for it.

use std::path::Path;

use berth_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("No such volume: {0}")]
    NoSuchVolume(String),
    #[error("no such secret: {0}")]
    NoSuchSecret(String),
    #[error("no such pod: {0}")]
    NoSuchPod(String),
    /// The whole message: docker words it differently per command.
    #[error("{0}")]
    NoSuchNetwork(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    Conflict(String),
    /// The container's command was not found (exit 127).
    #[error("{0}")]
    CommandNotFound(String),
    /// The container's command could not be invoked (exit 126).
    #[error("{0}")]
    CommandNotInvokable(String),
    #[error("{0}")]
    Runtime(String),
    /// Content that is not what it claims (bad tar, digest mismatch, malformed JSON).
    #[error("{0}")]
    BadContent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A registry that failed (pull, push, login).
    #[error("{0}")]
    Registry(String),
    /// The registry has no such repository, tag or manifest.
    #[error("{0}")]
    RegistryNotFound(String),
    /// The registry refused the credential (401, 403).
    #[error("{0}")]
    RegistryDenied(String),
    /// Stopped by SIGINT or SIGTERM (Ctrl-C).
    #[error("canceled: interrupted")]
    Interrupted,
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl EngineError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        EngineError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        EngineError::InvalidArgument(msg.into())
    }
}

impl From<berth_runtime::RuntimeError> for EngineError {
    fn from(e: berth_runtime::RuntimeError) -> Self {
        use berth_runtime::RuntimeError as R;
        match e {
            R::NotFound(m) => EngineError::CommandNotFound(m),
            R::CannotInvoke(m) => EngineError::CommandNotInvokable(m),
            other => EngineError::Runtime(other.to_string()),
        }
    }
}

impl From<berth_image::reference::ReferenceError> for EngineError {
    fn from(e: berth_image::reference::ReferenceError) -> Self {
        EngineError::InvalidArgument(e.to_string())
    }
}

impl From<berth_store::UnpackError> for EngineError {
    fn from(e: berth_store::UnpackError) -> Self {
        match e {
            berth_store::UnpackError::Store(s) => EngineError::Store(s),
            berth_store::UnpackError::Layer(l) => {
                EngineError::BadContent(format!("invalid layer: {l}"))
            }
        }
    }
}
