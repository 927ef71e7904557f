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
    let err = ApiError::expired(msg);
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
    let (initial, after): (Vec<store::KeyValue>, Revision) = if send_initial {
        let listed = cluster
            .store
            .list(&prefix, None, 0, None)
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
                (Vec::new(), n)
            }
        }
    };
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(256);
    let watcher = cluster.store.watch(&prefix, after);
    let timeout = Duration::from_secs(
        params
            .timeout_seconds
            .unwrap_or_else(|| 1800 + rand::random::<u64>() % 1800),
    );
    let bookmark_interval = cluster.config.bookmark_interval;
    let shutdown = cluster.shutdown.clone();
    let bookmarks = params.bookmarks;
    tokio::spawn(async move {
        let mut watcher = match watcher {
            Ok(w) => w,
            Err(store::StoreError::Compacted { compacted }) => {
                let _ = tx
                    .send(Ok(expired_event(format!(
                        "too old resource version: {after} ({compacted})"
                    ))))
                    .await;
                return;
            }
            Err(e) => {
                let err = ApiError::internal(e.to_string());
                let _ = tx
                    .send(Ok(event_line(
                        "ERROR",
                        &serde_json::to_vec(&err.to_status()).unwrap_or_default(),
                    )))
                    .await;
                return;
            }
        };
        for kv in &initial {
            match selectors.matches_bytes(&res, &kv.value) {
                Ok(true) => {}
                _ => continue,
            }
            let obj = output.render_event_object(&res, &kv.value);
            if tx.send(Ok(event_line("ADDED", &obj))).await.is_err() {
                return;
            }
        }
        if send_initial
            && bookmarks
            && params.send_initial_events == Some(true)
            && tx.send(Ok(bookmark(&res, after, true))).await.is_err()
        {
            return;
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut ticker = tokio::time::interval_at(
            tokio::time::Instant::now() + bookmark_interval,
            bookmark_interval,
        );
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = shutdown.cancelled() => return,
                _ = tx.closed() => return,
                _ = ticker.tick(), if bookmarks => {
                    watcher.poll_progress();
                    if tx.send(Ok(bookmark(&res, watcher.progress(), false))).await.is_err() {
                        return;
                    }
                }
                ev = watcher.next() => {
                    let ev = match ev {
                        None => return,
                        Some(Err(store::StoreError::Compacted { compacted })) => {
                            let _ = tx.send(Ok(expired_event(format!(
                                "too old resource version: {} ({compacted})", watcher.progress()
                            )))).await;
                            return;
                        }
                        Some(Err(e)) => {
                            let err = ApiError::internal(e.to_string());
                            let _ = tx.send(Ok(event_line("ERROR", &serde_json::to_vec(&err.to_status()).unwrap_or_default()))).await;
                            return;
                        }
                        Some(Ok(ev)) => ev,
                    };
                    let new_matches = selectors.matches_bytes(&res, &ev.kv.value).unwrap_or(false);
                    let kind = match ev.kind {
                        EventType::Created => new_matches.then_some("ADDED"),
                        EventType::Deleted => new_matches.then_some("DELETED"),
                        EventType::Updated => {
                            let old_matches = match &ev.prev {
                                Some(p) if !selectors.is_empty() => selectors.matches_bytes(&res, &p.value).unwrap_or(false),
                                _ => true,
                            };
                            match (old_matches, new_matches) {
                                (true, true) => Some("MODIFIED"),
                                (false, true) => Some("ADDED"),
                                (true, false) => Some("DELETED"),
                                (false, false) => None,
                            }
                        }
                    };
                    if let Some(kind) = kind {
                        let obj = output.render_event_object(&res, &ev.kv.value);
                        if tx.send(Ok(event_line(kind, &obj))).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    });
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

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

impl Output {
    /// The object a watch event carries for this output format.
    pub fn render_event_object(&self, res: &Resource, stored: &[u8]) -> Vec<u8> {
        match self {
            Output::Object => {
                crate::crd::in_version(res, &bytes::Bytes::copy_from_slice(stored)).to_vec()
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
