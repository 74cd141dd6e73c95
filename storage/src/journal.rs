//! The [`Journal`] trait: the one capability every backend provides and every actor uses.
//!
//! Actors hold an `Arc<dyn Journal>`. Appends go in batches; a batch is atomic (all of its events
//! are stored or none are, and a failed batch consumes no seq), is acknowledged only once it is
//! durable, and resolves idempotency keys so a client's retry returns the first result instead of
//! writing twice. Reads serve the three access paths of the hub: by stream and seq (history,
//! resume, actor recovery), by school and time filtered by kind (audit, export), and the per-user
//! read cursors of chat channels.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::StorageError;
use oneclass_protocol::journal::EventEnvelope;

/// How long an idempotency key is remembered. A client retrying the same `client_msg_id` within
/// this window gets the first result back; after it the key may be pruned and a repeat would be
/// stored as a new event. A day comfortably covers a phone that was offline overnight.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Largest `limit` honoured by the read methods; larger values are clamped so one request cannot
/// pull an unbounded page into memory.
pub const MAX_PAGE: usize = 10_000;

/// Deduplicates retries of one logical request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    /// Identity of the logical request; callers build it from its parts, e.g.
    /// `(school, channel, sender, client_msg_id)` rendered as one string.
    pub key: String,
    /// Hash of the request's content, so a key reused for a *different* request is told apart
    /// from a retry ([`AppendOutcome::Conflict`] instead of [`AppendOutcome::Duplicate`]).
    pub fingerprint: [u8; 32],
}

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

/// A query over one school's events in a time range, for audit and export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// The tenant; a query never crosses schools.
    pub school_id: String,
    /// Inclusive lower bound on `occurred_at` (ms since epoch).
    pub from_ms: i64,
    /// Exclusive upper bound on `occurred_at` (ms since epoch).
    pub to_ms: i64,
    /// Keep only kinds starting with this string (`"chat."` matches `chat.message.posted`).
    pub kind_prefix: Option<String>,
    /// Most events in one page (clamped to [`MAX_PAGE`]; must be at least 1).
    pub limit: usize,
    /// Continue after the page that returned this token.
    pub page_token: Option<String>,
}

/// One page of an [`EventQuery`], ordered by `(occurred_at, event_id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    /// The events of this page.
    pub events: Vec<EventEnvelope>,
    /// Pass back in [`EventQuery::page_token`] for the next page; `None` when this was the last.
    pub next_page_token: Option<String>,
}

impl EventPage {
    /// Builds a page from up to `limit + 1` events read in query order: the extra event only
    /// says another page exists, so it is dropped and the token points after the last kept one.
    /// Both backends page this way, so their tokens are identical.
    pub fn from_overfetch(mut events: Vec<EventEnvelope>, limit: usize) -> Self {
        let next_page_token = if events.len() > limit {
            events.truncate(limit);
            events.last().map(|e| {
                crate::page_token::QueryCursor {
                    occurred_at: e.occurred_at,
                    event_id: e.event_id,
                }
                .encode()
            })
        } else {
            None
        };
        EventPage {
            events,
            next_page_token,
        }
    }
}

/// Whether the journal can take writes, for the hub's readiness probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Appends are being accepted.
    Ok,
    /// Appends fail until the process restarts; `reason` says why (e.g. a failed fsync).
    Failed {
        /// Human-readable cause, for logs and the readiness endpoint.
        reason: String,
    },
}

impl Health {
    /// True while appends are accepted.
    pub fn is_ok(&self) -> bool {
        matches!(self, Health::Ok)
    }
}

/// The event journal. Object safe; held by actors as `Arc<dyn Journal>`.
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

    /// One page of a school's events in a time range, optionally filtered by kind prefix.
    async fn query(&self, q: EventQuery) -> Result<EventPage, StorageError>;

    /// Moves `user`'s read cursor on `channel` forward to `seq` (never backwards) and returns the
    /// value stored afterwards.
    async fn set_read_cursor(
        &self,
        school_id: &str,
        user_id: &str,
        channel: &str,
        seq: u64,
    ) -> Result<u64, StorageError>;

    /// All of `user`'s read cursors in `school`, by channel.
    async fn read_cursors(
        &self,
        school_id: &str,
        user_id: &str,
    ) -> Result<HashMap<String, u64>, StorageError>;

    /// Forgets idempotency keys recorded before `older_than_ms` (ms since epoch); returns how
    /// many were removed. Events are never touched.
    async fn prune_idempotency(&self, older_than_ms: i64) -> Result<u64, StorageError>;

    /// Recomputes `stream`'s hash chain from the first event; returns the first seq whose hash
    /// (or position) does not match, `None` when the whole stream checks out.
    async fn verify_stream(&self, stream: &str) -> Result<Option<u64>, StorageError>;

    /// Whether appends are being accepted.
    fn health(&self) -> Health;
}
