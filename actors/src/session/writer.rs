//! The single socket writer of a session: the only code that writes to the WebSocket.
//!
//! It drains the session's [`Outbound`] queue batch by batch, in the order frames were queued,
//! and ends with the queue's close frame. After each frame the socket (actix-ws's channel to the
//! HTTP dispatcher) takes, it reports progress ([`Outbound::wrote`]): that is how the queue tells
//! a client that stopped reading from a writer that is merely behind (see `outbound.rs`). A frame the socket does not take within
//! [`WRITE_TIMEOUT`] (or a failed write) means the client stopped reading: the queue is closed
//! with 4008 and the writer returns, which stops the session at its next heartbeat.

use std::sync::Arc;
use std::time::Duration;

use actix_ws::CloseReason;
use oneclass_protocol::{CloseCode, Codec};

use super::outbound::{Drained, OutFrame, Outbound};

/// How long the writer waits for the socket to take one frame before giving up on the client.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Drains the outbound queue into the socket until the queue closes or the socket fails.
pub(super) async fn write_loop(outbound: Arc<Outbound>, mut ws: actix_ws::Session, codec: Codec) {
    loop {
        match outbound.next_batch().await {
            Drained::Frames(frames) => {
                for frame in frames {
                    let sent = match frame {
                        OutFrame::Data(bytes) if codec.is_binary() => {
                            tokio::time::timeout(WRITE_TIMEOUT, ws.binary(bytes)).await
                        }
                        OutFrame::Data(bytes) => match bytestring::ByteString::try_from(bytes) {
                            Ok(text) => tokio::time::timeout(WRITE_TIMEOUT, ws.text(text)).await,
                            Err(_) => continue,
                        },
                        OutFrame::Ping => tokio::time::timeout(WRITE_TIMEOUT, ws.ping(b"")).await,
                        OutFrame::Pong(b) => tokio::time::timeout(WRITE_TIMEOUT, ws.pong(&b)).await,
                    };
                    if !matches!(sent, Ok(Ok(()))) {
                        outbound.close(CloseCode::SlowConsumer, "socket stopped taking frames");
                        return;
                    }
                    outbound.wrote();
                }
            }
            Drained::Close(code, reason) => {
                let reason = CloseReason {
                    code: actix_ws::CloseCode::Other(code.code()),
                    description: Some(reason),
                };
                let _ = tokio::time::timeout(WRITE_TIMEOUT, ws.close(Some(reason))).await;
                return;
            }
        }
    }
}
