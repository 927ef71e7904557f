//! Applying the patch formats of PATCH requests to a stored object.

use apimachinery::status::ApiError;
use serde_json::Value;

use crate::registry::Resource;
use crate::write::PatchType;

fn patch_error(e: apimachinery::patch::PatchError) -> ApiError {
    e.to_api_error()
}

/// Applies a patch of `kind` to `old`, returning the patched object.
pub fn apply(
    res: &Resource,
    old: &Value,
    kind: PatchType,
    patch: &[u8],
) -> Result<Value, ApiError> {
    match kind {
        PatchType::Json => apimachinery::patch::json_patch(old, patch).map_err(patch_error),
        PatchType::Merge => apimachinery::patch::merge_patch(old, patch).map_err(patch_error),
        PatchType::Strategic => {
            let schema = apimachinery::patch::builtin_patch_schema(&res.group, &res.kind)
                .ok_or_else(|| {
                    ApiError::unsupported_media_type(format!(
                        "strategic merge patch is not supported for {}",
                        res.qualified_plural()
                    ))
                })?;
            apimachinery::patch::strategic_merge_patch(old, patch, schema).map_err(patch_error)
        }
        PatchType::Apply => Err(ApiError::internal(
            "server-side apply is handled by write::patch",
        )),
    }
}

/// Patches smaller than this are applied on the async worker.
const INLINE_PATCH_BYTES: usize = 16 * 1024;

/// [`apply`], on the blocking pool when it could be expensive: large patches, and every JSON
/// patch (its `copy` operations duplicate up to the accumulated-copy limit).
pub async fn apply_off_thread(
    res: &Resource,
    old: &Value,
    kind: PatchType,
    patch: &[u8],
) -> Result<Value, ApiError> {
    if patch.len() <= INLINE_PATCH_BYTES && kind != PatchType::Json {
        return apply(res, old, kind, patch);
    }
    let (res, old, patch) = (res.clone(), old.clone(), patch.to_vec());
    crate::body::off_thread(move || apply(&res, &old, kind, &patch)).await
}
