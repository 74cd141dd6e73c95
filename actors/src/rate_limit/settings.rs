//! [`RateLimits`]: the hub's `[rate_limits]` section, every quota by scope and op.
//!
//! ```toml
//! [rate_limits]
//! connection = { per_second = 1000, burst = 4000 }   # all commands of one socket
//! school_writes = { per_second = 1000, burst = 5000 }
//! strikes = 20                                       # refusals before close 4029 …
//! strike_window = "10s"                              # … within this window
//!
//! [rate_limits.user]                                 # per user and op, over all their sockets
//! publish = { per_second = 20, burst = 100 }
//! channels = { per_second = 5, burst = 20 }
//! ```
//!
//! A missing key keeps its default; a quota names both numbers. The defaults are far above what
//! a person can type or a chat client needs, so they bound a runaway or hostile client without
//! touching normal use, and `school_writes` bounds what one school can write to the journal all
//! schools share. The load generator in `loadtest/` publishes hundreds of messages a second from
//! one teacher, so the benchmark scripts lift the publish quotas through the environment.

use std::time::Duration;

use serde::Deserialize;

use super::quota::{quota, Quota};
use super::Op;

/// Every rate limit of the WebSocket API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// All commands of one connection together (its own, not shared).
    pub connection: Quota,
    /// Per op, per user: shared by every connection of the user.
    pub user: UserQuotas,
    /// Journal writes (publishes) of one school, over all its users.
    pub school_writes: Quota,
    /// Refusals a connection may collect in a burst before it is closed with 4029; they
    /// replenish at `strikes` per `strike_window`. A client that waits `retry_after_ms` as told
    /// collects about one refusal per wait and never gets near it.
    pub strikes: u32,
    /// The window over which `strikes` refusals replenish.
    #[serde(with = "humantime_serde")]
    pub strike_window: Duration,
    /// How often keyed state of users and schools whose quota has refilled is dropped.
    #[serde(with = "humantime_serde")]
    pub prune_interval: Duration,
}

/// One quota per op, for the user scope.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserQuotas {
    pub publish: Quota,
    pub subscribe: Quota,
    pub unsubscribe: Quota,
    pub history: Quota,
    /// `channels` scans the school's DM streams: the dearest read, so the tightest quota.
    pub channels: Quota,
    pub read: Quota,
    pub presence: Quota,
    pub typing: Quota,
    pub refresh: Quota,
    pub ping: Quota,
}

impl UserQuotas {
    /// The quota of `op`; `connect` has none (see [`Op`]).
    pub fn of(&self, op: Op) -> Option<Quota> {
        Some(match op {
            Op::Connect => return None,
            Op::Publish => self.publish,
            Op::Subscribe => self.subscribe,
            Op::Unsubscribe => self.unsubscribe,
            Op::History => self.history,
            Op::Channels => self.channels,
            Op::Read => self.read,
            Op::Presence => self.presence,
            Op::Typing => self.typing,
            Op::Refresh => self.refresh,
            Op::Ping => self.ping,
        })
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            connection: quota!(1000, 4000),
            user: UserQuotas::default(),
            school_writes: quota!(1_000, 5_000),
            strikes: 20,
            strike_window: Duration::from_secs(10),
            prune_interval: Duration::from_secs(60),
        }
    }
}

impl Default for UserQuotas {
    fn default() -> Self {
        Self {
            publish: quota!(20, 100),
            subscribe: quota!(200, 2000),
            unsubscribe: quota!(200, 2000),
            history: quota!(50, 200),
            channels: quota!(5, 20),
            read: quota!(100, 500),
            presence: quota!(50, 200),
            typing: quota!(20, 50),
            refresh: quota!(1, 10),
            ping: quota!(20, 100),
        }
    }
}

impl RateLimits {
    /// What does not fit together, naming the key (the hub's config validation calls this).
    pub fn validate(&self) -> Result<(), String> {
        if self.strikes == 0 {
            return Err("rate_limits.strikes must be at least 1".into());
        }
        if self.strike_window.is_zero() {
            return Err("rate_limits.strike_window must be longer than zero".into());
        }
        if self.prune_interval.is_zero() {
            return Err("rate_limits.prune_interval must be longer than zero".into());
        }
        Ok(())
    }
}
