//! Input checks every backend applies to an append before it touches storage, so both reject
//! exactly the same batches.

use crate::error::StorageError;
use crate::journal::AppendRequest;

/// Longest accepted stream, kind, actor or school id, in bytes; a guard against garbage input.
pub(crate) const MAX_NAME_LEN: usize = 512;

/// Earliest accepted `occurred_at` (0000-01-01T00:00:00Z); years 0..=9999 keep `day` a plain
/// `YYYY-MM-DD`.
pub(crate) const MIN_MS: i64 = -62_167_219_200_000;

/// Latest accepted `occurred_at` (9999-12-31T23:59:59.999Z).
pub(crate) const MAX_MS: i64 = 253_402_300_799_999;

/// Checks one request; an error makes its whole batch [`StorageError::Invalid`].
pub(crate) fn validate(req: &AppendRequest) -> Result<(), StorageError> {
    let named = [
        ("school_id", &req.school_id),
        ("stream", &req.stream),
        ("kind", &req.kind),
        ("actor", &req.actor),
    ];
    for (what, value) in named {
        if value.is_empty() {
            return Err(StorageError::Invalid(format!("{what} must not be empty")));
        }
        if value.len() > MAX_NAME_LEN {
            return Err(StorageError::Invalid(format!(
                "{what} is longer than {MAX_NAME_LEN} bytes"
            )));
        }
    }
    if !(MIN_MS..=MAX_MS).contains(&req.occurred_at) {
        return Err(StorageError::Invalid("occurred_at is out of range".into()));
    }
    if let Some(idem) = &req.idempotency {
        if idem.key.is_empty() {
            return Err(StorageError::Invalid(
                "idempotency key must not be empty".into(),
            ));
        }
    }
    Ok(())
}
