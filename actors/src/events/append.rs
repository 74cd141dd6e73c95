//! [`Append`]: one event to journal, built from typed parts, and [`write`], the call that hands a
//! batch of them to the journal.
//!
//! Invariants: the stream is a [`StreamName`] (so a writer never formats a name by hand and the
//! school actor can tell a channel from its roster without parsing), the kind is one of
//! [`kinds::ALL`] (checked in debug builds, so every test that writes an unregistered kind fails),
//! and the payload is encoded by [`super::payload`]. Failure modes are the journal's: see
//! [`Journal::append`].

use oneclass_protocol::journal::kinds;
use oneclass_protocol::timestamp::now_ms;
use oneclass_protocol::StreamName;
use oneclass_storage::{AppendOutcome, AppendRequest, IdempotencyKey, Journal, StorageError};
use serde::Serialize;

use super::payload;

/// One event to journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    /// The typed stream, kept beside the request so the writer need not parse it back.
    stream: StreamName,
    request: AppendRequest,
}

impl Append {
    /// An event of `kind` by `actor` on `stream` of `school`, occurring now, without an
    /// idempotency key.
    pub fn new<P: Serialize>(
        school: &str,
        stream: StreamName,
        kind: &'static str,
        actor: impl Into<String>,
        payload: &P,
    ) -> Self {
        debug_assert!(
            kinds::is_known(kind),
            "`{kind}` is not in protocol::journal::kinds::ALL; register it there first"
        );
        let request = AppendRequest {
            school_id: school.to_owned(),
            stream: stream.to_string(),
            kind: kind.to_owned(),
            actor: actor.into(),
            occurred_at: now_ms(),
            payload: payload::encode(payload),
            idempotency: None,
        };
        Self { stream, request }
    }

    /// The same event occurring at `occurred_at` (ms since the epoch), for events of one request
    /// that must share a time.
    pub fn at(mut self, occurred_at: i64) -> Self {
        self.request.occurred_at = occurred_at;
        self
    }

    /// The same event, deduplicated by `key` when one is given (see [`super::keys`]).
    pub fn idempotent(mut self, key: Option<IdempotencyKey>) -> Self {
        self.request.idempotency = key;
        self
    }

    /// The typed stream.
    pub fn stream(&self) -> &StreamName {
        &self.stream
    }

    /// The stream's name as stored.
    pub fn stream_name(&self) -> &str {
        &self.request.stream
    }

    /// The event kind.
    pub fn kind(&self) -> &str {
        &self.request.kind
    }

    /// The idempotency key, if any.
    pub fn key(&self) -> Option<&IdempotencyKey> {
        self.request.idempotency.as_ref()
    }

    /// The encoded payload.
    pub fn payload(&self) -> &[u8] {
        &self.request.payload
    }
}

/// Appends `batch` atomically: one outcome per event, in order, once the batch is durable.
pub async fn write(
    journal: &dyn Journal,
    batch: Vec<Append>,
) -> Result<Vec<AppendOutcome>, StorageError> {
    journal
        .append(batch.into_iter().map(|a| a.request).collect())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use oneclass_protocol::ChannelName;

    #[test]
    fn an_append_carries_its_typed_stream_and_the_name_it_is_stored_under() {
        let a = Append::new(
            "s1",
            ChannelName::inbox("s1", "u1").into(),
            kinds::NOTIFICATION_POSTED,
            "system",
            &(),
        )
        .at(42);
        assert_eq!(a.stream_name(), "user:s1:u1");
        assert!(a.stream().channel().is_some());
        assert_eq!(a.request.occurred_at, 42);
        assert_eq!(a.kind(), "notification.posted");
    }

    #[test]
    #[should_panic(expected = "not in protocol::journal::kinds::ALL")]
    fn writing_an_unregistered_kind_fails_in_debug_builds() {
        let _ = Append::new("s1", StreamName::audit("s1"), "audit.new", "u1", &());
    }
}
