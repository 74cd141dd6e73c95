//! `GET /healthz` (the process answers), `GET /readyz` (the journal takes writes) and
//! `GET /metrics` (this hub's [`Metrics`] in the Prometheus text format, version 0.0.4).

use std::sync::atomic::Ordering;

use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use oneclass_actors::metrics::Metrics;

use crate::routes::resource;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz", [(Method::GET, web::to(healthz))]))
        .service(resource("/readyz", [(Method::GET, web::to(readyz))]))
        .service(resource("/metrics", [(Method::GET, web::to(metrics))]));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let health = state.registry.journal_health();
    if state.ready.load(Ordering::SeqCst) && health.is_ok() {
        HttpResponse::Ok().body("ready")
    } else {
        HttpResponse::ServiceUnavailable().body(format!("not ready: {health:?}"))
    }
}

/// Renders this hub's registry. Reads only: the school count is kept current by the registry
/// and the supervisor's sweep, and the process figures are read by a collector.
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut out = String::new();
    // unwrap: encoding fails only when the writer does, and writing to a String cannot.
    state.metrics.encode(&mut out).unwrap();
    HttpResponse::Ok()
        .content_type(Metrics::CONTENT_TYPE)
        .body(out)
}
