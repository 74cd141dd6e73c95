//! The one place an internal failure becomes a wire [`ErrorBody`].
//!
//! Actors and the hub's REST layer both answer with the protocol's error codes; this module
//! decides which code a storage error or a dead actor earns, so the rule lives once:
//!
//! | cause | code | message |
//! |---|---|---|
//! | [`StorageError::is_invalid`] (bad page token, zero limit) | `bad_request` | the error's own text |
//! | [`StorageError::is_not_found`] | `not_found` | the error's own text |
//! | [`StorageError::is_conflict`] | `conflict` | the error's own text |
//! | anything else from storage (unavailable, backend) | `unavailable` | fixed, the cause is logged |
//! | [`MailboxError`] (the actor stopped or its mailbox closed) | `unavailable` | fixed, logged |
//!
//! Internal causes never reach the client: only the fixed message goes out, and the log line
//! carries the whole `source()` chain ([`ErrorChain`]), so a driver error wrapped in
//! `StorageError::Backend` is not lost to `%e`.

use std::error::Error as StdError;
use std::fmt;

use actix::MailboxError;
use oneclass_protocol::reply::ErrorBody;
use oneclass_protocol::ErrorCode;
use oneclass_storage::StorageError;

/// The message of every `unavailable` answer caused by the journal.
pub const JOURNAL_UNAVAILABLE: &str = "journal unavailable, retry";

/// Maps a storage error to its wire body, logging the cause chain of the ones the client must
/// not see. `what` names the operation for the log ("journal read", "roster write").
pub fn storage(what: &'static str, e: &StorageError) -> ErrorBody {
    if e.is_invalid() {
        return ErrorBody::new(ErrorCode::BadRequest, e.to_string());
    }
    if e.is_not_found() {
        return ErrorBody::new(ErrorCode::NotFound, e.to_string());
    }
    if e.is_conflict() {
        return ErrorBody::new(ErrorCode::Conflict, e.to_string());
    }
    tracing::warn!(operation = what, error = %ErrorChain(e), "journal operation failed");
    ErrorBody::new(ErrorCode::Unavailable, JOURNAL_UNAVAILABLE)
}

/// Maps a failed actor request to `unavailable` with `message` ("school restarting, retry"),
/// logging why the mailbox refused it.
pub fn actor_gone(what: &'static str, e: &MailboxError, message: &'static str) -> ErrorBody {
    tracing::warn!(operation = what, error = %e, "actor unavailable");
    ErrorBody::new(ErrorCode::Unavailable, message)
}

/// Displays an error followed by every `source()` below it, `outer: inner: innermost`, so one
/// log field keeps the whole cause.
pub struct ErrorChain<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            write!(f, ": {cause}")?;
            next = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_storage_error_gets_its_code() {
        let cases = [
            (
                StorageError::Invalid("malformed page token".into()),
                ErrorCode::BadRequest,
            ),
            (StorageError::NotFound("x".into()), ErrorCode::NotFound),
            (StorageError::Conflict("x".into()), ErrorCode::Conflict),
            (
                StorageError::Unavailable("fsync".into()),
                ErrorCode::Unavailable,
            ),
            (
                StorageError::backend("read", "disk on fire"),
                ErrorCode::Unavailable,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(storage("test", &e).code, code, "{e}");
        }
    }

    #[test]
    fn internal_causes_stay_out_of_the_message() {
        let body = storage(
            "test",
            &StorageError::backend("read", "secret driver detail"),
        );
        assert_eq!(body.message, JOURNAL_UNAVAILABLE);
    }

    #[test]
    fn the_chain_names_every_cause() {
        let e = StorageError::backend("reading the page", "connection reset");
        assert_eq!(
            ErrorChain(&e).to_string(),
            "storage backend error: reading the page: connection reset"
        );
    }
}
