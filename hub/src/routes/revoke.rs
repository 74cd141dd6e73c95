//! `POST /v1/auth/revoke` with `{"token": "<jwt>"}`: revokes a token before it expires. An admin
//! may revoke tokens of their own school, a service token of its school or a platform service any.
//! The revocation is journaled first (by [`oneclass_actors::identity::revocation`]); then every
//! session using the token closes with 4003.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use oneclass_actors::identity::revocation::TokenRevoked;
use oneclass_actors::permissions::can_revoke;
use oneclass_protocol::CloseCode;
use serde::Deserialize;

use crate::error::ApiError;
use crate::routes::auth::principal;
use crate::routes::resource;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        "/v1/auth/revoke",
        [(Method::POST, web::to(revoke))],
    ));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    token: String,
}

async fn revoke(
    req: HttpRequest,
    body: web::Json<RevokeBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, &state)?;
    let claims = state
        .auth
        .inspect(&body.token)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    can_revoke(&p, &claims.school).map_err(ApiError::denied)?;
    let jti = claims
        .jti
        .clone()
        .ok_or_else(|| ApiError::bad_request("the token has no jti; it can only expire"))?;
    let event = TokenRevoked {
        jti: jti.clone(),
        exp: claims.exp,
        user: claims.sub.clone(),
        school: claims.school.clone(),
    };
    state
        .writes
        .revoke_token(state.auth.revocations(), &p.user, &event)
        .await
        .map_err(|e| ApiError::journal_unavailable("revocation", &e))?;
    let closed = state
        .session_deps
        .sessions
        .close_jti(&jti, CloseCode::Forbidden, "token revoked");
    Ok(HttpResponse::Ok().json(serde_json::json!({"jti": jti, "closed_sessions": closed})))
}
