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
    json_patch::patch(&mut out, &parsed).map_err(|e| PatchError::Unprocessable(e.to_string()))?;
    Ok(out)
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
