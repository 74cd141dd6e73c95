//! The socket's incoming stream and the dispatch of each command to its handler.
//!
//! This file decides, and delegates: a frame is decoded with the session's codec, a malformed
//! one closes 1007, an invalid one is answered `bad_request` (or closes 4001 before `connect`),
//! and a command goes to exactly one handler elsewhere in the family. Before `connect` the only
//! command accepted is `connect`; anything else closes 4001 (PROTOCOL.md, "The first message").
//! After it, every command passes admission (the rate limits, `admission.rs`) first.
//!
//! Transport errors, and this is the one place that maps them to close codes:
//!
//! | error | from | close |
//! |---|---|---|
//! | `ReadRefused::TooLarge` / `OverBudget` | the read guard, at the header (or when one message's framing fills the read budget) | 1009 |
//! | `ReadRefused::Protocol` | the read guard: RSV bits, bad opcode, unmasked or misplaced frame | 1002 |
//! | `ProtocolError::Overflow`, continuation overflow ([`is_continuation_overflow`]) | actix-ws, once a whole frame arrived (behind the guard, a second line) | 1009 |
//! | `io::ErrorKind::InvalidData` | actix-ws: a text message that is not UTF-8 | 1007 |
//! | anything else | actix-ws or the socket | 1002 |
//!
//! Every message the stream yields is reported to the read budget
//! ([`ReadBudget::handled`](super::ReadBudget::handled)), which lets the guard read on.

use std::io;
use std::time::Instant;

use actix::prelude::*;
use actix_ws::{AggregatedMessage, ProtocolError};
use oneclass_protocol::reply::{Empty, ErrorBody, OkBody};
use oneclass_protocol::{CloseCode, Codec, Command, CommandFrame, DecodeError, ErrorCode};

use super::actor::{Phase, SessionActor};
use super::outbound::OutFrame;
use super::read_guard::{refusal, ReadRefused};
use crate::rate_limit::Op;

/// The message actix-ws 0.4 puts in the `io::Error` it returns when aggregated continuation
/// frames exceed `max_continuation_size` (`aggregated.rs`, `size_error`). It has no error
/// variant of its own, so this text is the only way to tell it from a real socket error.
const CONTINUATION_OVERFLOW: &str = "Exceeded maximum continuation size";

/// Whether an I/O error from the stream is actix-ws's continuation-size overflow rather than a
/// failure of the socket or the payload.
fn is_continuation_overflow(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Other && e.to_string() == CONTINUATION_OVERFLOW
}

impl SessionActor {
    fn on_frame(&mut self, bytes: &[u8], ctx: &mut Context<Self>) {
        self.deps.metrics.messages_in.inc();
        match self.codec.decode_command(bytes) {
            Err(DecodeError::Malformed(m)) => self.close(CloseCode::InvalidPayload, &m, ctx),
            Err(DecodeError::Invalid(e)) if matches!(self.phase, Phase::AwaitingConnect) => {
                let reason = format!("first message must be a valid connect: {}", e.message);
                self.close(CloseCode::InvalidConnect, &reason, ctx)
            }
            Err(DecodeError::Invalid(e)) => {
                self.reply_err(e.id, ErrorBody::new(ErrorCode::BadRequest, e.message))
            }
            Ok(frame) => self.dispatch(frame, ctx),
        }
    }

    fn dispatch(&mut self, frame: CommandFrame, ctx: &mut Context<Self>) {
        let id = frame.id;
        let Some(principal) = self.principal().cloned() else {
            return match frame.command {
                Command::Connect { token, resume } => self.connect(id, &token, resume, ctx),
                _ => self.close(
                    CloseCode::InvalidConnect,
                    "first message must be connect",
                    ctx,
                ),
            };
        };
        if !self.admit(id, Op::of(&frame.command), ctx) {
            return;
        }
        match frame.command {
            Command::Connect { .. } => self.reply_err(
                id,
                ErrorBody::new(ErrorCode::BadRequest, "already connected"),
            ),
            Command::Subscribe { channel, since } => {
                self.subscribe(id, &principal, channel, since, ctx)
            }
            Command::Unsubscribe { channel } => self.unsubscribe(id, &channel, ctx),
            Command::Publish {
                channel,
                body,
                client_msg_id,
            } => self.publish(id, &principal, channel, body, client_msg_id, ctx),
            Command::History {
                channel,
                before,
                limit,
            } => self.history(id, &principal, channel, before, limit, ctx),
            Command::Channels { cursor, limit } => self.channels(id, principal, cursor, limit, ctx),
            Command::Read { channel, seq } => self.mark_read(id, &principal, channel, seq, ctx),
            Command::Presence { channel } => self.presence(id, &principal, channel, ctx),
            Command::Typing { channel } => self.typing(id, &principal, &channel),
            Command::Refresh { token } => self.refresh(id, &principal, &token, ctx),
            Command::Ping => self.reply_ok(id, OkBody::Empty(Empty {})),
        }
    }

    /// Closes for a stream error, with the code that names its cause.
    fn on_protocol_error(&mut self, e: ProtocolError, ctx: &mut Context<Self>) {
        match refusal(&e) {
            Some(ReadRefused::TooLarge { .. } | ReadRefused::OverBudget { .. }) => {
                self.deps.metrics.ws_too_large.inc();
                return self.close(CloseCode::TooLarge, "message too large", ctx);
            }
            Some(ReadRefused::Protocol(reason)) => {
                return self.close(CloseCode::ProtocolError, reason, ctx);
            }
            None => {}
        }
        match e {
            ProtocolError::Overflow => {
                self.deps.metrics.ws_too_large.inc();
                self.close(CloseCode::TooLarge, "message too large", ctx)
            }
            ProtocolError::Io(e) if is_continuation_overflow(&e) => {
                self.deps.metrics.ws_too_large.inc();
                self.close(CloseCode::TooLarge, "message too large", ctx)
            }
            // actix-ws reports a text frame that is not UTF-8 as `InvalidData` (so does
            // actix-http for RSV bits, but the read guard refuses those first); the payload's own
            // read errors come as `Other`.
            ProtocolError::Io(e) if e.kind() == io::ErrorKind::InvalidData => self.close(
                CloseCode::InvalidPayload,
                "text frame is not valid UTF-8",
                ctx,
            ),
            ProtocolError::Io(e) => {
                tracing::debug!(session = self.id, error = %e, "socket read failed");
                self.close(CloseCode::ProtocolError, &e.to_string(), ctx)
            }
            e => self.close(CloseCode::ProtocolError, &e.to_string(), ctx),
        }
    }
}

impl StreamHandler<Result<AggregatedMessage, ProtocolError>> for SessionActor {
    fn handle(&mut self, item: Result<AggregatedMessage, ProtocolError>, ctx: &mut Context<Self>) {
        self.last_seen = Instant::now();
        if item.is_ok() {
            self.read_budget.handled();
        }
        match item {
            Ok(AggregatedMessage::Text(text)) if self.codec == Codec::Json => {
                self.on_frame(text.as_bytes(), ctx)
            }
            Ok(AggregatedMessage::Binary(bin)) if self.codec == Codec::MsgPack => {
                self.on_frame(&bin, ctx)
            }
            Ok(AggregatedMessage::Text(_)) | Ok(AggregatedMessage::Binary(_)) => self.close(
                CloseCode::WrongFrameType,
                "frame type does not match the codec",
                ctx,
            ),
            Ok(AggregatedMessage::Ping(bytes)) => {
                self.outbound.push(OutFrame::Pong(bytes));
            }
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Close(_)) => self.close(CloseCode::Normal, "", ctx),
            Err(e) => self.on_protocol_error(e, ctx),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_actix_ws_continuation_overflow_counts_as_too_large() {
        assert!(is_continuation_overflow(&io::Error::other(
            CONTINUATION_OVERFLOW
        )));
        assert!(!is_continuation_overflow(&io::Error::other(
            "connection reset by peer"
        )));
        assert!(!is_continuation_overflow(&io::Error::new(
            io::ErrorKind::InvalidData,
            CONTINUATION_OVERFLOW
        )));
    }
}
