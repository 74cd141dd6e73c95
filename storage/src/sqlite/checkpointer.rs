//! Copies the write-ahead log back into the database file off the commit path, and keeps the
//! WAL file bounded.
//!
//! SQLite normally checkpoints inside whichever commit pushes the WAL past its threshold, so
//! that one commit (and every append waiting on it) also pays for copying megabytes and an fsync
//! of the database file. The writer turns that off (`wal_autocheckpoint=0`) and this thread runs a
//! PASSIVE checkpoint on its own connection every interval instead: it never blocks the writer.
//!
//! A PASSIVE checkpoint alone does not bound the file. The WAL only starts again from its
//! beginning when a checkpoint has copied every frame and no reader still uses it; under
//! sustained writes new frames arrive while it copies, so that moment never comes and the file
//! grows for as long as the writes go on (3.4 GB in 40 s was measured), and SQLite never shrinks
//! it afterwards. So, in three layers:
//!
//! 1. Past [`super::SqliteOptions::wal_checkpoint_bytes`] (the soft bound) this thread follows
//!    its PASSIVE checkpoint with up to [`CATCH_UP_PASSES`] more PASSIVE passes (until little is
//!    left to copy), then a TRUNCATE. TRUNCATE takes the write lock, copies the frames the
//!    passive passes left, waits until no reader is still
//!    reading from the WAL, then truncates the file to zero bytes. While it holds the write lock
//!    the writer's next `BEGIN IMMEDIATE` waits on it (through its busy timeout), so appends pause
//!    for the copy of the remaining frames and the wait for readers. That wait is capped by this
//!    connection's short busy timeout ([`CHECKPOINT_BUSY_TIMEOUT`]): a reader holding an old
//!    snapshot (a long export) makes the TRUNCATE give up (SQLite answers "busy"), having copied
//!    what it could, and it is tried again at the next interval. Getting the write lock at all
//!    goes through the same timeout, so under a writer that never pauses it may not happen.
//! 2. Past [`super::SqliteOptions::wal_max_bytes`] (the hard bound) the writer itself runs the
//!    TRUNCATE after answering a group (`writer.rs`): the next group waits for it. This is what
//!    makes the bound hold whatever the scheduling: the WAL never exceeds the hard bound by more
//!    than one group's pages, except while readers block the truncation.
//! 3. `PRAGMA journal_size_limit` (the soft bound) on the writer: whenever the WAL restarts from
//!    its beginning without a TRUNCATE, the writer cuts the file back to that size, so a file
//!    that grew once does not keep its high-water mark on disk.
//!
//! A failed checkpoint is logged and retried at the next interval: it loses nothing, since every
//! committed frame stays in the WAL until copied.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::StorageError;

use super::errors::map_sqlite;

/// How long this thread's TRUNCATE checkpoint waits for the write lock and for readers before it
/// gives up until the next interval. Short, because the writer waits behind it; well below the
/// writer's own busy timeout, so a checkpoint can never make a commit fail.
pub(crate) const CHECKPOINT_BUSY_TIMEOUT: Duration = Duration::from_millis(200);

/// Most extra PASSIVE passes before a TRUNCATE; each copies what arrived during the last one.
const CATCH_UP_PASSES: usize = 4;

/// WAL frames still to copy (about 4 KiB each) below which the TRUNCATE may go ahead: a few
/// milliseconds of copying while the writer waits.
const CATCH_UP_FRAMES: i64 = 256;

type Stop = Arc<(Mutex<bool>, Condvar)>;

/// When this thread checkpoints and how hard.
#[derive(Debug, Clone)]
pub(crate) struct CheckpointPlan {
    /// Time between checkpoints.
    pub interval: Duration,
    /// The journal's WAL file.
    pub wal_path: PathBuf,
    /// WAL size past which a TRUNCATE follows the PASSIVE checkpoint; 0 = never.
    pub truncate_above: u64,
}

/// The checkpoint thread; stopped (after a last checkpoint) when dropped.
pub(crate) struct Checkpointer {
    stop: Stop,
    handle: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the journal at `path` as `plan` says.
    pub(crate) fn start(path: &Path, plan: CheckpointPlan) -> Result<Self, StorageError> {
        let conn =
            Connection::open(path).map_err(|e| map_sqlite("open the checkpoint connection", e))?;
        conn.busy_timeout(CHECKPOINT_BUSY_TIMEOUT)
            .map_err(|e| map_sqlite("set busy timeout", e))?;
        let stop: Stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let file = path.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("journal-checkpoint".into())
            .spawn(move || run(conn, &file, flag, plan))
            .map_err(|e| StorageError::backend("start the checkpoint thread", e))?;
        Ok(Self {
            stop,
            handle: Some(handle),
        })
    }
}

fn run(conn: Connection, file: &Path, stop: Stop, plan: CheckpointPlan) {
    let (lock, wake) = &*stop;
    let interval = plan.interval;
    loop {
        let stopped = {
            // unwrap: the flag's lock is never held across a panic.
            let guard = lock.lock().unwrap();
            let (guard, _) = wake.wait_timeout_while(guard, interval, |s| !*s).unwrap();
            *guard
        };
        let outcome = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        });
        if let Err(e) = outcome {
            if !file.exists() {
                // The journal's directory is gone (a removed temporary directory): nothing left
                // to checkpoint.
                return;
            }
            tracing::warn!(error = %e, "journal checkpoint failed; retrying next interval");
        } else {
            truncate_if_large(&conn, &plan);
        }
        if stopped {
            return;
        }
    }
}

/// The soft bound: a TRUNCATE checkpoint once the WAL is past `plan.truncate_above`.
fn truncate_if_large(conn: &Connection, plan: &CheckpointPlan) {
    if plan.truncate_above == 0 {
        return;
    }
    let size = std::fs::metadata(&plan.wal_path).map_or(0, |m| m.len());
    if size <= plan.truncate_above {
        return;
    }
    // Catch up with more PASSIVE passes first (they do not block the writer), so the TRUNCATE,
    // which does, has only the last few frames left to copy.
    for _ in 0..CATCH_UP_PASSES {
        let left = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok(r.get::<_, i64>(1)? - r.get::<_, i64>(2)?)
        });
        if !matches!(left, Ok(frames) if frames > CATCH_UP_FRAMES) {
            break;
        }
    }
    match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(0) => tracing::debug!(message = "WAL truncated", wal_bytes = size),
        // Readers or the writer kept it from finishing within the busy timeout.
        Ok(_) => tracing::debug!(message = "WAL truncation postponed", wal_bytes = size),
        Err(e) => tracing::debug!(message = "WAL truncation postponed", error = %e),
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        if let Ok(mut s) = lock.lock() {
            *s = true;
        }
        wake.notify_all();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
