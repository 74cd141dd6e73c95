//! A session's subscriptions from the actor's side: the `subscribe` and `unsubscribe` commands,
//! and the one step that starts a granted subscription's replay.
//!
//! The life cycle itself (Requested, Cancelled, Replaying, Live, Interrupted, with the
//! generation that tells a stale answer from the current one) is the pure table in
//! [`super::sub_table`], whose module doc has the state table; this file and `connect.rs`,
//! `recovery.rs` and `replay.rs` only carry out what its transitions return.
//!
//! A subscribe is recorded as Requested the moment it is sent, so an `unsubscribe` that arrives
//! before the school's answer finds it and cancels it: when the answer comes the session tells
//! the school to unsubscribe and still answers the subscribe `{channel, head}` (it did succeed;
//! every command with an id gets exactly one reply), and the client receives nothing of the
//! channel. The `unsubscribe` itself is answered `{}` at once. A `refresh` that no longer
//! allows the channel ends such a request the same way, but its subscribe is answered
//! `forbidden` (`connect.rs` has the re-check).
//!
//! Caps: a subscribe of a new channel past [`crate::Limits::max_subscriptions_per_connection`]
//! is answered `forbidden` here; the school refuses one past the user's cap over all their
//! connections ([`crate::Limits::max_subscriptions_per_user`]) the same way. Both leave the
//! socket open and every existing subscription as it was.
//!
//! Failure modes: a subscribe the school refuses is answered with its error; a school actor that
//! is gone is answered `unavailable` and starts recovery.

use actix::prelude::*;
use oneclass_protocol::reply::{Empty, ErrorBody, OkBody, Subscribed};
use oneclass_protocol::{ChannelName, ErrorCode};

use super::actor::SessionActor;
use super::queries::forbidden;
use super::sub_table::{Granted, Unsubscribed};
use crate::permissions::can_read;
use crate::principal::Principal;
use crate::school::{CatchUp, SchoolActor, Subscribe, Unsubscribe};

impl SessionActor {
    /// The school granted request `generation` of `name`: hands the grant to the table, which
    /// starts the replay (Requested → Replaying) or, for a request the client cancelled
    /// meanwhile, makes this tell the school to unsubscribe.
    pub(super) fn granted(
        &mut self,
        name: String,
        generation: u64,
        catch: CatchUp,
        school: &Addr<SchoolActor>,
        ctx: &mut Context<Self>,
    ) -> Granted {
        let replay = self.replay_future(name.clone(), generation, catch, school.clone());
        let outcome = self
            .subs
            .granted(&name, generation, catch.head, |_| ctx.spawn(replay));
        if outcome == Granted::Cancelled {
            school.do_send(Unsubscribe {
                session: self.id,
                channel: name.clone(),
            });
            self.outbound.forget(&name);
        }
        outcome
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
        if let Err(e) = self.within_subscription_cap(&name) {
            return self.reply_err(id, e);
        }
        let (generation, old_replay) = self.subs.request(&name, since);
        if let Some(replay) = old_replay {
            ctx.cancel_future(replay);
        }
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
                    // A refresh ended the request meanwhile (`connect.rs`): refuse it.
                    Ok(Ok(catch)) if act.subs.is_revoked(&name, generation) => {
                        act.refuse_revoked(id, &name);
                        act.granted(name, generation, catch, &school, ctx);
                    }
                    Ok(Ok(catch)) => {
                        act.reply_ok(
                            id,
                            OkBody::Subscribed(Subscribed {
                                channel: name.clone(),
                                head: catch.head,
                            }),
                        );
                        act.granted(name, generation, catch, &school, ctx);
                    }
                    Ok(Err(e)) => {
                        act.subs.refused(&name, generation);
                        act.reply_err(id, e)
                    }
                    Err(e) => {
                        act.subs.refused(&name, generation);
                        act.school_gone(id, &e, ctx)
                    }
                }),
        );
    }

    /// Whether subscribing `name` keeps this connection within
    /// [`crate::Limits::max_subscriptions_per_connection`] (a resubscribe always does).
    pub(super) fn within_subscription_cap(&self, name: &str) -> Result<(), ErrorBody> {
        let cap = self.limits().max_subscriptions_per_connection;
        if self.subs.contains(name) || self.subs.len() < cap {
            return Ok(());
        }
        Err(ErrorBody::new(
            ErrorCode::Forbidden,
            format!("subscription limit reached ({cap} per connection); unsubscribe first"),
        ))
    }

    pub(super) fn unsubscribe(
        &mut self,
        id: Option<u32>,
        channel: &ChannelName,
        ctx: &mut Context<Self>,
    ) {
        let name = channel.to_string();
        match self.subs.unsubscribe(&name) {
            // Cancelled: `granted` tells the school once it has answered the subscribe.
            Unsubscribed::NotSubscribed | Unsubscribed::Deferred => {}
            Unsubscribed::Removed { replay } => {
                if let Some(replay) = replay {
                    ctx.cancel_future(replay);
                }
                // Without a joined school there is nobody to tell. (Frames wait while a
                // recovery is in flight, so this is a guard, not a path the client can take.)
                if let Ok(school) = self.school() {
                    school.do_send(Unsubscribe {
                        session: self.id,
                        channel: name.clone(),
                    });
                }
                self.outbound.forget(&name);
            }
        }
        self.reply_ok(id, OkBody::Empty(Empty {}));
    }
}
