//! Rate limits: GCRA quotas (the `governor` crate) on what one connection, one user and one
//! school may ask of the hub, and the one place a refusal is decided.
//!
//! | file | concept |
//! |---|---|
//! | `quota.rs` | [`Quota`], a rate and a burst as configured, and its `governor` form |
//! | `settings.rs` | [`RateLimits`], the hub's `[rate_limits]` section: every quota by scope and op |
//! | `op.rs` | [`Op`], the commands a quota can be set for, with their metric label |
//! | `keyed.rs` | [`KeyedLimiter`], one quota over many keys (users, schools, later API keys), pruned |
//! | `limiters.rs` | [`RateLimiters`], the hub's shared limiters (per user and op, per school) and the metrics of their refusals |
//! | `connection.rs` | [`ConnectionLimiter`], one socket's own quota and its strikes (4029) |
//!
//! Scopes, checked in this order for every command after `connect`:
//! 1. the connection: one quota over all its commands, so one socket cannot busy its session
//!    whatever it sends;
//! 2. the user, per op, shared by every connection of the user (a keyed limiter keyed by
//!    school and user), so opening more sockets buys no more;
//! 3. the school, for writes (publishes), so one tenant cannot take the shared journal.
//!
//! A refusal is answered `rate_limited` with `retry_after_ms`; nothing of the refused command
//! happens. A connection that keeps sending after being told (more refusals than
//! [`RateLimits::strikes`] allows, see [`ConnectionLimiter`]) is closed with 4029.
//!
//! The REST API plugs into the same pieces: a route (or a middleware) holds a
//! [`KeyedLimiter`] keyed by what it limits (the caller's user, its API key id, its school),
//! built from a [`Quota`] of its own config section, calls [`KeyedLimiter::check`], and maps
//! the [`Refusal`] to `429` with `Retry-After` and the same JSON error body. Its keyed state is
//! pruned by [`RateLimiters::prune`] once it is registered there.
//!
//! Memory: keyed state exists only for keys seen recently. [`RateLimiters::prune`] (run by the
//! supervisor every [`RateLimits::prune_interval`]) drops every key whose quota has refilled,
//! which a key does within `burst / rate` seconds of its last request, so departed users cost
//! nothing after one interval.

mod connection;
mod keyed;
mod limiters;
mod op;
mod quota;
mod settings;

pub use connection::{ConnectionLimiter, Strike};
pub use keyed::{KeyedLimiter, Refusal};
pub use limiters::{RateLimiters, Scope};
pub use op::Op;
pub use quota::Quota;
pub use settings::{RateLimits, UserQuotas};
