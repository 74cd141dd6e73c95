//! E-mail bounces: the MTA (or a mailbox hook) POSTs each RFC 3464 DSN it receives for the
//! hub's envelope sender as the raw message (`message/rfc822` or any type: the body is read as
//! bytes), with `token=<callback_token>` in the query.

use actix_web::http::Method;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use oneclass_actors::delivery::Callback;

use super::{accepted, deliver};
use crate::error::ApiError;
use crate::routes::resource;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        "/v1/callbacks/email/{provider}/dsn",
        [(Method::POST, web::to(dsn))],
    ));
}

async fn dsn(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    req: HttpRequest,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let query = req.query_string().to_owned();
    let ack = deliver(&state, provider.into_inner(), Callback::Dsn { query, body }).await?;
    Ok(accepted(&ack))
}
