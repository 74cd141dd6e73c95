//! Appending a notification to its recipients' inboxes. The school is the single writer of the
//! `user:{school}:{user}` streams, so this append happens here; everything else about a
//! notification (who the audience is, what the batch holds, what its outcome means) is decided in
//! [`crate::notify`]. Recipients are resolved against the roster in the same turn as the enqueue,
//! so they and the append see one version of the roster.

use actix::prelude::*;
use oneclass_protocol::reply::ErrorBody;

use super::batch::written;
use super::SchoolActor;
use crate::notify::request::outcome;
use crate::notify::{Notify, NotifyOutcome};

impl Handler<Notify> for SchoolActor {
    type Result = ResponseFuture<Result<NotifyOutcome, ErrorBody>>;

    fn handle(&mut self, msg: Notify, ctx: &mut Context<Self>) -> Self::Result {
        let recipients = match msg.to.resolve(&self.roster) {
            Ok(recipients) => recipients,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let rx = self.enqueue(msg.appends(&self.school, recipients), ctx);
        Box::pin(async move { outcome(&written(rx).await?) })
    }
}
