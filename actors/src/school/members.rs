//! Sessions joining and leaving the school, and the per-user connection cap.
//!
//! A session joins once after `connect` and leaves when its socket closes (or is dropped as a slow
//! consumer). Leaving unsubscribes it everywhere, which may end the user's presence on a channel.
//! The cap ([`crate::Limits::max_connections_per_user`]) counts a user's joined sessions in this
//! school; a rejoin of a session already counted is not refused. Each session also counts its
//! subscriptions here, for the per-user subscription cap (`subscribe.rs`).

use actix::prelude::*;
use oneclass_protocol::ErrorCode;
use std::sync::Arc;
use tokio::time::Instant;

use super::actor::SessionEntry;
use super::channel::SessionId;
use super::SchoolActor;
use crate::session::outbound::Outbound;

/// A session joins the school (after `connect`).
#[derive(Message)]
#[rtype(result = "Result<(), ErrorCode>")]
pub struct Join {
    pub session: SessionId,
    pub user: String,
    pub outbound: Arc<Outbound>,
}

impl Handler<Join> for SchoolActor {
    type Result = Result<(), ErrorCode>;

    fn handle(&mut self, msg: Join, _: &mut Context<Self>) -> Self::Result {
        self.last_active = Instant::now();
        let set = self.users.entry(msg.user.clone()).or_default();
        if !set.contains(&msg.session) && set.len() >= self.limits.max_connections_per_user {
            return Err(ErrorCode::RateLimited);
        }
        set.insert(msg.session);
        self.sessions.insert(
            msg.session,
            SessionEntry {
                user: msg.user,
                outbound: msg.outbound,
                subscriptions: 0,
            },
        );
        Ok(())
    }
}

/// A session leaves (socket closed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub session: SessionId,
}

impl Handler<Leave> for SchoolActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, _: &mut Context<Self>) {
        self.last_active = Instant::now();
        self.remove_session(msg.session);
    }
}

impl SchoolActor {
    /// Forgets a session and every subscription it had.
    pub(super) fn remove_session(&mut self, id: SessionId) {
        let Some(entry) = self.sessions.remove(&id) else {
            return;
        };
        if let Some(set) = self.users.get_mut(&entry.user) {
            set.remove(&id);
            if set.is_empty() {
                self.users.remove(&entry.user);
            }
        }
        let names: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, ch)| ch.subscribers.contains_key(&id))
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            self.unsubscribe(id, &name);
        }
    }

    /// Removes one subscription, announcing the user's departure if it was their last there,
    /// and releases the channel's state if nothing else needs it.
    pub(super) fn unsubscribe(&mut self, id: SessionId, channel: &str) {
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let Some(sub) = ch.subscribers.remove(&id) else {
            return;
        };
        if let Some(entry) = self.sessions.get_mut(&id) {
            entry.subscriptions = entry.subscriptions.saturating_sub(1);
        }
        if ch.presence && ch.remove_presence(&sub.user) {
            self.presence_changed(channel, &sub.user);
        }
        self.release_channel(channel);
    }
}
