//! `GET /v1/deliveries/{id}`: one delivery's report (the requirements' `get_delivery_report`):
//! `{delivery_id, provider, provider_message_id, state}`, read from the delivery-report index,
//! which is the journal's `delivery.attempt.finished` and `delivery.report` entries folded
//! (`oneclass_actors::delivery::ReportIndex`), caught up before answering.
//!
//! Who: [`can_read_delivery`] (admins and services of the delivery's school, platform
//! services). A delivery of another school is answered `404` like a missing one, so ids do not
//! leak across schools. Also `404`: a delivery no provider has taken yet, or one older than the
//! index's bound (`limits.report_index_max`); the per-notification view with attempts, segments
//! and cost is `GET /v1/notifications/{id}`, the dispatcher's.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use oneclass_actors::delivery::{CallbackError, GetDelivery};
use oneclass_actors::permissions::can_read_delivery;
use oneclass_protocol::ErrorCode;

use crate::error::ApiError;
use crate::routes::auth::principal;
use crate::routes::resource;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        "/v1/deliveries/{id}",
        [(Method::GET, web::to(get))],
    ));
}

async fn get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, &state)?;
    let not_found = || ApiError::new(ErrorCode::NotFound, "no such delivery");
    let reports = state.reports.as_ref().ok_or_else(not_found)?;
    let tracked = reports
        .send(GetDelivery {
            delivery_id: path.into_inner(),
        })
        .await?
        .map_err(|e| match e {
            CallbackError::Unavailable(_) => ApiError::unavailable(),
            other => ApiError::new(ErrorCode::Internal, other.to_string()),
        })?
        .ok_or_else(not_found)?;
    if can_read_delivery(&p, &tracked.school).is_err() {
        return Err(not_found());
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "delivery_id": tracked.delivery_id,
        "school": tracked.school,
        "provider": tracked.provider,
        "provider_message_id": tracked.provider_message_id,
        "state": tracked.state,
    })))
}
