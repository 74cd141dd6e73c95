//! Integration tests of the storage crate: the conformance suite against SQLite, the in-memory
//! backend and a real CQL node (module `cql`), plus what only one backend can show (SQLite:
//! durability across reopen and crash, tamper detection on the file, fatal commit errors,
//! backpressure; memory: paused time, held appends).

mod conformance;
mod cql;
mod memory;
#[path = "../../../tests/src/peer.rs"]
mod peer;
mod sqlite;
mod sqlite_damage;

use std::sync::Arc;

use oneclass_storage::SqliteJournal;
use tempfile::TempDir;

/// A fresh journal in its own temporary directory (kept alive by the returned guard).
pub fn fresh() -> (TempDir, Arc<SqliteJournal>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = SqliteJournal::open(dir.path().join("journal.db")).expect("open journal");
    (dir, Arc::new(j))
}
