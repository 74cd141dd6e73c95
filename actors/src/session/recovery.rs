//! Recovery after the school actor dies: rejoin its replacement and resubscribe every channel.
//!
//! A session learns of the death three ways: the registry's death notice (`watch_school`), a
//! request whose mailbox refused it (`school_gone`, which also answers that request
//! `unavailable`), or the heartbeat finding the address disconnected. Each calls
//! `recover_school`, which runs once at a time (the phase is `Recovering` meanwhile).
//!
//! Each channel is resubscribed with `since` = the newest seq already queued to the client
//! (never below the subscription's `base`), so the client sees neither a gap nor a duplicate. A
//! channel the new actor refuses is dropped and reported as an `error` event. If the replacement
//! cannot be joined at all the session closes with 1001 and the client resumes.

use actix::prelude::*;
use oneclass_protocol::{ChannelName, CloseCode};

use super::actor::{Phase, SessionActor};
use super::sub_table::Resubscribe;
use crate::school::{Join, Leave, Subscribe};
use crate::wire_error;

/// The message of every `unavailable` answer caused by a school actor that is gone or being
/// replaced.
pub(super) const SCHOOL_RESTARTING: &str = "school restarting, retry";

impl SessionActor {
    /// A request to the school failed because the actor is gone: answer `unavailable` and
    /// recover.
    pub(super) fn school_gone(
        &mut self,
        id: Option<u32>,
        e: &MailboxError,
        ctx: &mut Context<Self>,
    ) {
        let body = wire_error::actor_gone("school request", e, SCHOOL_RESTARTING);
        self.reply_err(id, body);
        self.recover_school(ctx);
    }

    /// Joins the school's new actor and resubscribes every channel from the newest seq already
    /// queued to the client.
    pub(super) fn recover_school(&mut self, ctx: &mut Context<Self>) {
        let principal = match &self.phase {
            // A request that failed against an actor this session already replaced (several
            // can be in flight when it dies) must not start a second recovery.
            Phase::Joined { school, .. } if school.connected() => return,
            Phase::Joined { principal, .. } => principal.clone(),
            Phase::Recovering { .. } | Phase::AwaitingConnect => return,
        };
        self.phase = Phase::Recovering {
            principal: principal.clone(),
        };
        let school = self.deps.registry.get(&principal.school);
        let (replays, resubscribe) = self.subs.recover(&self.outbound.delivered());
        for replay in replays {
            ctx.cancel_future(replay);
        }
        let join = Join {
            session: self.id,
            user: principal.user.clone(),
            outbound: self.outbound.clone(),
        };
        let session = self.id;
        let school2 = school.clone();
        let fut = async move {
            school2.send(join).await.map_err(|_| ())?.map_err(|_| ())?;
            let mut results = Vec::new();
            for Resubscribe {
                channel: name,
                generation,
                since,
            } in resubscribe
            {
                let Ok(channel) = ChannelName::parse(&name) else {
                    continue;
                };
                let msg = Subscribe {
                    session,
                    channel,
                    since: Some(since),
                    generation,
                };
                let res = school2.send(msg).await.map_err(|_| ())?;
                results.push((name, generation, res));
            }
            Ok::<_, ()>(results)
        };
        // Frames wait until every channel is resubscribed: a command meanwhile would go to no
        // school, and a subscribe or unsubscribe would race the resubscription of its channel.
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| {
            let Ok(results) = res else {
                // The join may have succeeded before a subscribe failed; a Leave for a session
                // the school does not have is a no-op.
                school.do_send(Leave { session: act.id });
                return act.close(CloseCode::GoingAway, "school unavailable, resume", ctx);
            };
            let principal = act.principal().cloned().unwrap_or(principal);
            act.phase = Phase::Joined {
                principal,
                school: school.clone(),
            };
            act.watch_school(ctx);
            for (name, generation, result) in results {
                match result {
                    Ok(catch) => {
                        // Frames wait during a recovery, so no refresh can have ended this
                        // request; if one did, the client still hears of it.
                        if act.subs.is_revoked(&name, generation) {
                            act.refuse_revoked(None, &name);
                        }
                        act.granted(name, generation, catch, &school, ctx);
                    }
                    Err(e) => {
                        act.subs.refused(&name, generation);
                        act.subscription_ended(&name, e);
                    }
                }
            }
            tracing::info!(session = act.id, "resubscribed after school restart");
        }));
    }

    /// Rejoins as soon as the registry finds the school actor dead (the heartbeat check is the
    /// fallback).
    pub(super) fn watch_school(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.school_watch.take() {
            ctx.cancel_future(h);
        }
        let Some(p) = self.principal() else { return };
        let Some(notice) = self.deps.registry.death_notice(&p.school) else {
            return;
        };
        let died = notice.notified_owned();
        self.school_watch = Some(ctx.spawn(died.into_actor(self).map(|_, act, ctx| {
            act.school_watch = None;
            act.recover_school(ctx);
        })));
    }
}
