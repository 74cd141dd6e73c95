//! The group-commit pipeline: every append of the school goes through [`SchoolActor::enqueue`].
//!
//! 1. `enqueue` queues a write (the appends of one request) with a `oneshot` sender for its
//!    outcomes, and the first write of a batch schedules a flush after one yield, so every message
//!    already in the mailbox joins the batch.
//! 2. `flush` loads the heads of channels seen for the first time. It waits in the actor's context
//!    (`ctx.wait`) so batches reach the journal in order.
//! 3. `submit` hands the whole batch to the journal as one atomic append and counts it in flight
//!    on its channels (so the stalled-gap rule does not fire while it is out).
//! 4. `committed` fans out each appended event in seq order ([`super::channel`]), applies roster
//!    events, and only then sends each write its outcomes: a publisher's ack never overtakes the
//!    fan-out of its own message. Then it releases the state of channels that are now idle.
//!
//! Failure modes: a failed head load or append answers every write of the batch `unavailable`
//! (nothing of the batch was stored); a write whose actor died before the commit gets
//! "school restarted, retry" from [`written`], the one place that answer is made.

use std::collections::BTreeMap;
use std::time::Instant;

use actix::prelude::*;
use oneclass_protocol::reply::ErrorBody;
use oneclass_protocol::{ChannelName, ErrorCode, StreamName};
use oneclass_storage::{AppendOutcome, StorageError};
use tokio::sync::oneshot;

use super::channel::ChannelState;
use super::SchoolActor;
use crate::client_view::Contents;
use crate::events::{self, Append};
use crate::wire_error;

/// The answer of a write: one outcome per append, in order, or why none was stored.
pub(super) type Written = Result<Vec<AppendOutcome>, ErrorBody>;

/// The message of a write whose school actor stopped before answering it.
const SCHOOL_RESTARTED: &str = "school restarted, retry";

/// The appends of one request waiting for the next flush, and where their outcomes go.
pub(super) struct PendingWrite {
    appends: Vec<Append>,
    reply: oneshot::Sender<Written>,
    /// The notification content this write's inbox events reference, for their live fan-out.
    contents: Contents,
}

/// What a committed append means to this actor, decided once at submit from the typed stream.
enum Target {
    /// A channel: fan out, and it was counted in flight.
    Channel(String),
    /// This school's roster and settings (calendar): apply to the models.
    Roster,
    /// Nothing to do here (a notification's own stream).
    Other,
}

/// Waits for a write's outcomes; a dropped sender means the actor stopped first.
pub(super) async fn written(rx: oneshot::Receiver<Written>) -> Written {
    rx.await.unwrap_or_else(|_| Err(restarted()))
}

/// The answer to a write whose school actor stopped before answering it.
pub(super) fn restarted() -> ErrorBody {
    ErrorBody::new(ErrorCode::Unavailable, SCHOOL_RESTARTED)
}

impl SchoolActor {
    /// Queues the appends of one request for the next flush; the receiver gets their outcomes.
    pub(super) fn enqueue(
        &mut self,
        appends: Vec<Append>,
        ctx: &mut Context<Self>,
    ) -> oneshot::Receiver<Written> {
        self.enqueue_with(appends, Contents::new(), ctx)
    }

    /// [`SchoolActor::enqueue`] for inbox events that reference the notifications in `contents`.
    pub(super) fn enqueue_with(
        &mut self,
        appends: Vec<Append>,
        contents: Contents,
        ctx: &mut Context<Self>,
    ) -> oneshot::Receiver<Written> {
        let (reply, rx) = oneshot::channel();
        self.last_active = tokio::time::Instant::now();
        self.pending.push(PendingWrite {
            appends,
            reply,
            contents,
        });
        if !self.flush_scheduled {
            self.flush_scheduled = true;
            // Yield once so every message already in the mailbox joins this batch.
            ctx.spawn(
                tokio::task::yield_now()
                    .into_actor(self)
                    .map(|_, act, ctx| {
                        act.flush_scheduled = false;
                        act.flush(ctx);
                    }),
            );
        }
        rx
    }

    /// Sends pending appends to the journal as one batch, after loading the heads of channels
    /// seen for the first time (the mailbox waits for that, so batches stay in order).
    fn flush(&mut self, ctx: &mut Context<Self>) {
        let writes = std::mem::take(&mut self.pending);
        if writes.is_empty() {
            return;
        }
        let missing: BTreeMap<String, ChannelName> = writes
            .iter()
            .flat_map(|w| w.appends.iter())
            .filter(|a| !self.channels.contains_key(a.stream_name()))
            .filter_map(|a| Some((a.stream_name().to_owned(), a.stream().channel()?.clone())))
            .collect();
        if missing.is_empty() {
            self.submit(writes, ctx);
            return;
        }
        let journal = self.journal.clone();
        ctx.wait(
            async move {
                let names: Vec<String> = missing.keys().cloned().collect();
                let heads = journal.heads(&names).await;
                heads.map(|h| missing.into_values().zip(h).collect::<Vec<_>>())
            }
            .into_actor(self)
            .map(move |heads, act, ctx| match heads {
                Ok(heads) => {
                    for (channel, head) in heads {
                        act.channels
                            .entry(channel.to_string())
                            .or_insert_with(|| ChannelState::new(&channel, head, &act.metrics));
                    }
                    act.submit(writes, ctx);
                }
                Err(e) => {
                    let error = wire_error::unavailable("channel heads", &e);
                    for w in writes {
                        let _ = w.reply.send(Err(error.clone()));
                    }
                }
            }),
        );
    }

    fn submit(&mut self, writes: Vec<PendingWrite>, ctx: &mut Context<Self>) {
        let mut batch = Vec::new();
        let mut targets = Vec::new();
        let mut replies = Vec::with_capacity(writes.len());
        for w in writes {
            replies.push((w.appends.len(), w.reply, w.contents));
            for a in w.appends {
                let target = match a.stream() {
                    StreamName::Channel(_) => Target::Channel(a.stream_name().to_owned()),
                    StreamName::Roster { school } if *school == self.school => Target::Roster,
                    _ => Target::Other,
                };
                if let Some(ch) = self.channels.get_mut(a.stream_name()) {
                    ch.inflight += 1;
                }
                targets.push(target);
                batch.push(a);
            }
        }
        self.metrics.journal_batch_size.observe(batch.len() as f64);
        let started = Instant::now();
        let journal = self.journal.clone();
        ctx.spawn(
            async move { events::write(journal.as_ref(), batch).await }
                .into_actor(self)
                .map(move |result, act, ctx| {
                    act.metrics
                        .journal_commit_seconds
                        .observe(started.elapsed().as_secs_f64());
                    act.committed(replies, targets, result, ctx);
                }),
        );
    }

    fn committed(
        &mut self,
        replies: Vec<(usize, oneshot::Sender<Written>, Contents)>,
        targets: Vec<Target>,
        result: Result<Vec<AppendOutcome>, StorageError>,
        ctx: &mut Context<Self>,
    ) {
        let mut written_to = Vec::new();
        for t in &targets {
            if let Target::Channel(name) = t {
                if let Some(ch) = self.channels.get_mut(name) {
                    ch.inflight = ch.inflight.saturating_sub(1);
                }
                written_to.push(name.clone());
            }
        }
        match result {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                let mut targets = targets.into_iter();
                let mut touched = Vec::new();
                for (n, reply, contents) in replies {
                    let mine: Vec<AppendOutcome> = outcomes.by_ref().take(n).collect();
                    let my_targets: Vec<Target> = targets.by_ref().take(n).collect();
                    for (o, t) in mine.iter().zip(my_targets) {
                        let AppendOutcome::Appended(e) = o else {
                            continue;
                        };
                        match t {
                            Target::Channel(name) => {
                                self.apply_channel_commit(e, &contents);
                                touched.push(name);
                            }
                            Target::Roster => self.apply_settings(e),
                            Target::Other => {}
                        }
                    }
                    let _ = reply.send(Ok(mine));
                }
                touched.sort();
                touched.dedup();
                self.fill_stalled_gaps(&touched, ctx);
            }
            Err(e) => {
                let error = wire_error::unavailable("journal append", &e);
                for (_, reply, _) in replies {
                    let _ = reply.send(Err(error.clone()));
                }
                let all: Vec<String> = self.channels.keys().cloned().collect();
                self.fill_stalled_gaps(&all, ctx);
            }
        }
        // A channel written to by someone not subscribed (a DM to a user who is offline) needs
        // no state once its append is answered.
        written_to.sort();
        written_to.dedup();
        for name in written_to {
            self.release_channel(&name);
        }
    }
}
