//! A circuit breaker per member cluster, fed by the requests proxied to it.
//!
//! The periodic health check notices a member that stopped answering only at its next run,
//! and with backoff; meanwhile every request to it would wait for its own timeout. So the
//! requests themselves report: one that fails to connect, or times out, opens the breaker at
//! once; one whose answer has not started after [`SUSPECT_AFTER`] asks for a quick probe,
//! which opens it if the member does not answer either. While open, requests to the member
//! (and those already waiting for it) get 503 immediately. A single recovery task probes the
//! member every [`PROBE_PERIOD`] and closes the breaker as soon as it answers; a passing
//! health check closes it too.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// How long a proxied request may wait for the start of its answer before the member is
/// probed (the request itself keeps waiting until its own timeout, or the breaker opens).
pub const SUSPECT_AFTER: Duration = Duration::from_secs(2);
/// The bound on one recovery probe, and the time between probes while open.
pub const PROBE_PERIOD: Duration = Duration::from_millis(700);

/// Whether requests to one member are refused at once, and why.
#[derive(Debug)]
pub struct Breaker {
    open: watch::Sender<bool>,
    reason: Mutex<String>,
    probing: AtomicBool,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            open: watch::channel(false).0,
            reason: Mutex::new(String::new()),
            probing: AtomicBool::new(false),
        }
    }
}

impl Breaker {
    /// Whether requests are refused.
    pub fn is_open(&self) -> bool {
        *self.open.borrow()
    }

    /// Why the breaker opened.
    pub fn reason(&self) -> String {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Opens the breaker (idempotent).
    pub fn trip(&self, reason: &str) {
        *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = reason.to_string();
        if !self.open.send_replace(true) {
            tracing::warn!(
                reason,
                "member stopped answering: refusing its requests until it answers again"
            );
        }
    }

    /// Closes the breaker (idempotent).
    pub fn close(&self) {
        if self.open.send_replace(false) {
            tracing::info!("member answers again");
        }
    }

    /// Resolves once the breaker is open (at once if it is).
    pub async fn opened(&self) {
        let mut rx = self.open.subscribe();
        let _ = rx.wait_for(|open| *open).await;
    }

    /// Starts the single probing task unless one runs: `probe` is called every
    /// [`PROBE_PERIOD`] (bounded by it); a failure opens the breaker, a success closes it and
    /// ends the task — at once when the breaker was still closed (a slow request, not a
    /// dead member), and otherwise when the member recovers.
    pub fn suspect<F, Fut>(self: &Arc<Self>, probe: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send,
    {
        if self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let started = tokio::time::Instant::now();
                let outcome = match tokio::time::timeout(PROBE_PERIOD, probe()).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("no answer within {} ms", PROBE_PERIOD.as_millis())),
                };
                match outcome {
                    Ok(()) => {
                        me.close();
                        break;
                    }
                    Err(e) => me.trip(&e),
                }
                tokio::time::sleep_until(started + PROBE_PERIOD).await;
            }
            me.probing.store(false, Ordering::Release);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test(start_paused = true)]
    async fn failing_probes_open_and_a_success_closes() {
        let b = Arc::new(Breaker::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        // Fails twice, then answers.
        b.suspect(move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err("down".to_string())
                } else {
                    Ok(())
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(1), b.opened())
            .await
            .expect("opened");
        assert!(b.is_open());
        assert_eq!(b.reason(), "down");
        // A second suspicion while probing starts nothing new.
        b.suspect(|| async { Err("other".to_string()) });
        tokio::time::sleep(PROBE_PERIOD * 4).await;
        assert!(!b.is_open());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_probe_counts_as_a_failure() {
        let b = Arc::new(Breaker::default());
        b.suspect(std::future::pending::<Result<(), String>>);
        tokio::time::sleep(PROBE_PERIOD + Duration::from_millis(10)).await;
        assert!(b.is_open());
        assert!(b.reason().contains("no answer"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_request_on_a_healthy_member_changes_nothing() {
        let b = Arc::new(Breaker::default());
        b.suspect(|| async { Ok(()) });
        tokio::time::sleep(PROBE_PERIOD).await;
        assert!(!b.is_open());
        assert!(!b.probing.load(Ordering::Acquire));
    }
}
