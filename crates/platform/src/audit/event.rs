//! The `audit.k8s.io/v1` `Event` and `EventList` shapes, as kube-apiserver writes them (its log
//! backend writes one `Event` per line; its webhook backend posts `EventList` batches).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The API version of audit events.
pub const API_VERSION: &str = "audit.k8s.io/v1";
/// The annotation naming the workspace a request is about.
pub const WORKSPACE_ANNOTATION: &str = "kubesphere.io/workspace";
/// The annotation naming the cluster a request is about.
pub const CLUSTER_ANNOTATION: &str = "kubesphere.io/cluster";

/// How much of a request is recorded (Kubernetes' audit levels, in increasing order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub enum Level {
    /// Not recorded.
    #[default]
    None,
    /// Who, what, when and the answer's status; no bodies.
    Metadata,
    /// Metadata and the request body (redacted).
    Request,
    /// Metadata and both bodies (redacted).
    RequestResponse,
}

impl std::str::FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Level, String> {
        match s {
            "None" => Ok(Level::None),
            "Metadata" => Ok(Level::Metadata),
            "Request" => Ok(Level::Request),
            "RequestResponse" => Ok(Level::RequestResponse),
            other => Err(format!(
                "{other:?} is not an audit level (None, Metadata, Request, RequestResponse)"
            )),
        }
    }
}

/// The authenticated user of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct User {
    /// User name.
    pub username: String,
    /// Groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// What object a request is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// Resource (plural).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource: String,
    /// Namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// API group (empty for core).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_group: String,
    /// API version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Subresource.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subresource: String,
}

/// The answer's status (a `meta/v1` `Status`, as much as audit keeps of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ResponseStatus {
    /// Always empty (kept for the shape).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// `Failure` for failures.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// The failure's message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The failure's reason.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The HTTP status code.
    pub code: u16,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `Event`.
    pub kind: String,
    /// `audit.k8s.io/v1`.
    pub api_version: String,
    /// The level it was recorded at.
    pub level: Level,
    /// Unique per request.
    #[serde(rename = "auditID")]
    pub audit_id: String,
    /// `ResponseStarted` (long-running requests) or `ResponseComplete`.
    pub stage: String,
    /// The request's path and query (credentials in the query removed).
    #[serde(rename = "requestURI")]
    pub request_uri: String,
    /// The RBAC verb (the lower-case method for non-resource requests).
    pub verb: String,
    /// Who.
    pub user: User,
    /// Where from.
    #[serde(rename = "sourceIPs", default)]
    pub source_ips: Vec<String>,
    /// The client's `User-Agent`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user_agent: String,
    /// What object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ref: Option<ObjectReference>,
    /// The answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_status: Option<ResponseStatus>,
    /// The request body (Request level and up; redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object: Option<Value>,
    /// The answer's body (RequestResponse level; redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_object: Option<Value>,
    /// When the request arrived (RFC 3339, microseconds).
    pub request_received_timestamp: String,
    /// When this stage was reached.
    pub stage_timestamp: String,
    /// Workspace and cluster (see the constants), and others.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// `request_received_timestamp` in microseconds since the epoch (for queries; not sent).
    #[serde(skip)]
    pub received_micros: i64,
}

impl Event {
    /// The workspace annotation, if any.
    pub fn workspace(&self) -> Option<&str> {
        self.annotations
            .get(WORKSPACE_ANNOTATION)
            .map(String::as_str)
    }

    /// The cluster annotation, if any.
    pub fn cluster(&self) -> Option<&str> {
        self.annotations.get(CLUSTER_ANNOTATION).map(String::as_str)
    }
}

/// A batch of events (what the webhook backend posts).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventList<'a> {
    /// `EventList`.
    pub kind: &'static str,
    /// `audit.k8s.io/v1`.
    pub api_version: &'static str,
    /// Always empty.
    pub metadata: BTreeMap<String, String>,
    /// The events.
    pub items: Vec<&'a Event>,
}

impl<'a> EventList<'a> {
    /// A list of `items`.
    pub fn of(items: &'a [Arc<Event>]) -> EventList<'a> {
        EventList {
            kind: "EventList",
            api_version: API_VERSION,
            metadata: BTreeMap::new(),
            items: items.iter().map(Arc::as_ref).collect(),
        }
    }
}

/// A time as audit events write it (RFC 3339 with microseconds, UTC).
pub fn micro_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_and_parse() {
        assert!(Level::None < Level::Metadata);
        assert!(Level::Request < Level::RequestResponse);
        assert_eq!("Request".parse::<Level>(), Ok(Level::Request));
        assert!("metadata".parse::<Level>().is_err());
    }

    #[test]
    fn serialises_in_the_audit_shape() {
        let e = Event {
            kind: "Event".into(),
            api_version: API_VERSION.into(),
            level: Level::Metadata,
            audit_id: "id".into(),
            stage: "ResponseComplete".into(),
            request_uri: "/api/v1/namespaces/a/configmaps".into(),
            verb: "create".into(),
            user: User {
                username: "alice".into(),
                groups: vec!["system:authenticated".into()],
            },
            source_ips: vec!["127.0.0.1".into()],
            user_agent: String::new(),
            object_ref: Some(ObjectReference {
                resource: "configmaps".into(),
                namespace: "a".into(),
                api_version: "v1".into(),
                ..Default::default()
            }),
            response_status: Some(ResponseStatus {
                code: 201,
                ..Default::default()
            }),
            request_object: None,
            response_object: None,
            request_received_timestamp: "2026-01-01T00:00:00.000000Z".into(),
            stage_timestamp: "2026-01-01T00:00:00.000100Z".into(),
            annotations: BTreeMap::from([(CLUSTER_ANNOTATION.into(), "host".into())]),
            received_micros: 1,
        };
        let v = serde_json::to_value(&e).expect("json");
        assert_eq!(v["auditID"], "id");
        assert_eq!(v["requestURI"], "/api/v1/namespaces/a/configmaps");
        assert_eq!(v["sourceIPs"][0], "127.0.0.1");
        assert_eq!(v["objectRef"]["apiVersion"], "v1");
        assert!(v["objectRef"].get("apiGroup").is_none());
        assert_eq!(v["responseStatus"]["code"], 201);
        assert_eq!(v["annotations"]["kubesphere.io/cluster"], "host");
        assert!(v.get("receivedMicros").is_none());
        let list = serde_json::to_value(EventList::of(&[Arc::new(e)])).expect("json");
        assert_eq!(list["kind"], "EventList");
        assert_eq!(list["items"][0]["verb"], "create");
    }
}
