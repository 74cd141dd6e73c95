//! The [`SchoolActor`]'s state, its start (roster rebuild, idle check) and its test-only crash.
//!
//! The state is only touched from the actor's own context; the other files of this folder add
//! handlers and methods to it. A failed roster rebuild stops the actor before it handles any
//! message (the registry starts a new one on the next lookup), so no request ever sees a
//! half-loaded roster.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use oneclass_storage::Storage;
use tokio::time::Instant;

use super::batch::PendingWrite;
use super::channel::{ChannelState, SessionId};
use crate::frame_limits::FrameLimits;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::notify::calendar::SchoolCalendar;
use crate::notify::NotificationContents;
use crate::roster::Roster;
use crate::session::outbound::Outbound;

/// How often the actor checks whether it has been idle long enough to stop.
const IDLE_CHECK: Duration = Duration::from_secs(30);
/// The presence tick never runs more often than this, whatever the configured interval.
const PRESENCE_TICK_MIN: Duration = Duration::from_millis(10);
/// Messages the mailbox holds before senders wait: room for a burst of publishes from every
/// session of a busy school to join one group commit. Not a slow-consumer signal (that is the
/// sessions' outbound queues).
const MAILBOX_CAPACITY: usize = 1024;

/// A session known to the school.
#[derive(Debug)]
pub(super) struct SessionEntry {
    pub(super) user: String,
    pub(super) outbound: Arc<Outbound>,
    /// Channels this session is subscribed to here (for the per-user subscription cap).
    pub(super) subscriptions: usize,
}

/// The actor of one school.
pub struct SchoolActor {
    pub(super) school: String,
    pub(super) journal: Arc<dyn Storage>,
    pub(super) limits: Limits,
    /// The hub's metrics (journal batches and commits, fan-out, slow consumers).
    pub(super) metrics: Arc<Metrics>,
    /// The hub's cache of notification contents: filled by this school's fan-outs, read to
    /// resolve inbox events found in the journal (gap filling).
    pub(super) notifications: Arc<NotificationContents>,
    /// What every journaled event's frames are checked against before fan-out.
    pub(super) frames: FrameLimits,
    pub(super) roster: Roster,
    /// The school's calendar, rebuilt with the roster from `roster:{school}` (`calendar.rs`).
    pub(super) calendar: SchoolCalendar,
    /// Channels in use, by name (see the lifetime rule in `channel.rs`).
    pub(super) channels: HashMap<String, ChannelState>,
    /// Head loads in flight for channels without state, by name: a channel is not released
    /// while one runs.
    pub(super) loading: HashMap<String, usize>,
    pub(super) sessions: HashMap<SessionId, SessionEntry>,
    /// Each user's joined sessions (for the per-user cap and `send_to_user`).
    pub(super) users: HashMap<String, HashSet<SessionId>>,
    /// Channels with presence changes held back for the presence tick (`presence.rs`).
    pub(super) presence_held: HashSet<String>,
    /// Appends waiting for the next flush.
    pub(super) pending: Vec<PendingWrite>,
    pub(super) flush_scheduled: bool,
    /// Last join, leave or write; the idle check stops the actor some time after it. On tokio's
    /// clock, so tests under `tokio::time::pause()` reach the idle stop without waiting.
    pub(super) last_active: Instant,
}

impl SchoolActor {
    pub fn new(
        school: String,
        journal: Arc<dyn Storage>,
        limits: Limits,
        metrics: Arc<Metrics>,
        notifications: Arc<NotificationContents>,
    ) -> Self {
        Self {
            frames: FrameLimits::new(limits.max_message_bytes, &metrics),
            school,
            journal,
            limits,
            metrics,
            notifications,
            roster: Roster::default(),
            calendar: SchoolCalendar::default(),
            channels: HashMap::new(),
            loading: HashMap::new(),
            sessions: HashMap::new(),
            users: HashMap::new(),
            presence_held: HashSet::new(),
            pending: Vec::new(),
            flush_scheduled: false,
            last_active: Instant::now(),
        }
    }
}

impl Actor for SchoolActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        self.rebuild_roster(ctx);
        // Half the interval, so a held presence change goes out at most 1.5 intervals late.
        let presence_tick = (self.limits.presence_interval / 2).max(PRESENCE_TICK_MIN);
        ctx.run_interval(presence_tick, |act, _| act.flush_presence());
        ctx.run_interval(IDLE_CHECK, |act, ctx| {
            let idle = act.sessions.is_empty()
                && act.pending.is_empty()
                && act.channels.values().all(|c| c.inflight == 0)
                && act.last_active.elapsed() >= act.limits.school_idle;
            if idle {
                tracing::debug!(school = %act.school, "school actor idle, stopping");
                ctx.stop();
            }
        });
        tracing::debug!(school = %self.school, "school actor started");
    }
}

/// Makes the actor panic, to test supervision.
#[cfg(feature = "fault-injection")]
#[derive(Message)]
#[rtype(result = "()")]
pub struct Crash;

#[cfg(feature = "fault-injection")]
impl Handler<Crash> for SchoolActor {
    type Result = ();

    fn handle(&mut self, _: Crash, _: &mut Context<Self>) {
        panic!("school actor crash requested by a test");
    }
}
