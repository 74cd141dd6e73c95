//! `GET /ws`: the WebSocket endpoint. The subprotocol picks the codec and is echoed; the
//! connection is handed to a new `SessionActor`.

use actix_web::http::header::SEC_WEBSOCKET_PROTOCOL;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use oneclass_actors::session::SessionActor;
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
    let protocols = [Codec::Json.subprotocol(), Codec::MsgPack.subprotocol()];
    let (response, session, stream) = actix_ws::handle_with_protocols(&req, body, &protocols)?;
    let codec = response
        .headers()
        .get(SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(Codec::from_subprotocol)
        .unwrap_or(Codec::Json);
    SessionActor::start_ws(session, stream, codec, state.session_deps.clone());
    Ok(response)
}
