//! Checking stored events against their hash chain while the hub runs, so a damaged journal is
//! refused instead of served (the offline `journal verify` walks whole streams; this is the
//! online share of that work).
//!
//! Two checks; what they find becomes [`StorageError::Damaged`], which the backend treats as
//! fatal (the writer stops taking appends and health turns bad; see `writer.rs` and `reads.rs`):
//!
//! - [`checked_head`]: when the writer loads a stream's head into its cache (the stream's first
//!   append since start, or after the cache was dropped), the stored head must name the stream's
//!   last event, and that event's hash must link to the event before it. Catches a lowered or
//!   raised head, a deleted last event and a changed last event. Costs two index seeks (the
//!   head row and the last two events) and one SHA-256 over the last event, once per stream per
//!   cache fill, instead of the one seek it replaces.
//! - [`check_page`]: every page of a stream read by seq (history, resume, replay, actor
//!   recovery) is verified link by link, anchored to the stored hash of the event just before
//!   the page. Catches a changed payload or field of any event that is served, and a gap (a
//!   deleted event) inside or just before the page. Costs one extra point read per page and a
//!   SHA-256 over the bytes served (a few microseconds per KiB, small next to decoding and
//!   sending them).
//!
//! Not checked online: a change to an event nobody reads, which only `journal verify` finds, and
//! an event whose payload AND hash were both rewritten consistently, which the next event's link
//! exposes as soon as that one is read. Reads by school and time (audit, export) are not chained
//! and are not checked.

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::StorageError;
use crate::hash::{envelope_hash, verify_run, GENESIS_HASH};
use crate::sqlite::errors::map_sqlite;
use crate::sqlite::schema::{envelope_from_row, seq_param, EVENT_COLUMNS};
use oneclass_protocol::journal::EventEnvelope;

/// What [`checked_head`] found wrong, for [`StorageError::Damaged`].
pub(crate) type Damage = String;

/// A stream's last seq and its hash.
pub(crate) type LastLink = (u64, [u8; 32]);

/// The seq and hash of `stream`'s last event, after checking that the stored head agrees with
/// the events and that the last event's link holds; `None` for a stream with neither. The outer
/// error is the driver's (the writer decides whether it is fatal), the inner one the damage.
pub(crate) fn checked_head(
    conn: &Connection,
    stream: &str,
) -> rusqlite::Result<Result<Option<LastLink>, Damage>> {
    let stored: Option<i64> = conn
        .prepare_cached("SELECT head FROM streams WHERE stream = ?1")?
        .query_row([stream], |r| r.get(0))
        .optional()?;
    let sql =
        format!("SELECT {EVENT_COLUMNS} FROM events WHERE stream = ?1 ORDER BY seq DESC LIMIT 2");
    let last_two: Vec<EventEnvelope> = conn
        .prepare_cached(&sql)?
        .query_map([stream], envelope_from_row)?
        .collect::<Result<_, _>>()?;
    let damaged = |what: String| Ok(Err(format!("stream {stream}: {what}")));
    let (head, last) = match (stored, last_two.first()) {
        (None, None) => return Ok(Ok(None)),
        (Some(head), None) => {
            return damaged(format!("stored head is {head} but it has no events"))
        }
        (None, Some(last)) => {
            return damaged(format!("events up to seq {} but no stored head", last.seq))
        }
        (Some(head), Some(last)) => (head as u64, last),
    };
    if head != last.seq {
        return damaged(format!(
            "stored head is {head} but the last event is seq {}",
            last.seq
        ));
    }
    let prev = match last_two.get(1) {
        Some(before) if before.seq + 1 == last.seq => before.hash,
        None if last.seq == 1 => GENESIS_HASH,
        _ => return damaged(format!("seq {} is missing", last.seq - 1)),
    };
    if envelope_hash(&prev, last) != last.hash {
        return damaged(format!("the hash of seq {} does not match", last.seq));
    }
    Ok(Ok(Some((last.seq, last.hash))))
}

/// Checks that `events` (consecutive, ascending, of `stream`) chain to each other and to the
/// stored event just before the first of them.
pub(crate) fn check_page(
    conn: &Connection,
    stream: &str,
    events: &[EventEnvelope],
) -> Result<(), StorageError> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    let prev = if first.seq == 1 {
        GENESIS_HASH
    } else {
        let hash: Option<Vec<u8>> = conn
            .prepare_cached("SELECT hash FROM events WHERE stream = ?1 AND seq = ?2")
            .and_then(|mut st| {
                st.query_row(params![stream, seq_param(first.seq - 1)], |r| r.get(0))
                    .optional()
            })
            .map_err(|e| map_sqlite("read the link before a page", e))?;
        match hash.map(<[u8; 32]>::try_from) {
            Some(Ok(h)) => h,
            Some(Err(_)) => {
                return Err(StorageError::Damaged(format!(
                    "stream {stream}: the hash of seq {} is not 32 bytes",
                    first.seq - 1
                )))
            }
            None => {
                return Err(StorageError::Damaged(format!(
                    "stream {stream}: seq {} is missing",
                    first.seq - 1
                )))
            }
        }
    };
    verify_run(prev, first.seq, events)
        .map(drop)
        .map_err(|seq| {
            StorageError::Damaged(format!(
                "stream {stream}: the hash chain breaks at seq {seq}"
            ))
        })
}
