//! Commands the school actor answers: `publish`, `read`, `presence` and `typing`.
//!
//! The session checks what it can against the token (permissions, `client_msg_id`, body size
//! and depth),
//! then forwards the command to its school actor and relays the answer. Each answer is a reply
//! to the command's `id`; a school actor that is gone is answered `unavailable` ("school
//! restarting, retry") and starts recovery, and so is a command that arrives while the session
//! has no school to ask. `typing` never replies (PROTOCOL.md); only its refusals do.

use actix::prelude::*;
use oneclass_protocol::codec::{object_depth, MAX_BODY_DEPTH};
use oneclass_protocol::command::Body;
use oneclass_protocol::reply::{Empty, ErrorBody, OkBody, Presence};
use oneclass_protocol::{ChannelName, ErrorCode};

use super::actor::SessionActor;
use super::queries::forbidden;
use crate::permissions::{can_publish, can_read, has_presence};
use crate::principal::Principal;
use crate::rate_limit::Op;
use crate::school::{MarkRead, PresenceOf, Publish, Typing};

/// Longest accepted `client_msg_id`.
const MAX_CLIENT_MSG_ID: usize = 128;

/// Whether presence and typing may be asked for on `channel`.
fn presence_allowed(p: &Principal, channel: &ChannelName) -> Result<(), ErrorBody> {
    can_read(p, channel).map_err(|code| forbidden(code, channel))?;
    if has_presence(channel) {
        Ok(())
    } else {
        Err(ErrorBody::new(
            ErrorCode::BadRequest,
            "presence and typing are for class and dm channels",
        ))
    }
}

impl SessionActor {
    pub(super) fn publish(
        &mut self,
        id: Option<u32>,
        principal: &Principal,
        channel: ChannelName,
        body: Body,
        client_msg_id: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        if let Err(code) = can_publish(principal, &channel) {
            return self.reply_err(id, forbidden(code, &channel));
        }
        if client_msg_id
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > MAX_CLIENT_MSG_ID)
        {
            let e = ErrorBody::new(
                ErrorCode::BadRequest,
                "client_msg_id must be 1-128 characters",
            );
            return self.reply_err(id, e);
        }
        let size = serde_json::to_vec(&body)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > self.limits().max_body_bytes {
            let message = format!(
                "body is {size} bytes, over the {} limit",
                self.limits().max_body_bytes
            );
            return self.reply_err(id, ErrorBody::new(ErrorCode::TooLarge, message));
        }
        // The frame limit allows a body nested 63 levels, but `history` and `channels` carry a
        // body deeper than the publish did: bounded here, every frame that carries it fits.
        let depth = object_depth(&body);
        if depth > MAX_BODY_DEPTH {
            let message =
                format!("body nests {depth} levels deep, over the limit of {MAX_BODY_DEPTH}");
            return self.reply_err(id, ErrorBody::new(ErrorCode::BadRequest, message));
        }
        let school = match self.school() {
            Ok(school) => school,
            Err(e) => return self.reply_err(id, e),
        };
        // Last: only a write that would be journaled takes from the school's quota.
        if !self.admit_write(id, Op::Publish, ctx) {
            return;
        }
        let msg = Publish {
            user: principal.user.clone(),
            channel,
            body,
            client_msg_id,
        };
        ctx.spawn(
            school
                .send(msg)
                .into_actor(self)
                .map(move |res, act, ctx| match res {
                    Ok(Ok(published)) => act.reply_ok(id, OkBody::Published(published)),
                    Ok(Err(e)) => act.reply_err(id, e),
                    Err(e) => act.school_gone(id, &e, ctx),
                }),
        );
    }

    pub(super) fn mark_read(
        &mut self,
        id: Option<u32>,
        principal: &Principal,
        channel: ChannelName,
        seq: u64,
        ctx: &mut Context<Self>,
    ) {
        if let Err(code) = can_read(principal, &channel) {
            return self.reply_err(id, forbidden(code, &channel));
        }
        let school = match self.school() {
            Ok(school) => school,
            Err(e) => return self.reply_err(id, e),
        };
        let msg = MarkRead {
            session: self.id,
            user: principal.user.clone(),
            channel,
            seq,
        };
        ctx.spawn(
            school
                .send(msg)
                .into_actor(self)
                .map(move |res, act, ctx| match res {
                    Ok(Ok(_)) => act.reply_ok(id, OkBody::Empty(Empty {})),
                    Ok(Err(e)) => act.reply_err(id, e),
                    Err(e) => act.school_gone(id, &e, ctx),
                }),
        );
    }

    pub(super) fn presence(
        &mut self,
        id: Option<u32>,
        principal: &Principal,
        channel: ChannelName,
        ctx: &mut Context<Self>,
    ) {
        if let Err(e) = presence_allowed(principal, &channel) {
            return self.reply_err(id, e);
        }
        let school = match self.school() {
            Ok(school) => school,
            Err(e) => return self.reply_err(id, e),
        };
        let name = channel.to_string();
        let msg = PresenceOf {
            channel: name.clone(),
        };
        ctx.spawn(
            school
                .send(msg)
                .into_actor(self)
                .map(move |res, act, ctx| match res {
                    Ok(users) => act.reply_ok(
                        id,
                        OkBody::Presence(Presence {
                            channel: name,
                            users,
                        }),
                    ),
                    Err(e) => act.school_gone(id, &e, ctx),
                }),
        );
    }

    /// Forwards a typing notice; never replies, and is dropped while there is no school.
    pub(super) fn typing(&mut self, id: Option<u32>, principal: &Principal, channel: &ChannelName) {
        if let Err(e) = presence_allowed(principal, channel) {
            return self.reply_err(id, e);
        }
        if let Ok(school) = self.school() {
            school.do_send(Typing {
                user: principal.user.clone(),
                channel: channel.to_string(),
            });
        }
    }
}
