//! The HTTP side of auditing: the outermost layer ([`layer`]) that times a request and records
//! its event when the answer is ready, and the two hooks through which the authentication and
//! authorization layers tell it who the caller is ([`note_user`]) and what the request is about
//! ([`note_request`]), so that refused requests (401, 403, 429) are recorded as well.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::Frame;
use serde_json::Value;

use super::event::{
    API_VERSION, CLUSTER_ANNOTATION, Event, Level, ObjectReference, ResponseStatus, User,
    WORKSPACE_ANNOTATION, micro_time,
};
use super::{Auditor, policy};
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

/// A request body passed through while its first [`BODY_LIMIT`] bytes are copied.
struct Tee {
    inner: Body,
    copy: Arc<Mutex<Option<Vec<u8>>>>,
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
            let mut copy = this.copy.lock().unwrap_or_else(|e| e.into_inner());
            // Too large to keep: nothing is kept rather than a cut body.
            let over = copy
                .as_ref()
                .is_some_and(|c| c.len() + data.len() > BODY_LIMIT);
            if over {
                *copy = None;
            } else if let Some(c) = copy.as_mut() {
                c.extend_from_slice(data);
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

/// An answer's body that records the event's `ResponseComplete` stage when it ends (or the
/// client goes away): long-running requests (watches, streams, upgrades).
struct OnEnd {
    inner: Body,
    pending: Option<(Event, Arc<Auditor>)>,
}

impl OnEnd {
    fn finish(&mut self) {
        if let Some((mut event, auditor)) = self.pending.take() {
            event.stage_timestamp = micro_time(chrono::Utc::now());
            auditor.record(event);
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
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .any(|(k, v)| k == key && matches!(v.as_ref(), "1" | "t" | "true" | "True" | "TRUE"))
}

/// The cluster a path names (`/clusters/{c}/…`), for requests refused before authorization.
fn cluster_of_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/clusters/")?;
    let name = rest.split('/').next().filter(|n| !n.is_empty())?;
    Some(name.to_string())
}

/// The parsed JSON of a body, redacted, if it is one.
fn body_object(bytes: &[u8], secret_context: bool) -> Option<Value> {
    let mut v: Value = serde_json::from_slice(bytes).ok()?;
    policy::redact(&mut v, secret_context);
    Some(v)
}

/// The audit layer (outermost, so that every answer — refusals and panics included — is seen).
pub async fn layer(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let auditor = state.audit.clone();
    let settings = auditor.settings();
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
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let origin =
        crate::http::login::Origin::of(peer, req.headers(), &state.settings.trusted_proxies);
    let mut source_ips = vec![origin.ip.clone()];
    if peer.ip().to_string() != origin.ip {
        source_ips.push(peer.ip().to_string());
    }
    let copy = if level >= Level::Request && !policy::is_read(&method) && is_json(req.headers()) {
        let copy = Arc::new(Mutex::new(Some(Vec::new())));
        let tee = copy.clone();
        req = req.map(|inner| Body::new(Tee { inner, copy: tee }));
        Some(copy)
    } else {
        None
    };

    let mut resp = next.run(req).await;

    let seen = slot.take();
    let info = seen.info.unwrap_or_else(|| {
        RequestInfo::parse(method.as_str(), &path, query.as_deref().unwrap_or_default())
    });
    let code = resp.status().as_u16();
    let long_running = code == 101
        || info.verb == "watch"
        || matches!(
            info.subresource.as_str(),
            "exec" | "attach" | "portforward" | "proxy"
        )
        || query_flag(query.as_deref(), "follow");
    let secret_context = info.resource == "secrets" || path.split('/').any(|s| s == "secrets");

    let mut response_status = ResponseStatus {
        code,
        ..Default::default()
    };
    let mut response_object = None;
    let keep_answer = level == Level::RequestResponse && is_json(resp.headers());
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
            if code >= 400
                && let Ok(status) = serde_json::from_slice::<Value>(&bytes)
            {
                let text = |k: &str| status[k].as_str().unwrap_or_default().to_string();
                response_status.status = "Failure".into();
                response_status.message = text("message");
                response_status.reason = text("reason");
            }
            if keep_answer {
                response_object = body_object(&bytes, secret_context);
            }
            resp = Response::from_parts(parts, Body::from(bytes));
        } else if code >= 400 {
            response_status.status = "Failure".into();
        }
    }
    let request_object = copy
        .and_then(|c| c.lock().unwrap_or_else(|e| e.into_inner()).take())
        .and_then(|bytes| body_object(&bytes, secret_context));

    let object_ref = info.is_resource_request.then(|| {
        let mut o = ObjectReference {
            resource: info.resource.clone(),
            namespace: info.namespace.clone(),
            name: info.name.clone(),
            api_group: info.api_group.clone(),
            api_version: info.api_version.clone(),
            subresource: info.subresource.clone(),
        };
        // A create names its object in the body.
        if o.name.is_empty()
            && let Some(n) = request_object
                .as_ref()
                .and_then(|b| b["metadata"]["name"].as_str())
        {
            o.name = n.to_string();
        }
        o
    });
    let mut annotations = BTreeMap::new();
    if let Some(ws) = seen.workspace.filter(|w| !w.is_empty()) {
        annotations.insert(WORKSPACE_ANNOTATION.to_string(), ws);
    }
    let cluster = seen
        .cluster
        .or_else(|| cluster_of_path(&path))
        .unwrap_or_else(|| auditor.host_cluster.clone());
    annotations.insert(CLUSTER_ANNOTATION.to_string(), cluster);
    let user = seen.user.unwrap_or_else(UserInfo::anonymous);
    let now = micro_time(chrono::Utc::now());
    let event = Event {
        kind: "Event".into(),
        api_version: API_VERSION.into(),
        level,
        // A random (v4) UUID from the thread's generator: no system call per request.
        audit_id: uuid::Builder::from_random_bytes(rand::random())
            .into_uuid()
            .to_string(),
        stage: "ResponseComplete".into(),
        request_uri: policy::request_uri(&path, query.as_deref()),
        verb: info.verb,
        user: User {
            username: user.name,
            groups: user.groups,
        },
        source_ips,
        user_agent: origin.user_agent,
        object_ref,
        response_status: Some(response_status),
        request_object,
        response_object,
        request_received_timestamp: micro_time(received),
        stage_timestamp: now,
        annotations,
        received_micros: received.timestamp_micros(),
    };
    if !long_running {
        auditor.record(event);
        return resp;
    }
    // As kube-apiserver: a long-running request is recorded when its answer starts, and again
    // when it completes.
    let mut started = event.clone();
    started.stage = "ResponseStarted".into();
    auditor.record(started);
    let (parts, body) = resp.into_parts();
    let body = OnEnd {
        inner: body,
        pending: Some((event, auditor.clone())),
    };
    Response::from_parts(parts, Body::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_paths() {
        assert_eq!(
            cluster_of_path("/clusters/m1/api/v1/pods").as_deref(),
            Some("m1")
        );
        assert_eq!(cluster_of_path("/api/v1/pods"), None);
        assert_eq!(cluster_of_path("/clusters/"), None);
    }
}
