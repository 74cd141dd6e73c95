//! `fanout`: S schools × C classes, N subscribers and P publishers per class. Measures delivered
//! messages per second and publish→delivery latency (the publisher's send time travels in the
//! body as `lt_t`), and checks every subscriber's class channel for gaps, duplicates and
//! reorders.
//!
//! Throughput mode (`--rate 0`): each publisher keeps at most `--inflight` messages that some
//! subscriber of its class has not received yet. A message's slot in the publisher's window is
//! counted down by each first-time delivery; since every subscriber receives a publisher's
//! messages in order, slots free in order and the window is a ring.
//!
//! Rate mode: publishers send on a fixed schedule and stamp the *scheduled* time, so a server
//! that falls behind shows up in latency (no coordinated omission).
//!
//! Token order with `--token-file`: all subscribers (school, class, client), then all publishers
//! (school, class, publisher).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use futures_util::{SinkExt, StreamExt};
use oneclass_protocol::token::Role;
use parking_lot::Mutex;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::{drain, measure, Ctx};
use crate::conn::{self, now_us, Ev, Outgoing, Probe, Read, Ws};
use crate::stats::Report;
use crate::tokens::{class_channel, class_id, school_id, Identity};
use crate::tracker::{SeqTracker, Tally};

/// One class channel and what is known about it.
#[derive(Debug)]
struct Channel {
    name: String,
    school: String,
    class: String,
    /// Highest seq a publish reply returned: the final head once publishing stopped.
    head: AtomicU64,
    /// Publishes accepted on this channel.
    acked: AtomicU64,
    /// Subscribers connected and subscribed.
    subscribers: AtomicU64,
}

/// A publisher's in-flight window (throughput mode).
#[derive(Debug)]
struct InflightWindow {
    /// Per slot: subscribers that have not yet received the message in it.
    slots: Box<[AtomicU32]>,
    permits: Semaphore,
}

impl InflightWindow {
    fn new(size: u32) -> Self {
        Self {
            slots: (0..size).map(|_| AtomicU32::new(0)).collect(),
            permits: Semaphore::new(size as usize),
        }
    }

    fn slot(&self, k: u64) -> &AtomicU32 {
        &self.slots[(k % self.slots.len() as u64) as usize]
    }

    /// One subscriber received message `k`; the last one frees the slot.
    fn delivered(&self, k: u64) {
        let slot = self.slot(k);
        // A stray delivery (e.g. a message from an earlier run's publisher index) must not wrap.
        let prev = slot.fetch_update(AcqRel, Acquire, |n| n.checked_sub(1));
        if prev == Ok(1) {
            self.permits.add_permits(1);
        }
    }

    /// Message `k` will never arrive (error reply): free its slot now.
    fn abandon(&self, k: u64) {
        if self.slot(k).swap(0, AcqRel) > 0 {
            self.permits.add_permits(1);
        }
    }
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<Report> {
    let a = &ctx.args;
    if a.clients_per_class == 0 || a.publishers_per_class == 0 || a.channels() == 0 {
        bail!("fanout needs at least one school, class, subscriber and publisher per class");
    }
    if a.rate == 0.0 && a.inflight == 0 {
        bail!("throughput mode needs --inflight of at least 1");
    }
    let mut channels = Vec::new();
    for s in 1..=a.schools {
        for c in 1..=a.classes {
            let (school, class) = (school_id(s), class_id(c));
            channels.push(Channel {
                name: class_channel(&school, &class),
                school,
                class,
                head: AtomicU64::new(0),
                acked: AtomicU64::new(0),
                subscribers: AtomicU64::new(0),
            });
        }
    }
    let channels = Arc::new(channels);
    let publishers = channels.len() * a.publishers_per_class as usize;
    let windows: Arc<Vec<InflightWindow>> = Arc::new(if a.rate == 0.0 {
        (0..publishers)
            .map(|_| InflightWindow::new(a.inflight))
            .collect()
    } else {
        Vec::new()
    });
    let (finish_tx, finish_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let stats = ctx.stats.clone();
    let _progress = crate::stats::Progress::start(a.label.clone(), stats.clone(), a.quiet);

    // Subscribers: connect, subscribe, then read until their task is shut down. Each registers
    // its ordering tracker here; shutting tasks down (rather than signalling each one to stop)
    // keeps a per-message wake-up registration off the hot read loop.
    let trackers: Trackers = Arc::default();
    eprintln!(
        "opening {} subscribers on {} channels",
        a.subscribers(),
        channels.len()
    );
    let mut subscribers = JoinSet::new();
    let mut index = 0usize;
    for ci in 0..channels.len() {
        for i in 0..a.clients_per_class {
            let permit = ctx.dials.clone().acquire_owned().await?;
            let ch = &channels[ci];
            let who = Identity {
                user: format!("p-{}-{i}", ch.class),
                school: ch.school.clone(),
                role: Role::Parent,
                classes: vec![ch.class.clone()],
            };
            let token = ctx.tokens.token(index, &who)?;
            let shard = index;
            index += 1;
            let (channels, windows, stats, trackers) = (
                channels.clone(),
                windows.clone(),
                stats.clone(),
                trackers.clone(),
            );
            let dialer_codec = ctx.dialer.codec();
            // The dial runs inside the task, so up to MAX_CONCURRENT_DIALS proceed at once.
            let opened = open_subscriber(ctx, token, &channels[ci].name);
            subscribers.spawn(subscriber(
                opened,
                permit,
                dialer_codec,
                ci,
                shard,
                channels,
                windows,
                stats,
                trackers,
            ));
        }
    }
    // Wait until every subscriber is subscribed (or failed) before anyone publishes.
    let _all = ctx
        .dials
        .acquire_many(crate::limits::MAX_CONCURRENT_DIALS as u32)
        .await?;
    drop(_all);

    eprintln!("opening {publishers} publishers");
    let mut pub_sockets = Vec::new();
    for ci in 0..channels.len() {
        for j in 0..a.publishers_per_class {
            let ch = &channels[ci];
            let who = Identity {
                user: format!("t-{}-{j}", ch.class),
                school: ch.school.clone(),
                role: Role::Teacher,
                classes: vec![ch.class.clone()],
            };
            match ctx.open_connected(index, &who).await {
                Ok(ws) => {
                    stats.open.fetch_add(1, Relaxed);
                    pub_sockets.push(Some((ci, ws)));
                }
                Err(e) => {
                    stats.connect_failures.fetch_add(1, Relaxed);
                    stats.error(format!("publisher: {e:#}"));
                    pub_sockets.push(None);
                }
            }
            index += 1;
        }
    }

    let text: Arc<str> = "x".repeat(a.payload_bytes).into();
    let per_publisher_period =
        (a.rate > 0.0).then(|| Duration::from_secs_f64(publishers as f64 / a.rate));
    let pending = Arc::new(AtomicU64::new(0));
    let mut pub_tasks = JoinSet::new();
    for (p, sock) in pub_sockets.into_iter().enumerate() {
        let Some((ci, ws)) = sock else { continue };
        let job = Publisher {
            p: p as u32,
            ci,
            codec: ctx.dialer.codec(),
            channels: channels.clone(),
            windows: windows.clone(),
            stats: stats.clone(),
            text: text.clone(),
            cmid_prefix: format!("{}-{p}", ctx.run_id),
            period: per_publisher_period,
            // Spread scheduled publishers evenly over one period.
            offset: per_publisher_period.map(|d| d.mul_f64(p as f64 / publishers as f64)),
            pending: pending.clone(),
        };
        pub_tasks.spawn(job.run(ws, stop_rx.clone(), finish_rx.clone()));
    }

    let window = measure(ctx).await;
    stop_tx.send_replace(true);

    // Drain: every accepted publish delivered to every subscriber of its channel.
    let drained = drain(|| {
        let expected: u64 = channels
            .iter()
            .map(|c| c.acked.load(Relaxed) * c.subscribers.load(Relaxed))
            .sum();
        pending.load(Relaxed) == 0 && stats.delivered_total.load(Relaxed) >= expected
    })
    .await;
    if !drained {
        stats.error("drain timed out: some accepted messages never reached every subscriber");
    }
    let connections = stats.open.load(Relaxed);
    finish_tx.send_replace(true);
    while pub_tasks.join_next().await.is_some() {}
    // Subscriber tasks hold no state but their socket: stop them and read their trackers.
    subscribers.shutdown().await;
    let mut tally = Tally::default();
    for (ci, tracker) in trackers.lock().iter() {
        tally += tracker.lock().tally(channels[*ci].head.load(Relaxed));
    }

    let mut report = Report {
        connections,
        ..Report::default()
    };
    report.fill(
        &stats,
        tally,
        window.measured,
        window.server,
        window.loadgen,
    );
    Ok(report)
}

/// Opens a subscriber: connect, then subscribe to its class channel; returns the socket and the
/// channel's head at subscription.
fn open_subscriber(
    ctx: &Ctx,
    token: String,
    channel: &str,
) -> impl std::future::Future<Output = anyhow::Result<(Ws, u64)>> + Send + 'static {
    let codec = ctx.dialer.codec();
    let dial = ctx.dialer.open_owned();
    let channel = channel.to_owned();
    async move {
        let mut ws = dial.await?;
        conn::request(&mut ws, codec, &Outgoing::connect(1, &token), |_| {}).await?;
        let ok = conn::request(&mut ws, codec, &Outgoing::subscribe(2, &channel), |_| {}).await?;
        Ok((ws, ok.head.unwrap_or(0)))
    }
}

/// Every subscriber's channel index and ordering tracker.
type Trackers = Arc<Mutex<Vec<(usize, Arc<Mutex<SeqTracker>>)>>>;

/// One subscriber's life: wait for its connection, register its tracker, then check and count
/// every message on its channel until its task is shut down or the socket ends.
#[allow(clippy::too_many_arguments)]
async fn subscriber(
    opened: impl std::future::Future<Output = anyhow::Result<(Ws, u64)>>,
    permit: tokio::sync::OwnedSemaphorePermit,
    codec: oneclass_protocol::Codec,
    ci: usize,
    shard: usize,
    channels: Arc<Vec<Channel>>,
    windows: Arc<Vec<InflightWindow>>,
    stats: Arc<crate::stats::Stats>,
    trackers: Trackers,
) {
    let (mut ws, head) = match opened.await {
        Ok(x) => x,
        Err(e) => {
            stats.connect_failures.fetch_add(1, Relaxed);
            stats.error(format!("subscriber: {e:#}"));
            return;
        }
    };
    stats.open.fetch_add(1, Relaxed);
    let channel = &channels[ci];
    channel.subscribers.fetch_add(1, Relaxed);
    // Counted before the permit goes back, so publishers see every subscriber.
    drop(permit);
    let tracker = Arc::new(Mutex::new(SeqTracker::after_head(head)));
    trackers.lock().push((ci, tracker.clone()));
    loop {
        match conn::read(codec, &mut ws).await {
            Ok(Read::Frame(f)) => match f.ev {
                Some(Ev::Msg) if f.channel.as_deref() == Some(channel.name.as_str()) => {
                    let Some(seq) = f.seq else {
                        stats.error("msg without seq");
                        continue;
                    };
                    if tracker.lock().observe(seq).is_new() {
                        let probe = f.probe().unwrap_or_default();
                        stats.delivered(shard, probe.lt_t, now_us());
                        if let Some(w) = windows.get(probe.lt_p as usize) {
                            w.delivered(probe.lt_k);
                        }
                    }
                }
                Some(Ev::Error) => stats.error(format!("error event: {:?}", f.message)),
                _ => {}
            },
            Ok(Read::Control) => {}
            Ok(Read::Closed(code, reason)) => {
                stats.error(format!("subscriber closed: {code:?} {reason}"));
                break;
            }
            Err(e) => {
                stats.error(format!("subscriber: {e:#}"));
                break;
            }
        }
    }
    stats.open.fetch_sub(1, Relaxed);
}

/// One publishing connection.
struct Publisher {
    p: u32,
    ci: usize,
    codec: oneclass_protocol::Codec,
    channels: Arc<Vec<Channel>>,
    windows: Arc<Vec<InflightWindow>>,
    stats: Arc<crate::stats::Stats>,
    text: Arc<str>,
    cmid_prefix: String,
    period: Option<Duration>,
    offset: Option<Duration>,
    /// Publishes sent and not yet answered, over all publishers.
    pending: Arc<AtomicU64>,
}

impl Publisher {
    async fn run(self, ws: Ws, mut stop: watch::Receiver<bool>, finish: watch::Receiver<bool>) {
        let (mut sink, stream) = ws.split();
        let me = Arc::new(self);
        let reader = tokio::spawn(me.clone().read_replies(stream, finish));
        let window = me.windows.get(me.p as usize);
        let mut schedule = me.period.map(|period| {
            let start = tokio::time::Instant::now() + me.offset.unwrap_or_default();
            let mut t = tokio::time::interval_at(start, period);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            (
                t,
                now_us() + me.offset.unwrap_or_default().as_micros() as u64,
                period.as_micros() as u64,
            )
        });
        let channel = &me.channels[me.ci].name;
        let subscribers = me.channels[me.ci].subscribers.load(Relaxed) as u32;
        let mut k: u64 = 0;
        loop {
            let sent_us = match (&mut schedule, window) {
                (Some((tick, base, period)), _) => {
                    tokio::select! {
                        biased;
                        _ = stop.changed() => break,
                        _ = tick.tick() => {}
                    }
                    *base + k * *period
                }
                (None, Some(w)) => {
                    tokio::select! {
                        biased;
                        _ = stop.changed() => break,
                        permit = w.permits.acquire() => match permit {
                            Ok(p) => p.forget(),
                            Err(_) => break,
                        },
                    }
                    w.slot(k).store(subscribers, Release);
                    now_us()
                }
                (None, None) => break,
            };
            if *stop.borrow() {
                break;
            }
            let cmid = format!("{}-{k}", me.cmid_prefix);
            let probe = Probe {
                lt_t: sent_us,
                lt_p: me.p,
                lt_k: k,
            };
            let frame = Outgoing::publish(id_of(k), channel, &me.text, probe, &cmid);
            me.pending.fetch_add(1, Relaxed);
            if let Err(e) = sink.send(frame.message(me.codec)).await {
                me.pending.fetch_sub(1, Relaxed);
                me.stats.error(format!("publish send: {e}"));
                break;
            }
            k += 1;
        }
        let _ = reader.await;
        me.stats.open.fetch_sub(1, Relaxed);
        // Keep the sink alive until the reader is done, so the socket stays open.
        drop(sink);
    }

    async fn read_replies(
        self: Arc<Self>,
        mut stream: futures_util::stream::SplitStream<Ws>,
        mut finish: watch::Receiver<bool>,
    ) {
        let channel = &self.channels[self.ci];
        loop {
            let read = tokio::select! {
                biased;
                _ = finish.changed() => break,
                r = conn::read(self.codec, &mut stream) => r,
            };
            match read {
                Ok(Read::Frame(f)) => {
                    let Some(id) = f.id else { continue };
                    self.pending.fetch_sub(1, Relaxed);
                    if let Some(e) = f.error {
                        self.stats
                            .error(format!("publish refused: {} {}", e.code, e.message));
                        if let Some(w) = self.windows.get(self.p as usize) {
                            w.abandon(u64::from(id - 1));
                        }
                    } else if let Some(seq) = f.ok.and_then(|ok| ok.seq) {
                        channel.head.fetch_max(seq, Relaxed);
                        channel.acked.fetch_add(1, Relaxed);
                        self.stats.published();
                    } else {
                        self.stats.error("publish reply without seq");
                    }
                }
                Ok(Read::Control) => {}
                Ok(Read::Closed(code, reason)) => {
                    self.stats
                        .error(format!("publisher closed: {code:?} {reason}"));
                    break;
                }
                Err(e) => {
                    self.stats.error(format!("publisher: {e:#}"));
                    break;
                }
            }
        }
    }
}

/// The request id of message `k` (ids are u32 and never 0).
fn id_of(k: u64) -> u32 {
    (k % u64::from(u32::MAX)) as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_slot_frees_only_when_every_subscriber_received_it() {
        let w = InflightWindow::new(2);
        for k in 0..2 {
            w.permits.try_acquire().unwrap().forget();
            w.slot(k).store(3, Release);
        }
        assert!(w.permits.try_acquire().is_err());
        w.delivered(0);
        w.delivered(0);
        assert_eq!(w.permits.available_permits(), 0);
        w.delivered(0);
        assert_eq!(w.permits.available_permits(), 1);
        w.abandon(1);
        assert_eq!(w.permits.available_permits(), 2);
        // A stray extra delivery does not create permits.
        w.delivered(1);
        assert_eq!(w.permits.available_permits(), 2);
    }

    #[test]
    fn request_ids_are_never_zero() {
        assert_eq!(id_of(0), 1);
        assert_eq!(id_of(u64::from(u32::MAX) - 1), u32::MAX);
        assert_eq!(id_of(u64::from(u32::MAX)), 1);
    }
}
