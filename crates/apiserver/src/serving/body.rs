//! Reading request bodies: size limits and JSON/YAML decoding.

use apimachinery::status::ApiError;
use axum::body::Body;
use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use serde_json::Value;

/// Reads the whole body, refusing more than `limit` bytes with 413.
pub async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::too_large(format!("limit is {limit}")))
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "error reading request body: {e}"
        ))),
    }
}

/// The media type of the request body, without parameters.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Bodies up to this size are decoded on the async worker; larger ones, and every YAML body
/// (whose cost is not proportional to its size), on the blocking pool, so that a hostile body
/// never stalls the runtime that serves everyone else.
const INLINE_DECODE_BYTES: usize = 64 * 1024;

/// Decodes an object body sent as JSON or YAML (or protobuf), off the async worker threads
/// when it could be expensive.
pub async fn decode_object(headers: &HeaderMap, bytes: &Bytes) -> Result<Value, ApiError> {
    let ct = content_type(headers);
    if bytes.len() <= INLINE_DECODE_BYTES && !is_yaml(&ct) {
        return decode_as(&ct, bytes);
    }
    let bytes = bytes.clone();
    off_thread(move || decode_as(&ct, &bytes)).await
}

fn is_yaml(ct: &str) -> bool {
    matches!(
        ct,
        "application/yaml" | "application/x-yaml" | "text/yaml" | "application/apply-patch+yaml"
    )
}

/// Runs CPU-heavy request work on tokio's blocking pool.
pub async fn off_thread<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("request processing failed: {e}")))?
}

/// Decodes an object body of media type `ct` sent as JSON, YAML or protobuf.
fn decode_as(ct: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    let value: Value = match ct {
        "" | "application/json" | "*/*" => serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad_request(format!(
                "the object provided is unrecognized (must be of type {}): couldn't decode JSON: {e}",
                "Object"
            ))
        })?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => decode_yaml(bytes)?,
        "application/vnd.kubernetes.protobuf" => kubeproto::decode(bytes)
            .map_err(|e| ApiError::bad_request(format!("unable to decode the protobuf body: {e}")))?,
        other => {
            return Err(ApiError::unsupported_media_type(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {other})"
            )));
        }
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    Ok(value)
}

/// Decodes YAML into JSON, with bounded alias expansion, node count and depth.
/// Blocking: async callers use [`decode_yaml_off_thread`].
pub fn decode_yaml(bytes: &[u8]) -> Result<Value, ApiError> {
    apimachinery::yaml::decode(bytes)
        .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))
}

/// [`decode_yaml`] on the blocking pool.
pub async fn decode_yaml_off_thread(bytes: &[u8]) -> Result<Value, ApiError> {
    let bytes = Bytes::copy_from_slice(bytes);
    off_thread(move || decode_yaml(&bytes)).await
}
