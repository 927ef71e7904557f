//! The single writer thread and its group commit.
//!
//! Callers queue writes on a channel. The writer takes everything queued (up to a batch
//! limit), validates and applies each write inside one SQLite transaction, commits once (one
//! fsync for the whole batch), then publishes the batch to memory and watchers, and only then
//! answers the callers, so an acknowledged write is always durable and visible.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::{Connection, Transaction};
use tokio::sync::oneshot;

use crate::shared::Shared;
use crate::sqlite::{self, KIND_CREATED, KIND_DELETED, KIND_UPDATED};
use crate::{Event, EventType, KeyValue, Revision, StoreError};

/// The longest the writer waits for stragglers of a group commit.
const GATHER_WAIT: Duration = Duration::from_micros(500);

/// Builds a created value from its revision.
pub type CreateFn = Box<dyn FnOnce(Revision) -> Vec<u8> + Send>;
/// Builds an updated value from the current version and the new revision, or aborts.
pub type UpdateFn = Box<dyn FnOnce(&KeyValue, Revision) -> Result<Vec<u8>, StoreError> + Send>;
/// Builds the final value of a deleted key from its last version and the delete revision.
pub type DeleteFn = Box<dyn FnOnce(&KeyValue, Revision) -> Vec<u8> + Send>;

/// One kind of write.
pub(crate) enum WriteOp {
    Create(CreateFn),
    Update(Option<Revision>, UpdateFn),
    Delete(Option<Revision>, DeleteFn),
}

/// A queued write and where to send its outcome.
pub(crate) struct WriteRequest {
    pub key: Arc<str>,
    pub op: WriteOp,
    pub reply: oneshot::Sender<Result<KeyValue, StoreError>>,
}

/// What the writer thread can be asked to do.
pub(crate) enum Command {
    Write(WriteRequest),
    Compact {
        to: Revision,
        reply: mpsc::Sender<Result<(), StoreError>>,
    },
    /// Re-store stale values of rows after `after` (see `sqlite::rewrite_stale`).
    Rewrite {
        after: Revision,
        limit: usize,
        reply: mpsc::Sender<Result<(Option<Revision>, usize), StoreError>>,
    },
    Shutdown,
}

/// Owns the write connection; runs on its own thread.
pub(crate) struct Writer {
    conn: Connection,
    shared: Arc<Shared>,
    commands: mpsc::Receiver<Command>,
    max_batch: usize,
}

type Reply = (
    oneshot::Sender<Result<KeyValue, StoreError>>,
    Result<KeyValue, StoreError>,
);

impl Writer {
    /// A writer over an open connection whose schema exists.
    pub fn new(
        conn: Connection,
        shared: Arc<Shared>,
        commands: mpsc::Receiver<Command>,
        max_batch: usize,
    ) -> Self {
        Writer {
            conn,
            shared,
            commands,
            max_batch: max_batch.max(1),
        }
    }

    /// Serves commands until shutdown or until every sender is gone.
    pub fn run(mut self) {
        let mut last_batch = 1;
        while let Ok(first) = self.commands.recv() {
            let mut commands = vec![first];
            while commands.len() < self.max_batch {
                match self.commands.try_recv() {
                    Ok(cmd) => commands.push(cmd),
                    Err(_) => break,
                }
            }
            // Callers answered by the previous commit are still resubmitting; committing the
            // first arrival alone would make the rest wait a whole fsync. Give them a moment,
            // bounded well below an fsync, to join this batch.
            let deadline = Instant::now() + GATHER_WAIT;
            while commands.len() < last_batch.min(self.max_batch) {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.commands.recv_timeout(left) {
                    Ok(cmd) => commands.push(cmd),
                    Err(_) => break,
                }
            }
            last_batch = commands.len();
            let mut writes = Vec::with_capacity(commands.len());
            for cmd in commands {
                match cmd {
                    Command::Write(w) => writes.push(w),
                    Command::Compact { to, reply } => {
                        self.commit_group(std::mem::take(&mut writes));
                        let _ = reply.send(self.compact(to));
                    }
                    Command::Rewrite {
                        after,
                        limit,
                        reply,
                    } => {
                        self.commit_group(std::mem::take(&mut writes));
                        let codec = self.shared.codec.clone();
                        let result = sqlite::rewrite_stale(&mut self.conn, &codec, after, limit);
                        if matches!(result, Ok((None, _))) {
                            self.truncate_wal();
                        }
                        let _ = reply.send(result);
                    }
                    Command::Shutdown => {
                        // Queued writes are answered `Closed` (the flag is already set);
                        // anything behind the shutdown is dropped, which also reads as closed.
                        self.commit_group(writes);
                        return;
                    }
                }
            }
            self.commit_group(writes);
        }
    }

    fn commit_group(&mut self, writes: Vec<WriteRequest>) {
        if writes.is_empty() {
            return;
        }
        if self.shared.closed.load(Ordering::Acquire) {
            for w in writes {
                let _ = w.reply.send(Err(StoreError::Closed));
            }
            return;
        }
        let mut replies: Vec<Reply> = Vec::with_capacity(writes.len());
        let mut events = Vec::with_capacity(writes.len());
        let outcome = self.write_group(writes, &mut replies, &mut events);
        match outcome {
            Ok(()) => {
                if !events.is_empty() {
                    self.shared.write_state().apply(events);
                }
                for (reply, result) in replies {
                    let _ = reply.send(result);
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "store commit failed; the whole batch is rejected");
                for (reply, _) in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }

    /// Applies each write in one transaction and commits. A write that fails validation gets
    /// its error and takes no revision; a backend failure aborts the whole group.
    fn write_group(
        &mut self,
        writes: Vec<WriteRequest>,
        replies: &mut Vec<Reply>,
        events: &mut Vec<Event>,
    ) -> Result<(), StoreError> {
        let mut next = self.shared.read_state().revision + 1;
        let tx = self.conn.transaction()?;
        // Writes earlier in the batch are not in the shared map yet.
        let mut overlay: HashMap<Arc<str>, Option<KeyValue>> = HashMap::new();
        for w in writes {
            let current = match overlay.get(&w.key) {
                Some(v) => v.clone(),
                None => self.shared.read_state().map.get(&*w.key).cloned(),
            };
            match apply_op(&tx, &self.shared.codec, &w.key, w.op, current, next) {
                Ok(Ok(event)) => {
                    next += 1;
                    let after = match event.kind {
                        EventType::Deleted => None,
                        _ => Some(event.kv.clone()),
                    };
                    overlay.insert(event.kv.key.clone(), after);
                    replies.push((w.reply, Ok(event.kv.clone())));
                    events.push(event);
                }
                Ok(Err(rejected)) => replies.push((w.reply, Err(rejected))),
                Err(backend) => {
                    replies.push((w.reply, Err(backend.clone())));
                    return Err(backend);
                }
            }
        }
        let committing = Instant::now();
        tx.commit()?;
        self.shared.commit_latency.record(committing.elapsed());
        self.shared.commits.fetch_add(1, Ordering::Relaxed);
        let written = events.len() as u64;
        self.shared
            .committed_writes
            .fetch_add(written, Ordering::Relaxed);
        Ok(())
    }

    /// After a rewrite the WAL still holds earlier images of the rewritten pages (old
    /// ciphertext, or plaintext); truncate it (when no reader pins it, else it is reused).
    fn truncate_wal(&self) {
        if let Err(err) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        {
            tracing::warn!(error = %err, "truncating the store's WAL after a rewrite failed");
        }
    }

    fn compact(&mut self, to: Revision) -> Result<(), StoreError> {
        let (from, current) = {
            let state = self.shared.read_state();
            (state.compacted, state.revision)
        };
        let to = to.min(current);
        if to <= from {
            return Ok(());
        }
        sqlite::compact_range(&mut self.conn, from, to)?;
        let mut state = self.shared.write_state();
        state.compacted = state.compacted.max(to);
        Ok(())
    }
}

/// Turns a caller's buffer into the shared bytes kept by the map, the ring and events.
/// Serializers over-allocate and `Bytes` would keep that slack alive for the object's whole
/// life, so it is trimmed first.
fn into_shared(mut value: Vec<u8>) -> Bytes {
    if value.capacity() > value.len() {
        value.shrink_to_fit();
    }
    Bytes::from(value)
}

/// Runs a caller's value function, turning a panic into an error instead of killing the
/// writer thread.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, StoreError> {
    catch_unwind(AssertUnwindSafe(f))
        .map_err(|_| StoreError::Backend("the value function of this write panicked".into()))
}

/// Validates one write against `current` and appends its row. The outer error aborts the
/// batch (SQLite failed); the inner one rejects only this write.
fn apply_op(
    tx: &Transaction<'_>,
    codec: &crate::transform::Codec,
    key: &Arc<str>,
    op: WriteOp,
    current: Option<KeyValue>,
    rev: Revision,
) -> Result<Result<Event, StoreError>, StoreError> {
    let check = |expected: Option<Revision>| -> Result<KeyValue, StoreError> {
        let cur = current.clone().ok_or(StoreError::NotFound)?;
        match expected {
            Some(want) if want != cur.mod_revision => Err(StoreError::Conflict {
                current: cur.mod_revision,
            }),
            _ => Ok(cur),
        }
    };
    match op {
        WriteOp::Create(make) => {
            if current.is_some() {
                return Ok(Err(StoreError::AlreadyExists));
            }
            let value = match guarded(|| make(rev)) {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            sqlite::insert_row(tx, codec, rev, key, KIND_CREATED, rev, 0, &value)?;
            Ok(Ok(Event {
                kind: EventType::Created,
                kv: KeyValue {
                    key: key.clone(),
                    value: into_shared(value),
                    create_revision: rev,
                    mod_revision: rev,
                },
                prev: None,
            }))
        }
        WriteOp::Update(expected, make) => {
            let cur = match check(expected) {
                Ok(cur) => cur,
                Err(e) => return Ok(Err(e)),
            };
            let value = match guarded(|| make(&cur, rev)) {
                Ok(Ok(v)) => v,
                Ok(Err(e)) | Err(e) => return Ok(Err(e)),
            };
            let (create, prev) = (cur.create_revision, cur.mod_revision);
            sqlite::insert_row(tx, codec, rev, key, KIND_UPDATED, create, prev, &value)?;
            Ok(Ok(Event {
                kind: EventType::Updated,
                kv: KeyValue {
                    key: cur.key.clone(),
                    value: into_shared(value),
                    create_revision: create,
                    mod_revision: rev,
                },
                prev: Some(cur),
            }))
        }
        WriteOp::Delete(expected, make) => {
            let cur = match check(expected) {
                Ok(cur) => cur,
                Err(e) => return Ok(Err(e)),
            };
            let value = match guarded(|| make(&cur, rev)) {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            let (create, prev) = (cur.create_revision, cur.mod_revision);
            sqlite::insert_row(tx, codec, rev, key, KIND_DELETED, create, prev, &value)?;
            Ok(Ok(Event {
                kind: EventType::Deleted,
                kv: KeyValue {
                    key: cur.key.clone(),
                    value: into_shared(value),
                    create_revision: create,
                    mod_revision: rev,
                },
                prev: Some(cur),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::into_shared;

    #[test]
    fn shared_bytes_drop_spare_capacity() {
        let mut v = Vec::with_capacity(4096);
        v.extend_from_slice(b"abc");
        let b = into_shared(v);
        assert_eq!(&b[..], b"abc");
        // A promotable exact-size buffer: converting back is free only when no slack was kept.
        assert_eq!(Vec::from(b).capacity(), 3);
    }
}
