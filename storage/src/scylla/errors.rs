//! How driver errors become [`StorageError`]s, and which failed writes may have been applied.

use scylla::errors::{DbError, ExecutionError, PagerExecutionError, RequestAttemptError};

use crate::error::StorageError;

/// Maps a failed request to the storage error callers see: an unreachable or overloaded cluster
/// is [`StorageError::Unavailable`], everything else a [`StorageError::Backend`] of this request.
pub(crate) fn map_execution(context: &str, e: ExecutionError) -> StorageError {
    if is_outage(&e) {
        StorageError::Unavailable(format!("{context}: {e}"))
    } else {
        StorageError::backend(context.to_owned(), e)
    }
}

/// [`map_execution`] for the errors of a paged query.
pub(crate) fn map_pager(context: &str, e: PagerExecutionError) -> StorageError {
    match e {
        PagerExecutionError::NextPageError(inner) => {
            StorageError::backend(context.to_owned(), inner)
        }
        other => StorageError::backend(context.to_owned(), other),
    }
}

fn is_outage(e: &ExecutionError) -> bool {
    match e {
        ExecutionError::EmptyPlan
        | ExecutionError::ConnectionPoolError(_)
        | ExecutionError::RequestTimeout(_) => true,
        ExecutionError::LastAttemptError(attempt) => matches!(
            attempt,
            RequestAttemptError::BrokenConnectionError(_)
                | RequestAttemptError::UnableToAllocStreamId
                | RequestAttemptError::DbError(
                    DbError::Unavailable { .. }
                        | DbError::Overloaded
                        | DbError::IsBootstrapping
                        | DbError::ReadTimeout { .. }
                        | DbError::WriteTimeout { .. }
                        | DbError::RateLimitReached { .. },
                    _
                )
        ),
        _ => false,
    }
}

/// True when a write that returned `e` was certainly NOT applied anywhere: the request never
/// left the driver, or the coordinator refused it before writing (not enough live replicas, a
/// malformed statement). Every other failure — a timeout, a connection that broke after the
/// request was sent, an overloaded coordinator — leaves the outcome unknown, and the write must
/// be retried unchanged (same seqs, event ids and write timestamp) rather than given up.
pub(crate) fn certainly_not_applied(e: &ExecutionError) -> bool {
    match e {
        ExecutionError::BadQuery(_)
        | ExecutionError::EmptyPlan
        | ExecutionError::PrepareError(_)
        | ExecutionError::ConnectionPoolError(_)
        | ExecutionError::UseKeyspaceError(_) => true,
        ExecutionError::LastAttemptError(attempt) => match attempt {
            RequestAttemptError::SerializationError(_)
            | RequestAttemptError::CqlRequestSerialization(_)
            | RequestAttemptError::UnableToAllocStreamId => true,
            RequestAttemptError::DbError(db, _) => matches!(
                db,
                DbError::SyntaxError
                    | DbError::Invalid
                    | DbError::Unauthorized
                    | DbError::ConfigError
                    | DbError::Unavailable { .. }
                    | DbError::IsBootstrapping
                    | DbError::AuthenticationError
                    | DbError::Unprepared { .. }
            ),
            _ => false,
        },
        _ => false,
    }
}
