//! Process-wide counters and histograms the hub renders at `GET /metrics` (Prometheus text).
//! Plain atomics: cheap enough for the hot path, no registry to pass around.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use oneclass_protocol::ErrorCode;

/// A histogram with fixed upper bounds (cumulative buckets are computed when rendering).
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    const fn bounds_len(bounds: &'static [f64]) -> usize {
        bounds.len() + 1
    }

    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..Self::bounds_len(bounds))
                .map(|_| AtomicU64::new(0))
                .collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one observation (in the histogram's unit; the sum keeps 6 decimals).
    pub fn observe(&self, value: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders the histogram in Prometheus text format.
    pub fn render(&self, name: &str, help: &str, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in self.bounds.iter().enumerate() {
            cumulative += self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.counts[self.bounds.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "{name}_sum {sum}\n{name}_count {}",
            self.count.load(Ordering::Relaxed)
        );
    }
}

/// All of the hub's metrics.
#[derive(Debug)]
pub struct Metrics {
    pub ws_connections: AtomicI64,
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub school_restarts: AtomicU64,
    /// Events per journal append issued by school actors.
    pub journal_batch_size: Histogram,
    /// Seconds from append to durable commit, as seen by school actors.
    pub journal_commit_seconds: Histogram,
    errors: Vec<(ErrorCode, AtomicU64)>,
}

const BATCH_BOUNDS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0, 4096.0,
];
const LATENCY_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

impl Metrics {
    fn new() -> Self {
        Self {
            ws_connections: AtomicI64::new(0),
            messages_in: AtomicU64::new(0),
            messages_out: AtomicU64::new(0),
            slow_consumers: AtomicU64::new(0),
            school_restarts: AtomicU64::new(0),
            journal_batch_size: Histogram::new(BATCH_BOUNDS),
            journal_commit_seconds: Histogram::new(LATENCY_BOUNDS),
            errors: ErrorCode::ALL
                .into_iter()
                .map(|c| (c, AtomicU64::new(0)))
                .collect(),
        }
    }

    /// Counts an error sent to a client.
    pub fn error(&self, code: ErrorCode) {
        if let Some((_, n)) = self.errors.iter().find(|(c, _)| *c == code) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Renders every metric but process ones (the hub adds those).
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let gauge = |out: &mut String, name: &str, help: &str, v: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        gauge(
            out,
            "oneclass_ws_connections",
            "Open WebSocket connections.",
            self.ws_connections.load(Ordering::Relaxed),
        );
        counter(
            out,
            "oneclass_messages_in_total",
            "Frames received from clients.",
            self.messages_in.load(Ordering::Relaxed),
        );
        counter(
            out,
            "oneclass_messages_out_total",
            "Frames queued to clients.",
            self.messages_out.load(Ordering::Relaxed),
        );
        counter(
            out,
            "oneclass_slow_consumers_total",
            "Connections closed with 4008.",
            self.slow_consumers.load(Ordering::Relaxed),
        );
        counter(
            out,
            "oneclass_school_restarts_total",
            "School actors restarted after dying.",
            self.school_restarts.load(Ordering::Relaxed),
        );
        self.journal_batch_size.render(
            "oneclass_journal_batch_size",
            "Events per journal append.",
            out,
        );
        self.journal_commit_seconds.render(
            "oneclass_journal_commit_seconds",
            "Append to durable commit.",
            out,
        );
        let _ = writeln!(out, "# HELP oneclass_errors_total Error replies by code.\n# TYPE oneclass_errors_total counter");
        for (code, n) in &self.errors {
            let _ = writeln!(
                out,
                "oneclass_errors_total{{code=\"{code}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: std::sync::OnceLock<Metrics> = std::sync::OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}
