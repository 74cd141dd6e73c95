//! The session's half of the subscription life cycle, as a pure table: [`SubTable`] holds every
//! channel's state and generation and decides each transition; the actor (`subscriptions.rs`,
//! `connect.rs`, `recovery.rs`, `replay.rs`) does what a transition returns (reply, spawn or
//! cancel a replay, tell the school). No actor, no I/O, so every transition is unit-tested below.
//!
//! Every request gets a fresh generation, so an answer or a replay end of an older request can
//! be told from the current one. The school keeps its own half (catching up with a live buffer,
//! or live; see `school/subscribe.rs`).
//!
//! | state | holds | event | next | the actor then |
//! |---|---|---|---|---|
//! | absent, or any | — | `request` (subscribe, connect's inbox and `resume`) | Requested(g') | sends `Subscribe{g'}`; cancels the old replay if one ran |
//! | Requested(g) | `since` | `granted(g, head)` | Replaying(g) | replies `{channel, head}`, spawns the replay of `(from, until]` |
//! | Requested(g) | `since` | `refused(g)` | absent | replies the school's error |
//! | Requested(g) | `since` | `unsubscribe` | Cancelled(g) | replies `{}`; the school is told once it answered |
//! | Cancelled(g) | — | `granted(g, head)` | absent | replies `{channel, head}` (the subscribe did succeed) and sends `Unsubscribe` |
//! | Cancelled(g) | — | `refused(g)` | absent | replies the school's error |
//! | Cancelled(g) | — | `unsubscribe` | Cancelled(g) | replies `{}` |
//! | Requested(g) | `since` | `revoke` (a `refresh` no longer allows it) | Revoked(g) | — (the school is told, and the subscribe answered, once it answered) |
//! | Revoked(g) | — | `granted(g, head)` | absent | replies `forbidden` (not `{channel, head}`) and sends `Unsubscribe` |
//! | Revoked(g) | — | `refused(g)` | absent | replies the school's error |
//! | Revoked(g) | — | `unsubscribe` | Revoked(g) | replies `{}` |
//! | Replaying(g) | base, replay | `replay_ended(g, live)` | Live(g) | — |
//! | Replaying(g) | base, replay | `replay_ended(g, not live)` | Interrupted(g) | — (recovery or the close follows) |
//! | Replaying, Live, Interrupted | base | `unsubscribe` | absent | cancels the replay, sends `Unsubscribe`, forgets the delivered seq, replies `{}` |
//! | Replaying, Live, Interrupted | base | `revoke` | absent | cancels the replay, sends `Unsubscribe` and waits for it, forgets the delivered seq, then sends the `error` event |
//! | Replaying, Live, Interrupted | base | `recover` (school actor replaced) | Requested(g', since = delivered ≥ base) | cancels the replay, resubscribes at the new actor |
//! | any | — | `granted`/`refused`/`replay_ended` of an older generation | unchanged | replies to that request only (a stale answer) |
//! | absent | — | `unsubscribe` | absent | replies `{}` |
//! | Cancelled, Revoked, or allowed | — | `revoke` | unchanged | — (an unsubscribed or already ended channel gets no second notice) |
//!
//! The overflow of the school's live buffer is no transition here: `CatchUpDone` answers "more,
//! up to `until`" and the same replay reads on (`replay.rs`, [`super::replay::after_done`]).
//!
//! Why Cancelled waits for the answer instead of telling the school at once: the school loads a
//! new channel's head before it inserts the subscriber, so an `Unsubscribe` sent meanwhile could
//! overtake the `Subscribe` and find nothing to remove; the subscription would then go live
//! behind the client's back. Sent after the answer, it always comes second. A Requested entry
//! replaced by a newer request needs no `Unsubscribe` either: the school replaces the subscriber
//! with the newer generation itself.

use std::collections::HashMap;

use actix::SpawnHandle;

/// Where one subscription is (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SubState {
    /// `Subscribe` sent, no answer yet; `since` as the client gave it.
    Requested { since: Option<u64> },
    /// Unsubscribed while Requested; removed when the school answers.
    Cancelled,
    /// Ended by a `refresh` while Requested; removed when the school answers, which is then
    /// answered `forbidden`.
    Revoked,
    /// The replay future runs; the subscription started after `base`.
    Replaying { base: u64, replay: SpawnHandle },
    /// The school delivers live.
    Live { base: u64 },
    /// The replay stopped before the subscriber went live.
    Interrupted { base: u64 },
}

impl SubState {
    /// The seq the subscription started after, once the school answered.
    fn base(&self) -> Option<u64> {
        match self {
            SubState::Replaying { base, .. }
            | SubState::Live { base }
            | SubState::Interrupted { base } => Some(*base),
            SubState::Requested { .. } | SubState::Cancelled | SubState::Revoked => None,
        }
    }

    fn replay(&self) -> Option<SpawnHandle> {
        match self {
            SubState::Replaying { replay, .. } => Some(*replay),
            _ => None,
        }
    }
}

/// One channel's subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SubInfo {
    /// The generation of the request that made this entry.
    pub(super) generation: u64,
    pub(super) state: SubState,
}

/// What to do with the school's `CatchUp` answer ([`SubTable::granted`]).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Granted {
    /// The replay was started (the `start` closure ran) and the entry is Replaying.
    Started,
    /// The client unsubscribed meanwhile: the entry is gone, tell the school to unsubscribe.
    Cancelled,
    /// An older request's answer: reply to it, change nothing.
    Stale,
}

/// A subscription a `refresh` ended ([`SubTable::revoke`]).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Revoked {
    pub(super) channel: String,
    /// What the actor still has to do, as for an `unsubscribe`: `Deferred` for a request in
    /// flight (Revoked now), or `Removed`.
    pub(super) outcome: Unsubscribed,
}

/// What an `unsubscribe` found ([`SubTable::unsubscribe`]).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Unsubscribed {
    /// No subscription of that channel.
    NotSubscribed,
    /// A request in flight was cancelled; the school is told when it answers.
    Deferred,
    /// The entry is gone: cancel `replay` if any, tell the school now.
    Removed { replay: Option<SpawnHandle> },
}

/// A channel to subscribe again at a replacement school actor ([`SubTable::recover`]).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Resubscribe {
    pub(super) channel: String,
    pub(super) generation: u64,
    pub(super) since: u64,
}

/// A session's subscriptions by channel name, and the generation counter.
#[derive(Debug)]
pub(super) struct SubTable {
    entries: HashMap<String, SubInfo>,
    /// The next generation handed out; each request gets a fresh one.
    next_generation: u64,
}

impl Default for SubTable {
    fn default() -> Self {
        SubTable {
            entries: HashMap::new(),
            next_generation: 1,
        }
    }
}

/// The seq a subscription starts after: `since`, capped at the head, or the head without one.
pub(super) fn base_of(since: Option<u64>, head: u64) -> u64 {
    since.unwrap_or(head).min(head)
}

impl SubTable {
    /// The entry of `channel`, if any.
    #[cfg(test)]
    pub(super) fn get(&self, channel: &str) -> Option<&SubInfo> {
        self.entries.get(channel)
    }

    /// How many channels have an entry (any state): what the per-connection cap counts.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether `channel` has an entry (a subscribe of it is a resubscribe, not a new one).
    pub(super) fn contains(&self, channel: &str) -> bool {
        self.entries.contains_key(channel)
    }

    /// A subscribe is being sent: the entry becomes Requested with a fresh generation. Returns
    /// the generation and the replay of the entry it replaced, to cancel.
    pub(super) fn request(
        &mut self,
        channel: &str,
        since: Option<u64>,
    ) -> (u64, Option<SpawnHandle>) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let info = SubInfo {
            generation,
            state: SubState::Requested { since },
        };
        let old = self.entries.insert(channel.to_owned(), info);
        (generation, old.and_then(|o| o.state.replay()))
    }

    /// The school accepted request `generation` with `head`. For the current request `start`
    /// gets the subscription's base and spawns its replay.
    pub(super) fn granted(
        &mut self,
        channel: &str,
        generation: u64,
        head: u64,
        start: impl FnOnce(u64) -> SpawnHandle,
    ) -> Granted {
        let Some(info) = self.entries.get_mut(channel) else {
            return Granted::Stale;
        };
        if info.generation != generation {
            return Granted::Stale;
        }
        match info.state {
            SubState::Requested { since } => {
                let base = base_of(since, head);
                let replay = start(base);
                info.state = SubState::Replaying { base, replay };
                Granted::Started
            }
            SubState::Cancelled | SubState::Revoked => {
                self.entries.remove(channel);
                Granted::Cancelled
            }
            // A second answer to one request does not happen; leave the entry alone.
            SubState::Replaying { .. } | SubState::Live { .. } | SubState::Interrupted { .. } => {
                Granted::Stale
            }
        }
    }

    /// The school refused request `generation` (or is gone). True if that removed the entry.
    pub(super) fn refused(&mut self, channel: &str, generation: u64) -> bool {
        let current = self.entries.get(channel).is_some_and(|info| {
            info.generation == generation
                && matches!(
                    info.state,
                    SubState::Requested { .. } | SubState::Cancelled | SubState::Revoked
                )
        });
        if current {
            self.entries.remove(channel);
        }
        current
    }

    /// The replay of `generation` ended; `live` when the school switched the subscriber to live.
    /// False (nothing changed) for a replay of another generation.
    pub(super) fn replay_ended(&mut self, channel: &str, generation: u64, live: bool) -> bool {
        let Some(info) = self.entries.get_mut(channel) else {
            return false;
        };
        let SubState::Replaying { base, .. } = info.state else {
            return false;
        };
        if info.generation != generation {
            return false;
        }
        info.state = match live {
            true => SubState::Live { base },
            false => SubState::Interrupted { base },
        };
        true
    }

    /// The client unsubscribed `channel`.
    pub(super) fn unsubscribe(&mut self, channel: &str) -> Unsubscribed {
        let Some(info) = self.entries.get_mut(channel) else {
            return Unsubscribed::NotSubscribed;
        };
        match info.state {
            SubState::Requested { .. } | SubState::Cancelled => {
                info.state = SubState::Cancelled;
                Unsubscribed::Deferred
            }
            // Already ended by a refresh; its subscribe is answered `forbidden` either way.
            SubState::Revoked => Unsubscribed::Deferred,
            SubState::Replaying { replay, .. } => {
                self.entries.remove(channel);
                Unsubscribed::Removed {
                    replay: Some(replay),
                }
            }
            SubState::Live { .. } | SubState::Interrupted { .. } => {
                self.entries.remove(channel);
                Unsubscribed::Removed { replay: None }
            }
        }
    }

    /// Whether request `generation` of `channel` was ended by a `refresh` before the school
    /// answered it (so the subscribe is answered `forbidden`).
    pub(super) fn is_revoked(&self, channel: &str, generation: u64) -> bool {
        self.entries
            .get(channel)
            .is_some_and(|info| info.generation == generation && info.state == SubState::Revoked)
    }

    /// A `refresh` changed the principal: ends every subscription whose channel `allowed` now
    /// refuses, sorted by channel. A request in flight becomes Revoked (the school is told once
    /// it answers); an answered one is removed, like an `unsubscribe`. Entries already
    /// Cancelled or Revoked are ended already and are not reported again.
    pub(super) fn revoke(&mut self, allowed: impl Fn(&str) -> bool) -> Vec<Revoked> {
        let mut names: Vec<String> = self
            .entries
            .iter()
            .filter(|(name, info)| {
                !matches!(info.state, SubState::Cancelled | SubState::Revoked) && !allowed(name)
            })
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|channel| {
                let outcome = match self.entries.get_mut(&channel) {
                    Some(info) if matches!(info.state, SubState::Requested { .. }) => {
                        info.state = SubState::Revoked;
                        Unsubscribed::Deferred
                    }
                    _ => self.unsubscribe(&channel),
                };
                Revoked { channel, outcome }
            })
            .collect()
    }

    /// The school actor was replaced: every answered subscription becomes Requested again, from
    /// the newest seq already queued to the client (`delivered`, never below its base). Returns
    /// the replays to cancel and the requests to send, sorted by channel. Entries still waiting
    /// for an answer keep waiting: it comes from the old actor's mailbox.
    pub(super) fn recover(
        &mut self,
        delivered: &HashMap<String, u64>,
    ) -> (Vec<SpawnHandle>, Vec<Resubscribe>) {
        let mut names: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, info)| info.state.base().is_some())
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        let mut cancel = Vec::new();
        let mut requests = Vec::new();
        for channel in names {
            // Indexing cannot fail: the name was just listed from the map.
            let info = self.entries[&channel];
            cancel.extend(info.state.replay());
            let base = info.state.base().unwrap_or(0);
            let since = delivered.get(&channel).copied().unwrap_or(0).max(base);
            let (generation, _) = self.request(&channel, Some(since));
            requests.push(Resubscribe {
                channel,
                generation,
                since,
            });
        }
        (cancel, requests)
    }
}

#[cfg(test)]
mod tests;
