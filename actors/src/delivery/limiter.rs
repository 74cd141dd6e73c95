//! [`ProviderLimiter`]: a provider's contracted rate (`rate_per_hour` sustained, `burst` at once)
//! as a GCRA limiter from `governor`, on tokio's clock, answering "when may the next send go".
//!
//! This is the same design as the hub's own quotas (`rate_limit/`): a `governor` GCRA cell per
//! send and a [`Refusal`] saying how long to wait. Only the unit differs: providers contract per
//! hour (TelOne 1,000/h, Econet 500/h), which [`crate::rate_limit::Quota`]'s whole-per-second
//! rate cannot express, so [`ProviderRate`] builds the `governor` quota from its emission
//! interval (`3600 s / rate_per_hour`) instead.
//!
//! The clock is [`TokioClock`], so under `tokio::time::pause()` the limiter follows the paused
//! clock and a test of an hour of pacing costs no real time. The actor never spins: a refusal's
//! `retry_after` is when it wakes.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::RateLimiter;
use serde::Deserialize;

use crate::rate_limit::Refusal;

/// A provider's contracted rate: `rate_per_hour` sustained, `burst` sent at once after a quiet
/// spell. Zero is refused when the configuration is read (naming the key), since a rate that
/// lets nothing through is never what was meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderRate {
    /// Sends per hour sustained.
    pub rate_per_hour: NonZeroU32,
    /// Sends let through at once by a provider that was idle.
    pub burst: NonZeroU32,
}

impl ProviderRate {
    /// `rate_per_hour` sustained, `burst` at once; `None` if either is zero.
    pub const fn new(rate_per_hour: u32, burst: u32) -> Option<Self> {
        match (NonZeroU32::new(rate_per_hour), NonZeroU32::new(burst)) {
            (Some(rate_per_hour), Some(burst)) => Some(Self {
                rate_per_hour,
                burst,
            }),
            _ => None,
        }
    }

    /// Time between two sends at the sustained rate (GCRA's emission interval).
    pub fn interval(self) -> Duration {
        Duration::from_secs(3600) / self.rate_per_hour.get()
    }

    /// The `governor` quota.
    pub fn to_governor(self) -> governor::Quota {
        // unwrap: `interval` is at least 3600 s / u32::MAX, which is not zero.
        governor::Quota::with_period(self.interval())
            .unwrap()
            .allow_burst(self.burst)
    }
}

/// `governor`'s clock over tokio's: the time since the limiter was made, read from
/// `tokio::time::Instant`, so a paused test clock paces the limiter too.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// The limiter of one provider. Owned by its provider actor (one writer), so it is not shared.
/// A provider with no contracted rate (`rate_per_hour = 0` in the configuration) has no
/// limiter: every send may go at once.
pub struct ProviderLimiter {
    rate: Option<ProviderRate>,
    inner: Option<Gcra>,
}

impl std::fmt::Debug for ProviderLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderLimiter")
            .field("rate", &self.rate)
            .finish()
    }
}

impl ProviderLimiter {
    /// A limiter at `rate`, full (a fresh provider may send its burst at once); `None` lets
    /// everything through.
    pub fn new(rate: Option<ProviderRate>) -> Self {
        Self {
            rate,
            inner: rate
                .map(|r| RateLimiter::direct_with_clock(r.to_governor(), TokioClock::default())),
        }
    }

    /// The rate it enforces, if any.
    pub fn rate(&self) -> Option<ProviderRate> {
        self.rate
    }

    /// Takes one send's cell now, or says how long until one is there (nothing is taken then).
    pub fn try_send(&self) -> Result<(), Refusal> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        inner.check().map_err(|not_until| Refusal {
            retry_after: not_until.wait_time_from(inner.clock().now()),
        })
    }

    /// An upper bound on how long from now until `queued` more sends would all have gone at
    /// this rate: `queued × interval`. The dispatcher's question ("would the queue here miss this
    /// notice's deadline") needs a bound it can trust, not an exact figure; the bound overstates
    /// by at most the burst still unspent (GCRA offers no way to read that without taking it).
    pub fn drain_time(&self, queued: usize) -> Duration {
        let n = u32::try_from(queued).unwrap_or(u32::MAX);
        self.rate
            .map_or(Duration::ZERO, |r| r.interval().saturating_mul(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_contracted_rate_lets_everything_through() {
        let limiter = ProviderLimiter::new(None);
        for _ in 0..10_000 {
            limiter.try_send().unwrap();
        }
        assert_eq!(limiter.drain_time(10_000), Duration::ZERO);
    }

    fn rate(per_hour: u32, burst: u32) -> ProviderRate {
        ProviderRate::new(per_hour, burst).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_fresh_limiter_lets_its_burst_through_then_one_per_interval() {
        let limiter = ProviderLimiter::new(Some(rate(1000, 3)));
        for _ in 0..3 {
            limiter.try_send().unwrap();
        }
        let refusal = limiter.try_send().unwrap_err();
        // 1,000/h is one send every 3.6 s.
        assert_eq!(rate(1000, 3).interval(), Duration::from_millis(3600));
        assert!(refusal.retry_after <= Duration::from_millis(3600));
        assert!(
            refusal.retry_after > Duration::from_millis(3500),
            "{refusal:?}"
        );
        tokio::time::advance(refusal.retry_after).await;
        limiter.try_send().unwrap();
        assert!(limiter.try_send().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn over_an_hour_it_lets_through_no_more_than_the_rate_plus_the_burst() {
        let limiter = ProviderLimiter::new(Some(rate(500, 5)));
        let start = tokio::time::Instant::now();
        let mut sent = 0u32;
        while start.elapsed() < Duration::from_secs(3600) {
            match limiter.try_send() {
                Ok(()) => sent += 1,
                Err(refusal) => tokio::time::advance(refusal.retry_after).await,
            }
        }
        // 500 in the hour at the sustained rate, plus the burst a fresh limiter starts with.
        assert!(sent <= 500 + 5, "{sent}");
        assert!(sent >= 500, "{sent}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_send_takes_nothing() {
        let limiter = ProviderLimiter::new(Some(rate(3600, 1)));
        limiter.try_send().unwrap();
        for _ in 0..10 {
            assert!(limiter.try_send().is_err());
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        limiter.try_send().unwrap();
    }

    #[test]
    fn drain_time_is_the_queue_at_the_sustained_rate() {
        let limiter = ProviderLimiter::new(Some(rate(1000, 10)));
        assert_eq!(limiter.drain_time(0), Duration::ZERO);
        assert_eq!(limiter.drain_time(1000), Duration::from_secs(3600));
    }

    #[test]
    fn a_zero_rate_or_burst_is_refused() {
        assert!(ProviderRate::new(0, 1).is_none());
        assert!(ProviderRate::new(1, 0).is_none());
        let err = serde_json::from_str::<ProviderRate>(r#"{"rate_per_hour":0,"burst":1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("zero"), "{err}");
    }
}
