//! `SessionActor`: the struct, its phase, its lifecycle and the helpers every command uses.
//!
//! The session's phase is explicit ([`Phase`]):
//!
//! | phase | entered when | school actor | commands |
//! |---|---|---|---|
//! | `AwaitingConnect` | the socket opened | none | `connect`; anything else closes 4001 |
//! | `Joined` | the school accepted the `Join` | the live one | all |
//! | `Recovering` | the school actor was found dead | joining the new one | `unavailable` * |
//!
//! \* for the commands that need the school; `history`, `channels`, `ping`, `refresh` and
//! `unsubscribe` are answered as usual.
//!
//! `Recovering` returns to `Joined` once the replacement accepted the session and every channel
//! was resubscribed, or the session closes with 1001 if it cannot. While a `connect` or a
//! recovery is in flight the actor waits (`ctx.wait`), so frames queue up behind it; the
//! `Recovering` answers exist so that no code path can drop a request whatever the scheduling.
//!
//! Failure modes: a slow client (outbound queue over its bound or its lag) closes with 4008; a
//! client silent for two heartbeats closes with 1001.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use actix::prelude::*;
use oneclass_protocol::reply::{ErrorBody, OkBody, Reply};
use oneclass_protocol::{CloseCode, Codec, ErrorCode, Event};
use oneclass_storage::Storage;

use super::admission::RateKeys;
use super::outbound::{OutFrame, Outbound};
use super::read_guard::ReadBudget;
use super::recovery::SCHOOL_RESTARTING;
use super::registry::LiveSessions;
use super::sub_table::SubTable;
use super::writer::write_loop;
use crate::frame_limits::FrameLimits;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::principal::{Authenticator, Principal};
use crate::rate_limit::{ConnectionLimiter, RateLimiters};
use crate::school::{Leave, SchoolActor};
use crate::school_registry::SchoolRegistry;
use crate::session::SessionId;

/// Capacity of a session's actor mailbox. Events do not pass through it (they go to the
/// outbound queue); only replies from other actors and control messages do.
const MAILBOX_CAPACITY: usize = 64;

/// Source of session ids, unique within the process.
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// What every session needs from the hub.
pub struct SessionDeps {
    pub registry: SchoolRegistry,
    pub auth: Arc<dyn Authenticator>,
    pub limits: Limits,
    pub sessions: Arc<LiveSessions>,
    /// The hub's metrics (connections, frames in and out, errors, slow consumers).
    pub metrics: Arc<Metrics>,
    /// The hub's shared rate limiters (per user and op, per school).
    pub limiters: Arc<RateLimiters>,
}

/// Where the session is in its life; see the module doc for the table.
pub(super) enum Phase {
    /// No valid `connect` yet.
    AwaitingConnect,
    /// Authenticated and joined to the school's live actor.
    Joined {
        principal: Principal,
        school: Addr<SchoolActor>,
    },
    /// The school actor died; the session is joining the replacement.
    Recovering { principal: Principal },
}

/// The actor of one WebSocket connection.
pub struct SessionActor {
    pub(super) id: SessionId,
    pub(super) codec: Codec,
    pub(super) deps: Arc<SessionDeps>,
    pub(super) outbound: Arc<Outbound>,
    /// The socket's write half until `started` hands it to the writer future.
    writer: Option<actix_ws::Session>,
    /// The socket's read half until `started` adds it as this actor's stream.
    stream: Option<actix_ws::MessageStream>,
    /// The read guard's budget under that stream: told of every message handled.
    pub(super) read_budget: Arc<ReadBudget>,
    pub(super) phase: Phase,
    /// This session's subscriptions by channel name, with their generations.
    pub(super) subs: SubTable,
    /// When the client last sent anything (heartbeat check).
    pub(super) last_seen: Instant,
    /// The timer that closes the socket when the token expires.
    pub(super) expiry: Option<SpawnHandle>,
    /// Waits for the registry's notice that the school actor died.
    pub(super) school_watch: Option<SpawnHandle>,
    /// This connection's own quota and strikes.
    pub(super) limiter: ConnectionLimiter,
    /// The keys of the user's and the school's quotas, once connected.
    pub(super) rate_keys: Option<RateKeys>,
}

impl SessionActor {
    /// Starts the actor for an upgraded connection whose payload is guarded by a
    /// [`ReadGuard`](super::ReadGuard) with `read_budget`.
    pub fn start_ws(
        writer: actix_ws::Session,
        stream: actix_ws::MessageStream,
        read_budget: Arc<ReadBudget>,
        codec: Codec,
        deps: Arc<SessionDeps>,
    ) -> Addr<Self> {
        let limits = &deps.limits;
        let outbound = Arc::new(Outbound::from_limits(codec, limits));
        let limiter = deps.limiters.connection();
        SessionActor {
            id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
            codec,
            outbound,
            writer: Some(writer),
            stream: Some(stream),
            read_budget,
            deps,
            phase: Phase::AwaitingConnect,
            subs: SubTable::default(),
            last_seen: Instant::now(),
            expiry: None,
            school_watch: None,
            limiter,
            rate_keys: None,
        }
        .start()
    }

    pub(super) fn journal(&self) -> Arc<dyn Storage> {
        self.deps.registry.journal().clone()
    }

    pub(super) fn limits(&self) -> &Limits {
        &self.deps.limits
    }

    /// The authenticated principal, once connected.
    pub(super) fn principal(&self) -> Option<&Principal> {
        match &self.phase {
            Phase::AwaitingConnect => None,
            Phase::Joined { principal, .. } | Phase::Recovering { principal } => Some(principal),
        }
    }

    /// The school actor to ask, or the answer for a request that cannot reach one now.
    pub(super) fn school(&self) -> Result<Addr<SchoolActor>, ErrorBody> {
        match &self.phase {
            Phase::Joined { school, .. } => Ok(school.clone()),
            Phase::Recovering { .. } => {
                Err(ErrorBody::new(ErrorCode::Unavailable, SCHOOL_RESTARTING))
            }
            // Dispatch closes the socket for any command before connect, so no handler gets
            // here; answer rather than assume.
            Phase::AwaitingConnect => Err(ErrorBody::new(ErrorCode::Unavailable, "not connected")),
        }
    }

    /// Queues the close and stops; the writer sends what is queued, then the close frame.
    pub(super) fn close(&mut self, code: CloseCode, reason: &str, ctx: &mut Context<Self>) {
        tracing::debug!(session = self.id, code = code.code(), reason, "closing");
        self.outbound.close(code, reason);
        ctx.stop();
    }

    pub(super) fn send<T: serde::Serialize>(&self, frame: &T) {
        self.deps.metrics.messages_out.inc();
        self.outbound.push(OutFrame::Data(self.codec.encode(frame)));
    }

    /// The limits every frame for this client keeps ([`crate::frame_limits`]).
    pub(super) fn frame_limits(&self) -> FrameLimits {
        FrameLimits::new(self.limits().max_message_bytes, &self.deps.metrics)
    }

    pub(super) fn reply_ok(&self, id: Option<u32>, body: OkBody) {
        if let Some(id) = id {
            self.deps.metrics.messages_out.inc();
            let bytes = self
                .frame_limits()
                .reply(self.codec, id, &Reply::ok(id, body));
            self.outbound.push(OutFrame::Data(bytes));
        }
    }

    /// Answers `id` with `error`, or sends an `error` event when the command had no id.
    pub(super) fn reply_err(&self, id: Option<u32>, error: ErrorBody) {
        self.deps.metrics.error(error.code);
        match id {
            Some(id) => self.send(&Reply::<OkBody>::error(id, error)),
            None => self.send(&Event::Error {
                code: error.code,
                message: error.message,
                channel: None,
            }),
        }
    }

    /// Sends the `error` event that tells the client the hub ended its subscription of
    /// `channel` on its own (no event of that channel follows it).
    pub(super) fn subscription_ended(&self, channel: &str, error: ErrorBody) {
        self.deps.metrics.error(error.code);
        self.send(&Event::Error {
            code: error.code,
            message: error.message,
            channel: Some(channel.to_owned()),
        });
    }

    /// Sends a ping, closes a silent or slow client, and notices a dead school actor (the
    /// fallback when the registry's death notice did not come).
    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        if self.outbound.is_closed() {
            ctx.stop();
            return;
        }
        if self.last_seen.elapsed() > self.limits().heartbeat * 2 {
            return self.close(CloseCode::GoingAway, "no answer to heartbeats", ctx);
        }
        self.outbound.push(OutFrame::Ping);
        if !self.outbound.check_slow() {
            self.deps.metrics.slow_consumers.inc();
            ctx.stop();
            return;
        }
        if matches!(&self.phase, Phase::Joined { school, .. } if !school.connected()) {
            self.recover_school(ctx);
        }
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.deps.metrics.ws_connections.inc();
        self.deps.sessions.insert(self.id, self.outbound.clone());
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        if let Some(writer) = self.writer.take() {
            actix_rt::spawn(write_loop(self.outbound.clone(), writer, self.codec));
        }
        if let Some(stream) = self.stream.take() {
            // The read guard refuses oversized messages by their header; actix-ws's own checks,
            // made once a whole frame has arrived, stay as a second line.
            let max = self.limits().max_message_bytes;
            ctx.add_stream(
                stream
                    .max_frame_size(max)
                    .aggregate_continuations()
                    .max_continuation_size(max),
            );
        }
        ctx.run_later(self.limits().connect_timeout, |act, ctx| {
            if matches!(act.phase, Phase::AwaitingConnect) {
                act.close(CloseCode::InvalidConnect, "no connect in time", ctx);
            }
        });
        ctx.run_interval(self.limits().heartbeat, |act, ctx| act.heartbeat(ctx));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.deps.metrics.ws_connections.dec();
        self.deps.sessions.remove(self.id);
        self.outbound.close(CloseCode::Normal, "");
        if let Phase::Joined { school, .. } = &self.phase {
            school.do_send(Leave { session: self.id });
        }
    }
}
