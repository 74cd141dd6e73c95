//! `SessionActor`: one per WebSocket connection.
//!
//! It owns the connection's authentication (the verified token, its expiry timer), its
//! subscriptions and their catch-up replays, and heartbeats. Frames from the client arrive as a
//! stream on this actor; every frame to the client goes through the session's [`Outbound`] queue,
//! which one writer task drains into the socket. The school actor pushes live events into the same
//! queue directly, so fan-out costs no actor message per event.
//!
//! Catch-up: every subscription starts with a replay of `(since, head]` read from the journal page
//! by page, each page only once the queue has room (a gap of days costs pages, not memory); then
//! the school actor queues what arrived live meanwhile and `synced`.
//!
//! Restart policy: never. When it stops the client reconnects and resumes. If its school actor
//! dies, the session joins the new one and resubscribes each channel from the newest seq it
//! already queued, so the client sees neither a gap nor a duplicate.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use actix_ws::{AggregatedMessage, CloseReason, ProtocolError};
use bytes::Bytes;
use oneclass_protocol::command::Body;
use oneclass_protocol::reply::{
    ChannelSummary, Channels, Connected, Empty, ErrorBody, History, OkBody, Presence, Refreshed,
    Reply, Subscribed,
};
use oneclass_protocol::{
    ChannelName, CloseCode, Codec, Command, CommandFrame, DecodeError, ErrorCode, Event,
};
use oneclass_storage::Storage;

use crate::channel_state::SessionId;
use crate::convert::to_event;
use crate::limits::Limits;
use crate::metrics::metrics;
use crate::outbound::{Drained, OutFrame, Outbound};
use crate::permissions::{can_publish, can_read, has_presence};
use crate::principal::{AuthError, Authenticator, Principal};
use crate::school_actor::{
    CatchUp, CatchUpDone, Join, Leave, MarkRead, PresenceOf, Publish, SchoolActor, Subscribe,
    Typing, Unsubscribe,
};
use crate::school_registry::SchoolRegistry;

/// Most history messages one `history` call returns.
const MAX_HISTORY: u32 = 200;
/// History messages returned when `limit` is not given.
const DEFAULT_HISTORY: u32 = 50;
/// Longest accepted `client_msg_id`.
const MAX_CLIENT_MSG_ID: usize = 128;
/// How long the writer waits for the socket to take one frame before giving up on the client.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// What every session needs from the hub.
pub struct SessionDeps {
    pub registry: SchoolRegistry,
    pub auth: Arc<dyn Authenticator>,
    pub limits: Limits,
    pub sessions: Arc<crate::session_set::SessionSet>,
}

/// One subscription of this session.
struct SubInfo {
    generation: u64,
    /// The seq the subscription started after; a resubscription never goes below it.
    base: u64,
    replay: Option<SpawnHandle>,
}

/// The actor of one WebSocket connection.
pub struct SessionActor {
    id: SessionId,
    codec: Codec,
    deps: Arc<SessionDeps>,
    outbound: Arc<Outbound>,
    writer: Option<actix_ws::Session>,
    stream: Option<actix_ws::MessageStream>,
    principal: Option<Principal>,
    school: Option<Addr<SchoolActor>>,
    subs: HashMap<String, SubInfo>,
    next_generation: u64,
    last_seen: Instant,
    expiry: Option<SpawnHandle>,
    /// Waits for the registry's notice that the school actor died.
    school_watch: Option<SpawnHandle>,
    recovering: bool,
}

impl SessionActor {
    /// Starts the actor for an upgraded connection.
    pub fn start_ws(
        writer: actix_ws::Session,
        stream: actix_ws::MessageStream,
        codec: Codec,
        deps: Arc<SessionDeps>,
    ) -> Addr<Self> {
        let limits = &deps.limits;
        let outbound = Arc::new(Outbound::new(
            codec,
            limits.outbound_max_bytes,
            limits.outbound_max_lag,
        ));
        SessionActor {
            id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
            codec,
            outbound,
            writer: Some(writer),
            stream: Some(stream),
            deps,
            principal: None,
            school: None,
            subs: HashMap::new(),
            next_generation: 1,
            last_seen: Instant::now(),
            expiry: None,
            school_watch: None,
            recovering: false,
        }
        .start()
    }

    fn journal(&self) -> Arc<dyn Storage> {
        self.deps.registry.journal().clone()
    }

    fn limits(&self) -> &Limits {
        &self.deps.limits
    }

    /// Queues the close and stops; the writer sends what is queued, then the close frame.
    fn close(&mut self, code: CloseCode, reason: &str, ctx: &mut Context<Self>) {
        tracing::debug!(session = self.id, code = code.code(), reason, "closing");
        self.outbound.close(code, reason);
        ctx.stop();
    }

    fn send<T: serde::Serialize>(&self, frame: &T) {
        metrics().messages_out.fetch_add(1, Ordering::Relaxed);
        self.outbound.push(OutFrame::Data(self.codec.encode(frame)));
    }

    fn reply_ok(&self, id: Option<u32>, body: OkBody) {
        if let Some(id) = id {
            self.send(&Reply::ok(id, body));
        }
    }

    fn reply_err(&self, id: Option<u32>, error: ErrorBody) {
        metrics().error(error.code);
        match id {
            Some(id) => self.send(&Reply::<OkBody>::error(id, error)),
            None => self.send(&Event::Error {
                code: error.code,
                message: error.message,
            }),
        }
    }

    fn on_frame(&mut self, bytes: &[u8], ctx: &mut Context<Self>) {
        metrics().messages_in.fetch_add(1, Ordering::Relaxed);
        match self.codec.decode_command(bytes) {
            Err(DecodeError::Malformed(m)) => self.close(CloseCode::InvalidPayload, &m, ctx),
            Err(DecodeError::Invalid(e)) if self.principal.is_none() => {
                let reason = format!("first message must be a valid connect: {}", e.message);
                self.close(CloseCode::InvalidConnect, &reason, ctx)
            }
            Err(DecodeError::Invalid(e)) => {
                self.reply_err(e.id, ErrorBody::new(ErrorCode::BadRequest, e.message))
            }
            Ok(frame) => self.dispatch(frame, ctx),
        }
    }

    fn dispatch(&mut self, frame: CommandFrame, ctx: &mut Context<Self>) {
        let id = frame.id;
        let Some(principal) = self.principal.clone() else {
            return match frame.command {
                Command::Connect { token, resume } => self.connect(id, &token, resume, ctx),
                _ => self.close(
                    CloseCode::InvalidConnect,
                    "first message must be connect",
                    ctx,
                ),
            };
        };
        match frame.command {
            Command::Connect { .. } => self.reply_err(
                id,
                ErrorBody::new(ErrorCode::BadRequest, "already connected"),
            ),
            Command::Subscribe { channel, since } => {
                if let Err(code) = can_read(&principal, &channel) {
                    return self.reply_err(id, forbidden(code, &channel));
                }
                self.subscribe(id, channel, since, ctx);
            }
            Command::Unsubscribe { channel } => {
                let name = channel.to_string();
                if let Some(sub) = self.subs.remove(&name) {
                    if let Some(h) = sub.replay {
                        ctx.cancel_future(h);
                    }
                    if let Some(school) = &self.school {
                        school.do_send(Unsubscribe {
                            session: self.id,
                            channel: name.clone(),
                        });
                    }
                    self.outbound.forget(&name);
                }
                self.reply_ok(id, OkBody::Empty(Empty {}));
            }
            Command::Publish {
                channel,
                body,
                client_msg_id,
            } => self.publish(id, &principal, channel, body, client_msg_id, ctx),
            Command::History {
                channel,
                before,
                limit,
            } => self.history(id, &principal, channel, before, limit, ctx),
            Command::Channels => self.channels(id, principal, ctx),
            Command::Read { channel, seq } => {
                if let Err(code) = can_read(&principal, &channel) {
                    return self.reply_err(id, forbidden(code, &channel));
                }
                let Some(school) = self.school.clone() else {
                    return;
                };
                let msg = MarkRead {
                    session: self.id,
                    user: principal.user,
                    channel,
                    seq,
                };
                ctx.spawn(
                    school
                        .send(msg)
                        .into_actor(self)
                        .map(move |res, act, ctx| match res {
                            Ok(Ok(_)) => act.reply_ok(id, OkBody::Empty(Empty {})),
                            Ok(Err(e)) => act.reply_err(id, e),
                            Err(_) => act.school_gone(id, ctx),
                        }),
                );
            }
            Command::Presence { channel } => {
                if let Err(e) = presence_allowed(&principal, &channel) {
                    return self.reply_err(id, e);
                }
                let Some(school) = self.school.clone() else {
                    return;
                };
                let name = channel.to_string();
                let msg = PresenceOf {
                    channel: name.clone(),
                };
                ctx.spawn(
                    school
                        .send(msg)
                        .into_actor(self)
                        .map(move |res, act, ctx| match res {
                            Ok(users) => act.reply_ok(
                                id,
                                OkBody::Presence(Presence {
                                    channel: name,
                                    users,
                                }),
                            ),
                            Err(_) => act.school_gone(id, ctx),
                        }),
                );
            }
            Command::Typing { channel } => {
                if let Err(e) = presence_allowed(&principal, &channel) {
                    return self.reply_err(id, e);
                }
                if let Some(school) = &self.school {
                    school.do_send(Typing {
                        user: principal.user,
                        channel: channel.to_string(),
                    });
                }
            }
            Command::Refresh { token } => self.refresh(id, &principal, &token, ctx),
            Command::Ping => self.reply_ok(id, OkBody::Empty(Empty {})),
        }
    }

    fn connect(
        &mut self,
        id: Option<u32>,
        token: &str,
        resume: BTreeMap<String, u64>,
        ctx: &mut Context<Self>,
    ) {
        let principal = match self.deps.auth.verify(token) {
            Ok(p) => p,
            Err(AuthError::Revoked) => {
                return self.close(CloseCode::Forbidden, "token revoked", ctx);
            }
            Err(e) => return self.close(CloseCode::InvalidConnect, &e.to_string(), ctx),
        };
        if principal.school == "*" {
            let reason = "platform tokens act across schools on the REST API only";
            return self.close(CloseCode::InvalidConnect, reason, ctx);
        }
        self.schedule_expiry(principal.exp, ctx);
        self.deps.sessions.set_jti(self.id, principal.jti.clone());
        let school = self.deps.registry.get(&principal.school);
        let join = Join {
            session: self.id,
            user: principal.user.clone(),
            outbound: self.outbound.clone(),
        };
        self.principal = Some(principal.clone());
        // Block other frames until the connect reply is queued, so the client's next commands
        // see a joined session.
        ctx.wait(
            school
                .send(join)
                .into_actor(self)
                .map(move |res, act, ctx| match res {
                    Ok(Ok(())) => {
                        act.school = Some(school);
                        act.watch_school(ctx);
                        act.subscribe_initial(id, principal, resume, ctx);
                    }
                    Ok(Err(_)) => act.close(
                        CloseCode::TooManyConnections,
                        "too many connections for this user",
                        ctx,
                    ),
                    Err(_) => act.close(CloseCode::GoingAway, "school unavailable, reconnect", ctx),
                }),
        );
    }

    /// Subscribes the inbox and every resumed channel, then queues the connect reply, then
    /// starts the replays (so the reply precedes every replayed message).
    fn subscribe_initial(
        &mut self,
        id: Option<u32>,
        principal: Principal,
        resume: BTreeMap<String, u64>,
        ctx: &mut Context<Self>,
    ) {
        let inbox = ChannelName::inbox(&principal.school, &principal.user);
        let inbox_name = inbox.to_string();
        let mut refused = BTreeMap::new();
        let mut wanted = vec![(inbox, resume.get(&inbox_name).copied())];
        for (name, since) in &resume {
            if *name == inbox_name {
                continue;
            }
            match ChannelName::parse(name) {
                Err(_) => {
                    refused.insert(name.clone(), ErrorCode::BadRequest);
                }
                Ok(ch) => match can_read(&principal, &ch) {
                    Ok(()) => wanted.push((ch, Some(*since))),
                    Err(code) => {
                        refused.insert(name.clone(), code);
                    }
                },
            }
        }
        let Some(school) = self.school.clone() else {
            return;
        };
        let mut requests = Vec::new();
        for (channel, since) in wanted {
            let generation = self.new_generation();
            let name = channel.to_string();
            requests.push((
                name,
                generation,
                since,
                school.send(Subscribe {
                    session: self.id,
                    channel,
                    since,
                    generation,
                }),
            ));
        }
        let fut = async move {
            let mut results = Vec::new();
            for (name, generation, since, req) in requests {
                results.push((name, generation, since, req.await));
            }
            results
        };
        ctx.wait(fut.into_actor(self).map(move |results, act, ctx| {
            let mut resumed = BTreeMap::new();
            let mut catch_ups = Vec::new();
            for (name, generation, since, result) in results {
                match result {
                    Ok(Ok(catch)) => {
                        if resume.contains_key(&name) {
                            resumed.insert(name.clone(), catch.head);
                        }
                        let base = since.unwrap_or(catch.head).min(catch.head);
                        act.subs.insert(
                            name.clone(),
                            SubInfo {
                                generation,
                                base,
                                replay: None,
                            },
                        );
                        catch_ups.push((name, generation, catch));
                    }
                    Ok(Err(e)) => {
                        refused.insert(name, e.code);
                    }
                    Err(_) => {
                        return act.close(
                            CloseCode::GoingAway,
                            "school unavailable, reconnect",
                            ctx,
                        );
                    }
                }
            }
            let Some(principal) = act.principal.clone() else {
                return;
            };
            act.reply_ok(
                id,
                OkBody::Connected(Connected {
                    user: principal.user.clone(),
                    school: principal.school.clone(),
                    role: principal.role.to_string(),
                    session: format!("{:x}", act.id),
                    heartbeat_s: act.limits().heartbeat.as_secs().max(1),
                    inbox: inbox_name.clone(),
                    resumed,
                    refused,
                }),
            );
            for (name, generation, catch) in catch_ups {
                act.start_replay(name, generation, catch, ctx);
            }
        }));
    }

    fn new_generation(&mut self) -> u64 {
        let g = self.next_generation;
        self.next_generation += 1;
        g
    }

    fn subscribe(
        &mut self,
        id: Option<u32>,
        channel: ChannelName,
        since: Option<u64>,
        ctx: &mut Context<Self>,
    ) {
        let Some(school) = self.school.clone() else {
            return;
        };
        let name = channel.to_string();
        if let Some(old) = self.subs.remove(&name) {
            if let Some(h) = old.replay {
                ctx.cancel_future(h);
            }
        }
        let generation = self.new_generation();
        let msg = Subscribe {
            session: self.id,
            channel,
            since,
            generation,
        };
        ctx.spawn(
            school
                .send(msg)
                .into_actor(self)
                .map(move |res, act, ctx| match res {
                    Ok(Ok(catch)) => {
                        let base = since.unwrap_or(catch.head).min(catch.head);
                        act.subs.insert(
                            name.clone(),
                            SubInfo {
                                generation,
                                base,
                                replay: None,
                            },
                        );
                        act.reply_ok(
                            id,
                            OkBody::Subscribed(Subscribed {
                                channel: name.clone(),
                                head: catch.head,
                            }),
                        );
                        act.start_replay(name, generation, catch, ctx);
                    }
                    Ok(Err(e)) => act.reply_err(id, e),
                    Err(_) => act.school_gone(id, ctx),
                }),
        );
    }

    /// Replays `(from, until]` of a channel from the journal, a page at a time as the queue
    /// drains, then asks the school to switch the subscriber to live.
    fn start_replay(
        &mut self,
        channel: String,
        generation: u64,
        catch: CatchUp,
        ctx: &mut Context<Self>,
    ) {
        let Some(school) = self.school.clone() else {
            return;
        };
        let journal = self.journal();
        let outbound = self.outbound.clone();
        let page = self.limits().replay_page;
        let room = self.limits().outbound_max_bytes / 2;
        let session = self.id;
        let codec = self.codec;
        let name = channel.clone();
        let replay = async move {
            let (mut from, mut until) = (catch.from, catch.until);
            loop {
                while from < until {
                    if !outbound.wait_below(room).await {
                        return;
                    }
                    let want = page.min((until - from) as usize);
                    let events = match journal.read_stream(&name, from + 1, want).await {
                        Ok(events) if !events.is_empty() => events,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, channel = %name, "replay failed");
                            outbound.close(CloseCode::GoingAway, "journal unavailable, resume");
                            return;
                        }
                    };
                    // unwrap: events is not empty.
                    from = events.last().unwrap().seq;
                    let frames: Vec<Bytes> = events
                        .iter()
                        .filter_map(to_event)
                        .map(|e| codec.encode(&e))
                        .collect();
                    metrics()
                        .messages_out
                        .fetch_add(frames.len() as u64, Ordering::Relaxed);
                    if !outbound.push_events(&name, from, &frames) {
                        return;
                    }
                }
                let done = CatchUpDone {
                    session,
                    channel: name.clone(),
                    generation,
                    replayed_to: from,
                };
                match school.send(done).await {
                    Ok(Ok(Some(more))) => until = more,
                    _ => return,
                }
            }
        };
        let handle = ctx.spawn(replay.into_actor(self));
        if let Some(sub) = self.subs.get_mut(&channel) {
            if sub.generation == generation {
                sub.replay = Some(handle);
            }
        }
    }

    fn publish(
        &mut self,
        id: Option<u32>,
        principal: &Principal,
        channel: ChannelName,
        body: Body,
        client_msg_id: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        if let Err(code) = can_publish(principal, &channel, false) {
            return self.reply_err(id, forbidden(code, &channel));
        }
        if client_msg_id
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > MAX_CLIENT_MSG_ID)
        {
            let e = ErrorBody::new(
                ErrorCode::BadRequest,
                "client_msg_id must be 1-128 characters",
            );
            return self.reply_err(id, e);
        }
        let size = serde_json::to_vec(&body)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > self.limits().max_body_bytes {
            let message = format!(
                "body is {size} bytes, over the {} limit",
                self.limits().max_body_bytes
            );
            return self.reply_err(id, ErrorBody::new(ErrorCode::TooLarge, message));
        }
        let Some(school) = self.school.clone() else {
            return;
        };
        let msg = Publish {
            user: principal.user.clone(),
            channel,
            body,
            client_msg_id,
        };
        ctx.spawn(
            school
                .send(msg)
                .into_actor(self)
                .map(move |res, act, ctx| match res {
                    Ok(Ok(published)) => act.reply_ok(id, OkBody::Published(published)),
                    Ok(Err(e)) => act.reply_err(id, e),
                    Err(_) => act.school_gone(id, ctx),
                }),
        );
    }

    fn history(
        &mut self,
        id: Option<u32>,
        principal: &Principal,
        channel: ChannelName,
        before: Option<u64>,
        limit: Option<u32>,
        ctx: &mut Context<Self>,
    ) {
        if let Err(code) = can_read(principal, &channel) {
            return self.reply_err(id, forbidden(code, &channel));
        }
        let limit = limit.unwrap_or(DEFAULT_HISTORY);
        if !(1..=MAX_HISTORY).contains(&limit) {
            let e = ErrorBody::new(ErrorCode::BadRequest, "limit must be between 1 and 200");
            return self.reply_err(id, e);
        }
        let journal = self.journal();
        let name = channel.to_string();
        let fut = async move {
            if before == Some(0) {
                return Ok(Vec::new());
            }
            journal
                .read_stream_before(&name, before, limit as usize)
                .await
        };
        let name = channel.to_string();
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok(events) => {
                let has_more = events.first().is_some_and(|e| e.seq > 1);
                let messages = events.iter().filter_map(to_event).collect();
                act.reply_ok(
                    id,
                    OkBody::History(History {
                        channel: name,
                        messages,
                        has_more,
                    }),
                )
            }
            Err(e) => act.reply_err(id, storage_error(&e)),
        }));
    }

    fn channels(&mut self, id: Option<u32>, principal: Principal, ctx: &mut Context<Self>) {
        let journal = self.journal();
        let fut = async move {
            let school = &principal.school;
            let mut names = vec![
                ChannelName::inbox(school, &principal.user).to_string(),
                format!("school:{school}:announcements"),
            ];
            names.extend(
                principal
                    .classes
                    .iter()
                    .map(|c| format!("class:{school}:{c}")),
            );
            for (name, head) in journal
                .streams_with_prefix(&format!("dm:{school}:"))
                .await?
            {
                let mine = matches!(ChannelName::parse(&name),
                    Ok(ChannelName::Dm { a, b, .. }) if a == principal.user || b == principal.user);
                if mine && head > 0 {
                    names.push(name);
                }
            }
            let heads = journal.heads(&names).await?;
            let cursors = journal.read_cursors(school, &principal.user).await?;
            let mut out = Vec::with_capacity(names.len());
            for (name, head) in names.into_iter().zip(heads) {
                let last = if head == 0 {
                    None
                } else {
                    journal
                        .read_stream_before(&name, None, 1)
                        .await?
                        .first()
                        .and_then(to_event)
                };
                let read_seq = cursors.get(&name).copied().unwrap_or(0).min(head);
                out.push(ChannelSummary {
                    channel: name,
                    head,
                    read_seq,
                    unread: head - read_seq,
                    last,
                });
            }
            Ok::<_, oneclass_storage::StorageError>(out)
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok(channels) => act.reply_ok(id, OkBody::Channels(Channels { channels })),
            Err(e) => act.reply_err(id, storage_error(&e)),
        }));
    }

    fn refresh(
        &mut self,
        id: Option<u32>,
        current: &Principal,
        token: &str,
        ctx: &mut Context<Self>,
    ) {
        match self.deps.auth.verify(token) {
            Ok(p) if p.user == current.user && p.school == current.school => {
                let exp = p.exp;
                self.schedule_expiry(exp, ctx);
                self.deps.sessions.set_jti(self.id, p.jti.clone());
                self.principal = Some(p);
                self.reply_ok(id, OkBody::Refreshed(Refreshed { exp }));
            }
            Ok(_) => self.reply_err(
                id,
                ErrorBody::new(ErrorCode::Unauthorized, "refresh token is for another user"),
            ),
            Err(AuthError::Revoked) => self.close(CloseCode::Forbidden, "token revoked", ctx),
            Err(e) => self.reply_err(id, ErrorBody::new(ErrorCode::Unauthorized, e.to_string())),
        }
    }

    fn schedule_expiry(&mut self, exp: u64, ctx: &mut Context<Self>) {
        if let Some(h) = self.expiry.take() {
            ctx.cancel_future(h);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let left = Duration::from_secs(exp).saturating_sub(now);
        self.expiry = Some(ctx.run_later(left, |act, ctx| {
            act.close(CloseCode::TokenExpired, "token expired", ctx)
        }));
    }

    /// A request to the school failed because the actor is gone: answer `unavailable` and
    /// recover.
    fn school_gone(&mut self, id: Option<u32>, ctx: &mut Context<Self>) {
        self.reply_err(
            id,
            ErrorBody::new(ErrorCode::Unavailable, "school restarting, retry"),
        );
        self.recover_school(ctx);
    }

    /// Joins the school's new actor and resubscribes every channel from the newest seq already
    /// queued to the client.
    fn recover_school(&mut self, ctx: &mut Context<Self>) {
        if self.recovering {
            return;
        }
        let Some(principal) = self.principal.clone() else {
            return;
        };
        self.recovering = true;
        let school = self.deps.registry.get(&principal.school);
        let delivered = self.outbound.delivered();
        let mut subs = Vec::new();
        for (name, info) in self.subs.iter_mut() {
            if let Some(h) = info.replay.take() {
                ctx.cancel_future(h);
            }
            let since = delivered.get(name).copied().unwrap_or(0).max(info.base);
            subs.push((name.clone(), since));
        }
        let join = Join {
            session: self.id,
            user: principal.user.clone(),
            outbound: self.outbound.clone(),
        };
        let session = self.id;
        let school2 = school.clone();
        let mut generations = Vec::new();
        for (name, _) in &subs {
            generations.push((name.clone(), self.new_generation()));
        }
        let fut = async move {
            school2.send(join).await.map_err(|_| ())?.map_err(|_| ())?;
            let mut results = Vec::new();
            for ((name, since), (_, generation)) in subs.into_iter().zip(generations) {
                let Ok(channel) = ChannelName::parse(&name) else {
                    continue;
                };
                let msg = Subscribe {
                    session,
                    channel,
                    since: Some(since),
                    generation,
                };
                let res = school2.send(msg).await.map_err(|_| ())?;
                results.push((name, generation, since, res));
            }
            Ok::<_, ()>(results)
        };
        ctx.wait(fut.into_actor(self).map(move |res, act, ctx| {
            act.recovering = false;
            let Ok(results) = res else {
                return act.close(CloseCode::GoingAway, "school unavailable, resume", ctx);
            };
            act.school = Some(school);
            act.watch_school(ctx);
            for (name, generation, since, result) in results {
                match result {
                    Ok(catch) => {
                        act.subs.insert(
                            name.clone(),
                            SubInfo {
                                generation,
                                base: since,
                                replay: None,
                            },
                        );
                        act.start_replay(name, generation, catch, ctx);
                    }
                    Err(e) => {
                        act.subs.remove(&name);
                        act.reply_err(None, e);
                    }
                }
            }
            tracing::info!(session = act.id, "resubscribed after school restart");
        }));
    }

    /// Rejoins as soon as the registry finds the school actor dead (the heartbeat check is the
    /// fallback).
    fn watch_school(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.school_watch.take() {
            ctx.cancel_future(h);
        }
        let Some(p) = &self.principal else { return };
        let Some(notice) = self.deps.registry.death_notice(&p.school) else {
            return;
        };
        let died = notice.notified_owned();
        self.school_watch = Some(ctx.spawn(died.into_actor(self).map(|_, act, ctx| {
            act.school_watch = None;
            act.recover_school(ctx);
        })));
    }

    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        if self.outbound.is_closed() {
            ctx.stop();
            return;
        }
        if self.last_seen.elapsed() > self.limits().heartbeat * 2 {
            return self.close(CloseCode::GoingAway, "no answer to heartbeats", ctx);
        }
        self.outbound.push(OutFrame::Ping);
        if !self.outbound.check_lag() {
            metrics().slow_consumers.fetch_add(1, Ordering::Relaxed);
            ctx.stop();
            return;
        }
        if self.school.as_ref().is_some_and(|s| !s.connected()) {
            self.recover_school(ctx);
        }
    }
}

fn forbidden(code: ErrorCode, channel: &ChannelName) -> ErrorBody {
    ErrorBody::new(code, format!("not allowed on {channel}"))
}

fn presence_allowed(p: &Principal, channel: &ChannelName) -> Result<(), ErrorBody> {
    can_read(p, channel).map_err(|code| forbidden(code, channel))?;
    if has_presence(channel) {
        Ok(())
    } else {
        Err(ErrorBody::new(
            ErrorCode::BadRequest,
            "presence and typing are for class and dm channels",
        ))
    }
}

fn storage_error(e: &oneclass_storage::StorageError) -> ErrorBody {
    tracing::warn!(error = %e, "journal read failed");
    ErrorBody::new(ErrorCode::Unavailable, "journal unavailable, retry")
}

/// Drains the outbound queue into the socket; the only code that writes to it.
async fn write_loop(outbound: Arc<Outbound>, mut ws: actix_ws::Session, codec: Codec) {
    loop {
        match outbound.next_batch().await {
            Drained::Frames(frames) => {
                for frame in frames {
                    let sent = match frame {
                        OutFrame::Data(bytes) if codec.is_binary() => {
                            tokio::time::timeout(WRITE_TIMEOUT, ws.binary(bytes)).await
                        }
                        OutFrame::Data(bytes) => match bytestring::ByteString::try_from(bytes) {
                            Ok(text) => tokio::time::timeout(WRITE_TIMEOUT, ws.text(text)).await,
                            Err(_) => continue,
                        },
                        OutFrame::Ping => tokio::time::timeout(WRITE_TIMEOUT, ws.ping(b"")).await,
                        OutFrame::Pong(b) => tokio::time::timeout(WRITE_TIMEOUT, ws.pong(&b)).await,
                    };
                    if !matches!(sent, Ok(Ok(()))) {
                        outbound.close(CloseCode::SlowConsumer, "socket stopped taking frames");
                        return;
                    }
                }
            }
            Drained::Close(code, reason) => {
                let reason = CloseReason {
                    code: actix_ws::CloseCode::Other(code.code()),
                    description: Some(reason),
                };
                let _ = tokio::time::timeout(WRITE_TIMEOUT, ws.close(Some(reason))).await;
                return;
            }
        }
    }
}

impl Actor for SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        metrics().ws_connections.fetch_add(1, Ordering::Relaxed);
        self.deps.sessions.insert(self.id, self.outbound.clone());
        ctx.set_mailbox_capacity(64);
        if let Some(writer) = self.writer.take() {
            actix_rt::spawn(write_loop(self.outbound.clone(), writer, self.codec));
        }
        if let Some(stream) = self.stream.take() {
            let max = self.limits().max_message_bytes;
            ctx.add_stream(
                stream
                    .max_frame_size(max)
                    .aggregate_continuations()
                    .max_continuation_size(max),
            );
        }
        ctx.run_later(self.limits().connect_timeout, |act, ctx| {
            if act.principal.is_none() {
                act.close(CloseCode::InvalidConnect, "no connect in time", ctx);
            }
        });
        ctx.run_interval(self.limits().heartbeat, |act, ctx| act.heartbeat(ctx));
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        metrics().ws_connections.fetch_sub(1, Ordering::Relaxed);
        self.deps.sessions.remove(self.id);
        self.outbound.close(CloseCode::Normal, "");
        if let Some(school) = &self.school {
            school.do_send(Leave { session: self.id });
        }
    }
}

impl StreamHandler<Result<AggregatedMessage, ProtocolError>> for SessionActor {
    fn handle(&mut self, item: Result<AggregatedMessage, ProtocolError>, ctx: &mut Context<Self>) {
        self.last_seen = Instant::now();
        match item {
            Ok(AggregatedMessage::Text(text)) if self.codec == Codec::Json => {
                self.on_frame(text.as_bytes(), ctx)
            }
            Ok(AggregatedMessage::Binary(bin)) if self.codec == Codec::MsgPack => {
                self.on_frame(&bin, ctx)
            }
            Ok(AggregatedMessage::Text(_)) | Ok(AggregatedMessage::Binary(_)) => self.close(
                CloseCode::WrongFrameType,
                "frame type does not match the codec",
                ctx,
            ),
            Ok(AggregatedMessage::Ping(bytes)) => {
                self.outbound.push(OutFrame::Pong(bytes));
            }
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Close(_)) => self.close(CloseCode::Normal, "", ctx),
            Err(ProtocolError::Overflow) | Err(ProtocolError::Io(_)) => {
                self.close(CloseCode::TooLarge, "message too large", ctx)
            }
            Err(e) => self.close(CloseCode::ProtocolError, &e.to_string(), ctx),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
