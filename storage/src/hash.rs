//! The hash chain that makes tampering with a stream detectable.
//!
//! Each event's hash is SHA-256 over its predecessor's hash (in the same stream) followed by the
//! canonical bytes of the event's stored fields; the first event of a stream chains to
//! [`GENESIS_HASH`]. The canonical bytes are every field in a fixed order, each written as an
//! 8-byte big-endian length followed by the field's bytes (UTF-8 for text, 16 raw bytes for the
//! event id, 8-byte big-endian for integers). Length prefixes make the encoding unambiguous: no
//! two different envelopes produce the same byte string. The payload is hashed as stored, so
//! crypto-shredding a key that encrypted part of it leaves the chain verifiable.
//!
//! Every backend must use [`event_hash`]; it is part of the journal's stable format.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use oneclass_protocol::journal::{new_event_id, EventEnvelope};

use crate::journal::AppendRequest;

/// The "previous hash" of a stream's first event.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

/// Where a new event goes in its stream: its seq, a fresh event id, and its chain hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub seq: u64,
    pub event_id: Uuid,
    pub hash: [u8; 32],
}

impl Link {
    /// The stored event `req` becomes at this link on UTC `day`; every backend builds its
    /// envelopes here, so they cannot disagree on a field.
    pub fn envelope(self, req: AppendRequest, day: String) -> EventEnvelope {
        EventEnvelope {
            school_id: req.school_id,
            day,
            event_id: self.event_id,
            stream: req.stream,
            seq: self.seq,
            kind: req.kind,
            actor: req.actor,
            occurred_at: req.occurred_at,
            payload: req.payload,
            hash: self.hash,
        }
    }
}

/// The link of `req` appended after `prev` (the stream's head seq and hash; `None` for an empty
/// stream), on UTC `day`. Every backend appends through this, so the chain is the same on all.
pub fn next_link(prev: Option<(u64, [u8; 32])>, req: &AppendRequest, day: &str) -> Link {
    let (prev_seq, prev_hash) = prev.unwrap_or((0, GENESIS_HASH));
    let seq = prev_seq + 1;
    let event_id = new_event_id();
    let hash = event_hash(
        &prev_hash,
        &req.school_id,
        day,
        &event_id,
        &req.stream,
        seq,
        &req.kind,
        &req.actor,
        req.occurred_at,
        &req.payload,
    );
    Link {
        seq,
        event_id,
        hash,
    }
}

/// The chain hash of one event, given the hash of the event before it in its stream.
#[allow(clippy::too_many_arguments)] // one argument per envelope field keeps the format explicit
pub fn event_hash(
    prev: &[u8; 32],
    school_id: &str,
    day: &str,
    event_id: &Uuid,
    stream: &str,
    seq: u64,
    kind: &str,
    actor: &str,
    occurred_at: i64,
    payload: &[u8],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    field(&mut h, school_id.as_bytes());
    field(&mut h, day.as_bytes());
    field(&mut h, event_id.as_bytes());
    field(&mut h, stream.as_bytes());
    field(&mut h, &seq.to_be_bytes());
    field(&mut h, kind.as_bytes());
    field(&mut h, actor.as_bytes());
    field(&mut h, &occurred_at.to_be_bytes());
    field(&mut h, payload);
    h.finalize().into()
}

/// [`event_hash`] over an envelope's stored fields (its own `hash` is ignored).
pub fn envelope_hash(prev: &[u8; 32], e: &EventEnvelope) -> [u8; 32] {
    event_hash(
        prev,
        &e.school_id,
        &e.day,
        &e.event_id,
        &e.stream,
        e.seq,
        &e.kind,
        &e.actor,
        e.occurred_at,
        &e.payload,
    )
}

/// Checks a run of consecutive events of one stream, the first of which chains to `prev` and
/// should carry `first_seq`. Returns the first seq that is missing, out of place or whose hash
/// does not match; on success returns the last hash and the next expected seq so a caller can
/// continue with the following page.
pub fn verify_run(
    mut prev: [u8; 32],
    first_seq: u64,
    events: &[EventEnvelope],
) -> Result<([u8; 32], u64), u64> {
    let mut expected = first_seq;
    for e in events {
        if e.seq != expected || envelope_hash(&prev, e) != e.hash {
            return Err(expected);
        }
        prev = e.hash;
        expected += 1;
    }
    Ok((prev, expected))
}

/// Where a stream is broken whose events chain intact up to `last` (0 for none) while its stored
/// head says `head`: the first seq above the lower of the two when they differ (a lowered head
/// hides the events above it, a raised one names events that do not exist), `None` when they
/// agree. Every backend's `verify_stream` ends with this.
pub fn head_disagreement(head: u64, last: u64) -> Option<u64> {
    (head != last).then(|| head.min(last) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn envelope(seq: u64, prev: &[u8; 32], payload: &'static [u8]) -> EventEnvelope {
        let mut e = EventEnvelope {
            school_id: "s1".into(),
            day: "2026-01-02".into(),
            event_id: Uuid::now_v7(),
            stream: "class:s1:c1".into(),
            seq,
            kind: "chat.message.posted".into(),
            actor: "u1".into(),
            occurred_at: 1_767_312_000_000,
            payload: Bytes::from_static(payload),
            hash: [0; 32],
        };
        e.hash = envelope_hash(prev, &e);
        e
    }

    #[test]
    fn moving_bytes_between_adjacent_fields_changes_the_hash() {
        let id = Uuid::now_v7();
        let a = event_hash(&GENESIS_HASH, "s1", "d", &id, "ab", 1, "k", "c", 0, b"");
        let b = event_hash(&GENESIS_HASH, "s1", "d", &id, "a", 1, "bk", "c", 0, b"");
        assert_ne!(a, b);
    }

    #[test]
    fn a_chain_verifies_and_a_tampered_payload_is_located() {
        let e1 = envelope(1, &GENESIS_HASH, b"one");
        let e2 = envelope(2, &e1.hash, b"two");
        let e3 = envelope(3, &e2.hash, b"three");
        let chain = vec![e1, e2, e3];
        assert_eq!(verify_run(GENESIS_HASH, 1, &chain), Ok((chain[2].hash, 4)));

        let mut tampered = chain.clone();
        tampered[1].payload = Bytes::from_static(b"TWO");
        assert_eq!(verify_run(GENESIS_HASH, 1, &tampered), Err(2));

        let gap = vec![chain[0].clone(), chain[2].clone()];
        assert_eq!(verify_run(GENESIS_HASH, 1, &gap), Err(2));
    }

    #[test]
    fn a_head_that_disagrees_with_the_last_event_either_way_is_a_break() {
        assert_eq!(head_disagreement(10, 10), None);
        assert_eq!(head_disagreement(0, 0), None);
        assert_eq!(head_disagreement(5, 10), Some(6), "lowered head");
        assert_eq!(head_disagreement(12, 10), Some(11), "raised head");
        assert_eq!(head_disagreement(3, 0), Some(1), "head without events");
    }
}
