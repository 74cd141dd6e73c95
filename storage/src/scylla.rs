//! The distributed journal backend: ScyllaDB (or Apache Cassandra 5) through the `scylla` crate.
//!
//! One [`ScyllaJournal`] holds one driver `Session` (a pool of connections to every node, shared
//! by all requests) and the statements it prepared once at connect. Rows are read into typed
//! structs (module `rows`); every statement runs at the configured consistency
//! (`LOCAL_QUORUM` by default, for reads and writes alike, so a read sees every acknowledged
//! write); multi-row reads are paged by the driver. The layout is `storage/schema.cql`
//! (applied idempotently at connect, module `schema`); Scylla-only options sit behind
//! [`Dialect`] so the same file runs on Cassandra, which is what the tests use.
//!
//! # Seqs: one owner per stream
//!
//! A stream's seqs must be gap-free and a later seq must never land before an earlier one, yet
//! CQL has no transactions. The backend therefore gives each stream a single owner inside the
//! process (module `owners`): an append locks every stream its batch touches (and every
//! idempotency key it carries), in sorted order, with a fair async lock. Under the lock the
//! owner knows the stream's head and last hash (read from `stream_heads` on first use and kept
//! in memory), assigns the next seqs, resolves idempotency keys, and writes. Appends to other
//! streams proceed in parallel; at most [`ScyllaOptions::max_in_flight`] writes are on the wire
//! at once. The lock is held until the write is acknowledged, so a stream never has two writes
//! outstanding and never hands out a seq above an unwritten one.
//!
//! This ownership is per process: like the embedded store ("one handle per file"), a keyspace
//! is written by one hub process at a time; two writers on one stream would assign the same
//! seqs, and the later write would replace the earlier one's rows.
//!
//! # Atomic batches, and why a failed batch consumes no seq
//!
//! Each caller batch becomes ONE logged CQL batch (module `append`): the events in both event
//! tables, the new heads, the idempotency keys, the day index and, for new streams, the prefix
//! listing. Cassandra and ScyllaDB write a logged batch to a batch log on other nodes before
//! applying it, and replay it from there if the coordinator dies, so once a logged batch is
//! accepted either all of its rows land or none do (readers may briefly see some rows before
//! the others, since a batch is not isolated). Every row of the batch carries one client-side
//! write timestamp, taken from a clock that never goes backwards in this process, so the newer
//! head of a stream always wins over an older one.
//!
//! The owner advances its in-memory head only after the batch was acknowledged. When the write
//! certainly did not happen (the coordinator refused it, no node was reachable, the request was
//! malformed), the caller gets an error and the next batch reuses the same seqs: nothing was
//! stored, so no seq was consumed. (The conformance suite's failure hook,
//! `ScyllaJournal::fail_next_batches` under feature `fault-injection`, fails batches at exactly
//! that point: after seqs were assigned, before the write.)
//!
//! # Write timeouts and node crashes
//!
//! A timeout, a connection lost mid-request or a crashing coordinator leave the outcome unknown:
//! the batch may have landed, may land later (batch log replay), or may never land. Giving its
//! seqs to other events could then put two different events on one seq, so the owner never
//! does that. It re-sends the *same* batch — same seqs, same event ids, same hashes, same write
//! timestamp, so a second copy is byte-identical to the first and is idempotent — up to
//! [`ScyllaOptions::write_attempts`] times with backoff; the driver may also retry it on another
//! node because the batch is marked idempotent. If every attempt fails, the caller gets
//! [`StorageError::Unavailable`] ("outcome unknown") and the batch stays attached to its streams
//! and keys as a pending write: the next append to any of them first re-sends it until it
//! succeeds, and only then continues with the following seqs. A timed-out write is thus retried
//! with its own seq and event id, never skipped. A caller that retries with its idempotency key
//! then gets the stored event back as a duplicate.
//!
//! If the hub process itself dies while a batch is in doubt, the new process reads the heads
//! from `stream_heads`; the batch log guarantees the batch is either fully visible there or
//! not at all. The remaining window: a batch whose batch log was written but whose replay has
//! not happened yet when the new process appends to the same stream. The new event then
//! overwrites the seq (its timestamp is newer, so it wins when the old batch is replayed), and
//! the replayed event survives only as a row of `events_by_school_day` that its stream does not
//! list — visible to `query`, detectable by comparing the two tables.
//!
//! # Counters
//!
//! `event_counts` (events per school, day and kind, for dashboards) is updated after the batch,
//! outside it (CQL cannot mix counter and regular tables in one batch). Counter updates are not
//! idempotent, so they are never retried: see module `counters` for what a failure does and
//! [`ScyllaJournal::reconcile_counts`] for recounting a day from the events.

mod append;
mod counters;
mod errors;
mod owners;
mod reads;
mod rows;
mod schema;
mod scope;
mod statements;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::SerialConsistency;
use tokio::sync::Semaphore;

pub use scylla::statement::Consistency;

use crate::cursors::ReadCursors;
use crate::error::StorageError;
use crate::health::Health;
use crate::idempotency::IdempotencyStore;
use crate::journal::{AppendOutcome, AppendRequest, Journal};
use crate::queries::{EventPage, EventQueries, EventQuery};
use oneclass_protocol::journal::EventEnvelope;
use owners::Owners;
use statements::Statements;

pub use counters::Reconciled;

/// Which CQL server the schema is written for. Options that only ScyllaDB understands
/// (tablets, incremental compaction) are used with [`Dialect::Scylla`] only; the same
/// `schema.cql` then also runs on Apache Cassandra 5, which is what the tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// ScyllaDB (2025.1 or newer for `IncrementalCompactionStrategy`).
    #[default]
    Scylla,
    /// Apache Cassandra 5.0.
    Cassandra,
}

/// Tunables of [`ScyllaJournal`].
#[derive(Debug, Clone)]
pub struct ScyllaOptions {
    /// Which server the DDL targets.
    pub dialect: Dialect,
    /// Consistency of every read and write. The default, `LOCAL_QUORUM`, lets a read see every
    /// acknowledged write while one replica per data centre is down.
    pub consistency: Consistency,
    /// When set, `CREATE KEYSPACE IF NOT EXISTS … WITH replication = <this CQL map>` runs at
    /// connect, e.g. `{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}`. When not
    /// set the keyspace must exist.
    pub create_keyspace: Option<String>,
    /// ScyllaDB only: the keyspace's `tablets` option at creation (`None` leaves the cluster's
    /// default). Ignored for Cassandra.
    pub tablets: Option<bool>,
    /// Apply `schema.cql` at connect (the hub's `--migrate`). When false the schema must be
    /// there already.
    pub migrate: bool,
    /// Most append batches on the wire at once, across all streams.
    pub max_in_flight: usize,
    /// Client-side timeout of one request.
    pub request_timeout: Duration,
    /// How often an append whose outcome is unknown is sent (the first try included) before the
    /// caller is told so; the write stays pending on its streams afterwards.
    pub write_attempts: u32,
    /// Seqs per partition of `events_by_stream`. Used only when the keyspace is created; an
    /// existing keyspace keeps the size it was created with.
    pub bucket_size: u64,
    /// Rows per page of the driver's paged reads.
    pub page_size: i32,
    /// How long an untouched read cursor is kept.
    pub read_cursor_ttl: Duration,
}

impl Default for ScyllaOptions {
    fn default() -> Self {
        ScyllaOptions {
            dialect: Dialect::Scylla,
            consistency: Consistency::LocalQuorum,
            create_keyspace: None,
            tablets: None,
            migrate: true,
            max_in_flight: 256,
            request_timeout: Duration::from_secs(10),
            write_attempts: 5,
            bucket_size: 10_000,
            page_size: 1_000,
            read_cursor_ttl: Duration::from_secs(400 * 24 * 60 * 60),
        }
    }
}

/// The ScyllaDB/Cassandra-backed [`Journal`].
pub struct ScyllaJournal {
    keyspace: String,
    pub(crate) session: Session,
    pub(crate) st: Statements,
    pub(crate) owners: Owners,
    pub(crate) in_flight: Semaphore,
    pub(crate) options: ScyllaOptions,
    pub(crate) bucket_size: u64,
    /// Test aid: caller batches still to fail after seq assignment.
    pub(crate) fail_batches: AtomicU64,
    /// Keys created before this instant were already pruned by this journal (ms).
    pub(crate) pruned_until: Mutex<Option<i64>>,
}

impl std::fmt::Debug for ScyllaJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScyllaJournal")
            .field("keyspace", &self.keyspace)
            .field("dialect", &self.options.dialect)
            .field("consistency", &self.options.consistency)
            .finish()
    }
}

impl ScyllaJournal {
    /// Connects to the cluster through `nodes` (`host:port`, any subset of the cluster), selects
    /// `keyspace` (creating it and applying the schema as `options` say) and prepares every
    /// statement.
    pub async fn connect(
        nodes: &[String],
        keyspace: &str,
        options: ScyllaOptions,
    ) -> Result<Self, StorageError> {
        schema::check_keyspace_name(keyspace)?;
        if nodes.is_empty() {
            return Err(StorageError::Invalid("no CQL node given".into()));
        }
        let profile = ExecutionProfile::builder()
            .consistency(options.consistency)
            .serial_consistency(Some(SerialConsistency::LocalSerial))
            .request_timeout(Some(options.request_timeout))
            .build();
        let session = SessionBuilder::new()
            .known_nodes(nodes)
            .default_execution_profile_handle(profile.into_handle())
            .build()
            .await
            .map_err(|e| StorageError::Unavailable(format!("connect to {nodes:?}: {e}")))?;
        if let Some(replication) = &options.create_keyspace {
            schema::create_keyspace(
                &session,
                keyspace,
                replication,
                options.dialect,
                options.tablets,
            )
            .await?;
        }
        session
            .use_keyspace(keyspace, false)
            .await
            .map_err(|e| StorageError::Unavailable(format!("use keyspace {keyspace}: {e}")))?;
        let bucket_size = if options.migrate {
            schema::migrate(&session, options.dialect, options.bucket_size.max(1)).await?
        } else {
            schema::expect_schema(&session).await?
        };
        let st = Statements::prepare(&session, options.consistency, options.page_size).await?;
        tracing::info!(
            message = "connected to the CQL journal",
            keyspace,
            dialect = ?options.dialect,
            bucket_size
        );
        Ok(ScyllaJournal {
            keyspace: keyspace.to_owned(),
            session,
            st,
            owners: Owners::default(),
            in_flight: Semaphore::new(options.max_in_flight.max(1)),
            options,
            bucket_size,
            fail_batches: AtomicU64::new(0),
            pruned_until: Mutex::new(None),
        })
    }

    /// The keyspace this journal writes.
    pub fn keyspace(&self) -> &str {
        &self.keyspace
    }

    /// Seqs per `events_by_stream` partition in this keyspace.
    pub fn bucket_size(&self) -> u64 {
        self.bucket_size
    }

    /// The shared driver session, for tools that run their own CQL (tests, migrations).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// TEST AID (feature `fault-injection`). Makes the next `n` append batches fail after their
    /// seqs were assigned and
    /// before they were written, as a write the coordinator refused would; the caller gets a
    /// [`StorageError::Backend`] error and the next batch reuses the seqs. Batches that write
    /// nothing new (only duplicates or conflicts) do not count. Calls add up.
    #[cfg(feature = "fault-injection")]
    pub fn fail_next_batches(&self, n: u64) {
        self.fail_batches
            .fetch_add(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Events per kind of one school and day, from the `event_counts` counters (for
    /// dashboards; see [`ScyllaJournal::reconcile_counts`] for how exact they are).
    pub async fn day_counts(
        &self,
        school_id: &str,
        day: &str,
    ) -> Result<BTreeMap<String, i64>, StorageError> {
        counters::day_counts(self, school_id, day).await
    }

    /// Recounts one school's day from `events_by_school_day` and corrects the counters by the
    /// difference; returns what was found. Run it for days whose counters may be off (after
    /// write timeouts or a crash) or nightly for yesterday.
    pub async fn reconcile_counts(
        &self,
        school_id: &str,
        day: &str,
    ) -> Result<Reconciled, StorageError> {
        counters::reconcile(self, school_id, day).await
    }

    pub(crate) fn bucket_of(&self, seq: u64) -> i64 {
        (seq.saturating_sub(1) / self.bucket_size) as i64
    }
}

#[async_trait]
impl Journal for ScyllaJournal {
    async fn append(&self, batch: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, StorageError> {
        append::append(self, batch).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, StorageError> {
        reads::read_stream(self, stream, from_seq, limit).await
    }

    async fn read_stream_before(
        &self,
        stream: &str,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, StorageError> {
        reads::read_stream_before(self, stream, before_seq, limit).await
    }

    async fn head(&self, stream: &str) -> Result<u64, StorageError> {
        Ok(reads::head(self, stream).await?.map_or(0, |h| h.seq))
    }

    async fn heads(&self, streams: &[String]) -> Result<Vec<u64>, StorageError> {
        reads::heads(self, streams).await
    }

    async fn streams_with_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>, StorageError> {
        reads::streams_with_prefix(self, prefix).await
    }

    async fn verify_stream(&self, stream: &str) -> Result<Option<u64>, StorageError> {
        reads::verify_stream(self, stream).await
    }

    /// Always [`Health::Ok`]: there is no local state that can break for good. A cluster that
    /// cannot be reached shows up as [`StorageError::Unavailable`] on each request instead.
    fn health(&self) -> Health {
        Health::Ok
    }
}

#[async_trait]
impl EventQueries for ScyllaJournal {
    async fn query(&self, q: EventQuery) -> Result<EventPage, StorageError> {
        reads::query(self, q).await
    }
}

#[async_trait]
impl ReadCursors for ScyllaJournal {
    async fn set_read_cursor(
        &self,
        school_id: &str,
        user_id: &str,
        channel: &str,
        seq: u64,
    ) -> Result<u64, StorageError> {
        reads::set_read_cursor(self, school_id, user_id, channel, seq).await
    }

    async fn read_cursors(
        &self,
        school_id: &str,
        user_id: &str,
    ) -> Result<HashMap<String, u64>, StorageError> {
        reads::read_cursors(self, school_id, user_id).await
    }
}

#[async_trait]
impl IdempotencyStore for ScyllaJournal {
    async fn prune_idempotency(&self, older_than_ms: i64) -> Result<u64, StorageError> {
        reads::prune_idempotency(self, older_than_ms).await
    }
}
