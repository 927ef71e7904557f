//! The platform's error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the platform failed to start or an operation against the host cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// A Kubernetes API call failed.
    #[error("host cluster: {0}")]
    Kube(#[from] kube::Error),
    /// A host cluster call did not answer in time.
    #[error("host cluster did not answer {what} within {secs} s")]
    Timeout {
        /// The operation.
        what: String,
        /// The limit.
        secs: u64,
    },
    /// The data dir could not be written.
    #[error("data dir {path}: {source}")]
    DataDir {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// What went wrong.
        source: std::io::Error,
    },
    /// An object did not have the expected shape.
    #[error("invalid object: {0}")]
    Invalid(String),
    /// A repository or registry the platform fetched from failed, or what it sent failed its
    /// checks (the message says which).
    #[error("{0}")]
    Upstream(String),
    /// A password could not be hashed.
    #[error(transparent)]
    Hash(#[from] crate::password::HashError),
    /// A token could not be signed.
    #[error("token signing: {0}")]
    Jwt(#[from] jsonwebtoken::errors::Error),
}
