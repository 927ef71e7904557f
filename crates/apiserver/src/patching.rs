//! Applying the patch formats of PATCH requests to a stored object.

use apimachinery::status::ApiError;
use serde_json::Value;

use crate::registry::Resource;
use crate::write::{PatchType, WriteOptions};

fn patch_error(e: apimachinery::patch::PatchError) -> ApiError {
    e.to_api_error()
}

/// Applies a patch of `kind` to `old`, returning the patched object.
pub fn apply(
    res: &Resource,
    old: &Value,
    kind: PatchType,
    patch: &[u8],
    _opts: &WriteOptions,
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
