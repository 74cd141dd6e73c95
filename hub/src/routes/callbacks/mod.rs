//! Provider callbacks: delivery reports and inbound messages, one file per provider kind. Every
//! route hands the raw request (query string, body, signature header) to the
//! [`DeliveryReports`] actor, which authenticates and parses it through `oneclass_clients`; the
//! routes only translate its answer to HTTP. No route here takes a OneClass token: providers
//! authenticate with what each one can send (see `oneclass_actors::delivery::reports`).
//!
//! | path | provider kind | authenticated by |
//! |---|---|---|
//! | `GET /v1/callbacks/kannel/{provider}/dlr` | Kannel `dlr-url` | `token=` (`callback_token`) |
//! | `GET /v1/callbacks/kannel/{provider}/mo` | Kannel `sms-service` `get-url` | `token=` |
//! | `GET /v1/callbacks/whatsapp/{provider}` | Meta's verification handshake | `hub.verify_token` |
//! | `POST /v1/callbacks/whatsapp/{provider}` | WhatsApp webhooks | `X-Hub-Signature-256` (`app_secret`) |
//! | `POST /v1/callbacks/email/{provider}/dsn` | RFC 3464 DSNs from the MTA | `token=` |
//!
//! Answers: `200` for every authenticated, readable callback, including duplicate, backward and
//! unknown reports (a provider that gets an error retries for hours); `401` bad token or
//! signature; `403` a wrong verify token (what Meta expects); `400` unreadable; `404` no such
//! provider (or the provider has no secret for this kind of callback); `503` the journal is
//! unavailable (the provider should retry).

pub mod email;
pub mod kannel;
pub mod whatsapp;

use actix_web::web::{self, ServiceConfig};
use actix_web::HttpResponse;
use oneclass_actors::delivery::{Ack, Callback, CallbackError, ProviderCallback};
use oneclass_protocol::ErrorCode;

use crate::error::ApiError;
use crate::startup::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    kannel::configure(cfg);
    whatsapp::configure(cfg);
    email::configure(cfg);
}

/// Hands `callback` to the actor and maps its answer.
async fn deliver(
    state: &web::Data<AppState>,
    provider: String,
    callback: Callback,
) -> Result<Ack, ApiError> {
    let Some(reports) = &state.reports else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "no such provider callback",
        ));
    };
    reports
        .send(ProviderCallback { provider, callback })
        .await?
        .map_err(|e| match e {
            CallbackError::UnknownProvider => ApiError::new(ErrorCode::NotFound, e.to_string()),
            CallbackError::Unauthorized(_) => ApiError::new(ErrorCode::Unauthorized, e.to_string()),
            CallbackError::Forbidden(_) => ApiError::new(ErrorCode::Forbidden, e.to_string()),
            CallbackError::Malformed(_) => ApiError::bad_request(e.to_string()),
            CallbackError::Unavailable(_) => ApiError::unavailable(),
        })
}

/// The `200` of an accepted callback: what was done, for the operator reading gateway logs.
fn accepted(ack: &Ack) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "applied": ack.applied,
        "unchanged": ack.unchanged,
        "unknown": ack.unknown,
        "consent_changes": ack.consent_changes,
    }))
}
