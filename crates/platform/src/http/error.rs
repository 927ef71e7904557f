//! HTTP error answers: Kubernetes `Status` objects (OAuth errors live in `oauth`).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::json;

use crate::error::PlatformError;
use crate::hostapi;

/// An error answered as a Kubernetes `Status`.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub code: StatusCode,
    /// Kubernetes reason (`NotFound`, `Forbidden`…).
    pub reason: &'static str,
    /// Message for the person reading it.
    pub message: String,
}

impl ApiError {
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            code: StatusCode::BAD_REQUEST,
            reason: "BadRequest",
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(what: &str, name: &str) -> ApiError {
        ApiError {
            code: StatusCode::NOT_FOUND,
            reason: "NotFound",
            message: format!("{what} \"{name}\" not found"),
        }
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError {
            code: StatusCode::FORBIDDEN,
            reason: "Forbidden",
            message: message.into(),
        }
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError {
            code: StatusCode::UNAUTHORIZED,
            reason: "Unauthorized",
            message: message.into(),
        }
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError {
            code: StatusCode::CONFLICT,
            reason: "AlreadyExists",
            message: message.into(),
        }
    }

    /// 422.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError {
            code: StatusCode::UNPROCESSABLE_ENTITY,
            reason: "Invalid",
            message: message.into(),
        }
    }
}

impl From<PlatformError> for ApiError {
    fn from(e: PlatformError) -> ApiError {
        if let PlatformError::Kube(kube::Error::Api(s)) = &e {
            let code = StatusCode::from_u16(s.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let reason = match s.code {
                400 => "BadRequest",
                403 => "Forbidden",
                404 => "NotFound",
                409 => {
                    if s.reason == "Conflict" {
                        "Conflict"
                    } else {
                        "AlreadyExists"
                    }
                }
                422 => "Invalid",
                _ => "InternalError",
            };
            return ApiError {
                code,
                reason,
                message: s.message.clone(),
            };
        }
        let code = match &e {
            PlatformError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            PlatformError::Invalid(_) => StatusCode::BAD_REQUEST,
            _ if hostapi::status_code(&e).is_some() => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        tracing::warn!(error = %e, "request failed");
        ApiError {
            code,
            reason: "InternalError",
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code.as_u16(),
        });
        (self.code, Json(body)).into_response()
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;
