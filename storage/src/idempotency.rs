//! Idempotency keys: what a key is ([`IdempotencyKey`]), how long it is remembered
//! ([`IDEMPOTENCY_TTL`]) and the maintenance of the stored keys ([`IdempotencyStore`]).
//!
//! A key is RESOLVED inside [`crate::Journal::append`], in the same atomic step as the write it
//! guards (a retry racing the first attempt must see it); this trait only covers what happens to
//! keys afterwards: forgetting the ones older than the TTL. Backends also prune on their own
//! schedule; the method is for operators and tests.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::StorageError;

/// How long an idempotency key is remembered. A client retrying the same `client_msg_id` within
/// this window gets the first result back; after it the key may be pruned and a repeat would be
/// stored as a new event. A day comfortably covers a phone that was offline overnight.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Deduplicates retries of one logical request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    /// Identity of the logical request; callers build it from its parts, e.g.
    /// `(school, channel, sender, client_msg_id)` rendered as one string.
    pub key: String,
    /// Hash of the request's content, so a key reused for a *different* request is told apart
    /// from a retry ([`crate::AppendOutcome::Conflict`] instead of
    /// [`crate::AppendOutcome::Duplicate`]).
    pub fingerprint: [u8; 32],
}

/// Maintenance of the stored idempotency keys. Object safe.
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Forgets idempotency keys recorded before `older_than_ms` (ms since epoch, by the
    /// backend's clock at the time the key was written); returns how many were removed. Events
    /// are never touched.
    async fn prune_idempotency(&self, older_than_ms: i64) -> Result<u64, StorageError>;
}
