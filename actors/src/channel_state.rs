//! The state a school actor keeps per channel: the delivered head, a reorder buffer for commits
//! that complete out of order, the subscribers with their catch-up state, presence and typing.
//!
//! Fan-out encodes each event at most once per codec ([`Encoded`]) and hands the same bytes to
//! every subscriber; a run of consecutive commits reaches each subscriber as one queue push.

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use oneclass_protocol::{Codec, Event};

use crate::outbound::Outbound;

/// A session's id, unique in the process.
pub type SessionId = u64;

/// An event with its encodings, made on first use and shared by every subscriber.
#[derive(Debug)]
pub struct Encoded {
    pub seq: u64,
    pub event: Event,
    bytes: [OnceCell<Bytes>; 2],
}

impl Encoded {
    pub fn new(seq: u64, event: Event) -> Rc<Self> {
        Rc::new(Self {
            seq,
            event,
            bytes: [OnceCell::new(), OnceCell::new()],
        })
    }

    /// The event's bytes in `codec`, encoded on first use.
    pub fn bytes(&self, codec: Codec) -> Bytes {
        self.bytes[codec.index()]
            .get_or_init(|| codec.encode(&self.event))
            .clone()
    }
}

/// Where a subscriber is in its subscription.
#[derive(Debug)]
pub enum SubState {
    /// Receiving live events.
    Live,
    /// The session replays the journal up to `until`; live events above it wait in `buffer`.
    CatchingUp {
        until: u64,
        buffer: Vec<Rc<Encoded>>,
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
    /// Highest seq delivered to subscribers; every seq up to it is committed.
    pub head: u64,
    /// Commits above `head + 1` waiting for the ones before them.
    pub reorder: BTreeMap<u64, Rc<Encoded>>,
    /// Appends to this channel not yet answered by the journal.
    pub inflight: usize,
    pub subscribers: HashMap<SessionId, Subscriber>,
    /// Users with at least one subscription, and how many.
    pub present: HashMap<String, usize>,
    /// When each user last sent a typing event (throttle).
    pub typing: HashMap<String, Instant>,
}

impl ChannelState {
    pub fn new(name: String, head: u64) -> Self {
        Self {
            name,
            head,
            reorder: BTreeMap::new(),
            inflight: 0,
            subscribers: HashMap::new(),
            present: HashMap::new(),
            typing: HashMap::new(),
        }
    }

    /// Takes a committed event; delivers it and any that were waiting for it, in seq order.
    pub fn committed(&mut self, encoded: Rc<Encoded>, buffer_cap: usize) -> Dead {
        if encoded.seq <= self.head {
            return Vec::new();
        }
        self.reorder.insert(encoded.seq, encoded);
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
                    crate::metrics::metrics()
                        .messages_out
                        .fetch_add(frames.len() as u64, std::sync::atomic::Ordering::Relaxed);
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
        let encoded = Encoded::new(0, event.clone());
        for sub in self.subscribers.values() {
            if except_user.is_some_and(|u| u == sub.user) {
                continue;
            }
            sub.outbound.push(crate::outbound::OutFrame::Data(
                encoded.bytes(sub.outbound.codec()),
            ));
        }
    }
}
