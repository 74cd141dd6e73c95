//! [`RateLimiters`]: the hub's shared limiters, one per op for users and one for school
//! writes, and the counting of every refusal in the metrics.
//!
//! One instance per hub, shared as `Arc<RateLimiters>` by every session (so a user's
//! connections, on whatever worker thread, take from one quota) and by the supervisor, which
//! prunes it. Keys are `school/user` and `school` strings built once per session.

use std::sync::Arc;

use super::{ConnectionLimiter, KeyedLimiter, Op, RateLimits, Refusal};
use crate::metrics::Metrics;

/// Which quota refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Connection,
    User,
    School,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Connection, Scope::User, Scope::School];

    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Connection => "connection",
            Scope::User => "user",
            Scope::School => "school",
        }
    }
}

/// The hub's rate limiters.
#[derive(Debug)]
pub struct RateLimiters {
    settings: RateLimits,
    /// Indexed by [`Op::index`]; `None` for an op without a user quota.
    user: Vec<Option<KeyedLimiter<Arc<str>>>>,
    school_writes: KeyedLimiter<Arc<str>>,
    metrics: Arc<Metrics>,
}

impl RateLimiters {
    pub fn new(settings: RateLimits, metrics: Arc<Metrics>) -> Self {
        let user = Op::ALL
            .iter()
            .map(|op| settings.user.of(*op).map(KeyedLimiter::new))
            .collect();
        Self {
            school_writes: KeyedLimiter::new(settings.school_writes),
            user,
            settings,
            metrics,
        }
    }

    pub fn settings(&self) -> &RateLimits {
        &self.settings
    }

    /// The key of a user's quotas.
    pub fn user_key(school: &str, user: &str) -> Arc<str> {
        format!("{school}/{user}").into()
    }

    /// A new connection's own limiter.
    pub fn connection(&self) -> ConnectionLimiter {
        ConnectionLimiter::new(&self.settings)
    }

    /// Admits one command of `op` from `connection`, acting as `user` (a [`Self::user_key`]):
    /// the connection's quota first, then the user's for `op`. A refusal is counted.
    pub fn admit(
        &self,
        op: Op,
        connection: &ConnectionLimiter,
        user: &Arc<str>,
    ) -> Result<(), (Scope, Refusal)> {
        connection
            .check()
            .map_err(|r| (Scope::Connection, r))
            .and_then(|()| match &self.user[op.index()] {
                Some(limiter) => limiter.check(user).map_err(|r| (Scope::User, r)),
                None => Ok(()),
            })
            .inspect_err(|(scope, _)| self.metrics.rate_limited(op.as_str(), scope.as_str()))
    }

    /// Admits one journal write of `school` (a publish). A refusal is counted.
    pub fn admit_write(&self, op: Op, school: &Arc<str>) -> Result<(), (Scope, Refusal)> {
        self.school_writes
            .check(school)
            .map_err(|r| (Scope::School, r))
            .inspect_err(|(scope, _)| self.metrics.rate_limited(op.as_str(), scope.as_str()))
    }

    /// Drops the keyed state of users and schools whose quotas refilled; updates
    /// `oneclass_rate_limit_keys`.
    pub fn prune(&self) {
        let keys: usize = self
            .user
            .iter()
            .flatten()
            .map(KeyedLimiter::prune)
            .sum::<usize>()
            + self.school_writes.prune();
        self.metrics.rate_limit_keys.set(keys as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::Quota;

    fn limiters(publish: Quota, school: Quota) -> RateLimiters {
        let mut settings = RateLimits {
            school_writes: school,
            ..RateLimits::default()
        };
        settings.user.publish = publish;
        RateLimiters::new(settings, Arc::new(Metrics::new()))
    }

    #[test]
    fn two_connections_of_one_user_share_the_user_quota() {
        let l = limiters(Quota::new(1, 3).unwrap(), Quota::new(1000, 1000).unwrap());
        let (a, b) = (l.connection(), l.connection());
        let me = RateLimiters::user_key("s1", "p1");
        let other = RateLimiters::user_key("s1", "p2");
        assert!(l.admit(Op::Publish, &a, &me).is_ok());
        assert!(l.admit(Op::Publish, &b, &me).is_ok());
        assert!(l.admit(Op::Publish, &a, &me).is_ok());
        let (scope, _) = l.admit(Op::Publish, &b, &me).unwrap_err();
        assert_eq!(scope, Scope::User);
        assert!(
            l.admit(Op::Publish, &b, &other).is_ok(),
            "another user is not limited"
        );
        assert!(
            l.admit(Op::History, &a, &me).is_ok(),
            "another op has its own quota"
        );
        assert_eq!(l.metrics.rate_limited_count("publish", "user"), 1);
    }

    #[test]
    fn the_school_write_quota_is_shared_by_the_schools_users() {
        let l = limiters(Quota::new(1000, 1000).unwrap(), Quota::new(1, 2).unwrap());
        let s1: Arc<str> = "s1".into();
        assert!(l.admit_write(Op::Publish, &s1).is_ok());
        assert!(l.admit_write(Op::Publish, &s1).is_ok());
        let (scope, refusal) = l.admit_write(Op::Publish, &s1).unwrap_err();
        assert_eq!(scope, Scope::School);
        assert!(refusal.retry_after_ms() >= 1);
        assert!(l.admit_write(Op::Publish, &"s2".into()).is_ok());
        assert_eq!(l.metrics.rate_limited_count("publish", "school"), 1);
    }
}
