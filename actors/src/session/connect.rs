//! `connect`, the subscriptions a connect makes on its own, `refresh`, and the token's expiry.
//!
//! A connect verifies the token, joins the school actor (which enforces the per-user connection
//! cap), subscribes the user's inbox and every channel in `resume`, and only then queues the
//! `connect` reply, so the reply precedes every replayed message and the client's next commands
//! find a joined session.
//!
//! Failure modes, all closing the socket: a bad token 4001, a revoked one 4003, a platform
//! token (school `*`) 4001, too many connections 4009, a school actor that cannot be reached
//! 1001. A channel in `resume` that cannot be subscribed is reported in `refused`, not fatal;
//! so are the channels past the subscription caps (`forbidden`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use oneclass_protocol::reply::{Connected, ErrorBody, OkBody, Refreshed};
use oneclass_protocol::{ChannelName, CloseCode, ErrorCode};

use super::actor::{Phase, SessionActor};
use super::admission::RateKeys;
use crate::permissions::can_read;
use crate::principal::{AuthError, Principal};
use crate::school::{Join, Subscribe};

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
        if principal.school == "*" {
            let reason = "platform tokens act across schools on the REST API only";
            return self.close(CloseCode::InvalidConnect, reason, ctx);
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
        match self.deps.auth.verify(token) {
            Ok(p) if p.user == current.user && p.school == current.school => {
                let exp = p.exp;
                self.schedule_expiry(exp, ctx);
                self.deps.sessions.set_jti(self.id, p.jti.clone());
                match &mut self.phase {
                    Phase::Joined { principal, .. } | Phase::Recovering { principal } => {
                        *principal = p
                    }
                    Phase::AwaitingConnect => {}
                }
                self.reply_ok(id, OkBody::Refreshed(Refreshed { exp }));
            }
            Ok(_) => self.reply_err(
                id,
                ErrorBody::new(ErrorCode::Unauthorized, "refresh token is for another user"),
            ),
            Err(AuthError::Revoked) => self.close(CloseCode::Forbidden, "token revoked", ctx),
            Err(e) => self.reply_err(id, ErrorBody::new(ErrorCode::Unauthorized, e.to_string())),
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
