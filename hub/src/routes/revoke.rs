//! `POST /v1/auth/revoke` with `{"token": "<jwt>"}`: revokes a token before it expires. An admin
//! may revoke tokens of their own school, a service token of its school or a platform service any.
//! The revocation is journaled first; then every session using the token closes with 4003.

use actix_web::{web, HttpRequest, HttpResponse};
use oneclass_actors::Role;
use oneclass_protocol::journal::encode_payload;
use oneclass_protocol::timestamp::now_ms;
use oneclass_protocol::CloseCode;
use oneclass_storage::AppendRequest;
use serde::Deserialize;

use crate::error::ApiError;
use crate::revocation::{TokenRevoked, REVOCATION_STREAM, TOKEN_REVOKED};
use crate::routes::auth::principal;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/auth/revoke", web::post().to(revoke));
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
    let allowed = matches!(p.role, Role::Admin | Role::Service) && p.in_school(&claims.school);
    if !allowed {
        return Err(ApiError::forbidden());
    }
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
    let request = AppendRequest {
        school_id: claims.school.clone(),
        stream: REVOCATION_STREAM.into(),
        kind: TOKEN_REVOKED.into(),
        actor: p.user,
        occurred_at: now_ms(),
        payload: encode_payload(&event),
        idempotency: None,
    };
    state
        .registry
        .journal()
        .append(vec![request])
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "revocation not journaled");
            ApiError::unavailable()
        })?;
    state.auth.revocations().insert(&jti, claims.exp);
    let closed = state
        .session_deps
        .sessions
        .close_jti(&jti, CloseCode::Forbidden, "token revoked");
    Ok(HttpResponse::Ok().json(serde_json::json!({"jti": jti, "closed_sessions": closed})))
}
