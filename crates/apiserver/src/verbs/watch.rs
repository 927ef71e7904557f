//! Watch streams: initial events, live events, bookmarks, selectors and expiry.

use std::sync::Arc;
use std::time::Duration;

use apimachinery::status::ApiError;
use axum::body::Body;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};
use store::{EventType, Revision};
use tokio::sync::mpsc;

use crate::cluster::Cluster;
use crate::list::Selectors;
use crate::registry::Resource;
use crate::table::{self, Output};

/// Watch parameters from the query.
#[derive(Clone, Debug, Default)]
pub struct WatchParams {
    /// `resourceVersion` ("" or "0" or a revision).
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub resource_version_match: Option<String>,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `sendInitialEvents`.
    pub send_initial_events: Option<bool>,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<u64>,
}

fn event_line(kind: &str, object: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(object.len() + 32);
    buf.put_slice(b"{\"type\":\"");
    buf.put_slice(kind.as_bytes());
    buf.put_slice(b"\",\"object\":");
    buf.put_slice(object);
    buf.put_slice(b"}\n");
    buf.freeze()
}

fn bookmark(res: &Resource, rev: Revision, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rev.to_string(), "creationTimestamp": null});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let obj = json!({"kind": res.kind, "apiVersion": res.api_version(), "metadata": meta});
    event_line("BOOKMARK", &serde_json::to_vec(&obj).unwrap_or_default())
}

fn expired_event(msg: String) -> Bytes {
    error_event(&ApiError::expired(msg))
}

/// An ERROR event carrying `err`'s Status.
fn error_event(err: &ApiError) -> Bytes {
    event_line(
        "ERROR",
        &serde_json::to_vec(&err.to_status()).unwrap_or_default(),
    )
}

/// Starts a watch and returns the streaming response.
pub fn watch(
    cluster: &Arc<Cluster>,
    res: Arc<Resource>,
    namespace: Option<String>,
    selectors: Selectors,
    params: WatchParams,
    output: Output,
) -> Result<Response<Body>, ApiError> {
    let prefix = match &namespace {
        Some(ns) if res.namespaced => res.namespace_prefix(ns),
        _ => res.key_prefix(),
    };
    let start = start_point(cluster, &res, &prefix, &params)?;
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(256);
    let watcher = cluster.store.watch(&prefix, start.after);
    let stream = Stream {
        timeout: Duration::from_secs(
            params
                .timeout_seconds
                .unwrap_or_else(|| 1800 + rand::random::<u64>() % 1800),
        ),
        bookmark_interval: cluster.config.bookmark_interval,
        shutdown: cluster.shutdown.clone(),
        bookmarks: params.bookmarks,
        initial_bookmark: start.send_initial
            && params.bookmarks
            && params.send_initial_events == Some(true),
        res,
        selectors,
        output,
        tx,
    };
    tokio::spawn(stream.run(watcher, start.initial, start.after));
    let stream = tokio_stream_from(rx);
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}

/// Where a watch starts: the objects sent first as ADDED, and the revision events follow.
struct Start {
    initial: Vec<store::KeyValue>,
    after: Revision,
    send_initial: bool,
}

/// kube's rules for `resourceVersion` and `sendInitialEvents`: without a version (or "0"),
/// the current objects come first; with one, only the events after it.
fn start_point(
    cluster: &Cluster,
    res: &Resource,
    prefix: &str,
    params: &WatchParams,
) -> Result<Start, ApiError> {
    let rv = params.resource_version.clone().filter(|s| !s.is_empty());
    let send_initial = match params.send_initial_events {
        Some(true) => {
            if params.resource_version_match.as_deref() != Some("NotOlderThan") {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                ));
            }
            true
        }
        Some(false) => false,
        None => matches!(rv.as_deref(), None | Some("0")),
    };
    let (initial, after) = if send_initial {
        let listed = cluster
            .store
            .list(prefix, None, 0, None)
            .map_err(|e| crate::response::store_error(e, &res.group, &res.plural, ""))?;
        (listed.items, listed.revision)
    } else {
        match rv.as_deref() {
            None | Some("0") => (Vec::new(), cluster.store.revision()),
            Some(s) => {
                let n: Revision = s.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "resourceVersion: Invalid value: \"{s}\": must be a valid resource version"
                    ))
                })?;
                // One store, no lagging cache: a revision it has not reached is refused at
                // once, with kube-apiserver's answer, before the stream starts.
                let current = cluster.store.revision();
                if n > current {
                    return Err(ApiError::too_large_resource_version(n, current));
                }
                (Vec::new(), n)
            }
        }
    };
    Ok(Start {
        initial,
        after,
        send_initial,
    })
}

/// A running watch: the store watcher and everything needed to turn its events into lines.
struct Stream {
    timeout: Duration,
    bookmark_interval: Duration,
    shutdown: tokio_util::sync::CancellationToken,
    bookmarks: bool,
    initial_bookmark: bool,
    res: Arc<Resource>,
    selectors: Selectors,
    output: Output,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl Stream {
    /// Sends one line; false when the client has gone.
    async fn send(&self, line: Bytes) -> bool {
        self.tx.send(Ok(line)).await.is_ok()
    }

    /// Streams until the timeout, shutdown, the client leaving, or a store error.
    async fn run(
        self,
        watcher: Result<store::Watcher, store::StoreError>,
        initial: Vec<store::KeyValue>,
        after: Revision,
    ) {
        let mut watcher = match watcher {
            Ok(w) => w,
            Err(store::StoreError::Compacted { compacted }) => {
                self.send(expired_event(format!(
                    "too old resource version: {after} ({compacted})"
                )))
                .await;
                return;
            }
            Err(e) => {
                self.send(error_event(&ApiError::internal(e.to_string())))
                    .await;
                return;
            }
        };
        for kv in &initial {
            if !matches!(self.selectors.matches_bytes(&self.res, &kv.value), Ok(true)) {
                continue;
            }
            let obj = self.output.render_event_object(&self.res, &kv.value);
            if !self.send(event_line("ADDED", &obj)).await {
                return;
            }
        }
        if self.initial_bookmark && !self.send(bookmark(&self.res, after, true)).await {
            return;
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::now() + self.bookmark_interval,
            self.bookmark_interval,
        );
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = self.shutdown.cancelled() => return,
                _ = self.tx.closed() => return,
                _ = ticker.tick(), if self.bookmarks => {
                    watcher.poll_progress();
                    if !self.send(bookmark(&self.res, watcher.progress(), false)).await {
                        return;
                    }
                }
                ev = watcher.next() => {
                    if !self.forward(ev, watcher.progress()).await {
                        return;
                    }
                }
            }
        }
    }

    /// Sends what one store event means for this watch; false when the watch is over.
    async fn forward(
        &self,
        ev: Option<Result<store::Event, store::StoreError>>,
        progress: Revision,
    ) -> bool {
        let ev = match ev {
            None => return false,
            Some(Err(store::StoreError::Compacted { compacted })) => {
                self.send(expired_event(format!(
                    "too old resource version: {progress} ({compacted})"
                )))
                .await;
                return false;
            }
            Some(Err(e)) => {
                self.send(error_event(&ApiError::internal(e.to_string())))
                    .await;
                return false;
            }
            Some(Ok(ev)) => ev,
        };
        match self.event_type(&ev) {
            Some(kind) => {
                let obj = self.output.render_event_object(&self.res, &ev.kv.value);
                self.send(event_line(kind, &obj)).await
            }
            None => true,
        }
    }

    /// The watch event a store event is for this watch's selectors: an update that moves an
    /// object into or out of the selection is ADDED or DELETED; `None` when it stays out.
    fn event_type(&self, ev: &store::Event) -> Option<&'static str> {
        let matches = |value: &[u8]| {
            self.selectors
                .matches_bytes(&self.res, value)
                .unwrap_or(false)
        };
        let new_matches = matches(&ev.kv.value);
        match ev.kind {
            EventType::Created => new_matches.then_some("ADDED"),
            EventType::Deleted => new_matches.then_some("DELETED"),
            EventType::Updated => {
                let old_matches = match &ev.prev {
                    Some(p) if !self.selectors.is_empty() => matches(&p.value),
                    _ => true,
                };
                match (old_matches, new_matches) {
                    (true, true) => Some("MODIFIED"),
                    (false, true) => Some("ADDED"),
                    (true, false) => Some("DELETED"),
                    (false, false) => None,
                }
            }
        }
    }
}

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

impl Output {
    /// The object a watch event carries for this output format. `PartialObjectMetadata` is
    /// cut from the stored bytes (the object's other fields are skipped, not decoded).
    pub fn render_event_object(&self, res: &Resource, stored: &[u8]) -> Vec<u8> {
        match self {
            Output::Object => {
                crate::versions::served_bytes(res, &bytes::Bytes::copy_from_slice(stored)).to_vec()
            }
            Output::Metadata => {
                let source = crate::versions::metadata_source(res, stored);
                table::partial_metadata_bytes(&source).unwrap_or_else(|_| stored.to_vec())
            }
            other => match serde_json::from_slice::<Value>(stored) {
                Ok(obj) => {
                    serde_json::to_vec(&table::render_one(res, other, &obj)).unwrap_or_default()
                }
                Err(_) => stored.to_vec(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    /// A custom resource's stored object with escapes and number forms a re-encode would
    /// rewrite, a secret in its spec and a phase in its status.
    const STORED: &str = r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"caf\u00e9","namespace":"shop","labels":{"tier":"gold"},"generation":1e0,"resourceVersion":"7"},"spec":{"password":"s3cr3t"},"status":{"phase":"Shiny"}}"#;

    fn widgets() -> Resource {
        let registry = Registry::builtin();
        let configmaps = registry.snapshot();
        let mut res = (**configmaps.get("", "v1", "configmaps").expect("configmaps")).clone();
        (res.group, res.plural, res.kind, res.custom) = (
            "example.com".into(),
            "widgets".into(),
            "Widget".into(),
            true,
        );
        res
    }

    /// A metadata watch's event object is the stored `metadata`, byte for byte, as a
    /// `PartialObjectMetadata`: nothing of the spec or status, no decode and re-encode.
    #[test]
    fn metadata_watch_events_carry_the_stored_metadata_only() {
        let res = widgets();
        let out = Output::Metadata.render_event_object(&res, STORED.as_bytes());
        let text = String::from_utf8(out).expect("utf-8");
        let meta = &STORED
            [STORED.find("{\"name\"").expect("metadata")..STORED.find(",\"spec\"").expect("spec")];
        assert_eq!(
            text,
            format!(
                r#"{{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{meta}}}"#
            )
        );
        assert!(
            !text.contains("s3cr3t") && !text.contains("Shiny"),
            "{text}"
        );
        let line = event_line("MODIFIED", text.as_bytes());
        let ev: Value = serde_json::from_slice(&line).expect("one JSON line");
        assert_eq!(
            (
                &ev["type"],
                &ev["object"]["metadata"]["name"],
                &ev["object"]["metadata"]["resourceVersion"]
            ),
            (&json!("MODIFIED"), &json!("café"), &json!("7"))
        );
        // The whole object is still what a plain watch gets.
        let full = Output::Object.render_event_object(&res, STORED.as_bytes());
        assert_eq!(full, STORED.as_bytes());
    }
}
