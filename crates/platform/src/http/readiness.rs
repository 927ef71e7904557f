//! `/readyz`: whether this replica should be sent traffic. `/healthz` (and `/livez`) say only
//! that the process serves; readiness also needs the host cluster's API to answer (every
//! write, token check of a fresh session and proxied request goes there) and the watch-fed
//! caches to have had their first list. The answer is kube-apiserver's form: `ok`, or one line
//! per check (`[+]name ok` / `[-]name failed: reason withheld`) and a 503; the reason is
//! logged, not shown (the endpoint needs no authentication).

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::Shared;

/// How long one look at the host's API is reused (probes of several kubelets, or a flood of
/// unauthenticated requests, cost the host at most one call per period).
const FRESH: Duration = Duration::from_secs(1);
/// Bound on that call.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The last look at the host's API.
#[derive(Default)]
pub struct Readiness {
    last: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Readiness {
    /// Whether the host's API answered within the last [`FRESH`] period (asking it now if
    /// not; concurrent callers share one call).
    pub async fn host(&self, client: &kube::Client) -> Result<(), String> {
        let mut last = self.last.lock().await;
        if let Some((at, r)) = last.as_ref()
            && at.elapsed() < FRESH
        {
            return r.clone();
        }
        let r = match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("the host cluster's API: {e}")),
            Err(_) => Err(format!(
                "the host cluster's API did not answer within {PROBE_TIMEOUT:?}"
            )),
        };
        let was_ok = last.as_ref().is_none_or(|(_, r)| r.is_ok());
        match (&r, was_ok) {
            (Err(e), true) => {
                tracing::warn!(reason = %e, "not ready: the host cluster's API is unreachable")
            }
            (Ok(()), false) => tracing::info!("ready again: the host cluster's API answers"),
            _ => {}
        }
        *last = Some((Instant::now(), r.clone()));
        r
    }
}

/// `GET /readyz`.
pub async fn readyz(State(state): State<Shared>) -> Response {
    let unsynced: Vec<&'static str> = state
        .caches
        .all()
        .iter()
        .filter(|c| !c.is_synced())
        .map(|c| c.kind().kind())
        .collect();
    let host = state.readiness.host(&state.client).await;
    if unsynced.is_empty() && host.is_ok() {
        return (StatusCode::OK, "ok").into_response();
    }
    if !unsynced.is_empty() {
        tracing::debug!(?unsynced, "not ready: caches without their first list");
    }
    let line = |name: &str, ok: bool| {
        if ok {
            format!("[+]{name} ok\n")
        } else {
            format!("[-]{name} failed: reason withheld\n")
        }
    };
    let body = format!(
        "[+]ping ok\n{}{}readyz check failed\n",
        line("host-api", host.is_ok()),
        line("caches-synced", unsynced.is_empty()),
    );
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}
