//! What every conformance check builds on: namespaced school and stream names, requests with
//! fixed timestamps, and helpers that unwrap the expected outcomes.

use std::sync::Arc;

use bytes::Bytes;

use crate::idempotency::IdempotencyKey;
use crate::journal::{AppendOutcome, AppendRequest, Journal};
use oneclass_protocol::journal::EventEnvelope;

/// Makes the backend fail its next `n` append batches after seqs were assigned (for SQLite,
/// `SqliteJournal::fail_next_batches` under the feature `fault-injection`).
pub type FailNextBatches = Arc<dyn Fn(u64) + Send + Sync>;

/// 2026-01-01T00:00:00Z, the base of the checks' timestamps.
pub(super) const T0: i64 = 1_767_225_600_000;

/// The school every check writes to, inside its namespace.
pub(super) fn school(ns: &str) -> String {
    format!("{ns}-s1")
}

/// A class stream of [`school`].
pub(super) fn stream(ns: &str, name: &str) -> String {
    format!("class:{ns}-s1:{name}")
}

/// A plain request on `stream` with a ~100-byte payload naming `tag`.
pub(super) fn request(ns: &str, stream: &str, tag: &str) -> AppendRequest {
    request_at(ns, stream, "chat.message.posted", T0, tag)
}

/// A request of `kind` at `at` (ms since epoch).
pub(super) fn request_at(ns: &str, stream: &str, kind: &str, at: i64, tag: &str) -> AppendRequest {
    AppendRequest {
        school_id: school(ns),
        stream: stream.to_owned(),
        kind: kind.to_owned(),
        actor: "u1".to_owned(),
        occurred_at: at,
        payload: Bytes::from(format!("{tag:>100}")),
        idempotency: None,
    }
}

/// `r` with an idempotency key whose fingerprint is 32 bytes of `fingerprint`.
pub(super) fn keyed(mut r: AppendRequest, key: &str, fingerprint: u8) -> AppendRequest {
    r.idempotency = Some(IdempotencyKey {
        key: key.to_owned(),
        fingerprint: [fingerprint; 32],
    });
    r
}

/// The envelopes of outcomes that must all be `Appended`.
pub(super) fn appended(outcomes: &[AppendOutcome]) -> Vec<EventEnvelope> {
    outcomes
        .iter()
        .map(|o| match o {
            AppendOutcome::Appended(e) => e.clone(),
            other => panic!("expected Appended, got {other:?}"),
        })
        .collect()
}

/// The seqs of `events`, in order.
pub(super) fn seqs(events: &[EventEnvelope]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

/// Appends a batch that must succeed with every request stored.
pub(super) async fn append_ok<J: Journal + ?Sized>(
    j: &J,
    batch: Vec<AppendRequest>,
) -> Vec<EventEnvelope> {
    appended(&j.append(batch).await.expect("append failed"))
}
