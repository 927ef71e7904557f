//! HTTP error answers: the one `ApiError` (apimachinery's Kubernetes `Status`), with the
//! message-only forms the platform's own endpoints use. OAuth errors live in `oauth`.

pub use apimachinery::status::ApiError;

use crate::crds::{CLUSTER, IAM, TENANT};
use crate::error::PlatformError;
use crate::kubeapi;

/// 403 Forbidden with the message as given.
pub fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(403, "Forbidden", message)
}

/// 401 Unauthorized with the message as given.
pub fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(401, "Unauthorized", message)
}

/// 422 Invalid with the message as given (the platform's own checks, without field causes).
pub fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(422, "Invalid", message)
}

/// 409 AlreadyExists with the message as given.
pub fn already_exists(message: impl Into<String>) -> ApiError {
    ApiError::new(409, "AlreadyExists", message)
}

/// 404 for an object of one of the platform's resources, worded as kube-apiserver does
/// (`users.iam.kubesphere.io "x" not found`).
pub fn not_found(resource: &str, name: &str) -> ApiError {
    let group = match resource {
        "users"
        | "globalroles"
        | "globalrolebindings"
        | "workspaceroles"
        | "workspacerolebindings"
        | "clusterroles"
        | "clusterrolebindings"
        | "roles"
        | "rolebindings"
        | "roletemplates"
        | "loginrecords" => IAM,
        "workspaces" | "workspacetemplates" => TENANT,
        "clusters" | "labels" => CLUSTER,
        _ => "",
    };
    ApiError::not_found(group, resource, name)
}

/// 404 for a path nothing serves, as kube-apiserver words it.
pub fn no_route() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

/// A failed call to a cluster's API: its own Status as it was (code, reason, message,
/// details), or 502/504/500 for what never reached an answer.
impl From<PlatformError> for ApiError {
    fn from(e: PlatformError) -> ApiError {
        if let PlatformError::Kube(kube::Error::Api(s)) = &e {
            let mut status = serde_json::to_value(s).unwrap_or_default();
            if status.is_object() {
                status["kind"] = "Status".into();
            }
            if let Some(err) = ApiError::from_status(&status) {
                return err;
            }
        }
        let code = match &e {
            PlatformError::Timeout { .. } => 504,
            PlatformError::Invalid(_) => 400,
            PlatformError::Upstream(_) => 502,
            _ if kubeapi::status_code(&e).is_some() => 502,
            _ => 500,
        };
        tracing::warn!(error = %e, "request failed");
        ApiError::new(code, "InternalError", e.to_string())
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;
