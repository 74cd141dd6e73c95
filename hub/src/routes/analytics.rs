//! `GET /v1/analytics/summary?school=&from=&to=`: event counts per UTC day and kind, computed
//! from the journal's events (so the result is the same on every backend).

use std::collections::BTreeMap;

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use oneclass_actors::permissions::can_read_journal;
use oneclass_protocol::channel::is_valid_id;
use oneclass_storage::EventQuery;

use crate::error::ApiError;
use crate::routes::auth::principal;
use crate::routes::resource;
use crate::routes::time_range::TimeRange;
use crate::startup::AppState;

/// Events read per journal page while counting.
const PAGE: usize = 5000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        "/v1/analytics/summary",
        [(Method::GET, web::to(summary))],
    ));
}

#[derive(Debug, serde::Deserialize)]
struct SummaryQuery {
    school: String,
    from: String,
    to: String,
}

async fn summary(
    req: HttpRequest,
    q: web::Query<SummaryQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, &state)?;
    if !is_valid_id(&q.school) {
        return Err(ApiError::bad_request("invalid school id"));
    }
    can_read_journal(&p, &q.school).map_err(ApiError::denied)?;
    let range = TimeRange::parse(&q.from, &q.to)?;
    let mut counts: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut query = EventQuery {
        school_id: q.school.clone(),
        from_ms: range.from_ms,
        to_ms: range.to_ms,
        kind_prefix: None,
        limit: PAGE,
        page_token: None,
    };
    loop {
        let page = state
            .queries
            .query(query.clone())
            .await
            .map_err(|e| ApiError::journal_unavailable("summary query", &e))?;
        for e in &page.events {
            *counts
                .entry(e.day.clone())
                .or_default()
                .entry(e.kind.clone())
                .or_default() += 1;
        }
        match page.next_page_token {
            Some(t) => query.page_token = Some(t),
            None => break,
        }
    }
    let days: Vec<_> = counts
        .into_iter()
        .map(|(day, kinds)| serde_json::json!({"day": day, "counts": kinds}))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({"school": q.school, "days": days})))
}
