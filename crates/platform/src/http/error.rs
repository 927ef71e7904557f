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
    /// The `details` of the Status (kind, name, causes), when there are any — kept from an
    /// upstream answer.
    pub details: Option<serde_json::Value>,
}

/// Kubernetes' `StatusReason` values (metav1), so that an upstream reason survives as itself.
fn known_reason(reason: &str) -> Option<&'static str> {
    const REASONS: [&str; 19] = [
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "AlreadyExists",
        "Conflict",
        "Gone",
        "Invalid",
        "ServerTimeout",
        "StoreReadError",
        "Timeout",
        "TooManyRequests",
        "BadRequest",
        "MethodNotAllowed",
        "NotAcceptable",
        "RequestEntityTooLarge",
        "UnsupportedMediaType",
        "InternalError",
        "Expired",
        "ServiceUnavailable",
    ];
    REASONS.iter().copied().find(|r| *r == reason)
}

/// The reason kube gives a status code when the Status names none.
fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Gone",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}

impl ApiError {
    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            code: StatusCode::BAD_REQUEST,
            reason: "BadRequest",
            message: message.into(),
            details: None,
        }
    }

    /// 404.
    pub fn not_found(what: &str, name: &str) -> ApiError {
        ApiError {
            code: StatusCode::NOT_FOUND,
            reason: "NotFound",
            message: format!("{what} \"{name}\" not found"),
            details: None,
        }
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError {
            code: StatusCode::FORBIDDEN,
            reason: "Forbidden",
            message: message.into(),
            details: None,
        }
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError {
            code: StatusCode::UNAUTHORIZED,
            reason: "Unauthorized",
            message: message.into(),
            details: None,
        }
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError {
            code: StatusCode::CONFLICT,
            reason: "AlreadyExists",
            message: message.into(),
            details: None,
        }
    }

    /// 422.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError {
            code: StatusCode::UNPROCESSABLE_ENTITY,
            reason: "Invalid",
            message: message.into(),
            details: None,
        }
    }
}

impl From<PlatformError> for ApiError {
    fn from(e: PlatformError) -> ApiError {
        if let PlatformError::Kube(kube::Error::Api(s)) = &e {
            // The upstream Status as it was: its code, reason, message and details.
            let code = StatusCode::from_u16(s.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let reason = known_reason(&s.reason).unwrap_or_else(|| reason_for(s.code));
            return ApiError {
                code,
                reason,
                message: s.message.clone(),
                details: s
                    .details
                    .as_ref()
                    .and_then(|d| serde_json::to_value(d).ok()),
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
            details: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code.as_u16(),
        });
        if let Some(d) = self.details {
            body["details"] = d;
        }
        (self.code, Json(body)).into_response()
    }
}

/// Handler result.
pub type ApiResult<T> = Result<T, ApiError>;
