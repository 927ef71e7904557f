//! The PATCH verbs: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and Kubernetes
//! strategic merge patch, with the errors kube-apiserver answers bad patches with.

mod schema;
mod strategic;

pub use schema::{FieldPatchMeta, PatchSchema, StructSchema, builtin_patch_schema};
pub use strategic::strategic_merge_patch;

use serde_json::Value;

use crate::status::ApiError;

/// kube-apiserver's limit on the number of operations in one JSON patch.
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Why a patch could not be applied, classified by the Status kube answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// 400 BadRequest: the patch is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 422 Invalid: the patch is well-formed but cannot be applied to this document; kube
    /// hides the reason behind a generic message, kept here for logs.
    #[error("{0}")]
    Unprocessable(String),
    /// 413 RequestEntityTooLarge: too many JSON patch operations.
    #[error("{0}")]
    TooLarge(String),
    /// 500 with no reason: kube passes strategic-merge internals through unwrapped.
    #[error("{0}")]
    Internal(String),
}

impl PatchError {
    /// The Status error kube-apiserver answers with.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            PatchError::BadRequest(m) => ApiError::bad_request(m.clone()),
            PatchError::Unprocessable(_) => ApiError {
                code: 422,
                reason: "Invalid".into(),
                message: "the server rejected our request due to an error in our request".into(),
                details: Some(Default::default()),
            },
            PatchError::TooLarge(m) => ApiError::too_large(m.clone()),
            PatchError::Internal(m) => ApiError::new(500, "", m.clone()),
        }
    }
}

impl From<PatchError> for ApiError {
    fn from(e: PatchError) -> Self {
        e.to_api_error()
    }
}

/// Applies an RFC 6902 JSON patch to `doc`.
pub fn json_patch(doc: &Value, patch: &[u8]) -> Result<Value, PatchError> {
    let ops: Vec<Value> =
        serde_json::from_slice(patch).map_err(|e| PatchError::BadRequest(go_json_error(&e)))?;
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooLarge(format!(
            "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
            ops.len()
        )));
    }
    let parsed: json_patch::Patch = serde_json::from_value(Value::Array(ops))
        .map_err(|e| PatchError::BadRequest(e.to_string()))?;
    let mut out = doc.clone();
    // `copy` is the one operation that makes the document grow faster than the patch: each
    // copy of a copy doubles it, so twenty operations would need gigabytes. As evanphx/json-patch
    // (kube-apiserver's library) does with its accumulated-copy limit, the bytes every `copy`
    // duplicates are counted before it runs, and the patch fails once they pass the limit.
    // The operations are applied one by one on a private clone, so nothing partial escapes.
    let mut copied = 0usize;
    for op in parsed.0.iter() {
        if let json_patch::PatchOperation::Copy(c) = op {
            let budget = MAX_ACCUMULATED_COPY_BYTES - copied;
            let size = out
                .pointer(c.from.as_str())
                .map(|v| encoded_size_within(v, budget));
            match size {
                Some(Some(n)) => copied += n,
                Some(None) => {
                    return Err(PatchError::Unprocessable(format!(
                        "Unable to accept copy: accumulated copy size limit of {MAX_ACCUMULATED_COPY_BYTES} bytes exceeded"
                    )));
                }
                // A missing `from` fails in the operation itself, with json-patch's message.
                None => {}
            }
        }
        json_patch::patch_unsafe(&mut out, std::slice::from_ref(op))
            .map_err(|e| PatchError::Unprocessable(e.to_string()))?;
    }
    Ok(out)
}

/// How many bytes all `copy` operations of one JSON patch may duplicate together: the
/// request size limit, so a patch cannot make an object larger than one request could.
pub const MAX_ACCUMULATED_COPY_BYTES: usize = 3 * 1024 * 1024;

/// The length of `v` encoded as compact JSON (strings counted without escapes), or `None`
/// as soon as it passes `budget`: the walk stops there, so measuring costs at most `budget`.
pub fn encoded_size_within(v: &Value, budget: usize) -> Option<usize> {
    let mut total = 0usize;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total += match v {
            Value::Null | Value::Bool(true) => 4,
            Value::Bool(false) => 5,
            Value::Number(n) => n.to_string().len(),
            Value::String(s) => s.len() + 2,
            Value::Array(items) => {
                stack.extend(items.iter());
                2 + items.len().saturating_sub(1)
            }
            Value::Object(map) => {
                for (k, item) in map {
                    total += k.len() + 3;
                    stack.push(item);
                }
                2 + map.len().saturating_sub(1)
            }
        };
        if total > budget {
            return None;
        }
    }
    Some(total)
}

/// Applies an RFC 7386 JSON merge patch to `doc`; the patch must be a JSON object, as
/// Kubernetes objects are.
pub fn merge_patch(doc: &Value, patch: &[u8]) -> Result<Value, PatchError> {
    let patch: Value = serde_json::from_slice(patch)
        .map_err(|_| PatchError::BadRequest("Invalid JSON Patch".into()))?;
    if !patch.is_object() {
        return Err(PatchError::BadRequest("Invalid JSON Patch".into()));
    }
    let mut out = doc.clone();
    json_patch::merge(&mut out, &patch);
    Ok(out)
}

/// Words a JSON syntax error the way Go's decoder starts its messages.
fn go_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => {
            format!("json: cannot unmarshal into Go value of type jsonpatch.Patch: {e}")
        }
        _ => format!("invalid character in JSON patch: {e}"),
    }
}

/// Formats a value as Go's `%v` prints decoded JSON (`map[k:v]`, `[a b]`, `<nil>`), which
/// kube's strategic-merge error messages embed.
pub(crate) fn go_fmt(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_fmt).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_fmt(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
