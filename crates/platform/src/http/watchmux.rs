//! `GET /console/watch`: many watches over one WebSocket, so a console tab holds one connection
//! however many live lists it shows.
//!
//! The client sends `{"id": 1, "path": "/api/v1/namespaces/a/pods", "query": "labelSelector=…&resourceVersion=42"}`
//! to start a watch and `{"id": 1, "close": true}` to stop it. Each watch is an ordinary GET
//! through the platform's own router, carrying the upgrade request's credentials, so it is
//! authenticated, authorized and proxied exactly as a direct watch would be. The server answers
//! `{"id": 1, "event": <watch event>}` per event, `{"id": 1, "end": true}` when the stream
//! ends and `{"id": 1, "error": {"code": 403, "status": <Status>}}` when it is refused.
//! `"metadata": true` asks for a metadata watch (`PartialObjectMetadata`): each event's object
//! is cut down to its kind and metadata, without managed fields or annotations that can quote a
//! Secret's values, whatever the cluster sent — so a live list of Secrets learns of changes
//! without their values reaching the browser.

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::extract::Extension;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Request, header};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// The router the watches go through (the platform's own, without this endpoint's layer).
#[derive(Clone)]
pub struct Inner(pub Router);

/// Most watches one connection may hold at once.
const MAX_WATCHES: usize = 64;
/// Largest error body passed back to the client.
const MAX_ERROR_BODY: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
struct Command {
    id: u64,
    #[serde(default)]
    path: String,
    #[serde(default)]
    query: String,
    #[serde(default)]
    close: bool,
    #[serde(default)]
    metadata: bool,
}

/// What a metadata watch asks the cluster for.
const METADATA_ACCEPT: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/// A metadata watch's event: the object's kind and metadata only, without what can quote values
/// (an ERROR event's Status is passed as it is).
fn metadata_event(mut event: Value) -> Value {
    if event["type"] == "ERROR" {
        return event;
    }
    let o = &event["object"];
    let cut = json!({
        "apiVersion": o["apiVersion"],
        "kind": o["kind"],
        "metadata": super::secrets::without_values(&o["metadata"]),
    });
    event["object"] = cut;
    event
}

/// Whether a browser's `Origin` is this server (a page of another site cannot open the socket
/// with the user's cookies). Non-browser clients send no `Origin`.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or_default();
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// Whether `path` is something one may watch through the multiplexer.
pub fn watchable(path: &str) -> bool {
    (path.starts_with("/api/") || path.starts_with("/apis/") || path.starts_with("/clusters/"))
        && !path.contains("..")
        && !path.contains('?')
}

/// How often an open socket re-checks the token it was opened with (and at once when the
/// signing key changes): a revoked token (logout, password change, disabled user, key
/// rotation) closes the socket and every watch on it within this bound.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// The bearer token the socket was opened with (header, or the console's cookie).
fn bearer_of(headers: &HeaderMap) -> Option<String> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    from_header.or_else(|| {
        super::session::token_from_cookie(&http::Method::GET, headers)
            .ok()
            .flatten()
    })
}

/// Resolves when `token` stops being valid (checked every [`RECHECK`] and on key changes);
/// never, without a token (Basic credentials are not re-verified).
async fn revoked(state: super::Shared, token: Option<String>) {
    let Some(token) = token else {
        return std::future::pending().await;
    };
    let mut keys = state.tokens.key_changes();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RECHECK) => {}
            _ = keys.changed() => {}
        }
        if state.tokens.authenticate(&token).await.is_err() {
            return;
        }
    }
}

/// `GET /console/watch` (WebSocket upgrade).
pub async fn upgrade(
    axum::extract::State(state): axum::extract::State<super::Shared>,
    Extension(inner): Extension<Inner>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return super::error::forbidden(
            "watch connections must come from the console's own origin",
        )
        .into_response();
    }
    let creds: Vec<(HeaderName, HeaderValue)> = headers
        .iter()
        .filter(|(k, _)| **k == header::COOKIE || **k == header::AUTHORIZATION)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let revoked = revoked(state, bearer_of(&headers));
    ws.on_upgrade(move |socket| run(socket, inner.0, creds, revoked))
}

async fn run(
    socket: WebSocket,
    router: Router,
    creds: Vec<(HeaderName, HeaderValue)>,
    revoked: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<String>(256);
    let writer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
        // Close the socket properly whichever side ended it.
        let _ = sink.send(Message::Close(None)).await;
    });
    let mut watches: HashMap<u64, JoinHandle<()>> = HashMap::new();
    let mut revoked = std::pin::pin!(revoked);
    loop {
        let msg = tokio::select! {
            m = stream.next() => m,
            _ = &mut revoked => {
                let _ = tx
                    .send(json!({"error": {"code": 401, "message": "the token of this connection was revoked"}}).to_string())
                    .await;
                break;
            }
        };
        let Some(Ok(msg)) = msg else { break };
        let text = match msg {
            Message::Text(t) => t,
            Message::Close(_) => break,
            _ => continue,
        };
        watches.retain(|_, h| !h.is_finished());
        let cmd: Command = match serde_json::from_str(&text) {
            Ok(c) => c,
            Err(e) => {
                let _ = tx
                    .send(
                        json!({"error": {"code": 400, "message": format!("bad command: {e}")}})
                            .to_string(),
                    )
                    .await;
                continue;
            }
        };
        if let Some(h) = watches.remove(&cmd.id) {
            h.abort();
        }
        if cmd.close {
            continue;
        }
        if watches.len() >= MAX_WATCHES {
            let _ = tx
                .send(error_frame(
                    cmd.id,
                    429,
                    json!({"message": "too many watches on one connection"}),
                ))
                .await;
            continue;
        }
        let task = tokio::spawn(watch(
            router.clone(),
            creds.clone(),
            cmd.id,
            cmd.path,
            cmd.query,
            cmd.metadata,
            tx.clone(),
        ));
        watches.insert(cmd.id, task);
    }
    for (_, h) in watches {
        h.abort();
    }
    drop(tx);
    let _ = writer.await;
}

fn error_frame(id: u64, code: u16, status: Value) -> String {
    json!({"id": id, "error": {"code": code, "status": status}}).to_string()
}

/// The query with `watch=1` forced (a list would not stream).
fn watch_query(query: &str) -> String {
    let mut q: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "watch")
        .collect();
    q.push(("watch".into(), "1".into()));
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(q)
        .finish()
}

async fn watch(
    router: Router,
    creds: Vec<(HeaderName, HeaderValue)>,
    id: u64,
    path: String,
    query: String,
    metadata: bool,
    tx: mpsc::Sender<String>,
) {
    if !watchable(&path) {
        let _ = tx
            .send(error_frame(
                id,
                400,
                json!({"message": "only /api, /apis and /clusters paths can be watched"}),
            ))
            .await;
        return;
    }
    let mut req = match Request::get(format!("{path}?{}", watch_query(&query))).body(Body::empty())
    {
        Ok(r) => r,
        Err(e) => {
            let _ = tx
                .send(error_frame(id, 400, json!({"message": e.to_string()})))
                .await;
            return;
        }
    };
    for (k, v) in creds {
        req.headers_mut().append(k, v);
    }
    if metadata {
        req.headers_mut()
            .insert(header::ACCEPT, HeaderValue::from_static(METADATA_ACCEPT));
    }
    let resp = match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status();
    if !status.is_success() {
        let body = axum::body::to_bytes(resp.into_body(), MAX_ERROR_BODY)
            .await
            .unwrap_or_default();
        let status_obj = serde_json::from_slice::<Value>(&body)
            .unwrap_or_else(|_| json!({"message": String::from_utf8_lossy(&body)}));
        let _ = tx.send(error_frame(id, status.as_u16(), status_obj)).await;
        return;
    }
    let mut body = resp.into_body().into_data_stream();
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { break };
        pending.extend_from_slice(&chunk);
        while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            let Ok(mut event) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            if metadata {
                event = metadata_event(event);
            }
            if tx
                .send(json!({"id": id, "event": event}).to_string())
                .await
                .is_err()
            {
                return;
            }
        }
    }
    let _ = tx.send(json!({"id": id, "end": true}).to_string()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_must_match_the_host() {
        let mut h = HeaderMap::new();
        assert!(same_origin(&h), "no Origin: not a browser");
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:3000"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn only_resource_paths_are_watchable() {
        assert!(watchable("/api/v1/pods"));
        assert!(watchable("/clusters/m1/apis/apps/v1/deployments"));
        assert!(!watchable("/kapis/iam.kubesphere.io/v1beta1/users"));
        assert!(!watchable("/console/watch"));
        assert!(!watchable("/api/v1/../../oauth/token"));
    }

    #[test]
    fn metadata_events_carry_no_values() {
        let ev = json!({"type": "MODIFIED", "object": {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "resourceVersion": "7", "managedFields": [{"manager": "k"}],
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"p\":\"c2VjcmV0\"}}", "team": "a"}},
            "data": {"p": "c2VjcmV0"}}});
        let out = metadata_event(ev);
        assert!(!out.to_string().contains("c2VjcmV0"), "{out}");
        assert_eq!(out["object"]["metadata"]["resourceVersion"], "7");
        assert_eq!(
            out["object"]["metadata"]["annotations"],
            json!({"team": "a"})
        );
        let err = json!({"type": "ERROR", "object": {"kind": "Status", "code": 410}});
        assert_eq!(metadata_event(err.clone()), err);
    }

    #[test]
    fn watch_is_forced_in_the_query() {
        assert_eq!(
            watch_query("labelSelector=app%3Dweb&watch=0"),
            "labelSelector=app%3Dweb&watch=1"
        );
        assert_eq!(watch_query(""), "watch=1");
    }
}
