//! `connect`: ramps to N idle connections at `--rate` per second, pausing at each checkpoint to
//! let the server settle and sampling its resident memory there; then holds all of them for
//! `--duration`. Reports the connect rate, failures, connection set-up latency (TCP + upgrade +
//! `connect` reply) and the server's memory per connection at each size.
//!
//! Each connection sends `connect` and then only reads (tungstenite answers the server's
//! heartbeat pings). With `--ws-only` it opens the WebSocket and sends nothing, for servers that
//! speak no protocol (the bare actix-ws peer).
//!
//! Token order with `--token-file`: one per connection, in dial order.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oneclass_protocol::token::Role;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Ctx;
use crate::conn::{self, now_us, Outgoing, Read};
use crate::limits::RESERVED_FDS;
use crate::procstat;
use crate::stats::{MemoryPoint, Report};
use crate::tokens::{class_id, school_id, Identity};
use crate::tracker::Tally;

/// Pause at each checkpoint before sampling memory, so lazily freed buffers and a garbage
/// collector have settled.
const SETTLE: Duration = Duration::from_secs(2);

/// The server's resident memory: `/proc` when the PID is known, else its `/metrics`.
async fn server_rss(ctx: &Ctx) -> Option<u64> {
    if let Some(pid) = ctx.args.hub_pid {
        return procstat::sample(pid).map(|s| s.rss_bytes);
    }
    if ctx.args.ws_only {
        return None;
    }
    let text = crate::http::get(&ctx.args.http_base(), "/metrics")
        .await
        .ok()?;
    procstat::rss_from_metrics(&text)
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<Report> {
    let a = &ctx.args;
    let total = u64::from(a.connections.unwrap_or(a.subscribers() as u32));
    let nofile = crate::limits::raise_nofile();
    if total + RESERVED_FDS > nofile {
        eprintln!(
            "warning: {total} connections need more than the open-file limit {nofile} allows; \
             the excess will fail"
        );
    }
    let mut checkpoints: Vec<u64> = a
        .checkpoints
        .iter()
        .map(|&c| u64::from(c))
        .filter(|&c| c > 0 && c < total)
        .collect();
    checkpoints.push(total);
    checkpoints.sort_unstable();
    checkpoints.dedup();

    let stats = ctx.stats.clone();
    let _progress = crate::stats::Progress::start(a.label.clone(), stats.clone(), a.quiet);
    let (finish_tx, finish_rx) = watch::channel(false);
    let baseline = server_rss(ctx).await;
    let settled = Arc::new(AtomicU64::new(0));
    let mut held = JoinSet::new();
    let mut memory = Vec::new();
    let mut ramp_time = Duration::ZERO;
    let mut dialed = 0u64;
    stats.measuring.store(true, Relaxed);
    let l0 = procstat::sample_self();
    let s0 = crate::stats::server_sample(a.hub_pid);

    for &target in &checkpoints {
        let start = Instant::now();
        let base_dialed = dialed;
        while dialed < target {
            if a.rate > 0.0 {
                let due = start + Duration::from_secs_f64((dialed - base_dialed) as f64 / a.rate);
                tokio::time::sleep_until(due.into()).await;
            }
            let permit = ctx.dials.clone().acquire_owned().await?;
            let index = dialed as usize;
            let school = school_id(
                1 + (index as u32 / a.classes.max(1) / a.clients_per_class.max(1))
                    % a.schools.max(1),
            );
            let class =
                class_id(1 + (index as u32 / a.clients_per_class.max(1)) % a.classes.max(1));
            let who = Identity {
                user: format!("i{index}"),
                school,
                role: Role::Parent,
                classes: vec![class],
            };
            let token = if a.ws_only {
                String::new()
            } else {
                ctx.tokens.token(index, &who)?
            };
            let (dial, codec, ws_only) = (ctx.dialer.open_owned(), ctx.dialer.codec(), a.ws_only);
            let (stats, settled, mut finish) = (stats.clone(), settled.clone(), finish_rx.clone());
            held.spawn(async move {
                let t0 = now_us();
                let opened = async {
                    let mut ws = dial.await?;
                    if !ws_only {
                        conn::request(&mut ws, codec, &Outgoing::connect(1, &token), |_| {})
                            .await?;
                    }
                    anyhow::Ok(ws)
                }
                .await;
                drop(permit);
                let mut ws = match opened {
                    Ok(ws) => ws,
                    Err(e) => {
                        stats.connect_failures.fetch_add(1, Relaxed);
                        stats.error(format!("connect: {e:#}"));
                        settled.fetch_add(1, Relaxed);
                        return;
                    }
                };
                stats.record(index, now_us() - t0);
                stats.open.fetch_add(1, Relaxed);
                settled.fetch_add(1, Relaxed);
                loop {
                    let read = tokio::select! {
                        biased;
                        _ = finish.changed() => break,
                        r = conn::read(codec, &mut ws) => r,
                    };
                    match read {
                        Ok(Read::Frame(_) | Read::Control) => {}
                        Ok(Read::Closed(code, reason)) => {
                            stats.error(format!("idle connection closed: {code:?} {reason}"));
                            break;
                        }
                        Err(e) => {
                            stats.error(format!("idle connection: {e:#}"));
                            break;
                        }
                    }
                }
                stats.open.fetch_sub(1, Relaxed);
            });
            dialed += 1;
        }
        while settled.load(Relaxed) < dialed {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        ramp_time += start.elapsed();
        tokio::time::sleep(SETTLE).await;
        let open = stats.open.load(Relaxed);
        if let (Some(base), Some(rss)) = (baseline, server_rss(ctx).await) {
            memory.push(MemoryPoint {
                connections: open,
                rss_bytes: rss,
                bytes_per_connection: rss.saturating_sub(base) as f64 / open.max(1) as f64,
            });
        } else {
            memory.push(MemoryPoint {
                connections: open,
                rss_bytes: 0,
                bytes_per_connection: 0.0,
            });
        }
    }
    let opened = stats.open.load(Relaxed);
    tokio::time::sleep(a.duration).await;
    stats.measuring.store(false, Relaxed);
    let (l1, s1) = (
        procstat::sample_self(),
        crate::stats::server_sample(a.hub_pid),
    );
    let still_open = stats.open.load(Relaxed);
    finish_tx.send_replace(true);
    while held.join_next().await.is_some() {}

    let mut report = Report::default();
    report.fill(
        &stats,
        Tally::default(),
        ramp_time + a.duration,
        s0.zip(s1),
        (l0, l1),
    );
    report.connections = still_open;
    report.connect_per_sec = Some(opened as f64 / ramp_time.as_secs_f64().max(1e-9));
    if baseline.is_some() {
        report.memory = memory;
    }
    if let Some(base) = baseline {
        eprintln!(
            "server rss before connecting: {:.1} MiB",
            base as f64 / 1048576.0
        );
    }
    Ok(report)
}
