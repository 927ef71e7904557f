//! API auditing: every platform request that changes something (and, by level, reads) leaves
//! an `audit.k8s.io/v1` `Event` (who, what, the answer; workspace and cluster in annotations).
//!
//! The request path only notes what it already knows of a request (the parsed request, the
//! caller, the status code, the times, the bodies as shared `Bytes` handles: a
//! [`capture`]) and puts it on a bounded lock-free queue ([`Auditor::enqueue`], never waiting:
//! a full queue drops it and counts it). The audit worker, one thread, takes the queue in
//! batches, builds each event (parsing and redacting the bodies, formatting the times and the
//! audit ID), serialises it once, keeps it in a bounded in-memory window for the query API
//! ([`store`]) and hands it to the backends: a rotated JSON-lines file per replica and a
//! webhook receiving `EventList` batches ([`backend`]). What is recorded and what of the
//! bodies is kept is [`policy`]; the hooks in the HTTP layers are [`layer`], [`note_user`] and
//! [`note_request`]; the query routes are [`routes`].

mod backend;
mod capture;
pub mod event;
mod middleware;
pub mod policy;
mod routes;
pub mod store;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use capture::{Capture, Stage};

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
    /// How often the background task takes the waiting events (sooner when many wait).
    pub flush_interval: Duration,
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
            flush_interval: Duration::from_millis(100),
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
    /// Dropped because the queue was full (or closed: auditing stopped), or serialisation failed.
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

/// One event to be: what a request left (built into its event by the worker), or an event
/// built already.
pub(crate) enum Entry {
    /// A request's stage, reached at `at`.
    Request {
        capture: Arc<Capture>,
        stage: Stage,
        at: chrono::DateTime<chrono::Utc>,
    },
    /// A built event.
    Event(Box<Event>),
}

/// The entries recorded and not yet taken by the worker: a bounded queue (the standard
/// library's array channel: preallocated, lock-free, no allocation per entry) that the
/// request path appends to without waiting, and that wakes the worker only when it fills up
/// (the worker also comes by every `flush_interval`), so a request never pays for a
/// hand-over to another thread. The queue's only sender is here: once the [`Auditor`] is
/// gone, the worker finds the queue closed and ends.
pub(crate) struct Pending {
    tx: std::sync::mpsc::SyncSender<Entry>,
    wake: Arc<Wake>,
}

/// How the request path and the worker tell each other how full the queue is.
pub(crate) struct Wake {
    /// Entries on the queue (about: counted before the send, taken off after the receive).
    waiting: AtomicUsize,
    wake_at: usize,
    /// The worker's thread, once it runs.
    worker: OnceLock<std::thread::Thread>,
}

impl Wake {
    /// Wakes the worker (to take the queue, or to see that auditing stops).
    fn wake(&self) {
        if let Some(t) = self.worker.get() {
            t.unpark();
        }
    }

    /// Notes that the worker took `n` entries.
    fn taken(&self, n: usize) {
        self.waiting.fetch_sub(n, Ordering::Relaxed);
    }
}

impl Pending {
    fn new(capacity: usize) -> (Pending, std::sync::mpsc::Receiver<Entry>) {
        let capacity = capacity.max(1);
        let (tx, rx) = std::sync::mpsc::sync_channel(capacity);
        let wake = Arc::new(Wake {
            waiting: AtomicUsize::new(0),
            wake_at: (capacity / 2).clamp(1, 1024),
            worker: OnceLock::new(),
        });
        (Pending { tx, wake }, rx)
    }

    /// Appends `entry` unless the queue is full (then drops it); whether it was appended.
    fn push(&self, entry: Entry) -> bool {
        let w = &self.wake;
        // Counted first, so the worker's count of what it took never passes it.
        let before = w.waiting.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(entry).is_err() {
            w.waiting.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        if before + 1 == w.wake_at {
            w.wake();
        }
        true
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The auditing of one replica: the queue, the query window, the counters.
pub struct Auditor {
    settings: AuditSettings,
    pending: Option<Pending>,
    store: Arc<store::Store>,
    stats: Arc<Stats>,
}

impl Auditor {
    /// Starts auditing: checks the log path and starts the worker and the backends (which end
    /// when `shutdown` is cancelled, after writing what is queued). `host_cluster` names the
    /// host in the cluster annotation.
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
                    pending: None,
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
                // Batches, each one chunk of lines.
                let (ftx, frx) = mpsc::channel(64);
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
        let (pending, rx) = Pending::new(queue);
        let worker = backend::Worker {
            host_cluster: host_cluster.to_string(),
            interval: settings.flush_interval.max(Duration::from_millis(1)),
            store: store.clone(),
            file,
            webhook,
            stats: stats.clone(),
            shutdown: shutdown.clone(),
        };
        let wake = pending.wake.clone();
        tasks.push(tokio::task::spawn_blocking(move || worker.run(&wake, rx)));
        // The worker sleeps between batches: wake it to finish when auditing stops.
        let (wake, stop) = (pending.wake.clone(), shutdown.clone());
        tasks.push(tokio::spawn(async move {
            stop.cancelled().await;
            wake.wake();
        }));
        Ok((
            Arc::new(Auditor {
                settings,
                pending: Some(pending),
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
            pending: None,
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

    /// Registers the counters in a scrape's registry (`/metrics`):
    /// `orrery_audit_events_total{outcome}` (`recorded`, `dropped` (the queue was full),
    /// `written` (to the file), `file_dropped`, `webhook_sent`, `webhook_dropped`) and
    /// `orrery_audit_webhook_retries_total`.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        use prometheus_client::metrics::counter::Counter;
        use prometheus_client::metrics::family::Family;
        let s = &self.stats;
        let events: Family<OutcomeLabels, Counter> = Family::default();
        for (outcome, n) in [
            ("recorded", &s.enqueued),
            ("dropped", &s.dropped),
            ("written", &s.written),
            ("file_dropped", &s.file_dropped),
            ("webhook_sent", &s.webhook_sent),
            ("webhook_dropped", &s.webhook_dropped),
        ] {
            events
                .get_or_create(&OutcomeLabels { outcome })
                .inc_by(n.load(Ordering::Relaxed));
        }
        registry.register(
            "orrery_audit_events",
            "Audit events by what became of them",
            events,
        );
        let retries: Counter = Counter::default();
        retries.inc_by(s.webhook_retries.load(Ordering::Relaxed));
        registry.register(
            "orrery_audit_webhook_retries",
            "Retried audit webhook posts",
            retries,
        );
    }

    /// Puts a built event on the queue without waiting; a full queue drops it (counted).
    pub fn record(&self, event: Event) {
        self.enqueue(Entry::Event(Box::new(event)));
    }

    /// Puts an entry on the queue without waiting; a full queue drops it (counted).
    pub(crate) fn enqueue(&self, entry: Entry) {
        let Some(pending) = &self.pending else {
            return;
        };
        if pending.push(entry) {
            self.stats.enqueued.fetch_add(1, Ordering::Relaxed);
            return;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: i64) -> Event {
        Event {
            kind: "Event".into(),
            api_version: event::API_VERSION.into(),
            level: Level::Metadata,
            audit_id: format!("id-{i}"),
            stage: "ResponseComplete".into(),
            request_uri: "/api/v1/namespaces/a/configmaps".into(),
            verb: "create".into(),
            user: event::User::default(),
            source_ips: Vec::new(),
            user_agent: String::new(),
            object_ref: None,
            response_status: None,
            request_object: None,
            response_object: None,
            request_received_timestamp: String::new(),
            stage_timestamp: String::new(),
            annotations: Default::default(),
            received_micros: i,
        }
    }

    /// A webhook that never answers holds up nothing: recording returns at once, the window
    /// keeps every event, and what the webhook's full queue cannot take is counted as dropped.
    #[tokio::test]
    async fn a_dead_webhook_never_blocks_and_its_losses_are_counted() {
        // A port nothing listens on: every post fails, and the retry waits a long time.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/audit", closed.local_addr().expect("addr"));
        drop(closed);
        let shutdown = CancellationToken::new();
        let (auditor, _tasks) = Auditor::start(
            AuditSettings {
                webhook_url: Some(url),
                webhook_batch_max_size: 1,
                webhook_batch_max_wait: Duration::from_millis(1),
                webhook_initial_backoff: Duration::from_secs(3600),
                queue_size: 4,
                ..Default::default()
            },
            "host",
            &shutdown,
        )
        .expect("start");
        for i in 0..200 {
            auditor.record(event(i));
            // Let the webhook sender (a task on this runtime) run now and then.
            if i % 4 == 3 {
                tokio::task::yield_now().await;
            }
        }
        let stats = auditor.stats();
        for _ in 0..200 {
            let handled =
                stats.enqueued.load(Ordering::Relaxed) + stats.dropped.load(Ordering::Relaxed);
            if handled == 200
                && auditor.store().len() as u64 == stats.enqueued.load(Ordering::Relaxed)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            stats.enqueued.load(Ordering::Relaxed) + stats.dropped.load(Ordering::Relaxed),
            200
        );
        assert_eq!(
            auditor.store().len() as u64,
            stats.enqueued.load(Ordering::Relaxed)
        );
        assert!(stats.enqueued.load(Ordering::Relaxed) > 0);
        // At most the batch in flight and the webhook queue's four are waiting; the rest is
        // counted lost.
        assert!(
            stats.webhook_dropped.load(Ordering::Relaxed) + 5
                >= stats.enqueued.load(Ordering::Relaxed),
            "{stats:?}"
        );
        assert_eq!(stats.webhook_sent.load(Ordering::Relaxed), 0);
        shutdown.cancel();
    }

    #[tokio::test]
    async fn bad_settings_are_refused_and_none_records_nothing() {
        let shutdown = CancellationToken::new();
        let bad = Auditor::start(
            AuditSettings {
                webhook_url: Some("ftp://x".into()),
                ..Default::default()
            },
            "host",
            &shutdown,
        );
        assert!(bad.is_err());
        let (off, tasks) = Auditor::start(
            AuditSettings {
                write_level: Level::None,
                read_level: Level::None,
                ..Default::default()
            },
            "host",
            &shutdown,
        )
        .expect("start");
        assert!(tasks.is_empty());
        off.record(event(1));
        assert_eq!(off.stats().enqueued.load(Ordering::Relaxed), 0);
    }
}
