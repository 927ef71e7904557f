//! How a store is opened.

use std::path::PathBuf;
use std::time::Duration;

/// Where the store lives and how it keeps history.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// The SQLite file (opened in WAL mode); its parent directory must exist.
    pub path: PathBuf,
    /// How often the background compactor runs.
    pub compaction_interval: Duration,
    /// The compactor always keeps at least this many of the latest revisions of history.
    pub retain_revisions: i64,
    /// Fsync every commit before acknowledging it (SQLite `synchronous=FULL`).
    pub durable: bool,
}

impl StoreOptions {
    /// Defaults modelled on kube-apiserver with kine/etcd: compact every five minutes, keep
    /// the latest 10,000 revisions (enough for paginated lists and watch reconnects that span
    /// a busy minute), durable commits.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreOptions {
            path: path.into(),
            compaction_interval: Duration::from_secs(5 * 60),
            retain_revisions: 10_000,
            durable: true,
        }
    }
}

/// Internal sizes; the defaults suit production, tests shrink them to exercise slow paths.
#[derive(Clone, Debug)]
pub struct StoreTuning {
    /// How many recent events stay in memory for watchers catching up and older-revision lists.
    pub ring_capacity: usize,
    /// The ring also stops growing past this many value bytes, because events keep the
    /// superseded versions (`prev`) alive after the map has dropped them.
    pub ring_max_bytes: usize,
    /// How many write batches a watcher may fall behind before it resyncs from history.
    pub broadcast_capacity: usize,
    /// The most writes committed in one transaction.
    pub max_batch: usize,
    /// Compaction deletes history in steps of this many revisions so writes interleave.
    pub compaction_step: i64,
}

impl Default for StoreTuning {
    fn default() -> Self {
        StoreTuning {
            ring_capacity: 8192,
            ring_max_bytes: 16 << 20,
            broadcast_capacity: 1024,
            max_batch: 1024,
            compaction_step: 10_000,
        }
    }
}
