//! [`ProviderSettings`]: what one provider actor is told at start: its contracted rate, its
//! queue bound, how many calls it keeps in flight, its retry and circuit policies and its price.
//!
//! Reading these from `[providers.<name>]` is the configuration's job (not wired yet: the hub's
//! config section is built elsewhere in issue 10); this type is what that section produces, with
//! the defaults below for every key but the rate, which is per contract.

use serde::Deserialize;

use super::circuit::CircuitPolicy;
use super::limiter::ProviderRate;
use super::retry::RetryPolicy;

/// Deliveries a provider actor queues before refusing more (about ten hours of TelOne's
/// contracted 1,000/h: enough for a whole-school notice, small enough that a refusal comes
/// while failing over still helps).
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;

/// Provider calls in flight at once. The rate limiter paces sends; this only keeps one slow
/// answer from holding up the sends behind it.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4;

/// One provider actor's settings.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// The contracted rate (`rate_per_hour`, `burst`).
    #[serde(flatten)]
    pub rate: ProviderRate,
    /// Deliveries queued (waiting for the rate or a retry) before a submission is refused.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// Provider calls in flight at once (at least 1).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Retries at this provider.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// When the circuit opens.
    #[serde(default)]
    pub circuit: CircuitPolicy,
    /// Price of one billed unit (an SMS part, one e-mail, one push), in US dollars.
    #[serde(default)]
    pub cost_per_segment_usd: f64,
}

fn default_queue_capacity() -> usize {
    DEFAULT_QUEUE_CAPACITY
}

fn default_max_in_flight() -> usize {
    DEFAULT_MAX_IN_FLIGHT
}

impl ProviderSettings {
    /// Settings at `rate` with every other key at its default.
    pub fn at_rate(rate: ProviderRate) -> Self {
        Self {
            rate,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            retry: RetryPolicy::default(),
            circuit: CircuitPolicy::default(),
            cost_per_segment_usd: 0.0,
        }
    }
}
