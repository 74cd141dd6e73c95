//! The dashboard counters: events per school, day and kind in `event_counts`.
//!
//! A counter update is an increment, not a value, so it is not idempotent: sending it twice
//! counts twice. The journal therefore never retries one (the statement is marked
//! non-idempotent, so the driver does not either), and increments only once per stored event,
//! after the event's batch was acknowledged — a batch that had to be re-sent because of a
//! timeout is still counted once. What can still go wrong:
//!
//! - an increment that times out may or may not have been applied: that day's count may be low
//!   by the batch's events (a lost increment is only logged);
//! - the hub can die between the batch and the increment: the count is low;
//! - a coordinator can apply an increment and fail to say so, and the node-level replay can
//!   apply it again: the count is high (rare, but counters make no promise here).
//!
//! The events themselves are exact, so the counts are always reconcilable:
//! [`reconcile`] recounts one `(school, day)` partition of `events_by_school_day` and adds the
//! difference to each counter. Dashboards read the counters; exports and audits read events.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use futures_util::TryStreamExt;

use crate::error::StorageError;
use crate::scylla::errors::{map_execution, map_pager};
use crate::scylla::rows::CountRow;
use crate::scylla::ScyllaJournal;

/// What [`reconcile`] found for one day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reconciled {
    /// Events per kind counted from the events table.
    pub counted: BTreeMap<String, i64>,
    /// Per kind, what the counter said before the correction (only kinds that differed).
    pub corrected: BTreeMap<String, i64>,
}

/// Adds the new events of one batch; failures are logged, never returned (the events are
/// stored and are the truth).
pub(crate) async fn add(j: &ScyllaJournal, counts: &BTreeMap<(String, String, String), i64>) {
    let updates = counts.iter().map(|((school, day, kind), n)| async move {
        let r = j
            .session
            .execute_unpaged(
                &j.st.count_add,
                (scylla::value::Counter(*n), school, day, kind),
            )
            .await;
        if let Err(e) = r {
            tracing::warn!(
                message = "event counter not updated; reconcile this day",
                school_id = %school,
                day = %day,
                kind = %kind,
                n,
                error = %e
            );
        }
    });
    join_all(updates).await;
}

pub(crate) async fn day_counts(
    j: &ScyllaJournal,
    school_id: &str,
    day: &str,
) -> Result<BTreeMap<String, i64>, StorageError> {
    let pager = j
        .session
        .execute_iter(j.st.select_counts.clone(), (school_id, day))
        .await
        .map_err(|e| map_pager("read event counters", e))?;
    pager
        .rows_stream::<CountRow>()
        .map_err(|e| StorageError::backend("read event counters", e))?
        .map_ok(|r| (r.kind, r.n.0))
        .map_err(|e| StorageError::backend("read event counters", e))
        .try_collect()
        .await
}

pub(crate) async fn reconcile(
    j: &ScyllaJournal,
    school_id: &str,
    day: &str,
) -> Result<Reconciled, StorageError> {
    let mut counted: BTreeMap<String, i64> = BTreeMap::new();
    let pager = j
        .session
        .execute_iter(j.st.select_school_day.clone(), (school_id, day))
        .await
        .map_err(|e| map_pager("recount events", e))?;
    let mut kinds = pager
        .rows_stream::<(String,)>()
        .map_err(|e| StorageError::backend("recount events", e))?;
    while let Some((kind,)) = kinds
        .try_next()
        .await
        .map_err(|e| StorageError::backend("recount events", e))?
    {
        *counted.entry(kind).or_default() += 1;
    }
    let stored = day_counts(j, school_id, day).await?;
    let mut corrected = BTreeMap::new();
    let all_kinds: std::collections::BTreeSet<&String> =
        counted.keys().chain(stored.keys()).collect();
    for kind in all_kinds {
        let want = counted.get(kind).copied().unwrap_or(0);
        let have = stored.get(kind).copied().unwrap_or(0);
        if want != have {
            j.session
                .execute_unpaged(
                    &j.st.count_add,
                    (scylla::value::Counter(want - have), school_id, day, kind),
                )
                .await
                .map_err(|e| map_execution("correct event counter", e))?;
            corrected.insert(kind.clone(), have);
        }
    }
    Ok(Reconciled { counted, corrected })
}
