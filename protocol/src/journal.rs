//! The journal's event envelope and the payloads of the event kinds the hub writes.
//!
//! The envelope is stable: analysts depend on it. `payload` is MessagePack (a map, encoded with
//! [`encode_payload`]); `hash` chains each event to the previous one of its stream and is computed
//! by the storage layer over the stored bytes.

use bytes::Bytes;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use uuid::Uuid;

use crate::command::Body;

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEnvelope {
    pub school_id: String,
    /// UTC date of `occurred_at`, `YYYY-MM-DD`.
    pub day: String,
    /// UUID version 7 (time-ordered).
    pub event_id: Uuid,
    /// `class:s1:c1`, `user:s1:u1`, `roster:s1`, … (see [`crate::stream::StreamName`]).
    pub stream: String,
    /// Per stream, from 1, gap-free.
    pub seq: u64,
    /// Dotted name, e.g. `chat.message.posted`.
    pub kind: String,
    /// Who caused it: a user id, `system`, a service or a provider.
    pub actor: String,
    /// Milliseconds since the Unix epoch.
    pub occurred_at: i64,
    /// MessagePack map.
    pub payload: Bytes,
    /// SHA-256 over the previous event's hash and this event's stored fields.
    pub hash: [u8; 32],
}

/// Every event kind the hub writes, in one place: analysts filter on these names, so a kind is
/// registered here before any code writes it (`kinds::ALL` is checked by a golden test here and by
/// the journal gateway in `oneclass-actors`). A name never changes once written; a new meaning
/// gets a new kind.
pub mod kinds {
    /// A chat message on a class, DM or announcements channel.
    pub const CHAT_MESSAGE_POSTED: &str = "chat.message.posted";
    /// A notification was requested (stream `notification:{id}`).
    pub const NOTIFICATION_CREATED: &str = "notification.created";
    /// A notification landed in one user's inbox (stream `user:{school}:{user}`). Its payload
    /// references the `notification.created` event ([`super::NotificationPosted`]); events
    /// written before issue 9 carry the content inline instead.
    pub const NOTIFICATION_POSTED: &str = "notification.posted";
    /// A roster member was added or changed (stream `roster:{school}`).
    pub const MEMBER_UPSERTED: &str = "roster.member.upserted";
    /// A roster member was removed (stream `roster:{school}`).
    pub const MEMBER_REMOVED: &str = "roster.member.removed";
    /// A school set its calendar: time zone, quiet hours, no-disturb periods (stream
    /// `roster:{school}`, the school's settings; the payload is the calendar as set).
    pub const SCHOOL_CALENDAR_SET: &str = "school.calendar.set";
    /// A token was revoked before its expiry (stream `auth:revoked`).
    pub const TOKEN_REVOKED: &str = "auth.token.revoked";
    /// An admin read message bodies through the journal API (stream `audit:{school}`).
    pub const BODIES_ACCESSED: &str = "audit.bodies.accessed";
    /// A provider actor is about to call its provider for one delivery (stream
    /// `provider:{name}`), written before the call ([`super::DeliveryAttemptStarted`]).
    pub const DELIVERY_ATTEMPT_STARTED: &str = "delivery.attempt.started";
    /// The provider call of one attempt ended (stream `provider:{name}`), with its outcome
    /// ([`super::DeliveryAttemptFinished`]).
    pub const DELIVERY_ATTEMPT_FINISHED: &str = "delivery.attempt.finished";
    /// A provider's circuit breaker changed state (stream `provider:{name}`,
    /// [`super::ProviderCircuitChanged`]).
    pub const PROVIDER_CIRCUIT_CHANGED: &str = "provider.circuit.changed";
    /// A kind's router moved a delivery off a provider to the next one of the kind, or found
    /// none left (stream `provider:{name}` of the provider left, [`super::DeliveryFailedOver`]).
    pub const DELIVERY_FAILED_OVER: &str = "delivery.failed_over";
    /// A provider reported a delivery's new state (a DLR, a WhatsApp status, a DSN) and the
    /// state moved forward (stream `provider:{name}`, [`super::DeliveryReported`]). Duplicate
    /// and backward reports are not journaled.
    pub const DELIVERY_REPORT: &str = "delivery.report";
    /// A recipient opted out of (or back into) a channel, e.g. an SMS `STOP` (stream
    /// `provider:{name}` of the provider it arrived through, [`super::ConsentChanged`]).
    pub const CONSENT_CHANGED: &str = "consent.changed";

    /// Every registered kind.
    pub const ALL: &[&str] = &[
        CHAT_MESSAGE_POSTED,
        NOTIFICATION_CREATED,
        NOTIFICATION_POSTED,
        MEMBER_UPSERTED,
        MEMBER_REMOVED,
        SCHOOL_CALENDAR_SET,
        TOKEN_REVOKED,
        BODIES_ACCESSED,
        DELIVERY_ATTEMPT_STARTED,
        DELIVERY_ATTEMPT_FINISHED,
        PROVIDER_CIRCUIT_CHANGED,
        DELIVERY_FAILED_OVER,
        DELIVERY_REPORT,
        CONSENT_CHANGED,
    ];

    /// Whether `kind` is registered.
    pub fn is_known(kind: &str) -> bool {
        ALL.contains(&kind)
    }
}

/// Payload of `chat.message.posted`. The sender is the envelope's `actor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessagePosted {
    pub body: Body,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
}

/// Payload of `notification.created`: the notification's content and recipients, stored once.
/// Inbox events written before issue 9 (`notification.posted` with the content inline) also
/// decode as this type, with no recipients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationPayload {
    pub notification_id: String,
    pub kind: String,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub data: Body,
    /// Recipients (only on `notification.created`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
}

/// Payload of `notification.posted`: which notification landed in this inbox. The content is
/// the `notification.created` event (seq 1 of stream `notification:{notification_id}`), so a
/// notification to 10,000 users stores its `data` once, not 10,000 times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationPosted {
    pub notification_id: String,
}

/// What a delivery is for, when the dispatcher sent it: written on both attempt entries so costs
/// and a notification's deliveries are read from the provider streams without a join. User ids
/// only, never an address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryFor {
    pub notification_id: String,
    /// The recipient's user id.
    pub user: String,
    /// The notification's kind (`fees.reminder`, `emergency`, …).
    pub kind: String,
}

/// Payload of `delivery.attempt.started`. No recipient address: the delivery id leads to it, and
/// the provider's stream stays free of personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttemptStarted {
    /// The hub's id of the delivery (the request id the provider is given as its reference).
    pub delivery_id: String,
    /// 1 for the first attempt at this provider.
    pub attempt: u32,
    /// Billed units of the message (SMS parts; 1 for other kinds).
    pub segments: u32,
    /// Whether this call is the half-open circuit's probe.
    #[serde(default)]
    pub probe: bool,
    /// The notification and recipient, when the dispatcher sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<DeliveryFor>,
}

/// Payload of `delivery.attempt.finished`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttemptFinished {
    pub delivery_id: String,
    pub attempt: u32,
    /// The client's outcome class: `sent`, `retry_after`, `retry_backoff`, `drop_recipient`,
    /// `fix_message`, `fix_config`.
    pub status: String,
    /// What the actor does next: `done`, `retry`, or the failure class it gave up with.
    pub decision: String,
    /// The provider's id of the message, when it took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// The provider's reason, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How long the provider call took.
    pub duration_ms: u64,
    pub segments: u32,
    /// What the attempt cost, in millionths of `currency` (segments × the provider's price
    /// when sent, else 0); integer, as prices are kept everywhere.
    pub cost_micros: u64,
    /// ISO 4217 code of `cost_micros`.
    pub currency: String,
    /// When the decision is `retry`, the wait before the next attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    /// The notification and recipient, when the dispatcher sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<DeliveryFor>,
}

/// Payload of `provider.circuit.changed`; journaled under the school of the delivery whose
/// attempt caused the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderCircuitChanged {
    /// `closed`, `open` or `half_open`.
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// Payload of `delivery.failed_over`: one delivery left provider `from` (the stream's provider).
/// Written by the kind's router after `from` answered, so it follows `from`'s last
/// `delivery.attempt.finished` for the delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryFailedOver {
    pub delivery_id: String,
    pub from: String,
    /// The next provider tried, or `None` when `from` was the kind's last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// A failure class (`circuit_open`, `provider_unavailable`, `queue_full`, …) or `deadline`
    /// (its queue at its rate would miss the delivery's deadline; nothing was submitted).
    pub reason: String,
    /// The failure's text, or the drain time against the deadline.
    pub detail: String,
}

/// Payload of `delivery.report`: a delivery's state moved forward on a provider's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReported {
    pub delivery_id: String,
    /// The provider's id of the message the report names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// The state before the report (`sent`, `delivered`, …).
    pub from: String,
    /// The state after it.
    pub to: String,
    /// The provider's own words (receipt text, error title, DSN status), for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// Payload of `consent.changed`. `address` is the number or e-mail address the change is for
/// (E.164 for phones), `channel` the delivery channel (`sms`, `whatsapp`, `email`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentChanged {
    pub address: String,
    pub channel: String,
    /// `true` when the recipient opted out, `false` when they opted back in.
    pub opted_out: bool,
    /// What caused it, e.g. `sms_keyword:STOP`.
    pub source: String,
}

/// Encodes a payload as a MessagePack map.
pub fn encode_payload<T: Serialize>(payload: &T) -> Bytes {
    // unwrap: payload types have string keys and no fallible Serialize impls.
    Bytes::from(rmp_serde::to_vec_named(payload).unwrap())
}

/// Decodes a payload written by [`encode_payload`].
pub fn decode_payload<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, rmp_serde::decode::Error> {
    rmp_serde::from_slice(bytes)
}

/// A new UUID v7 for an event.
pub fn new_event_id() -> Uuid {
    Uuid::now_v7()
}
