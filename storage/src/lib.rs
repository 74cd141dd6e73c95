//! The OneClass event journal.
//!
//! Every fact the hub learns (a chat message, a notification, a payment transition, a delivery
//! report) becomes one immutable event in the journal, and every actor that restarts rebuilds its
//! state from it. This crate owns the bytes on disk:
//!
//! - [`Journal`], the one trait actors hold as `Arc<dyn Journal>`: atomic, idempotent batch
//!   appends with per-stream gap-free seqs, reads by stream and by school and time, read cursors.
//! - [`SqliteJournal`], the embedded backend (the default): one SQLite file in WAL mode with
//!   `synchronous=FULL`, one writer thread doing group commit, a small pool of read connections.
//! - [`hash`], the hash chain linking every event to its stream predecessor.
//! - [`page_token`], the backend-independent cursor behind [`EventPage::next_page_token`].
//! - `conformance` (feature `conformance`), checks every backend must pass.
//!
//! The envelope type itself lives in `oneclass_protocol::journal` and is re-exported here as
//! [`EventEnvelope`] so callers need only this crate.

pub mod error;
pub mod hash;
pub mod journal;
pub mod page_token;
pub mod scylla;
pub mod sqlite;
mod validate;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::StorageError;
pub use journal::{
    AppendOutcome, AppendRequest, EventPage, EventQuery, Health, IdempotencyKey, Journal,
    IDEMPOTENCY_TTL, MAX_PAGE,
};
pub use oneclass_protocol::journal::EventEnvelope;
pub use sqlite::{SqliteJournal, SqliteOptions};
