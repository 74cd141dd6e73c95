//! The hub's metrics, rendered at `GET /metrics` in the Prometheus text format (version 0.0.4).
//!
//! One [`Metrics`] per hub application, shared as `Arc<Metrics>` with everything that records:
//! the school registry and its school actors, the sessions, and the HTTP layer. Nothing here is
//! process-global, so two hubs in one process (tests) count separately. The process's own
//! figures (resident memory, open descriptors) are read at scrape time by [`process`].

mod hub;
mod process;

pub use hub::Metrics;
