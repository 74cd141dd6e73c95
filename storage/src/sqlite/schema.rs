//! How the journal is laid out in the SQLite file, and how connections to it are opened.
//!
//! Tables:
//! - `events`: the immutable journal, clustered by `(stream, seq)` (history and recovery reads)
//!   with a secondary index on `(school_id, occurred_at, event_id)` (audit and export queries).
//!   Rows are only ever inserted.
//! - `streams`: each stream's head, so heads and prefix listings are index look-ups instead of
//!   scans; maintained by the writer in the same transaction as the events it describes.
//! - `idempotency`: keys of recent appends with their fingerprint and the event they produced;
//!   pruned after [`crate::IDEMPOTENCY_TTL`].
//! - `read_cursors`: per user and channel, the highest seq the user has read.
//! - `schema_version`: one row; a file written by a newer layout is refused.
//! - `journal_identity`: one row, the journal's random id and creation time, written with the
//!   schema (or on the first open of a file from before this table existed). The hub records it
//!   beside the file so an emptied or replaced journal is noticed (hub's `journal_marker`). An
//!   additive table: it needed no schema version of its own.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::Type;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use uuid::Uuid;

use crate::error::StorageError;
use crate::sqlite::errors::map_sqlite;
use oneclass_protocol::journal::EventEnvelope;

/// The layout version this code writes and understands.
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// How long a connection waits on a lock before giving up; only recovery and checkpoints can
/// hold one briefly, since there is a single writer.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// `PRAGMA synchronous` value for FULL: the WAL is fsynced at every commit, so an acknowledged
/// append survives power loss, not only a process crash.
const SYNCHRONOUS_FULL: i64 = 2;

/// The writer's page cache, as SQLite's negative-KiB `cache_size`: 16 MiB keeps the hot ends of
/// both event indexes in memory during a 4096-event group instead of re-reading them.
const WRITER_CACHE_KIB: i64 = -16 * 1024;

const DDL: &str = "
CREATE TABLE events (
    stream      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    school_id   TEXT    NOT NULL,
    day         TEXT    NOT NULL,
    event_id    BLOB    NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    occurred_at INTEGER NOT NULL,
    payload     BLOB    NOT NULL,
    hash        BLOB    NOT NULL,
    PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE INDEX events_by_school_time ON events (school_id, occurred_at, event_id);
CREATE TABLE streams (
    stream TEXT PRIMARY KEY,
    head   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE idempotency (
    key         TEXT    PRIMARY KEY,
    fingerprint BLOB    NOT NULL,
    stream      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX idempotency_by_age ON idempotency (created_at);
CREATE TABLE read_cursors (
    school_id TEXT    NOT NULL,
    user_id   TEXT    NOT NULL,
    channel   TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (school_id, user_id, channel)
) WITHOUT ROWID;
";

/// The columns [`envelope_from_row`] expects, in order.
pub(crate) const EVENT_COLUMNS: &str =
    "school_id, day, event_id, stream, seq, kind, actor, occurred_at, payload, hash";

/// Opens the writer's connection (and returns the journal's identity): creates the file and
/// schema if needed, switches to WAL and
/// `synchronous=FULL`, and checks both took effect (a silently weaker setting would lose
/// acknowledged appends on power failure, which no crash test can reveal).
/// `journal_size_limit` is the WAL size in bytes SQLite truncates the file to when the log
/// restarts (negative: never).
pub(crate) fn open_writer(
    path: &Path,
    journal_size_limit: i64,
) -> Result<(Connection, JournalIdentity), StorageError> {
    let conn = Connection::open(path).map_err(|e| map_sqlite("open the journal file", e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| map_sqlite("set busy timeout", e))?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(|e| map_sqlite("enable WAL", e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StorageError::Unavailable(format!(
            "journal_mode is {mode}, WAL required"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| map_sqlite("set synchronous", e))?;
    let sync: i64 = conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .map_err(|e| map_sqlite("read synchronous", e))?;
    if sync != SYNCHRONOUS_FULL {
        return Err(StorageError::Unavailable(format!(
            "synchronous is {sync}, FULL ({SYNCHRONOUS_FULL}) required for durable appends"
        )));
    }
    // Whenever the WAL starts again from its beginning, cut the file back to this size
    // (checkpointer.rs); -1 keeps SQLite's default of never shrinking it.
    conn.pragma_update(None, "journal_size_limit", journal_size_limit)
        .map_err(|e| map_sqlite("set journal size limit", e))?;
    conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)
        .map_err(|e| map_sqlite("set cache size", e))?;
    // Checkpoints run on their own thread (checkpointer.rs), not inside a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(|e| map_sqlite("turn off automatic checkpoints", e))?;
    let identity = migrate(&conn)?;
    Ok((conn, identity))
}

/// Opens a read-only connection to a file the writer has already set up.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StorageError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| map_sqlite("open a read connection", e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| map_sqlite("set busy timeout", e))?;
    Ok(conn)
}

/// The journal's identity: who it is and when it was created (`journal_identity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalIdentity {
    /// Random, drawn when the journal was created.
    pub id: Uuid,
    /// When the identity was drawn, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// Reads the identity, drawing one if this file has none yet. Runs inside [`migrate`]'s
/// transaction.
fn identity(conn: &Connection) -> rusqlite::Result<JournalIdentity> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS journal_identity (
             id         BLOB    NOT NULL,
             created_at INTEGER NOT NULL
         );",
    )?;
    let found = conn
        .query_row("SELECT id, created_at FROM journal_identity", [], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
        })
        .optional()?;
    if let Some((id, created_at_ms)) = found {
        let id = Uuid::from_slice(&id).map_err(|_| blob_error(0, "journal id"))?;
        return Ok(JournalIdentity { id, created_at_ms });
    }
    let fresh = JournalIdentity {
        id: Uuid::new_v4(),
        created_at_ms: oneclass_protocol::timestamp::now_ms(),
    };
    conn.execute(
        "INSERT INTO journal_identity (id, created_at) VALUES (?1, ?2)",
        rusqlite::params![fresh.id.as_bytes().as_slice(), fresh.created_at_ms],
    )?;
    Ok(fresh)
}

/// Creates the schema in an empty file, or checks the version of an existing one; returns the
/// journal's identity.
fn migrate(conn: &Connection) -> Result<JournalIdentity, StorageError> {
    let map = |e| map_sqlite("prepare the schema", e);
    conn.execute_batch(
        "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);",
    )
    .map_err(map)?;
    let result = (|| {
        let found: Option<i64> = conn
            .query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))
            .map_err(map)?;
        match found {
            None => {
                conn.execute_batch(DDL).map_err(map)?;
                conn.execute(
                    "INSERT INTO schema_version (version) VALUES (?1)",
                    [SCHEMA_VERSION],
                )
                .map_err(map)?;
                Ok(())
            }
            Some(SCHEMA_VERSION) => Ok(()),
            Some(v) => Err(StorageError::Unavailable(format!(
                "journal file has schema version {v}, this build understands {SCHEMA_VERSION}"
            ))),
        }?;
        identity(conn).map_err(map)
    })();
    match result {
        Ok(id) => conn.execute_batch("COMMIT").map_err(map).map(|()| id),
        Err(e) => {
            // The original error is what matters; a failed rollback adds nothing.
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn blob_error(idx: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Blob, format!("bad {what}").into())
}

/// Builds an envelope from a row selected with [`EVENT_COLUMNS`].
pub(crate) fn envelope_from_row(row: &Row<'_>) -> rusqlite::Result<EventEnvelope> {
    let id: Vec<u8> = row.get(2)?;
    let hash: Vec<u8> = row.get(9)?;
    let seq: i64 = row.get(4)?;
    let payload: Vec<u8> = row.get(8)?;
    Ok(EventEnvelope {
        school_id: row.get(0)?,
        day: row.get(1)?,
        event_id: Uuid::from_slice(&id).map_err(|_| blob_error(2, "event_id"))?,
        stream: row.get(3)?,
        seq: seq as u64,
        kind: row.get(5)?,
        actor: row.get(6)?,
        occurred_at: row.get(7)?,
        payload: payload.into(),
        hash: hash.try_into().map_err(|_| blob_error(9, "hash"))?,
    })
}

/// A `u64` seq as SQLite's signed integer; seqs beyond `i64::MAX` cannot exist, so larger
/// bounds saturate (they then match nothing or everything, as the caller intends).
pub(crate) fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}
