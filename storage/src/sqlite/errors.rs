//! Turning SQLite errors into [`StorageError`]s, and telling fatal ones apart.
//!
//! A fatal error is one after which the file's state is uncertain (I/O failure, full disk,
//! corruption): the writer stops taking appends and the process is meant to restart and recover
//! from the file. Corruption (`SQLITE_CORRUPT`, `SQLITE_NOTADB`) is fatal wherever it shows,
//! on the writer or on a read connection, and maps to [`StorageError::Damaged`] so the read pool
//! can recognise it and stop the writer too. Everything else concerns one request only.

use rusqlite::ErrorCode;

use crate::error::StorageError;

/// True when the error means the disk or file can no longer be trusted.
pub(crate) fn is_fatal(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(
            ErrorCode::SystemIoFailure
                | ErrorCode::DiskFull
                | ErrorCode::DatabaseCorrupt
                | ErrorCode::NotADatabase
                | ErrorCode::CannotOpen
                | ErrorCode::ReadOnly
        )
    )
}

/// Maps a driver error, saying what was being done.
pub(crate) fn map_sqlite(context: &str, e: rusqlite::Error) -> StorageError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StorageError::Damaged(format!("{context}: {e}"))
        }
        _ if is_fatal(&e) => StorageError::Unavailable(format!("{context}: {e}")),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StorageError::Unavailable(format!("{context}: {e}"))
        }
        Some(ErrorCode::ConstraintViolation) => StorageError::Conflict(format!("{context}: {e}")),
        _ if matches!(e, rusqlite::Error::QueryReturnedNoRows) => {
            StorageError::NotFound(context.to_owned())
        }
        _ => StorageError::backend(context.to_owned(), e),
    }
}
