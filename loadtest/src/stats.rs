//! Shared counters, the latency histograms, the live progress line, and the report (human
//! summary and JSON). Latencies are recorded in microseconds in HDR histograms sharded by
//! connection, so thousands of connection tasks rarely contend on one lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use parking_lot::Mutex;
use serde::Serialize;

use crate::procstat::{self, ProcSample};
use crate::tracker::Tally;

/// Histogram shards; a power of two well above the core count.
const SHARDS: usize = 64;

/// Highest latency recorded without clamping: one minute, in microseconds.
const MAX_LATENCY_US: u64 = 60_000_000;

/// How many distinct error messages are kept for the report.
const KEPT_ERRORS: usize = 10;

/// Counters every scenario updates.
#[derive(Debug)]
pub struct Stats {
    /// Set between the end of the warmup and the end of the measured window.
    pub measuring: AtomicBool,
    /// Publishes (or notifications) accepted by the server during the measured window.
    pub published: AtomicU64,
    /// Publishes accepted over the whole run.
    pub published_total: AtomicU64,
    /// First-time deliveries during the measured window.
    pub delivered: AtomicU64,
    /// First-time deliveries over the whole run.
    pub delivered_total: AtomicU64,
    /// Failed connections, error replies, undecodable frames, unexpected closes.
    pub errors: AtomicU64,
    /// Connections currently open.
    pub open: AtomicU64,
    /// Connections that could not be opened.
    pub connect_failures: AtomicU64,
    latency: Vec<Mutex<Histogram<u64>>>,
    /// A second latency (notify: acceptance by the REST API).
    latency2: Mutex<Histogram<u64>>,
    first_errors: Mutex<Vec<String>>,
}

fn histogram() -> Histogram<u64> {
    // unwrap: constant, valid bounds.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).unwrap()
}

impl Default for Stats {
    fn default() -> Self {
        Self {
            measuring: AtomicBool::new(false),
            published: AtomicU64::new(0),
            published_total: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            delivered_total: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            open: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            latency: (0..SHARDS).map(|_| Mutex::new(histogram())).collect(),
            latency2: Mutex::new(histogram()),
            first_errors: Mutex::new(Vec::new()),
        }
    }
}

impl Stats {
    pub fn measuring(&self) -> bool {
        self.measuring.load(Relaxed)
    }

    /// Counts an accepted publish.
    pub fn published(&self) {
        self.published_total.fetch_add(1, Relaxed);
        if self.measuring() {
            self.published.fetch_add(1, Relaxed);
        }
    }

    /// Counts a first-time delivery and, while measuring, its latency since `sent_us`.
    pub fn delivered(&self, shard: usize, sent_us: u64, now_us: u64) {
        self.delivered_total.fetch_add(1, Relaxed);
        if self.measuring() {
            self.delivered.fetch_add(1, Relaxed);
            self.record(shard, now_us.saturating_sub(sent_us));
        }
    }

    /// Records a latency in microseconds (while measuring only; callers check).
    pub fn record(&self, shard: usize, us: u64) {
        self.latency[shard % SHARDS]
            .lock()
            .saturating_record(us.clamp(1, MAX_LATENCY_US));
    }

    /// Records the second latency (notify's acceptance time).
    pub fn record2(&self, us: u64) {
        if self.measuring() {
            self.latency2
                .lock()
                .saturating_record(us.clamp(1, MAX_LATENCY_US));
        }
    }

    /// Counts an error, keeping the first few messages.
    pub fn error(&self, what: impl std::fmt::Display) {
        self.errors.fetch_add(1, Relaxed);
        let mut kept = self.first_errors.lock();
        if kept.len() < KEPT_ERRORS {
            kept.push(what.to_string());
        }
    }

    pub fn latency(&self) -> Histogram<u64> {
        let mut all = histogram();
        for shard in &self.latency {
            // unwrap: all shards share bounds.
            all.add(&*shard.lock()).unwrap();
        }
        all
    }

    pub fn latency2(&self) -> Histogram<u64> {
        self.latency2.lock().clone()
    }

    pub fn kept_errors(&self) -> Vec<String> {
        self.first_errors.lock().clone()
    }
}

/// Prints a progress line to stderr every second until dropped.
pub struct Progress(tokio::task::JoinHandle<()>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

impl Progress {
    pub fn start(label: String, stats: Arc<Stats>, quiet: bool) -> Self {
        let handle = tokio::spawn(async move {
            if quiet {
                return;
            }
            let start = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let (mut last_pub, mut last_del) = (0, 0);
            loop {
                tick.tick().await;
                let published = stats.published_total.load(Relaxed);
                let delivered = stats.delivered_total.load(Relaxed);
                eprintln!(
                    "[{label}] {:>4.0}s {} open={} fail={} pub/s={} deliv/s={} errors={}",
                    start.elapsed().as_secs_f64(),
                    if stats.measuring() {
                        "measure"
                    } else {
                        "-------"
                    },
                    stats.open.load(Relaxed),
                    stats.connect_failures.load(Relaxed),
                    published - last_pub,
                    delivered - last_del,
                    stats.errors.load(Relaxed),
                );
                (last_pub, last_del) = (published, delivered);
            }
        });
        Self(handle)
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LatencyMs {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl LatencyMs {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// Server memory at one connection count (connect scenario).
#[derive(Debug, Clone, Serialize)]
pub struct MemoryPoint {
    pub connections: u64,
    pub rss_bytes: u64,
    /// (RSS − RSS before the first connection) / connections.
    pub bytes_per_connection: f64,
}

/// Everything a run measured. The first keys are the ones scripts read (issue 4).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub published: u64,
    pub delivered: u64,
    pub delivered_per_sec: f64,
    pub latency_ms: LatencyMs,
    pub gaps: u64,
    pub duplicates: u64,
    pub reorders: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_s_per_million: Option<f64>,

    pub scenario: String,
    pub label: String,
    pub url: String,
    pub codec: String,
    pub measured_s: f64,
    pub published_per_sec: f64,
    pub connections: u64,
    pub connect_failures: u64,
    /// Total first-time deliveries over warmup, measurement and drain (what the ordering check saw).
    pub delivered_total: u64,
    pub published_total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_utilisation: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_rss_bytes: Option<u64>,
    pub loadgen_cpu_s: f64,
    /// Connect: connections per second over the ramp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_per_sec: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub memory: Vec<MemoryPoint>,
    /// Notify: REST acceptance latency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_latency_ms: Option<LatencyMs>,
    pub first_errors: Vec<String>,
    pub config: serde_json::Value,
}

impl Report {
    /// Fills the shared fields from the counters, the ordering tally and the CPU samples taken
    /// at the start and end of the measured window.
    pub fn fill(
        &mut self,
        stats: &Stats,
        tally: Tally,
        measured: Duration,
        server: Option<(ProcSample, ProcSample)>,
        loadgen: (ProcSample, ProcSample),
    ) {
        let secs = measured.as_secs_f64().max(1e-9);
        self.published = stats.published.load(Relaxed);
        self.delivered = stats.delivered.load(Relaxed);
        self.published_total = stats.published_total.load(Relaxed);
        self.delivered_total = stats.delivered_total.load(Relaxed);
        self.delivered_per_sec = self.delivered as f64 / secs;
        self.published_per_sec = self.published as f64 / secs;
        self.measured_s = secs;
        self.latency_ms = LatencyMs::of(&stats.latency());
        self.gaps = tally.gaps;
        self.duplicates = tally.duplicates;
        self.reorders = tally.reorders;
        self.errors = stats.errors.load(Relaxed);
        self.connect_failures = stats.connect_failures.load(Relaxed);
        self.first_errors = stats.kept_errors();
        if let Some((a, b)) = server {
            let cpu = b.cpu_s - a.cpu_s;
            self.server_cpu_s = Some(cpu);
            self.server_cpu_utilisation = Some(cpu / secs);
            self.server_rss_bytes = Some(b.rss_bytes);
            if self.delivered > 0 {
                self.server_cpu_s_per_million = Some(cpu / (self.delivered as f64 / 1e6));
            }
        }
        self.loadgen_cpu_s = loadgen.1.cpu_s - loadgen.0.cpu_s;
    }

    /// Whether ordering was violated anywhere.
    pub fn ordering_faults(&self) -> bool {
        self.gaps + self.duplicates + self.reorders > 0
    }

    /// The human summary.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "== {} against {} ({}, {}) ==\n",
            self.scenario, self.label, self.url, self.codec
        );
        s += &format!("measured        {:.1} s\n", self.measured_s);
        s += &format!(
            "connections     {} open, {} failed\n",
            self.connections, self.connect_failures
        );
        if let Some(rate) = self.connect_per_sec {
            s += &format!("connect rate    {rate:.0} /s\n");
        }
        s += &format!(
            "published       {} ({:.0}/s)   delivered {} ({:.0}/s)\n",
            self.published, self.published_per_sec, self.delivered, self.delivered_per_sec
        );
        let l = &self.latency_ms;
        s += &format!(
            "latency ms      p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}  (n={})\n",
            l.p50, l.p90, l.p99, l.p999, l.max, l.count
        );
        if let Some(a) = &self.accept_latency_ms {
            s += &format!(
                "accept ms       p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}\n",
                a.p50, a.p90, a.p99, a.p999, a.max
            );
        }
        for m in &self.memory {
            s += &format!(
                "memory          {:>6} conns  rss {:>7.1} MiB  {:>8.0} B/conn\n",
                m.connections,
                m.rss_bytes as f64 / 1048576.0,
                m.bytes_per_connection
            );
        }
        if let Some(cpu) = self.server_cpu_s {
            s += &format!(
                "server cpu      {cpu:.2} s ({:.0}% of one core)",
                self.server_cpu_utilisation.unwrap_or(0.0) * 100.0
            );
            if let Some(m) = self.server_cpu_s_per_million {
                s += &format!(", {m:.2} s per million deliveries");
            }
            s += "\n";
        }
        s += &format!("loadgen cpu     {:.2} s\n", self.loadgen_cpu_s);
        s += &format!(
            "ordering        gaps {}  duplicates {}  reorders {}   errors {}\n",
            self.gaps, self.duplicates, self.reorders, self.errors
        );
        for e in &self.first_errors {
            s += &format!("  error: {e}\n");
        }
        s
    }
}

/// Samples the server under test, if its PID is known.
pub fn server_sample(pid: Option<u32>) -> Option<ProcSample> {
    pid.and_then(procstat::sample)
}
