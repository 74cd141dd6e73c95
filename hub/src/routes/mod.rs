//! HTTP routes. Each module exposes `configure(&mut ServiceConfig)` and registers each of its
//! paths once, through [`resource`], so a method the path does not serve is answered with the
//! JSON `405` and its `Allow` header (`crate::error`). `ServiceConfig::route` would not do: it
//! makes one resource per call with the method as the resource's guard, so a wrong method falls
//! through to the unknown-route `404`. A path must not be registered twice either: the first
//! resource would answer every method the second serves with `405`.

pub mod analytics;
pub mod auth;
pub mod health;
pub mod journal;
pub mod notifications;
pub mod page;
pub mod revoke;
pub mod roster;
pub mod time_range;
pub mod ws;

use actix_web::http::Method;
use actix_web::web::{self, ServiceConfig};
use actix_web::{Resource, Route};

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

/// `path` serving each `(method, handler)` of `routes` (built with `web::to`); any other method
/// is a `405` whose `Allow` lists exactly these methods.
pub fn resource(path: &str, routes: impl IntoIterator<Item = (Method, Route)>) -> Resource {
    let mut resource = web::resource(path);
    let mut allow = Vec::new();
    for (method, route) in routes {
        resource = resource.route(route.method(method.clone()));
        allow.push(method);
    }
    resource.default_service(crate::error::method_not_allowed(allow))
}
