//! `notify`: a service posts `POST /v1/notifications` (one recipient each, round robin over the
//! connected users) at `--rate` per second. Measures the REST acceptance latency
//! (`accept_latency_ms`) and the arrival latency on the recipient's WebSocket (`latency_ms`,
//! from the send time carried in `data.lt_t`), and checks each inbox's ordering. An accepted
//! notification that never arrives counts as a gap.
//!
//! Token order with `--token-file`: the service token (`school: "*"`, role `service`) first,
//! then one per user.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oneclass_protocol::token::Role;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{drain, measure, Ctx};
use crate::conn::{self, now_us, Ev, Probe, Read};
use crate::http::HttpConn;
use crate::limits::HTTP_WORKERS;
use crate::stats::{LatencyMs, Report};
use crate::tokens::{class_id, school_id, Identity};
use crate::tracker::{SeqTracker, Tally};

/// Notifications per second when `--rate` is 0.
const DEFAULT_RATE: f64 = 200.0;

pub async fn run(ctx: &Ctx) -> anyhow::Result<Report> {
    let a = &ctx.args;
    let stats = ctx.stats.clone();
    let _progress = crate::stats::Progress::start(a.label.clone(), stats.clone(), a.quiet);
    let service = Identity {
        user: "loadtest".into(),
        school: "*".into(),
        role: Role::Service,
        classes: vec![],
    };
    let service_token = ctx.tokens.token(0, &service)?;
    let users = a.subscribers().max(1);
    let (finish_tx, finish_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut recipients = Vec::new();
    let mut readers = JoinSet::new();
    eprintln!("opening {users} recipients");
    for u in 0..users {
        let school = school_id(
            1 + (u / u64::from(a.classes * a.clients_per_class).max(1)) as u32 % a.schools.max(1),
        );
        let class =
            class_id(1 + (u / u64::from(a.clients_per_class).max(1)) as u32 % a.classes.max(1));
        let who = Identity {
            user: format!("n{u}"),
            school,
            role: Role::Parent,
            classes: vec![class],
        };
        let mut ws = match ctx.open_connected(1 + u as usize, &who).await {
            Ok(ws) => ws,
            Err(e) => {
                stats.connect_failures.fetch_add(1, Relaxed);
                stats.error(format!("recipient: {e:#}"));
                continue;
            }
        };
        stats.open.fetch_add(1, Relaxed);
        recipients.push((who.school.clone(), who.user.clone()));
        let (codec, stats, mut finish) = (ctx.dialer.codec(), stats.clone(), finish_rx.clone());
        readers.spawn(async move {
            let mut tracker = SeqTracker::unanchored();
            loop {
                let read = tokio::select! {
                    biased;
                    _ = finish.changed() => break,
                    r = conn::read(codec, &mut ws) => r,
                };
                match read {
                    Ok(Read::Frame(f)) if f.ev == Some(Ev::Notification) => {
                        if tracker.observe(f.seq.unwrap_or(0)).is_new() {
                            let probe = f.probe().unwrap_or_default();
                            stats.delivered(u as usize, probe.lt_t, now_us());
                        }
                    }
                    Ok(Read::Frame(_) | Read::Control) => {}
                    Ok(Read::Closed(code, reason)) => {
                        stats.error(format!("recipient closed: {code:?} {reason}"));
                        break;
                    }
                    Err(e) => {
                        stats.error(format!("recipient: {e:#}"));
                        break;
                    }
                }
            }
            stats.open.fetch_sub(1, Relaxed);
            tracker
        });
    }
    let recipients = Arc::new(recipients);
    let rate = if a.rate > 0.0 { a.rate } else { DEFAULT_RATE };
    let period = Duration::from_secs_f64(HTTP_WORKERS as f64 / rate);
    let in_flight = Arc::new(AtomicU64::new(0));
    let mut posters = JoinSet::new();
    let base = ctx.args.http_base();
    for w in 0..HTTP_WORKERS {
        let (recipients, stats, in_flight, mut stop) = (
            recipients.clone(),
            stats.clone(),
            in_flight.clone(),
            stop_rx.clone(),
        );
        let (base, token, run_id) = (base.clone(), service_token.clone(), ctx.run_id.clone());
        let text = "x".repeat(a.payload_bytes);
        posters.spawn(async move {
            if recipients.is_empty() {
                return;
            }
            let mut conn = match HttpConn::open(&base).await {
                Ok(c) => c,
                Err(e) => return stats.error(format!("http: {e:#}")),
            };
            let auth = format!("Bearer {token}");
            let start =
                tokio::time::Instant::now() + period.mul_f64(w as f64 / HTTP_WORKERS as f64);
            let mut tick = tokio::time::interval_at(start, period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            for k in 0u64.. {
                tokio::select! {
                    biased;
                    _ = stop.changed() => break,
                    _ = tick.tick() => {}
                }
                let (school, user) = &recipients
                    [((k * HTTP_WORKERS as u64 + w as u64) % recipients.len() as u64) as usize];
                let probe = Probe {
                    lt_t: now_us(),
                    lt_p: w as u32,
                    lt_k: k,
                };
                let body = serde_json::json!({
                    "school": school, "to": {"users": [user]}, "kind": "event",
                    "title": "loadtest", "body": text, "data": probe,
                });
                let key = format!("{run_id}-{w}-{k}");
                let t0 = Instant::now();
                in_flight.fetch_add(1, Relaxed);
                let r = conn
                    .request(
                        "POST",
                        "/v1/notifications",
                        &[
                            ("Authorization", &auth),
                            ("Content-Type", "application/json"),
                            ("Idempotency-Key", &key),
                        ],
                        body.to_string().as_bytes(),
                    )
                    .await;
                in_flight.fetch_sub(1, Relaxed);
                match r {
                    Ok((200..=202, _)) => {
                        stats.record2(t0.elapsed().as_micros() as u64);
                        stats.published();
                    }
                    Ok((status, body)) => stats.error(format!(
                        "notification: HTTP {status} {}",
                        String::from_utf8_lossy(&body)
                    )),
                    Err(e) => {
                        stats.error(format!("notification: {e:#}"));
                        break;
                    }
                }
            }
        });
    }
    let window = measure(ctx).await;
    stop_tx.send_replace(true);
    while posters.join_next().await.is_some() {}
    let drained =
        drain(|| stats.delivered_total.load(Relaxed) >= stats.published_total.load(Relaxed)).await;
    if !drained {
        stats.error("drain timed out: some accepted notifications never arrived");
    }
    finish_tx.send_replace(true);
    let mut tally = Tally::default();
    while let Some(Ok(tracker)) = readers.join_next().await {
        tally += tracker.tally(0);
    }
    // Accepted but never delivered anywhere is a gap as well.
    tally.gaps += stats
        .published_total
        .load(Relaxed)
        .saturating_sub(stats.delivered_total.load(Relaxed));
    let mut report = Report {
        connections: recipients.len() as u64,
        ..Report::default()
    };
    report.fill(
        &stats,
        tally,
        window.measured,
        window.server,
        window.loadgen,
    );
    report.accept_latency_ms = Some(LatencyMs::of(&stats.latency2()));
    Ok(report)
}
