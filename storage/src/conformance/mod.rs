//! Checks every storage backend must pass, one module per capability, each written against its
//! trait alone: [`journal`] ([`crate::Journal`]), [`queries`] ([`crate::EventQueries`]),
//! [`cursors`] ([`crate::ReadCursors`]) and [`idempotency`] (key resolution in append, and
//! [`crate::IdempotencyStore`]). A new capability brings a new module here, and every backend's
//! test binary runs it.
//!
//! Each check is an async function taking the backend and a namespace string unique to the call
//! (e.g. a random or per-test prefix); every school and stream it touches is derived from that
//! namespace, so checks can share one database (as a CQL keyspace per test run would). A check
//! panics, with a message, on the first violation. Checks are generic over the traits they need
//! (`&SqliteJournal`, `&dyn Storage` and `Arc<…>` of either all work). Each module has a
//! `run_all`; [`run_all`] runs every module.
//!
//! The one check that needs a backend-specific hook is
//! [`journal::failed_batch_consumes_no_seq`]: it takes a [`FailNextBatches`] that makes the
//! backend fail the next batches after assigning seqs (the backends' `fail_next_batches`, under
//! the feature `fault-injection`).

pub mod cursors;
pub mod idempotency;
pub mod journal;
pub mod queries;

mod all;
mod fixtures;

pub use all::run_all;
pub use fixtures::FailNextBatches;
