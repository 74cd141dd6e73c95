//! [`RetryPolicy`] and [`RetrySchedule`]: when a delivery's next attempt at the same provider
//! goes, after a retryable [`Outcome`](oneclass_clients::Outcome).
//!
//! - No stated delay (`RetryBackoff`): exponential backoff with full jitter, the attempt's
//!   ceiling `base × 2^n` capped at `cap`, the delay drawn uniformly from `[0, ceiling]`
//!   ([`oneclass_clients::Backoff`] holds the ceiling rule, shared with the clients).
//! - A stated delay (`RetryAfter { after }`): exactly `after`, when it is within
//!   `max_retry_after`. A provider asking for longer (TelOne over its hourly quota answers up to
//!   an hour) is not waited for here: the schedule says give up, and the caller fails over to the
//!   next provider rather than sit on the notice.
//! - After `max_attempts` attempts in all, no further retry: give up on this provider.
//!
//! The RNG is a seeded `StdRng` per schedule, so a test given a seed sees the same delays every
//! run; the hub seeds from the OS.

use std::time::Duration;

use oneclass_clients::Backoff;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;

/// How a provider actor retries. Part of a provider's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Ceiling of the first backoff delay.
    #[serde(with = "humantime_serde")]
    pub base: Duration,
    /// No backoff delay exceeds this.
    #[serde(with = "humantime_serde")]
    pub cap: Duration,
    /// Attempts at one provider in all, the first included (at least 1).
    pub max_attempts: u32,
    /// The longest `Retry-After` honoured by waiting; a longer one gives up on the provider.
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts within about a minute (1 s, 2 s, 4 s ceilings): a notice fails over to the
    /// next provider quickly rather than waiting out a long outage at this one. `Retry-After` up
    /// to five minutes is waited for.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            max_attempts: 4,
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// What to do after a retryable outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again this long from now.
    After(Duration),
    /// Attempts are used up at this provider.
    Exhausted,
    /// The provider asked for a longer pause than [`RetryPolicy::max_retry_after`].
    TooLong(Duration),
}

/// The retry delays of one provider actor: the policy and its RNG.
#[derive(Debug)]
pub struct RetrySchedule {
    policy: RetryPolicy,
    rng: StdRng,
}

impl RetrySchedule {
    /// A schedule seeded from the OS.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            rng: StdRng::from_os_rng(),
        }
    }

    /// A schedule with a fixed seed (tests: the same delays every run).
    pub fn seeded(policy: RetryPolicy, seed: u64) -> Self {
        Self {
            policy,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The policy.
    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// After attempt number `attempts` (1-based, the one that just failed) ended retryable,
    /// with `retry_after` when the provider stated a delay.
    pub fn next(&mut self, attempts: u32, retry_after: Option<Duration>) -> Retry {
        if attempts >= self.policy.max_attempts.max(1) {
            return Retry::Exhausted;
        }
        match retry_after {
            Some(after) if after > self.policy.max_retry_after => Retry::TooLong(after),
            Some(after) => Retry::After(after),
            None => {
                let ceiling = self.backoff().ceiling(attempts - 1);
                let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
                Retry::After(Duration::from_millis(self.rng.random_range(0..=millis)))
            }
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            base: self.policy.base,
            cap: self.policy.cap,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            max_attempts: 6,
            max_retry_after: Duration::from_secs(120),
        }
    }

    #[test]
    fn backoff_delays_stay_within_the_growing_capped_ceiling() {
        let mut s = RetrySchedule::seeded(policy(), 7);
        let ceilings = [100, 200, 400, 800, 1000];
        for (i, ceiling) in ceilings.into_iter().enumerate() {
            let attempts = u32::try_from(i).unwrap() + 1;
            match s.next(attempts, None) {
                Retry::After(d) => assert!(d <= Duration::from_millis(ceiling), "{i}: {d:?}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_delays_and_jitter_spreads_them() {
        let run = |seed| {
            let mut s = RetrySchedule::seeded(policy(), seed);
            (1..6).map(|a| s.next(a, None)).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        // Full jitter: 200 draws from [0, 1 s] are not all the same value.
        let mut s = RetrySchedule::seeded(policy(), 1);
        let draws: std::collections::HashSet<_> = (0..200)
            .map(|_| match s.next(5, None) {
                Retry::After(d) => d,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(draws.len() > 100, "{}", draws.len());
    }

    #[test]
    fn a_stated_retry_after_is_honoured_exactly_within_bounds() {
        let mut s = RetrySchedule::seeded(policy(), 0);
        assert_eq!(
            s.next(1, Some(Duration::from_secs(30))),
            Retry::After(Duration::from_secs(30))
        );
        assert_eq!(
            s.next(1, Some(Duration::from_secs(3600))),
            Retry::TooLong(Duration::from_secs(3600))
        );
    }

    #[test]
    fn attempts_are_bounded_whatever_the_provider_says() {
        let mut s = RetrySchedule::seeded(policy(), 0);
        assert_eq!(s.next(6, None), Retry::Exhausted);
        assert_eq!(s.next(6, Some(Duration::from_secs(1))), Retry::Exhausted);
        let mut once = RetrySchedule::seeded(
            RetryPolicy {
                max_attempts: 1,
                ..policy()
            },
            0,
        );
        assert_eq!(once.next(1, None), Retry::Exhausted);
    }
}
