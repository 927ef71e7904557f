//! The one error type of the store.

use crate::Revision;

/// Everything a store operation can fail with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A create found the key already present.
    #[error("the key already exists")]
    AlreadyExists,
    /// An update or delete found no such key.
    #[error("the key was not found")]
    NotFound,
    /// The caller's expected revision is not the key's current one.
    #[error(
        "the object has been modified: expected revision does not match the current revision {current}"
    )]
    Conflict {
        /// The key's current `mod_revision`.
        current: Revision,
    },
    /// The requested revision is older than the compaction point.
    #[error(
        "the requested revision has been compacted (the store keeps history after revision {compacted})"
    )]
    Compacted {
        /// The store's compacted revision.
        compacted: Revision,
    },
    /// The requested revision is newer than anything the store has committed.
    #[error("the requested revision is newer than the store's current revision {current}")]
    FutureRevision {
        /// The store's latest committed revision.
        current: Revision,
    },
    /// The store has been closed.
    #[error("the store is closed")]
    Closed,
    /// SQLite or the file system failed.
    #[error("storage backend error: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Backend(err.to_string())
    }
}
