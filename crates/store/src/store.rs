//! The store handle: opening, the write API, reads, watch, compaction and close.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tokio::sync::{broadcast, oneshot};

use crate::shared::Shared;
use crate::sqlite;
use crate::state::State;
use crate::transform::{Codec, ValueTransformer};
use crate::watch::Watcher;
use crate::writer::{Command, CreateFn, DeleteFn, UpdateFn, WriteOp, WriteRequest, Writer};
use crate::{KeyValue, ListResult, Revision, StoreError, StoreOptions, StoreTuning};

/// Wakes the background threads early when the store closes.
#[derive(Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    /// Sleeps for `timeout` or until stopped; true if stopped.
    fn wait(&self, timeout: Duration) -> bool {
        let guard = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, timeout, |stopped| !*stopped)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

/// Rows a re-encryption step looks at before the writer serves queued writes again.
const REWRITE_STEP: usize = 2_000;

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

/// Write counters since open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Transactions committed (each one fsync when durable).
    pub commits: u64,
    /// Successful writes in those transactions.
    pub writes: u64,
}

/// A revisioned, watchable key-value store; share it as `Arc<Store>`.
pub struct Store {
    shared: Arc<Shared>,
    commands: mpsc::Sender<Command>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Held from open until close so a second store cannot write the same file.
    file_lock: Mutex<Option<std::fs::File>>,
    stop: Arc<StopSignal>,
    compaction_step: i64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("revision", &self.revision())
            .field("compacted", &self.compacted_revision())
            .finish()
    }
}

impl Store {
    /// Opens (or creates) the store file and loads the latest state into memory.
    pub fn open(opts: StoreOptions) -> Result<Arc<Store>, StoreError> {
        Self::open_tuned(opts, StoreTuning::default())
    }

    /// Like `open`, with non-default internal sizes.
    pub fn open_tuned(opts: StoreOptions, tuning: StoreTuning) -> Result<Arc<Store>, StoreError> {
        Self::open_with(opts, tuning, None)
    }

    /// Like `open_tuned`, with values of the keys `transformer` covers transformed (e.g.
    /// encrypted) in the file. Values encrypted earlier are decrypted whether or not their
    /// key is still covered; one the transformer cannot decrypt fails the open.
    pub fn open_with(
        opts: StoreOptions,
        tuning: StoreTuning,
        transformer: Option<Arc<dyn ValueTransformer>>,
    ) -> Result<Arc<Store>, StoreError> {
        let codec = Codec(transformer);
        let file_lock = lock_store_file(&opts.path)?;
        let mut write_conn = sqlite::open_connection(&opts.path, opts.durable)?;
        sqlite::migrate(&mut write_conn, &opts.path)?;
        write_conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        if codec.is_active() {
            // What a re-encryption or compaction replaces is zeroed, not left in free space.
            write_conn.pragma_update(None, "secure_delete", true)?;
        }
        let checkpoint_conn = sqlite::open_connection(&opts.path, opts.durable)?;
        let loaded = sqlite::load(&write_conn, &codec)?;
        let read_conn = sqlite::open_connection(&opts.path, opts.durable)?;
        read_conn.pragma_update(None, "query_only", true)?;

        let (sender, _) = broadcast::channel(tuning.broadcast_capacity.max(1));
        let state = State {
            map: loaded.map,
            revision: loaded.revision,
            compacted: loaded.compacted,
            ring: VecDeque::new(),
            ring_floor: loaded.revision,
            ring_capacity: tuning.ring_capacity,
            ring_bytes: 0,
            ring_max_bytes: tuning.ring_max_bytes,
            sender: Some(sender),
        };
        let shared = Arc::new(Shared {
            state: RwLock::new(state),
            reader: Mutex::new(read_conn),
            closed: AtomicBool::new(false),
            commits: AtomicU64::new(0),
            committed_writes: AtomicU64::new(0),
            commit_latency: Default::default(),
            codec,
        });

        let (commands, rx) = mpsc::channel();
        let writer = Writer::new(write_conn, shared.clone(), rx, tuning.max_batch);
        let writer_thread = thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;

        let store = Arc::new(Store {
            shared,
            commands,
            threads: Mutex::new(vec![writer_thread]),
            file_lock: Mutex::new(Some(file_lock)),
            stop: Arc::new(StopSignal::default()),
            compaction_step: tuning.compaction_step.max(1),
        });
        store.spawn_compactor(opts.compaction_interval, opts.retain_revisions)?;
        store.spawn_checkpointer(checkpoint_conn)?;
        Ok(store)
    }

    /// Checkpoints the WAL on its own connection. SQLite would otherwise checkpoint inside
    /// whichever commit crosses the WAL threshold, stalling that batch (and everyone queued
    /// behind it) for several fsyncs; a PASSIVE checkpoint runs alongside commits instead.
    fn spawn_checkpointer(&self, conn: rusqlite::Connection) -> Result<(), StoreError> {
        let stop = self.stop.clone();
        let handle = thread::Builder::new()
            .name("store-checkpointer".into())
            .spawn(move || {
                while !stop.wait(CHECKPOINT_INTERVAL) {
                    if let Err(err) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %err, "store WAL checkpoint failed");
                    }
                }
            })
            .map_err(|e| {
                StoreError::Backend(format!("cannot start the checkpointer thread: {e}"))
            })?;
        self.lock_threads().push(handle);
        Ok(())
    }

    fn spawn_compactor(&self, interval: Duration, retain: i64) -> Result<(), StoreError> {
        let stop = self.stop.clone();
        let shared = self.shared.clone();
        let commands = self.commands.clone();
        let step = self.compaction_step;
        let handle = thread::Builder::new()
            .name("store-compactor".into())
            .spawn(move || {
                while !stop.wait(interval) {
                    let target = shared.read_state().revision - retain.max(0);
                    if let Err(err) =
                        compact_in_steps(&shared, &commands, target, step, &mut |_, _| {})
                    {
                        if err == StoreError::Closed {
                            return;
                        }
                        tracing::warn!(error = %err, "background store compaction failed");
                    }
                }
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the compactor thread: {e}")))?;
        self.lock_threads().push(handle);
        Ok(())
    }

    fn lock_threads(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn submit(&self, key: &str, op: WriteOp) -> Result<KeyValue, StoreError> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let (reply, answer) = oneshot::channel();
        let request = WriteRequest {
            key: Arc::from(key),
            op,
            reply,
        };
        self.commands
            .send(Command::Write(request))
            .map_err(|_| StoreError::Closed)?;
        answer.await.unwrap_or(Err(StoreError::Closed))
    }

    /// Creates `key`; fails with `AlreadyExists` if it exists. `make_value` receives the
    /// revision this write will get, so the caller can stamp `metadata.resourceVersion` into
    /// the bytes; it runs on the writer thread and must be cheap.
    pub async fn create(&self, key: &str, make_value: CreateFn) -> Result<KeyValue, StoreError> {
        self.submit(key, WriteOp::Create(make_value)).await
    }

    /// Replaces the value of `key`. `expected`: Some(rev) fails with `Conflict` unless the
    /// key's mod_revision is `rev`. `make_value` gets (current kv, new revision) and may return
    /// Err to abort; an abort writes nothing and returns that error.
    pub async fn update(
        &self,
        key: &str,
        expected: Option<Revision>,
        make_value: UpdateFn,
    ) -> Result<KeyValue, StoreError> {
        self.submit(key, WriteOp::Update(expected, make_value))
            .await
    }

    /// Deletes `key`; `make_final` gets (current kv, delete revision) and returns the final
    /// bytes recorded in the Deleted event, which is also what this returns.
    pub async fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
        make_final: DeleteFn,
    ) -> Result<KeyValue, StoreError> {
        self.submit(key, WriteOp::Delete(expected, make_final))
            .await
    }

    /// The latest version of `key`, from memory.
    pub fn get(&self, key: &str) -> Option<KeyValue> {
        self.shared.read_state().map.get(key).cloned()
    }

    /// Lists keys with this prefix, in key order, strictly after `start_after` (if any), at
    /// most `limit` (0 = all) items, at `revision` (None = latest). Latest and recent
    /// revisions are served from memory, older ones from the SQLite log.
    pub fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        revision: Option<Revision>,
    ) -> Result<ListResult, StoreError> {
        let rev = {
            let state = self.shared.read_state();
            let rev = revision.unwrap_or(state.revision);
            if rev > state.revision {
                return Err(StoreError::FutureRevision {
                    current: state.revision,
                });
            }
            if rev < state.compacted {
                return Err(StoreError::Compacted {
                    compacted: state.compacted,
                });
            }
            let found = if rev == state.revision {
                Some(state.list_latest(prefix, start_after, limit))
            } else {
                state.list_from_ring(prefix, start_after, limit, rev)
            };
            if let Some((items, remaining)) = found {
                return Ok(ListResult {
                    items,
                    revision: rev,
                    remaining,
                });
            }
            rev
        };
        let mut conn = self.shared.reader();
        let (items, remaining) = sqlite::list_at(
            &mut conn,
            &self.shared.codec,
            prefix,
            start_after,
            limit,
            rev,
        )?;
        Ok(ListResult {
            items,
            revision: rev,
            remaining,
        })
    }

    /// How many live keys have this prefix.
    pub fn count(&self, prefix: &str) -> usize {
        self.shared.read_state().count(prefix)
    }

    /// Every event with revision > `after` on keys with this prefix, in revision order, then
    /// live events. `Compacted` if `after` is older than the compacted revision.
    pub fn watch(&self, prefix: &str, after: Revision) -> Result<Watcher, StoreError> {
        Watcher::start(self.shared.clone(), prefix, after)
    }

    /// The latest committed revision.
    pub fn revision(&self) -> Revision {
        self.shared.read_state().revision
    }

    /// Counters for benchmarks and metrics.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            commits: self.shared.commits.load(Ordering::Relaxed),
            writes: self.shared.committed_writes.load(Ordering::Relaxed),
        }
    }

    /// How long the commits took (SQLite's commit, with its fsync when durable).
    pub fn commit_latency(&self) -> crate::latency::Latencies {
        self.shared.commit_latency.read()
    }

    /// History at or before this revision may be gone.
    pub fn compacted_revision(&self) -> Revision {
        self.shared.read_state().compacted
    }

    /// Drops history at or below `keep_after` (never the latest version of a live key).
    /// Blocks until done; from async code call it via `spawn_blocking`.
    pub fn compact(&self, keep_after: Revision) -> Result<(), StoreError> {
        compact_in_steps(
            &self.shared,
            &self.commands,
            keep_after,
            self.compaction_step,
            &mut |_, _| {},
        )
    }

    /// [`Store::compact`], telling `progress` (revision compacted to, target) after each step.
    pub fn compact_with_progress(
        &self,
        keep_after: Revision,
        mut progress: impl FnMut(Revision, Revision),
    ) -> Result<(), StoreError> {
        compact_in_steps(
            &self.shared,
            &self.commands,
            keep_after,
            self.compaction_step,
            &mut progress,
        )
    }

    /// Stores again every value whose stored form is stale for the transformer (written in
    /// plaintext before encryption was configured, or with a key that is no longer the first
    /// one), in place: revisions, memory and watchers see no change. Runs in steps on the
    /// writer thread so writes interleave; `progress` gets (revision reached, latest revision)
    /// after each step. Returns how many stored values were rewritten. Blocks until done.
    pub fn rewrite_stale_values(
        &self,
        mut progress: impl FnMut(Revision, Revision),
    ) -> Result<usize, StoreError> {
        let mut after = 0;
        let mut total = 0;
        loop {
            let (reply, answer) = mpsc::channel();
            self.commands
                .send(Command::Rewrite {
                    after,
                    limit: REWRITE_STEP,
                    reply,
                })
                .map_err(|_| StoreError::Closed)?;
            let (last, rewritten) = answer.recv().map_err(|_| StoreError::Closed)??;
            total += rewritten;
            match last {
                Some(rev) => {
                    after = rev;
                    progress(rev, self.revision());
                }
                None => return Ok(total),
            }
        }
    }

    /// Stops the writer and the compactor; queued writes get `Closed`, watchers end.
    pub fn close(&self) {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let _ = self.commands.send(Command::Shutdown);
        {
            let mut stopped = self.stop.stopped.lock().unwrap_or_else(|e| e.into_inner());
            *stopped = true;
            self.stop.wake.notify_all();
        }
        let handles: Vec<JoinHandle<()>> = self.lock_threads().drain(..).collect();
        let me = thread::current().id();
        for handle in handles {
            // A value function that closes the store runs on the writer thread itself.
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
        self.shared.write_state().sender = None;
        // Only now is nothing left that writes, so another store may open the file.
        self.file_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

/// Takes an exclusive advisory lock on `<path>-lock`. Two stores writing one file would
/// hand out the same revisions; the kernel drops the lock when the process dies, so a crash
/// never leaves it behind.
fn lock_store_file(path: &std::path::Path) -> Result<std::fs::File, StoreError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push("-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| {
            StoreError::Backend(format!("cannot open store file {}: {e}", path.display()))
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Backend(format!(
            "store file {} is already open in another store (is another orrery running?)",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Backend(format!(
            "cannot lock store file {}: {e}",
            path.display()
        ))),
    }
}

/// Compacts up to `target` in steps so the writer can commit writes in between.
fn compact_in_steps(
    shared: &Shared,
    commands: &mpsc::Sender<Command>,
    target: Revision,
    step: i64,
    progress: &mut dyn FnMut(Revision, Revision),
) -> Result<(), StoreError> {
    loop {
        let (from, current) = {
            let state = shared.read_state();
            (state.compacted, state.revision)
        };
        let target = target.min(current);
        if target <= from {
            return Ok(());
        }
        let to = target.min(from.saturating_add(step));
        let (reply, answer) = mpsc::channel();
        commands
            .send(Command::Compact { to, reply })
            .map_err(|_| StoreError::Closed)?;
        answer.recv().map_err(|_| StoreError::Closed)??;
        progress(to, target);
    }
}
