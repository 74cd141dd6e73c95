//! The school calendar API: `PUT` and `GET /v1/schools/{school}/calendar`. Admins and services
//! of the school only ([`can_manage_calendar`]). A `PUT` body is the whole calendar (time zone,
//! quiet hours, no-disturb periods; [`CalendarSpec`]) and replaces the one in force; it is
//! checked before it reaches the school actor, so a refused calendar is never journaled, and
//! its [`InvalidCalendar`] becomes a 400 naming the field. The school actor journals it as
//! `school.calendar.set` and rebuilds it at start. Both methods answer the calendar in force; a
//! school that never set one answers the default (Africa/Harare, nothing held).
//!
//! What reads it: the delivery plans of `oneclass_actors::notify::policy` (the dispatcher that
//! runs them is later work, so today a calendar changes no delivery yet).
//!
//! [`InvalidCalendar`]: oneclass_actors::notify::calendar::InvalidCalendar

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use oneclass_actors::notify::calendar::CalendarSpec;
use oneclass_actors::permissions::can_manage_calendar;
use oneclass_actors::school::{GetCalendar, SetCalendar};
use oneclass_protocol::channel::is_valid_id;

use crate::error::ApiError;
use crate::routes::auth::principal;
use crate::routes::resource;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        "/v1/schools/{school}/calendar",
        [(Method::PUT, web::to(put)), (Method::GET, web::to(get))],
    ));
}

fn check_school(school: &str) -> Result<(), ApiError> {
    if is_valid_id(school) {
        Ok(())
    } else {
        Err(ApiError::bad_request("ids are 1-64 of A-Z a-z 0-9 _ - ."))
    }
}

async fn put(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<CalendarSpec>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let school = path.into_inner();
    let p = principal(&req, &state)?;
    can_manage_calendar(&p, &school).map_err(ApiError::denied)?;
    check_school(&school)?;
    let calendar = body
        .into_inner()
        .check(state.session_deps.limits.calendar_periods_max)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let spec = state
        .registry
        .get(&school)
        .send(SetCalendar {
            actor: p.user,
            calendar,
        })
        .await??;
    Ok(HttpResponse::Ok().json(spec))
}

async fn get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let school = path.into_inner();
    can_manage_calendar(&principal(&req, &state)?, &school).map_err(ApiError::denied)?;
    check_school(&school)?;
    let spec = state.registry.get(&school).send(GetCalendar).await?;
    Ok(HttpResponse::Ok().json(spec))
}
