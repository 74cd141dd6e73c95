//! The one place errors become HTTP statuses and error bodies. Internal causes are logged, not
//! sent. Every [`ApiError`] a request ends with is counted by code ([`count_errors`]).
//!
//! Every error the REST API gives has one shape, `{"error": {"code": …, "message": …}}` with
//! `Content-Type: application/json`, including the ones actix-web makes itself: its extractors'
//! rejections (bad JSON, an oversized body, a bad query string or path, configured once by
//! [`configure`]), an unknown route (404, the app's default service, [`unknown_route`]) and a
//! known path asked with a method it does not serve (405 with `Allow`, each resource's default
//! service, [`method_not_allowed`]). The WebSocket handshake's own refusals on `/ws` are
//! actix-ws's and stay as they are.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use oneclass_actors::roster_validation::InvalidMember;
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
    /// The methods the path does serve, for the `Allow` header of a `method_not_allowed`.
    allow: Vec<Method>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            allow: Vec::new(),
        }
    }

    /// `method` is not served on this path; `allow` is what is (sent as `Allow`, RFC 9110).
    pub fn method_not_allowed(method: &Method, allow: Vec<Method>) -> Self {
        let list = allow
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            allow,
            ..Self::new(
                ErrorCode::MethodNotAllowed,
                format!("{method} is not allowed here (allowed: {list})"),
            )
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
        Self::new(e.code, e.message)
    }
}

/// A roster member refused by [`oneclass_actors::roster_validation`]: its message names the
/// member and the field.
impl From<InvalidMember> for ApiError {
    fn from(e: InvalidMember) -> Self {
        Self::bad_request(e.to_string())
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
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
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
        let mut res = HttpResponse::build(self.status_code());
        if !self.allow.is_empty() {
            res.insert_header(header::Allow(self.allow.clone()));
        }
        res.json(serde_json::json!({"error": {"code": self.code, "message": self.message}}))
    }
}

/// The REST API's side of actix-web's own errors, for the app's root `ServiceConfig`: the
/// extractor configs whose rejections become [`ApiError`]s, with JSON bodies limited to
/// `max_request_bytes`, and the default service that answers unknown routes.
pub fn configure(cfg: &mut web::ServiceConfig, max_request_bytes: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_request_bytes)
            .error_handler(json_error),
    )
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .app_data(web::PathConfig::default().error_handler(path_error))
    .default_service(web::to(unknown_route));
}

/// A JSON body that is not acceptable: too large, not JSON, or not the route's shape (serde's
/// message names the field).
fn json_error(err: JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let e = match &err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::new(ErrorCode::TooLarge, "request body too large")
        }
        JsonPayloadError::ContentType => {
            ApiError::bad_request("expected a body with Content-Type: application/json")
        }
        other => ApiError::bad_request(other.to_string()),
    };
    e.into()
}

/// A query string that does not fit the route's parameters. serde's message names a missing
/// or unknown parameter, but not the one whose value did not parse.
fn query_error(err: QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let message = match &err {
        QueryPayloadError::Deserialize(e) => format!("invalid query string: {e}"),
        other => format!("invalid query string: {other}"),
    };
    ApiError::bad_request(message).into()
}

/// Path segments that do not fit the route's parameters: no such resource, as actix-web's own
/// default says, but in our shape.
fn path_error(err: PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::new(ErrorCode::NotFound, err.to_string()).into()
}

/// The app's default service: no route has this path.
async fn unknown_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorCode::NotFound,
        format!("no route {} {}", req.method(), req.path()),
    ))
}

/// The default service of a resource that serves `allow`: any other method is a 405 naming them.
pub fn method_not_allowed(allow: Vec<Method>) -> actix_web::Route {
    web::to(move |req: HttpRequest| {
        let e = ApiError::method_not_allowed(req.method(), allow.clone());
        async move { Err::<HttpResponse, _>(e) }
    })
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
