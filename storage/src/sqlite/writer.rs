//! The journal's single writer: one OS thread owning the only read-write connection.
//!
//! Group commit: the thread blocks for the first queued command, then takes every command that
//! queued meanwhile (up to [`super::SqliteOptions::max_group_events`] events), runs them all in
//! ONE transaction and commits with one fsync. Each command runs inside its own SAVEPOINT, so a
//! batch that fails (validation, injected fault, constraint) is rolled back alone — its seqs are
//! handed out again to the next batch — while the rest of the group commits. Seqs are assigned
//! and idempotency keys resolved inside the transaction, against an in-memory cache of each
//! stream's head and last hash; a rolled-back batch restores the cache entries it touched.
//!
//! A failed COMMIT (or any I/O-class error) is fatal: the group's callers and every later one get
//! [`StorageError::Unavailable`] and [`crate::Health`] turns bad. Continuing would risk
//! acknowledging writes whose durability is unknown; the process restarts and recovers instead.
//! Damage found in the file is fatal the same way, whoever finds it: the writer when it loads a
//! stream's head (`integrity::checked_head`: the stored head must be the last event and that
//! event's link must hold), or a read connection ([`Shared::set_fatal`]).
//!
//! The WAL's hard bound: after a group's callers are answered, the writer looks at the WAL's size
//! and, past [`super::SqliteOptions::wal_max_bytes`], runs a TRUNCATE checkpoint itself before
//! taking the next group (see `checkpointer.rs` for the soft bound that normally keeps it lower).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{oneshot, OwnedSemaphorePermit};

use crate::error::StorageError;
use crate::hash::{next_link, Link};
use crate::idempotency::IDEMPOTENCY_TTL;
use crate::journal::{AppendOutcome, AppendRequest};
use crate::sqlite::errors::{is_fatal, map_sqlite};
use crate::sqlite::integrity::checked_head;
use crate::sqlite::schema::{envelope_from_row, seq_param, EVENT_COLUMNS};
use crate::validate::validate;
use oneclass_protocol::timestamp::{day_of_ms, now_ms};

/// The head cache is dropped and rebuilt lazily once it holds this many streams, so a hub that
/// touches millions of streams over its life does not grow without bound.
const HEAD_CACHE_CAPACITY: usize = 100_000;

/// Milliseconds in a UTC day, for caching the `day` string of consecutive events.
const MS_PER_DAY: i64 = 86_400_000;

/// State shared between the writer thread and the [`super::SqliteJournal`] handle.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Set once, by the first fatal error; appends fail from then on.
    pub fatal: Mutex<Option<String>>,
    /// Cleared when the writer thread exits, for whatever reason (including a panic).
    pub writer_alive: AtomicBool,
    /// Test aid: how many caller batches still have to fail after seq assignment.
    pub fail_batches: AtomicU64,
    /// Test aid: how many group commits still have to fail as if the fsync had failed.
    pub fail_commits: AtomicU64,
}

impl Shared {
    /// Fails the journal for good (the first reason is kept): appends are refused from now on.
    pub(crate) fn set_fatal(&self, reason: String) {
        let mut fatal = self.fatal.lock();
        if fatal.is_none() {
            tracing::error!(message = "journal writer stopped accepting appends", %reason);
            *fatal = Some(reason);
        }
    }
}

/// A request to the writer.
pub(crate) enum Command {
    /// One caller's atomic batch; answered with one outcome per request.
    Append {
        batch: Vec<AppendRequest>,
        reply: oneshot::Sender<Result<Vec<AppendOutcome>, StorageError>>,
    },
    /// Moves a read cursor forward; answered with the stored value.
    SetCursor {
        school_id: String,
        user_id: String,
        channel: String,
        seq: u64,
        reply: oneshot::Sender<Result<u64, StorageError>>,
    },
    /// Forgets idempotency keys recorded before `older_than_ms`; answered with how many.
    Prune {
        older_than_ms: i64,
        reply: oneshot::Sender<Result<u64, StorageError>>,
    },
}

/// A command plus its slot in the bounded queue; the slot frees when the command is answered.
pub(crate) struct Queued {
    /// What to do.
    pub command: Command,
    /// Held until the command is answered, so at most `queue_capacity` commands wait.
    pub permit: OwnedSemaphorePermit,
}

impl Queued {
    /// Events this command adds to a group (at least 1, so empty commands still count).
    fn weight(&self) -> usize {
        match &self.command {
            Command::Append { batch, .. } => batch.len().max(1),
            _ => 1,
        }
    }
}

/// The result of one command, held until the group's commit decides whether it stands.
enum Done {
    Append(
        oneshot::Sender<Result<Vec<AppendOutcome>, StorageError>>,
        Result<Vec<AppendOutcome>, StorageError>,
    ),
    Count(
        oneshot::Sender<Result<u64, StorageError>>,
        Result<u64, StorageError>,
    ),
}

impl Done {
    fn send(self) {
        // A caller that gave up waiting dropped its receiver; the outcome stands regardless.
        match self {
            Done::Append(tx, r) => drop(tx.send(r)),
            Done::Count(tx, r) => drop(tx.send(r)),
        }
    }

    fn fail(self, reason: &str) {
        let err = || StorageError::Unavailable(reason.to_owned());
        match self {
            Done::Append(tx, _) => drop(tx.send(Err(err()))),
            Done::Count(tx, _) => drop(tx.send(Err(err()))),
        }
    }
}

fn unavailable_all(command: Command, reason: &str) {
    let err = || StorageError::Unavailable(reason.to_owned());
    match command {
        Command::Append { reply, .. } => drop(reply.send(Err(err()))),
        Command::SetCursor { reply, .. } | Command::Prune { reply, .. } => {
            drop(reply.send(Err(err())))
        }
    }
}

/// Why a command inside the group failed.
enum Failure {
    /// Only this command is affected: roll back its savepoint and tell its caller.
    Request(StorageError),
    /// The file can no longer be trusted: abandon the whole group and stop writing.
    Fatal(String),
}

impl Failure {
    fn from_sqlite(context: &str, e: rusqlite::Error) -> Self {
        if is_fatal(&e) {
            Failure::Fatal(format!("{context}: {e}"))
        } else {
            Failure::Request(map_sqlite(context, e))
        }
    }
}

/// A stream's last committed-or-pending event, as the writer sees it.
#[derive(Debug, Clone, Copy)]
struct Head {
    /// The stream's highest seq (committed or earlier in the open transaction).
    seq: u64,
    /// That event's hash, the `prev` of the next one.
    hash: [u8; 32],
}

/// Tunables of the writer loop.
pub(crate) struct WriterConfig {
    /// See [`super::SqliteOptions::max_group_events`].
    pub max_group_events: usize,
    /// See [`super::SqliteOptions::prune_interval`].
    pub prune_interval: Duration,
    /// The journal's WAL file (`<journal>-wal`).
    pub wal_path: PathBuf,
    /// See [`super::SqliteOptions::wal_max_bytes`]; 0 = no hard bound.
    pub wal_max_bytes: u64,
}

/// The writer thread's state.
pub(crate) struct Writer {
    /// The only read-write connection to the file.
    conn: Connection,
    /// The queue of commands; closed when the last journal handle drops.
    rx: Receiver<Queued>,
    /// Health and test-aid state shared with the handle.
    shared: Arc<Shared>,
    config: WriterConfig,
    /// Head and last hash per recently written stream, saving two look-ups per append.
    heads: HashMap<String, Head>,
    /// Last `day` computed, keyed by day number, since consecutive events share a day.
    day_cache: Option<(i64, String)>,
    /// When the writer last pruned expired keys; `None` prunes as soon as it is idle.
    last_prune: Option<Instant>,
}

/// Clears `writer_alive` when the thread ends, even by panic.
struct AliveGuard(Arc<Shared>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.writer_alive.store(false, Ordering::SeqCst);
    }
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        rx: Receiver<Queued>,
        shared: Arc<Shared>,
        config: WriterConfig,
    ) -> Self {
        Writer {
            conn,
            rx,
            shared,
            config,
            heads: HashMap::new(),
            day_cache: None,
            last_prune: None,
        }
    }

    /// Runs until every sender is gone.
    pub(crate) fn run(mut self) {
        self.shared.writer_alive.store(true, Ordering::SeqCst);
        let _guard = AliveGuard(self.shared.clone());
        let mut carry: Option<Queued> = None;
        loop {
            let first = match carry.take() {
                Some(q) => q,
                None => {
                    let wait = self.until_next_prune();
                    match self.rx.recv_timeout(wait) {
                        Ok(q) => q,
                        Err(RecvTimeoutError::Timeout) => {
                            self.periodic_prune();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            };
            let mut events = first.weight();
            let mut group = vec![first];
            while events < self.config.max_group_events {
                match self.rx.try_recv() {
                    Ok(q) if events + q.weight() > self.config.max_group_events => {
                        carry = Some(q);
                        break;
                    }
                    Ok(q) => {
                        events += q.weight();
                        group.push(q);
                    }
                    Err(_) => break,
                }
            }
            self.run_group(group);
        }
    }

    fn fatal_reason(&self) -> Option<String> {
        self.shared.fatal.lock().clone()
    }

    fn go_fatal(&mut self, reason: String) {
        self.shared.set_fatal(reason);
        self.heads.clear();
    }

    /// Past the hard bound, copies the WAL back and truncates it before the next group: the
    /// appends queued meanwhile wait for it (this is the backpressure that keeps the WAL
    /// bounded when the checkpoint thread cannot keep up). Readers holding an old snapshot make
    /// it wait up to the busy timeout and then give up; the next group tries again.
    fn bound_wal(&mut self) {
        if self.config.wal_max_bytes == 0 {
            return;
        }
        let size = std::fs::metadata(&self.config.wal_path).map_or(0, |m| m.len());
        if size <= self.config.wal_max_bytes {
            return;
        }
        let outcome = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            });
        match outcome {
            Ok(0) => tracing::debug!(message = "WAL truncated by the writer", wal_bytes = size),
            Ok(_) => tracing::warn!(
                message = "WAL past its hard bound and readers blocked the checkpoint",
                wal_bytes = size
            ),
            Err(e) if is_fatal(&e) => self.go_fatal(format!("checkpoint the WAL: {e}")),
            Err(e) => tracing::warn!(message = "WAL checkpoint by the writer failed", error = %e),
        }
    }

    fn until_next_prune(&self) -> Duration {
        match self.last_prune {
            None => Duration::ZERO,
            Some(at) => self.config.prune_interval.saturating_sub(at.elapsed()),
        }
    }

    /// Forgets idempotency keys older than the TTL, in a transaction of its own.
    fn periodic_prune(&mut self) {
        self.last_prune = Some(Instant::now());
        if self.fatal_reason().is_some() {
            return;
        }
        let cutoff = now_ms() - IDEMPOTENCY_TTL.as_millis() as i64;
        match self
            .conn
            .execute("DELETE FROM idempotency WHERE created_at < ?1", [cutoff])
        {
            Ok(n) => tracing::debug!(message = "pruned idempotency keys", removed = n),
            Err(e) if is_fatal(&e) => self.go_fatal(format!("prune idempotency keys: {e}")),
            Err(e) => tracing::warn!(message = "idempotency prune failed", error = %e),
        }
    }

    fn run_group(&mut self, group: Vec<Queued>) {
        if let Some(reason) = self.fatal_reason() {
            for q in group {
                unavailable_all(q.command, &reason);
            }
            return;
        }
        if self.heads.len() > HEAD_CACHE_CAPACITY {
            self.heads.clear();
        }
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            let reason = format!("begin transaction: {e}");
            self.go_fatal(reason.clone());
            for q in group {
                unavailable_all(q.command, &reason);
            }
            return;
        }
        let mut done = Vec::with_capacity(group.len());
        let mut fatal = None;
        let mut permits = Vec::with_capacity(group.len());
        let mut rest = group.into_iter();
        for q in rest.by_ref() {
            permits.push(q.permit);
            match self.run_in_savepoint(q.command) {
                Ok(d) => done.push(d),
                Err(reason) => {
                    fatal = Some(reason);
                    break;
                }
            }
        }
        let fatal = fatal.or_else(|| self.commit());
        match fatal {
            None => {
                done.into_iter().for_each(Done::send);
                self.bound_wal();
            }
            Some(reason) => {
                // The transaction may be half-applied in the file's view; discard it.
                let _ = self.conn.execute_batch("ROLLBACK");
                self.go_fatal(reason.clone());
                done.into_iter().for_each(|d| d.fail(&reason));
                for q in rest {
                    unavailable_all(q.command, &reason);
                }
            }
        }
        drop(permits);
    }

    /// Commits the group; returns the fatal reason if the commit did not reach the disk.
    fn commit(&mut self) -> Option<String> {
        if take_one(&self.shared.fail_commits) {
            return Some("injected commit failure (fail_next_commits)".to_owned());
        }
        match self.conn.execute_batch("COMMIT") {
            Ok(()) => None,
            Err(e) => Some(format!("commit (fsync) failed: {e}")),
        }
    }

    /// Runs one command in a savepoint; only a fatal failure is returned as an error.
    fn run_in_savepoint(&mut self, command: Command) -> Result<Done, String> {
        self.conn
            .execute_batch("SAVEPOINT batch")
            .map_err(|e| format!("open savepoint: {e}"))?;
        let mut undo: Vec<(String, Option<Head>)> = Vec::new();
        let (done, failed) = match command {
            Command::Append { batch, reply } => match self.append(batch, &mut undo) {
                Ok(outcomes) => (Done::Append(reply, Ok(outcomes)), false),
                Err(Failure::Request(e)) => (Done::Append(reply, Err(e)), true),
                Err(Failure::Fatal(reason)) => {
                    // Failed before answering, so a caller who sees the error also sees health.
                    self.go_fatal(reason.clone());
                    drop(reply.send(Err(StorageError::Unavailable(reason.clone()))));
                    return Err(reason);
                }
            },
            Command::SetCursor {
                school_id,
                user_id,
                channel,
                seq,
                reply,
            } => {
                let r = self
                    .conn
                    .prepare_cached(
                        "INSERT INTO read_cursors (school_id, user_id, channel, seq)
                         VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (school_id, user_id, channel)
                         DO UPDATE SET seq = max(seq, excluded.seq)
                         RETURNING seq",
                    )
                    .and_then(|mut st| {
                        st.query_row(params![school_id, user_id, channel, seq_param(seq)], |r| {
                            r.get::<_, i64>(0)
                        })
                    });
                match r {
                    Ok(v) => (Done::Count(reply, Ok(v as u64)), false),
                    Err(e) => match Failure::from_sqlite("set read cursor", e) {
                        Failure::Fatal(reason) => {
                            self.go_fatal(reason.clone());
                            return Err(reason);
                        }
                        Failure::Request(e) => (Done::Count(reply, Err(e)), true),
                    },
                }
            }
            Command::Prune {
                older_than_ms,
                reply,
            } => match self.conn.execute(
                "DELETE FROM idempotency WHERE created_at < ?1",
                [older_than_ms],
            ) {
                Ok(n) => (Done::Count(reply, Ok(n as u64)), false),
                Err(e) => match Failure::from_sqlite("prune idempotency keys", e) {
                    Failure::Fatal(reason) => {
                        self.go_fatal(reason.clone());
                        return Err(reason);
                    }
                    Failure::Request(e) => (Done::Count(reply, Err(e)), true),
                },
            },
        };
        if failed {
            self.conn
                .execute_batch("ROLLBACK TO batch; RELEASE batch")
                .map_err(|e| format!("roll back savepoint: {e}"))?;
            for (stream, before) in undo.into_iter().rev() {
                match before {
                    Some(h) => self.heads.insert(stream, h),
                    None => self.heads.remove(&stream),
                };
            }
        } else {
            self.conn
                .execute_batch("RELEASE batch")
                .map_err(|e| format!("release savepoint: {e}"))?;
        }
        Ok(done)
    }

    /// The `day` of a timestamp, reusing the previous answer when the day is the same.
    fn day(&mut self, occurred_at: i64) -> String {
        let n = occurred_at.div_euclid(MS_PER_DAY);
        match &self.day_cache {
            Some((d, s)) if *d == n => s.clone(),
            _ => {
                let s = day_of_ms(occurred_at);
                self.day_cache = Some((n, s.clone()));
                s
            }
        }
    }

    /// The head of `stream`, from the cache or the file.
    fn head(&mut self, stream: &str) -> Result<Option<Head>, Failure> {
        if let Some(h) = self.heads.get(stream) {
            return Ok(Some(*h));
        }
        // Only on a cache miss: checked once per stream per cache fill (integrity.rs).
        match checked_head(&self.conn, stream)
            .map_err(|e| Failure::from_sqlite("read stream head", e))?
        {
            Ok(found) => Ok(found.map(|(seq, hash)| Head { seq, hash })),
            Err(damage) => Err(Failure::Fatal(StorageError::Damaged(damage).to_string())),
        }
    }

    fn append(
        &mut self,
        batch: Vec<AppendRequest>,
        undo: &mut Vec<(String, Option<Head>)>,
    ) -> Result<Vec<AppendOutcome>, Failure> {
        for req in &batch {
            validate(req).map_err(Failure::Request)?;
        }
        let created_at = now_ms();
        let mut outcomes = Vec::with_capacity(batch.len());
        for req in batch {
            if let Some(idem) = &req.idempotency {
                if let Some(outcome) = self.resolve_key(&idem.key, &idem.fingerprint)? {
                    outcomes.push(outcome);
                    continue;
                }
            }
            let prev = self.head(&req.stream)?;
            if !undo.iter().any(|(s, _)| *s == req.stream) {
                undo.push((req.stream.clone(), prev));
            }
            let day = self.day(req.occurred_at);
            let Link {
                seq,
                event_id,
                hash,
            } = next_link(prev.map(|h| (h.seq, h.hash)), &req, &day);
            self.conn
                .prepare_cached(
                    "INSERT INTO events (stream, seq, school_id, day, event_id, kind, actor,
                                         occurred_at, payload, hash)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        req.stream,
                        seq as i64,
                        req.school_id,
                        day,
                        event_id.as_bytes().as_slice(),
                        req.kind,
                        req.actor,
                        req.occurred_at,
                        req.payload.as_ref(),
                        hash.as_slice(),
                    ])
                })
                .map_err(|e| Failure::from_sqlite("insert event", e))?;
            if let Some(idem) = &req.idempotency {
                self.conn
                    .prepare_cached(
                        "INSERT INTO idempotency (key, fingerprint, stream, seq, created_at)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .and_then(|mut st| {
                        st.execute(params![
                            idem.key,
                            idem.fingerprint.as_slice(),
                            req.stream,
                            seq as i64,
                            created_at,
                        ])
                    })
                    .map_err(|e| Failure::from_sqlite("record idempotency key", e))?;
            }
            self.heads.insert(req.stream.clone(), Head { seq, hash });
            outcomes.push(AppendOutcome::Appended(
                Link {
                    seq,
                    event_id,
                    hash,
                }
                .envelope(req, day),
            ));
        }
        for (stream, _) in undo.iter() {
            // unwrap: every stream in `undo` was given a head just above.
            let head = self.heads.get(stream).map(|h| h.seq).unwrap();
            self.conn
                .prepare_cached(
                    "INSERT INTO streams (stream, head) VALUES (?1, ?2)
                     ON CONFLICT (stream) DO UPDATE SET head = excluded.head",
                )
                .and_then(|mut st| st.execute(params![stream, head as i64]))
                .map_err(|e| Failure::from_sqlite("update stream head", e))?;
        }
        if take_one(&self.shared.fail_batches) {
            return Err(Failure::Request(StorageError::Backend {
                message: "injected batch failure (fail_next_batches)".to_owned(),
                source: None,
            }));
        }
        Ok(outcomes)
    }

    /// Looks a key up (in committed data and earlier in this transaction).
    fn resolve_key(
        &mut self,
        key: &str,
        fingerprint: &[u8; 32],
    ) -> Result<Option<AppendOutcome>, Failure> {
        let found = self
            .conn
            .prepare_cached("SELECT fingerprint, stream, seq FROM idempotency WHERE key = ?1")
            .and_then(|mut st| {
                st.query_row([key], |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .optional()
            })
            .map_err(|e| Failure::from_sqlite("look up idempotency key", e))?;
        let Some((fp, stream, seq)) = found else {
            return Ok(None);
        };
        if fp.as_slice() != fingerprint.as_slice() {
            return Ok(Some(AppendOutcome::Conflict));
        }
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE stream = ?1 AND seq = ?2");
        let first = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut st| st.query_row(params![stream, seq], envelope_from_row))
            .map_err(|e| Failure::from_sqlite("read the first result of an idempotency key", e))?;
        Ok(Some(AppendOutcome::Duplicate(first)))
    }
}

/// Decrements a test-aid counter if it is positive; true when it was.
fn take_one(counter: &AtomicU64) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}
