//! Typed rows read from the CQL tables, and their conversion to the journal's types.

use scylla::DeserializeRow;
use uuid::Uuid;

use crate::error::StorageError;
use oneclass_protocol::journal::EventEnvelope;

/// The event columns both event tables share, in the order the SELECTs name them.
pub(crate) const EVENT_COLUMNS: &str =
    "school_id, day, event_id, stream, seq, kind, actor, occurred_at, payload, hash";

/// One stored event, from either event table.
#[derive(Debug, DeserializeRow)]
pub(crate) struct EventRow {
    pub school_id: String,
    pub day: String,
    pub event_id: Uuid,
    pub stream: String,
    pub seq: i64,
    pub kind: String,
    pub actor: String,
    pub occurred_at: i64,
    pub payload: Vec<u8>,
    pub hash: Vec<u8>,
}

impl EventRow {
    /// The envelope this row stores; a hash that is not 32 bytes means a damaged row.
    pub(crate) fn into_envelope(self) -> Result<EventEnvelope, StorageError> {
        let hash: [u8; 32] = self.hash.try_into().map_err(|_| StorageError::Backend {
            message: format!(
                "stored hash of {} seq {} is not 32 bytes",
                self.stream, self.seq
            ),
            source: None,
        })?;
        Ok(EventEnvelope {
            school_id: self.school_id,
            day: self.day,
            event_id: self.event_id,
            stream: self.stream,
            seq: self.seq as u64,
            kind: self.kind,
            actor: self.actor,
            occurred_at: self.occurred_at,
            payload: self.payload.into(),
            hash,
        })
    }
}

/// A stream's head row.
#[derive(Debug, DeserializeRow)]
pub(crate) struct HeadRow {
    pub head: i64,
    pub hash: Vec<u8>,
}

/// An idempotency key's record.
#[derive(Debug, DeserializeRow)]
pub(crate) struct KeyRow {
    pub fingerprint: Vec<u8>,
    pub stream: String,
    pub seq: i64,
}

/// One key of the prune index.
#[derive(Debug, DeserializeRow)]
pub(crate) struct KeyByMinuteRow {
    pub created_at: i64,
    pub key: String,
}

/// One read cursor.
#[derive(Debug, DeserializeRow)]
pub(crate) struct CursorRow {
    pub channel: String,
    pub seq: i64,
}

/// One counter of `event_counts`.
#[derive(Debug, DeserializeRow)]
pub(crate) struct CountRow {
    pub kind: String,
    pub n: scylla::value::Counter,
}
