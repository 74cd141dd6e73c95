//! A session's subscriptions: the session's half of the subscription life cycle, `subscribe`
//! and `unsubscribe`.
//!
//! Every subscription is identified by its channel and a generation that is fresh for each
//! subscribe, resubscribe or recovery, so the session and the school can tell a stale catch-up
//! from the current one. The school keeps its half (catching up with a live buffer, or live) in
//! its subscriber entry; this table is the session's half:
//!
//! | state | what holds | next |
//! |---|---|---|
//! | absent | nothing | Requested |
//! | Requested(g) | the `Subscribe{g}` request in flight; no entry yet | Replaying(g), or absent |
//! | [`SubState::Replaying`] (g) | an entry, its replay future | Live, Replaying(g), Interrupted |
//! | [`SubState::Live`] (g) | an entry; the school delivers directly | Requested(g') |
//! | [`SubState::Interrupted`] (g) | an entry, no replay | Requested(g'), or absent |
//!
//! Transitions:
//! - absent or any entry → Requested(g', a fresh generation): `subscribe`, a channel in
//!   `connect`'s `resume` (and the inbox), or recovery after the school actor died.
//! - Requested(g) → Replaying(g): the school answered with its `CatchUp`;
//!   [`SessionActor::begin_subscription`] records the entry and spawns the replay of
//!   `(from, until]`. Requested → absent: the school refused (the error is the answer).
//! - Replaying(g) → Live: the school answered `CatchUpDone` with "live" after queuing what it
//!   buffered meanwhile and `synced`.
//! - Replaying(g) → Replaying(g) (overflow): the school's live buffer overflowed during the
//!   replay, so `CatchUpDone` answers "more, up to `until`" and the same replay reads on.
//! - Replaying(g) → Interrupted: the replay stopped early: the queue closed (the session is
//!   closing), the journal failed (the session closes with 1001), or the school actor died
//!   (recovery follows).
//! - any entry → absent: `unsubscribe`, or the new school actor refused it during recovery.
//!
//! A resubscribe while Replaying cancels the old replay; the school answers the old generation's
//! `CatchUpDone` with "replaced", which the replay logs at debug and drops. Recovery sends every
//! entry back to Requested with `since` = the newest seq already queued to the client (never
//! below the entry's `base`), so the client sees neither a gap nor a duplicate.
//!
//! Failure modes: a subscribe the school refuses is answered with its error; a school actor that
//! is gone is answered `unavailable` and starts recovery.

use actix::prelude::*;
use oneclass_protocol::reply::{Empty, OkBody, Subscribed};
use oneclass_protocol::ChannelName;

use super::actor::SessionActor;
use super::queries::forbidden;
use crate::permissions::can_read;
use crate::principal::Principal;
use crate::school::{CatchUp, SchoolActor, Subscribe, Unsubscribe};

/// Where one subscription is in its life cycle (the session's half; see the module doc).
#[derive(Debug)]
pub(super) enum SubState {
    /// The replay future is running.
    Replaying { replay: SpawnHandle },
    /// The school switched the subscriber to live; nothing is being replayed.
    Live,
    /// The replay stopped before the school switched the subscriber to live.
    Interrupted,
}

/// One subscription of this session.
#[derive(Debug)]
pub(super) struct SubInfo {
    /// The generation of the subscribe that created this entry.
    pub(super) generation: u64,
    /// The seq the subscription started after; a resubscription never goes below it.
    pub(super) base: u64,
    pub(super) state: SubState,
}

impl SubInfo {
    /// Cancels the replay if one is running, leaving the entry `Interrupted`; a live entry
    /// stays live.
    pub(super) fn cancel_replay(&mut self, ctx: &mut Context<SessionActor>) {
        if let SubState::Replaying { replay } = self.state {
            ctx.cancel_future(replay);
            self.state = SubState::Interrupted;
        }
    }
}

/// The seq a subscription starts after: `since`, capped at the head, or the head without one.
pub(super) fn base_of(since: Option<u64>, head: u64) -> u64 {
    since.unwrap_or(head).min(head)
}

impl SessionActor {
    pub(super) fn new_generation(&mut self) -> u64 {
        let g = self.next_generation;
        self.next_generation += 1;
        g
    }

    /// The one step from Requested to Replaying: records the subscription and starts its
    /// replay. Used by `subscribe`, by `connect` for its initial subscriptions, and by recovery.
    pub(super) fn begin_subscription(
        &mut self,
        name: String,
        generation: u64,
        base: u64,
        catch: CatchUp,
        school: &Addr<SchoolActor>,
        ctx: &mut Context<Self>,
    ) {
        let replay = self.spawn_replay(name.clone(), generation, catch, school.clone(), ctx);
        let state = SubState::Replaying { replay };
        let info = SubInfo {
            generation,
            base,
            state,
        };
        if let Some(mut old) = self.subs.insert(name, info) {
            old.cancel_replay(ctx);
        }
    }

    pub(super) fn subscribe(
        &mut self,
        id: Option<u32>,
        principal: &Principal,
        channel: ChannelName,
        since: Option<u64>,
        ctx: &mut Context<Self>,
    ) {
        if let Err(code) = can_read(principal, &channel) {
            return self.reply_err(id, forbidden(code, &channel));
        }
        let school = match self.school() {
            Ok(school) => school,
            Err(e) => return self.reply_err(id, e),
        };
        let name = channel.to_string();
        if let Some(mut old) = self.subs.remove(&name) {
            old.cancel_replay(ctx);
        }
        let generation = self.new_generation();
        let msg = Subscribe {
            session: self.id,
            channel,
            since,
            generation,
        };
        ctx.spawn(
            school
                .send(msg)
                .into_actor(self)
                .map(move |res, act, ctx| match res {
                    Ok(Ok(catch)) => {
                        act.reply_ok(
                            id,
                            OkBody::Subscribed(Subscribed {
                                channel: name.clone(),
                                head: catch.head,
                            }),
                        );
                        let base = base_of(since, catch.head);
                        act.begin_subscription(name, generation, base, catch, &school, ctx);
                    }
                    Ok(Err(e)) => act.reply_err(id, e),
                    Err(e) => act.school_gone(id, &e, ctx),
                }),
        );
    }

    pub(super) fn unsubscribe(
        &mut self,
        id: Option<u32>,
        channel: &ChannelName,
        ctx: &mut Context<Self>,
    ) {
        let name = channel.to_string();
        if let Some(mut sub) = self.subs.remove(&name) {
            sub.cancel_replay(ctx);
            // Without a joined school there is nobody to tell. (Frames wait while a recovery
            // is in flight, so this is a guard, not a path the client can take.)
            if let Ok(school) = self.school() {
                school.do_send(Unsubscribe {
                    session: self.id,
                    channel: name.clone(),
                });
            }
            self.outbound.forget(&name);
        }
        self.reply_ok(id, OkBody::Empty(Empty {}));
    }
}
