//! WhatsApp Cloud API webhooks: the `GET` verification handshake (the challenge echoed as the
//! plain body only with the right `hub.verify_token`, else `403`) and the `POST` of statuses and
//! inbound messages, whose `X-Hub-Signature-256` is checked over the raw bytes of the body.

use actix_web::http::Method;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use oneclass_actors::delivery::Callback;

use super::{accepted, deliver};
use crate::error::ApiError;
use crate::routes::resource;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        "/v1/callbacks/whatsapp/{provider}",
        [
            (Method::GET, web::to(handshake)),
            (Method::POST, web::to(webhook)),
        ],
    ));
}

async fn handshake(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = req.query_string().to_owned();
    let ack = deliver(
        &state,
        provider.into_inner(),
        Callback::WhatsAppHandshake { query },
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain")
        .body(ack.challenge.unwrap_or_default()))
}

async fn webhook(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let signature = req
        .headers()
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let ack = deliver(
        &state,
        provider.into_inner(),
        Callback::WhatsApp { signature, body },
    )
    .await?;
    Ok(accepted(&ack))
}
