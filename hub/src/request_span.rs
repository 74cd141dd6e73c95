//! One tracing span per HTTP request and the access log, through `tracing-actix-web`.
//!
//! [`HubRootSpan`] opens the span with the request id, method, route pattern and path (never the
//! query string, which may carry secrets), and an empty `principal` that
//! [`record_principal`] fills in once a REST route has authenticated the caller. When the response
//! is ready it records status and latency and writes one `request` event at INFO: the access log.
//! A WebSocket upgrade logs when the 101 goes out; the socket's own life is the session actor's.
//!
//! [`request_id_header`] returns the span's request id to the client as `x-request-id`, so a
//! report from a user can be matched to the log. It must run inside `TracingLogger` (which makes
//! the id); outside it the header is simply absent.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _, HttpRequest};
use oneclass_actors::Principal;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpan, RootSpanBuilder};

/// The response header that carries the request id.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// When the request entered the middleware, kept in its extensions for the latency.
#[derive(Clone, Copy)]
struct Started(Instant);

/// The hub's root span: the fields above, recorded as the request goes.
#[derive(Debug)]
pub struct HubRootSpan;

impl RootSpanBuilder for HubRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Started(Instant::now()));
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        tracing::info_span!(
            "HTTP request",
            request_id = %request_id,
            http.method = %request.method(),
            http.route = %route,
            http.target = %request.path(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            principal = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, started) = match outcome {
            Ok(res) => (
                res.response().status().as_u16(),
                res.request().extensions().get::<Started>().copied(),
            ),
            Err(e) => (e.error_response().status().as_u16(), None),
        };
        let latency_ms = started.map(|s| s.0.elapsed().as_secs_f64() * 1000.0);
        if let Some(ms) = latency_ms {
            span.record("latency_ms", ms);
        }
        DefaultRootSpanBuilder::on_request_end(span.clone(), outcome);
        tracing::info!(parent: &span, status, latency_ms, "request");
    }
}

/// Records the authenticated caller into the request's root span (`school/user`).
pub fn record_principal(req: &HttpRequest, principal: &Principal) {
    if let Some(span) = req.extensions().get::<RootSpan>() {
        span.record(
            "principal",
            tracing::field::display(format_args!("{}/{}", principal.school, principal.user)),
        );
    }
}

/// Middleware (`actix_web::middleware::from_fn`): copies the request id into the response.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req.extensions().get::<RequestId>().map(ToString::to_string);
    let mut res = next.call(req).await?;
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(res)
}
