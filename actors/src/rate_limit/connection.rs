//! [`ConnectionLimiter`]: one socket's own quota over all its commands, and its strikes.
//!
//! Every command after `connect` takes a cell of the connection's quota
//! ([`super::RateLimits::connection`]) before the user's and the school's are asked. Every
//! refusal of the connection, whatever its scope, is a strike: strikes are a GCRA quota too,
//! [`super::RateLimits::strikes`] at once, replenished at that many per
//! [`super::RateLimits::strike_window`]. "Keeps pushing after being told" means precisely: a
//! refusal that finds no strike left, i.e. more than `strikes` refusals within less than the
//! time that replenishes one. That refusal is still answered, then the socket closes with 4029.
//! A client that honours `retry_after_ms` gets about one refusal per wait, far under the bound.
//!
//! Not shared: each session owns its limiter, so it costs two atomic words per connection and
//! is dropped with it.

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, RateLimiter};

use super::{RateLimits, Refusal};

/// What a strike left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strike {
    /// Answer the refusal and carry on.
    Warned,
    /// The connection kept pushing: close it with 4029.
    Exhausted,
}

/// The quota and strikes of one connection.
pub struct ConnectionLimiter {
    commands: DefaultDirectRateLimiter,
    strikes: DefaultDirectRateLimiter,
}

impl std::fmt::Debug for ConnectionLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionLimiter").finish_non_exhaustive()
    }
}

impl ConnectionLimiter {
    pub fn new(limits: &RateLimits) -> Self {
        Self {
            commands: RateLimiter::direct(limits.connection.to_governor()),
            strikes: RateLimiter::direct(strike_quota(limits)),
        }
    }

    /// Takes one cell of the connection's quota.
    pub fn check(&self) -> Result<(), Refusal> {
        self.commands.check().map_err(|not_until| Refusal {
            retry_after: not_until.wait_time_from(self.commands.clock().now()),
        })
    }

    /// Records a refusal answered on this connection.
    pub fn strike(&self) -> Strike {
        match self.strikes.check() {
            Ok(()) => Strike::Warned,
            Err(_) => Strike::Exhausted,
        }
    }
}

/// `strikes` at once, one back every `strike_window / strikes`.
fn strike_quota(limits: &RateLimits) -> governor::Quota {
    let strikes = std::num::NonZeroU32::new(limits.strikes).unwrap_or(std::num::NonZeroU32::MIN);
    let period = limits.strike_window / strikes.get();
    governor::Quota::with_period(period)
        // A window so short that it rounds to zero per strike: one strike per nanosecond.
        .unwrap_or_else(|| governor::Quota::per_second(std::num::NonZeroU32::MAX))
        .allow_burst(strikes)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::rate_limit::Quota;

    #[test]
    fn the_refusal_past_the_strikes_exhausts_the_connection() {
        let limits = RateLimits {
            connection: Quota::new(1, 2).unwrap(),
            strikes: 3,
            strike_window: Duration::from_secs(3600),
            ..RateLimits::default()
        };
        let c = ConnectionLimiter::new(&limits);
        assert!(c.check().is_ok());
        assert!(c.check().is_ok());
        let refused = c.check().unwrap_err();
        assert!(refused.retry_after_ms() > 0 && refused.retry_after_ms() <= 1000);
        for _ in 0..3 {
            assert_eq!(c.strike(), Strike::Warned);
        }
        assert_eq!(c.strike(), Strike::Exhausted);
    }
}
