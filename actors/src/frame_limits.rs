//! [`FrameLimits`]: the last check before a frame is queued for a client. Nothing the hub sends
//! may break the protocol's own limits (at most `max_message_bytes` long, nested at most
//! `oneclass_protocol::codec::MAX_DEPTH` deep): a client on the project's library would refuse
//! such a frame, and one bad event would make a whole inbox unreadable.
//!
//! The edges already refuse what could produce such a frame (a publish `body`, a notification's
//! `data`), and `history` and `channels` size their pages; this check is the assertion behind
//! them, applied where journaled events are encoded for fan-out and replay and where the session
//! encodes its replies. It costs one pass over the encoded bytes, once per codec for a fan-out
//! event (the bytes are shared by every subscriber).
//!
//! A frame that fails is never sent. It is replaced by a small frame that always fits — for an
//! event, an `error` event (`too_large`) naming the channel and seq that were withheld; for a
//! reply, an error reply (`internal`) to the same `id` — logged at `error` (it means an edge
//! check is missing) and counted in `oneclass_frames_withheld_total`. Non-journaled events
//! (presence, typing, read) carry only ids and are not checked.

use bytes::Bytes;
use oneclass_protocol::reply::ErrorBody;
use oneclass_protocol::{Codec, ErrorCode, Event, Reply};
use prometheus_client::metrics::counter::Counter;
use serde::Serialize;

use crate::metrics::Metrics;

/// The limits every frame to a client keeps, and the counter of frames withheld for breaking
/// them.
#[derive(Debug, Clone)]
pub struct FrameLimits {
    max_bytes: usize,
    withheld: Counter,
}

impl FrameLimits {
    /// Frames of at most `max_bytes` (the hub's `max_message_bytes`), counted in `metrics`.
    pub fn new(max_bytes: usize, metrics: &Metrics) -> Self {
        Self {
            max_bytes,
            withheld: metrics.frames_withheld.clone(),
        }
    }

    /// `frame` in `codec`, or `replacement(why)` when `frame`'s encoding would break the limits.
    pub fn encode<T, R>(
        &self,
        codec: Codec,
        frame: &T,
        replacement: impl FnOnce(&str) -> R,
    ) -> Bytes
    where
        T: Serialize + ?Sized,
        R: Serialize,
    {
        let bytes = codec.encode(frame);
        match codec.check_limits(&bytes, self.max_bytes) {
            Ok(()) => bytes,
            Err(why) => {
                self.withheld.inc();
                tracing::error!(
                    why = %why,
                    "a frame for a client would break the protocol's limits; withheld"
                );
                codec.encode(&replacement(&why))
            }
        }
    }

    /// A journaled event (`msg`, `notification`), or the `error` event that replaces it.
    pub fn event(&self, codec: Codec, event: &Event) -> Bytes {
        self.encode(codec, event, |why| withheld(event, why))
    }

    /// A reply to `id`, or the `internal` error reply that replaces it.
    pub fn reply<T: Serialize>(&self, codec: Codec, id: u32, reply: &Reply<T>) -> Bytes {
        self.encode(codec, reply, |_| {
            Reply::<()>::error(
                id,
                ErrorBody::new(
                    ErrorCode::Internal,
                    "the reply would break the protocol's frame limits",
                ),
            )
        })
    }

    /// Whether `bytes` (already encoded in `codec`) fit within `max_bytes`; for the pages that
    /// size themselves.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }
}

/// The `error` event sent instead of a journaled event that breaks the limits.
fn withheld(event: &Event, why: &str) -> Event {
    let what = match (event.channel(), event.seq()) {
        (Some(channel), Some(seq)) => format!("event {seq} of {channel}"),
        _ => "an event".to_owned(),
    };
    Event::Error {
        code: ErrorCode::TooLarge,
        message: format!("{what} was withheld: {why}"),
        // The subscription goes on; `channel` on an error event means the hub ended it.
        channel: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oneclass_protocol::event::Notification;
    use oneclass_protocol::ServerFrame;

    fn nested(levels: usize) -> serde_json::Value {
        let mut v = serde_json::json!(1);
        for _ in 0..levels {
            v = serde_json::json!({ "a": v });
        }
        v
    }

    fn notification(data: serde_json::Value, body: String) -> Event {
        Event::Notification(Notification {
            channel: "user:s1:u1".into(),
            seq: 7,
            event_id: "e".into(),
            kind: "k".into(),
            title: "t".into(),
            body,
            data: serde_json::from_value(data).unwrap(),
            ts: "2026-01-01T00:00:00.000Z".into(),
        })
    }

    #[test]
    fn an_event_that_breaks_a_limit_is_replaced_by_an_error_event_naming_it_and_counted() {
        let metrics = Metrics::new();
        let limits = FrameLimits::new(64 * 1024, &metrics);
        let cases = [
            notification(nested(100), String::new()),
            notification(serde_json::json!({}), "x".repeat(100_000)),
        ];
        for codec in Codec::ALL {
            for event in &cases {
                let bytes = limits.event(codec, event);
                assert!(bytes.len() <= 64 * 1024);
                match codec.decode_server_frame(&bytes).unwrap() {
                    ServerFrame::Event(Event::Error { code, message, .. }) => {
                        assert_eq!(code, ErrorCode::TooLarge);
                        assert!(message.contains("event 7 of user:s1:u1"), "{message}");
                    }
                    other => panic!("expected an error event, got {other:?}"),
                }
            }
        }
        assert_eq!(metrics.frames_withheld.get(), 4);
        let fine = notification(nested(10), "ok".into());
        assert_eq!(limits.event(Codec::Json, &fine), Codec::Json.encode(&fine));
        assert_eq!(metrics.frames_withheld.get(), 4);
    }

    #[test]
    fn a_reply_that_breaks_a_limit_becomes_an_error_reply_to_the_same_id() {
        let limits = FrameLimits::new(1024, &Metrics::new());
        let big = Reply::ok(9, serde_json::json!({ "x": "y".repeat(2000) }));
        let bytes = limits.reply(Codec::MsgPack, 9, &big);
        match Codec::MsgPack.decode_server_frame(&bytes).unwrap() {
            ServerFrame::Reply(r) => {
                assert_eq!(r.id, 9);
                assert_eq!(r.error.unwrap().code, ErrorCode::Internal);
            }
            other => panic!("expected a reply, got {other:?}"),
        }
    }
}
