//! A revisioned, watchable key-value store on SQLite — the kine idea, embedded.
//!
//! The embedded Kubernetes API server sits on this store the way kube-apiserver sits on
//! etcd. Every write gets the next global revision; the latest state lives in memory so
//! `get`/`list` never touch SQLite; SQLite keeps a durable log of revisions (one row per
//! write) that serves crash recovery, lists at older revisions and watch catch-up.
//!
//! Start at [`Store::open`]. Writes ([`Store::create`], [`Store::update`],
//! [`Store::delete`]) are group-committed by one writer thread and acknowledged only once
//! durable; reads are [`Store::get`], [`Store::list`] and [`Store::count`]; [`Store::watch`]
//! returns a [`Watcher`] that replays history after a revision and then follows live writes.
//!
//! Invariants: revisions are contiguous and strictly increasing across restarts; a watcher
//! never skips or reorders an event (it reports `Compacted` instead); a list at revision R
//! returns exactly the state at R.

mod error;
mod latency;
mod options;
mod shared;
mod sqlite;
mod state;
mod store;
mod transform;
mod watch;
mod writer;

pub mod backup;

use std::sync::Arc;

use bytes::Bytes;

pub use error::StoreError;
pub use latency::Latencies;
pub use options::{StoreOptions, StoreTuning};
pub use sqlite::FORMAT_VERSION;
pub use store::{Store, StoreStats};
pub use transform::{Decoded, ENCRYPTED_PREFIX, ValueTransformer, describe_envelope};
pub use watch::Watcher;
pub use writer::{CreateFn, DeleteFn, UpdateFn};

/// A position in the store's history; 0 is the empty store, the first write is 1.
pub type Revision = i64;

/// One version of one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The key, e.g. `/registry/configmaps/default/foo`.
    pub key: Arc<str>,
    /// The value's bytes, shared (not copied) between the store, history and events.
    pub value: Bytes,
    /// The revision at which the key was (last) created.
    pub create_revision: Revision,
    /// The revision of the write that produced this version.
    pub mod_revision: Revision,
}

/// What a write did to its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// The key did not exist before.
    Created,
    /// The key existed and got a new value.
    Updated,
    /// The key was removed.
    Deleted,
}

/// One committed write as watchers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventType,
    /// The new version; for `Deleted`, the final value given at delete with `mod_revision`
    /// the delete's revision.
    pub kv: KeyValue,
    /// The version this write replaced (`None` for `Created`).
    pub prev: Option<KeyValue>,
}

/// A page of a list.
#[derive(Clone, Debug)]
pub struct ListResult {
    /// The items, in key order.
    pub items: Vec<KeyValue>,
    /// The revision the list was taken at.
    pub revision: Revision,
    /// How many items with the prefix follow the last returned one (remainingItemCount).
    pub remaining: usize,
}

#[cfg(test)]
mod tests {
    /// The API server shares the store across tasks and moves watchers into them.
    #[test]
    fn handles_cross_threads() {
        fn shared<T: Send + Sync>() {}
        fn movable<T: Send>() {}
        shared::<crate::Store>();
        shared::<std::sync::Arc<crate::Store>>();
        movable::<crate::Watcher>();
        movable::<crate::Event>();
    }
}
