//! The append path: lock the batch's streams and keys, finish any pending write on them, assign
//! seqs and resolve keys, then write everything as one logged batch (see the parent module for
//! why that is atomic and what a timeout does).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::try_join_all;
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch, BatchType};
use tokio::sync::OwnedMutexGuard;

use crate::error::StorageError;
use crate::hash::{next_link, Link};
use crate::idempotency::IDEMPOTENCY_TTL;
use crate::journal::{AppendOutcome, AppendRequest};
use crate::scylla::counters;
use crate::scylla::errors::{certainly_not_applied, map_execution};
use crate::scylla::owners::{key_lock, stream_lock, Head, Pending, Slot};
use crate::scylla::reads;
use crate::scylla::scope::{parent_of, partition, scope_of};
use crate::scylla::ScyllaJournal;
use crate::validate::validate;
use oneclass_protocol::journal::EventEnvelope;
use oneclass_protocol::timestamp::day_of_ms;

/// First pause between attempts of an in-doubt write; doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// Longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Width of one bucket of the idempotency prune index, in ms.
pub(crate) const KEY_MINUTE_MS: i64 = 60_000;

type Row = Box<dyn SerializeRow + Send + Sync>;

/// One caller batch as the rows of one logged CQL batch, ready to be sent (and re-sent
/// unchanged).
pub(crate) struct WritePlan {
    batch: Batch,
    values: Vec<Row>,
    /// Every stream's head once the plan is written.
    pub heads: Vec<(String, Head)>,
    /// New events per (school, day, kind), for the counters.
    pub counts: BTreeMap<(String, String, String), i64>,
    /// Lock names of everything the plan writes (streams and keys).
    pub locks: Vec<String>,
}

impl std::fmt::Debug for WritePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WritePlan")
            .field("statements", &self.values.len())
            .field("heads", &self.heads)
            .finish()
    }
}

/// Why a write failed.
enum WriteError {
    /// Certainly not applied: the seqs are free again.
    NotApplied(StorageError),
    /// May have been applied (now or later): the plan must be completed, never replaced.
    InDoubt(StorageError),
}

pub(crate) async fn append(
    j: &ScyllaJournal,
    batch: Vec<AppendRequest>,
) -> Result<Vec<AppendOutcome>, StorageError> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    for req in &batch {
        validate(req)?;
    }
    let mut names: Vec<String> = batch.iter().map(|r| stream_lock(&r.stream)).collect();
    names.extend(
        batch
            .iter()
            .filter_map(|r| r.idempotency.as_ref())
            .map(|k| key_lock(&k.key)),
    );
    let mut guards = j.owners.lock_all(names).await;
    // Waiting for a lock holds no slot; the bound is on writes actually in flight.
    let _permit = j
        .in_flight
        .acquire()
        .await
        .map_err(|_| StorageError::Unavailable("journal is closing".into()))?;
    finish_pending(j, &mut guards).await?;
    load_heads(j, &mut guards, &batch).await?;
    let (outcomes, plan) = plan(j, &mut guards, batch).await?;
    let Some(plan) = plan else {
        return Ok(outcomes);
    };
    if take_one(&j.fail_batches) {
        return Err(StorageError::Backend {
            message: "injected batch failure (fail_next_batches)".to_owned(),
            source: None,
        });
    }
    match write(j, &plan).await {
        Ok(()) => {
            set_heads(&mut guards, &plan.heads);
            drop(guards);
            counters::add(j, &plan.counts).await;
            Ok(outcomes)
        }
        Err(WriteError::NotApplied(e)) => Err(e),
        Err(WriteError::InDoubt(e)) => {
            set_heads(&mut guards, &plan.heads);
            let streams: Vec<String> = plan.heads.iter().map(|(s, _)| s.clone()).collect();
            let pending = Arc::new(Pending {
                plan,
                done: AtomicBool::new(false),
            });
            for name in &pending.plan.locks {
                if let Some(slot) = guards.get_mut(name) {
                    slot.pending = Some(pending.clone());
                }
            }
            tracing::error!(
                message = "append outcome unknown; the write stays pending on its streams",
                ?streams,
                error = %e
            );
            Err(StorageError::Unavailable(format!(
                "append outcome unknown after {} attempts ({e}); it is completed before these \
                 streams take new appends",
                j.options.write_attempts.max(1)
            )))
        }
    }
}

fn set_heads(guards: &mut HashMap<String, OwnedMutexGuard<Slot>>, heads: &[(String, Head)]) {
    for (stream, head) in heads {
        if let Some(slot) = guards.get_mut(&stream_lock(stream)) {
            slot.head = Some(Some(*head));
        }
    }
}

/// Re-sends every pending write attached to the locked slots until it lands.
async fn finish_pending(
    j: &ScyllaJournal,
    guards: &mut HashMap<String, OwnedMutexGuard<Slot>>,
) -> Result<(), StorageError> {
    for slot in guards.values_mut() {
        let Some(pending) = slot.pending.clone() else {
            continue;
        };
        if !pending.done.load(Ordering::SeqCst) {
            match write(j, &pending.plan).await {
                Ok(()) => {
                    if !pending.done.swap(true, Ordering::SeqCst) {
                        tracing::info!(message = "pending append completed");
                        counters::add(j, &pending.plan.counts).await;
                    }
                }
                Err(WriteError::NotApplied(e) | WriteError::InDoubt(e)) => {
                    return Err(StorageError::Unavailable(format!(
                        "an earlier append to this stream is still in doubt: {e}"
                    )));
                }
            }
        }
        slot.pending = None;
    }
    Ok(())
}

/// Reads the head of every stream of the batch whose owner does not know it yet.
async fn load_heads(
    j: &ScyllaJournal,
    guards: &mut HashMap<String, OwnedMutexGuard<Slot>>,
    batch: &[AppendRequest],
) -> Result<(), StorageError> {
    let unknown: BTreeSet<&str> = batch
        .iter()
        .map(|r| r.stream.as_str())
        .filter(|s| {
            guards
                .get(&stream_lock(s))
                .is_some_and(|slot| slot.head.is_none())
        })
        .collect();
    let found = try_join_all(unknown.iter().map(|s| reads::head(j, s))).await?;
    for (stream, head) in unknown.into_iter().zip(found) {
        if let Some(slot) = guards.get_mut(&stream_lock(stream)) {
            slot.head = Some(head);
        }
    }
    Ok(())
}

/// What a key resolves to while planning: the stored (or just planned) event and its
/// fingerprint.
struct KnownKey {
    fingerprint: [u8; 32],
    event: EventEnvelope,
}

/// Assigns seqs, ids and hashes and resolves keys; returns the outcomes and, if anything new is
/// to be stored, the write.
async fn plan(
    j: &ScyllaJournal,
    guards: &mut HashMap<String, OwnedMutexGuard<Slot>>,
    batch: Vec<AppendRequest>,
) -> Result<(Vec<AppendOutcome>, Option<WritePlan>), StorageError> {
    let st = &j.st;
    let timestamp = j.owners.next_timestamp();
    let created_at = timestamp / 1000;
    let key_ttl = IDEMPOTENCY_TTL.as_secs() as i32;
    let mut heads: BTreeMap<String, Option<Head>> = BTreeMap::new();
    let mut keys: HashMap<String, KnownKey> = HashMap::new();
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut values: Vec<Row> = Vec::new();
    let mut cql_batch = Batch::new(BatchType::Logged);
    let mut push = |statement: &scylla::statement::prepared::PreparedStatement, row: Row| {
        cql_batch.append_statement(statement.clone());
        values.push(row);
    };
    let mut days: BTreeSet<(String, String)> = BTreeSet::new();
    let mut counts: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    let mut locks = Vec::new();
    for mut req in batch {
        if let Some(idem) = &req.idempotency {
            if !keys.contains_key(&idem.key) {
                if let Some(known) = stored_key(j, &idem.key).await? {
                    keys.insert(idem.key.clone(), known);
                }
            }
            if let Some(known) = keys.get(&idem.key) {
                outcomes.push(if known.fingerprint == idem.fingerprint {
                    AppendOutcome::Duplicate(known.event.clone())
                } else {
                    AppendOutcome::Conflict
                });
                continue;
            }
        }
        let prev = match heads.get(&req.stream) {
            Some(h) => *h,
            None => guards
                .get(&stream_lock(&req.stream))
                .and_then(|slot| slot.head)
                .ok_or_else(|| StorageError::Unavailable("stream head not loaded".into()))?,
        };
        let day = day_of_ms(req.occurred_at);
        let Link {
            seq,
            event_id,
            hash,
        } = next_link(prev.map(|h| (h.seq, h.hash)), &req, &day);
        heads.insert(req.stream.clone(), Some(Head { seq, hash }));
        // The key is written after the event's rows; the envelope takes the rest of the request.
        let idempotency = req.idempotency.take();
        let event = Link {
            seq,
            event_id,
            hash,
        }
        .envelope(req, day);
        let e = &event;
        push(
            &st.insert_event_by_stream,
            Box::new((
                e.stream.clone(),
                j.bucket_of(seq),
                seq as i64,
                e.school_id.clone(),
                e.day.clone(),
                e.event_id,
                e.kind.clone(),
                e.actor.clone(),
                e.occurred_at,
                Bytes::clone(&e.payload),
                e.hash.to_vec(),
            )),
        );
        push(
            &st.insert_event_by_school,
            Box::new((
                e.school_id.clone(),
                e.day.clone(),
                e.occurred_at,
                e.event_id,
                e.stream.clone(),
                seq as i64,
                e.kind.clone(),
                e.actor.clone(),
                Bytes::clone(&e.payload),
                e.hash.to_vec(),
            )),
        );
        if seq == 1 {
            let mut scope = scope_of(&e.stream).to_owned();
            push(
                &st.insert_stream_scope,
                Box::new((partition(&scope).to_owned(), e.stream.clone())),
            );
            while !scope.is_empty() {
                let parent = parent_of(&scope).to_owned();
                push(
                    &st.insert_scope_parent,
                    Box::new((partition(&parent).to_owned(), scope.clone())),
                );
                scope = parent;
            }
        }
        if let Some(idem) = &idempotency {
            push(
                &st.insert_key,
                Box::new((
                    idem.key.clone(),
                    idem.fingerprint.to_vec(),
                    e.stream.clone(),
                    seq as i64,
                    created_at,
                    key_ttl,
                )),
            );
            push(
                &st.insert_key_by_minute,
                Box::new((
                    created_at.div_euclid(KEY_MINUTE_MS),
                    created_at,
                    idem.key.clone(),
                    key_ttl,
                )),
            );
            locks.push(key_lock(&idem.key));
            keys.insert(
                idem.key.clone(),
                KnownKey {
                    fingerprint: idem.fingerprint,
                    event: event.clone(),
                },
            );
        }
        days.insert((e.school_id.clone(), e.day.clone()));
        *counts
            .entry((e.school_id.clone(), e.day.clone(), e.kind.clone()))
            .or_default() += 1;
        outcomes.push(AppendOutcome::Appended(event));
    }
    if heads.is_empty() {
        return Ok((outcomes, None));
    }
    let mut new_heads = Vec::with_capacity(heads.len());
    for (stream, head) in heads {
        // unwrap-free: every entry was set to Some above.
        let Some(head) = head else { continue };
        push(
            &st.upsert_head,
            Box::new((stream.clone(), head.seq as i64, head.hash.to_vec())),
        );
        locks.push(stream_lock(&stream));
        new_heads.push((stream, head));
    }
    for (school, day) in days {
        push(&st.insert_day, Box::new((school, day)));
    }
    cql_batch.set_timestamp(Some(timestamp));
    cql_batch.set_consistency(j.options.consistency);
    cql_batch.set_is_idempotent(true);
    Ok((
        outcomes,
        Some(WritePlan {
            batch: cql_batch,
            values,
            heads: new_heads,
            counts,
            locks,
        }),
    ))
}

/// The stored record of `key`, with the event it produced.
async fn stored_key(j: &ScyllaJournal, key: &str) -> Result<Option<KnownKey>, StorageError> {
    let rows = j
        .session
        .execute_unpaged(&j.st.select_key, (key,))
        .await
        .map_err(|e| map_execution("look up idempotency key", e))?
        .into_rows_result()
        .map_err(|e| StorageError::backend("look up idempotency key", e))?;
    let Some(row) = rows
        .maybe_first_row::<crate::scylla::rows::KeyRow>()
        .map_err(|e| StorageError::backend("look up idempotency key", e))?
    else {
        return Ok(None);
    };
    let fingerprint: [u8; 32] = row
        .fingerprint
        .try_into()
        .map_err(|_| StorageError::Backend {
            message: format!("fingerprint of key {key:?} is not 32 bytes"),
            source: None,
        })?;
    let event = reads::event_at(j, &row.stream, row.seq as u64)
        .await?
        .ok_or_else(|| StorageError::Backend {
            message: format!(
                "idempotency key {key:?} points at {} seq {}, which is not stored",
                row.stream, row.seq
            ),
            source: None,
        })?;
    Ok(Some(KnownKey { fingerprint, event }))
}

/// Sends the plan, re-sending it unchanged while its outcome is unknown.
async fn write(j: &ScyllaJournal, plan: &WritePlan) -> Result<(), WriteError> {
    let attempts = j.options.write_attempts.max(1);
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=attempts {
        match j.session.batch(&plan.batch, &plan.values).await {
            Ok(_) => return Ok(()),
            // Only the first attempt can prove nothing was written: a later refusal says
            // nothing about the attempts before it.
            Err(e) if attempt == 1 && certainly_not_applied(&e) => {
                return Err(WriteError::NotApplied(map_execution("append", e)));
            }
            Err(e) if attempt == attempts => {
                return Err(WriteError::InDoubt(map_execution("append", e)));
            }
            Err(e) => {
                tracing::warn!(
                    message = "append outcome unknown; sending the same batch again",
                    attempt,
                    error = %e
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    unreachable!("the last attempt returns")
}

/// Decrements a test-aid counter if it is positive; true when it was.
fn take_one(counter: &AtomicU64) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}
