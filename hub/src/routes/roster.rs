//! The roster API: `PUT`, `GET`, `DELETE /v1/schools/{school}/members/{user}` and
//! `GET /v1/schools/{school}/members?class=&limit=&after=`. Admins of the school and services
//! only ([`can_manage_roster`]); every change is journaled by the school actor.
//!
//! A `PUT` body is checked and normalised by [`roster_validation::check`] before it reaches the
//! actor, so a refused member is never journaled; its [`InvalidMember`] becomes a 400 naming the
//! member and the field. The member list comes in pages in user-id order: at most
//! [`Limits::member_page_max`] members, and `next_after` to pass as `after` for the next page.
//!
//! [`InvalidMember`]: oneclass_actors::roster_validation::InvalidMember
//! [`Limits::member_page_max`]: oneclass_actors::Limits::member_page_max

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use oneclass_actors::permissions::can_manage_roster;
use oneclass_actors::roster::{Contacts, Locale, Member};
use oneclass_actors::roster_validation;
use oneclass_actors::school::{GetMember, ListMembers, RemoveMember, UpsertMember};
use oneclass_actors::Role;
use oneclass_protocol::channel::is_valid_id;
use oneclass_protocol::ErrorCode;
use serde::Deserialize;

use crate::error::ApiError;
use crate::routes::auth::principal;
use crate::routes::resource;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        "/v1/schools/{school}/members",
        [(Method::GET, web::to(list))],
    ))
    .service(resource(
        "/v1/schools/{school}/members/{user}",
        [
            (Method::PUT, web::to(put)),
            (Method::GET, web::to(get)),
            (Method::DELETE, web::to(delete)),
        ],
    ));
}

/// The body of a `PUT`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    role: Role,
    #[serde(default)]
    classes: Vec<String>,
    #[serde(default)]
    guardian_of: Vec<String>,
    #[serde(default)]
    locale: Locale,
    #[serde(default)]
    contacts: Contacts,
    #[serde(default)]
    preferences: Vec<String>,
    #[serde(default)]
    display_name: Option<String>,
}

fn check_ids(school: &str, user: &str) -> Result<(), ApiError> {
    if is_valid_id(school) && is_valid_id(user) {
        Ok(())
    } else {
        Err(ApiError::bad_request("ids are 1-64 of A-Z a-z 0-9 _ - ."))
    }
}

async fn put(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<MemberBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (school, user) = path.into_inner();
    let p = principal(&req, &state)?;
    can_manage_roster(&p, &school).map_err(ApiError::denied)?;
    check_ids(&school, &user)?;
    let b = body.into_inner();
    let member = Member {
        user,
        role: b.role,
        classes: b.classes,
        guardian_of: b.guardian_of,
        locale: b.locale,
        contacts: b.contacts,
        preferences: b.preferences,
        display_name: b.display_name,
    };
    let member = roster_validation::check(member, &state.session_deps.limits)?;
    let school_actor = state.registry.get(&school);
    let member = school_actor
        .send(UpsertMember {
            actor: p.user,
            member,
        })
        .await??;
    Ok(HttpResponse::Ok().json(member))
}

async fn get(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (school, user) = path.into_inner();
    can_manage_roster(&principal(&req, &state)?, &school).map_err(ApiError::denied)?;
    check_ids(&school, &user)?;
    match state.registry.get(&school).send(GetMember { user }).await? {
        Some(member) => Ok(HttpResponse::Ok().json(member)),
        None => Err(ApiError::new(ErrorCode::NotFound, "no such member")),
    }
}

async fn delete(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (school, user) = path.into_inner();
    let p = principal(&req, &state)?;
    can_manage_roster(&p, &school).map_err(ApiError::denied)?;
    check_ids(&school, &user)?;
    if state
        .registry
        .get(&school)
        .send(RemoveMember {
            actor: p.user,
            user,
        })
        .await??
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::new(ErrorCode::NotFound, "no such member"))
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    class: Option<String>,
    /// Most members in the page, 1 to `member_page_max` (the default).
    limit: Option<usize>,
    /// The previous page's `next_after`.
    after: Option<String>,
}

async fn list(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let school = path.into_inner();
    can_manage_roster(&principal(&req, &state)?, &school).map_err(ApiError::denied)?;
    if !is_valid_id(&school) {
        return Err(ApiError::bad_request("invalid school id"));
    }
    let q = query.into_inner();
    let max = state.session_deps.limits.member_page_max;
    let limit = q.limit.unwrap_or(max);
    if limit == 0 || limit > max {
        return Err(ApiError::bad_request(format!(
            "`limit` must be between 1 and {max}"
        )));
    }
    for (name, id) in [("class", &q.class), ("after", &q.after)] {
        if id.as_deref().is_some_and(|id| !is_valid_id(id)) {
            return Err(ApiError::bad_request(format!("`{name}` is not an id")));
        }
    }
    let page = state
        .registry
        .get(&school)
        .send(ListMembers {
            class: q.class,
            after: q.after,
            limit,
        })
        .await?;
    Ok(HttpResponse::Ok().json(page))
}
