//! One owner per stream inside the backend: a lock per stream (and per idempotency key) with the
//! stream's cached head, so appends to one stream run one at a time, in arrival order, while
//! appends to different streams run side by side.
//!
//! A batch locks every stream and key it touches, in sorted order (so two batches can never
//! wait on each other in a cycle). The lock is a fair async mutex: waiters are served first come
//! first served. Inside it lives the [`Slot`]: the stream's head as this process last
//! committed it (read from `stream_heads` on first use) and, after a write whose outcome is
//! unknown, the [`Pending`] write that must be completed before the stream takes anything new.
//!
//! Slots that nobody holds, that carry no pending write, are dropped once the map grows past
//! [`SLOT_CAPACITY`]; the head is then simply read again on next use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::scylla::append::WritePlan;

/// Slots kept before idle ones are evicted.
const SLOT_CAPACITY: usize = 100_000;

/// A stream's last committed event, as this process knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub seq: u64,
    pub hash: [u8; 32],
}

/// A write whose outcome is unknown (it timed out on every attempt). It stays attached to every
/// slot it touches and is re-sent unchanged before any of them takes a new write.
#[derive(Debug)]
pub(crate) struct Pending {
    pub plan: WritePlan,
    /// Set by whoever completes the write; other slots then just drop their reference.
    pub done: AtomicBool,
}

/// What the owner of one lock name knows.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// `None` until read from the table; `Some(None)` for a stream with no events.
    pub head: Option<Option<Head>>,
    /// A write to finish before anything else.
    pub pending: Option<Arc<Pending>>,
}

/// The lock name of a stream; keys and streams live in separate name spaces.
pub(crate) fn stream_lock(stream: &str) -> String {
    format!("s\u{0}{stream}")
}

/// The lock name of an idempotency key.
pub(crate) fn key_lock(key: &str) -> String {
    format!("k\u{0}{key}")
}

/// The slots of every stream and key that has an owner right now.
#[derive(Debug, Default)]
pub(crate) struct Owners {
    slots: Mutex<HashMap<String, Arc<AsyncMutex<Slot>>>>,
    /// Last write timestamp handed out (µs), see [`Owners::next_timestamp`].
    last_timestamp: AtomicI64,
}

impl Owners {
    /// Locks every name (deduplicated, in sorted order) and returns the guards by name.
    pub(crate) async fn lock_all(
        &self,
        mut names: Vec<String>,
    ) -> HashMap<String, OwnedMutexGuard<Slot>> {
        names.sort();
        names.dedup();
        let mut guards = HashMap::with_capacity(names.len());
        for name in names {
            let slot = self.slot(&name);
            guards.insert(name, slot.lock_owned().await);
        }
        guards
    }

    fn slot(&self, name: &str) -> Arc<AsyncMutex<Slot>> {
        let mut slots = self.slots.lock();
        if slots.len() > SLOT_CAPACITY {
            slots.retain(|_, s| {
                Arc::strong_count(s) > 1 || s.try_lock().map_or(true, |slot| slot.pending.is_some())
            });
        }
        slots.entry(name.to_owned()).or_default().clone()
    }

    /// A write timestamp (µs since the epoch) above every one handed out before by this
    /// journal, even if the wall clock steps back: a stream's later head must win over its
    /// earlier one on every replica.
    pub(crate) fn next_timestamp(&self) -> i64 {
        let now = oneclass_protocol::timestamp::now_ms() * 1000;
        let mut last = self.last_timestamp.load(Ordering::SeqCst);
        loop {
            let next = now.max(last + 1);
            match self.last_timestamp.compare_exchange(
                last,
                next,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }
}
