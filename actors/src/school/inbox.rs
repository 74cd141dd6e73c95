//! Appending a notification to its recipients' inboxes. The school is the single writer of the
//! `user:{school}:{user}` streams, so this append happens here; everything else about a
//! notification (who the audience is, what its events hold, what their outcome means) is decided
//! in [`crate::notify`], whose `request.rs` describes the two steps driven here.
//!
//! Recipients are resolved against the roster in the same turn as the `notification.created`
//! enqueue, so they and the stored recipient list see one version of the roster. The fan-out
//! then runs from a task outside the actor's turn: each chunk is a [`FanOutChunk`] message, so
//! between chunks the actor serves its sessions, and each chunk is its own journal write. The
//! chunk carries the content its inbox events reference, so their live fan-out shows it without
//! a journal read, and leaves it in the hub's [`crate::notify::NotificationContents`] cache for
//! the replays that follow. The task goes on if the REST caller hangs up; if the actor dies
//! mid-way, the caller gets `unavailable` and its retry completes the fan-out.

use std::sync::Arc;

use actix::prelude::*;
use oneclass_protocol::journal::NotificationPayload;
use oneclass_protocol::reply::ErrorBody;

use super::batch::{restarted, written};
use super::SchoolActor;
use crate::events::Append;
use crate::notify::contents::single;
use crate::notify::request::stored;
use crate::notify::{Notify, NotifyOutcome};

impl Handler<Notify> for SchoolActor {
    type Result = ResponseFuture<Result<NotifyOutcome, ErrorBody>>;

    fn handle(&mut self, msg: Notify, ctx: &mut Context<Self>) -> Self::Result {
        let recipients = match msg.to.resolve(&self.roster) {
            Ok(recipients) => recipients,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let rx = self.enqueue(vec![msg.created(&self.school, recipients)], ctx);
        let addr = ctx.address();
        let school = self.school.clone();
        let chunk = self.limits.notify_chunk.max(1);
        Box::pin(async move {
            // A conflicting key ends here, before any inbox event exists.
            let stored = stored(&written(rx).await?)?;
            let content = Arc::new(stored.content());
            for users in stored.payload.recipients.chunks(chunk) {
                let write = FanOutChunk {
                    appends: stored.posted(&school, users),
                    content: content.clone(),
                };
                addr.send(write).await.map_err(|_| restarted())??;
            }
            Ok(stored.outcome())
        })
    }
}

/// One chunk of a notification's fan-out: inbox events referencing `content`, written as one
/// journal write (with whatever else the school has pending at that moment).
#[derive(Message)]
#[rtype(result = "Result<(), ErrorBody>")]
struct FanOutChunk {
    appends: Vec<Append>,
    content: Arc<NotificationPayload>,
}

impl Handler<FanOutChunk> for SchoolActor {
    type Result = ResponseFuture<Result<(), ErrorBody>>;

    fn handle(&mut self, msg: FanOutChunk, ctx: &mut Context<Self>) -> Self::Result {
        self.notifications.remember(msg.content.clone());
        let rx = self.enqueue_with(msg.appends, single(&msg.content), ctx);
        Box::pin(async move { written(rx).await.map(drop) })
    }
}
