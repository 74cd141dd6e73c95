//! The analyst API over the journal: `GET /v1/journal/events` (one page, with the journal's own
//! page token) and `GET /v1/journal/export` (every matching event, streamed as NDJSON or CSV in
//! constant memory). Analysts and admins of the school, or platform services, may call them.
//!
//! Events carry metadata only. Payloads (message bodies, personal data) appear only for an
//! `admin` who passes `include_bodies=true` with a `reason`; that access is itself journaled as
//! `audit.bodies.accessed` on the stream `audit:{school}` ([`oneclass_actors::events::audit`])
//! before any body is returned. Who may read is decided by [`oneclass_actors::permissions`].

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use oneclass_actors::events::audit::BodiesAccessed;
use oneclass_actors::permissions::{can_read_bodies, can_read_journal};
use oneclass_actors::wire_error::ErrorChain;
use oneclass_protocol::channel::is_valid_id;
use oneclass_protocol::journal::EventEnvelope;
use oneclass_protocol::timestamp::format_ms;
use oneclass_protocol::ErrorCode;
use oneclass_storage::EventQuery;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::routes::auth::principal;
use crate::routes::resource;
use crate::routes::time_range::TimeRange;
use crate::startup::AppState;

/// Events per page of `events` when no `limit` is given.
const DEFAULT_LIMIT: usize = 100;
/// Largest `limit` of one `events` page.
const MAX_LIMIT: usize = 1000;
/// Events read per journal page while exporting; bounds the export's memory.
const EXPORT_PAGE: usize = 1000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        "/v1/journal/events",
        [(Method::GET, web::to(events))],
    ))
    .service(resource(
        "/v1/journal/export",
        [(Method::GET, web::to(export))],
    ));
}

/// Query parameters shared by the journal and analytics routes.
#[derive(Debug, Deserialize)]
pub struct RangeQuery {
    pub school: String,
    /// RFC 3339 time or `YYYY-MM-DD` (start of that UTC day); inclusive ([`TimeRange`]).
    pub from: String,
    /// RFC 3339 time or `YYYY-MM-DD` (start of that UTC day); exclusive ([`TimeRange`]).
    pub to: String,
    /// A kind or a kind prefix such as `chat.`.
    pub kind: Option<String>,
    pub limit: Option<usize>,
    pub page_token: Option<String>,
    pub format: Option<String>,
    #[serde(default)]
    pub include_bodies: bool,
    pub reason: Option<String>,
}

/// One event as the API shows it.
#[derive(Debug, Serialize)]
pub struct EventView {
    pub school_id: String,
    pub day: String,
    pub event_id: String,
    pub stream: String,
    pub seq: u64,
    pub kind: String,
    pub actor: String,
    pub occurred_at: String,
    pub hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

impl EventView {
    pub fn new(e: &EventEnvelope, with_body: bool) -> Self {
        let payload = with_body.then(|| {
            rmp_serde::from_slice::<serde_json::Value>(&e.payload)
                .unwrap_or_else(|_| serde_json::Value::String(hex::encode(&e.payload)))
        });
        Self {
            school_id: e.school_id.clone(),
            day: e.day.clone(),
            event_id: e.event_id.to_string(),
            stream: e.stream.clone(),
            seq: e.seq,
            kind: e.kind.clone(),
            actor: e.actor.clone(),
            occurred_at: format_ms(e.occurred_at),
            hash: hex::encode(e.hash),
            payload,
        }
    }

    /// The CSV row (same column order as [`CSV_HEADER`]).
    fn csv_row(&self) -> String {
        let mut row = [
            &self.school_id,
            &self.day,
            &self.event_id,
            &self.stream,
            &self.seq.to_string(),
            &self.kind,
            &self.actor,
            &self.occurred_at,
            &self.hash,
        ]
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
        if let Some(p) = &self.payload {
            row.push(',');
            row.push_str(&csv_field(&p.to_string()));
        }
        row.push('\n');
        row
    }
}

const CSV_HEADER: &str = "school_id,day,event_id,stream,seq,kind,actor,occurred_at,hash";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The checked query and whether bodies are included (after journaling the access).
async fn prepare(
    req: &HttpRequest,
    q: &RangeQuery,
    state: &AppState,
    route: &str,
) -> Result<(EventQuery, bool), ApiError> {
    let p = principal(req, state)?;
    if !is_valid_id(&q.school) {
        return Err(ApiError::bad_request("invalid school id"));
    }
    can_read_journal(&p, &q.school).map_err(ApiError::denied)?;
    let range = TimeRange::parse(&q.from, &q.to)?;
    let with_bodies = if q.include_bodies {
        let reason = q.reason.as_deref().map(str::trim).unwrap_or_default();
        if can_read_bodies(&p, &q.school).is_err() {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "bodies are for the school's admins",
            ));
        }
        if reason.len() < 5 {
            return Err(ApiError::bad_request("include_bodies needs a `reason`"));
        }
        let access = BodiesAccessed {
            route,
            reason,
            from: &q.from,
            to: &q.to,
            kind: q.kind.as_deref(),
        };
        state
            .writes
            .bodies_accessed(&q.school, &p.user, &access)
            .await
            .map_err(|e| ApiError::journal_unavailable("body-access audit, access refused", &e))?;
        true
    } else {
        false
    };
    let query = EventQuery {
        school_id: q.school.clone(),
        from_ms: range.from_ms,
        to_ms: range.to_ms,
        kind_prefix: q.kind.clone().filter(|k| !k.is_empty()),
        limit: q.limit.unwrap_or(DEFAULT_LIMIT),
        page_token: q.page_token.clone(),
    };
    Ok((query, with_bodies))
}

async fn events(
    req: HttpRequest,
    q: web::Query<RangeQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if q.limit.is_some_and(|l| l == 0 || l > MAX_LIMIT) {
        return Err(ApiError::bad_request("limit must be between 1 and 1000"));
    }
    let (query, with_bodies) = prepare(&req, &q, &state, "events").await?;
    let page = state
        .queries
        .query(query)
        .await
        .map_err(|e| ApiError::storage("journal query", &e))?;
    let events: Vec<EventView> = page
        .events
        .iter()
        .map(|e| EventView::new(e, with_bodies))
        .collect();
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({ "events": events, "next_page_token": page.next_page_token })))
}

async fn export(
    req: HttpRequest,
    q: web::Query<RangeQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let csv = match q.format.as_deref().unwrap_or("ndjson") {
        "ndjson" => false,
        "csv" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown format `{other}` (ndjson, csv)"
            )))
        }
    };
    let (mut query, with_bodies) = prepare(&req, &q, &state, "export").await?;
    query.limit = EXPORT_PAGE;
    query.page_token = None;
    let journal = state.queries.clone();
    // One journal page per chunk: memory stays flat however many rows match.
    let body = futures_util::stream::unfold(Some((query, true)), move |st| {
        let journal = journal.clone();
        async move {
            let (query, first) = st?;
            let mut chunk = String::new();
            if first && csv {
                chunk.push_str(CSV_HEADER);
                chunk.push_str(if with_bodies { ",payload\n" } else { "\n" });
            }
            match journal.query(query.clone()).await {
                Ok(page) => {
                    for e in &page.events {
                        let view = EventView::new(e, with_bodies);
                        if csv {
                            chunk.push_str(&view.csv_row());
                        } else {
                            // unwrap: EventView has string keys only.
                            chunk.push_str(&serde_json::to_string(&view).unwrap());
                            chunk.push('\n');
                        }
                    }
                    let next = page.next_page_token.map(|t| {
                        (
                            EventQuery {
                                page_token: Some(t),
                                ..query
                            },
                            false,
                        )
                    });
                    Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), next))
                }
                Err(e) => {
                    tracing::error!(error = %ErrorChain(&e), "export stopped by a journal error");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
            }
        }
    });
    let content_type = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/x-ndjson"
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .streaming(body))
}
