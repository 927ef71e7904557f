//! `POST /kapis/iam.kubesphere.io/v1beta1/identityproviders/test` with an identity provider's
//! configuration (`{name, type, mappingMethod, provider}`, as in its Secret's
//! `configuration.yaml`): checks it against the provider before it is saved (or after), for the
//! administrators' page. Authorized like any platform API: creating `identityproviders` at the
//! platform level. Providers themselves are Secrets (see [`crate::identity`]), changed through
//! the Secret API by those who may.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Shared, parse_json};
use crate::identity::{self, ProviderConfig};

/// Checks the configuration in the body; `{ok, message}` either way (a provider that does not
/// answer is a result here, not an error of this request).
pub async fn test(State(_state): State<Shared>, body: Bytes) -> ApiResult<Json<Value>> {
    let v = parse_json(&body)?;
    let cfg: ProviderConfig = serde_json::from_value(v)
        .map_err(|e| ApiError::bad_request(format!("the configuration: {e}")))?;
    Ok(Json(match identity::check(&cfg).await {
        Ok(message) => json!({"ok": true, "message": message}),
        Err(message) => json!({"ok": false, "message": message}),
    }))
}
