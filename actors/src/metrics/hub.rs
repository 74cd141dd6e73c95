//! [`Metrics`]: one hub's `prometheus-client` registry and the handles its parts record into.
//!
//! Every metric is registered once, in [`Metrics::new`]; after that the registry is only read
//! (by [`Metrics::encode`] on a scrape), and recording goes through the handles, which are
//! atomics shared with the registry. A scrape never changes a value.
//!
//! Names are the ones the hub has always exposed. `prometheus-client` adds `_total` to a counter
//! and appends a full stop to each help text, so counters are registered without the suffix and
//! help texts without the stop.
//!
//! Labelled metrics are a [`Family`] keyed by a small label struct, as [`ErrorLabels`] is for
//! errors by code. Counts that need more dimensions (the delivery engine's sends by provider and
//! outcome) get their own label struct and `Family` here, registered the same way.

use oneclass_protocol::ErrorCode;
use prometheus_client::encoding::{prometheus_text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::process::ProcessCollector;

/// Upper bounds of the journal batch-size histogram, in events per append.
const BATCH_BOUNDS: [f64; 11] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0, 4096.0,
];
/// Upper bounds of the commit-latency histogram, in seconds: half a millisecond (an SQLite
/// group commit) to 2.5 s (a struggling Cassandra quorum).
const LATENCY_BOUNDS: [f64; 12] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The labels of `oneclass_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    /// The wire name of the [`ErrorCode`] (`forbidden`, `bad_request`, …).
    code: &'static str,
}

/// The labels of `oneclass_rate_limited_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RateLimitLabels {
    /// The refused op (`publish`, `subscribe`, …).
    op: &'static str,
    /// The quota that refused: `connection`, `user` or `school`.
    scope: &'static str,
}

/// The labels of `oneclass_delivery_failovers_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailoverLabels {
    /// The provider the delivery left.
    from: String,
    /// Why (a `Failure::class`, or `deadline`).
    reason: &'static str,
}

/// The labels of `oneclass_callbacks_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallbackLabels {
    /// The configured provider name the callback is for (`unknown` for a name not configured,
    /// so forged paths cannot grow the label set).
    provider: String,
    /// Per report or message: `applied` (journaled), `duplicate` (stale or repeated, not
    /// journaled), `unknown` (message id not in the index), `consent` (opt-out or opt-in
    /// journaled); per callback: `ignored` (nothing in it for the hub), `handshake`,
    /// `unauthorized`, `malformed`, `unknown_provider`, `failed` (journal unavailable).
    outcome: &'static str,
}

/// The labels of `oneclass_delivery_attempts_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryAttemptLabels {
    /// The configured provider name (`telone`, `econet`, …).
    provider: String,
    /// The client's outcome class (`sent`, `retry_after`, `retry_backoff`, `drop_recipient`,
    /// `fix_message`, `fix_config`).
    outcome: &'static str,
}

/// The label of the per-provider gauges.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
}

/// The metrics of one hub. Shared as `Arc<Metrics>`; every handle is cheap to record into from
/// any thread.
#[derive(Debug)]
pub struct Metrics {
    /// What `/metrics` renders; only read after [`Metrics::new`].
    registry: Registry,
    /// Open WebSocket connections (sessions started and not yet stopped).
    pub ws_connections: Gauge,
    /// Frames received from clients.
    pub messages_in: Counter,
    /// Frames queued to clients: replies, events of live fan-out and of catch-up replays.
    pub messages_out: Counter,
    /// Connections closed with 4008 (outbound queue over its bound or its lag).
    pub slow_consumers: Counter,
    /// Connections closed with 1009: a message announced over the limit, or whose framing
    /// filled the read budget.
    pub ws_too_large: Counter,
    /// Times a connection's read budget was full and the hub stopped reading it until its
    /// session handled a message.
    pub ws_read_paused: Counter,
    /// The most any one connection has held read and not yet handled, in budget bytes (bytes
    /// plus a charge per frame): a high-water mark since the hub started, never above
    /// `max_message_bytes + read_ahead_bytes`.
    pub ws_read_peak_bytes: Gauge,
    /// School actors found dead by a lookup and started again.
    pub school_restarts: Counter,
    /// School actors in the registry, as of its last change or sweep (the supervisor sweeps
    /// every second, so a stopped actor is counted for at most that long).
    pub schools_active: Gauge,
    /// Events per journal append issued by school actors.
    pub journal_batch_size: Histogram,
    /// Seconds from append to durable commit, as seen by school actors.
    pub journal_commit_seconds: Histogram,
    /// Frames for clients that would have broken the protocol's limits and were replaced
    /// (see `frame_limits.rs`); anything above zero means an edge check is missing.
    pub frames_withheld: Counter,
    /// Error replies (WebSocket and REST) by code.
    errors: Family<ErrorLabels, Counter>,
    /// Commands refused by a rate limit, by op and scope.
    rate_limited: Family<RateLimitLabels, Counter>,
    /// Connections closed with 4029 for sending on after being refused.
    pub rate_limit_closes: Counter,
    /// Keys (users, schools) the rate limiters hold state for, as of the last prune.
    pub rate_limit_keys: Gauge,
    /// Channel states held by school actors (a channel with subscribers or writes in flight).
    pub channel_states: Gauge,
    /// Provider calls by provider and outcome class.
    delivery_attempts: Family<DeliveryAttemptLabels, Counter>,
    /// Deliveries waiting in each provider actor's queue (in flight not included).
    provider_queue_depth: Family<ProviderLabels, Gauge>,
    /// Each provider's circuit: 0 closed, 1 half-open, 2 open.
    provider_circuit_state: Family<ProviderLabels, Gauge>,
    /// Deliveries a kind's router moved off a provider, by provider and reason.
    delivery_failovers: Family<FailoverLabels, Counter>,
    /// Provider callbacks (delivery reports, inbound messages) by provider and outcome.
    callbacks: Family<CallbackLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// The `Content-Type` of what [`Metrics::encode`] writes.
    pub const CONTENT_TYPE: &'static str = prometheus_text::CONTENT_TYPE;

    /// A registry with every metric of the hub at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let ws_connections = Gauge::default();
        registry.register(
            "oneclass_ws_connections",
            "Open WebSocket connections",
            ws_connections.clone(),
        );
        let messages_in = Counter::default();
        registry.register(
            "oneclass_messages_in",
            "Frames received from clients",
            messages_in.clone(),
        );
        let messages_out = Counter::default();
        registry.register(
            "oneclass_messages_out",
            "Frames queued to clients",
            messages_out.clone(),
        );
        let slow_consumers = Counter::default();
        registry.register(
            "oneclass_slow_consumers",
            "Connections closed with 4008",
            slow_consumers.clone(),
        );
        let ws_too_large = Counter::default();
        registry.register(
            "oneclass_ws_too_large",
            "Connections closed with 1009, message too large",
            ws_too_large.clone(),
        );
        let ws_read_paused = Counter::default();
        registry.register(
            "oneclass_ws_read_paused",
            "Times a connection's read budget was full and reading paused",
            ws_read_paused.clone(),
        );
        let ws_read_peak_bytes = Gauge::default();
        registry.register_with_unit(
            "oneclass_ws_read_peak",
            "Most one connection has held read and not yet handled (high-water mark)",
            Unit::Bytes,
            ws_read_peak_bytes.clone(),
        );
        let school_restarts = Counter::default();
        registry.register(
            "oneclass_school_restarts",
            "School actors restarted after dying",
            school_restarts.clone(),
        );
        let journal_batch_size = Histogram::new(BATCH_BOUNDS);
        registry.register(
            "oneclass_journal_batch_size",
            "Events per journal append",
            journal_batch_size.clone(),
        );
        let journal_commit_seconds = Histogram::new(LATENCY_BOUNDS);
        registry.register_with_unit(
            "oneclass_journal_commit",
            "Append to durable commit",
            Unit::Seconds,
            journal_commit_seconds.clone(),
        );
        let frames_withheld = Counter::default();
        registry.register(
            "oneclass_frames_withheld",
            "Frames for clients withheld for breaking the protocol's limits",
            frames_withheld.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        // Every code is listed from the start, at zero, so a rate over it never begins at a gap.
        for code in ErrorCode::ALL {
            drop(errors.get_or_create(&ErrorLabels {
                code: code.as_str(),
            }));
        }
        registry.register("oneclass_errors", "Error replies by code", errors.clone());
        registry.register_collector(Box::new(ProcessCollector));
        let schools_active = Gauge::default();
        registry.register(
            "oneclass_schools_active",
            "School actors running",
            schools_active.clone(),
        );
        let rate_limited = Family::<RateLimitLabels, Counter>::default();
        for op in crate::rate_limit::Op::ALL {
            for scope in crate::rate_limit::Scope::ALL {
                drop(rate_limited.get_or_create(&RateLimitLabels {
                    op: op.as_str(),
                    scope: scope.as_str(),
                }));
            }
        }
        registry.register(
            "oneclass_rate_limited",
            "Commands refused by a rate limit, by op and scope",
            rate_limited.clone(),
        );
        let rate_limit_closes = Counter::default();
        registry.register(
            "oneclass_rate_limit_closes",
            "Connections closed with 4029",
            rate_limit_closes.clone(),
        );
        let rate_limit_keys = Gauge::default();
        registry.register(
            "oneclass_rate_limit_keys",
            "Keys the rate limiters hold state for",
            rate_limit_keys.clone(),
        );
        let channel_states = Gauge::default();
        registry.register(
            "oneclass_channel_states",
            "Channel states held by school actors",
            channel_states.clone(),
        );
        let delivery_attempts = Family::<DeliveryAttemptLabels, Counter>::default();
        registry.register(
            "oneclass_delivery_attempts",
            "Provider calls by provider and outcome",
            delivery_attempts.clone(),
        );
        let callbacks = Family::<CallbackLabels, Counter>::default();
        registry.register(
            "oneclass_callbacks",
            "Provider callbacks by provider and outcome",
            callbacks.clone(),
        );
        let provider_queue_depth = Family::<ProviderLabels, Gauge>::default();
        registry.register(
            "oneclass_provider_queue_depth",
            "Deliveries queued at each provider actor",
            provider_queue_depth.clone(),
        );
        let provider_circuit_state = Family::<ProviderLabels, Gauge>::default();
        registry.register(
            "oneclass_provider_circuit_state",
            "Each provider's circuit breaker: 0 closed, 1 half-open, 2 open",
            provider_circuit_state.clone(),
        );
        let delivery_failovers = Family::<FailoverLabels, Counter>::default();
        registry.register(
            "oneclass_delivery_failovers",
            "Deliveries moved off a provider to the next of its kind, by reason",
            delivery_failovers.clone(),
        );
        Self {
            registry,
            ws_connections,
            messages_in,
            messages_out,
            slow_consumers,
            ws_too_large,
            ws_read_paused,
            ws_read_peak_bytes,
            school_restarts,
            schools_active,
            journal_batch_size,
            journal_commit_seconds,
            frames_withheld,
            errors,
            rate_limited,
            rate_limit_closes,
            rate_limit_keys,
            channel_states,
            delivery_attempts,
            provider_queue_depth,
            provider_circuit_state,
            delivery_failovers,
            callbacks,
        }
    }

    /// Counts one delivery moved off `from` for `reason`.
    pub fn delivery_failover(&self, from: &str, reason: &'static str) {
        self.delivery_failovers
            .get_or_create(&FailoverLabels {
                from: from.to_owned(),
                reason,
            })
            .inc();
    }

    /// Counts one provider callback that ended in `outcome`.
    pub fn callback(&self, provider: &str, outcome: &'static str) {
        self.callbacks
            .get_or_create(&CallbackLabels {
                provider: provider.to_owned(),
                outcome,
            })
            .inc();
    }

    /// How many deliveries left `from` for `reason`.
    pub fn delivery_failovers(&self, from: &str, reason: &'static str) -> u64 {
        self.delivery_failovers
            .get(&FailoverLabels {
                from: from.to_owned(),
                reason,
            })
            .map_or(0, |c| c.get())
    }

    /// The count behind [`Self::callback`], for tests.
    pub fn callbacks(&self, provider: &str, outcome: &'static str) -> u64 {
        self.callbacks
            .get(&CallbackLabels {
                provider: provider.to_owned(),
                outcome,
            })
            .map_or(0, |c| c.get())
    }

    /// Counts one provider call that ended in `outcome` (an `Outcome::class`).
    pub fn delivery_attempt(&self, provider: &str, outcome: &'static str) {
        self.delivery_attempts
            .get_or_create(&DeliveryAttemptLabels {
                provider: provider.to_owned(),
                outcome,
            })
            .inc();
    }

    /// How many calls to `provider` ended in `outcome`.
    pub fn delivery_attempts(&self, provider: &str, outcome: &'static str) -> u64 {
        self.delivery_attempts
            .get(&DeliveryAttemptLabels {
                provider: provider.to_owned(),
                outcome,
            })
            .map_or(0, |c| c.get())
    }

    /// Sets `provider`'s queue depth.
    pub fn set_provider_queue_depth(&self, provider: &str, depth: usize) {
        self.provider_queue_depth
            .get_or_create(&ProviderLabels {
                provider: provider.to_owned(),
            })
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Sets `provider`'s circuit-state gauge (0 closed, 1 half-open, 2 open).
    pub fn set_provider_circuit_state(&self, provider: &str, state: i64) {
        self.provider_circuit_state
            .get_or_create(&ProviderLabels {
                provider: provider.to_owned(),
            })
            .set(state);
    }

    /// `provider`'s circuit-state gauge.
    pub fn provider_circuit_state(&self, provider: &str) -> i64 {
        self.provider_circuit_state
            .get(&ProviderLabels {
                provider: provider.to_owned(),
            })
            .map_or(0, |g| g.get())
    }

    /// Counts a command refused by the `scope` quota of `op` (labels as in [`crate::rate_limit`]).
    pub fn rate_limited(&self, op: &'static str, scope: &'static str) {
        self.rate_limited
            .get_or_create(&RateLimitLabels { op, scope })
            .inc();
    }

    /// How many commands of `op` the `scope` quota refused.
    pub fn rate_limited_count(&self, op: &'static str, scope: &'static str) -> u64 {
        self.rate_limited
            .get(&RateLimitLabels { op, scope })
            .map_or(0, |c| c.get())
    }

    /// Counts an error sent to a client.
    pub fn error(&self, code: ErrorCode) {
        self.errors
            .get_or_create(&ErrorLabels {
                code: code.as_str(),
            })
            .inc();
    }

    /// How many errors with `code` were sent.
    pub fn errors(&self, code: ErrorCode) -> u64 {
        self.errors
            .get(&ErrorLabels {
                code: code.as_str(),
            })
            .map_or(0, |c| c.get())
    }

    /// Appends every metric to `out` in the Prometheus text format ([`Metrics::CONTENT_TYPE`]).
    /// Fails only if writing to `out` fails.
    pub fn encode(&self, out: &mut String) -> std::fmt::Result {
        prometheus_text::encode(out, &self.registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(metrics: &Metrics) -> String {
        let mut out = String::new();
        metrics.encode(&mut out).unwrap();
        out
    }

    /// The value of the sample `name` (with its labels, as rendered).
    fn sample(text: &str, name: &str) -> Option<f64> {
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (n, v) = l.rsplit_once(' ')?;
            (n == name).then(|| v.parse().ok()).flatten()
        })
    }

    #[test]
    fn delivery_metrics_are_labelled_by_provider_and_outcome() {
        let m = Metrics::new();
        m.delivery_attempt("telone", "sent");
        m.delivery_attempt("telone", "sent");
        m.delivery_attempt("econet", "retry_backoff");
        m.set_provider_queue_depth("telone", 7);
        m.set_provider_circuit_state("econet", 2);
        assert_eq!(m.delivery_attempts("telone", "sent"), 2);
        assert_eq!(m.provider_circuit_state("econet"), 2);
        let text = rendered(&m);
        for (name, value) in [
            (
                "oneclass_delivery_attempts_total{provider=\"telone\",outcome=\"sent\"}",
                2.0,
            ),
            (
                "oneclass_delivery_attempts_total{provider=\"econet\",outcome=\"retry_backoff\"}",
                1.0,
            ),
            ("oneclass_provider_queue_depth{provider=\"telone\"}", 7.0),
            ("oneclass_provider_circuit_state{provider=\"econet\"}", 2.0),
        ] {
            assert_eq!(sample(&text, name), Some(value), "{name} in\n{text}");
        }
    }

    #[test]
    fn two_metrics_instances_do_not_share_counts() {
        let a = Metrics::new();
        let b = Metrics::new();
        a.ws_connections.inc();
        a.messages_in.inc_by(3);
        a.messages_out.inc();
        a.slow_consumers.inc();
        a.school_restarts.inc();
        a.schools_active.set(2);
        a.journal_batch_size.observe(5.0);
        a.journal_commit_seconds.observe(0.003);
        a.error(ErrorCode::Forbidden);

        assert_eq!(a.errors(ErrorCode::Forbidden), 1);
        assert_eq!(b.errors(ErrorCode::Forbidden), 0);
        let (a, b) = (rendered(&a), rendered(&b));
        for (name, in_a) in [
            ("oneclass_ws_connections", 1.0),
            ("oneclass_messages_in_total", 3.0),
            ("oneclass_messages_out_total", 1.0),
            ("oneclass_slow_consumers_total", 1.0),
            ("oneclass_school_restarts_total", 1.0),
            ("oneclass_schools_active", 2.0),
            ("oneclass_journal_batch_size_count", 1.0),
            ("oneclass_journal_batch_size_sum", 5.0),
            ("oneclass_journal_commit_seconds_count", 1.0),
            ("oneclass_errors_total{code=\"forbidden\"}", 1.0),
        ] {
            assert_eq!(sample(&a, name), Some(in_a), "{name} in\n{a}");
            assert_eq!(sample(&b, name), Some(0.0), "{name} in\n{b}");
        }
    }

    #[test]
    fn a_fresh_registry_exposes_every_name_the_hub_always_had_at_zero() {
        let text = rendered(&Metrics::new());
        for (name, kind) in [
            ("oneclass_ws_connections", "gauge"),
            ("oneclass_messages_in_total", "counter"),
            ("oneclass_messages_out_total", "counter"),
            ("oneclass_slow_consumers_total", "counter"),
            ("oneclass_ws_too_large_total", "counter"),
            ("oneclass_ws_read_paused_total", "counter"),
            ("oneclass_ws_read_peak_bytes", "gauge"),
            ("oneclass_school_restarts_total", "counter"),
            ("oneclass_journal_batch_size", "histogram"),
            ("oneclass_journal_commit_seconds", "histogram"),
            ("oneclass_errors_total", "counter"),
            ("process_resident_memory_bytes", "gauge"),
            ("process_open_fds", "gauge"),
            ("oneclass_schools_active", "gauge"),
            ("oneclass_rate_limited_total", "counter"),
            ("oneclass_rate_limit_closes_total", "counter"),
            ("oneclass_rate_limit_keys", "gauge"),
            ("oneclass_channel_states", "gauge"),
        ] {
            assert!(
                text.lines().any(|l| l == format!("# TYPE {name} {kind}")),
                "no {kind} {name} in\n{text}"
            );
        }
        for code in ErrorCode::ALL {
            let name = format!("oneclass_errors_total{{code=\"{code}\"}}");
            assert_eq!(sample(&text, &name), Some(0.0), "{name} in\n{text}");
        }
        for name in [
            "oneclass_journal_batch_size_bucket{le=\"1\"}",
            "oneclass_journal_batch_size_bucket{le=\"4096\"}",
            "oneclass_journal_batch_size_bucket{le=\"+Inf\"}",
            "oneclass_journal_commit_seconds_bucket{le=\"0.0005\"}",
            "oneclass_journal_commit_seconds_bucket{le=\"2.5\"}",
            "oneclass_journal_commit_seconds_bucket{le=\"+Inf\"}",
        ] {
            assert_eq!(sample(&text, name), Some(0.0), "{name} in\n{text}");
        }
        for help in [
            "# HELP oneclass_ws_connections Open WebSocket connections.\n",
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n",
        ] {
            assert!(text.contains(help), "no {help:?} in\n{text}");
        }
        assert!(!text.contains(".."), "a doubled full stop in\n{text}");
    }

    #[test]
    fn a_scrape_changes_no_value() {
        let metrics = Metrics::new();
        metrics.messages_in.inc();
        let first = rendered(&metrics);
        let second = rendered(&metrics);
        for name in ["oneclass_messages_in_total", "oneclass_schools_active"] {
            assert_eq!(sample(&first, name), sample(&second, name), "{name}");
        }
    }
}
