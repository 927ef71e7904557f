//! What the request path keeps of an audited request ([`Capture`]: the facts it already has,
//! copied cheaply — the parsed request, the caller, the status code, the times, the bodies as
//! `Bytes` handles) and the building of its `Event` from that on the audit worker
//! ([`Capture::event`]): parsing and redacting the bodies, formatting the times and the audit
//! ID, rewriting the URI without credentials, the object reference and the annotations. None
//! of that runs while the client waits.

use std::collections::BTreeMap;
use std::net::IpAddr;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::event::{
    API_VERSION, CLUSTER_ANNOTATION, Event, Level, ObjectReference, ResponseStatus, User,
    WORKSPACE_ANNOTATION, micro_time,
};
use super::policy;
use crate::authz::UserInfo;
use crate::authz::scope::RequestInfo;

/// An audited request as the request path saw it.
pub(crate) struct Capture {
    /// The level it is recorded at.
    pub level: Level,
    /// The audit ID's random bits (a v4 UUID once formatted).
    pub id: [u8; 16],
    /// When the request arrived.
    pub received: DateTime<Utc>,
    /// The request's URI (path and query as sent).
    pub uri: http::Uri,
    /// The connection's peer.
    pub peer: IpAddr,
    /// The client: the peer, or the address a trusted proxy forwarded for.
    pub client: IpAddr,
    /// The `User-Agent` header.
    pub user_agent: Option<http::HeaderValue>,
    /// Who (`None`: refused before authentication, recorded as anonymous).
    pub user: Option<UserInfo>,
    /// What the request is about (resolved by authorization, or parsed from the path).
    pub info: RequestInfo,
    /// The workspace the request is about, if any.
    pub workspace: Option<String>,
    /// The cluster the request went to (`None`: the path's, else the host).
    pub cluster: Option<String>,
    /// The answer's status code.
    pub code: u16,
    /// A watch, stream, upgrade or followed log: its answer is not read.
    pub long_running: bool,
    /// The answer's body, when it was read (a failure, for its message; at `RequestResponse`,
    /// a JSON answer).
    pub answer: Option<Bytes>,
    /// Whether the answer's body is kept in the event (`RequestResponse`, JSON).
    pub keep_answer: bool,
    /// The request body's chunks, when it is kept (`Request` and up, a JSON write no larger
    /// than the limit).
    pub request_body: Option<Vec<Bytes>>,
}

/// Which stage of a request an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// A long-running request's answer has started.
    Started,
    /// The answer is complete (or the client went away).
    Complete,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Started => "ResponseStarted",
            Stage::Complete => "ResponseComplete",
        }
    }
}

/// The parsed JSON of a body, redacted, if it is one.
fn body_object(bytes: &[u8], secret_context: bool) -> Option<Value> {
    let mut v: Value = serde_json::from_slice(bytes).ok()?;
    policy::redact(&mut v, secret_context);
    Some(v)
}

/// The cluster a path names (`/clusters/{c}/…`), for requests refused before authorization.
fn cluster_of_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/clusters/")?;
    let name = rest.split('/').next().filter(|n| !n.is_empty())?;
    Some(name.to_string())
}

/// The `User-Agent` as events keep it: text only, at most [`MAX_USER_AGENT`] bytes (cut on a
/// character boundary), as login records keep it.
///
/// [`MAX_USER_AGENT`]: crate::http::login::MAX_USER_AGENT
fn user_agent(v: Option<&http::HeaderValue>) -> String {
    let s = v.and_then(|v| v.to_str().ok()).unwrap_or_default();
    let mut end = s.len().min(crate::http::login::MAX_USER_AGENT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl Capture {
    /// The event of `stage`, reached at `at`; `host_cluster` names the host in the cluster
    /// annotation.
    pub fn event(&self, stage: Stage, at: DateTime<Utc>, host_cluster: &str) -> Event {
        let info = &self.info;
        let path = self.uri.path();
        let query = self.uri.query();
        let secret_context = info.resource == "secrets" || path.split('/').any(|s| s == "secrets");

        let mut response_status = ResponseStatus {
            code: self.code,
            ..Default::default()
        };
        let mut response_object = None;
        if !self.long_running && (self.code >= 400 || self.keep_answer) {
            if let Some(bytes) = &self.answer {
                if self.code >= 400
                    && let Ok(status) = serde_json::from_slice::<Value>(bytes)
                {
                    let text = |k: &str| status[k].as_str().unwrap_or_default().to_string();
                    response_status.status = "Failure".into();
                    response_status.message = text("message");
                    response_status.reason = text("reason");
                }
                if self.keep_answer {
                    response_object = body_object(bytes, secret_context);
                }
            } else if self.code >= 400 {
                response_status.status = "Failure".into();
            }
        }
        let request_object = self.request_body.as_ref().and_then(|chunks| {
            if let [one] = chunks.as_slice() {
                body_object(one, secret_context)
            } else {
                body_object(&chunks.concat(), secret_context)
            }
        });

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
        if let Some(ws) = self.workspace.as_ref().filter(|w| !w.is_empty()) {
            annotations.insert(WORKSPACE_ANNOTATION.to_string(), ws.clone());
        }
        let cluster = self
            .cluster
            .clone()
            .or_else(|| cluster_of_path(path))
            .unwrap_or_else(|| host_cluster.to_string());
        annotations.insert(CLUSTER_ANNOTATION.to_string(), cluster);
        let user = match &self.user {
            Some(u) => User {
                username: u.name.clone(),
                groups: u.groups.clone(),
            },
            None => {
                let u = UserInfo::anonymous();
                User {
                    username: u.name,
                    groups: u.groups,
                }
            }
        };
        let mut source_ips = vec![self.client.to_string()];
        if self.peer != self.client {
            source_ips.push(self.peer.to_string());
        }
        Event {
            kind: "Event".into(),
            api_version: API_VERSION.into(),
            level: self.level,
            audit_id: uuid::Builder::from_random_bytes(self.id)
                .into_uuid()
                .to_string(),
            stage: stage.name().into(),
            request_uri: policy::request_uri(path, query),
            verb: info.verb.clone(),
            user,
            source_ips,
            user_agent: user_agent(self.user_agent.as_ref()),
            object_ref,
            response_status: Some(response_status),
            request_object,
            response_object,
            request_received_timestamp: micro_time(self.received),
            stage_timestamp: micro_time(at),
            annotations,
            received_micros: self.received.timestamp_micros(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn capture(method: &str, uri: &str) -> Capture {
        let uri: http::Uri = uri.parse().expect("uri");
        Capture {
            level: Level::RequestResponse,
            id: [7; 16],
            received: DateTime::from_timestamp_micros(1_780_000_000_123_456).expect("time"),
            info: RequestInfo::parse(method, uri.path(), uri.query().unwrap_or_default()),
            uri,
            peer: "10.0.0.9".parse().expect("ip"),
            client: "10.0.0.9".parse().expect("ip"),
            user_agent: Some(http::HeaderValue::from_static("kubectl/v1.33")),
            user: Some(UserInfo {
                name: "alice".into(),
                groups: vec!["system:authenticated".into()],
            }),
            workspace: Some("ws-a".into()),
            cluster: None,
            code: 201,
            long_running: false,
            answer: None,
            keep_answer: false,
            request_body: None,
        }
    }

    #[test]
    fn a_create_names_its_object_and_keeps_its_bodies_redacted() {
        let mut c = capture(
            "POST",
            "/api/v1/namespaces/pb/secrets?fieldManager=x&token=abc",
        );
        let body = json!({"kind": "Secret", "metadata": {"name": "creds"},
            "stringData": {"password": "hunter22"}})
        .to_string();
        // The body arrived in two chunks.
        let (a, b) = body.split_at(10);
        c.request_body = Some(vec![
            Bytes::copy_from_slice(a.as_bytes()),
            Bytes::copy_from_slice(b.as_bytes()),
        ]);
        c.keep_answer = true;
        c.answer = Some(Bytes::from(
            json!({"kind": "Secret", "metadata": {"name": "creds"}, "data": {"password": "aHVudGVyMjI="}})
                .to_string(),
        ));
        let at = c.received + chrono::Duration::microseconds(250);
        let e = c.event(Stage::Complete, at, "host");
        assert_eq!(e.audit_id, "07070707-0707-4707-8707-070707070707");
        assert_eq!(e.stage, "ResponseComplete");
        assert_eq!(e.verb, "create");
        assert_eq!(
            e.request_uri,
            "/api/v1/namespaces/pb/secrets?fieldManager=x&token=REDACTED"
        );
        let o = e.object_ref.clone().expect("object");
        assert_eq!((o.resource.as_str(), o.name.as_str()), ("secrets", "creds"));
        assert_eq!(o.api_version, "v1");
        let text = serde_json::to_string(&e).expect("json");
        assert!(
            !text.contains("hunter22") && !text.contains("aHVudGVyMjI="),
            "{text}"
        );
        assert_eq!(
            e.request_object.as_ref().expect("request")["stringData"]["password"],
            policy::REDACTED
        );
        assert_eq!(
            e.response_object.as_ref().expect("answer")["metadata"]["name"],
            "creds"
        );
        assert_eq!(e.request_received_timestamp, "2026-05-28T20:26:40.123456Z");
        assert_eq!(e.stage_timestamp, "2026-05-28T20:26:40.123706Z");
        assert_eq!(e.received_micros, 1_780_000_000_123_456);
        assert_eq!(e.workspace(), Some("ws-a"));
        assert_eq!(e.cluster(), Some("host"));
        assert_eq!(e.source_ips, vec!["10.0.0.9".to_string()]);
        assert_eq!(e.user_agent, "kubectl/v1.33");
        assert_eq!(e.user.username, "alice");
    }

    #[test]
    fn a_refusal_keeps_its_message_and_who_forwarded_it() {
        let mut c = capture("GET", "/clusters/m1/api/v1/namespaces/a/pods");
        c.level = Level::Metadata;
        c.code = 403;
        c.user = None;
        c.client = "192.0.2.7".parse().expect("ip");
        c.answer = Some(Bytes::from(
            json!({"kind": "Status", "status": "Failure", "message": "pods is forbidden",
                "reason": "Forbidden", "code": 403})
            .to_string(),
        ));
        c.user_agent = Some(http::HeaderValue::from_str(&"a".repeat(400)).expect("header"));
        let e = c.event(Stage::Complete, c.received, "host");
        let s = e.response_status.clone().expect("status");
        assert_eq!(
            (s.status.as_str(), s.message.as_str(), s.reason.as_str()),
            ("Failure", "pods is forbidden", "Forbidden")
        );
        assert!(e.response_object.is_none(), "Metadata keeps no body");
        assert_eq!(e.user.username, UserInfo::anonymous().name);
        assert_eq!(e.source_ips, vec!["192.0.2.7", "10.0.0.9"]);
        assert_eq!(e.cluster(), Some("m1"));
        // Cut to the limit.
        assert_eq!(e.user_agent.len(), crate::http::login::MAX_USER_AGENT);
        // A failure whose answer was not read is still a failure.
        c.answer = None;
        let s = c.event(Stage::Complete, c.received, "host").response_status;
        assert_eq!(s.expect("status").status, "Failure");
        // A long-running request's answer is never looked at.
        c.long_running = true;
        let e = c.event(Stage::Started, c.received, "host");
        assert_eq!(e.stage, "ResponseStarted");
        assert_eq!(e.response_status.expect("status").status, "");
    }

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
