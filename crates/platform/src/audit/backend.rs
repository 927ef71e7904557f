//! The background side of auditing: the worker, one thread, takes the recorded entries in
//! batches (every `flush_interval`, or sooner when many are waiting), builds each event,
//! serialises it once, keeps it in the query window and hands it to the backends, each behind
//! its own bounded queue so a slow one never holds up the others or a request:
//!
//! - the log file: kube-apiserver's format, one `Event` JSON per line, written by one blocking
//!   thread a batch at a time and rotated by size (the `file-rotate` crate, keeping whole
//!   lines);
//! - the webhook: `EventList` batches (up to a size, or after a wait), retried with
//!   exponential back-off, dropped and counted after the last try.
//!
//! Batches rather than one wake-up per event: on a busy machine the hand-over of every single
//! event to another thread (a wake-up, a write) cost the requests more than building them.
//! A thread of its own rather than a task: building a batch of events (hundreds every
//! `flush_interval` on a busy replica) never sits in front of a request's task on the
//! runtime's workers; the kernel shares the cores between it and them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::event::{Event, EventList};
use super::{AuditSettings, Entry, Stats, Wake};
use crate::audit::store::Store;
use crate::error::PlatformError;

/// Lines the file writer takes at once before one write.
const FILE_CHUNK: usize = 64 * 1024;
/// Entries the worker takes at most before it hands their lines on.
const BATCH: usize = 4096;

/// Checks the log file can be written (creating its directory) before anything is audited, so
/// a bad path is a clear error at start rather than silently missing events.
pub fn check_log_path(path: &Path) -> Result<(), PlatformError> {
    let bad =
        |e: std::io::Error| PlatformError::Invalid(format!("audit log {}: {e}", path.display()));
    if path.file_name().is_none() {
        return Err(PlatformError::Invalid(format!(
            "audit log {} names no file",
            path.display()
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(bad)?;
    }
    open_options().open(path).map_err(bad)?;
    Ok(())
}

fn open_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.read(true).create(true).append(true);
    // Audit events name users and objects: readable by the platform's user only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o
}

/// The audit worker: what it needs to build the events and where it hands them.
pub struct Worker {
    /// The host's name, for the cluster annotation.
    pub host_cluster: String,
    /// How often it takes the queue (sooner when the request path wakes it).
    pub interval: Duration,
    /// The query window.
    pub store: Arc<Store>,
    /// The file writer's queue: chunks of whole lines.
    pub file: Option<mpsc::Sender<Vec<u8>>>,
    /// The webhook sender's queue.
    pub webhook: Option<mpsc::Sender<Arc<Event>>>,
    /// The counters.
    pub stats: Arc<Stats>,
    /// When to stop (after taking what is left).
    pub shutdown: CancellationToken,
}

impl Worker {
    /// Takes the queue in batches until `shutdown` or until the queue closes (the auditor
    /// gone), then takes what is left, on the calling thread (a blocking one): builds each
    /// entry's event, keeps it in the window and passes it on to the webhook queue, and the
    /// batch's lines to the file queue as one chunk.
    pub fn run(self, wake: &Wake, rx: std::sync::mpsc::Receiver<Entry>) {
        use std::sync::mpsc::TryRecvError;
        let _ = wake.worker.set(std::thread::current());
        let mut chunk = Vec::new();
        loop {
            let mut last = self.shutdown.is_cancelled();
            // Everything waiting now, but no more than a batch (unless this is the last): a
            // steady stream of requests must not keep one batch going forever.
            let mut taken = 0;
            while last || taken < BATCH {
                match rx.try_recv() {
                    Ok(entry) => {
                        taken += 1;
                        self.handle(entry, &mut chunk);
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        last = true;
                        break;
                    }
                }
            }
            wake.taken(taken);
            if let Some(f) = &self.file
                && !chunk.is_empty()
            {
                let lines = chunk.iter().filter(|b| **b == b'\n').count() as u64;
                if f.try_send(std::mem::take(&mut chunk)).is_err() {
                    self.stats.file_dropped.fetch_add(lines, Ordering::Relaxed);
                }
            }
            chunk.clear();
            if last {
                return;
            }
            if taken < BATCH {
                std::thread::park_timeout(self.interval);
            }
        }
    }

    /// Builds one entry's event and hands it on (its line appended to `chunk`).
    fn handle(&self, entry: Entry, chunk: &mut Vec<u8>) {
        let event = match entry {
            Entry::Request { capture, stage, at } => capture.event(stage, at, &self.host_cluster),
            Entry::Event(event) => *event,
        };
        let start = chunk.len();
        if let Err(e) = serde_json::to_writer(&mut *chunk, &event) {
            chunk.truncate(start);
            tracing::warn!(error = %e, "an audit event could not be serialised");
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        chunk.push(b'\n');
        let event = Arc::new(event);
        self.store.push(event.clone(), chunk.len() - start);
        if let Some(w) = &self.webhook
            && w.try_send(event).is_err()
        {
            self.stats.webhook_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Writes chunks of whole lines to the rotated log file until the queue closes (a blocking
/// thread).
pub fn write_file(
    path: PathBuf,
    settings: &AuditSettings,
    mut rx: mpsc::Receiver<Vec<u8>>,
    stats: Arc<Stats>,
) {
    use file_rotate::{ContentLimit, FileRotate, compression::Compression, suffix::AppendCount};
    let limit = usize::try_from(settings.log_max_size_mb)
        .ok()
        .and_then(|mb| mb.checked_mul(1024 * 1024))
        .filter(|b| *b > 0)
        .map_or(ContentLimit::None, ContentLimit::BytesSurpassed);
    // The crate panics when it cannot create the directory; it was checked at start, and a
    // panic later (the directory removed) must only stop this writer, counted as drops.
    let opened = std::panic::catch_unwind(|| {
        FileRotate::new(
            &path,
            AppendCount::new(settings.log_max_backups),
            limit,
            Compression::None,
            Some(open_options()),
        )
    });
    let Ok(mut log) = opened else {
        tracing::error!(path = %path.display(), "the audit log could not be opened");
        return;
    };
    let mut chunk: Vec<u8> = Vec::with_capacity(FILE_CHUNK);
    while let Some(first) = rx.blocking_recv() {
        chunk.extend_from_slice(&first);
        // Whole lines only, so rotation (after a write that passes the size) never splits one.
        while chunk.len() < FILE_CHUNK {
            match rx.try_recv() {
                Ok(more) => chunk.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        let lines = chunk.iter().filter(|b| **b == b'\n').count() as u64;
        let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            log.write_all(&chunk).and_then(|()| log.flush())
        }));
        match written {
            Ok(Ok(())) => {
                stats.written.fetch_add(lines, Ordering::Relaxed);
            }
            Ok(Err(e)) => {
                stats.file_dropped.fetch_add(lines, Ordering::Relaxed);
                tracing::warn!(path = %path.display(), error = %e, "writing the audit log failed");
            }
            Err(_) => {
                stats.file_dropped.fetch_add(lines, Ordering::Relaxed);
                tracing::error!(path = %path.display(), "the audit log writer failed; it stops");
                return;
            }
        }
        chunk.clear();
    }
}

/// Posts batches of events to the webhook until the queue closes.
pub async fn send_webhook(
    url: String,
    settings: AuditSettings,
    mut rx: mpsc::Receiver<Arc<Event>>,
    stats: Arc<Stats>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the audit webhook client could not be built");
            return;
        }
    };
    let max = settings.webhook_batch_max_size.max(1);
    let mut batch: Vec<Arc<Event>> = Vec::with_capacity(max);
    loop {
        let Some(first) = rx.recv().await else {
            return;
        };
        batch.push(first);
        // Gather until the batch is full or the wait since its first event is over.
        let deadline = tokio::time::Instant::now() + settings.webhook_batch_max_wait;
        while batch.len() < max {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(e)) => batch.push(e),
                Ok(None) | Err(_) => break,
            }
        }
        post_batch(&client, &url, &batch, &settings, &stats).await;
        batch.clear();
    }
}

/// Posts one batch, retrying with exponential back-off; counts it dropped after the last try.
async fn post_batch(
    client: &reqwest::Client,
    url: &str,
    batch: &[Arc<Event>],
    settings: &AuditSettings,
    stats: &Stats,
) {
    let body = match serde_json::to_vec(&EventList::of(batch)) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "an audit batch could not be serialised");
            stats
                .webhook_dropped
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            return;
        }
    };
    let mut backoff = settings.webhook_initial_backoff;
    for attempt in 0..=settings.webhook_retries {
        let sent = client
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {
                stats
                    .webhook_sent
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                return;
            }
            Ok(r) => {
                tracing::warn!(status = %r.status(), attempt, "the audit webhook refused a batch")
            }
            Err(e) => tracing::warn!(error = %e, attempt, "the audit webhook is unreachable"),
        }
        if attempt < settings.webhook_retries {
            stats.webhook_retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }
    stats
        .webhook_dropped
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_rotates_by_size_between_whole_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("logs").join("audit.log");
        check_log_path(&path).expect("writable");
        let settings = AuditSettings {
            log_max_size_mb: 1,
            log_max_backups: 2,
            ..Default::default()
        };
        let (tx, rx) = mpsc::channel(16);
        let stats = Arc::new(Stats::default());
        let (p, st) = (path.clone(), stats.clone());
        let writer = std::thread::spawn(move || write_file(p, &settings, rx, st));
        // 3,000 lines of 1 KiB: three megabytes, so two rotations and one file dropped.
        let filler = "x".repeat(1000);
        for i in 0..3000 {
            let mut line =
                serde_json::to_vec(&serde_json::json!({"i": i, "f": filler})).expect("json");
            line.push(b'\n');
            tx.blocking_send(line).expect("send");
        }
        drop(tx);
        writer.join().expect("writer");
        assert_eq!(stats.written.load(Ordering::Relaxed), 3000);
        let mut seen = Vec::new();
        for name in ["audit.log.2", "audit.log.1", "audit.log"] {
            let text = std::fs::read_to_string(dir.path().join("logs").join(name))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                text.len() < 1024 * 1024 + FILE_CHUNK + 2048,
                "{name}: {}",
                text.len()
            );
            for l in text.lines() {
                let v: serde_json::Value = serde_json::from_str(l).expect("a whole line");
                seen.push(v["i"].as_u64().expect("i"));
            }
        }
        assert!(!dir.path().join("logs").join("audit.log.3").exists());
        // The newest lines survive, in order, none cut.
        assert_eq!(seen.last(), Some(&2999));
        assert!(seen.windows(2).all(|w| w[1] == w[0] + 1));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_path_naming_no_file_is_refused() {
        assert!(check_log_path(Path::new("/")).is_err());
    }
}
