//! [`KeyedLimiter`]: one [`Quota`] applied to each key on its own (a user, a school, later an
//! API key), over `governor`'s keyed GCRA state, and [`Refusal`], what a refused check says.
//!
//! The state of a key is one atomic word in a sharded map, created on the key's first check.
//! Keys never checked again would stay forever, so [`KeyedLimiter::prune`] drops every key
//! whose quota has refilled (its next check would behave exactly as a fresh key's): called
//! periodically it bounds the map by the keys active within one refill time plus one interval.

use std::hash::Hash;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::RateLimiter;

use super::Quota;

/// Why a check was refused: the wait until the same check would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub retry_after: Duration,
}

impl Refusal {
    /// The wait in whole milliseconds, rounded up and at least 1 (a client told 0 would retry
    /// at once and be refused again).
    pub fn retry_after_ms(&self) -> u64 {
        let ms = self.retry_after.as_nanos().div_ceil(1_000_000);
        u64::try_from(ms).unwrap_or(u64::MAX).max(1)
    }
}

/// One quota per key. `C` is the clock (tests use `governor`'s fake one).
pub struct KeyedLimiter<K: Hash + Eq + Clone, C: Clock = DefaultClock> {
    inner: RateLimiter<K, DashMapStateStore<K>, C, NoOpMiddleware<C::Instant>>,
}

impl<K: Hash + Eq + Clone, C: Clock> std::fmt::Debug for KeyedLimiter<K, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLimiter")
            .field("keys", &self.inner.len())
            .finish()
    }
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// A limiter of `quota` per key on the real clock.
    pub fn new(quota: Quota) -> Self {
        Self::with_clock(quota, DefaultClock::default())
    }
}

impl<K: Hash + Eq + Clone, C: Clock> KeyedLimiter<K, C> {
    /// A limiter of `quota` per key on `clock`.
    pub fn with_clock(quota: Quota, clock: C) -> Self {
        Self {
            inner: RateLimiter::new(quota.to_governor(), DashMapStateStore::default(), clock),
        }
    }

    /// Takes one cell of `key`'s quota, or says how long until one is there.
    pub fn check(&self, key: &K) -> Result<(), Refusal> {
        self.inner.check_key(key).map_err(|not_until| Refusal {
            retry_after: not_until.wait_time_from(self.inner.clock().now()),
        })
    }

    /// Drops the state of every key whose quota has refilled; returns the keys left.
    pub fn prune(&self) -> usize {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
        self.inner.len()
    }

    /// Keys with state now.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limiter(
        per_second: u32,
        burst: u32,
    ) -> (
        KeyedLimiter<&'static str, FakeRelativeClock>,
        FakeRelativeClock,
    ) {
        let clock = FakeRelativeClock::default();
        let quota = Quota::new(per_second, burst).unwrap();
        (KeyedLimiter::with_clock(quota, clock.clone()), clock)
    }

    #[test]
    fn a_key_gets_its_burst_then_waits_one_emission_interval_per_cell() {
        let (l, clock) = limiter(10, 3);
        for _ in 0..3 {
            assert_eq!(l.check(&"u1"), Ok(()));
        }
        let refused = l.check(&"u1").unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_millis(100));
        assert_eq!(refused.retry_after_ms(), 100);
        // Another key has its own quota.
        assert_eq!(l.check(&"u2"), Ok(()));
        clock.advance(Duration::from_millis(100));
        assert_eq!(l.check(&"u1"), Ok(()));
        assert!(l.check(&"u1").is_err());
    }

    #[test]
    fn pruning_drops_keys_whose_quota_refilled_and_keeps_the_others() {
        let (l, clock) = limiter(10, 2);
        l.check(&"idle").unwrap();
        clock.advance(Duration::from_secs(1));
        l.check(&"busy").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l.prune(), 1, "only the key that refilled is dropped");
        clock.advance(Duration::from_secs(1));
        assert_eq!(l.prune(), 0);
        assert!(l.is_empty());
    }

    #[test]
    fn a_refusal_never_says_retry_in_zero_ms() {
        let r = Refusal {
            retry_after: Duration::from_nanos(10),
        };
        assert_eq!(r.retry_after_ms(), 1);
        let r = Refusal {
            retry_after: Duration::from_micros(1500),
        };
        assert_eq!(r.retry_after_ms(), 2);
    }
}
