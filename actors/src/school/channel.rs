//! One channel of a school, and the ordered fan-out of its commits.
//!
//! [`ChannelState`] keeps the delivered head, a reorder buffer for commits that complete out of
//! order, the subscribers with their catch-up state, presence and typing. It is pure (no actor,
//! no I/O): the actor methods below feed it commits and act on what it returns.
//!
//! Invariants: every seq up to `head` is committed and was delivered to every live subscriber in
//! order; a commit at or below `head` is ignored (a duplicate from gap filling); a commit above
//! `head + 1` waits in `reorder`. Fan-out encodes each event at most once per codec
//! ([`Encoded`]) and hands the same bytes to every subscriber; a run of consecutive commits
//! reaches each subscriber as one queue push.
//!
//! Lifetime: a channel's state exists while it is in use, and only then. It is made when a
//! subscribe or a write first needs it (its head read from the journal, which always holds the
//! truth) and released ([`SchoolActor::release_channel`]) as soon as it is idle: no subscriber,
//! no append in flight and no head load in flight. Everything else it holds is recoverable or
//! moot without subscribers: the reorder buffer and gaps are in the journal, presence and typing
//! have nobody to go to. Without this a user could leave one state behind per channel name ever
//! subscribed (DMs to users who do not exist) until the actor stopped. `oneclass_channel_states`
//! counts the states alive in the hub (each state counts itself in and out).
//!
//! Failure modes: a subscriber whose queue refuses a push (closed, or over its byte bound) is
//! reported back as dead and dropped by the actor (a slow consumer). A gap that nothing in flight
//! will fill (an append of a previous incarnation of the actor committed after this one read the
//! head) is filled by reading the missing seqs from the journal; if that read fails it is logged
//! and retried after the channel's next commit.

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use bytes::Bytes;
use oneclass_protocol::journal::EventEnvelope;
use oneclass_protocol::{ChannelName, Codec, Event};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use super::presence::PresenceAnnouncer;
use super::SchoolActor;
use crate::client_view::{referenced_notification, to_event, Contents};
use crate::frame_limits::FrameLimits;
use crate::metrics::Metrics;
use crate::permissions::has_presence;
use crate::session::outbound::{OutFrame, Outbound};
use crate::wire_error::ErrorChain;

pub use crate::session::SessionId;

/// An event with its encodings, made on first use and shared by every receiver.
#[derive(Debug)]
pub struct Encoded {
    event: Event,
    bytes: [OnceCell<Bytes>; 2],
    /// Checked against the protocol's limits when encoded (journaled events; see
    /// `frame_limits.rs`); `None` for the small non-journaled events.
    limits: Option<FrameLimits>,
}

impl Encoded {
    pub fn new(event: Event) -> Self {
        Self {
            event,
            bytes: [OnceCell::new(), OnceCell::new()],
            limits: None,
        }
    }

    /// An event whose encodings are checked against `limits` (replaced by an `error` event if
    /// they break them).
    pub fn checked(event: Event, limits: &FrameLimits) -> Self {
        Self {
            limits: Some(limits.clone()),
            ..Self::new(event)
        }
    }

    /// The event's bytes in `codec`, encoded on first use.
    pub fn bytes(&self, codec: Codec) -> Bytes {
        self.bytes[codec.index()]
            .get_or_init(|| match &self.limits {
                Some(limits) => limits.event(codec, &self.event),
                None => codec.encode(&self.event),
            })
            .clone()
    }
}

/// A committed (journaled) event of a channel: its seq and its shared encodings. Events that are
/// not journaled (presence, typing, read) are sent as a bare [`Encoded`] and have no seq.
#[derive(Debug)]
pub struct Committed {
    pub seq: u64,
    pub encoded: Encoded,
}

impl Committed {
    #[cfg(test)]
    pub fn new(seq: u64, event: Event) -> Rc<Self> {
        Rc::new(Self {
            seq,
            encoded: Encoded::new(event),
        })
    }

    /// A committed event whose frames are checked against `limits`.
    pub fn checked(seq: u64, event: Event, limits: &FrameLimits) -> Rc<Self> {
        Rc::new(Self {
            seq,
            encoded: Encoded::checked(event, limits),
        })
    }

    pub fn bytes(&self, codec: Codec) -> Bytes {
        self.encoded.bytes(codec)
    }
}

/// Where a subscriber is in its subscription (see the state table in `subscribe.rs`).
#[derive(Debug)]
pub enum SubState {
    /// Receiving live events.
    Live,
    /// The session replays the journal up to `until`; live events above it wait in `buffer`.
    CatchingUp {
        until: u64,
        buffer: Vec<Rc<Committed>>,
    },
}

/// One session subscribed to a channel.
#[derive(Debug)]
pub struct Subscriber {
    pub user: String,
    pub outbound: Arc<Outbound>,
    /// The session's counter for this subscription; stale catch-up calls carry an older one.
    pub generation: u64,
    pub state: SubState,
}

/// What a fan-out found: sessions whose queue closed (to be dropped by the caller).
pub type Dead = Vec<SessionId>;

/// One channel of a school.
#[derive(Debug)]
pub struct ChannelState {
    pub name: String,
    /// Whether presence and typing are offered here, decided once from the typed name.
    pub presence: bool,
    /// Highest seq delivered to subscribers; every seq up to it is committed.
    pub head: u64,
    /// Commits above `head + 1` waiting for the ones before them.
    pub reorder: BTreeMap<u64, Rc<Committed>>,
    /// Appends to this channel not yet answered by the journal.
    pub inflight: usize,
    pub subscribers: HashMap<SessionId, Subscriber>,
    /// Users with at least one subscription, and how many.
    pub present: HashMap<String, usize>,
    /// When each user last sent a typing event (throttle).
    pub typing: HashMap<String, Instant>,
    /// What presence was announced here, and the changes held back (`presence.rs`).
    pub announcer: PresenceAnnouncer,
    /// The hub's `oneclass_messages_out`, counting the frames fan-out queues.
    messages_out: Counter,
    /// The hub's `oneclass_channel_states`: this state added one, its drop takes it back.
    states: Gauge,
}

impl Drop for ChannelState {
    fn drop(&mut self) {
        self.states.dec();
    }
}

impl ChannelState {
    pub fn new(channel: &ChannelName, head: u64, metrics: &Metrics) -> Self {
        metrics.channel_states.inc();
        Self {
            name: channel.to_string(),
            presence: has_presence(channel),
            head,
            reorder: BTreeMap::new(),
            inflight: 0,
            subscribers: HashMap::new(),
            present: HashMap::new(),
            typing: HashMap::new(),
            announcer: PresenceAnnouncer::default(),
            messages_out: metrics.messages_out.clone(),
            states: metrics.channel_states.clone(),
        }
    }

    /// Whether nothing needs this state any more: no subscriber and no append in flight (the
    /// actor also checks for head loads in flight, which it counts itself).
    pub fn is_idle(&self) -> bool {
        self.subscribers.is_empty() && self.inflight == 0
    }

    /// Takes a committed event; delivers it and any that were waiting for it, in seq order.
    pub fn committed(&mut self, event: Rc<Committed>, buffer_cap: usize) -> Dead {
        if event.seq <= self.head {
            return Vec::new();
        }
        self.reorder.insert(event.seq, event);
        self.deliver_ready(buffer_cap)
    }

    /// Whether a gap blocks delivery with nothing in flight that could fill it (an append of a
    /// previous incarnation of the school actor committed after this one read the head).
    pub fn has_stalled_gap(&self) -> bool {
        self.inflight == 0
            && self
                .reorder
                .keys()
                .next()
                .is_some_and(|&first| first > self.head + 1)
    }

    fn deliver_ready(&mut self, buffer_cap: usize) -> Dead {
        let mut ready = Vec::new();
        while let Some(entry) = self.reorder.first_entry() {
            if *entry.key() != self.head + 1 {
                break;
            }
            ready.push(entry.remove());
            self.head += 1;
        }
        if ready.is_empty() {
            return Vec::new();
        }
        let mut dead = Vec::new();
        let head = self.head;
        for (id, sub) in self.subscribers.iter_mut() {
            match &mut sub.state {
                SubState::Live => {
                    let codec = sub.outbound.codec();
                    let frames: Vec<Bytes> = ready.iter().map(|e| e.bytes(codec)).collect();
                    self.messages_out.inc_by(frames.len() as u64);
                    if !sub.outbound.push_events(&self.name, head, &frames) {
                        dead.push(*id);
                    }
                }
                SubState::CatchingUp { until, buffer } => {
                    buffer.extend(ready.iter().filter(|e| e.seq > *until).cloned());
                    if buffer.len() > buffer_cap {
                        // The replay reads these from the journal instead of holding them here.
                        buffer.clear();
                        *until = head;
                    }
                }
            }
        }
        dead
    }

    /// Adds a user's subscription to presence; true if the user just became present.
    pub fn add_presence(&mut self, user: &str) -> bool {
        let n = self.present.entry(user.to_owned()).or_insert(0);
        *n += 1;
        *n == 1
    }

    /// Removes a user's subscription from presence; true if the user just left.
    pub fn remove_presence(&mut self, user: &str) -> bool {
        match self.present.get_mut(user) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                self.present.remove(user);
                true
            }
            None => false,
        }
    }

    /// Sends a non-journaled event (presence, typing, read) to every subscriber but `except`.
    pub fn broadcast(&self, event: &Event, except_user: Option<&str>) {
        let encoded = Encoded::new(event.clone());
        for sub in self.subscribers.values() {
            if except_user.is_some_and(|u| u == sub.user) {
                continue;
            }
            sub.outbound
                .push(OutFrame::Data(encoded.bytes(sub.outbound.codec())));
        }
    }
}

impl SchoolActor {
    /// Fans out a committed event of a channel (kinds clients do not see are skipped);
    /// `contents` holds the notification an inbox event references.
    pub(super) fn apply_channel_commit(&mut self, e: &EventEnvelope, contents: &Contents) {
        let event = to_event(e, contents);
        if event.is_none() && referenced_notification(e).is_some() {
            tracing::warn!(
                school = %self.school,
                channel = %e.stream,
                seq = e.seq,
                "an inbox event's notification content is unknown; not shown live"
            );
        }
        let Some(event) = event else { return };
        let cap = self.limits.catch_up_buffer;
        let dead = match self.channels.get_mut(&e.stream) {
            Some(ch) => ch.committed(Committed::checked(e.seq, event, &self.frames), cap),
            None => Vec::new(),
        };
        self.drop_sessions(dead);
    }

    /// Drops the state of `name` if it is idle and no head load for it is in flight: a load
    /// that began before a commit could otherwise rebuild the state with a head below it.
    pub(super) fn release_channel(&mut self, name: &str) {
        let idle = self.channels.get(name).is_some_and(ChannelState::is_idle)
            && !self.loading.contains_key(name);
        if idle {
            self.channels.remove(name);
        }
    }

    /// Reads from the journal the seqs a stalled reorder buffer waits for.
    pub(super) fn fill_stalled_gaps(&mut self, streams: &[String], ctx: &mut Context<Self>) {
        for name in streams {
            let Some(ch) = self.channels.get(name) else {
                continue;
            };
            if !ch.has_stalled_gap() {
                continue;
            }
            let (from, until) = (ch.head + 1, *ch.reorder.keys().next().unwrap_or(&ch.head));
            let journal = self.journal.clone();
            let notifications = self.notifications.clone();
            let stream = name.clone();
            ctx.spawn(
                async move {
                    let read = match journal
                        .read_stream(&stream, from, (until - from) as usize)
                        .await
                    {
                        Ok(events) => notifications
                            .for_events(&events)
                            .await
                            .map(|contents| (events, contents)),
                        Err(e) => Err(e),
                    };
                    (stream, read)
                }
                .into_actor(self)
                .map(|(stream, read), act, _| match read {
                    Ok((events, contents)) => {
                        for e in events {
                            act.apply_channel_commit(&e, &contents);
                        }
                    }
                    Err(e) => tracing::warn!(
                        school = %act.school,
                        channel = %stream,
                        error = %ErrorChain(&e),
                        "could not read the seqs a stalled channel waits for; \
                         retried after its next commit"
                    ),
                }),
            );
        }
    }

    /// Drops sessions a fan-out found dead (slow consumers).
    pub(super) fn drop_sessions(&mut self, dead: Dead) {
        for id in dead {
            self.metrics.slow_consumers.inc();
            self.remove_session(id);
        }
    }

    /// Sends a non-journaled event to every session of `user` except `except`.
    pub(super) fn send_to_user(&self, user: &str, event: &Event, except: Option<SessionId>) {
        let Some(ids) = self.users.get(user) else {
            return;
        };
        let encoded = Encoded::new(event.clone());
        for id in ids {
            if Some(*id) == except {
                continue;
            }
            if let Some(s) = self.sessions.get(id) {
                s.outbound
                    .push(OutFrame::Data(encoded.bytes(s.outbound.codec())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn channel() -> ChannelState {
        ChannelState::new(
            &ChannelName::parse("class:s1:c1").unwrap(),
            0,
            &Metrics::new(),
        )
    }

    fn commit(seq: u64) -> Rc<Committed> {
        Committed::new(
            seq,
            Event::Typing {
                channel: "class:s1:c1".into(),
                user: format!("u{seq}"),
            },
        )
    }

    fn subscribe(ch: &mut ChannelState, id: SessionId, state: SubState) -> Arc<Outbound> {
        let outbound = Arc::new(Outbound::new(Codec::Json, 1 << 20, Duration::from_secs(10)));
        ch.subscribers.insert(
            id,
            Subscriber {
                user: format!("user{id}"),
                outbound: outbound.clone(),
                generation: 1,
                state,
            },
        );
        outbound
    }

    #[test]
    fn commits_that_complete_out_of_order_are_delivered_in_seq_order() {
        let mut ch = channel();
        let live = subscribe(&mut ch, 1, SubState::Live);
        assert!(ch.committed(commit(2), 10).is_empty());
        assert_eq!(ch.head, 0);
        assert_eq!(live.delivered().get("class:s1:c1"), None);
        ch.committed(commit(1), 10);
        assert_eq!(ch.head, 2);
        assert!(ch.reorder.is_empty());
        assert_eq!(live.delivered().get("class:s1:c1"), Some(&2));
    }

    #[test]
    fn a_commit_at_or_below_the_head_is_ignored() {
        let mut ch = channel();
        ch.committed(commit(1), 10);
        ch.committed(commit(1), 10);
        assert_eq!(ch.head, 1);
        assert!(ch.reorder.is_empty());
    }

    #[test]
    fn a_gap_is_stalled_only_when_nothing_in_flight_could_fill_it() {
        let mut ch = channel();
        ch.committed(commit(3), 10);
        ch.inflight = 1;
        assert!(!ch.has_stalled_gap());
        ch.inflight = 0;
        assert!(ch.has_stalled_gap());
        ch.committed(commit(1), 10);
        ch.committed(commit(2), 10);
        assert!(!ch.has_stalled_gap());
        assert_eq!(ch.head, 3);
    }

    #[test]
    fn a_catching_up_subscriber_buffers_above_until_and_an_overflow_moves_until_to_the_head() {
        let mut ch = channel();
        let q = subscribe(
            &mut ch,
            1,
            SubState::CatchingUp {
                until: 1,
                buffer: Vec::new(),
            },
        );
        ch.committed(commit(1), 2);
        ch.committed(commit(2), 2);
        ch.committed(commit(3), 2);
        match &ch.subscribers[&1].state {
            SubState::CatchingUp { until, buffer } => {
                assert_eq!(*until, 1);
                assert_eq!(buffer.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
            }
            SubState::Live => panic!("still catching up"),
        }
        ch.committed(commit(4), 2);
        match &ch.subscribers[&1].state {
            SubState::CatchingUp { until, buffer } => {
                assert_eq!(*until, 4);
                assert!(buffer.is_empty());
            }
            SubState::Live => panic!("still catching up"),
        }
        assert_eq!(
            q.delivered().get("class:s1:c1"),
            None,
            "nothing is pushed live"
        );
    }

    #[test]
    fn presence_counts_subscriptions_and_reports_only_the_first_and_the_last() {
        let mut ch = channel();
        assert!(ch.presence);
        assert!(ch.add_presence("u1"));
        assert!(!ch.add_presence("u1"));
        assert!(!ch.remove_presence("u1"));
        assert!(ch.remove_presence("u1"));
        assert!(!ch.remove_presence("u1"));
        let inbox = ChannelState::new(&ChannelName::inbox("s1", "u1"), 0, &Metrics::new());
        assert!(!inbox.presence);
    }
}
