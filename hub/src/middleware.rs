//! The middleware every HTTP request of the hub passes, outermost first: the request span and
//! access log (`tracing-actix-web` with [`HubRootSpan`]), error tracking (`sentry-actix`, only
//! when a DSN is configured), the `x-request-id` response header, and the count of error replies
//! by code ([`count_errors`], innermost so it sees every handler's error first hand).
//!
//! [`wrap`] is the one place the order is decided; `startup` applies it to the hub's app, and
//! tests apply it to an app with failing routes to see what a failure reports.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Condition};
use actix_web::{App, Error};
use tracing_actix_web::TracingLogger;

use crate::error::count_errors;
use crate::error_tracking::ErrorTracking;
use crate::request_span::{request_id_header, HubRootSpan};

/// `app` with the hub's middleware around it.
pub fn wrap<T, B>(
    app: App<T>,
    tracking: Option<&ErrorTracking>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
>
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let sentry = tracking.map_or_else(sentry_actix::Sentry::new, ErrorTracking::middleware);
    app.wrap(from_fn(count_errors))
        .wrap(from_fn(request_id_header))
        .wrap(Condition::new(tracking.is_some(), sentry))
        .wrap(TracingLogger::<HubRootSpan>::new())
}
