//! End-to-end tests: a real hub on a random port, real WebSocket and HTTP clients.

mod abuse_limits;
mod auth_hardening;
mod browser;
mod chat;
mod closes;
mod cql;
#[cfg(feature = "sandbox")]
mod delivery_failover;
mod delivery_reports;
mod durability;
mod journal_api;
mod journal_integrity;
mod metrics;
mod notifications;
mod notify_hardening;
mod presence;
#[cfg(feature = "sandbox")]
mod providers_setup;
mod rest_hardening;
mod resume;
mod resume_gap;
mod revocation;
mod school_calendar;
mod security;
mod session_phases;
mod slow_consumer;
mod supervision;
mod unsubscribe_race;
mod ws_transport;
