//! [`Notify`]: deliver a notification into the inboxes of its recipients, in two steps.
//!
//! 1. **Resolve the key.** The `notification.created` event on `notification:{id}` (content and
//!    recipient list) is appended alone, with the sender's idempotency key
//!    ([`crate::events::keys::notification`]). The journal resolves that key atomically: a new
//!    key stores the notification (the durable intent), the same key with the same request
//!    returns the FIRST stored event (two racing requests get one notification), and the same key
//!    with another request is a conflict. A conflict stops here: nothing else is appended.
//! 2. **Fan out** the stored notification: one `notification.posted` per recipient of the
//!    STORED list (never a fresh roster lookup, so a retry after the class gained a member
//!    reaches nobody new and answers the original count), referencing the content by id
//!    ([`oneclass_protocol::journal::NotificationPosted`]) and written [`crate::Limits::notify_chunk`]
//!    at a time, each chunk its own transaction, so a large fan-out interleaves with the other
//!    schools' writes on the shared journal writer.
//!
//! Crash or failure mid-fan-out: the created event stays; each inbox event carries a key naming
//! the stored notification and its recipient ([`crate::events::keys::notification_inbox`]), so
//! completing is idempotent. The request is answered only when every chunk is durable; a failure
//! answers `unavailable` and the client's retry with the same key completes the fan-out (step 1
//! returns the stored event, step 2 writes only the inbox events that are missing). The hub does
//! not complete an interrupted fan-out by itself at start: finding one would mean scanning every
//! `notification:` stream (see docs/decisions.md).
//!
//! The handler is the school actor's (`school/inbox.rs`); building the appends and reading the
//! outcome are pure and live here.

use actix::Message;
use oneclass_protocol::channel::MAX_ID_LEN;
use oneclass_protocol::codec::object_depth;
use oneclass_protocol::command::Body;
use oneclass_protocol::event::Notification;
use oneclass_protocol::journal::{kinds, new_event_id, NotificationPayload, NotificationPosted};
use oneclass_protocol::reply::ErrorBody;
use oneclass_protocol::timestamp::{format_ms, now_ms};
use oneclass_protocol::{ChannelName, Codec, ErrorCode, Event, StreamName};
use oneclass_storage::AppendOutcome;

use super::Audience;
use crate::events::{keys, payload, Append};
use crate::limits::Limits;

/// Deliver a notification into the inboxes of its recipients.
#[derive(Debug, Message)]
#[rtype(result = "Result<NotifyOutcome, ErrorBody>")]
pub struct Notify {
    /// The sender: the principal's user id. Idempotency keys are scoped to it.
    pub actor: String,
    /// The caller's `Idempotency-Key`.
    pub idempotency_key: String,
    pub to: Audience,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub data: Body,
}

/// What `Notify` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotifyOutcome {
    pub notification_id: String,
    pub recipients: usize,
}

impl Notify {
    /// Whether the content keeps `limits`: `data` within `notify_data_bytes` (as encoded JSON)
    /// and `notify_data_depth` levels, and the whole notification, as the frame a recipient
    /// receives, within `max_message_bytes` and the protocol's depth in both codecs (measured
    /// on the largest envelope it can have: the longest inbox name, the largest seq). A
    /// notification that passes is never withheld at emission.
    pub fn check_limits(&self, limits: &Limits) -> Result<(), ErrorBody> {
        let data_bytes = serde_json::to_vec(&self.data).map_or(usize::MAX, |v| v.len());
        if data_bytes > limits.notify_data_bytes {
            return Err(bad_request(format!(
                "data is {data_bytes} bytes, over the {}-byte limit",
                limits.notify_data_bytes
            )));
        }
        let depth = object_depth(&self.data);
        if depth > limits.notify_data_depth {
            return Err(bad_request(format!(
                "data nests {depth} levels deep, over the limit of {}",
                limits.notify_data_depth
            )));
        }
        let widest = Event::Notification(Notification {
            channel: ChannelName::inbox(&"s".repeat(MAX_ID_LEN), &"u".repeat(MAX_ID_LEN))
                .to_string(),
            seq: u64::MAX,
            event_id: new_event_id().to_string(),
            kind: self.kind.clone(),
            title: self.title.clone(),
            body: self.body.clone(),
            data: self.data.clone(),
            ts: format_ms(now_ms()),
        });
        for codec in Codec::ALL {
            let frame = codec.encode(&widest);
            if let Err(why) = codec.check_limits(&frame, limits.max_message_bytes) {
                return Err(bad_request(format!(
                    "the notification does not fit in one message: {why}"
                )));
            }
        }
        Ok(())
    }

    /// The request's fingerprint: what tells a retry from a key reused for another request.
    fn fingerprint(&self) -> [u8; 32] {
        keys::fingerprint(&(
            &self.to.fingerprint_form(),
            &self.kind,
            &self.title,
            &self.body,
            &self.data,
        ))
    }

    /// Step 1: the `notification.created` event of this notification for `recipients` of
    /// `school`, keyed by the sender's `Idempotency-Key`.
    pub fn created(self, school: &str, recipients: Vec<String>) -> Append {
        let fp = self.fingerprint();
        let key = keys::notification(school, &self.actor, &self.idempotency_key, fp);
        let payload = NotificationPayload {
            notification_id: new_event_id().to_string(),
            kind: self.kind,
            title: self.title,
            body: self.body,
            data: self.data,
            recipients,
        };
        Append::new(
            school,
            StreamName::notification(&payload.notification_id),
            kinds::NOTIFICATION_CREATED,
            self.actor.as_str(),
            &payload,
        )
        .idempotent(Some(key))
    }
}

/// A notification as the journal stored it: what step 2 fans out.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The stored content and recipient list (the first request's, on a retry).
    pub payload: NotificationPayload,
    /// Who sent it and when, as stored: every inbox event carries the same.
    pub actor: String,
    pub occurred_at: i64,
}

impl Stored {
    /// The answer to the request: the stored id and recipient count.
    pub fn outcome(&self) -> NotifyOutcome {
        NotifyOutcome {
            notification_id: self.payload.notification_id.clone(),
            recipients: self.payload.recipients.len(),
        }
    }

    /// The content inbox events reference, without the recipient list.
    pub fn content(&self) -> NotificationPayload {
        let p = &self.payload;
        NotificationPayload {
            notification_id: p.notification_id.clone(),
            kind: p.kind.clone(),
            title: p.title.clone(),
            body: p.body.clone(),
            data: p.data.clone(),
            recipients: Vec::new(),
        }
    }

    /// Step 2, one chunk: the inbox events of this notification for `users` of `school`.
    pub fn posted(&self, school: &str, users: &[String]) -> Vec<Append> {
        let id = &self.payload.notification_id;
        let reference = NotificationPosted {
            notification_id: id.clone(),
        };
        // The fingerprint of an inbox event is its reference: completing a fan-out writes the
        // same events, whichever retry does it.
        let fp = keys::fingerprint(&reference);
        users
            .iter()
            .map(|user| {
                Append::new(
                    school,
                    ChannelName::inbox(school, user).into(),
                    kinds::NOTIFICATION_POSTED,
                    self.actor.as_str(),
                    &reference,
                )
                .at(self.occurred_at)
                .idempotent(Some(keys::notification_inbox(school, id, user, fp)))
            })
            .collect()
    }
}

/// What step 1 did: the stored notification (new, or the first request's on a retry), or a
/// conflict when the sender's key was used for another notification.
pub fn stored(outcomes: &[AppendOutcome]) -> Result<Stored, ErrorBody> {
    match outcomes.first() {
        Some(AppendOutcome::Conflict) => Err(ErrorBody::new(
            ErrorCode::Conflict,
            "Idempotency-Key already used for another notification",
        )),
        Some(o) => {
            let e = o.envelope().ok_or_else(|| internal("no stored event"))?;
            let payload = payload::decode::<NotificationPayload>(&e.payload)
                .ok_or_else(|| internal("bad stored payload"))?;
            Ok(Stored {
                payload,
                actor: e.actor.clone(),
                occurred_at: e.occurred_at,
            })
        }
        None => Err(internal("no outcome")),
    }
}

fn bad_request(message: String) -> ErrorBody {
    ErrorBody::new(ErrorCode::BadRequest, message)
}

fn internal(message: &str) -> ErrorBody {
    ErrorBody::new(ErrorCode::Internal, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oneclass_protocol::journal::EventEnvelope;

    fn notify(to: Audience) -> Notify {
        Notify {
            actor: "admin".into(),
            idempotency_key: "k1".into(),
            to,
            kind: "k".into(),
            title: "t".into(),
            body: "b".into(),
            data: serde_json::from_str(r#"{"a":1}"#).unwrap(),
        }
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn envelope(a: &Append) -> EventEnvelope {
        EventEnvelope {
            school_id: "s1".into(),
            day: "2026-01-01".into(),
            event_id: uuid::Uuid::nil(),
            stream: a.stream_name().into(),
            seq: 1,
            kind: a.kind().into(),
            actor: "admin".into(),
            occurred_at: 42,
            payload: bytes::Bytes::copy_from_slice(a.payload()),
            hash: [0; 32],
        }
    }

    #[test]
    fn the_created_event_holds_content_and_recipients_under_the_senders_key() {
        let created = notify(Audience::School).created("s1", vec!["u1".into(), "u2".into()]);
        assert!(created.stream_name().starts_with("notification:"));
        assert_eq!(created.kind(), kinds::NOTIFICATION_CREATED);
        assert_eq!(
            created.key().unwrap().key,
            "notify\u{1f}s1\u{1f}admin\u{1f}k1"
        );
        let p: NotificationPayload = payload::decode(created.payload()).unwrap();
        assert_eq!(p.recipients, ["u1", "u2"]);
        assert_eq!(p.data["a"], 1);
    }

    #[test]
    fn inbox_events_reference_the_stored_notification_and_carry_its_time_and_sender() {
        let created = notify(Audience::School).created("s1", vec!["u1".into(), "u2".into()]);
        let stored = stored(&[AppendOutcome::Duplicate(envelope(&created))]).unwrap();
        let id = stored.payload.notification_id.clone();
        assert_eq!(stored.outcome().recipients, 2);
        assert!(stored.content().recipients.is_empty());
        let posted = stored.posted("s1", &stored.payload.recipients);
        let streams: Vec<_> = posted.iter().map(|a| a.stream_name().to_owned()).collect();
        assert_eq!(streams, ["user:s1:u1", "user:s1:u2"]);
        for a in &posted {
            assert_eq!(a.kind(), kinds::NOTIFICATION_POSTED);
            let r: NotificationPosted = payload::decode(a.payload()).unwrap();
            assert_eq!(r.notification_id, id);
            assert!(
                payload::decode::<NotificationPayload>(a.payload()).is_none(),
                "the content is not copied into the inbox"
            );
        }
        assert_eq!(
            posted[1].key().unwrap().key,
            format!("inbox\u{1f}s1\u{1f}{id}\u{1f}u2")
        );
        assert_eq!(envelope(&posted[0]).occurred_at, 42);
    }

    #[test]
    fn fingerprints_are_the_ones_stored_before_the_audience_lost_its_bool() {
        let cases = [
            (
                Audience::School,
                "a6ce400a6fb55ffc0e894495a4a40bfc3f14b8fd9e2c26899190b69c8e265205",
            ),
            (
                Audience::Users(vec!["u1".into(), "u2".into()]),
                "2fe89c55c2e988267ac3099cb3a4154b9c183d225a05923eb0579aeeebf7e2ea",
            ),
            (
                Audience::Class("c1".into()),
                "d5819fa129e4efe2e3e46d583a1efd7a3d374f909d42b51d99e4b63c91353f39",
            ),
        ];
        for (to, fp) in cases {
            let created = notify(to).created("s1", vec![]);
            assert_eq!(hex(&created.key().unwrap().fingerprint), fp);
        }
    }

    fn nested(levels: usize) -> Body {
        let mut v = serde_json::json!(1);
        for _ in 0..levels {
            v = serde_json::json!({ "a": v });
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn data_over_its_size_or_depth_and_a_notification_over_one_frame_are_refused() {
        let limits = Limits::default();
        let mut n = notify(Audience::School);
        assert!(n.check_limits(&limits).is_ok());
        n.data = nested(limits.notify_data_depth);
        assert!(n.check_limits(&limits).is_ok());
        n.data = nested(limits.notify_data_depth + 1);
        let e = n.check_limits(&limits).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert!(e.message.contains("nests 17 levels"), "{}", e.message);
        n.data = serde_json::from_value(serde_json::json!({"s": "x".repeat(9000)})).unwrap();
        assert!(n
            .check_limits(&limits)
            .unwrap_err()
            .message
            .contains("over the 8192-byte"));
        // Each control character takes six bytes as JSON: 16 KiB of them make a 96 KiB frame.
        n.data = Body::new();
        n.body = "\u{1}".repeat(16 * 1024);
        let e = n.check_limits(&limits).unwrap_err();
        assert!(
            e.message.contains("does not fit in one message"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_reused_key_for_another_notification_is_a_conflict() {
        let e = stored(&[AppendOutcome::Conflict]).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(stored(&[]).unwrap_err().code, ErrorCode::Internal);
    }
}
