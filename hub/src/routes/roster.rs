//! The roster API: `PUT`, `GET`, `DELETE /v1/schools/{school}/members/{user}` and
//! `GET /v1/schools/{school}/members?class=`. Admins of the school and services only
//! ([`can_manage_roster`]); every change is journaled by the school actor.

use actix_web::{web, HttpRequest, HttpResponse};
use oneclass_actors::permissions::can_manage_roster;
use oneclass_actors::roster::{Contacts, Locale, Member};
use oneclass_actors::school::{GetMember, ListMembers, RemoveMember, UpsertMember};
use oneclass_actors::Role;
use oneclass_protocol::channel::is_valid_id;
use oneclass_protocol::ErrorCode;
use serde::Deserialize;

use crate::error::ApiError;
use crate::routes::auth::principal;
use crate::startup::AppState;

/// Most classes, guardianships or preferences one member may list.
const MAX_LIST: usize = 256;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/schools/{school}/members", web::get().to(list))
        .route("/v1/schools/{school}/members/{user}", web::put().to(put))
        .route("/v1/schools/{school}/members/{user}", web::get().to(get))
        .route(
            "/v1/schools/{school}/members/{user}",
            web::delete().to(delete),
        );
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
}

const CHANNELS: [&str; 4] = ["push", "whatsapp", "sms", "email"];

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
    if b.classes.len() > MAX_LIST || b.guardian_of.len() > MAX_LIST || b.preferences.len() > 4 {
        return Err(ApiError::bad_request(
            "too many classes, guardianships or preferences",
        ));
    }
    if let Some(bad) = b
        .classes
        .iter()
        .chain(&b.guardian_of)
        .find(|c| !is_valid_id(c))
    {
        return Err(ApiError::bad_request(format!("invalid id `{bad}`")));
    }
    if let Some(bad) = b
        .preferences
        .iter()
        .find(|c| !CHANNELS.contains(&c.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "unknown channel preference `{bad}`"
        )));
    }
    let member = Member {
        user,
        role: b.role,
        classes: b.classes,
        guardian_of: b.guardian_of,
        locale: b.locale,
        contacts: b.contacts,
        preferences: b.preferences,
    };
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
    let members = state
        .registry
        .get(&school)
        .send(ListMembers {
            class: query.into_inner().class,
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "members": members })))
}
