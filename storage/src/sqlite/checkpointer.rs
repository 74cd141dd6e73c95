//! Copies the write-ahead log back into the database file off the commit path.
//!
//! SQLite normally checkpoints inside whichever commit pushes the WAL past its threshold, so
//! that one commit (and every append waiting on it) also pays for copying megabytes and an fsync
//! of the database file. The writer turns that off (`wal_autocheckpoint=0`) and this thread runs a
//! PASSIVE checkpoint on its own connection every interval instead: it never blocks the writer,
//! and once a checkpoint has caught up, the writer's next transaction starts the WAL again from
//! its beginning, so the file stays bounded.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::StorageError;

use super::errors::map_sqlite;
use super::schema::BUSY_TIMEOUT;

type Stop = Arc<(Mutex<bool>, Condvar)>;

/// The checkpoint thread; stopped (after a last checkpoint) when dropped.
pub(crate) struct Checkpointer {
    stop: Stop,
    handle: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the journal at `path` every `interval`.
    pub(crate) fn start(path: &Path, interval: Duration) -> Result<Self, StorageError> {
        let conn =
            Connection::open(path).map_err(|e| map_sqlite("open the checkpoint connection", e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| map_sqlite("set busy timeout", e))?;
        let stop: Stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = stop.clone();
        let file = path.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("journal-checkpoint".into())
            .spawn(move || run(conn, &file, flag, interval))
            .map_err(|e| StorageError::backend("start the checkpoint thread", e))?;
        Ok(Self {
            stop,
            handle: Some(handle),
        })
    }
}

fn run(conn: Connection, file: &Path, stop: Stop, interval: Duration) {
    let (lock, wake) = &*stop;
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
        }
        if stopped {
            return;
        }
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
