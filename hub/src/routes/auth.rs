//! The caller of a REST request, from `Authorization: Bearer <jwt>`.

use actix_web::HttpRequest;
use oneclass_actors::{Authenticator, Principal};
use oneclass_protocol::ErrorCode;

use crate::error::ApiError;
use crate::startup::AppState;

/// Verifies the request's bearer token.
pub fn principal(req: &HttpRequest, state: &AppState) -> Result<Principal, ApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "missing bearer token"))?;
    let token = header
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "expected a bearer token"))?;
    let principal = state
        .auth
        .verify(token.trim())
        .map_err(|e| ApiError::new(ErrorCode::Unauthorized, e.to_string()))?;
    crate::request_span::record_principal(req, &principal);
    Ok(principal)
}
