//! The tables of [`super::MemoryJournal`] and the one function that changes the log,
//! [`Tables::apply`].
//!
//! Everything lives behind one mutex held by the caller, so a batch is applied in one critical
//! section: it is resolved and linked on the side (pending heads, pending keys, pending events)
//! and only copied into the tables once nothing can fail any more. An error therefore leaves the
//! tables exactly as they were, and the seqs it would have used are given to the next batch.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use uuid::Uuid;

use crate::error::StorageError;
use crate::hash::{next_link, verify_run, Link, GENESIS_HASH};
use crate::idempotency::IDEMPOTENCY_TTL;
use crate::journal::{AppendOutcome, AppendRequest, MAX_PAGE};
use crate::queries::{EventPage, EventQuery};
use crate::validate::validate;
use oneclass_protocol::journal::EventEnvelope;
use oneclass_protocol::timestamp::day_of_ms;

/// A stored idempotency key: the fingerprint it was first used with and where its event went.
#[derive(Debug, Clone)]
struct Key {
    /// Fingerprint of the first request, to tell a retry from a conflicting reuse.
    fingerprint: [u8; 32],
    /// Stream of the event the key first produced.
    stream: String,
    /// Seq of that event.
    seq: u64,
    /// Wall-clock ms when the key was recorded, for pruning.
    created_at: i64,
}

/// All state of one in-memory backend.
#[derive(Debug, Default)]
pub(super) struct Tables {
    /// Events per stream; the event with seq `n` sits at index `n - 1`. Ordered by name so
    /// prefix listings are one range scan, as on the other backends.
    streams: BTreeMap<String, Vec<EventEnvelope>>,
    /// The by-school access path, in query order `(school, occurred_at, event_id)`.
    by_school: BTreeMap<(String, i64, Uuid), EventEnvelope>,
    /// Idempotency keys by key.
    keys: HashMap<String, Key>,
    /// Read cursors by `(school, user)`, then by channel.
    cursors: HashMap<(String, String), HashMap<String, u64>>,
    /// Set by the first (injected) fatal failure; writes fail from then on.
    pub fatal: Option<String>,
    /// Test aid: batches still to fail after their seqs were assigned.
    pub fail_batches: u64,
    /// Test aid: commits still to fail as if the disk had failed (goes fatal).
    pub fail_commits: u64,
    /// Wall-clock ms of the last automatic prune; `None` until the first append.
    pub last_prune_ms: Option<i64>,
    /// Size of every committed batch, in commit order (test aid: observe batching).
    pub committed_batches: Vec<usize>,
}

impl Tables {
    /// The error every write gets once the backend went fatal.
    pub fn check_fatal(&self) -> Result<(), StorageError> {
        match &self.fatal {
            Some(reason) => Err(StorageError::Unavailable(reason.clone())),
            None => Ok(()),
        }
    }

    fn last_of(&self, stream: &str) -> Option<(u64, [u8; 32])> {
        self.streams
            .get(stream)
            .and_then(|v| v.last())
            .map(|e| (e.seq, e.hash))
    }

    fn event(&self, stream: &str, seq: u64) -> Option<&EventEnvelope> {
        self.streams.get(stream)?.get(seq.checked_sub(1)? as usize)
    }

    /// Applies one batch atomically; `now_ms` stamps the idempotency keys it records.
    pub fn apply(
        &mut self,
        batch: Vec<AppendRequest>,
        now_ms: i64,
    ) -> Result<Vec<AppendOutcome>, StorageError> {
        self.check_fatal()?;
        for req in &batch {
            validate(req)?;
        }
        let size = batch.len();
        let mut heads: HashMap<String, (u64, [u8; 32])> = HashMap::new();
        // Keys first used in this batch, with the index of their event in `pending`.
        let mut new_keys: HashMap<String, ([u8; 32], usize)> = HashMap::new();
        let mut pending: Vec<EventEnvelope> = Vec::with_capacity(size);
        let mut outcomes = Vec::with_capacity(size);
        for req in batch {
            if let Some(idem) = &req.idempotency {
                // `None`: the key is new; otherwise the outcome of a repeat.
                let repeat = if let Some((fp, at)) = new_keys.get(&idem.key) {
                    Some(if *fp == idem.fingerprint {
                        AppendOutcome::Duplicate(pending[*at].clone())
                    } else {
                        AppendOutcome::Conflict
                    })
                } else if let Some(key) = self.keys.get(&idem.key) {
                    Some(if key.fingerprint != idem.fingerprint {
                        AppendOutcome::Conflict
                    } else {
                        let first = self.event(&key.stream, key.seq).ok_or_else(|| {
                            StorageError::backend(
                                "read the first result of an idempotency key",
                                format!("{}/{} is missing", key.stream, key.seq),
                            )
                        })?;
                        AppendOutcome::Duplicate(first.clone())
                    })
                } else {
                    None
                };
                if let Some(outcome) = repeat {
                    outcomes.push(outcome);
                    continue;
                }
            }
            let prev = heads
                .get(&req.stream)
                .copied()
                .or_else(|| self.last_of(&req.stream));
            let day = day_of_ms(req.occurred_at);
            let Link {
                seq,
                event_id,
                hash,
            } = next_link(prev, &req, &day);
            heads.insert(req.stream.clone(), (seq, hash));
            if let Some(idem) = &req.idempotency {
                new_keys.insert(idem.key.clone(), (idem.fingerprint, pending.len()));
            }
            let envelope = Link {
                seq,
                event_id,
                hash,
            }
            .envelope(req, day);
            pending.push(envelope.clone());
            outcomes.push(AppendOutcome::Appended(envelope));
        }
        if self.fail_batches > 0 {
            self.fail_batches -= 1;
            return Err(StorageError::Backend {
                message: "injected batch failure (fail_next_batches)".to_owned(),
                source: None,
            });
        }
        if self.fail_commits > 0 {
            self.fail_commits -= 1;
            let reason = "injected commit failure (fail_next_commits)".to_owned();
            self.fatal = Some(reason.clone());
            return Err(StorageError::Unavailable(reason));
        }
        for (key, (fingerprint, at)) in new_keys {
            let e = &pending[at];
            let stored = Key {
                fingerprint,
                stream: e.stream.clone(),
                seq: e.seq,
                created_at: now_ms,
            };
            self.keys.insert(key, stored);
        }
        for e in pending {
            self.by_school
                .insert((e.school_id.clone(), e.occurred_at, e.event_id), e.clone());
            self.streams.entry(e.stream.clone()).or_default().push(e);
        }
        self.committed_batches.push(size);
        Ok(outcomes)
    }

    /// Forgets keys recorded before `older_than_ms`; returns how many.
    pub fn prune(&mut self, older_than_ms: i64) -> u64 {
        let before = self.keys.len();
        self.keys.retain(|_, k| k.created_at >= older_than_ms);
        (before - self.keys.len()) as u64
    }

    /// Prunes keys older than [`IDEMPOTENCY_TTL`] when `interval_ms` passed since the last
    /// automatic prune (the writer thread of SQLite does the same on a timer).
    pub fn prune_if_due(&mut self, now_ms: i64, interval_ms: i64) {
        if self
            .last_prune_ms
            .is_some_and(|at| now_ms.saturating_sub(at) < interval_ms)
        {
            return;
        }
        self.last_prune_ms = Some(now_ms);
        self.prune(now_ms - IDEMPOTENCY_TTL.as_millis() as i64);
    }

    pub fn read_stream(&self, stream: &str, from_seq: u64, limit: usize) -> Vec<EventEnvelope> {
        let Some(events) = self.streams.get(stream) else {
            return Vec::new();
        };
        let start = (from_seq.saturating_sub(1) as usize).min(events.len());
        events[start..]
            .iter()
            .take(limit.min(MAX_PAGE))
            .cloned()
            .collect()
    }

    pub fn read_stream_before(
        &self,
        stream: &str,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Vec<EventEnvelope> {
        let Some(events) = self.streams.get(stream) else {
            return Vec::new();
        };
        let end = before_seq.map_or(events.len(), |b| {
            (b.saturating_sub(1) as usize).min(events.len())
        });
        let start = end.saturating_sub(limit.min(MAX_PAGE));
        events[start..end].to_vec()
    }

    pub fn head(&self, stream: &str) -> u64 {
        self.last_of(stream).map_or(0, |(seq, _)| seq)
    }

    pub fn streams_with_prefix(&self, prefix: &str) -> Vec<(String, u64)> {
        self.streams
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, events)| (name.clone(), events.last().map_or(0, |e| e.seq)))
            .collect()
    }

    pub fn query(&self, q: &EventQuery) -> Result<EventPage, StorageError> {
        let (limit, after) = q.page_bounds()?;
        let lo = after.map_or(q.from_ms, |c| c.occurred_at.max(q.from_ms));
        if lo >= q.to_ms {
            return Ok(EventPage::from_overfetch(Vec::new(), limit));
        }
        let range =
            (q.school_id.clone(), lo, Uuid::nil())..(q.school_id.clone(), q.to_ms, Uuid::nil());
        let events = self
            .by_school
            .range(range)
            .map(|(_, e)| e)
            .filter(|e| {
                after.is_none_or(|c| (e.occurred_at, e.event_id) > (c.occurred_at, c.event_id))
            })
            .filter(|e| {
                q.kind_prefix
                    .as_deref()
                    .is_none_or(|p| e.kind.starts_with(p))
            })
            .take(limit + 1)
            .cloned()
            .collect();
        Ok(EventPage::from_overfetch(events, limit))
    }

    /// Moves a cursor forward (never back); returns the stored value.
    pub fn set_read_cursor(
        &mut self,
        school_id: &str,
        user_id: &str,
        channel: &str,
        seq: u64,
    ) -> u64 {
        let cursors = self
            .cursors
            .entry((school_id.to_owned(), user_id.to_owned()))
            .or_default();
        let stored = cursors.entry(channel.to_owned()).or_insert(seq);
        *stored = (*stored).max(seq);
        *stored
    }

    pub fn read_cursors(&self, school_id: &str, user_id: &str) -> HashMap<String, u64> {
        self.cursors
            .get(&(school_id.to_owned(), user_id.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    pub fn verify_stream(&self, stream: &str) -> Option<u64> {
        let events = self.streams.get(stream)?;
        verify_run(GENESIS_HASH, 1, events).err()
    }

    /// Test aid: replaces the stored payload of one event, as tampering with the storage would.
    /// Returns false when there is no such event.
    #[cfg(feature = "fault-injection")]
    pub fn tamper_payload(&mut self, stream: &str, seq: u64, payload: bytes::Bytes) -> bool {
        let Some(e) = seq
            .checked_sub(1)
            .and_then(|i| self.streams.get_mut(stream)?.get_mut(i as usize))
        else {
            return false;
        };
        e.payload = payload.clone();
        let key = (e.school_id.clone(), e.occurred_at, e.event_id);
        if let Some(indexed) = self.by_school.get_mut(&key) {
            indexed.payload = payload;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::IdempotencyKey;

    fn keyed(key: &str, at: i64) -> AppendRequest {
        AppendRequest {
            school_id: "s1".into(),
            stream: "class:s1:c1".into(),
            kind: "chat.message.posted".into(),
            actor: "u1".into(),
            occurred_at: at,
            payload: bytes::Bytes::from_static(b"x"),
            idempotency: Some(IdempotencyKey {
                key: key.into(),
                fingerprint: [1; 32],
            }),
        }
    }

    #[test]
    fn keys_older_than_the_ttl_are_pruned_once_the_interval_has_passed() {
        let ttl = IDEMPOTENCY_TTL.as_millis() as i64;
        let mut t = Tables::default();
        t.apply(vec![keyed("old", 0)], 0).unwrap();
        t.prune_if_due(0, 1_000);
        t.apply(vec![keyed("new", 0)], ttl).unwrap();
        t.prune_if_due(500, 1_000);
        assert_eq!(t.keys.len(), 2, "the interval has not passed yet");
        t.prune_if_due(ttl + 1_000, 1_000);
        assert!(!t.keys.contains_key("old"), "older than the TTL");
        assert!(t.keys.contains_key("new"));
    }

    #[test]
    fn an_empty_or_inverted_time_range_is_an_empty_last_page() {
        let mut t = Tables::default();
        t.apply(vec![keyed("k", 10)], 0).unwrap();
        for (from_ms, to_ms) in [(10, 10), (20, 5)] {
            let q = EventQuery {
                school_id: "s1".into(),
                from_ms,
                to_ms,
                kind_prefix: None,
                limit: 10,
                page_token: None,
            };
            assert_eq!(
                t.query(&q).unwrap(),
                EventPage {
                    events: vec![],
                    next_page_token: None
                }
            );
        }
    }
}
