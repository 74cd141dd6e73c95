//! `POST /v1/notifications`: a notification to users, a class or a whole school. Recipients come
//! from the roster; each gets the notification in their `user:` inbox with its own seq, live or on
//! resume. The `Idempotency-Key` header makes retries safe: it is the sender's (two senders'
//! keys never meet), a repeat with the same body answers the first notification (completing its
//! fan-out if that was interrupted) and a repeat with another body is a 409 that delivers
//! nothing. `data` is bounded in size and depth, and the whole notification must fit in one
//! WebSocket message (`[limits]` `notify_data_bytes`, `notify_data_depth`, `max_message_bytes`).

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use oneclass_actors::notify::{Audience, Notify};
use oneclass_actors::permissions::can_notify;
use oneclass_protocol::channel::is_valid_id;
use oneclass_protocol::command::Body;
use serde::Deserialize;

use crate::error::ApiError;
use crate::routes::auth::principal;
use crate::routes::resource;
use crate::startup::AppState;

const MAX_KEY: usize = 255;
const MAX_TITLE: usize = 200;
const MAX_TEXT: usize = 16 * 1024;
const MAX_USERS: usize = 10_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        "/v1/notifications",
        [(Method::POST, web::to(create))],
    ));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct To {
    users: Option<Vec<String>>,
    class: Option<String>,
    school: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationBody {
    school: String,
    to: To,
    kind: String,
    title: String,
    body: String,
    #[serde(default)]
    data: Body,
}

fn audience(to: To) -> Result<Audience, ApiError> {
    match (to.users, to.class, to.school) {
        (Some(users), None, None) if !users.is_empty() && users.len() <= MAX_USERS => {
            Ok(Audience::Users(users))
        }
        (None, Some(class), None) if is_valid_id(&class) => Ok(Audience::Class(class)),
        (None, None, Some(true)) => Ok(Audience::School),
        _ => Err(ApiError::bad_request(
            "`to` must be exactly one of {users: [...]}, {class: \"id\"} or {school: true}",
        )),
    }
}

async fn create(
    req: HttpRequest,
    body: web::Json<NotificationBody>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = principal(&req, &state)?;
    let key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY)
        .ok_or_else(|| {
            ApiError::bad_request("an Idempotency-Key header (1-255 chars) is required")
        })?
        .to_owned();
    let b = body.into_inner();
    if !p.in_school(&b.school) || !is_valid_id(&b.school) {
        return Err(ApiError::forbidden());
    }
    let to = audience(b.to)?;
    can_notify(&p, &b.school, &to).map_err(ApiError::denied)?;
    if b.kind.is_empty()
        || b.kind.len() > 64
        || b.title.len() > MAX_TITLE
        || b.body.len() > MAX_TEXT
    {
        return Err(ApiError::bad_request(
            "kind (1-64), title (≤200) or body (≤16 KiB) out of range",
        ));
    }
    let msg = Notify {
        actor: p.user,
        idempotency_key: key,
        to,
        kind: b.kind,
        title: b.title,
        body: b.body,
        data: b.data,
    };
    msg.check_limits(state.registry.limits())
        .map_err(|e| ApiError::bad_request(e.message))?;
    let outcome = state.registry.get(&b.school).send(msg).await??;
    Ok(HttpResponse::Accepted().json(outcome))
}
