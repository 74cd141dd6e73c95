//! Reads: streams by seq (across buckets), heads, prefix listings, the by-school query, read
//! cursors, key pruning and chain verification.

use std::collections::{BTreeSet, HashMap};

use futures_util::future::{BoxFuture, FutureExt};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use scylla::deserialize::row::DeserializeRow;
use scylla::serialize::row::SerializeRow;
use scylla::statement::prepared::PreparedStatement;

use crate::error::StorageError;
use crate::hash::{head_disagreement, verify_run, GENESIS_HASH};
use crate::idempotency::IDEMPOTENCY_TTL;
use crate::journal::MAX_PAGE;
use crate::queries::{EventPage, EventQuery};
use crate::scylla::append::KEY_MINUTE_MS;
use crate::scylla::errors::{map_execution, map_pager};
use crate::scylla::owners::Head;
use crate::scylla::rows::{CursorRow, EventRow, HeadRow, KeyByMinuteRow};
use crate::scylla::scope::{depth, partition, scope_of};
use crate::scylla::ScyllaJournal;
use crate::validate::{MAX_MS, MIN_MS};
use oneclass_protocol::journal::EventEnvelope;
use oneclass_protocol::timestamp::{day_of_ms, now_ms};

/// Events read per step while verifying a stream, bounding memory for long streams.
const VERIFY_PAGE: usize = 1_000;

/// Point reads run at once by `heads`, listings and pruning.
const FAN_OUT: usize = 32;

/// Runs a paged SELECT and returns a stream of typed rows.
async fn rows<R>(
    j: &ScyllaJournal,
    what: &'static str,
    st: &PreparedStatement,
    values: impl SerializeRow,
) -> Result<impl futures_util::Stream<Item = Result<R, StorageError>>, StorageError>
where
    R: for<'f, 'm> DeserializeRow<'f, 'm> + 'static,
{
    let pager = j
        .session
        .execute_iter(st.clone(), values)
        .await
        .map_err(|e| map_pager(what, e))?;
    let typed = pager
        .rows_stream::<R>()
        .map_err(|e| StorageError::backend(what, e))?;
    Ok(typed.map_err(move |e| StorageError::backend(what, e)))
}

fn clamp(limit: usize) -> i32 {
    limit.min(MAX_PAGE) as i32
}

pub(crate) async fn head(j: &ScyllaJournal, stream: &str) -> Result<Option<Head>, StorageError> {
    let result = j
        .session
        .execute_unpaged(&j.st.select_head, (stream,))
        .await
        .map_err(|e| map_execution("read stream head", e))?
        .into_rows_result()
        .map_err(|e| StorageError::backend("read stream head", e))?;
    let Some(row) = result
        .maybe_first_row::<HeadRow>()
        .map_err(|e| StorageError::backend("read stream head", e))?
    else {
        return Ok(None);
    };
    let hash = row.hash.try_into().map_err(|_| StorageError::Backend {
        message: format!("stored head hash of {stream} is not 32 bytes"),
        source: None,
    })?;
    Ok(Some(Head {
        seq: row.head as u64,
        hash,
    }))
}

/// Runs the futures with at most [`FAN_OUT`] at once; results in input order.
async fn bounded<'a, T: Send + 'a>(
    futures: Vec<BoxFuture<'a, Result<T, StorageError>>>,
) -> Result<Vec<T>, StorageError> {
    stream::iter(futures).buffered(FAN_OUT).try_collect().await
}

pub(crate) async fn heads(j: &ScyllaJournal, streams: &[String]) -> Result<Vec<u64>, StorageError> {
    let reads = streams
        .iter()
        .map(|s| head(j, s).boxed())
        .collect::<Vec<_>>();
    Ok(bounded(reads)
        .await?
        .into_iter()
        .map(|h| h.map_or(0, |h| h.seq))
        .collect())
}

/// The event at `seq` of `stream`, if stored.
pub(crate) async fn event_at(
    j: &ScyllaJournal,
    stream: &str,
    seq: u64,
) -> Result<Option<EventEnvelope>, StorageError> {
    let result = j
        .session
        .execute_unpaged(
            &j.st.select_event_at,
            (stream, j.bucket_of(seq), seq as i64),
        )
        .await
        .map_err(|e| map_execution("read one event", e))?
        .into_rows_result()
        .map_err(|e| StorageError::backend("read one event", e))?;
    result
        .maybe_first_row::<EventRow>()
        .map_err(|e| StorageError::backend("read one event", e))?
        .map(EventRow::into_envelope)
        .transpose()
}

pub(crate) async fn read_stream(
    j: &ScyllaJournal,
    stream: &str,
    from_seq: u64,
    limit: usize,
) -> Result<Vec<EventEnvelope>, StorageError> {
    let limit = limit.min(MAX_PAGE);
    let mut out = Vec::new();
    let mut next = from_seq.max(1);
    while out.len() < limit {
        let bucket = j.bucket_of(next);
        let bucket_end = (bucket as u64 + 1) * j.bucket_size; // last seq of this bucket
        let want = limit - out.len();
        let mut page = rows::<EventRow>(
            j,
            "read stream",
            &j.st.select_stream_from,
            (stream, bucket, next as i64, clamp(want)),
        )
        .await?;
        let before = out.len();
        while let Some(row) = page.next().await {
            out.push(row?.into_envelope()?);
        }
        let got = out.len() - before;
        // Seqs are gap-free: the stream continues in the next bucket only if this one was read
        // up to its last seq.
        match out.last() {
            Some(last) if got > 0 && last.seq == bucket_end => next = bucket_end + 1,
            _ => break,
        }
    }
    Ok(out)
}

pub(crate) async fn read_stream_before(
    j: &ScyllaJournal,
    stream: &str,
    before_seq: Option<u64>,
    limit: usize,
) -> Result<Vec<EventEnvelope>, StorageError> {
    let limit = limit.min(MAX_PAGE);
    if limit == 0 {
        return Ok(Vec::new());
    }
    let before = match before_seq {
        Some(b) => b,
        None => match head(j, stream).await? {
            Some(h) => h.seq + 1,
            None => return Ok(Vec::new()),
        },
    };
    let mut out: Vec<EventEnvelope> = Vec::new();
    let mut upper = before; // exclusive
    while out.len() < limit && upper > 1 {
        let bucket = j.bucket_of(upper - 1);
        let want = limit - out.len();
        let mut page = rows::<EventRow>(
            j,
            "read stream backwards",
            &j.st.select_stream_before,
            (
                stream,
                bucket,
                upper.min(i64::MAX as u64) as i64,
                clamp(want),
            ),
        )
        .await?;
        let mut got = 0;
        while let Some(row) = page.next().await {
            out.push(row?.into_envelope()?);
            got += 1;
        }
        if got == 0 {
            break;
        }
        upper = bucket as u64 * j.bucket_size + 1; // first seq of this bucket
    }
    out.reverse();
    Ok(out)
}

/// Child scopes of `parent` starting with `prefix`.
async fn child_scopes(
    j: &ScyllaJournal,
    parent: &str,
    prefix: &str,
) -> Result<Vec<String>, StorageError> {
    let mut found = Vec::new();
    let mut page = rows::<(String,)>(
        j,
        "list stream scopes",
        &j.st.select_child_scopes,
        (partition(parent), prefix),
    )
    .await?;
    while let Some(row) = page.next().await {
        let (scope,) = row?;
        if !scope.starts_with(prefix) {
            break;
        }
        found.push(scope);
    }
    Ok(found)
}

pub(crate) async fn streams_with_prefix(
    j: &ScyllaJournal,
    prefix: &str,
) -> Result<Vec<(String, u64)>, StorageError> {
    // (scope, prefix within it) pairs that together hold every match.
    let mut scopes: Vec<(String, String)> = vec![(scope_of(prefix).to_owned(), prefix.to_owned())];
    match depth(prefix) {
        2 => {}
        1 => {
            for child in child_scopes(j, scope_of(prefix), prefix).await? {
                scopes.push((child.clone(), child));
            }
        }
        _ => {
            for root in child_scopes(j, "", prefix).await? {
                for child in child_scopes(j, &root, &root).await? {
                    scopes.push((child.clone(), child));
                }
                scopes.push((root.clone(), root));
            }
        }
    }
    let mut names = BTreeSet::new();
    for (scope, within) in scopes {
        let mut page = rows::<(String,)>(
            j,
            "list streams",
            &j.st.select_scope_streams,
            (partition(&scope), &within),
        )
        .await?;
        while let Some(row) = page.next().await {
            let (name,) = row?;
            if !name.starts_with(&within) {
                break;
            }
            names.insert(name);
        }
    }
    let names: Vec<String> = names.into_iter().collect();
    let heads = heads(j, &names).await?;
    Ok(names.into_iter().zip(heads).collect())
}

pub(crate) async fn query(j: &ScyllaJournal, q: EventQuery) -> Result<EventPage, StorageError> {
    let (limit, after) = q.page_bounds()?;
    // A cursor before the range start excludes nothing the range bound does not.
    let after = after.filter(|c| c.occurred_at >= q.from_ms);
    let start = after.map_or(q.from_ms, |c| c.occurred_at).max(MIN_MS);
    let end = q.to_ms.min(MAX_MS + 1);
    let mut events: Vec<EventEnvelope> = Vec::new();
    if start < end {
        let mut days = rows::<(String,)>(
            j,
            "list a school's days",
            &j.st.select_days,
            (&q.school_id, day_of_ms(start), day_of_ms(end - 1)),
        )
        .await?;
        let mut day_list = Vec::new();
        while let Some(day) = days.next().await {
            day_list.push(day?.0);
        }
        'days: for day in day_list {
            let mut page = match after {
                Some(c) if day == day_of_ms(c.occurred_at) => rows::<EventRow>(
                    j,
                    "query events",
                    &j.st.select_school_after,
                    (&q.school_id, &day, c.occurred_at, c.event_id, end),
                )
                .await?
                .boxed(),
                _ => rows::<EventRow>(
                    j,
                    "query events",
                    &j.st.select_school_from,
                    (&q.school_id, &day, q.from_ms.max(MIN_MS), end),
                )
                .await?
                .boxed(),
            };
            while let Some(row) = page.next().await {
                let row = row?;
                if let Some(prefix) = &q.kind_prefix {
                    if !row.kind.starts_with(prefix.as_str()) {
                        continue;
                    }
                }
                events.push(row.into_envelope()?);
                // One extra event tells whether another page exists.
                if events.len() > limit {
                    break 'days;
                }
            }
        }
    }
    Ok(EventPage::from_overfetch(events, limit))
}

pub(crate) async fn set_read_cursor(
    j: &ScyllaJournal,
    school_id: &str,
    user_id: &str,
    channel: &str,
    seq: u64,
) -> Result<u64, StorageError> {
    let seq = seq.min(i64::MAX as u64) as i64;
    let ttl = j.options.read_cursor_ttl.as_secs().min(i32::MAX as u64) as i32;
    // The write timestamp is the seq itself: on every replica the highest seq wins, so the
    // cursor never moves backwards, whatever order concurrent writes arrive in.
    j.session
        .execute_unpaged(
            &j.st.set_cursor,
            (school_id, user_id, channel, seq, seq, ttl),
        )
        .await
        .map_err(|e| map_execution("set read cursor", e))?;
    let result = j
        .session
        .execute_unpaged(&j.st.select_cursor, (school_id, user_id, channel))
        .await
        .map_err(|e| map_execution("read back read cursor", e))?
        .into_rows_result()
        .map_err(|e| StorageError::backend("read back read cursor", e))?;
    let stored = result
        .maybe_first_row::<(i64,)>()
        .map_err(|e| StorageError::backend("read back read cursor", e))?
        .map_or(seq, |(s,)| s);
    Ok(stored as u64)
}

pub(crate) async fn read_cursors(
    j: &ScyllaJournal,
    school_id: &str,
    user_id: &str,
) -> Result<HashMap<String, u64>, StorageError> {
    rows::<CursorRow>(
        j,
        "read cursors",
        &j.st.select_cursors,
        (school_id, user_id),
    )
    .await?
    .map_ok(|r| (r.channel, r.seq as u64))
    .try_collect()
    .await
}

/// Deletes the keys recorded before `older_than_ms`. Keys expire by TTL after
/// [`IDEMPOTENCY_TTL`] anyway, so only the minutes since then (or since this journal's last
/// prune) are searched.
pub(crate) async fn prune_idempotency(
    j: &ScyllaJournal,
    older_than_ms: i64,
) -> Result<u64, StorageError> {
    let now = now_ms();
    let expired_before = now - IDEMPOTENCY_TTL.as_millis() as i64;
    let floor = j.pruned_until.lock().unwrap_or(i64::MIN);
    let lower = expired_before.max(floor);
    if older_than_ms <= lower {
        return Ok(0);
    }
    let minutes = lower.div_euclid(KEY_MINUTE_MS)..=(older_than_ms - 1).div_euclid(KEY_MINUTE_MS);
    let removed = bounded(
        minutes
            .map(|minute| prune_minute(j, minute, older_than_ms).boxed())
            .collect(),
    )
    .await?;
    // Keys are stamped with this clock, so none older than a minute before now can appear later.
    let done = older_than_ms.min(now) - KEY_MINUTE_MS;
    let mut floor = j.pruned_until.lock();
    *floor = Some(floor.map_or(done, |f| f.max(done)));
    Ok(removed.into_iter().sum())
}

async fn prune_minute(j: &ScyllaJournal, minute: i64, before: i64) -> Result<u64, StorageError> {
    let found: Vec<KeyByMinuteRow> = rows(
        j,
        "list idempotency keys to prune",
        &j.st.select_keys_by_minute,
        (minute, before),
    )
    .await?
    .try_collect()
    .await?;
    let mut removed = 0;
    for row in found {
        // Deleting at the key's own write time removes that record only, never a newer record
        // of the same key.
        let written_at_latest = row.created_at * 1000 + 999;
        j.session
            .execute_unpaged(&j.st.delete_key, (written_at_latest, &row.key))
            .await
            .map_err(|e| map_execution("prune idempotency key", e))?;
        j.session
            .execute_unpaged(
                &j.st.delete_key_by_minute,
                (minute, row.created_at, &row.key),
            )
            .await
            .map_err(|e| map_execution("prune idempotency index", e))?;
        removed += 1;
    }
    Ok(removed)
}

pub(crate) async fn verify_stream(
    j: &ScyllaJournal,
    stream: &str,
) -> Result<Option<u64>, StorageError> {
    // The head is read first: events appended meanwhile only extend what is checked, while a
    // head above the last stored event reveals a truncated stream.
    let head = head_of(j, stream).await?;
    let mut prev = GENESIS_HASH;
    let mut next = 1u64;
    loop {
        let page = read_stream(j, stream, next, VERIFY_PAGE).await?;
        match verify_run(prev, next, &page) {
            Ok((hash, after)) => {
                prev = hash;
                next = after;
            }
            Err(broken) => return Ok(Some(broken)),
        }
        if page.len() < VERIFY_PAGE {
            let last = next - 1;
            if last <= head {
                return Ok(head_disagreement(head, last));
            }
            // Events above the head read first may be appends made meanwhile: only a head that
            // is still below them now is lowered.
            let now = head_of(j, stream).await?;
            return Ok((last > now).then(|| now + 1));
        }
    }
}

async fn head_of(j: &ScyllaJournal, stream: &str) -> Result<u64, StorageError> {
    Ok(head(j, stream).await?.map_or(0, |h| h.seq))
}
