//! Reads against the SQLite journal: a small pool of read-only connections, each query run on
//! tokio's blocking pool so an actor's thread never waits on the disk.
//!
//! In WAL mode readers never block the writer nor each other; each read sees the file as of its
//! last commit, so anything acknowledged before a read started is visible to it. (A RESTART or
//! TRUNCATE checkpoint does wait for readers; see `checkpointer.rs`.)
//!
//! Reads by stream and seq are checked against the hash chain before they are returned
//! (`integrity.rs`). A read that finds the journal damaged, by a broken link or by SQLite
//! reporting a corrupt file, marks the whole journal failed through [`Shared`]: the writer then
//! refuses every append and the hub goes unready, exactly as after a failed fsync.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::Semaphore;

use crate::error::StorageError;
use crate::hash::{head_disagreement, verify_run, GENESIS_HASH};
use crate::journal::MAX_PAGE;
use crate::queries::{EventPage, EventQuery};
use crate::sqlite::errors::map_sqlite;
use crate::sqlite::integrity::check_page;
use crate::sqlite::schema::{envelope_from_row, open_reader, seq_param, EVENT_COLUMNS};
use crate::sqlite::writer::Shared;
use oneclass_protocol::journal::EventEnvelope;

/// Events read per step while verifying a stream, bounding memory for long streams.
const VERIFY_PAGE: usize = 1_000;

/// Read-only connections, lent out one per blocking task.
pub(crate) struct ReadPool {
    /// Counts free connections, so waiting for one is an async wait, not a parked thread.
    free: Arc<Semaphore>,
    /// The idle connections.
    conns: Arc<Mutex<Vec<Connection>>>,
    /// The journal's fatal flag, set by a read that finds the file damaged.
    shared: Arc<Shared>,
}

/// Returns a borrowed connection to the pool even if the query panics.
struct Lent {
    conn: Option<Connection>,
    pool: Arc<Mutex<Vec<Connection>>>,
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.pool.lock().push(c);
        }
    }
}

impl ReadPool {
    pub(crate) fn open(
        path: &Path,
        size: usize,
        shared: Arc<Shared>,
    ) -> Result<Self, StorageError> {
        let size = size.max(1);
        let conns = (0..size)
            .map(|_| open_reader(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ReadPool {
            free: Arc::new(Semaphore::new(size)),
            conns: Arc::new(Mutex::new(conns)),
            shared,
        })
    }

    /// Runs `f` with a pooled connection on the blocking pool. A [`StorageError::Damaged`]
    /// answer also fails the journal.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let permit = self
            .free
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StorageError::Unavailable("read pool closed".into()))?;
        let pool = self.conns.clone();
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            // unwrap: holding a permit guarantees a free connection in the vector.
            let conn = pool.lock().pop().unwrap();
            let lent = Lent {
                conn: Some(conn),
                pool,
            };
            // unwrap: `conn` is only taken in Drop.
            let r = f(lent.conn.as_ref().unwrap());
            drop(lent);
            drop(permit);
            if let Err(e @ StorageError::Damaged(_)) = &r {
                shared.set_fatal(e.to_string());
            }
            r
        })
        .await
        .map_err(|e| StorageError::Unavailable(format!("read task failed: {e}")))?
    }
}

fn clamp(limit: usize) -> i64 {
    limit.min(MAX_PAGE) as i64
}

/// Events of `stream` from `from_seq`, checked against the chain.
pub(crate) fn read_stream(
    conn: &Connection,
    stream: &str,
    from_seq: u64,
    limit: usize,
) -> Result<Vec<EventEnvelope>, StorageError> {
    let events = read_stream_unchecked(conn, stream, from_seq, limit)?;
    check_page(conn, stream, &events)?;
    Ok(events)
}

/// Events of `stream` from `from_seq` as stored; `verify_stream` checks them itself so it can
/// say where the chain breaks.
fn read_stream_unchecked(
    conn: &Connection,
    stream: &str,
    from_seq: u64,
    limit: usize,
) -> Result<Vec<EventEnvelope>, StorageError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE stream = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3"
    );
    let map = |e| map_sqlite("read stream", e);
    let mut st = conn.prepare_cached(&sql).map_err(map)?;
    let rows = st
        .query_map(
            params![stream, seq_param(from_seq), clamp(limit)],
            envelope_from_row,
        )
        .map_err(map)?;
    rows.collect::<Result<_, _>>().map_err(map)
}

pub(crate) fn read_stream_before(
    conn: &Connection,
    stream: &str,
    before_seq: Option<u64>,
    limit: usize,
) -> Result<Vec<EventEnvelope>, StorageError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE stream = ?1 AND seq < ?2
         ORDER BY seq DESC LIMIT ?3"
    );
    let before = before_seq.map_or(i64::MAX, seq_param);
    let map = |e| map_sqlite("read stream backwards", e);
    let mut st = conn.prepare_cached(&sql).map_err(map)?;
    let rows = st
        .query_map(params![stream, before, clamp(limit)], envelope_from_row)
        .map_err(map)?;
    let mut events: Vec<EventEnvelope> = rows.collect::<Result<_, _>>().map_err(map)?;
    events.reverse();
    check_page(conn, stream, &events)?;
    Ok(events)
}

pub(crate) fn heads(conn: &Connection, streams: &[String]) -> Result<Vec<u64>, StorageError> {
    let map = |e| map_sqlite("read stream heads", e);
    let mut st = conn
        .prepare_cached("SELECT head FROM streams WHERE stream = ?1")
        .map_err(map)?;
    streams
        .iter()
        .map(|s| {
            st.query_row([s], |r| r.get::<_, i64>(0))
                .optional()
                .map(|h| h.unwrap_or(0) as u64)
                .map_err(map)
        })
        .collect()
}

pub(crate) fn streams_with_prefix(
    conn: &Connection,
    prefix: &str,
) -> Result<Vec<(String, u64)>, StorageError> {
    let map = |e| map_sqlite("list streams", e);
    // Names sort bytewise (BINARY collation), so every match lies in one contiguous run of the
    // primary key starting at `prefix`; stop at the first name that does not match.
    let mut st = conn
        .prepare_cached("SELECT stream, head FROM streams WHERE stream >= ?1 ORDER BY stream")
        .map_err(map)?;
    let mut rows = st.query([prefix]).map_err(map)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(map)? {
        let name: String = row.get(0).map_err(map)?;
        if !name.starts_with(prefix) {
            break;
        }
        let head: i64 = row.get(1).map_err(map)?;
        out.push((name, head as u64));
    }
    Ok(out)
}

pub(crate) fn query(conn: &Connection, q: &EventQuery) -> Result<EventPage, StorageError> {
    let (limit, after) = q.page_bounds()?;
    let (after_ms, after_id) = match &after {
        Some(c) => (c.occurred_at, c.event_id.as_bytes().to_vec()),
        // Any 16-byte id sorts after the empty blob, so this matches from the range start.
        None => (i64::MIN, Vec::new()),
    };
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE school_id = ?1 AND occurred_at >= max(?2, ?4) AND occurred_at < ?3
           AND (occurred_at, event_id) > (?4, ?5)
           AND (?6 IS NULL OR substr(kind, 1, length(?6)) = ?6)
         ORDER BY occurred_at, event_id
         LIMIT ?7"
    );
    let map = |e| map_sqlite("query events", e);
    let mut st = conn.prepare_cached(&sql).map_err(map)?;
    // One extra row tells whether another page exists, so the last page carries no token.
    let rows = st
        .query_map(
            params![
                q.school_id,
                q.from_ms,
                q.to_ms,
                after_ms,
                after_id,
                q.kind_prefix,
                limit as i64 + 1
            ],
            envelope_from_row,
        )
        .map_err(map)?;
    let events: Vec<EventEnvelope> = rows.collect::<Result<_, _>>().map_err(map)?;
    Ok(EventPage::from_overfetch(events, limit))
}

pub(crate) fn read_cursors(
    conn: &Connection,
    school_id: &str,
    user_id: &str,
) -> Result<HashMap<String, u64>, StorageError> {
    let map = |e| map_sqlite("read cursors", e);
    let mut st = conn
        .prepare_cached(
            "SELECT channel, seq FROM read_cursors WHERE school_id = ?1 AND user_id = ?2",
        )
        .map_err(map)?;
    let rows = st
        .query_map([school_id, user_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })
        .map_err(map)?;
    rows.collect::<Result<_, _>>().map_err(map)
}

/// Walks `stream`'s whole chain; the first seq that is broken, or where the stored head and the
/// last event disagree, or `None`.
pub(crate) fn verify_stream(conn: &Connection, stream: &str) -> Result<Option<u64>, StorageError> {
    // One read transaction for the head and every page, so an append committed meanwhile cannot
    // make the head and the events disagree; dropped (rolled back) on return.
    let snapshot = conn
        .unchecked_transaction()
        .map_err(|e| map_sqlite("begin a read", e))?;
    let head = heads(&snapshot, &[stream.to_owned()])?[0];
    let mut prev = GENESIS_HASH;
    let mut next = 1u64;
    loop {
        let page = read_stream_unchecked(&snapshot, stream, next, VERIFY_PAGE)?;
        match verify_run(prev, next, &page) {
            Ok((hash, after)) => {
                prev = hash;
                next = after;
            }
            Err(broken) => return Ok(Some(broken)),
        }
        if page.len() < VERIFY_PAGE {
            return Ok(head_disagreement(head, next - 1));
        }
    }
}
