//! Integration tests of the storage crate: the conformance suite against SQLite and against a
//! real CQL node (module `cql`), plus what only the embedded backend can show (durability
//! across reopen and crash, tamper detection on the file, fatal commit errors, backpressure).

mod conformance;
mod cql;
#[path = "../../../tests/src/peer.rs"]
mod peer;
mod sqlite;

use std::sync::Arc;

use oneclass_storage::SqliteJournal;
use tempfile::TempDir;

/// A fresh journal in its own temporary directory (kept alive by the returned guard).
pub fn fresh() -> (TempDir, Arc<SqliteJournal>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let j = SqliteJournal::open(dir.path().join("journal.db")).expect("open journal");
    (dir, Arc::new(j))
}
