//! Fairness between users, in the spirit of Kubernetes' API Priority and Fairness: each user
//! (a flow) may have a bounded number of requests in progress at once; more wait in that
//! user's own queue (first come, first served), and once the queue is full the user gets 429
//! with `Retry-After`. One user's flood therefore occupies at most its own slots and queue
//! and cannot starve the others. Long-running requests (watches, log follows, upgrades) hold
//! no slot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::{ApiError, Shared};
use crate::authz::UserInfo;

/// Flows tracked at most; idle ones are forgotten when the map is full.
const MAX_FLOWS: usize = 10_000;

/// The per-user limits.
#[derive(Debug, Clone, Copy)]
pub struct FairnessSettings {
    /// Requests one user may have in progress at once.
    pub concurrency: usize,
    /// Requests of one user that may wait for a slot; beyond, 429.
    pub queue: usize,
    /// The longest a request waits for a slot before 429.
    pub max_wait: Duration,
}

impl Default for FairnessSettings {
    fn default() -> Self {
        FairnessSettings {
            concurrency: 16,
            queue: 64,
            max_wait: Duration::from_secs(10),
        }
    }
}

struct Flow {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
}

/// The flows (one per user) and their limits.
pub struct Fairness {
    settings: FairnessSettings,
    flows: Mutex<HashMap<String, Arc<Flow>>>,
}

/// Why a request was not admitted.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejected {
    /// The user's queue is full.
    QueueFull,
    /// No slot freed up within `max_wait`.
    TimedOut,
}

impl Fairness {
    /// Flows with these limits.
    pub fn new(settings: FairnessSettings) -> Fairness {
        Fairness {
            settings,
            flows: Mutex::new(HashMap::new()),
        }
    }

    fn flow(&self, key: &str) -> Arc<Flow> {
        let mut flows = self.flows.lock().unwrap_or_else(|p| p.into_inner());
        if flows.len() >= MAX_FLOWS && !flows.contains_key(key) {
            let full = self.settings.concurrency;
            flows.retain(|_, f| Arc::strong_count(f) > 1 || f.slots.available_permits() < full);
        }
        flows
            .entry(key.to_string())
            .or_insert_with(|| {
                Arc::new(Flow {
                    slots: Arc::new(Semaphore::new(self.settings.concurrency)),
                    waiting: AtomicUsize::new(0),
                })
            })
            .clone()
    }

    /// Waits for a slot of `key`'s flow; the permit frees it when dropped.
    pub async fn admit(&self, key: &str) -> Result<tokio::sync::OwnedSemaphorePermit, Rejected> {
        let flow = self.flow(key);
        if let Ok(p) = flow.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        if flow.waiting.fetch_add(1, Ordering::AcqRel) >= self.settings.queue {
            flow.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Rejected::QueueFull);
        }
        let got =
            tokio::time::timeout(self.settings.max_wait, flow.slots.clone().acquire_owned()).await;
        flow.waiting.fetch_sub(1, Ordering::AcqRel);
        match got {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Rejected::TimedOut),
        }
    }
}

/// Whether a request runs for as long as the client wants (and so holds no slot).
pub fn long_running(req: &Request) -> bool {
    let query = req.uri().query().unwrap_or_default();
    let flag = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .any(|(k, v)| k == name && (v == "true" || v == "1"))
    };
    req.headers().contains_key(http::header::UPGRADE)
        || req.uri().path().contains("/watch/")
        || flag("watch")
        || flag("follow")
}

/// The middleware: runs after authentication, before authorization.
pub async fn limit(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let user = req
        .extensions()
        .get::<UserInfo>()
        .map(|u| u.name.clone())
        .unwrap_or_default();
    // Anonymous requests are refused by the authorizer at once; they hold nothing.
    if user.is_empty() || long_running(&req) {
        return next.run(req).await;
    }
    match state.fairness.admit(&user).await {
        Ok(_permit) => next.run(req).await,
        Err(why) => {
            let mut resp = ApiError::new(
                429,
                "TooManyRequests",
                match why {
                    Rejected::QueueFull => {
                        format!("too many requests from user {user:?} at once; retry later")
                    }
                    Rejected::TimedOut => {
                        format!("user {user:?} has too many requests in progress; retry later")
                    }
                },
            )
            .into_response();
            resp.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(concurrency: usize, queue: usize) -> FairnessSettings {
        FairnessSettings {
            concurrency,
            queue,
            max_wait: Duration::from_secs(5),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_users_flood_queues_and_overflows_while_others_are_admitted() {
        let f = Arc::new(Fairness::new(settings(2, 3)));
        // Mallory holds both her slots.
        let held = [f.admit("mallory").await, f.admit("mallory").await];
        assert!(held.iter().all(Result::is_ok));
        // Three more of hers wait in her queue; the fourth is refused at once.
        let mut waiting = Vec::new();
        for _ in 0..3 {
            let f = f.clone();
            waiting.push(tokio::spawn(
                async move { f.admit("mallory").await.is_ok() },
            ));
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(f.admit("mallory").await.err(), Some(Rejected::QueueFull));
        // Bob is admitted at once.
        assert!(f.admit("bob").await.is_ok());
        // Mallory's queue drains, first come first served, as her slots free up.
        drop(held);
        for w in waiting {
            assert!(w.await.unwrap_or(false));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_is_bounded() {
        let f = Fairness::new(settings(1, 5));
        let _held = f.admit("mallory").await;
        assert_eq!(f.admit("mallory").await.err(), Some(Rejected::TimedOut));
    }

    #[test]
    fn watches_follows_and_upgrades_are_long_running() {
        let req = |uri: &str, upgrade: bool| {
            let mut b = http::Request::get(uri);
            if upgrade {
                b = b.header(http::header::UPGRADE, "websocket");
            }
            b.body(axum::body::Body::empty()).unwrap_or_default()
        };
        assert!(long_running(&req("/api/v1/pods?watch=true", false)));
        assert!(long_running(&req("/api/v1/pods?watch=1", false)));
        assert!(long_running(&req("/api/v1/watch/pods", false)));
        assert!(long_running(&req(
            "/api/v1/namespaces/a/pods/p/log?follow=true",
            false
        )));
        assert!(long_running(&req("/api/v1/namespaces/a/pods/p/exec", true)));
        assert!(!long_running(&req("/api/v1/pods?watch=false", false)));
        assert!(!long_running(&req("/api/v1/pods", false)));
    }
}
