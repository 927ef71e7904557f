//! Building HTTP responses: JSON bodies and `Status` errors.

use apimachinery::status::ApiError;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::Value;

/// A response body of JSON bytes.
pub fn json_bytes(code: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.into()));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A response body of a JSON value.
pub fn json(code: StatusCode, value: &Value) -> Response<Body> {
    json_bytes(code, serde_json::to_vec(value).unwrap_or_default())
}

/// A `Status` error response.
pub fn error(err: &ApiError) -> Response<Body> {
    axum::response::IntoResponse::into_response(err.clone())
}

/// A plain-text response (health checks).
pub fn text(code: StatusCode, body: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = code;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Maps a store error to the `Status` Kubernetes answers for it.
pub fn store_error(err: store::StoreError, group: &str, resource: &str, name: &str) -> ApiError {
    use store::StoreError as E;
    match err {
        E::AlreadyExists => ApiError::already_exists(group, resource, name),
        E::NotFound => ApiError::not_found(group, resource, name),
        E::Conflict { .. } => ApiError::stale_conflict(group, resource, name),
        E::Compacted { compacted } => ApiError::expired(format!(
            "The resourceVersion for the provided list is too old. (compacted at {compacted})"
        )),
        E::FutureRevision { current } => ApiError::timeout(format!(
            "Too large resource version: requested revision is newer than the current {current}"
        )),
        E::Closed => ApiError::service_unavailable("the store is shutting down"),
        other => ApiError::internal(other.to_string()),
    }
}
