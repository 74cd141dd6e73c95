//! Kannel's callbacks: the DLR (`dlr-url`) and inbound SMS (`sms-service` `get-url`), both GETs
//! whose query carries `token=<callback_token>` (Kannel cannot sign). Configure Kannel with, for
//! example, `dlr-url = https://hub/v1/callbacks/kannel/kannel/dlr?token=…&msg=<delivery id>&type=%d&fid=%F&to=%P&ts=%T&reply=%A`
//! and `get-url = https://hub/v1/callbacks/kannel/kannel/mo?token=…&from=%p&to=%P&text=%a`.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use oneclass_actors::delivery::Callback;

use super::{accepted, deliver};
use crate::error::ApiError;
use crate::routes::resource;
use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource(
        "/v1/callbacks/kannel/{provider}/dlr",
        [(Method::GET, web::to(dlr))],
    ))
    .service(resource(
        "/v1/callbacks/kannel/{provider}/mo",
        [(Method::GET, web::to(mo))],
    ));
}

async fn dlr(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = req.query_string().to_owned();
    let ack = deliver(&state, provider.into_inner(), Callback::KannelDlr { query }).await?;
    Ok(accepted(&ack))
}

async fn mo(
    state: web::Data<AppState>,
    provider: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = req.query_string().to_owned();
    let ack = deliver(&state, provider.into_inner(), Callback::KannelMo { query }).await?;
    Ok(accepted(&ack))
}
