//! `GET /healthz` (the process answers), `GET /readyz` (the journal takes writes) and
//! `GET /metrics` (Prometheus text).

use std::sync::atomic::Ordering;

use actix_web::{web, HttpResponse};

use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
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

/// Resident memory of this process, from `/proc/self/statm`.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut out = String::new();
    oneclass_actors::metrics::metrics().render(&mut out);
    let open_fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    out.push_str(&format!(
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
         # TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}\n\
         # HELP process_open_fds Open file descriptors.\n# TYPE process_open_fds gauge\nprocess_open_fds {}\n\
         # HELP oneclass_schools_active School actors running.\n# TYPE oneclass_schools_active gauge\noneclass_schools_active {}\n",
        resident_bytes(),
        open_fds,
        state.registry.sweep(),
    ));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out)
}
