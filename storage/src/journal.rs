//! [`Journal`]: the event log itself, the capability every actor writes through.
//!
//! Appends go in batches; a batch is atomic (all of its events are stored or none are, and a
//! failed batch consumes no seq), is acknowledged only once it is durable, and resolves
//! idempotency keys so a client's retry returns the first result instead of writing twice. Key
//! resolution lives here, inside `append`, and not in [`crate::IdempotencyStore`]: it must see
//! the same transaction as the write, or two retries racing each other could both be stored.
//!
//! Reads here are the log's own access path, by stream and seq (history, resume, actor
//! recovery), plus the heads and prefix listings that go with it, chain verification and the
//! writer's health. Everything else a backend stores sits behind its own trait (see
//! [`crate::capabilities`] for the list and why the line is drawn where it is).

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::StorageError;
use crate::health::Health;
use crate::idempotency::IdempotencyKey;
use oneclass_protocol::journal::EventEnvelope;

/// Largest `limit` honoured by the read methods; larger values are clamped so one request cannot
/// pull an unbounded page into memory.
pub const MAX_PAGE: usize = 10_000;

/// One event to append. The writer fills in `day`, `event_id`, `seq` and `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendRequest {
    /// Tenant the event belongs to; drives the by-school access path.
    pub school_id: String,
    /// Stream the event is appended to; seqs are per stream.
    pub stream: String,
    /// Dotted event kind, e.g. `chat.message.posted`.
    pub kind: String,
    /// Who caused the event (user id, `system`, a service or a provider).
    pub actor: String,
    /// When it happened, milliseconds since the Unix epoch; also decides the event's `day`.
    pub occurred_at: i64,
    /// MessagePack payload, stored as given.
    pub payload: Bytes,
    /// Set when retries of this request must not be stored twice.
    pub idempotency: Option<IdempotencyKey>,
}

/// What happened to one [`AppendRequest`] of a committed batch (same order as the batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Stored now, with its new seq.
    Appended(EventEnvelope),
    /// The same key with the same fingerprint was stored before (possibly earlier in the same
    /// batch): this is the FIRST stored event; nothing new was written and no seq was taken.
    Duplicate(EventEnvelope),
    /// The key was used before for a request with another fingerprint; nothing was written and no
    /// seq was taken.
    Conflict,
}

impl AppendOutcome {
    /// The stored event this outcome refers to, if any.
    pub fn envelope(&self) -> Option<&EventEnvelope> {
        match self {
            AppendOutcome::Appended(e) | AppendOutcome::Duplicate(e) => Some(e),
            AppendOutcome::Conflict => None,
        }
    }
}

/// The append-only event log. Object safe; actors hold it as `Arc<dyn Journal>` (or the whole
/// backend as `Arc<dyn Storage>`, see [`crate::Storage`]).
#[async_trait]
pub trait Journal: Send + Sync + 'static {
    /// Appends a batch atomically and returns one outcome per request, in order. Resolves only
    /// after the batch is durable. On error nothing of the batch was stored and no seq was used.
    ///
    /// A request with an empty `school_id`, `stream`, `kind`, `actor` or idempotency key makes
    /// the whole batch [`StorageError::Invalid`]. An empty batch succeeds with no outcomes.
    async fn append(&self, batch: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, StorageError>;

    /// Events of `stream` with `seq >= from_seq`, ascending, at most `limit`.
    async fn read_stream(
        &self,
        stream: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, StorageError>;

    /// The up to `limit` events of `stream` just before `before_seq` (exclusive; `None` = up to
    /// the head), returned oldest first. Pages backwards through history.
    async fn read_stream_before(
        &self,
        stream: &str,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, StorageError>;

    /// The highest committed seq of `stream`, 0 when it has none.
    async fn head(&self, stream: &str) -> Result<u64, StorageError>;

    /// [`Journal::head`] for many streams at once, in the same order.
    async fn heads(&self, streams: &[String]) -> Result<Vec<u64>, StorageError>;

    /// Every stream whose name starts with `prefix`, with its head, ordered by name.
    async fn streams_with_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>, StorageError>;

    /// Recomputes `stream`'s hash chain from the first event; returns the first seq whose hash
    /// (or position) does not match, `None` when the whole stream checks out.
    async fn verify_stream(&self, stream: &str) -> Result<Option<u64>, StorageError>;

    /// Whether appends are being accepted.
    fn health(&self) -> Health;
}
