//! API auditing: every platform request that changes something (and, by level, reads) leaves
//! an `audit.k8s.io/v1` `Event` (who, what, the answer; workspace and cluster in annotations).
//!
//! The request path only builds the event and puts it on a bounded queue ([`Auditor::record`],
//! never waiting: a full queue drops the event and counts it); a background task keeps it in a
//! bounded in-memory window for the query API ([`store`]) and hands it to the backends: a
//! rotated JSON-lines file per replica and a webhook receiving `EventList` batches
//! ([`backend`]). What is recorded and what of the bodies is kept is [`policy`]; the hooks in
//! the HTTP layers are [`layer`], [`note_user`] and [`note_request`]; the query routes are
//! [`routes`].

mod backend;
pub mod event;
mod middleware;
pub mod policy;
mod routes;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use event::{Event, Level};
pub use middleware::{layer, note_request, note_user};
pub use routes::{is_query, routes};

use crate::error::PlatformError;

/// How auditing runs (`orrery serve --audit-*` flags).
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// The level of requests that change something (`--audit-level`).
    pub write_level: Level,
    /// The level of reads: get, list, watch (`--audit-read-level`).
    pub read_level: Level,
    /// The JSON-lines file (`--audit-log-path`); `None` writes no file.
    pub log_path: Option<PathBuf>,
    /// Rotate the file once it passes this many megabytes (0: never) (`--audit-log-maxsize`).
    pub log_max_size_mb: u64,
    /// Rotated files kept (`--audit-log-maxbackup`).
    pub log_max_backups: usize,
    /// Where `EventList` batches are posted (`--audit-webhook-url`).
    pub webhook_url: Option<String>,
    /// Events per batch at most (`--audit-webhook-batch-max-size`).
    pub webhook_batch_max_size: usize,
    /// How long a batch waits for more events (`--audit-webhook-batch-max-wait`).
    pub webhook_batch_max_wait: Duration,
    /// The first retry's delay (doubled each time).
    pub webhook_initial_backoff: Duration,
    /// Retries of a failed batch before it is dropped.
    pub webhook_retries: u32,
    /// Events waiting between the requests and the background task (beyond: dropped, counted).
    pub queue_size: usize,
    /// Events the query window keeps at most.
    pub store_max_events: usize,
    /// Bytes (of their JSON) the query window keeps at most.
    pub store_max_bytes: usize,
}

impl Default for AuditSettings {
    fn default() -> AuditSettings {
        AuditSettings {
            write_level: Level::Metadata,
            read_level: Level::None,
            log_path: None,
            log_max_size_mb: 100,
            log_max_backups: 10,
            webhook_url: None,
            webhook_batch_max_size: 400,
            webhook_batch_max_wait: Duration::from_secs(5),
            webhook_initial_backoff: Duration::from_secs(1),
            webhook_retries: 3,
            queue_size: 10_000,
            store_max_events: 20_000,
            store_max_bytes: 32 << 20,
        }
    }
}

/// Counters of what auditing did with events (for logs and metrics).
#[derive(Debug, Default)]
pub struct Stats {
    /// Put on the queue.
    pub enqueued: AtomicU64,
    /// Dropped because the queue was full (or serialisation failed).
    pub dropped: AtomicU64,
    /// Lines written to the file.
    pub written: AtomicU64,
    /// Lost to the file (its queue full, or a write failed).
    pub file_dropped: AtomicU64,
    /// Delivered to the webhook.
    pub webhook_sent: AtomicU64,
    /// Lost to the webhook (its queue full, or every try failed).
    pub webhook_dropped: AtomicU64,
    /// Webhook retries.
    pub webhook_retries: AtomicU64,
}

/// The auditing of one replica: the queue's sending side, the query window, the counters.
pub struct Auditor {
    settings: AuditSettings,
    host_cluster: String,
    tx: Option<mpsc::Sender<Event>>,
    store: Arc<store::Store>,
    stats: Arc<Stats>,
}

impl Auditor {
    /// Starts auditing: checks the log path and starts the background tasks (which end when
    /// `shutdown` is cancelled, after writing what is queued). `host_cluster` names the host
    /// in the cluster annotation.
    pub fn start(
        settings: AuditSettings,
        host_cluster: &str,
        shutdown: &CancellationToken,
    ) -> Result<(Arc<Auditor>, Vec<tokio::task::JoinHandle<()>>), PlatformError> {
        let stats = Arc::new(Stats::default());
        let store = Arc::new(store::Store::new(
            settings.store_max_events,
            settings.store_max_bytes,
        ));
        let mut tasks = Vec::new();
        let enabled = settings.write_level > Level::None || settings.read_level > Level::None;
        if !enabled {
            return Ok((
                Arc::new(Auditor {
                    settings,
                    host_cluster: host_cluster.to_string(),
                    tx: None,
                    store,
                    stats,
                }),
                tasks,
            ));
        }
        if let Some(url) = &settings.webhook_url {
            let ok = url.starts_with("http://") || url.starts_with("https://");
            if !ok || reqwest::Url::parse(url).is_err() {
                return Err(PlatformError::Invalid(format!(
                    "the audit webhook URL {url:?} is not an http(s) URL"
                )));
            }
        }
        let queue = settings.queue_size.max(1);
        let file = match &settings.log_path {
            Some(path) => {
                backend::check_log_path(path)?;
                let (ftx, frx) = mpsc::channel(queue);
                let (path, s, st) = (path.clone(), settings.clone(), stats.clone());
                tasks.push(tokio::task::spawn_blocking(move || {
                    backend::write_file(path, &s, frx, st)
                }));
                Some(ftx)
            }
            None => None,
        };
        let webhook = match &settings.webhook_url {
            Some(url) => {
                let (wtx, wrx) = mpsc::channel(queue);
                tasks.push(tokio::spawn(backend::send_webhook(
                    url.clone(),
                    settings.clone(),
                    wrx,
                    stats.clone(),
                )));
                Some(wtx)
            }
            None => None,
        };
        let (tx, rx) = mpsc::channel(queue);
        tasks.push(tokio::spawn(backend::dispatch(
            rx,
            store.clone(),
            file,
            webhook,
            stats.clone(),
            shutdown.clone(),
        )));
        Ok((
            Arc::new(Auditor {
                settings,
                host_cluster: host_cluster.to_string(),
                tx: Some(tx),
                store,
                stats,
            }),
            tasks,
        ))
    }

    /// Auditing that records nothing (benchmarks' baseline, tools that build an `AppState`).
    pub fn disabled() -> Arc<Auditor> {
        Arc::new(Auditor {
            settings: AuditSettings {
                write_level: Level::None,
                read_level: Level::None,
                ..Default::default()
            },
            host_cluster: String::new(),
            tx: None,
            store: Arc::new(store::Store::new(0, 0)),
            stats: Arc::new(Stats::default()),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &AuditSettings {
        &self.settings
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The query window.
    pub fn store(&self) -> &store::Store {
        &self.store
    }

    /// Puts an event on the queue without waiting; a full queue drops it (counted).
    pub fn record(&self, event: Event) {
        let Some(tx) = &self.tx else {
            return;
        };
        match tx.try_send(event) {
            Ok(()) => {
                self.stats.enqueued.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                let n = self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                // Once per thousand, so a flood of drops does not flood the log too.
                if n.is_multiple_of(1000) {
                    tracing::warn!(
                        dropped = n + 1,
                        "the audit queue is full; events are dropped"
                    );
                }
            }
        }
    }
}
