//! HTTP routes. Each module exposes `configure(&mut ServiceConfig)`.

pub mod analytics;
pub mod auth;
pub mod health;
pub mod journal;
pub mod notifications;
pub mod page;
pub mod revoke;
pub mod roster;
pub mod ws;

use actix_web::web::ServiceConfig;

/// Every route of the hub.
pub fn configure(cfg: &mut ServiceConfig) {
    ws::configure(cfg);
    roster::configure(cfg);
    revoke::configure(cfg);
    notifications::configure(cfg);
    health::configure(cfg);
    journal::configure(cfg);
    analytics::configure(cfg);
    page::configure(cfg);
}
