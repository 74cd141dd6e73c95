//! Chat publishes: one `chat.message.posted` on the channel, acknowledged once it is durable and
//! fanned out.
//!
//! Permissions and size limits were checked by the session against the token; the school only
//! journals. A `client_msg_id` makes the publish idempotent ([`crate::events::keys::chat`]): a
//! retry answers with the first message's seq, and the same id with another body is a conflict.

use actix::prelude::*;
use oneclass_protocol::command::Body;
use oneclass_protocol::journal::{kinds, ChatMessagePosted};
use oneclass_protocol::reply::{ErrorBody, Published};
use oneclass_protocol::timestamp::format_ms;
use oneclass_protocol::{ChannelName, ErrorCode};
use oneclass_storage::AppendOutcome;

use super::batch::written;
use super::SchoolActor;
use crate::events::{keys, Append};

/// Publish a chat message (permissions were checked by the session against the token).
#[derive(Message)]
#[rtype(result = "Result<Published, ErrorBody>")]
pub struct Publish {
    pub user: String,
    pub channel: ChannelName,
    pub body: Body,
    pub client_msg_id: Option<String>,
}

impl Publish {
    /// The append of this message in `school`.
    pub fn append(self, school: &str) -> Append {
        let key = self
            .client_msg_id
            .as_deref()
            .map(|id| keys::chat(school, &self.channel, &self.user, id, &self.body));
        let payload = ChatMessagePosted {
            body: self.body,
            client_msg_id: self.client_msg_id,
        };
        Append::new(
            school,
            self.channel.into(),
            kinds::CHAT_MESSAGE_POSTED,
            self.user,
            &payload,
        )
        .idempotent(key)
    }
}

impl Handler<Publish> for SchoolActor {
    type Result = ResponseFuture<Result<Published, ErrorBody>>;

    fn handle(&mut self, msg: Publish, ctx: &mut Context<Self>) -> Self::Result {
        let rx = self.enqueue(vec![msg.append(&self.school)], ctx);
        Box::pin(async move {
            match written(rx).await?.into_iter().next() {
                Some(AppendOutcome::Appended(e)) | Some(AppendOutcome::Duplicate(e)) => {
                    Ok(Published {
                        channel: e.stream,
                        seq: e.seq,
                        event_id: e.event_id.to_string(),
                        ts: format_ms(e.occurred_at),
                    })
                }
                Some(AppendOutcome::Conflict) => Err(ErrorBody::new(
                    ErrorCode::Conflict,
                    "client_msg_id already used for another message",
                )),
                None => Err(ErrorBody::new(ErrorCode::Internal, "no outcome")),
            }
        })
    }
}
