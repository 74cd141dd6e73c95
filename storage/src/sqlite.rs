//! The embedded journal backend: one SQLite file on local disk (the hub's default).
//!
//! Durability: the file is in WAL mode with `synchronous=FULL`, set and read back at open (a
//! weaker setting is refused), so an acknowledged append has been fsynced. Writes (appends, read
//! cursors, prunes) all go through one writer thread (module `writer`) that commits many
//! callers' batches in one transaction and one fsync (group commit); the queue into it is
//! bounded, so callers wait (asynchronously) instead of memory growing. Reads use a small pool of
//! read-only connections (module `reads`) on tokio's blocking pool. The layout of the file is in
//! module `schema`.
//!
//! The WAL is bounded: a checkpoint thread copies it back off the commit path and truncates it
//! past [`SqliteOptions::wal_checkpoint_bytes`]; past [`SqliteOptions::wal_max_bytes`] the writer
//! does so itself before the next group (module `checkpointer` has the whole story).
//!
//! Damage is not served: reads by stream are checked against the hash chain and the writer checks
//! each stream's head when it first loads it (module `integrity`); a damaged or corrupt file
//! fails the journal like a failed fsync ([`StorageError::Damaged`], [`Health::Failed`]).
//!
//! Dropping the last handle closes the queue and joins the writer after it finished the commands
//! already queued. Killing the process instead loses nothing that was acknowledged; SQLite
//! recovers the WAL on the next open.

mod checkpointer;
mod errors;
mod integrity;
mod reads;
mod schema;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use crossbeam_channel::Sender;
use tokio::sync::{oneshot, Semaphore};

use crate::cursors::ReadCursors;
use crate::error::StorageError;
use crate::health::Health;
use crate::idempotency::IdempotencyStore;
use crate::journal::{AppendOutcome, AppendRequest, Journal};
use crate::queries::{EventPage, EventQueries, EventQuery};
use oneclass_protocol::journal::EventEnvelope;
use reads::ReadPool;
pub use schema::JournalIdentity;
use writer::{Command, Queued, Shared, Writer, WriterConfig};

/// Tunables of [`SqliteJournal`]; the defaults suit a two-core machine.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Read-only connections in the pool: reads beyond this many wait their turn. A few are
    /// enough on two cores, where more parallel readers would only compete for the CPU.
    pub read_connections: usize,
    /// Commands (append batches, cursor updates, prunes) that may wait for the writer before
    /// callers are held back; the backpressure bound on the writer's memory.
    pub queue_capacity: usize,
    /// Most events the writer packs into one transaction; bounds commit latency and memory. A
    /// single batch larger than this still commits, alone.
    pub max_group_events: usize,
    /// How often the writer forgets idempotency keys older than [`crate::IDEMPOTENCY_TTL`].
    pub prune_interval: Duration,
    /// How often the WAL is copied back into the database file, off the commit path.
    pub checkpoint_interval: Duration,
    /// The WAL's soft bound in bytes: past it the checkpoint thread truncates the WAL (waiting
    /// briefly for readers, pausing appends while it copies the last frames), and the WAL file
    /// is cut back to this size whenever it restarts (`journal_size_limit`). 0 turns both off.
    pub wal_checkpoint_bytes: u64,
    /// The WAL's hard bound in bytes: past it the writer truncates the WAL itself before the
    /// next group, so appends wait for the copy. 0 turns it off (the WAL can then grow without
    /// bound under sustained writes).
    pub wal_max_bytes: u64,
}

/// Default of [`SqliteOptions::wal_checkpoint_bytes`]: 64 MiB, a few seconds of a busy hub's
/// appends, small next to any disk, and cheap to copy in one go.
pub const DEFAULT_WAL_CHECKPOINT_BYTES: u64 = 64 << 20;

/// Default of [`SqliteOptions::wal_max_bytes`]: 256 MiB, four soft bounds, reached only when the
/// checkpoint thread cannot get the write lock.
pub const DEFAULT_WAL_MAX_BYTES: u64 = 256 << 20;

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            read_connections: 3,
            queue_capacity: 1024,
            max_group_events: 4096,
            prune_interval: Duration::from_secs(600),
            checkpoint_interval: Duration::from_secs(1),
            wal_checkpoint_bytes: DEFAULT_WAL_CHECKPOINT_BYTES,
            wal_max_bytes: DEFAULT_WAL_MAX_BYTES,
        }
    }
}

/// The SQLite-backed [`Journal`].
pub struct SqliteJournal {
    path: PathBuf,
    /// Read from (or written into) the file at open.
    identity: JournalIdentity,
    /// `None` only while dropping, so the writer sees the queue close.
    tx: Option<Sender<Queued>>,
    /// Free slots in the writer's queue.
    slots: Arc<Semaphore>,
    shared: Arc<Shared>,
    reads: ReadPool,
    writer: Option<JoinHandle<()>>,
    /// Dropped after the writer, so the last checkpoint sees every commit.
    _checkpointer: checkpointer::Checkpointer,
}

impl std::fmt::Debug for SqliteJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteJournal")
            .field("path", &self.path)
            .field("health", &self.health())
            .finish()
    }
}

impl SqliteJournal {
    /// Opens (creating if needed) the journal file at `path` with default options.
    ///
    /// One handle per file: the writer caches stream heads, so a second writer on the same file
    /// (in this process or another) would see its appends rejected as conflicts.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens the journal file at `path` with the given options.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StorageError> {
        let path = path.as_ref().to_path_buf();
        let mut wal_path = path.clone().into_os_string();
        wal_path.push("-wal");
        let wal_path = PathBuf::from(wal_path);
        let size_limit = match options.wal_checkpoint_bytes {
            0 => -1,
            n => i64::try_from(n).unwrap_or(i64::MAX),
        };
        let (conn, identity) = schema::open_writer(&path, size_limit)?;
        let shared = Arc::new(Shared::default());
        let reads = ReadPool::open(&path, options.read_connections, shared.clone())?;
        let checkpointer = checkpointer::Checkpointer::start(
            &path,
            checkpointer::CheckpointPlan {
                interval: options.checkpoint_interval,
                wal_path: wal_path.clone(),
                truncate_above: options.wal_checkpoint_bytes,
            },
        )?;
        let (tx, rx) = crossbeam_channel::unbounded();
        shared.writer_alive.store(true, Ordering::SeqCst);
        let config = WriterConfig {
            max_group_events: options.max_group_events.max(1),
            prune_interval: options.prune_interval,
            wal_path,
            wal_max_bytes: options.wal_max_bytes,
        };
        let writer = Writer::new(conn, rx, shared.clone(), config);
        let handle = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| StorageError::backend("start the journal writer thread", e))?;
        Ok(SqliteJournal {
            path,
            identity,
            tx: Some(tx),
            slots: Arc::new(Semaphore::new(options.queue_capacity.max(1))),
            shared,
            reads,
            writer: Some(handle),
            _checkpointer: checkpointer,
        })
    }

    /// The journal file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The journal's identity, drawn when the file was created (kept in the file itself).
    pub fn identity(&self) -> JournalIdentity {
        self.identity
    }

    /// TEST AID (feature `fault-injection`). Makes the next `n` append batches fail *after* the writer assigned their seqs
    /// and inserted their events, as a failure inside the transaction would; each such batch is
    /// rolled back alone, its caller gets a [`StorageError::Backend`] error, and the next batch
    /// reuses the seqs. Lets tests (here and end-to-end) prove a failed batch consumes no seq.
    /// Calls add up. Only batches that reach the writer count: an empty batch never does, a
    /// batch of duplicates does. Cursor updates and prunes are never failed by it. Harmless in
    /// production builds, which lack it.
    #[cfg(feature = "fault-injection")]
    pub fn fail_next_batches(&self, n: u64) {
        self.shared.fail_batches.fetch_add(n, Ordering::SeqCst);
    }

    /// TEST AID (feature `fault-injection`). Makes the next `n` group commits fail as if the fsync had failed: the group is
    /// rolled back, the journal goes [`Health::Failed`] and every later append is
    /// [`StorageError::Unavailable`], exactly as after a real I/O error.
    #[cfg(feature = "fault-injection")]
    pub fn fail_next_commits(&self, n: u64) {
        self.shared.fail_commits.fetch_add(n, Ordering::SeqCst);
    }

    fn fatal(&self) -> Option<StorageError> {
        if let Some(reason) = self.shared.fatal.lock().clone() {
            return Some(StorageError::Unavailable(reason));
        }
        if !self.shared.writer_alive.load(Ordering::SeqCst) {
            return Some(StorageError::Unavailable(
                "journal writer thread stopped".into(),
            ));
        }
        None
    }

    /// Queues a command for the writer and waits for its answer.
    async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StorageError>>) -> Command,
    ) -> Result<T, StorageError> {
        if let Some(e) = self.fatal() {
            return Err(e);
        }
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StorageError::Unavailable("journal is closing".into()))?;
        let (reply, answer) = oneshot::channel();
        let queued = Queued {
            command: make(reply),
            permit,
        };
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| StorageError::Unavailable("journal is closing".into()))?;
        tx.send(queued)
            .map_err(|_| StorageError::Unavailable("journal writer stopped".into()))?;
        answer.await.unwrap_or_else(|_| {
            Err(self.fatal().unwrap_or_else(|| {
                StorageError::Unavailable("journal writer dropped the request".into())
            }))
        })
    }
}

impl Drop for SqliteJournal {
    fn drop(&mut self) {
        self.slots.close();
        drop(self.tx.take());
        if let Some(handle) = self.writer.take() {
            // A panicked writer already reported itself through health; nothing more to do.
            let _ = handle.join();
        }
    }
}

#[async_trait]
impl Journal for SqliteJournal {
    async fn append(&self, batch: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, StorageError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        self.submit(|reply| Command::Append { batch, reply }).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, StorageError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let stream = stream.to_owned();
        self.reads
            .run(move |c| reads::read_stream(c, &stream, from_seq, limit))
            .await
    }

    async fn read_stream_before(
        &self,
        stream: &str,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, StorageError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let stream = stream.to_owned();
        self.reads
            .run(move |c| reads::read_stream_before(c, &stream, before_seq, limit))
            .await
    }

    async fn head(&self, stream: &str) -> Result<u64, StorageError> {
        let streams = vec![stream.to_owned()];
        let heads = self.reads.run(move |c| reads::heads(c, &streams)).await?;
        Ok(heads[0])
    }

    async fn heads(&self, streams: &[String]) -> Result<Vec<u64>, StorageError> {
        let streams = streams.to_vec();
        self.reads.run(move |c| reads::heads(c, &streams)).await
    }

    async fn streams_with_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>, StorageError> {
        let prefix = prefix.to_owned();
        self.reads
            .run(move |c| reads::streams_with_prefix(c, &prefix))
            .await
    }

    async fn verify_stream(&self, stream: &str) -> Result<Option<u64>, StorageError> {
        let stream = stream.to_owned();
        self.reads
            .run(move |c| reads::verify_stream(c, &stream))
            .await
    }

    fn health(&self) -> Health {
        match self.fatal() {
            None => Health::Ok,
            Some(e) => Health::Failed {
                reason: e.to_string(),
            },
        }
    }
}

#[async_trait]
impl EventQueries for SqliteJournal {
    async fn query(&self, q: EventQuery) -> Result<EventPage, StorageError> {
        self.reads.run(move |c| reads::query(c, &q)).await
    }
}

#[async_trait]
impl ReadCursors for SqliteJournal {
    async fn set_read_cursor(
        &self,
        school_id: &str,
        user_id: &str,
        channel: &str,
        seq: u64,
    ) -> Result<u64, StorageError> {
        let (school_id, user_id, channel) =
            (school_id.to_owned(), user_id.to_owned(), channel.to_owned());
        self.submit(|reply| Command::SetCursor {
            school_id,
            user_id,
            channel,
            seq,
            reply,
        })
        .await
    }

    async fn read_cursors(
        &self,
        school_id: &str,
        user_id: &str,
    ) -> Result<HashMap<String, u64>, StorageError> {
        let (school_id, user_id) = (school_id.to_owned(), user_id.to_owned());
        self.reads
            .run(move |c| reads::read_cursors(c, &school_id, &user_id))
            .await
    }
}

#[async_trait]
impl IdempotencyStore for SqliteJournal {
    async fn prune_idempotency(&self, older_than_ms: i64) -> Result<u64, StorageError> {
        self.submit(|reply| Command::Prune {
            older_than_ms,
            reply,
        })
        .await
    }
}
