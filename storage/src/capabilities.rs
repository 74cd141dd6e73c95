//! [`Storage`]: every capability of one backend behind one handle.
//!
//! # One trait per capability
//!
//! A backend stores several things with different rules, and each has its own trait:
//!
//! | trait | what it owns | who holds it |
//! |---|---|---|
//! | [`Journal`] | the append-only log: atomic batches, seqs, key resolution, reads by stream, heads, prefix listing, chain verification, health | actors (the school actor writes, sessions replay) |
//! | [`EventQueries`] | read-only queries by school, time and kind | the hub's analyst routes and tools, which must not write |
//! | [`ReadCursors`] | per-user read positions: mutable, never moving back | the school actor (writes) and sessions (reads) |
//! | [`IdempotencyStore`] | maintenance of stored idempotency keys (pruning) | operators, tests |
//!
//! The line follows who may call what and which invariants hold, not which table a method
//! touches: the log is append-only and hash-chained, queries are the only path a read-only
//! caller gets, cursors are state that is overwritten, and keys are bookkeeping whose
//! resolution has to stay inside `append` (it must be atomic with the write). Verification and
//! health stay on [`Journal`] because they are statements about the log and its writer.
//!
//! What comes next is NEW traits beside these, never new [`Journal`] methods: REST idempotency
//! records, API keys, MFA secrets, wrapped data keys, the index of unfinished payment sagas,
//! webhook endpoints. Each gets its own file, its own conformance module in
//! [`crate::conformance`] and an implementation in every backend, and joins [`Storage`].
//!
//! # One handle for all of them
//!
//! [`Storage`] is the sum of the capabilities with a blanket impl, so any type implementing all
//! of them is a `Storage` without writing anything. The hub opens a backend once as
//! `Arc<dyn Storage>` and hands out narrower handles by upcasting (stable since Rust 1.86):
//!
//! ```
//! # use std::sync::Arc;
//! # use oneclass_storage::{EventQueries, MemoryJournal, Storage};
//! let all: Arc<dyn Storage> = Arc::new(MemoryJournal::new());
//! let read_only: Arc<dyn EventQueries> = all.clone();
//! ```

use crate::cursors::ReadCursors;
use crate::idempotency::IdempotencyStore;
use crate::journal::Journal;
use crate::queries::EventQueries;

/// Every storage capability of one backend. Implemented automatically (blanket impl) for each
/// type that implements all of them; held as `Arc<dyn Storage>`.
pub trait Storage: Journal + EventQueries + ReadCursors + IdempotencyStore {}

impl<T> Storage for T where T: Journal + EventQueries + ReadCursors + IdempotencyStore + ?Sized {}
