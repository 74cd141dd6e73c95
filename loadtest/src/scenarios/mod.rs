//! The four scenarios and what they share: the run context, opening an authenticated
//! connection, the measured window (warmup, then CPU samples around the measurement) and the
//! drain that waits for in-flight messages before ordering is tallied.

mod chat;
mod connect;
mod fanout;
mod notify;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Semaphore;

use crate::cli::{Args, Scenario};
use crate::conn::{self, Dialer, Outgoing, Ws};
use crate::limits::MAX_CONCURRENT_DIALS;
use crate::procstat::{self, ProcSample};
use crate::stats::{server_sample, Report, Stats};
use crate::tokens::{Identity, Tokens};

/// Longest wait after the load stops for acknowledged messages to arrive everywhere.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the drain checks whether everything arrived.
const DRAIN_POLL: Duration = Duration::from_millis(20);

/// What every scenario runs with.
#[derive(Debug)]
pub struct Ctx {
    pub args: Args,
    pub dialer: Dialer,
    pub tokens: Tokens,
    pub stats: Arc<Stats>,
    /// Bounds connections being opened at once ([`MAX_CONCURRENT_DIALS`]).
    pub dials: Arc<Semaphore>,
    /// Distinguishes this run's idempotency keys from earlier runs against the same server.
    pub run_id: String,
}

impl Ctx {
    pub async fn new(args: Args) -> anyhow::Result<Self> {
        let sources = args.source_ips.clone().map(|s| s.0).unwrap_or_default();
        let dialer = Dialer::new(&args.url, args.codec.into(), sources).await?;
        let tokens = Tokens::from_args(&args)?;
        let run_id = format!(
            "lt{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        Ok(Self {
            args,
            dialer,
            tokens,
            stats: Arc::new(Stats::default()),
            dials: Arc::new(Semaphore::new(MAX_CONCURRENT_DIALS)),
            run_id,
        })
    }

    /// Opens a connection and sends `connect` as `who` (token `index`).
    pub async fn open_connected(&self, index: usize, who: &Identity) -> anyhow::Result<Ws> {
        let token = self.tokens.token(index, who)?;
        let codec = self.dialer.codec();
        let mut ws = self.dialer.open().await?;
        conn::request(&mut ws, codec, &Outgoing::connect(1, &token), |_| {})
            .await
            .with_context(|| format!("connect as {}/{}", who.school, who.user))?;
        Ok(ws)
    }
}

/// CPU samples around the measured window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub measured: Duration,
    pub server: Option<(ProcSample, ProcSample)>,
    pub loadgen: (ProcSample, ProcSample),
}

/// Runs the warmup, then the measured window, with `stats.measuring` set during the latter.
pub async fn measure(ctx: &Ctx) -> Window {
    tokio::time::sleep(ctx.args.warmup).await;
    let pid = ctx.args.hub_pid;
    let (s0, l0) = (server_sample(pid), procstat::sample_self());
    let start = Instant::now();
    ctx.stats
        .measuring
        .store(true, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(ctx.args.duration).await;
    ctx.stats
        .measuring
        .store(false, std::sync::atomic::Ordering::Relaxed);
    let measured = start.elapsed();
    let (s1, l1) = (server_sample(pid), procstat::sample_self());
    Window {
        measured,
        server: s0.zip(s1),
        loadgen: (l0, l1),
    }
}

/// Waits until `done()` holds or [`DRAIN_TIMEOUT`] passes; returns whether it held.
pub async fn drain(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(DRAIN_POLL).await;
    }
    done()
}

/// Runs the scenario the arguments name.
pub async fn run(args: Args) -> anyhow::Result<Report> {
    let ctx = Ctx::new(args).await?;
    let mut report = match ctx.args.scenario {
        Scenario::Fanout => fanout::run(&ctx).await?,
        Scenario::Connect => connect::run(&ctx).await?,
        Scenario::Chat => chat::run(&ctx).await?,
        Scenario::Notify => notify::run(&ctx).await?,
    };
    let a = &ctx.args;
    report.scenario = format!("{:?}", a.scenario).to_lowercase();
    report.label = a.label.clone();
    report.url = a.url.clone();
    report.codec = format!("{:?}", a.codec).to_lowercase();
    report.config = serde_json::json!({
        "schools": a.schools, "classes": a.classes, "clients_per_class": a.clients_per_class,
        "publishers_per_class": a.publishers_per_class, "payload_bytes": a.payload_bytes,
        "rate": a.rate, "inflight": a.inflight, "warmup_s": a.warmup.as_secs_f64(),
        "duration_s": a.duration.as_secs_f64(), "pairs": a.pairs, "connections": a.connections,
        "ws_only": a.ws_only,
        "source_ips": a.source_ips.as_ref().map(|s| s.0.len()).unwrap_or(0),
    });
    Ok(report)
}
