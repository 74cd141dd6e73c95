//! The subscription handshake: catch-up from the journal, then live fan-out.
//!
//! Every subscription starts in catch-up. [`Subscribe`] registers the subscriber as
//! `CatchingUp { until: head }` and answers the range `(from, until]` the session must replay
//! from the journal; live commits above `until` wait in the subscriber's buffer meanwhile. When
//! the session has replayed up to `until` it sends [`CatchUpDone`]: the school queues the
//! buffered events and `synced`, and the subscriber is live. If the buffer outgrew
//! [`crate::Limits::catch_up_buffer`] meanwhile, it was dropped and `until` moved up to the head
//! of that moment: `CatchUpDone` then answers the new `until` and the session replays further.
//! Likewise when the buffered events do not fit in the session's queue under its byte bound
//! (`outbound_max_bytes`) at `CatchUpDone`: they are dropped, `until := head`, and the session
//! reads them from the journal, paced by the queue's room. The school cannot wait for a writer,
//! so it never pushes a flush that could count against a healthy client.
//!
//! The life cycle of one (session, channel) subscription, the school's half (the session keeps
//! its own half: the generation it expects and the replay it runs):
//!
//! | state | event | next state | what the school does |
//! |---|---|---|---|
//! | Absent | `Subscribe(gen)`, the user at its subscription cap | Absent | answers `forbidden` (no state is made) |
//! | Absent | `Subscribe(gen)` | Requested(gen) → Replaying(gen) | loads the head if the channel is new; inserts `CatchingUp { until: head }`; announces presence if the user just arrived (coalesced, `presence.rs`); answers `CatchUp { from, until }` |
//! | Replaying(gen) | a commit above `until` | Replaying(gen) | buffers it |
//! | Replaying(gen) | the buffer overflows | Replaying(gen) | drops the buffer, `until := head` (overflow pushes `until` up) |
//! | Replaying(gen) | `CatchUpDone(gen, replayed_to < until)` | Replaying(gen) | answers `Some(until)`: replay more |
//! | Replaying(gen) | `CatchUpDone(gen, replayed_to ≥ until)`, the buffered events above `replayed_to` do not fit under the queue's byte bound | Replaying(gen) | drops the buffer, `until := head`; answers `Some(until)` |
//! | Replaying(gen) | `CatchUpDone(gen, replayed_to ≥ until)`, otherwise | Live | queues buffered events above `replayed_to`, then `synced`; answers `None` |
//! | Live | a commit | Live | pushes it to the session's queue |
//! | any | `Subscribe(new gen)` (resubscribe, or recovery after a school restart) | Requested(new gen) | replaces the subscriber (no second presence announcement) |
//! | any | `CatchUpDone(old gen)` | unchanged | answers `not_found` ("subscription replaced or removed") |
//! | any | `Unsubscribe`, `Leave`, or the queue refuses a push | Absent | removes it; presence `left` if it was the user's last subscription there; releases the channel's state if it is now idle |
//!
//! `Requested` lasts only while the channel's head is loaded; the school answers `Subscribe` in
//! the same turn it inserts the subscriber, so from the school's view it is at once Replaying.
//! `CatchUp.head` always equals `CatchUp.until` when answered; both are kept because the session
//! reads `head` for its `subscribed` reply and `until` for its replay.

use actix::prelude::*;
use oneclass_protocol::reply::ErrorBody;
use oneclass_protocol::{ChannelName, ErrorCode, Event};

use super::channel::{ChannelState, SessionId, SubState, Subscriber};
use super::SchoolActor;
use crate::session::outbound::weight_of;
use crate::wire_error;

/// Subscribe a joined session to a channel. Every subscription starts in catch-up: the session
/// replays `(from, until]` from the journal, then sends [`CatchUpDone`].
#[derive(Message)]
#[rtype(result = "Result<CatchUp, ErrorBody>")]
pub struct Subscribe {
    pub session: SessionId,
    pub channel: ChannelName,
    pub since: Option<u64>,
    pub generation: u64,
}

/// The range a new subscriber must replay, and the channel's head (equal to `until`).
#[derive(Debug, Clone, Copy)]
pub struct CatchUp {
    pub head: u64,
    pub from: u64,
    pub until: u64,
}

impl Handler<Subscribe> for SchoolActor {
    type Result = ResponseActFuture<Self, Result<CatchUp, ErrorBody>>;

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) -> Self::Result {
        let name = msg.channel.to_string();
        // Refused before the head is loaded, so a refused subscribe makes no state at all.
        if let Err(e) = self.subscription_allowed(msg.session, &name) {
            return Box::pin(fut::ready(Err(e)));
        }
        let channel = msg.channel.clone();
        self.with_channel(channel, move |act, _| {
            let granted = act.add_subscriber(&msg, &name);
            if granted.is_err() {
                act.release_channel(&name);
            }
            granted
        })
    }
}

impl SchoolActor {
    /// Whether `session` may subscribe to `name`: it is joined, and a new subscription stays
    /// within its user's cap ([`crate::Limits::max_subscriptions_per_user`]).
    fn subscription_allowed(&self, session: SessionId, name: &str) -> Result<(), ErrorBody> {
        let entry = self.sessions.get(&session).ok_or_else(|| {
            ErrorBody::new(ErrorCode::Unavailable, "session not joined, reconnect")
        })?;
        let resubscribe = self
            .channels
            .get(name)
            .is_some_and(|ch| ch.subscribers.contains_key(&session));
        let cap = self.limits.max_subscriptions_per_user;
        if !resubscribe && self.subscriptions_of(&entry.user) >= cap {
            return Err(ErrorBody::new(
                ErrorCode::Forbidden,
                format!("subscription limit reached ({cap} per user); unsubscribe first"),
            ));
        }
        Ok(())
    }

    /// Subscriptions `user` holds over all their sessions here.
    fn subscriptions_of(&self, user: &str) -> usize {
        self.users.get(user).map_or(0, |ids| {
            ids.iter()
                .filter_map(|id| self.sessions.get(id))
                .map(|s| s.subscriptions)
                .sum()
        })
    }

    /// Inserts the subscriber (in catch-up) once the channel's state exists; the answer of
    /// [`Subscribe`].
    fn add_subscriber(&mut self, msg: &Subscribe, name: &str) -> Result<CatchUp, ErrorBody> {
        // Checked again: the session may have left, or the user reached the cap, while the
        // head was loading.
        self.subscription_allowed(msg.session, name)?;
        // unwrap: subscription_allowed found the session.
        let entry = self.sessions.get_mut(&msg.session).unwrap();
        let (user, outbound) = (entry.user.clone(), entry.outbound.clone());
        // unwrap: with_channel inserted the channel.
        let ch = self.channels.get_mut(name).unwrap();
        let head = ch.head;
        let from = msg.since.unwrap_or(head).min(head);
        let previous = ch.subscribers.insert(
            msg.session,
            Subscriber {
                user: user.clone(),
                outbound,
                generation: msg.generation,
                state: SubState::CatchingUp {
                    until: head,
                    buffer: Vec::new(),
                },
            },
        );
        let arrived = previous.is_none() && ch.presence && ch.add_presence(&user);
        if previous.is_none() {
            entry.subscriptions += 1;
        }
        if arrived {
            self.presence_changed(name, &user);
        }
        Ok(CatchUp {
            head,
            from,
            until: head,
        })
    }
}

/// The session replayed its catch-up up to `replayed_to`. The answer is `None` when the
/// subscriber is now live (buffered events and `synced` were queued), or `Some(until)` when more
/// must be replayed first (the live buffer overflowed meanwhile).
#[derive(Message)]
#[rtype(result = "Result<Option<u64>, ErrorBody>")]
pub struct CatchUpDone {
    pub session: SessionId,
    pub channel: String,
    pub generation: u64,
    pub replayed_to: u64,
}

impl Handler<CatchUpDone> for SchoolActor {
    type Result = Result<Option<u64>, ErrorBody>;

    fn handle(&mut self, msg: CatchUpDone, _: &mut Context<Self>) -> Self::Result {
        let gone = || ErrorBody::new(ErrorCode::NotFound, "subscription replaced or removed");
        let ch = self.channels.get_mut(&msg.channel).ok_or_else(gone)?;
        let head = ch.head;
        let sub = ch.subscribers.get_mut(&msg.session).ok_or_else(gone)?;
        if sub.generation != msg.generation {
            return Err(gone());
        }
        match sub.finish_catch_up(&msg.channel, head, msg.replayed_to) {
            CatchUpStep::Replay(until) => return Ok(Some(until)),
            CatchUpStep::Live => {}
            CatchUpStep::Refused => self.drop_sessions(vec![msg.session]),
        }
        Ok(None)
    }
}

/// Stop sending a channel to a session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    pub session: SessionId,
    pub channel: String,
}

impl Handler<Unsubscribe> for SchoolActor {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) {
        self.unsubscribe(msg.session, &msg.channel);
    }
}

/// What [`Subscriber::finish_catch_up`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUpStep {
    /// Replay up to this seq, then report again.
    Replay(u64),
    /// The subscriber is live: buffered events and `synced` are queued (or it already was).
    Live,
    /// The subscriber is live but its queue refused the flush (closed, or the client is slow):
    /// the caller drops the session.
    Refused,
}

impl Subscriber {
    /// The school's half of `CatchUpDone` (see the table above): the session replayed up to
    /// `replayed_to` while the channel's head is `head`.
    pub fn finish_catch_up(&mut self, channel: &str, head: u64, replayed_to: u64) -> CatchUpStep {
        let SubState::CatchingUp { until, buffer } = &mut self.state else {
            return CatchUpStep::Live;
        };
        if replayed_to < *until {
            return CatchUpStep::Replay(*until);
        }
        let codec = self.outbound.codec();
        let mut frames: Vec<_> = buffer
            .iter()
            .filter(|e| e.seq > replayed_to)
            .map(|e| e.bytes(codec))
            .collect();
        let flush: usize = frames.iter().map(weight_of).sum();
        if flush > 0 && self.outbound.queued_bytes() + flush > self.outbound.max_bytes() {
            // Too much to queue at once: the replay reads these from the journal, paced.
            buffer.clear();
            *until = head;
            return CatchUpStep::Replay(head);
        }
        frames.push(codec.encode(&Event::Synced {
            channel: channel.to_owned(),
            head,
        }));
        self.state = SubState::Live;
        if self.outbound.push_events(channel, head, &frames) {
            CatchUpStep::Live
        } else {
            CatchUpStep::Refused
        }
    }
}

impl SchoolActor {
    /// Loads a channel's head from the journal if this actor has not seen the channel yet, then
    /// runs `then` in the actor's context.
    fn with_channel<R: 'static>(
        &mut self,
        channel: ChannelName,
        then: impl FnOnce(&mut Self, &mut Context<Self>) -> Result<R, ErrorBody> + 'static,
    ) -> ResponseActFuture<Self, Result<R, ErrorBody>> {
        let name = channel.to_string();
        if self.channels.contains_key(&name) {
            return Box::pin(fut::ready(()).map(move |_, act, ctx| then(act, ctx)));
        }
        // Counted until the state exists, so a release meanwhile cannot let this load rebuild
        // the state with a head older than a commit it missed.
        *self.loading.entry(name.clone()).or_insert(0) += 1;
        let journal = self.journal.clone();
        Box::pin(
            async move {
                let head = journal.head(&name).await;
                (name, head)
            }
            .into_actor(self)
            .map(move |(name, head), act, ctx| {
                if let Some(n) = act.loading.get_mut(&name) {
                    *n -= 1;
                    if *n == 0 {
                        act.loading.remove(&name);
                    }
                }
                let head = head.map_err(|e| wire_error::unavailable("channel head", &e))?;
                act.channels
                    .entry(name)
                    .or_insert_with(|| ChannelState::new(&channel, head, &act.metrics));
                then(act, ctx)
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;
    use oneclass_protocol::Codec;

    use super::*;
    use crate::school::channel::Committed;
    use crate::session::outbound::{Drained, OutFrame, Outbound};

    const CHANNEL: &str = "class:s1:c1";

    /// A committed event whose JSON frame is a little over `size` bytes.
    fn commit(seq: u64, size: usize) -> Rc<Committed> {
        Committed::new(
            seq,
            Event::Typing {
                channel: CHANNEL.into(),
                user: "u".repeat(size),
            },
        )
    }

    /// A subscriber with a 1000-byte queue, catching up to `until` with `buffer` waiting.
    fn catching_up(until: u64, buffer: Vec<Rc<Committed>>) -> Subscriber {
        Subscriber {
            user: "u1".into(),
            outbound: Arc::new(Outbound::new(Codec::Json, 1000, Duration::from_secs(10))),
            generation: 1,
            state: SubState::CatchingUp { until, buffer },
        }
    }

    /// The frames the writer would take now (empty if nothing is queued).
    fn taken(sub: &Subscriber) -> Vec<OutFrame> {
        let next = sub.outbound.next_batch();
        poll_once(next).map_or_else(Vec::new, |d| match d {
            Drained::Frames(f) => f,
            Drained::Close(code, _) => panic!("closed with {code:?}"),
        })
    }

    /// Polls a future once (everything here is ready or pending, never woken later).
    fn poll_once<F: std::future::Future>(f: F) -> Option<F::Output> {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        }
    }

    fn text(frame: &OutFrame) -> String {
        match frame {
            OutFrame::Data(b) => String::from_utf8(b.to_vec()).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_buffer_that_fits_under_the_queue_bound_is_queued_with_synced_and_the_subscriber_is_live() {
        let mut sub = catching_up(2, vec![commit(3, 100), commit(4, 100)]);
        assert_eq!(sub.finish_catch_up(CHANNEL, 4, 2), CatchUpStep::Live);
        assert!(matches!(sub.state, SubState::Live));
        let frames = taken(&sub);
        assert_eq!(frames.len(), 3);
        assert!(text(&frames[2]).contains("synced"), "{}", text(&frames[2]));
        assert_eq!(sub.outbound.delivered().get(CHANNEL), Some(&4));
    }

    #[test]
    fn a_buffer_past_the_queue_bound_is_not_queued_but_replayed_from_the_journal() {
        // Four events of ~300 bytes: ~1300 bytes for a 1000-byte queue.
        let buffer = (3..=6).map(|seq| commit(seq, 300)).collect();
        let mut sub = catching_up(2, buffer);
        assert_eq!(sub.finish_catch_up(CHANNEL, 6, 2), CatchUpStep::Replay(6));
        match &sub.state {
            SubState::CatchingUp { until, buffer } => {
                assert_eq!(*until, 6);
                assert!(buffer.is_empty(), "the journal holds them");
            }
            SubState::Live => panic!("still catching up"),
        }
        assert!(taken(&sub).is_empty(), "nothing was queued");
        assert!(!sub.outbound.is_closed());
        // The session replays 3..=6 itself, then reports again: now only `synced` is left.
        assert_eq!(sub.finish_catch_up(CHANNEL, 6, 6), CatchUpStep::Live);
        let frames = taken(&sub);
        assert_eq!(frames.len(), 1);
        assert!(text(&frames[0]).contains("synced"));
    }

    #[test]
    fn a_buffer_that_fits_alone_but_not_on_top_of_the_queue_is_replayed_too() {
        let mut sub = catching_up(2, vec![commit(3, 300)]);
        assert!(sub
            .outbound
            .push(OutFrame::Data(Bytes::from(vec![b'x'; 700]))));
        assert_eq!(sub.finish_catch_up(CHANNEL, 3, 2), CatchUpStep::Replay(3));
        assert_eq!(taken(&sub).len(), 1, "only what was already queued");
    }

    #[test]
    fn a_replay_short_of_until_is_told_to_go_on_and_keeps_the_buffer() {
        let mut sub = catching_up(5, vec![commit(6, 10)]);
        assert_eq!(sub.finish_catch_up(CHANNEL, 6, 4), CatchUpStep::Replay(5));
        match &sub.state {
            SubState::CatchingUp { until, buffer } => {
                assert_eq!(*until, 5);
                assert_eq!(buffer.len(), 1);
            }
            SubState::Live => panic!("still catching up"),
        }
    }
}
