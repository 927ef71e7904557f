//! State shared by the store handle, the writer thread and watchers.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rusqlite::Connection;

use crate::state::State;

/// The parts every thread needs.
pub(crate) struct Shared {
    /// Latest state, ring and broadcast.
    pub state: RwLock<State>,
    /// The connection that serves history reads (older lists, watch catch-up).
    pub reader: Mutex<Connection>,
    /// Set by `close`; the writer answers everything after it with `Closed`.
    pub closed: AtomicBool,
    /// Transactions committed by the writer.
    pub commits: AtomicU64,
    /// Writes those transactions held (the group-commit batch size is writes / commits).
    pub committed_writes: AtomicU64,
    /// How long each transaction's commit took.
    pub commit_latency: crate::latency::LatencyHistogram,
    /// How values are stored in the file (e.g. encrypted).
    pub codec: crate::transform::Codec,
}

// A panic while a lock is held cannot leave `State` half-updated in a way readers could
// misuse (the writer mutates it only after a commit, in non-panicking code), so poisoning is
// ignored rather than turned into a panic of every later caller.
impl Shared {
    /// Locks the state for reading.
    pub fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the state for writing (writer thread and close only).
    pub fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the history reader connection.
    pub fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|e| e.into_inner())
    }
}
