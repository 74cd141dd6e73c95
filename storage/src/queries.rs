//! [`EventQueries`]: the read-only analyst path over the journal, one school's events in a time
//! range filtered by kind, for audit, export, analytics and `hub journal verify`.
//!
//! It is its own trait because its callers (the hub's REST routes, command-line tools) must
//! never be able to write: they hold an `Arc<dyn EventQueries>` and nothing else. It is also a
//! separate access path in storage (the CQL backend serves it from `events_by_school_day`, not
//! from the per-stream table), so a backend could serve it from a replica or a warehouse.
//!
//! Pages are ordered by `(occurred_at, event_id)`, which is unique per event; the page token is
//! the shared [`crate::page_token`] format, so every backend hands out identical tokens. A
//! malformed token or a zero limit is [`StorageError::Invalid`].

use async_trait::async_trait;

use crate::error::StorageError;
use oneclass_protocol::journal::EventEnvelope;

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
    /// Most events in one page (clamped to [`crate::MAX_PAGE`]; must be at least 1).
    pub limit: usize,
    /// Continue after the page that returned this token.
    pub page_token: Option<String>,
}

impl EventQuery {
    /// The page size to read (the limit clamped to [`crate::MAX_PAGE`]) and the decoded page
    /// token; every backend starts its query here, so all refuse the same inputs the same way.
    pub(crate) fn page_bounds(
        &self,
    ) -> Result<(usize, Option<crate::page_token::QueryCursor>), StorageError> {
        if self.limit == 0 {
            return Err(StorageError::Invalid("limit must be at least 1".into()));
        }
        let after = self
            .page_token
            .as_deref()
            .map(crate::page_token::QueryCursor::decode)
            .transpose()?;
        Ok((self.limit.min(crate::journal::MAX_PAGE), after))
    }
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
    /// Every backend pages this way, so their tokens are identical.
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

/// Read-only queries by school, time and kind. Object safe; the hub's routes hold it as
/// `Arc<dyn EventQueries>`.
#[async_trait]
pub trait EventQueries: Send + Sync + 'static {
    /// One page of a school's events in a time range, optionally filtered by kind prefix.
    async fn query(&self, q: EventQuery) -> Result<EventPage, StorageError>;
}
