//! The catch-up replay of one subscription: `(from, until]` read from the journal a page at a
//! time, each page only once the outbound queue has room and queued in chunks that keep the queue
//! under its byte bound ([`crate::session::Outbound::push_paced`]), so a gap of days costs pages,
//! not memory, and a page of large messages never counts against the client. Inbox events of a
//! page have their notification contents resolved through the hub's cache
//! ([`crate::notify::NotificationContents`]), so a replayed notification reads exactly as it did
//! live, and every frame is checked against the protocol's limits ([`crate::frame_limits`]).
//! When the range is queued the replay tells the school (`CatchUpDone`); the school
//! either switches the subscriber to live (queuing what it buffered meanwhile and `synced`) or
//! answers with a higher `until` because its live buffer overflowed, and the replay goes on
//! ([`after_done`] reads that answer).
//!
//! Every way the replay ends is a [`ReplayEnd`], logged by [`SessionActor::replay_ended`]:
//! live (the normal end), a stale generation (debug: a newer subscribe replaced this one), the
//! outbound queue closed (debug: the session is closing), a journal read error (warn; the
//! session closes with 1001 so the client resumes), a school error or a dead school actor
//! (warn; recovery resubscribes).

use std::ops::ControlFlow;

use actix::prelude::*;
use bytes::Bytes;
use oneclass_protocol::reply::ErrorBody;
use oneclass_protocol::{CloseCode, ErrorCode};
use oneclass_storage::StorageError;

use super::actor::SessionActor;
use crate::client_view::to_event;
use crate::school::{CatchUp, CatchUpDone, SchoolActor};
use crate::wire_error::ErrorChain;

/// Why a replay future finished.
#[derive(Debug)]
pub(super) enum ReplayEnd {
    /// The school switched the subscriber to live.
    Live,
    /// The outbound queue closed (slow client, shutdown, session end).
    QueueClosed,
    /// A journal read failed; the queue was closed with 1001.
    Journal(StorageError),
    /// The school no longer knows this generation: it was replaced or removed.
    Stale,
    /// The school answered `CatchUpDone` with another error.
    School(ErrorBody),
    /// The school actor is gone.
    SchoolGone(MailboxError),
}

impl SessionActor {
    /// The replay of `catch` for `channel`'s subscription `generation`, to spawn in the
    /// session's context (the handle lets the subscription cancel it). Building it borrows
    /// nothing, so the subscription table can decide whether to spawn it.
    pub(super) fn replay_future(
        &self,
        channel: String,
        generation: u64,
        catch: CatchUp,
        school: Addr<SchoolActor>,
    ) -> impl ActorFuture<Self, Output = ()> + 'static {
        let journal = self.journal();
        let notifications = self.deps.registry.notifications().clone();
        let frame_limits = self.frame_limits();
        let outbound = self.outbound.clone();
        let page = self.limits().replay_page;
        let room = self.limits().outbound_max_bytes / 2;
        let session = self.id;
        let codec = self.codec;
        let messages_out = self.deps.metrics.messages_out.clone();
        let name = channel.clone();
        let replay = async move {
            let (mut from, mut until) = (catch.from, catch.until);
            loop {
                while from < until {
                    if !outbound.wait_below(room).await {
                        return ReplayEnd::QueueClosed;
                    }
                    let want = page.min((until - from) as usize);
                    let read = match journal.read_stream(&name, from + 1, want).await {
                        Ok(events) if events.is_empty() => break,
                        Ok(events) => notifications
                            .for_events(&events)
                            .await
                            .map(|contents| (events, contents)),
                        Err(e) => Err(e),
                    };
                    let (events, contents) = match read {
                        Ok(page) => page,
                        Err(e) => {
                            outbound.close(CloseCode::GoingAway, "journal unavailable, resume");
                            return ReplayEnd::Journal(e);
                        }
                    };
                    // unwrap: events is not empty.
                    from = events.last().unwrap().seq;
                    let frames: Vec<(u64, Bytes)> = events
                        .iter()
                        .filter_map(|e| {
                            let event = to_event(e, &contents)?;
                            Some((e.seq, frame_limits.event(codec, &event)))
                        })
                        .collect();
                    messages_out.inc_by(frames.len() as u64);
                    if !outbound.push_paced(&name, from, &frames).await {
                        return ReplayEnd::QueueClosed;
                    }
                }
                let done = CatchUpDone {
                    session,
                    channel: name.clone(),
                    generation,
                    replayed_to: from,
                };
                match after_done(school.send(done).await) {
                    ControlFlow::Continue(more) => until = more,
                    ControlFlow::Break(end) => return end,
                }
            }
        };
        replay
            .into_actor(self)
            .map(move |end, act, _| act.replay_ended(&channel, generation, end))
    }

    /// Logs how a replay ended and moves its subscription to `Live` or `Interrupted`, if the
    /// subscription is still the generation that replay served.
    fn replay_ended(&mut self, channel: &str, generation: u64, end: ReplayEnd) {
        let session = self.id;
        match &end {
            ReplayEnd::Live => {}
            ReplayEnd::QueueClosed => {
                tracing::debug!(session, channel, generation, "replay stopped: queue closed")
            }
            ReplayEnd::Stale => {
                tracing::debug!(
                    session,
                    channel,
                    generation,
                    "replay of a replaced subscription"
                )
            }
            ReplayEnd::Journal(e) => tracing::warn!(
                session,
                channel,
                error = %ErrorChain(e),
                "replay failed: journal read"
            ),
            ReplayEnd::School(e) => tracing::warn!(
                session,
                channel,
                code = %e.code,
                message = %e.message,
                "replay failed: school refused catch-up end"
            ),
            ReplayEnd::SchoolGone(e) => {
                tracing::warn!(session, channel, error = %e, "replay failed: school actor gone")
            }
        }
        let live = matches!(end, ReplayEnd::Live);
        self.subs.replay_ended(channel, generation, live);
    }
}

/// What the school's answer to `CatchUpDone` means for the replay: continue up to a new `until`
/// (the school's live buffer overflowed meanwhile), or break with how it ended.
pub(super) fn after_done(
    answer: Result<Result<Option<u64>, ErrorBody>, MailboxError>,
) -> ControlFlow<ReplayEnd, u64> {
    match answer {
        Ok(Ok(Some(more))) => ControlFlow::Continue(more),
        Ok(Ok(None)) => ControlFlow::Break(ReplayEnd::Live),
        // The school's answer for a generation it no longer has.
        Ok(Err(e)) if e.code == ErrorCode::NotFound => ControlFlow::Break(ReplayEnd::Stale),
        Ok(Err(e)) => ControlFlow::Break(ReplayEnd::School(e)),
        Err(e) => ControlFlow::Break(ReplayEnd::SchoolGone(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overflow_answer_replays_further_and_every_other_answer_ends_the_replay() {
        use ControlFlow::{Break, Continue};
        assert!(matches!(after_done(Ok(Ok(Some(7)))), Continue(7)));
        assert!(matches!(after_done(Ok(Ok(None))), Break(ReplayEnd::Live)));
        let stale = ErrorBody::new(ErrorCode::NotFound, "subscription replaced or removed");
        assert!(matches!(
            after_done(Ok(Err(stale))),
            Break(ReplayEnd::Stale)
        ));
        let other = ErrorBody::new(ErrorCode::Internal, "no");
        assert!(matches!(
            after_done(Ok(Err(other))),
            Break(ReplayEnd::School(_))
        ));
        assert!(matches!(
            after_done(Err(MailboxError::Closed)),
            Break(ReplayEnd::SchoolGone(_))
        ));
    }
}
