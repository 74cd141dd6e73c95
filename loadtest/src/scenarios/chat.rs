//! `chat`: pairs of users talking in DMs (`dm:{school}:a{i}:b{i}`). User `a` publishes, `b`
//! answers each message it receives from `a` with a publish of its own, and `a` measures the
//! round trip from its publish to the arrival of `b`'s answer. Closed loop by default (one
//! message in flight per pair); `--rate` caps the total round trips started per second. Both
//! users check the DM channel's ordering (each receives every message, its own included).
//!
//! Token order with `--token-file`: a0, b0, a1, b1, …

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt;
use oneclass_protocol::token::Role;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{drain, measure, Ctx};
use crate::conn::{self, now_us, Ev, Incoming, Outgoing, Probe, Read, Ws};
use crate::stats::{Report, Stats};
use crate::tokens::{school_id, Identity};
use crate::tracker::{SeqTracker, Tally};

/// One DM and its final head.
#[derive(Debug)]
struct Pair {
    channel: String,
    a: String,
    b: String,
    head: AtomicU64,
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<Report> {
    let a = &ctx.args;
    let stats = ctx.stats.clone();
    let _progress = crate::stats::Progress::start(a.label.clone(), stats.clone(), a.quiet);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (finish_tx, finish_rx) = watch::channel(false);
    let text: Arc<str> = "x".repeat(a.payload_bytes).into();
    let pace = (a.rate > 0.0).then(|| Duration::from_secs_f64(f64::from(a.pairs) / a.rate));
    let mut tasks = JoinSet::new();
    let mut pairs = Vec::new();
    eprintln!("opening {} DM pairs", a.pairs);
    for i in 0..a.pairs {
        let school = school_id(1 + i % a.schools.max(1));
        let (ua, ub) = (format!("a{i}"), format!("b{i}"));
        let pair = Arc::new(Pair {
            channel: format!("dm:{school}:{ua}:{ub}"),
            a: ua.clone(),
            b: ub.clone(),
            head: AtomicU64::new(0),
        });
        let mut opened = Vec::new();
        for (k, user) in [ua, ub].into_iter().enumerate() {
            let who = Identity {
                user,
                school: school.clone(),
                role: Role::Parent,
                classes: vec![],
            };
            let r = async {
                let mut ws = ctx.open_connected(2 * i as usize + k, &who).await?;
                let ok = conn::request(
                    &mut ws,
                    ctx.dialer.codec(),
                    &Outgoing::subscribe(2, &pair.channel),
                    |_| {},
                )
                .await?;
                anyhow::Ok((ws, ok.head.unwrap_or(0)))
            }
            .await;
            match r {
                Ok(x) => {
                    stats.open.fetch_add(1, Relaxed);
                    opened.push(x);
                }
                Err(e) => {
                    stats.connect_failures.fetch_add(1, Relaxed);
                    stats.error(format!("chat: {e:#}"));
                }
            }
        }
        if opened.len() != 2 {
            continue;
        }
        let (wb, hb) = opened.pop().expect("two sockets");
        let (wa, ha) = opened.pop().expect("two sockets");
        let side = |ws, head, pinger| Side {
            ws,
            tracker: SeqTracker::after_head(head),
            pair: pair.clone(),
            pinger,
            codec: ctx.dialer.codec(),
            stats: stats.clone(),
            shard: i as usize,
            text: text.clone(),
            cmid: format!("{}-{i}-{}", ctx.run_id, if pinger { "a" } else { "b" }),
            next_id: 10,
        };
        tasks.spawn(side(wa, ha, true).run(pace, stop_rx.clone(), finish_rx.clone()));
        tasks.spawn(side(wb, hb, false).run(pace, stop_rx.clone(), finish_rx.clone()));
        pairs.push(pair);
    }
    let window = measure(ctx).await;
    stop_tx.send_replace(true);
    let drained =
        drain(|| stats.delivered_total.load(Relaxed) >= 2 * stats.published_total.load(Relaxed))
            .await;
    if !drained {
        stats.error("drain timed out: some accepted DMs never arrived");
    }
    finish_tx.send_replace(true);
    let mut tally = Tally::default();
    while let Some(r) = tasks.join_next().await {
        if let Ok((pair, tracker)) = r {
            tally += tracker.tally(pair.head.load(Relaxed));
        }
    }
    let mut report = Report {
        connections: 2 * pairs.len() as u64,
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

/// One user of a pair.
struct Side {
    ws: Ws,
    tracker: SeqTracker,
    pair: Arc<Pair>,
    /// `a` (starts each round trip) or `b` (answers).
    pinger: bool,
    codec: oneclass_protocol::Codec,
    stats: Arc<Stats>,
    shard: usize,
    text: Arc<str>,
    cmid: String,
    next_id: u32,
}

impl Side {
    async fn publish(&mut self, probe: Probe) -> anyhow::Result<()> {
        self.next_id += 1;
        let cmid = format!("{}-{}", self.cmid, probe.lt_k);
        let frame = Outgoing::publish(self.next_id, &self.pair.channel, &self.text, probe, &cmid);
        self.ws.send(frame.message(self.codec)).await?;
        Ok(())
    }

    async fn run(
        mut self,
        pace: Option<Duration>,
        mut stop: watch::Receiver<bool>,
        mut finish: watch::Receiver<bool>,
    ) -> (Arc<Pair>, SeqTracker) {
        let mut k = 0u64;
        let mut next_start = tokio::time::Instant::now();
        let mut waiting = false;
        loop {
            if self.pinger && !waiting && !*stop.borrow() {
                if let Some(p) = pace {
                    tokio::time::sleep_until(next_start).await;
                    next_start += p;
                }
                if let Err(e) = self
                    .publish(Probe {
                        lt_t: now_us(),
                        lt_p: 0,
                        lt_k: k,
                    })
                    .await
                {
                    self.stats.error(format!("chat send: {e}"));
                    break;
                }
                waiting = true;
            }
            let read = tokio::select! {
                biased;
                _ = finish.changed() => break,
                _ = stop.changed(), if self.pinger && !waiting => continue,
                r = conn::read(self.codec, &mut self.ws) => r,
            };
            let f = match read {
                Ok(Read::Frame(f)) => f,
                Ok(Read::Control) => continue,
                Ok(Read::Closed(code, reason)) => {
                    self.stats.error(format!("chat closed: {code:?} {reason}"));
                    break;
                }
                Err(e) => {
                    self.stats.error(format!("chat: {e:#}"));
                    break;
                }
            };
            match self.on_frame(*f, k).await {
                Ok(true) => {
                    k += 1;
                    waiting = false;
                }
                Ok(false) => {}
                Err(e) => {
                    self.stats.error(format!("chat: {e:#}"));
                    break;
                }
            }
        }
        self.stats.open.fetch_sub(1, Relaxed);
        (self.pair, self.tracker)
    }

    /// Handles one frame; returns whether it completed the pinger's round trip `k`.
    async fn on_frame(&mut self, f: Incoming, k: u64) -> anyhow::Result<bool> {
        if f.id.is_some() {
            if let Some(e) = f.error {
                self.stats
                    .error(format!("publish refused: {} {}", e.code, e.message));
                // The round trip will not complete; let the pinger start the next one.
                return Ok(self.pinger);
            }
            if let Some(seq) = f.ok.and_then(|o| o.seq) {
                self.pair.head.fetch_max(seq, Relaxed);
                self.stats.published();
            }
            return Ok(false);
        }
        if f.ev != Some(Ev::Msg) || f.channel.as_deref() != Some(self.pair.channel.as_str()) {
            return Ok(false);
        }
        let Some(seq) = f.seq else { return Ok(false) };
        if !self.tracker.observe(seq).is_new() {
            return Ok(false);
        }
        self.stats.delivered_total.fetch_add(1, Relaxed);
        if self.stats.measuring() {
            self.stats.delivered.fetch_add(1, Relaxed);
        }
        let probe = f.probe().unwrap_or_default();
        let from = f.from.as_deref().unwrap_or("");
        if self.pinger && from == self.pair.b && probe.lt_k == k {
            if self.stats.measuring() {
                self.stats
                    .record(self.shard, now_us().saturating_sub(probe.lt_t));
            }
            return Ok(true);
        }
        if !self.pinger && from == self.pair.a {
            self.publish(probe).await?;
        }
        Ok(false)
    }
}
