//! `connect`, the subscriptions a connect makes on its own, `refresh`, and the token's expiry.
//!
//! A connect verifies the token, joins the school actor (which enforces the per-user connection
//! cap), subscribes the user's inbox and every channel in `resume`, and only then queues the
//! `connect` reply, so the reply precedes every replayed message and the client's next commands
//! find a joined session.
//!
//! Failure modes, all closing the socket: a bad token 4001 (a bad signature, issuer or lifetime,
//! or an id that fails the channel-name rule or claims a name the hub writes as, which the
//! hub's verifier checks), a revoked one 4003, a token [`can_connect`] refuses (a platform
//! token 4001, an analyst's 4003), too many connections 4009, a school actor that cannot be
//! reached 1001. A channel in `resume` that cannot be subscribed is reported in `refused`, not
//! fatal; so are the channels past the subscription caps (`forbidden`).
//!
//! A `refresh` keeps the session's user and school (another user's or school's token is refused
//! and the old one stays in force) but may change the role and classes, so it re-checks every
//! subscription against the new principal. Each one [`can_read`] now refuses is ended: its
//! replay cancelled, the school told, and only once the school has acknowledged (so nothing of
//! the channel can follow) an `error` event (`forbidden`, with `channel`) is queued; then the
//! `refresh` reply. A subscribe still in flight is ended when the school answers it, and that
//! answer is `forbidden` instead of `{channel, head}` ([`super::sub_table`], state Revoked):
//! only then has the school replaced any earlier subscriber of the channel, so only then can
//! nothing of it follow. A refresh token that may not connect at all (an analyst's) is refused
//! with that code and changes nothing.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use oneclass_protocol::reply::{Connected, ErrorBody, OkBody, Refreshed};
use oneclass_protocol::{ChannelName, CloseCode, ErrorCode};

use super::actor::{Phase, SessionActor};
use super::admission::RateKeys;
use super::sub_table::{Revoked, Unsubscribed};
use crate::permissions::{can_connect, can_read};
use crate::principal::{AuthError, Principal};
use crate::school::{Join, Subscribe, Unsubscribe};

/// The close code for a token [`can_connect`] refuses.
fn refusal_close(code: ErrorCode) -> CloseCode {
    match code {
        ErrorCode::Forbidden => CloseCode::Forbidden,
        _ => CloseCode::InvalidConnect,
    }
}

/// Why [`can_connect`] refused, for the close reason or the refresh's error.
fn refusal_reason(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Forbidden => {
            "analyst tokens are for the REST journal API; the WebSocket carries message bodies"
        }
        _ => "platform tokens act across schools on the REST API only",
    }
}

/// The error of a subscription a refresh ended.
pub(super) fn ended_by_refresh(channel: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Forbidden,
        format!("subscription ended: the refreshed token does not allow {channel}"),
    )
}

impl SessionActor {
    pub(super) fn connect(
        &mut self,
        id: Option<u32>,
        token: &str,
        resume: BTreeMap<String, u64>,
        ctx: &mut Context<Self>,
    ) {
        let principal = match self.deps.auth.verify(token) {
            Ok(p) => p,
            Err(AuthError::Revoked) => {
                return self.close(CloseCode::Forbidden, "token revoked", ctx);
            }
            Err(e) => return self.close(CloseCode::InvalidConnect, &e.to_string(), ctx),
        };
        if let Err(code) = can_connect(&principal) {
            return self.close(refusal_close(code), refusal_reason(code), ctx);
        }
        self.schedule_expiry(principal.exp, ctx);
        self.deps.sessions.set_jti(self.id, principal.jti.clone());
        self.rate_keys = Some(RateKeys::new(&principal.school, &principal.user));
        let school = self.deps.registry.get(&principal.school);
        let join = Join {
            session: self.id,
            user: principal.user.clone(),
            outbound: self.outbound.clone(),
        };
        // Block other frames until the connect reply is queued, so the client's next commands
        // see a joined session.
        ctx.wait(
            school
                .send(join)
                .into_actor(self)
                .map(move |res, act, ctx| match res {
                    Ok(Ok(())) => {
                        act.phase = Phase::Joined {
                            principal: principal.clone(),
                            school: school.clone(),
                        };
                        act.watch_school(ctx);
                        act.subscribe_initial(id, principal, school, resume, ctx);
                    }
                    Ok(Err(_)) => act.close(
                        CloseCode::TooManyConnections,
                        "too many connections for this user",
                        ctx,
                    ),
                    Err(_) => act.close(CloseCode::GoingAway, "school unavailable, reconnect", ctx),
                }),
        );
    }

    /// Subscribes the inbox and every resumed channel, then queues the connect reply, then
    /// starts the replays (so the reply precedes every replayed message).
    fn subscribe_initial(
        &mut self,
        id: Option<u32>,
        principal: Principal,
        school: Addr<crate::school::SchoolActor>,
        resume: BTreeMap<String, u64>,
        ctx: &mut Context<Self>,
    ) {
        let inbox = ChannelName::inbox(&principal.school, &principal.user);
        let inbox_name = inbox.to_string();
        let mut refused = BTreeMap::new();
        let mut wanted = vec![(inbox, resume.get(&inbox_name).copied())];
        for (name, since) in &resume {
            if *name == inbox_name {
                continue;
            }
            match ChannelName::parse(name) {
                Err(_) => {
                    refused.insert(name.clone(), ErrorCode::BadRequest);
                }
                Ok(ch) => match can_read(&principal, &ch) {
                    Ok(()) => wanted.push((ch, Some(*since))),
                    Err(code) => {
                        refused.insert(name.clone(), code);
                    }
                },
            }
        }
        let mut requests = Vec::new();
        for (channel, since) in wanted {
            let name = channel.to_string();
            if let Err(e) = self.within_subscription_cap(&name) {
                refused.insert(name, e.code);
                continue;
            }
            let (generation, _) = self.subs.request(&name, since);
            requests.push((
                name,
                generation,
                school.send(Subscribe {
                    session: self.id,
                    channel,
                    since,
                    generation,
                }),
            ));
        }
        let fut = async move {
            let mut results = Vec::new();
            for (name, generation, req) in requests {
                results.push((name, generation, req.await));
            }
            results
        };
        // Still part of the connect: frames keep waiting until the reply is queued and the
        // subscriptions exist, so a command right after `connect` (an unsubscribe of a resumed
        // channel, say) finds them.
        ctx.wait(fut.into_actor(self).map(move |results, act, ctx| {
            let mut resumed = BTreeMap::new();
            let mut catch_ups = Vec::new();
            for (name, generation, result) in results {
                match result {
                    Ok(Ok(catch)) => {
                        if resume.contains_key(&name) {
                            resumed.insert(name.clone(), catch.head);
                        }
                        catch_ups.push((name, generation, catch));
                    }
                    Ok(Err(e)) => {
                        act.subs.refused(&name, generation);
                        refused.insert(name, e.code);
                    }
                    Err(_) => {
                        return act.close(
                            CloseCode::GoingAway,
                            "school unavailable, reconnect",
                            ctx,
                        );
                    }
                }
            }
            act.reply_ok(
                id,
                OkBody::Connected(Connected {
                    user: principal.user.clone(),
                    school: principal.school.clone(),
                    role: principal.role.to_string(),
                    session: format!("{:x}", act.id),
                    heartbeat_s: act.limits().heartbeat.as_secs().max(1),
                    inbox: inbox_name.clone(),
                    resumed,
                    refused,
                }),
            );
            for (name, generation, catch) in catch_ups {
                act.granted(name, generation, catch, &school, ctx);
            }
        }));
    }

    pub(super) fn refresh(
        &mut self,
        id: Option<u32>,
        current: &Principal,
        token: &str,
        ctx: &mut Context<Self>,
    ) {
        let p = match self.deps.auth.verify(token) {
            Ok(p) => p,
            Err(AuthError::Revoked) => {
                return self.close(CloseCode::Forbidden, "token revoked", ctx)
            }
            Err(e) => {
                let e = ErrorBody::new(ErrorCode::Unauthorized, e.to_string());
                return self.reply_err(id, e);
            }
        };
        if p.user != current.user || p.school != current.school {
            let e = ErrorBody::new(ErrorCode::Unauthorized, "refresh token is for another user");
            return self.reply_err(id, e);
        }
        if let Err(code) = can_connect(&p) {
            return self.reply_err(id, ErrorBody::new(code, refusal_reason(code)));
        }
        let exp = p.exp;
        self.schedule_expiry(exp, ctx);
        self.deps.sessions.set_jti(self.id, p.jti.clone());
        let ended = self.end_refused_subscriptions(&p, ctx);
        match &mut self.phase {
            Phase::Joined { principal, .. } | Phase::Recovering { principal } => *principal = p,
            Phase::AwaitingConnect => {}
        }
        // Frames wait until the school has let go of every ended channel, so the error events
        // and the reply follow the channel's last event, and the next command sees the new
        // principal's subscriptions.
        ctx.wait(ended.map(move |channels, act, _| {
            for channel in channels {
                act.subscription_ended(&channel, ended_by_refresh(&channel));
            }
            act.reply_ok(id, OkBody::Refreshed(Refreshed { exp }));
        }));
    }

    /// Ends every subscription `p` may no longer read: cancels its replay and tells the school
    /// (a request in flight is told, and answered `forbidden`, when the school answers it).
    /// Resolves, once the school has acknowledged every `Unsubscribe`, to the answered
    /// subscriptions ended, sorted: those get the `error` event.
    fn end_refused_subscriptions(
        &mut self,
        p: &Principal,
        ctx: &mut Context<Self>,
    ) -> impl ActorFuture<Self, Output = Vec<String>> + 'static {
        let revoked = self.subs.revoke(|name| {
            ChannelName::parse(name).is_ok_and(|channel| can_read(p, &channel).is_ok())
        });
        // Without a joined school there is nobody to tell (frames wait while a recovery runs,
        // and a recovery resubscribes only what the table still holds).
        let school = self.school().ok();
        let mut acks = Vec::new();
        let mut channels = Vec::with_capacity(revoked.len());
        for Revoked { channel, outcome } in revoked {
            // A request in flight (Deferred) is ended by the subscribe's own answer.
            let Unsubscribed::Removed { replay } = outcome else {
                continue;
            };
            if let Some(replay) = replay {
                ctx.cancel_future(replay);
            }
            if let Some(school) = &school {
                acks.push(school.send(Unsubscribe {
                    session: self.id,
                    channel: channel.clone(),
                }));
            }
            self.outbound.forget(&channel);
            channels.push(channel);
        }
        let session = self.id;
        async move {
            for ack in acks {
                // A school actor that died meanwhile holds no subscription any more.
                if let Err(e) = ack.await {
                    tracing::debug!(session, error = %e, "unsubscribe after refresh: school gone");
                }
            }
            channels
        }
        .into_actor(self)
    }

    /// Answers a subscribe that a refresh ended while it was in flight: `forbidden`, as a reply,
    /// or as an `error` event naming the channel when the subscribe had no `id`.
    pub(super) fn refuse_revoked(&self, id: Option<u32>, channel: &str) {
        match id {
            Some(_) => self.reply_err(id, ended_by_refresh(channel)),
            None => self.subscription_ended(channel, ended_by_refresh(channel)),
        }
    }

    /// Arms (or re-arms) the timer that closes the socket with 4002 when the token expires.
    fn schedule_expiry(&mut self, exp: u64, ctx: &mut Context<Self>) {
        if let Some(h) = self.expiry.take() {
            ctx.cancel_future(h);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let left = Duration::from_secs(exp).saturating_sub(now);
        self.expiry = Some(ctx.run_later(left, |act, ctx| {
            act.close(CloseCode::TokenExpired, "token expired", ctx)
        }));
    }
}
