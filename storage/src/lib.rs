//! The OneClass event journal and the other state the hub stores.
//!
//! Every fact the hub learns (a chat message, a notification, a payment transition, a delivery
//! report) becomes one immutable event in the journal, and every actor that restarts rebuilds its
//! state from it. This crate owns the bytes on disk:
//!
//! - one trait per capability: [`Journal`] (the append-only log: atomic, idempotent batch
//!   appends with per-stream gap-free seqs, reads by stream), [`EventQueries`] (read-only
//!   queries by school, time and kind), [`ReadCursors`] (per-user read positions),
//!   [`IdempotencyStore`] (key pruning), and [`Storage`], all of them behind one handle
//!   (module [`capabilities`] explains the cut);
//! - [`SqliteJournal`], the embedded backend (the default): one SQLite file in WAL mode with
//!   `synchronous=FULL`, one writer thread doing group commit, a small pool of read connections;
//! - [`scylla::ScyllaJournal`], the distributed backend on ScyllaDB or Cassandra;
//! - [`MemoryJournal`], an in-memory backend with the same semantics, for unit tests of actors
//!   (no threads, no real time needed) and for tools;
//! - [`hash`], the hash chain linking every event to its stream predecessor;
//! - [`page_token`], the backend-independent cursor behind [`EventPage::next_page_token`];
//! - `conformance` (feature `conformance`), the checks every backend must pass, one module per
//!   capability.
//!
//! Test aids that make a backend fail on purpose (`fail_next_batches`, `fail_next_commits`,
//! `tamper_payload`) exist only with the feature `fault-injection`, which the crates whose tests
//! use them enable (as dev-dependency features where they can); production builds lack them.
//!
//! The envelope type itself lives in `oneclass_protocol::journal` and is re-exported here as
//! [`EventEnvelope`] so callers need only this crate.

pub mod capabilities;
pub mod cursors;
pub mod error;
pub mod hash;
pub mod health;
pub mod idempotency;
pub mod journal;
pub mod memory;
pub mod page_token;
pub mod queries;
pub mod scylla;
pub mod sqlite;
mod validate;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use capabilities::Storage;
pub use cursors::ReadCursors;
pub use error::StorageError;
pub use health::Health;
pub use idempotency::{IdempotencyKey, IdempotencyStore, IDEMPOTENCY_TTL};
pub use journal::{AppendOutcome, AppendRequest, Journal, MAX_PAGE};
pub use memory::{MemoryJournal, MemoryOptions};
pub use oneclass_protocol::journal::EventEnvelope;
pub use queries::{EventPage, EventQueries, EventQuery};
pub use sqlite::{JournalIdentity, SqliteJournal, SqliteOptions};
