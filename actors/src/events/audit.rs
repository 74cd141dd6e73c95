//! The audit of access to personal data: before the journal API returns message bodies, the
//! access is journaled as `audit.bodies.accessed` on `audit:{school}`.
//!
//! The write comes first and the read only if it succeeded: a failed audit append is returned to
//! the caller, who must refuse the access (the hub answers `unavailable`). The audit stream is an
//! ordinary journal stream, hash-chained like every other, so an access cannot be removed quietly.

use oneclass_protocol::journal::kinds;
use oneclass_protocol::StreamName;
use oneclass_storage::{Journal, StorageError};
use serde::Serialize;

use super::{write, Append};

/// Payload of `audit.bodies.accessed`: which route was asked for what range, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BodiesAccessed<'a> {
    /// The API route (`events`, `export`).
    pub route: &'a str,
    /// The admin's stated reason.
    pub reason: &'a str,
    /// The query's lower bound as the caller wrote it.
    pub from: &'a str,
    /// The query's upper bound as the caller wrote it.
    pub to: &'a str,
    /// The kind filter, if any.
    pub kind: Option<&'a str>,
}

/// The append that records `actor` reading bodies of `school`'s events.
pub fn bodies_accessed(school: &str, actor: &str, access: &BodiesAccessed<'_>) -> Append {
    Append::new(
        school,
        StreamName::audit(school),
        kinds::BODIES_ACCESSED,
        actor,
        access,
    )
}

/// Journals `actor`'s access to `school`'s bodies; the access may proceed only on `Ok`.
pub async fn record_bodies_accessed(
    journal: &dyn Journal,
    school: &str,
    actor: &str,
    access: &BodiesAccessed<'_>,
) -> Result<(), StorageError> {
    write(journal, vec![bodies_accessed(school, actor, access)]).await?;
    Ok(())
}
