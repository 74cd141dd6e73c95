//! The in-memory backend: every storage capability with the same semantics as SQLite, held in
//! process memory, for unit tests of actors and for tools.
//!
//! Semantics match the durable backends and are proved by the same conformance suite: batches
//! are atomic; seqs are per stream, start at 1 and have no gaps; a failed batch consumes no seq;
//! idempotency keys resolve inside the append (duplicates return the first event, a reused key
//! with another fingerprint is a conflict, also within one batch); events are hash-chained with
//! [`crate::hash::next_link`]; queries page with the shared page token; read cursors never move
//! back. Nothing survives the value being dropped, and "durable" means "in the tables".
//!
//! It needs no thread of its own and no timer: all state sits behind one mutex, never held
//! across an `.await`, and an append completes without sleeping, so the backend works inside
//! any executor and under `tokio::time::pause()`. Time comes from two places only: an event's
//! `occurred_at` (and so its `day`) comes from the request, and idempotency keys are stamped
//! with the wall clock (`oneclass_protocol::timestamp::now_ms`, not tokio's clock) for pruning.
//! Keys older than [`crate::IDEMPOTENCY_TTL`] are pruned on an append once
//! [`MemoryOptions::prune_interval`] has passed since the last prune, as SQLite's writer does on
//! its timer.
//!
//! Appends are committed one at a time, in the order they were called (a fair lock), like a
//! single writer. Two knobs let tests shape timing: [`MemoryOptions::append_delay`] makes every
//! append take that long (on tokio's clock, so paused tests advance it for free), and
//! [`MemoryJournal::hold_appends`] / [`MemoryJournal::release_appends`] hold appends in flight
//! until the test lets them go; [`MemoryJournal::appends_in_flight`] and
//! [`MemoryJournal::committed_batches`] show what the caller did meanwhile. Failure knobs
//! (`fail_next_batches`, `fail_next_commits`, `tamper_payload`) exist under the feature
//! `fault-injection`, with the same meaning as on SQLite.

mod gate;
mod tables;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::cursors::ReadCursors;
use crate::error::StorageError;
use crate::health::Health;
use crate::idempotency::IdempotencyStore;
use crate::journal::{AppendOutcome, AppendRequest, Journal};
use crate::queries::{EventPage, EventQueries, EventQuery};
use gate::AppendGate;
use oneclass_protocol::journal::EventEnvelope;
use oneclass_protocol::timestamp::now_ms;
use tables::Tables;

/// Tunables of [`MemoryJournal`].
#[derive(Debug, Clone)]
pub struct MemoryOptions {
    /// How long every append takes before it commits (zero: none). Waits on tokio's clock, so
    /// it simulates a slow disk in tests without real time passing under `pause()`.
    pub append_delay: Duration,
    /// How often keys older than [`crate::IDEMPOTENCY_TTL`] are forgotten (checked on append,
    /// against the wall clock). Same default as [`crate::SqliteOptions::prune_interval`].
    pub prune_interval: Duration,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            append_delay: Duration::ZERO,
            prune_interval: Duration::from_secs(600),
        }
    }
}

/// The in-memory backend; implements every capability, so it is a [`crate::Storage`].
#[derive(Debug, Default)]
pub struct MemoryJournal {
    options: MemoryOptions,
    /// Every table; a plain mutex because no critical section awaits.
    tables: Mutex<Tables>,
    /// Appends take this (fair, FIFO) lock from before the gate until they commit, so they
    /// commit in call order, one at a time, like a single writer.
    turn: tokio::sync::Mutex<()>,
    /// Holds appends in flight on a test's request.
    gate: AppendGate,
}

impl MemoryJournal {
    /// An empty journal with default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty journal with the given options.
    pub fn with_options(options: MemoryOptions) -> Self {
        MemoryJournal {
            options,
            ..Self::default()
        }
    }

    /// Makes every later append wait (in flight, nothing decided) until
    /// [`MemoryJournal::release_appends`]. Appends already committing are not affected.
    pub fn hold_appends(&self) {
        self.gate.set_open(false);
    }

    /// Lets held appends commit, in the order they were called.
    pub fn release_appends(&self) {
        self.gate.set_open(true);
    }

    /// Appends called and not yet answered (held, delayed or waiting for their turn).
    pub fn appends_in_flight(&self) -> usize {
        self.gate.in_flight()
    }

    /// The size of every batch committed so far, in commit order: lets a test see how a caller
    /// grouped its writes. Failed and empty batches are not listed.
    pub fn committed_batches(&self) -> Vec<usize> {
        self.tables.lock().committed_batches.clone()
    }

    /// TEST AID (feature `fault-injection`). Makes the next `n` non-empty, valid batches fail
    /// after their seqs were assigned; the caller gets [`StorageError::Backend`], nothing is
    /// stored and the next batch reuses the seqs. Calls add up.
    #[cfg(feature = "fault-injection")]
    pub fn fail_next_batches(&self, n: u64) {
        self.tables.lock().fail_batches += n;
    }

    /// TEST AID (feature `fault-injection`). Makes the next `n` commits fail as if the disk had
    /// failed: the batch is not stored, the journal goes [`Health::Failed`] and every later
    /// write (append, cursor, prune) is [`StorageError::Unavailable`]; reads keep working.
    #[cfg(feature = "fault-injection")]
    pub fn fail_next_commits(&self, n: u64) {
        self.tables.lock().fail_commits += n;
    }

    /// TEST AID (feature `fault-injection`). Replaces the stored payload of `stream`'s event
    /// `seq`, so [`Journal::verify_stream`] has something to find; false if there is no such
    /// event.
    #[cfg(feature = "fault-injection")]
    pub fn tamper_payload(&self, stream: &str, seq: u64, payload: bytes::Bytes) -> bool {
        self.tables.lock().tamper_payload(stream, seq, payload)
    }
}

#[async_trait]
impl Journal for MemoryJournal {
    async fn append(&self, batch: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, StorageError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let _in_flight = self.gate.enter();
        let _turn = self.turn.lock().await;
        self.gate.pass().await;
        if !self.options.append_delay.is_zero() {
            tokio::time::sleep(self.options.append_delay).await;
        }
        let now = now_ms();
        let mut tables = self.tables.lock();
        let outcomes = tables.apply(batch, now)?;
        tables.prune_if_due(now, self.options.prune_interval.as_millis() as i64);
        Ok(outcomes)
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, StorageError> {
        Ok(self.tables.lock().read_stream(stream, from_seq, limit))
    }

    async fn read_stream_before(
        &self,
        stream: &str,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, StorageError> {
        Ok(self
            .tables
            .lock()
            .read_stream_before(stream, before_seq, limit))
    }

    async fn head(&self, stream: &str) -> Result<u64, StorageError> {
        Ok(self.tables.lock().head(stream))
    }

    async fn heads(&self, streams: &[String]) -> Result<Vec<u64>, StorageError> {
        let tables = self.tables.lock();
        Ok(streams.iter().map(|s| tables.head(s)).collect())
    }

    async fn streams_with_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>, StorageError> {
        Ok(self.tables.lock().streams_with_prefix(prefix))
    }

    async fn verify_stream(&self, stream: &str) -> Result<Option<u64>, StorageError> {
        Ok(self.tables.lock().verify_stream(stream))
    }

    fn health(&self) -> Health {
        match &self.tables.lock().fatal {
            None => Health::Ok,
            Some(reason) => Health::Failed {
                reason: StorageError::Unavailable(reason.clone()).to_string(),
            },
        }
    }
}

#[async_trait]
impl EventQueries for MemoryJournal {
    async fn query(&self, q: EventQuery) -> Result<EventPage, StorageError> {
        self.tables.lock().query(&q)
    }
}

#[async_trait]
impl ReadCursors for MemoryJournal {
    async fn set_read_cursor(
        &self,
        school_id: &str,
        user_id: &str,
        channel: &str,
        seq: u64,
    ) -> Result<u64, StorageError> {
        let mut tables = self.tables.lock();
        tables.check_fatal()?;
        Ok(tables.set_read_cursor(school_id, user_id, channel, seq))
    }

    async fn read_cursors(
        &self,
        school_id: &str,
        user_id: &str,
    ) -> Result<HashMap<String, u64>, StorageError> {
        Ok(self.tables.lock().read_cursors(school_id, user_id))
    }
}

#[async_trait]
impl IdempotencyStore for MemoryJournal {
    async fn prune_idempotency(&self, older_than_ms: i64) -> Result<u64, StorageError> {
        let mut tables = self.tables.lock();
        tables.check_fatal()?;
        Ok(tables.prune(older_than_ms))
    }
}
