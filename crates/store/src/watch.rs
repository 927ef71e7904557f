//! Watchers: replay history after a revision, then follow live batches.
//!
//! A watcher subscribes to the broadcast and copies the in-memory ring under the same read
//! lock, so no batch falls between them; anything older than the ring comes from SQLite. If it
//! lags behind the broadcast buffer it throws its receiver away and catches up the same way
//! from the last revision it saw, so events are never skipped or reordered.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use crate::shared::Shared;
use crate::sqlite;
use crate::state::Batch;
use crate::{Event, Revision, StoreError};

/// A stream of the events on one key prefix, in revision order.
pub struct Watcher {
    shared: Arc<Shared>,
    prefix: Arc<str>,
    rx: Option<broadcast::Receiver<Arc<Batch>>>,
    pending: VecDeque<Event>,
    /// Every event with revision <= `seen` on the prefix is in `pending` or was returned.
    seen: Revision,
    resync: bool,
    finished: bool,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("prefix", &self.prefix)
            .field("seen", &self.seen)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Watcher {
    /// Starts a watcher on `prefix` that will return every event after `after`.
    pub(crate) fn start(
        shared: Arc<Shared>,
        prefix: &str,
        after: Revision,
    ) -> Result<Watcher, StoreError> {
        {
            let state = shared.read_state();
            if after > state.revision {
                return Err(StoreError::FutureRevision {
                    current: state.revision,
                });
            }
        }
        let mut watcher = Watcher {
            shared,
            prefix: Arc::from(prefix),
            rx: None,
            pending: VecDeque::new(),
            seen: after,
            resync: true,
            finished: false,
        };
        watcher.catch_up()?;
        Ok(watcher)
    }

    /// The next event; `None` once the store is closed and every event was returned. After an
    /// `Err` (history this watcher needs was compacted) the stream ends.
    ///
    /// Cancel-safe: dropping the future loses nothing, so it can sit in a `select!` with a
    /// bookmark timer.
    pub async fn next(&mut self) -> Option<Result<Event, StoreError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            if self.finished {
                return None;
            }
            if self.resync {
                if let Err(err) = self.catch_up() {
                    self.finished = true;
                    return match err {
                        StoreError::Closed => None,
                        other => Some(Err(other)),
                    };
                }
                continue;
            }
            let Some(rx) = self.rx.as_mut() else {
                self.finished = true;
                return None;
            };
            match rx.recv().await {
                Ok(batch) => self.absorb(&batch),
                Err(RecvError::Lagged(_)) => self.lagged(),
                Err(RecvError::Closed) => {
                    self.finished = true;
                    return None;
                }
            }
        }
    }

    /// Every event on the prefix with a revision <= this has been returned by `next`.
    pub fn progress(&self) -> Revision {
        match self.pending.front() {
            Some(event) => event.kv.mod_revision - 1,
            None => self.seen,
        }
    }

    /// Takes in every batch already broadcast without waiting, then returns `progress`. Use it
    /// before sending a bookmark so progress reflects writes to other prefixes too.
    pub fn poll_progress(&mut self) -> Revision {
        while !self.resync {
            let Some(rx) = self.rx.as_mut() else { break };
            match rx.try_recv() {
                Ok(batch) => self.absorb(&batch),
                Err(TryRecvError::Lagged(_)) => self.lagged(),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        self.progress()
    }

    fn lagged(&mut self) {
        self.rx = None;
        self.resync = true;
    }

    fn absorb(&mut self, batch: &Batch) {
        if batch.last() <= self.seen {
            return;
        }
        if batch.first() > self.seen + 1 {
            // A gap can only mean a missed batch; rebuild from history rather than skip.
            self.lagged();
            return;
        }
        let prefix = &*self.prefix;
        self.pending.extend(
            batch
                .events
                .iter()
                .filter(|e| e.kv.mod_revision > self.seen && e.kv.key.starts_with(prefix))
                .cloned(),
        );
        self.seen = batch.last();
    }

    /// Re-subscribes and queues every event after `seen`, from the ring and, for anything
    /// older than the ring, from SQLite.
    fn catch_up(&mut self) -> Result<(), StoreError> {
        let after = self.seen;
        let (rx, recent, floor, head) = {
            let state = self.shared.read_state();
            let Some(sender) = &state.sender else {
                return Err(StoreError::Closed);
            };
            if after < state.compacted {
                return Err(StoreError::Compacted {
                    compacted: state.compacted,
                });
            }
            let from = after.max(state.ring_floor);
            (
                sender.subscribe(),
                state.ring_since(&self.prefix, from),
                state.ring_floor,
                state.revision,
            )
        };
        if after < floor {
            let mut conn = self.shared.reader();
            let older =
                sqlite::events_between(&mut conn, &self.shared.codec, &self.prefix, after, floor)?;
            self.pending.extend(older);
        }
        self.pending.extend(recent);
        self.seen = head;
        self.rx = Some(rx);
        self.resync = false;
        Ok(())
    }
}
