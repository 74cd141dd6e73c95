//! The memory floor of the framework the hub is built on: an actix-web server whose only route,
//! `GET /ws`, upgrades to a WebSocket through actix-ws (echoing the OneClass subprotocol, as the
//! hub does) and then only keeps the connection open — it answers pings and closes, and drops
//! every other frame unread. No authentication, no channels, no journal.
//!
//! The load generator's `connect --ws-only` scenario opens idle connections against it; the hub's
//! memory per idle connection is reported as a ratio to this server's.
//!
//! Usage: `bare-actix-ws [ADDR]` (default `127.0.0.1:8090`). Its settings mirror what the hub's
//! STYLE asks for on the WebSocket listener: raised `max_connections` and `backlog`, one worker
//! per core.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;

/// The subprotocols the hub offers; the first one the client lists is echoed.
const PROTOCOLS: [&str; 2] = ["oneclass.v1.json", "oneclass.v1.msgpack"];

/// Per-worker connection cap; far above the machine's open-file limit so the limit is the fd
/// limit, not actix's default of 25k per worker.
const MAX_CONNECTIONS: usize = 100_000;

/// Listen backlog, so a fast connect ramp is not refused by the kernel queue.
const BACKLOG: u32 = 4096;

async fn ws(req: HttpRequest, body: web::Payload) -> actix_web::Result<HttpResponse> {
    let (response, mut session, mut stream) =
        actix_ws::handle_with_protocols(&req, body, &PROTOCOLS)?;
    actix_rt::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            match message {
                actix_ws::Message::Ping(bytes) if session.pong(&bytes).await.is_err() => return,
                actix_ws::Message::Close(reason) => {
                    let _ = session.close(reason).await;
                    return;
                }
                _ => {}
            }
        }
    });
    Ok(response)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    eprintln!("bare-actix-ws listening on {addr}");
    HttpServer::new(|| App::new().route("/ws", web::get().to(ws)))
        .max_connections(MAX_CONNECTIONS)
        .backlog(BACKLOG)
        .bind(&addr)?
        .run()
        .await
}
