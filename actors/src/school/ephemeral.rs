//! Events that are not journaled: typing (throttled per user and channel), presence queries, and
//! read receipts (the read cursor itself is stored by the journal, the `read` event is not). A
//! cursor is stored only for a seq from 1 to the channel's head: 0 is where every cursor starts
//! (nothing stored, no event), past the head is `bad_request`.
//!
//! These go out with no seq, straight into the receivers' queues; a restart loses the typing
//! throttles and presence (sessions re-announce presence as they resubscribe).

use std::time::{Duration, Instant};

use actix::prelude::*;
use oneclass_protocol::reply::ErrorBody;
use oneclass_protocol::{ChannelName, ErrorCode, Event};
use oneclass_storage::StorageError;

use super::channel::SessionId;
use super::SchoolActor;
use crate::wire_error;

/// Typing events per user and channel are sent at most this often.
const TYPING_THROTTLE: Duration = Duration::from_secs(3);

/// A user is typing on a channel (throttled; not journaled).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Typing {
    pub user: String,
    pub channel: String,
}

impl Handler<Typing> for SchoolActor {
    type Result = ();

    fn handle(&mut self, msg: Typing, _: &mut Context<Self>) {
        let Some(ch) = self.channels.get_mut(&msg.channel) else {
            return;
        };
        let now = Instant::now();
        if ch
            .typing
            .get(&msg.user)
            .is_some_and(|t| now.duration_since(*t) < TYPING_THROTTLE)
        {
            return;
        }
        ch.typing.insert(msg.user.clone(), now);
        let event = Event::Typing {
            channel: msg.channel.clone(),
            user: msg.user.clone(),
        };
        ch.broadcast(&event, Some(&msg.user));
    }
}

/// Who is present on a channel (users, not sockets).
#[derive(Message)]
#[rtype(result = "Vec<String>")]
pub struct PresenceOf {
    pub channel: String,
}

impl Handler<PresenceOf> for SchoolActor {
    type Result = Vec<String>;

    fn handle(&mut self, msg: PresenceOf, _: &mut Context<Self>) -> Vec<String> {
        let mut users: Vec<String> = self
            .channels
            .get(&msg.channel)
            .map(|c| c.present.keys().cloned().collect())
            .unwrap_or_default();
        users.sort();
        users
    }
}

/// Move a user's read cursor and tell their other sessions (and, in a DM, the other party).
#[derive(Message)]
#[rtype(result = "Result<u64, ErrorBody>")]
pub struct MarkRead {
    pub session: SessionId,
    pub user: String,
    pub channel: ChannelName,
    pub seq: u64,
}

impl Handler<MarkRead> for SchoolActor {
    type Result = ResponseActFuture<Self, Result<u64, ErrorBody>>;

    fn handle(&mut self, msg: MarkRead, _: &mut Context<Self>) -> Self::Result {
        // Every cursor starts at 0 and never goes back, so a read of 0 changes nothing: storing
        // it would only add a row per channel name asked about (any DM name parses).
        if msg.seq == 0 {
            return Box::pin(fut::ready(Ok(0)));
        }
        let journal = self.journal.clone();
        let school = self.school.clone();
        let name = msg.channel.to_string();
        Box::pin(
            async move {
                let head = journal.head(&name).await?;
                if msg.seq > head {
                    return Ok((msg, name, None));
                }
                let stored = journal
                    .set_read_cursor(&school, &msg.user, &name, msg.seq)
                    .await?;
                Ok((msg, name, Some(stored)))
            }
            .into_actor(self)
            .map(|result: Result<_, StorageError>, act, _| {
                let (msg, name, stored) =
                    result.map_err(|e| wire_error::unavailable("read cursor", &e))?;
                let stored = stored.ok_or_else(|| {
                    ErrorBody::new(ErrorCode::BadRequest, "seq is beyond the channel's head")
                })?;
                let event = Event::Read {
                    channel: name,
                    user: msg.user.clone(),
                    seq: stored,
                };
                act.send_to_user(&msg.user, &event, Some(msg.session));
                if let ChannelName::Dm { a, b, .. } = &msg.channel {
                    let other = if *a == msg.user { b } else { a };
                    act.send_to_user(other, &event, None);
                }
                Ok(stored)
            }),
        )
    }
}
