//! `HubSupervisor`: the root of the actor tree.
//!
//! It watches the journal's health and the school actors. A journal that reports a fatal error
//! (a failed fsync) makes the hub unready and calls the fatal hook, which shuts the process down
//! so that it restarts and recovers from the file: continuing after a lost fsync could acknowledge
//! messages that are not on disk. Stopped school actors are swept from the registry (which also
//! brings `oneclass_schools_active` up to date, so `/metrics` need not sweep); a school
//! actor that died is restarted by the registry on its next lookup (sessions look it up again as
//! soon as they notice, within one heartbeat).
//!
//! It also prunes the rate limiters' keyed state every [`crate::rate_limit::RateLimits::prune_interval`]
//! (users and schools whose quotas refilled), which keeps their memory bounded by the keys
//! active lately.
//!
//! Restart policy: permanent; it holds no state of its own beyond the readiness flag.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use crate::rate_limit::RateLimiters;
use crate::school_registry::SchoolRegistry;

/// How often the supervisor checks its children.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The root actor.
pub struct HubSupervisor {
    registry: SchoolRegistry,
    limiters: Arc<RateLimiters>,
    ready: Arc<AtomicBool>,
    on_fatal: Box<dyn Fn(String) + Send>,
}

impl HubSupervisor {
    pub fn new(
        registry: SchoolRegistry,
        limiters: Arc<RateLimiters>,
        ready: Arc<AtomicBool>,
        on_fatal: Box<dyn Fn(String) + Send>,
    ) -> Self {
        Self {
            registry,
            limiters,
            ready,
            on_fatal,
        }
    }

    fn check(&mut self) {
        self.registry.sweep();
        let health = self.registry.journal().health();
        if !health.is_ok() && self.ready.swap(false, Ordering::SeqCst) {
            let reason = format!("{health:?}");
            tracing::error!(%reason, "journal failed; the hub stops so it can recover from disk");
            (self.on_fatal)(reason);
        }
    }
}

impl Actor for HubSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.ready
            .store(self.registry.journal().health().is_ok(), Ordering::SeqCst);
        ctx.run_interval(CHECK_INTERVAL, |act, _| act.check());
        let prune = self.limiters.settings().prune_interval;
        ctx.run_interval(prune, |act, _| act.limiters.prune());
    }
}
