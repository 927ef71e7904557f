//! Kubernetes `Status` errors, with the codes, reasons and messages kube-apiserver uses
//! (k8s.io/apimachinery/pkg/api/errors).

use serde_json::{Map, Value};

use crate::go_quote;
use crate::validation::{FieldError, aggregate_messages};

/// An API error that the server answers with a `Status` object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status code (also the Status `code`).
    pub code: u16,
    /// Machine-readable reason such as `NotFound`; empty for an unknown reason.
    pub reason: String,
    /// Human-readable message, exactly as kube-apiserver words it.
    pub message: String,
    /// Extra details; `Some` even when empty if kube sends `"details":{}`.
    pub details: Option<Box<StatusDetails>>,
}

/// The `details` of a `Status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusDetails {
    /// Name of the object concerned.
    pub name: Option<String>,
    /// API group of the object concerned.
    pub group: Option<String>,
    /// Kind (or, as kube does for most errors, the resource) of the object concerned.
    pub kind: Option<String>,
    /// UID of the object concerned.
    pub uid: Option<String>,
    /// Individual causes, such as field validation errors.
    pub causes: Vec<StatusCause>,
    /// Seconds the client should wait before retrying.
    pub retry_after_seconds: Option<u32>,
}

/// One cause of a `Status` failure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCause {
    /// Cause type such as `FieldValueInvalid` (serialised as `reason`).
    pub reason: String,
    /// Human-readable description of the cause.
    pub message: String,
    /// Field path the cause is about, e.g. `metadata.name`.
    pub field: String,
}

/// `resource.group`, or `resource` for the core group, as `schema.GroupResource.String()`.
pub fn qualified_resource(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

fn opt(s: &str) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s.to_string())
    }
}

fn resource_details(group: &str, resource: &str, name: &str) -> StatusDetails {
    StatusDetails {
        name: opt(name),
        group: opt(group),
        kind: opt(resource),
        ..StatusDetails::default()
    }
}

/// The message kube uses after "... the object has been modified" conflicts.
pub const STALE_CONFLICT_REASON: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

impl ApiError {
    /// Builds an error from its parts.
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: reason.to_string(),
            message: message.into(),
            details: None,
        }
    }

    /// 404 NotFound: `configmaps "foo" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        ApiError {
            code: 404,
            reason: "NotFound".into(),
            message: format!(
                "{} {} not found",
                qualified_resource(group, resource),
                go_quote(name)
            ),
            details: Some(Box::new(resource_details(group, resource, name))),
        }
    }

    /// 409 AlreadyExists: `configmaps "foo" already exists`.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        ApiError {
            code: 409,
            reason: "AlreadyExists".into(),
            message: format!(
                "{} {} already exists",
                qualified_resource(group, resource),
                go_quote(name)
            ),
            details: Some(Box::new(resource_details(group, resource, name))),
        }
    }

    /// 409 AlreadyExists after the server failed to generate a unique name.
    pub fn generate_name_conflict(
        group: &str,
        resource: &str,
        name: &str,
        retry_after_seconds: u32,
    ) -> Self {
        let mut details = resource_details(group, resource, name);
        details.retry_after_seconds = Some(retry_after_seconds).filter(|s| *s > 0);
        ApiError {
            code: 409,
            reason: "AlreadyExists".into(),
            message: format!(
                "{} {} already exists, the server was not able to generate a unique name for the object",
                qualified_resource(group, resource),
                go_quote(name)
            ),
            details: Some(Box::new(details)),
        }
    }

    /// 409 Conflict: `Operation cannot be fulfilled on configmaps "foo": <why>`.
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        ApiError {
            code: 409,
            reason: "Conflict".into(),
            message: format!(
                "Operation cannot be fulfilled on {} {}: {why}",
                qualified_resource(group, resource),
                go_quote(name)
            ),
            details: Some(Box::new(resource_details(group, resource, name))),
        }
    }

    /// 409 Conflict for a stale `resourceVersion` on update.
    pub fn stale_conflict(group: &str, resource: &str, name: &str) -> Self {
        Self::conflict(group, resource, name, STALE_CONFLICT_REASON)
    }

    /// 409 Conflict for server-side apply conflicts (`NewApplyConflict`).
    pub fn apply_conflict(causes: Vec<StatusCause>, message: impl Into<String>) -> Self {
        ApiError {
            code: 409,
            reason: "Conflict".into(),
            message: message.into(),
            details: Some(Box::new(StatusDetails {
                causes,
                ..StatusDetails::default()
            })),
        }
    }

    /// 422 Invalid: `ConfigMap "Foo" is invalid: metadata.name: Invalid value: ...`.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Self {
        let qualified_kind = qualified_resource(group, kind);
        let causes = errors
            .iter()
            .map(|e| StatusCause {
                reason: e.kind.cause_type().to_string(),
                message: e.body(),
                field: e.field.clone(),
            })
            .collect();
        let message = match aggregate_messages(errors) {
            None => format!("{qualified_kind} {} is invalid", go_quote(name)),
            Some(agg) => format!("{qualified_kind} {} is invalid: {agg}", go_quote(name)),
        };
        ApiError {
            code: 422,
            reason: "Invalid".into(),
            message,
            details: Some(Box::new(StatusDetails {
                name: opt(name),
                group: opt(group),
                kind: opt(kind),
                causes,
                ..StatusDetails::default()
            })),
        }
    }

    /// 400 BadRequest with the message as given.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", msg)
    }

    /// 403 Forbidden: `configmaps "foo" is forbidden: <why>` (the forms of `NewForbidden`).
    pub fn forbidden(group: &str, resource: &str, name: &str, why: &str) -> Self {
        let message = if group.is_empty() && resource.is_empty() {
            format!("forbidden: {why}")
        } else if name.is_empty() {
            format!(
                "{} is forbidden: {why}",
                qualified_resource(group, resource)
            )
        } else {
            format!(
                "{} {} is forbidden: {why}",
                qualified_resource(group, resource),
                go_quote(name)
            )
        };
        ApiError {
            code: 403,
            reason: "Forbidden".into(),
            message,
            details: Some(Box::new(resource_details(group, resource, name))),
        }
    }

    /// 401 Unauthorized exactly as kube-apiserver answers a failed authentication.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 401 Unauthorized with a custom message (`NewUnauthorized`; empty means "not authorized").
    pub fn unauthorized_with(reason: &str) -> Self {
        let message = if reason.is_empty() {
            "not authorized"
        } else {
            reason
        };
        Self::new(401, "Unauthorized", message)
    }

    /// 405 MethodNotAllowed: `<action> is not supported on resources of kind "pods"`.
    pub fn method_not_allowed(group: &str, resource: &str, action: &str) -> Self {
        ApiError {
            code: 405,
            reason: "MethodNotAllowed".into(),
            message: format!(
                "{action} is not supported on resources of kind {}",
                go_quote(&qualified_resource(group, resource))
            ),
            details: Some(Box::new(resource_details(group, resource, ""))),
        }
    }

    /// 410 Expired (`NewResourceExpired`), e.g. for a compacted resourceVersion.
    pub fn expired(msg: impl Into<String>) -> Self {
        Self::new(410, "Expired", msg)
    }

    /// 410 Gone (`NewGone`).
    pub fn gone(msg: impl Into<String>) -> Self {
        Self::new(410, "Gone", msg)
    }

    /// 413 RequestEntityTooLarge: `Request entity too large: <msg>`.
    pub fn too_large(msg: impl Into<String>) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: {}", msg.into()),
        )
    }

    /// 415 UnsupportedMediaType with the message as given.
    pub fn unsupported_media_type(msg: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", msg)
    }

    /// 415 for a body in a format the endpoint does not accept (`NewUnsupportedMediaTypeError`).
    pub fn unsupported_media_type_accepted(accepted: &[&str]) -> Self {
        Self::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        ))
    }

    /// 406 NotAcceptable with the message as given.
    pub fn not_acceptable(msg: impl Into<String>) -> Self {
        Self::new(406, "NotAcceptable", msg)
    }

    /// 406 for an `Accept` header the endpoint cannot satisfy (`NewNotAcceptableError`).
    pub fn not_acceptable_accepted(accepted: &[&str]) -> Self {
        Self::not_acceptable(format!(
            "only the following media types are accepted: {}",
            accepted.join(", ")
        ))
    }

    /// 500 InternalError: `Internal error occurred: <msg>`.
    pub fn internal(msg: impl Into<String>) -> Self {
        let msg = msg.into();
        ApiError {
            code: 500,
            reason: "InternalError".into(),
            message: format!("Internal error occurred: {msg}"),
            details: Some(Box::new(StatusDetails {
                causes: vec![StatusCause {
                    message: msg,
                    ..StatusCause::default()
                }],
                ..StatusDetails::default()
            })),
        }
    }

    /// 504 Timeout: `Timeout: <msg>` (`NewTimeoutError`).
    pub fn timeout(msg: impl Into<String>) -> Self {
        ApiError {
            code: 504,
            reason: "Timeout".into(),
            message: format!("Timeout: {}", msg.into()),
            details: Some(Box::default()),
        }
    }

    /// kube's "Too large resource version" (504 Timeout, retry after 1 s, cause
    /// `ResourceVersionTooLarge`): a list or watch asked for a revision the store has not
    /// reached.
    pub fn too_large_resource_version(requested: i64, current: i64) -> Self {
        let mut e = Self::timeout(format!(
            "Too large resource version: {requested}, current: {current}"
        ));
        e.details = Some(Box::new(StatusDetails {
            causes: vec![StatusCause {
                reason: "ResourceVersionTooLarge".into(),
                message: "Too large resource version".into(),
                field: String::new(),
            }],
            retry_after_seconds: Some(1),
            ..StatusDetails::default()
        }));
        e
    }

    /// 503 ServiceUnavailable with the message as given.
    pub fn service_unavailable(msg: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", msg)
    }

    /// 429 TooManyRequests with a retry hint (`NewTooManyRequests`).
    pub fn too_many_requests(msg: impl Into<String>, retry_after_seconds: u32) -> Self {
        ApiError {
            code: 429,
            reason: "TooManyRequests".into(),
            message: msg.into(),
            details: Some(Box::new(StatusDetails {
                retry_after_seconds: Some(retry_after_seconds).filter(|s| *s > 0),
                ..StatusDetails::default()
            })),
        }
    }

    /// The `Status` object kube-apiserver would send for this error (empty fields omitted).
    pub fn to_status(&self) -> Value {
        let mut status = Map::new();
        status.insert("kind".into(), Value::from("Status"));
        status.insert("apiVersion".into(), Value::from("v1"));
        status.insert("metadata".into(), Value::Object(Map::new()));
        status.insert("status".into(), Value::from("Failure"));
        if !self.message.is_empty() {
            status.insert("message".into(), Value::from(self.message.as_str()));
        }
        if !self.reason.is_empty() {
            status.insert("reason".into(), Value::from(self.reason.as_str()));
        }
        if let Some(details) = &self.details {
            status.insert("details".into(), details.to_json());
        }
        if self.code != 0 {
            status.insert("code".into(), Value::from(self.code));
        }
        Value::Object(status)
    }
}

impl ApiError {
    /// Reads a `Status` object (e.g. one a member cluster answered with); `None` if the
    /// value is not a failure `Status`.
    pub fn from_status(status: &Value) -> Option<Self> {
        if status.get("kind").and_then(Value::as_str) != Some("Status")
            || status.get("status").and_then(Value::as_str) == Some("Success")
        {
            return None;
        }
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let details = status.get("details").filter(|d| d.is_object()).map(|d| {
            Box::new(StatusDetails {
                name: text(d, "name"),
                group: text(d, "group"),
                kind: text(d, "kind"),
                uid: text(d, "uid"),
                causes: d
                    .get("causes")
                    .and_then(Value::as_array)
                    .map(|cs| {
                        cs.iter()
                            .map(|c| StatusCause {
                                reason: text(c, "reason").unwrap_or_default(),
                                message: text(c, "message").unwrap_or_default(),
                                field: text(c, "field").unwrap_or_default(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                retry_after_seconds: d
                    .get("retryAfterSeconds")
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok()),
            })
        });
        Some(ApiError {
            code: status
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(500),
            reason: text(status, "reason").unwrap_or_default(),
            message: text(status, "message").unwrap_or_default(),
            details,
        })
    }
}

impl StatusDetails {
    /// The JSON form of the details, in kube's field order, empty fields omitted.
    pub fn to_json(&self) -> Value {
        let mut d = Map::new();
        let fields = [
            ("name", &self.name),
            ("group", &self.group),
            ("kind", &self.kind),
            ("uid", &self.uid),
        ];
        for (key, value) in fields {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                d.insert(key.into(), Value::from(v));
            }
        }
        if !self.causes.is_empty() {
            let causes = self.causes.iter().map(StatusCause::to_json).collect();
            d.insert("causes".into(), Value::Array(causes));
        }
        if let Some(secs) = self.retry_after_seconds.filter(|s| *s > 0) {
            d.insert("retryAfterSeconds".into(), Value::from(secs));
        }
        Value::Object(d)
    }
}

impl StatusCause {
    /// The JSON form of the cause, empty fields omitted.
    pub fn to_json(&self) -> Value {
        let mut c = Map::new();
        for (key, value) in [
            ("reason", &self.reason),
            ("message", &self.message),
            ("field", &self.field),
        ] {
            if !value.is_empty() {
                c.insert(key.into(), Value::from(value.as_str()));
            }
        }
        Value::Object(c)
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for ApiError {
    /// The `Status` object with the error's code, and `Retry-After` when the details carry it.
    fn into_response(self) -> axum::response::Response {
        use axum::http::{HeaderValue, StatusCode, header};
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.to_status()).unwrap_or_default();
        let mut resp = (code, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(secs) = self.details.as_ref().and_then(|d| d.retry_after_seconds)
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}
