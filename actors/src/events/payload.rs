//! Payload encoding: the one place a payload becomes the bytes the journal stores, and back.
//!
//! Today a payload is a MessagePack map ([`oneclass_protocol::journal::encode_payload`]). This is
//! where encryption of personal data will hook in: sealing a payload on [`encode`] and opening it
//! on [`decode`] under a per-school key, so no writer or reader changes. Idempotency fingerprints
//! ([`super::keys::fingerprint`]) are computed over the plain encoding, not here, so they stay
//! stable across key rotation.

use bytes::Bytes;
use oneclass_protocol::journal::{decode_payload, encode_payload};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The stored bytes of a payload.
pub fn encode<T: Serialize>(payload: &T) -> Bytes {
    encode_payload(payload)
}

/// A payload read back from the stored bytes; `None` when they do not hold a `T` (a reader
/// skips such an event rather than failing the whole read).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    decode_payload(bytes).ok()
}
