//! The one error type of the storage layer.
//!
//! Callers (actors, the hub's HTTP layer) decide what to do from the predicates
//! [`StorageError::is_not_found`], [`StorageError::is_conflict`] and
//! [`StorageError::is_unavailable`], [`StorageError::is_invalid`], [`StorageError::is_damaged`];
//! they never see or match on a driver's error type, so a second backend can slot in without
//! touching them.

use std::error::Error as StdError;

/// A boxed driver error kept as the `source` of a [`StorageError`] for logs.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What went wrong in the journal.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The write clashes with something already stored.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The journal cannot take writes (or reads) right now: the writer stopped, a commit failed
    /// to reach the disk, or the process is shutting down. Retrying in-process will not help
    /// after a fatal error; the process is meant to restart and recover from the file.
    #[error("journal unavailable: {0}")]
    Unavailable(String),
    /// The stored journal is damaged: the file is corrupt (SQLite's `SQLITE_CORRUPT` or
    /// `SQLITE_NOTADB`), a hash link does not match, seqs have a gap, or a stream's stored head
    /// disagrees with its last event. Fatal like a failed fsync: the backend stops taking
    /// appends and reports [`crate::Health::Failed`]; the operator restores from a backup
    /// (`oneclass-hub journal verify` locates the damage). Callers answer `unavailable`.
    #[error("journal damaged: {0}")]
    Damaged(String),
    /// The request itself is malformed (empty stream name, bad page token, zero limit, …).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The backend failed in a way that concerns only this request; the journal stays usable.
    #[error("storage backend error: {message}")]
    Backend {
        /// What was being done, for the log.
        message: String,
        /// The driver's own error, if there is one.
        #[source]
        source: Option<BoxError>,
    },
}

impl StorageError {
    /// True when the requested item does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StorageError::NotFound(_))
    }

    /// True when the write clashes with stored data.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StorageError::Conflict(_))
    }

    /// True when the journal cannot serve requests (answer `unavailable` upstream).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StorageError::Unavailable(_))
    }

    /// True when the stored journal was found damaged (see [`StorageError::Damaged`]).
    pub fn is_damaged(&self) -> bool {
        matches!(self, StorageError::Damaged(_))
    }

    /// True when the request itself was malformed (bad page token, zero limit, empty names):
    /// the caller's fault, answered `bad_request`, never worth a retry.
    pub fn is_invalid(&self) -> bool {
        matches!(self, StorageError::Invalid(_))
    }

    /// A [`StorageError::Backend`] with a driver error as its source.
    pub fn backend(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StorageError::Backend {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_match_only_their_own_variant() {
        let all = [
            StorageError::NotFound("x".into()),
            StorageError::Conflict("x".into()),
            StorageError::Unavailable("x".into()),
            StorageError::Invalid("x".into()),
            StorageError::Damaged("x".into()),
            StorageError::backend("x", "driver said no"),
        ];
        let flags: Vec<_> = all
            .iter()
            .map(|e| {
                (
                    e.is_not_found(),
                    e.is_conflict(),
                    e.is_unavailable(),
                    e.is_invalid(),
                    e.is_damaged(),
                )
            })
            .collect();
        assert_eq!(
            flags,
            vec![
                (true, false, false, false, false),
                (false, true, false, false, false),
                (false, false, true, false, false),
                (false, false, false, true, false),
                (false, false, false, false, true),
                (false, false, false, false, false),
            ]
        );
    }
}
