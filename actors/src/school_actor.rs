//! `SchoolActor`: the owner of every channel of one school.
//!
//! It serialises everything that must be ordered per channel: appends go to the journal from here
//! only, commits are fanned out in seq order (a reorder buffer absorbs commits that complete out
//! of order), subscribers switch from catch-up to live here, and presence, typing and read events
//! go out from here. It also holds the school's roster and turns notifications into inbox events.
//!
//! Publishes that arrive together are appended as one journal batch: the first one schedules a
//! flush that runs after the mailbox has been read, so a burst costs one append and one fsync.
//!
//! Restart policy: transient. It runs on the worker arbiter of the session that needed it first
//! and stops after [`Limits::school_idle`] without sessions. If it dies, the registry starts a new
//! one on the next request and sessions resubscribe from the seqs they already delivered. On start
//! it rebuilds the roster from `roster:{school}`; channel heads are read from the journal the
//! first time each channel is used. A restart loses in-flight appends' replies (the sessions
//! answer `unavailable`; clients retry with the same `client_msg_id`, which the journal dedups),
//! presence (sessions re-announce it as they resubscribe) and typing throttles.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use oneclass_protocol::command::Body;
use oneclass_protocol::journal::{
    encode_payload, kinds, ChatMessagePosted, EventEnvelope, NotificationPayload,
};
use oneclass_protocol::reply::{ErrorBody, Published};
use oneclass_protocol::timestamp::{format_ms, now_ms};
use oneclass_protocol::{ChannelName, ErrorCode, Event};
use oneclass_storage::{AppendOutcome, AppendRequest, IdempotencyKey, Storage, StorageError};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::channel_state::{ChannelState, Encoded, SessionId, SubState, Subscriber};
use crate::convert::to_event;
use crate::limits::Limits;
use crate::metrics::metrics;
use crate::outbound::Outbound;
use crate::roster::{roster_stream, Member, MemberRemoved, Roster};

/// Typing events per user and channel are sent at most this often.
const TYPING_THROTTLE: Duration = Duration::from_secs(3);
/// How often the actor checks whether it has been idle long enough to stop.
const IDLE_CHECK: Duration = Duration::from_secs(30);
/// Roster events read per page while rebuilding the roster.
const ROSTER_PAGE: usize = 1000;

/// A session known to the school.
#[derive(Debug)]
struct SessionEntry {
    user: String,
    outbound: Arc<Outbound>,
}

type ReplyFn = Box<dyn FnOnce(&mut SchoolActor, Result<Vec<AppendOutcome>, ErrorBody>)>;

/// Appends waiting for the next flush, with what to do with their outcomes.
struct PendingWrite {
    requests: Vec<AppendRequest>,
    reply: ReplyFn,
}

/// The actor of one school.
pub struct SchoolActor {
    school: String,
    journal: Arc<dyn Storage>,
    limits: Limits,
    roster: Roster,
    channels: HashMap<String, ChannelState>,
    sessions: HashMap<SessionId, SessionEntry>,
    users: HashMap<String, HashSet<SessionId>>,
    pending: Vec<PendingWrite>,
    flush_scheduled: bool,
    last_active: Instant,
}

impl SchoolActor {
    pub fn new(school: String, journal: Arc<dyn Storage>, limits: Limits) -> Self {
        Self {
            school,
            journal,
            limits,
            roster: Roster::default(),
            channels: HashMap::new(),
            sessions: HashMap::new(),
            users: HashMap::new(),
            pending: Vec::new(),
            flush_scheduled: false,
            last_active: Instant::now(),
        }
    }

    fn unavailable(e: &StorageError) -> ErrorBody {
        tracing::warn!(error = %e, "journal operation failed");
        ErrorBody::new(ErrorCode::Unavailable, "journal unavailable, retry")
    }

    /// Queues appends for the next flush.
    fn enqueue(&mut self, requests: Vec<AppendRequest>, reply: ReplyFn, ctx: &mut Context<Self>) {
        self.last_active = Instant::now();
        self.pending.push(PendingWrite { requests, reply });
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
    }

    /// Sends pending appends to the journal as one batch, after loading the heads of channels
    /// seen for the first time (the mailbox waits for that, so batches stay in order).
    fn flush(&mut self, ctx: &mut Context<Self>) {
        let writes = std::mem::take(&mut self.pending);
        if writes.is_empty() {
            return;
        }
        let mut missing: Vec<String> = writes
            .iter()
            .flat_map(|w| w.requests.iter())
            .filter(|r| is_channel(&r.stream) && !self.channels.contains_key(&r.stream))
            .map(|r| r.stream.clone())
            .collect();
        missing.sort();
        missing.dedup();
        if missing.is_empty() {
            self.submit(writes, ctx);
            return;
        }
        let journal = self.journal.clone();
        ctx.wait(
            async move {
                let heads = journal.heads(&missing).await;
                heads.map(|h| missing.into_iter().zip(h).collect::<Vec<_>>())
            }
            .into_actor(self)
            .map(move |heads, act, ctx| match heads {
                Ok(heads) => {
                    for (name, head) in heads {
                        act.channels
                            .entry(name.clone())
                            .or_insert_with(|| ChannelState::new(name, head));
                    }
                    act.submit(writes, ctx);
                }
                Err(e) => {
                    let error = Self::unavailable(&e);
                    for w in writes {
                        (w.reply)(act, Err(error.clone()));
                    }
                }
            }),
        );
    }

    fn submit(&mut self, writes: Vec<PendingWrite>, ctx: &mut Context<Self>) {
        let mut batch = Vec::new();
        let mut sizes = Vec::with_capacity(writes.len());
        for w in &writes {
            sizes.push(w.requests.len());
            for r in &w.requests {
                if let Some(ch) = self.channels.get_mut(&r.stream) {
                    ch.inflight += 1;
                }
                batch.push(r.clone());
            }
        }
        let streams: Vec<String> = batch.iter().map(|r| r.stream.clone()).collect();
        metrics().journal_batch_size.observe(batch.len() as f64);
        let started = Instant::now();
        let journal = self.journal.clone();
        ctx.spawn(
            async move { journal.append(batch).await }
                .into_actor(self)
                .map(move |result, act, ctx| {
                    metrics()
                        .journal_commit_seconds
                        .observe(started.elapsed().as_secs_f64());
                    act.committed(writes, sizes, streams, result, ctx);
                }),
        );
    }

    fn committed(
        &mut self,
        writes: Vec<PendingWrite>,
        sizes: Vec<usize>,
        streams: Vec<String>,
        result: Result<Vec<AppendOutcome>, StorageError>,
        ctx: &mut Context<Self>,
    ) {
        for s in &streams {
            if let Some(ch) = self.channels.get_mut(s) {
                ch.inflight = ch.inflight.saturating_sub(1);
            }
        }
        match result {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                let mut touched = Vec::new();
                for (w, n) in writes.into_iter().zip(sizes) {
                    let mine: Vec<AppendOutcome> = outcomes.by_ref().take(n).collect();
                    for o in &mine {
                        if let AppendOutcome::Appended(e) = o {
                            self.apply_committed(e);
                            touched.push(e.stream.clone());
                        }
                    }
                    (w.reply)(self, Ok(mine));
                }
                touched.sort();
                touched.dedup();
                self.fill_stalled_gaps(&touched, ctx);
            }
            Err(e) => {
                let error = Self::unavailable(&e);
                for w in writes {
                    (w.reply)(self, Err(error.clone()));
                }
                let all: Vec<String> = self.channels.keys().cloned().collect();
                self.fill_stalled_gaps(&all, ctx);
            }
        }
    }

    /// Applies a committed event: fan-out for channels, roster changes for the roster stream.
    fn apply_committed(&mut self, e: &EventEnvelope) {
        if e.stream == roster_stream(&self.school) {
            self.roster.apply(e);
            return;
        }
        let Some(event) = to_event(e) else { return };
        let cap = self.limits.catch_up_buffer;
        let dead = match self.channels.get_mut(&e.stream) {
            Some(ch) => ch.committed(Encoded::new(e.seq, event), cap),
            None => Vec::new(),
        };
        self.drop_sessions(dead);
    }

    /// Reads from the journal the seqs a stalled reorder buffer waits for.
    fn fill_stalled_gaps(&mut self, streams: &[String], ctx: &mut Context<Self>) {
        for name in streams {
            let Some(ch) = self.channels.get(name) else {
                continue;
            };
            if !ch.has_stalled_gap() {
                continue;
            }
            let (from, until) = (ch.head + 1, *ch.reorder.keys().next().unwrap_or(&ch.head));
            let journal = self.journal.clone();
            let stream = name.clone();
            ctx.spawn(
                async move {
                    journal
                        .read_stream(&stream, from, (until - from) as usize)
                        .await
                }
                .into_actor(self)
                .map(|events, act, _| {
                    for e in events.unwrap_or_default() {
                        act.apply_committed(&e);
                    }
                }),
            );
        }
    }

    fn drop_sessions(&mut self, dead: Vec<SessionId>) {
        for id in dead {
            metrics()
                .slow_consumers
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.remove_session(id);
        }
    }

    fn remove_session(&mut self, id: SessionId) {
        let Some(entry) = self.sessions.remove(&id) else {
            return;
        };
        if let Some(set) = self.users.get_mut(&entry.user) {
            set.remove(&id);
            if set.is_empty() {
                self.users.remove(&entry.user);
            }
        }
        let names: Vec<String> = self
            .channels
            .iter()
            .filter(|(_, ch)| ch.subscribers.contains_key(&id))
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            self.unsubscribe(id, &name);
        }
    }

    fn unsubscribe(&mut self, id: SessionId, channel: &str) {
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let Some(sub) = ch.subscribers.remove(&id) else {
            return;
        };
        if has_presence(channel) && ch.remove_presence(&sub.user) {
            let event = Event::Presence {
                channel: channel.to_owned(),
                joined: vec![],
                left: vec![sub.user.clone()],
            };
            ch.broadcast(&event, None);
        }
    }

    /// Sends an event to every session of `user` except `except`.
    fn send_to_user(&self, user: &str, event: &Event, except: Option<SessionId>) {
        let Some(ids) = self.users.get(user) else {
            return;
        };
        let encoded = Encoded::new(0, event.clone());
        for id in ids {
            if Some(*id) == except {
                continue;
            }
            if let Some(s) = self.sessions.get(id) {
                s.outbound.push(crate::outbound::OutFrame::Data(
                    encoded.bytes(s.outbound.codec()),
                ));
            }
        }
    }

    /// Loads a channel's head from the journal if this actor has not seen the channel yet.
    fn with_channel<R: 'static>(
        &mut self,
        channel: String,
        then: impl FnOnce(&mut Self, &mut Context<Self>) -> Result<R, ErrorBody> + 'static,
    ) -> ResponseActFuture<Self, Result<R, ErrorBody>> {
        if self.channels.contains_key(&channel) {
            return Box::pin(fut::ready(()).map(move |_, act, ctx| then(act, ctx)));
        }
        let journal = self.journal.clone();
        let name = channel.clone();
        Box::pin(
            async move { journal.head(&name).await }
                .into_actor(self)
                .map(move |head, act, ctx| {
                    let head = head.map_err(|e| Self::unavailable(&e))?;
                    act.channels
                        .entry(channel.clone())
                        .or_insert_with(|| ChannelState::new(channel, head));
                    then(act, ctx)
                }),
        )
    }
}

fn is_channel(stream: &str) -> bool {
    ChannelName::parse(stream).is_ok()
}

fn has_presence(channel: &str) -> bool {
    channel.starts_with("class:") || channel.starts_with("dm:")
}

/// SHA-256 of a value's MessagePack encoding: the fingerprint of an idempotent request.
pub fn fingerprint<T: serde::Serialize>(value: &T) -> [u8; 32] {
    Sha256::digest(encode_payload(value)).into()
}

impl Actor for SchoolActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
        // Rebuild the roster before handling anything.
        let journal = self.journal.clone();
        let stream = roster_stream(&self.school);
        ctx.wait(
            async move {
                let mut events = Vec::new();
                let mut from = 1;
                loop {
                    let page = journal.read_stream(&stream, from, ROSTER_PAGE).await?;
                    let done = page.len() < ROSTER_PAGE;
                    from = page.last().map(|e| e.seq + 1).unwrap_or(from);
                    events.extend(page);
                    if done {
                        return Ok::<_, StorageError>(events);
                    }
                }
            }
            .into_actor(self)
            .map(|events, act, ctx| match events {
                Ok(events) => events.iter().for_each(|e| act.roster.apply(e)),
                Err(e) => {
                    tracing::error!(school = %act.school, error = %e, "roster rebuild failed");
                    ctx.stop();
                }
            }),
        );
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

/// A session joins the school (after `connect`).
#[derive(Message)]
#[rtype(result = "Result<(), ErrorCode>")]
pub struct Join {
    pub session: SessionId,
    pub user: String,
    pub outbound: Arc<Outbound>,
}

impl Handler<Join> for SchoolActor {
    type Result = Result<(), ErrorCode>;

    fn handle(&mut self, msg: Join, _: &mut Context<Self>) -> Self::Result {
        self.last_active = Instant::now();
        let set = self.users.entry(msg.user.clone()).or_default();
        if !set.contains(&msg.session) && set.len() >= self.limits.max_connections_per_user {
            return Err(ErrorCode::RateLimited);
        }
        set.insert(msg.session);
        self.sessions.insert(
            msg.session,
            SessionEntry {
                user: msg.user,
                outbound: msg.outbound,
            },
        );
        Ok(())
    }
}

/// A session leaves (socket closed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub session: SessionId,
}

impl Handler<Leave> for SchoolActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, _: &mut Context<Self>) {
        self.last_active = Instant::now();
        self.remove_session(msg.session);
    }
}

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

/// The range a new subscriber must replay, and the channel's head.
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
        self.with_channel(name.clone(), move |act, _| {
            let entry = act.sessions.get(&msg.session).ok_or_else(|| {
                ErrorBody::new(ErrorCode::Unavailable, "session not joined, reconnect")
            })?;
            let (user, outbound) = (entry.user.clone(), entry.outbound.clone());
            // unwrap: with_channel inserted the channel.
            let ch = act.channels.get_mut(&name).unwrap();
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
            if previous.is_none() && has_presence(&name) && ch.add_presence(&user) {
                let event = Event::Presence {
                    channel: name.clone(),
                    joined: vec![user],
                    left: vec![],
                };
                ch.broadcast(&event, None);
            }
            Ok(CatchUp {
                head,
                from,
                until: head,
            })
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
        let SubState::CatchingUp { until, buffer } = &mut sub.state else {
            return Ok(None);
        };
        if msg.replayed_to < *until {
            return Ok(Some(*until));
        }
        let codec = sub.outbound.codec();
        let mut frames: Vec<_> = buffer
            .iter()
            .filter(|e| e.seq > msg.replayed_to)
            .map(|e| e.bytes(codec))
            .collect();
        frames.push(codec.encode(&Event::Synced {
            channel: msg.channel.clone(),
            head,
        }));
        sub.state = SubState::Live;
        if !sub.outbound.push_events(&msg.channel, head, &frames) {
            let id = msg.session;
            self.drop_sessions(vec![id]);
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

/// Publish a chat message (permissions were checked by the session against the token).
#[derive(Message)]
#[rtype(result = "Result<Published, ErrorBody>")]
pub struct Publish {
    pub user: String,
    pub channel: ChannelName,
    pub body: Body,
    pub client_msg_id: Option<String>,
}

impl Handler<Publish> for SchoolActor {
    type Result = ResponseFuture<Result<Published, ErrorBody>>;

    fn handle(&mut self, msg: Publish, ctx: &mut Context<Self>) -> Self::Result {
        let stream = msg.channel.to_string();
        let payload = ChatMessagePosted {
            body: msg.body,
            client_msg_id: msg.client_msg_id,
        };
        let idempotency = payload.client_msg_id.as_ref().map(|id| IdempotencyKey {
            key: format!(
                "chat\u{1f}{}\u{1f}{stream}\u{1f}{}\u{1f}{id}",
                self.school, msg.user
            ),
            fingerprint: fingerprint(&payload.body),
        });
        let request = AppendRequest {
            school_id: self.school.clone(),
            stream,
            kind: kinds::CHAT_MESSAGE_POSTED.to_owned(),
            actor: msg.user,
            occurred_at: now_ms(),
            payload: encode_payload(&payload),
            idempotency,
        };
        let (tx, rx) = oneshot::channel();
        let reply: ReplyFn = Box::new(move |_, result| {
            let answer = match result {
                Err(e) => Err(e),
                Ok(outcomes) => match outcomes.into_iter().next() {
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
                },
            };
            let _ = tx.send(answer);
        });
        self.enqueue(vec![request], reply, ctx);
        Box::pin(async move {
            rx.await.unwrap_or_else(|_| {
                Err(ErrorBody::new(
                    ErrorCode::Unavailable,
                    "school restarted, retry",
                ))
            })
        })
    }
}

/// A user is typing on a channel (throttled; not journaled).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Typing {
    pub user: String,
    pub channel: String,
}

impl Handler<Typing> for SchoolActor {
    type Result = ();

    fn handle(&mut self, msg: Typing, _: &mut Context<Self>) {
        let Some(ch) = self.channels.get_mut(&msg.channel) else {
            return;
        };
        let now = Instant::now();
        if ch
            .typing
            .get(&msg.user)
            .is_some_and(|t| now.duration_since(*t) < TYPING_THROTTLE)
        {
            return;
        }
        ch.typing.insert(msg.user.clone(), now);
        let event = Event::Typing {
            channel: msg.channel.clone(),
            user: msg.user.clone(),
        };
        ch.broadcast(&event, Some(&msg.user));
    }
}

/// Who is present on a channel (users, not sockets).
#[derive(Message)]
#[rtype(result = "Vec<String>")]
pub struct PresenceOf {
    pub channel: String,
}

impl Handler<PresenceOf> for SchoolActor {
    type Result = Vec<String>;

    fn handle(&mut self, msg: PresenceOf, _: &mut Context<Self>) -> Vec<String> {
        let mut users: Vec<String> = self
            .channels
            .get(&msg.channel)
            .map(|c| c.present.keys().cloned().collect())
            .unwrap_or_default();
        users.sort();
        users
    }
}

/// Move a user's read cursor and tell their other sessions (and, in a DM, the other party).
#[derive(Message)]
#[rtype(result = "Result<u64, ErrorBody>")]
pub struct MarkRead {
    pub session: SessionId,
    pub user: String,
    pub channel: ChannelName,
    pub seq: u64,
}

impl Handler<MarkRead> for SchoolActor {
    type Result = ResponseActFuture<Self, Result<u64, ErrorBody>>;

    fn handle(&mut self, msg: MarkRead, _: &mut Context<Self>) -> Self::Result {
        let journal = self.journal.clone();
        let school = self.school.clone();
        let name = msg.channel.to_string();
        Box::pin(
            async move {
                let head = journal.head(&name).await?;
                if msg.seq > head {
                    return Ok((msg, name, None));
                }
                let stored = journal
                    .set_read_cursor(&school, &msg.user, &name, msg.seq)
                    .await?;
                Ok((msg, name, Some(stored)))
            }
            .into_actor(self)
            .map(|result: Result<_, StorageError>, act, _| {
                let (msg, name, stored) = result.map_err(|e| Self::unavailable(&e))?;
                let stored = stored.ok_or_else(|| {
                    ErrorBody::new(ErrorCode::BadRequest, "seq is beyond the channel's head")
                })?;
                let event = Event::Read {
                    channel: name,
                    user: msg.user.clone(),
                    seq: stored,
                };
                act.send_to_user(&msg.user, &event, Some(msg.session));
                if let ChannelName::Dm { a, b, .. } = &msg.channel {
                    let other = if *a == msg.user { b } else { a };
                    act.send_to_user(other, &event, None);
                }
                Ok(stored)
            }),
        )
    }
}

/// Add or change a roster member (journaled; a no-op when nothing changed).
#[derive(Message)]
#[rtype(result = "Result<Member, ErrorBody>")]
pub struct UpsertMember {
    pub actor: String,
    pub member: Member,
}

impl Handler<UpsertMember> for SchoolActor {
    type Result = ResponseFuture<Result<Member, ErrorBody>>;

    fn handle(&mut self, msg: UpsertMember, ctx: &mut Context<Self>) -> Self::Result {
        if self.roster.get(&msg.member.user) == Some(&msg.member) {
            return Box::pin(async move { Ok(msg.member) });
        }
        let request = AppendRequest {
            school_id: self.school.clone(),
            stream: roster_stream(&self.school),
            kind: kinds::MEMBER_UPSERTED.to_owned(),
            actor: msg.actor,
            occurred_at: now_ms(),
            payload: encode_payload(&msg.member),
            idempotency: None,
        };
        self.roster_write(request, msg.member, ctx)
    }
}

/// Remove a roster member (journaled). `Ok(false)` when there was no such member.
#[derive(Message)]
#[rtype(result = "Result<bool, ErrorBody>")]
pub struct RemoveMember {
    pub actor: String,
    pub user: String,
}

impl Handler<RemoveMember> for SchoolActor {
    type Result = ResponseFuture<Result<bool, ErrorBody>>;

    fn handle(&mut self, msg: RemoveMember, ctx: &mut Context<Self>) -> Self::Result {
        if self.roster.get(&msg.user).is_none() {
            return Box::pin(async { Ok(false) });
        }
        let request = AppendRequest {
            school_id: self.school.clone(),
            stream: roster_stream(&self.school),
            kind: kinds::MEMBER_REMOVED.to_owned(),
            actor: msg.actor,
            occurred_at: now_ms(),
            payload: encode_payload(&MemberRemoved { user: msg.user }),
            idempotency: None,
        };
        let fut = self.roster_write(request, (), ctx);
        Box::pin(async move { fut.await.map(|_| true) })
    }
}

impl SchoolActor {
    fn roster_write<T: 'static>(
        &mut self,
        request: AppendRequest,
        value: T,
        ctx: &mut Context<Self>,
    ) -> ResponseFuture<Result<T, ErrorBody>> {
        let (tx, rx) = oneshot::channel();
        let reply: ReplyFn = Box::new(move |_, result| {
            let _ = tx.send(result.map(|_| ()));
        });
        self.enqueue(vec![request], reply, ctx);
        Box::pin(async move {
            match rx.await {
                Ok(Ok(())) => Ok(value),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(ErrorBody::new(
                    ErrorCode::Unavailable,
                    "school restarted, retry",
                )),
            }
        })
    }
}

/// Read one member.
#[derive(Message)]
#[rtype(result = "Option<Member>")]
pub struct GetMember {
    pub user: String,
}

impl Handler<GetMember> for SchoolActor {
    type Result = Option<Member>;

    fn handle(&mut self, msg: GetMember, _: &mut Context<Self>) -> Option<Member> {
        self.roster.get(&msg.user).cloned()
    }
}

/// List members, optionally of one class.
#[derive(Message)]
#[rtype(result = "Vec<Member>")]
pub struct ListMembers {
    pub class: Option<String>,
}

impl Handler<ListMembers> for SchoolActor {
    type Result = Vec<Member>;

    fn handle(&mut self, msg: ListMembers, _: &mut Context<Self>) -> Vec<Member> {
        self.roster.list(msg.class.as_deref())
    }
}

/// Who a notification is for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Users(Vec<String>),
    Class(String),
    School(bool),
}

/// Deliver a notification into the inboxes of its recipients (one atomic batch: a
/// `notification.created` event plus one `notification.posted` per recipient).
#[derive(Message)]
#[rtype(result = "Result<NotifyOutcome, ErrorBody>")]
pub struct Notify {
    pub actor: String,
    pub idempotency_key: String,
    pub to: Audience,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub data: Body,
}

/// What `Notify` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotifyOutcome {
    pub notification_id: String,
    pub recipients: usize,
}

impl Handler<Notify> for SchoolActor {
    type Result = ResponseFuture<Result<NotifyOutcome, ErrorBody>>;

    fn handle(&mut self, msg: Notify, ctx: &mut Context<Self>) -> Self::Result {
        let mut recipients: Vec<String> = match &msg.to {
            Audience::Users(users) => users.clone(),
            Audience::Class(class) => self
                .roster
                .list(Some(class))
                .into_iter()
                .map(|m| m.user)
                .collect(),
            Audience::School(_) => self.roster.all_users(),
        };
        recipients.sort();
        recipients.dedup();
        if let Some(bad) = recipients
            .iter()
            .find(|u| !oneclass_protocol::channel::is_valid_id(u))
        {
            let bad = bad.clone();
            return Box::pin(async move {
                Err(ErrorBody::new(
                    ErrorCode::BadRequest,
                    format!("invalid user id `{bad}`"),
                ))
            });
        }
        let notification_id = oneclass_protocol::journal::new_event_id().to_string();
        let fp = fingerprint(&(&msg.to, &msg.kind, &msg.title, &msg.body, &msg.data));
        let key = |suffix: &str| IdempotencyKey {
            key: format!(
                "notify\u{1f}{}\u{1f}{}{suffix}",
                self.school, msg.idempotency_key
            ),
            fingerprint: fp,
        };
        let now = now_ms();
        let mut payload = NotificationPayload {
            notification_id: notification_id.clone(),
            kind: msg.kind,
            title: msg.title,
            body: msg.body,
            data: msg.data,
            recipients: recipients.clone(),
        };
        let mut requests = vec![AppendRequest {
            school_id: self.school.clone(),
            stream: format!("notification:{notification_id}"),
            kind: kinds::NOTIFICATION_CREATED.to_owned(),
            actor: msg.actor.clone(),
            occurred_at: now,
            payload: encode_payload(&payload),
            idempotency: Some(key("")),
        }];
        payload.recipients = Vec::new();
        let inbox_payload = encode_payload(&payload);
        for user in &recipients {
            requests.push(AppendRequest {
                school_id: self.school.clone(),
                stream: ChannelName::inbox(&self.school, user).to_string(),
                kind: kinds::NOTIFICATION_POSTED.to_owned(),
                actor: msg.actor.clone(),
                occurred_at: now,
                payload: inbox_payload.clone(),
                idempotency: Some(key(&format!("\u{1f}{user}"))),
            });
        }
        let (tx, rx) = oneshot::channel();
        let reply: ReplyFn = Box::new(move |_, result| {
            let answer = match result {
                Err(e) => Err(e),
                Ok(outcomes) => match outcomes.first() {
                    Some(AppendOutcome::Conflict) => Err(ErrorBody::new(
                        ErrorCode::Conflict,
                        "Idempotency-Key already used for another notification",
                    )),
                    Some(o) => {
                        let first = o.envelope().and_then(|e| {
                            oneclass_protocol::journal::decode_payload::<NotificationPayload>(
                                &e.payload,
                            )
                            .ok()
                        });
                        match first {
                            Some(p) => Ok(NotifyOutcome {
                                notification_id: p.notification_id,
                                recipients: p.recipients.len(),
                            }),
                            None => Err(ErrorBody::new(ErrorCode::Internal, "bad stored payload")),
                        }
                    }
                    None => Err(ErrorBody::new(ErrorCode::Internal, "no outcome")),
                },
            };
            let _ = tx.send(answer);
        });
        self.enqueue(requests, reply, ctx);
        Box::pin(async move {
            rx.await.unwrap_or_else(|_| {
                Err(ErrorBody::new(
                    ErrorCode::Unavailable,
                    "school restarted, retry",
                ))
            })
        })
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
