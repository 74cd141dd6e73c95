//! The one place errors become HTTP statuses and error bodies. Internal causes are logged, not
//! sent. Every [`ApiError`] a request ends with is counted by code ([`count_errors`]).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse, ResponseError};
use oneclass_actors::wire_error;
use oneclass_protocol::reply::ErrorBody;
use oneclass_protocol::ErrorCode;
use oneclass_storage::StorageError;

use crate::startup::AppState;

/// An error of a REST handler.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "not allowed")
    }

    pub fn unavailable() -> Self {
        Self::new(ErrorCode::Unavailable, "temporarily unavailable, retry")
    }

    /// A storage error a route met itself (not through an actor): [`wire_error::storage`]
    /// decides the code (a bad page token is `bad_request` with storage's text), and an
    /// `unavailable` keeps the REST wording of [`ApiError::unavailable`].
    pub fn storage(what: &'static str, e: &StorageError) -> Self {
        Self::rest(wire_error::storage(what, e))
    }

    /// A storage error of a write the route cannot do without (a revocation, an access audit):
    /// always `unavailable` ([`wire_error::unavailable`]), in the REST wording.
    pub fn journal_unavailable(what: &'static str, e: &StorageError) -> Self {
        Self::rest(wire_error::unavailable(what, e))
    }

    /// A refusal from [`oneclass_actors::permissions`], with the REST wording of a forbidden.
    pub fn denied(code: ErrorCode) -> Self {
        match code {
            ErrorCode::Forbidden => Self::forbidden(),
            code => Self::new(code, "not allowed"),
        }
    }

    fn rest(body: ErrorBody) -> Self {
        match body.code {
            ErrorCode::Unavailable => Self::unavailable(),
            _ => body.into(),
        }
    }
}

impl From<ErrorBody> for ApiError {
    fn from(e: ErrorBody) -> Self {
        Self {
            code: e.code,
            message: e.message,
        }
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(e: actix::MailboxError) -> Self {
        tracing::warn!(error = %e, "actor unavailable");
        Self::unavailable()
    }
}

/// HTTP status of an error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({"error": {"code": self.code, "message": self.message}}))
    }
}

/// Turns actix-web's own extractor errors (bad JSON, oversized body) into our error shape.
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError;
    let e = match &err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::new(ErrorCode::TooLarge, "request body too large")
        }
        other => ApiError::bad_request(other.to_string()),
    };
    e.into()
}

/// Middleware (`actix_web::middleware::from_fn`): counts the [`ApiError`] a request ended with,
/// by code, in the hub's `oneclass_errors_total`. [`ApiError::error_response`] cannot reach the
/// app's state, so the count is taken here from the error actix keeps beside the response. An
/// app without [`AppState`] (middleware tests) counts nothing.
pub async fn count_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let res = next.call(req).await;
    let error = match &res {
        Ok(res) => res.response().error(),
        Err(e) => Some(e),
    };
    if let (Some(metrics), Some(e)) = (metrics, error.and_then(|e| e.as_error::<ApiError>())) {
        metrics.error(e.code);
    }
    res
}
