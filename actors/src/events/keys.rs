//! Every idempotency-key format and the request fingerprint, in one place.
//!
//! A key names one logical request; its fingerprint hashes the request's content, so the journal
//! tells a retry (same key, same fingerprint: the first result comes back) from a key reused for
//! something else (a conflict). Parts are joined with U+001F (unit separator), which no id can
//! contain.
//!
//! | request | key | fingerprint over |
//! |---|---|---|
//! | chat publish with a `client_msg_id` | `chat␟{school}␟{channel}␟{sender}␟{client_msg_id}` | the body |
//! | notification (its `notification:{id}` event) | `notify␟{school}␟{sender}␟{Idempotency-Key}` | audience, kind, title, body, data |
//! | notification (one recipient's inbox event) | `inbox␟{school}␟{notification id}␟{user}` | the same |
//!
//! A notification's key is the sender's (the principal's user id): two senders who happen to
//! pick the same `Idempotency-Key` get two notifications, and one can never capture the other's.
//! The inbox keys name the stored notification, not the request, so completing a fan-out (a
//! retry, or two racing requests with one key) writes each inbox event once.
//!
//! These strings and hashes are stored (for [`oneclass_storage::IDEMPOTENCY_TTL`]): changing a
//! format or a fingerprint's input makes retries across an upgrade conflict or write twice. The
//! tests pin them byte for byte. (Issue 9 changed both notification formats deliberately: a
//! retry that straddles that upgrade within the TTL is stored as a new notification.)

use oneclass_protocol::command::Body;
use oneclass_protocol::journal::encode_payload;
use oneclass_protocol::ChannelName;
use oneclass_storage::IdempotencyKey;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Separates the parts of a key.
const SEP: char = '\u{1f}';

/// SHA-256 of a value's MessagePack encoding: the fingerprint of an idempotent request. Computed
/// over the plain encoding (never an encrypted payload) so it is stable.
pub fn fingerprint<T: Serialize>(value: &T) -> [u8; 32] {
    Sha256::digest(encode_payload(value)).into()
}

/// The key of a chat message a client published with `client_msg_id`.
pub fn chat(
    school: &str,
    channel: &ChannelName,
    sender: &str,
    client_msg_id: &str,
    body: &Body,
) -> IdempotencyKey {
    IdempotencyKey {
        key: format!("chat{SEP}{school}{SEP}{channel}{SEP}{sender}{SEP}{client_msg_id}"),
        fingerprint: fingerprint(body),
    }
}

/// The key of a notification's own event (`notification.created`), from `sender`'s
/// `Idempotency-Key`.
pub fn notification(
    school: &str,
    sender: &str,
    request_key: &str,
    fingerprint: [u8; 32],
) -> IdempotencyKey {
    IdempotencyKey {
        key: format!("notify{SEP}{school}{SEP}{sender}{SEP}{request_key}"),
        fingerprint,
    }
}

/// The key of one recipient's inbox event (`notification.posted`) of the stored notification
/// `notification_id`.
pub fn notification_inbox(
    school: &str,
    notification_id: &str,
    user: &str,
    fingerprint: [u8; 32],
) -> IdempotencyKey {
    IdempotencyKey {
        key: format!("inbox{SEP}{school}{SEP}{notification_id}{SEP}{user}"),
        fingerprint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn the_key_formats_are_the_stored_ones() {
        let body: Body = serde_json::from_str(r#"{"text":"hi"}"#).unwrap();
        let channel = ChannelName::parse("class:s1:c1").unwrap();
        let chat = chat("s1", &channel, "u1", "m1", &body);
        assert_eq!(chat.key, "chat\u{1f}s1\u{1f}class:s1:c1\u{1f}u1\u{1f}m1");
        assert_eq!(
            notification("s1", "t1", "k1", [0; 32]).key,
            "notify\u{1f}s1\u{1f}t1\u{1f}k1"
        );
        assert_eq!(
            notification_inbox("s1", "n1", "u2", [0; 32]).key,
            "inbox\u{1f}s1\u{1f}n1\u{1f}u2"
        );
    }

    #[test]
    fn a_chat_fingerprint_is_the_hash_of_the_body_as_before() {
        let body: Body = serde_json::from_str(r#"{"text":"hi"}"#).unwrap();
        assert_eq!(
            hex(&fingerprint(&body)),
            "7f57dcb0789a522efcec8cdef0a82ff913ac98f6d431fa6f3cc4ed3d39bd5ea0"
        );
    }
}
