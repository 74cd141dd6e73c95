//! [`ProviderActorSettings`]: what one provider actor is told at start: its contracted rate, its
//! queue bound, how many calls it keeps in flight, its retry and circuit policies and its price.
//!
//! The hub's `[providers.<name>]` section (`hub/src/config/providers.rs`) configures all of it:
//! `rate_per_hour`/`burst`, the `cost` table, and the optional `delivery`, `retry` and `circuit`
//! sub-tables, whose defaults are the ones below; `hub/src/providers.rs` (`actor_settings`) maps
//! an entry to these settings.

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
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderActorSettings {
    /// The contracted rate; `None` = no limit of ours (the config's `rate_per_hour = 0`, and
    /// benchmarks with limits off).
    pub rate: Option<ProviderRate>,
    /// Deliveries queued (waiting for the rate or a retry) before a submission is refused.
    pub queue_capacity: usize,
    /// Provider calls in flight at once (at least 1).
    pub max_in_flight: usize,
    /// Retries at this provider.
    pub retry: RetryPolicy,
    /// When the circuit opens.
    pub circuit: CircuitPolicy,
    /// Price of one billed unit (an SMS part, one e-mail, one push) in millionths of
    /// `currency`, as the config's `Price` keeps it (money is never a float).
    pub cost_per_segment_micros: u64,
    /// ISO 4217 code of the prices.
    pub currency: String,
}

impl ProviderActorSettings {
    /// Settings at `rate` with every other key at its default and no price.
    pub fn at_rate(rate: Option<ProviderRate>) -> Self {
        Self {
            rate,
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            retry: RetryPolicy::default(),
            circuit: CircuitPolicy::default(),
            cost_per_segment_micros: 0,
            currency: "USD".into(),
        }
    }
}
