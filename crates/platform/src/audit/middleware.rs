//! The HTTP side of auditing: the outermost layer ([`layer`]) that times a request and, when
//! the answer is ready, queues what it saw of it (a [`Capture`]: cheap copies of facts the
//! request path already has; the event is built from it on the audit worker), and the two
//! hooks through which the authentication and authorization layers tell it who the caller is
//! ([`note_user`]) and what the request is about ([`note_request`]), so that refused requests
//! (401, 403, 429) are recorded as well.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::Frame;

use super::capture::{Capture, Stage};
use super::event::Level;
use super::{Auditor, Entry, policy};
use crate::authz::scope::RequestInfo;
use crate::authz::{Authorizer, UserInfo};
use crate::http::Shared;

/// Request bodies and answers larger than this are not kept in an event.
const BODY_LIMIT: usize = 256 * 1024;
/// Failure answers up to this size are read for their message.
const STATUS_LIMIT: usize = 64 * 1024;

/// What the inner layers learnt about a request (carried in its extensions).
#[derive(Clone, Default)]
struct Slot(Arc<Mutex<Seen>>);

#[derive(Default)]
struct Seen {
    user: Option<UserInfo>,
    info: Option<RequestInfo>,
    workspace: Option<String>,
    cluster: Option<String>,
}

impl Slot {
    fn with(&self, f: impl FnOnce(&mut Seen)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn take(&self) -> Seen {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Tells auditing who the caller is (the authentication layer, once it knows).
pub fn note_user(ext: &http::Extensions, user: &UserInfo) {
    if let Some(slot) = ext.get::<Slot>() {
        slot.with(|s| s.user = Some(user.clone()));
    }
}

/// Tells auditing what the request is about (the authorization layer, before it decides):
/// the resolved request, its workspace (the path's, or its namespace's as the target cluster
/// labels it, read now because a deletion may remove it) and its cluster (`None`: the host).
pub fn note_request(
    ext: &http::Extensions,
    info: &RequestInfo,
    authz: &Authorizer,
    cluster: Option<&str>,
) {
    let Some(slot) = ext.get::<Slot>() else {
        return;
    };
    let workspace = (!info.namespace.is_empty())
        .then(|| authz.workspace_of(&info.namespace))
        .flatten()
        .or_else(|| (!info.workspace.is_empty()).then(|| info.workspace.clone()));
    slot.with(|s| {
        s.info = Some(info.clone());
        s.workspace = workspace;
        s.cluster = cluster.map(str::to_string);
    });
}

/// A request body's chunks kept for the event (shared handles, no copy), with their total
/// size; `None` once they pass [`BODY_LIMIT`].
type Kept = Arc<Mutex<Option<(Vec<Bytes>, usize)>>>;

/// A request body passed through while handles to its first [`BODY_LIMIT`] bytes are kept.
struct Tee {
    inner: Body,
    kept: Kept,
}

impl HttpBody for Tee {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let mut kept = this.kept.lock().unwrap_or_else(|e| e.into_inner());
            // Too large to keep: nothing is kept rather than a cut body.
            let over = kept
                .as_ref()
                .is_some_and(|(_, n)| n + data.len() > BODY_LIMIT);
            if over {
                *kept = None;
            } else if let Some((chunks, n)) = kept.as_mut() {
                chunks.push(data.clone());
                *n += data.len();
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// An answer's body that records the request's `ResponseComplete` stage when it ends (or the
/// client goes away): long-running requests (watches, streams, upgrades).
struct OnEnd {
    inner: Body,
    pending: Option<(Arc<Capture>, Arc<Auditor>)>,
}

impl OnEnd {
    fn finish(&mut self) {
        if let Some((capture, auditor)) = self.pending.take() {
            auditor.enqueue(Entry::Request {
                capture,
                stage: Stage::Complete,
                at: chrono::Utc::now(),
            });
        }
    }
}

impl HttpBody for OnEnd {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for OnEnd {
    fn drop(&mut self) {
        self.finish();
    }
}

fn is_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

fn query_flag(query: Option<&str>, key: &str) -> bool {
    let Some(q) = query.filter(|q| q.contains(key)) else {
        return false;
    };
    form_urlencoded::parse(q.as_bytes())
        .any(|(k, v)| k == key && matches!(v.as_ref(), "1" | "t" | "true" | "True" | "TRUE"))
}

/// The audit layer (outermost, so that every answer — refusals and panics included — is seen).
///
/// It only notes what the request path already knows and queues it; the event is built,
/// redacted and serialised on the audit worker.
pub async fn layer(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let settings = state.audit.settings();
    let level = policy::level_for(
        req.method(),
        req.uri().path(),
        settings.write_level,
        settings.read_level,
    );
    if level == Level::None {
        return next.run(req).await;
    }
    let received = chrono::Utc::now();
    let slot = Slot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();
    let uri = req.uri().clone();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let client =
        crate::http::login::client_ip(peer, req.headers(), &state.settings.trusted_proxies);
    let user_agent = req.headers().get(http::header::USER_AGENT).cloned();
    let kept: Option<Kept> =
        if level >= Level::Request && !policy::is_read(&method) && is_json(req.headers()) {
            let kept: Kept = Arc::new(Mutex::new(Some((Vec::new(), 0))));
            let tee = kept.clone();
            req = req.map(|inner| Body::new(Tee { inner, kept: tee }));
            Some(kept)
        } else {
            None
        };

    let mut resp = next.run(req).await;

    let seen = slot.take();
    // Refused before authorization: what the path says (rare; needed now for the stage).
    let info = seen.info.unwrap_or_else(|| {
        RequestInfo::parse(method.as_str(), uri.path(), uri.query().unwrap_or_default())
    });
    let code = resp.status().as_u16();
    let long_running = code == 101
        || info.verb == "watch"
        || matches!(
            info.subresource.as_str(),
            "exec" | "attach" | "portforward" | "proxy"
        )
        || query_flag(uri.query(), "follow");
    let keep_answer = level == Level::RequestResponse && is_json(resp.headers());
    let mut answer = None;
    if !long_running && (code >= 400 || keep_answer) {
        let limit = if keep_answer {
            BODY_LIMIT
        } else {
            STATUS_LIMIT
        };
        let exact = resp.body().size_hint().exact();
        if exact.is_some_and(|n| n <= limit as u64) {
            let (parts, body) = resp.into_parts();
            let bytes = axum::body::to_bytes(body, limit).await.unwrap_or_default();
            resp = Response::from_parts(parts, Body::from(bytes.clone()));
            answer = Some(bytes);
        }
    }
    let request_body = kept.and_then(|k| {
        k.lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .map(|(chunks, _)| chunks)
    });
    let capture = Arc::new(Capture {
        level,
        // A random (v4) UUID's bits from the thread's generator: no system call per request.
        id: rand::random(),
        received,
        uri,
        peer,
        client,
        user_agent,
        user: seen.user,
        info,
        workspace: seen.workspace,
        cluster: seen.cluster,
        code,
        long_running,
        answer,
        keep_answer,
        request_body,
    });
    let auditor = &state.audit;
    if !long_running {
        auditor.enqueue(Entry::Request {
            capture,
            stage: Stage::Complete,
            at: chrono::Utc::now(),
        });
        return resp;
    }
    // As kube-apiserver: a long-running request is recorded when its answer starts, and again
    // when it completes.
    auditor.enqueue(Entry::Request {
        capture: capture.clone(),
        stage: Stage::Started,
        at: chrono::Utc::now(),
    });
    let (parts, body) = resp.into_parts();
    let body = OnEnd {
        inner: body,
        pending: Some((capture, auditor.clone())),
    };
    Response::from_parts(parts, Body::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_flags() {
        assert!(query_flag(Some("follow=true&tailLines=10"), "follow"));
        assert!(query_flag(Some("a=b&follow=1"), "follow"));
        assert!(!query_flag(Some("follow=false"), "follow"));
        assert!(!query_flag(Some("limit=10"), "follow"));
        assert!(!query_flag(None, "follow"));
    }
}
