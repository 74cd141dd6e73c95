//! `GET /ws`: the WebSocket endpoint. The subprotocol picks the codec and is echoed; the
//! request's payload goes through a [`ReadGuard`] (frame headers checked as they arrive, a read
//! budget) before actix-ws decodes it, and the connection is handed to a new `SessionActor`.

use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::error::PayloadError;
use actix_web::http::header::SEC_WEBSOCKET_PROTOCOL;
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::Stream;
use oneclass_actors::session::{ReadGuard, SessionActor};
use oneclass_protocol::Codec;

use crate::routes::resource;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/ws", [(Method::GET, web::to(upgrade))]));
}

async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    let deps = &state.session_deps;
    let (guard, read_budget) = ReadGuard::new(body, &deps.limits, deps.metrics.clone());
    // actix-ws takes a `web::Payload`, which only the extractor can make from a stream.
    let guarded: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(guard);
    let body = web::Payload::from_request(&req, &mut Payload::from(guarded)).await?;
    let protocols = [Codec::Json.subprotocol(), Codec::MsgPack.subprotocol()];
    let (response, session, stream) = actix_ws::handle_with_protocols(&req, body, &protocols)?;
    let codec = response
        .headers()
        .get(SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(Codec::from_subprotocol)
        .unwrap_or(Codec::Json);
    SessionActor::start_ws(session, stream, read_budget, codec, deps.clone());
    Ok(response)
}
