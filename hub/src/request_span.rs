//! One tracing span per HTTP request and the access log, through `tracing-actix-web`.
//!
//! [`HubRootSpan`] opens the span with the request id, method, route pattern and path (never the
//! query string, which may carry secrets), and an empty `principal` that
//! [`record_principal`] fills in once a REST route has authenticated the caller. When the response
//! is ready it records status and latency and writes one `request` event at INFO: the access log.
//! A WebSocket upgrade logs when the 101 goes out; the socket's own life is the session actor's.
//!
//! `tracing-actix-web` enters the root span on every poll of the response body. For `/ws` the
//! body is the socket's whole outgoing stream, so that would be span work on every frame of the
//! session's life. Routes in [`LONG_LIVED`] therefore get no span while they run
//! (`Span::none()`, whose enter is a no-op); their access log line is written under a span made
//! with the same fields when the response is ready, so it reads like every other request's.
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

/// Route patterns whose response body lives as long as a connection (`routes/ws.rs`).
pub const LONG_LIVED: &[&str] = &["/ws"];

/// The hub's root span: the fields above, recorded as the request goes.
#[derive(Debug)]
pub struct HubRootSpan;

/// The request span with its fields; status, principal and latency are recorded later.
fn request_span(request: &HttpRequest, route: &str) -> Span {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(ToString::to_string)
        .unwrap_or_default();
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

/// The route pattern of a request, `default` when none matches.
fn route_of(request: &HttpRequest) -> String {
    request.match_pattern().unwrap_or_else(|| "default".into())
}

impl RootSpanBuilder for HubRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Started(Instant::now()));
        let route = route_of(request.request());
        if LONG_LIVED.contains(&route.as_str()) {
            return Span::none();
        }
        request_span(request.request(), &route)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, started) = match outcome {
            Ok(res) => (
                res.response().status().as_u16(),
                res.request().extensions().get::<Started>().copied(),
            ),
            Err(e) => (e.error_response().status().as_u16(), None),
        };
        let span = match outcome {
            Ok(res) => {
                let route = route_of(res.request());
                if LONG_LIVED.contains(&route.as_str()) {
                    // A long-lived route ran without a span: make one now, for its log line.
                    request_span(res.request(), &route)
                } else {
                    span
                }
            }
            Err(_) => span,
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use actix_web::{test, web, App, HttpResponse};
    use bytes::Bytes;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id};
    use tracing_subscriber::layer::{Context, SubscriberExt as _};
    use tracing_subscriber::Layer;

    /// Counts enters of request spans, and the routes of the spans `request` events come under.
    #[derive(Clone, Default)]
    struct Probe {
        enters: Arc<AtomicUsize>,
        logged: Arc<Mutex<Vec<String>>>,
    }

    /// A request span's `http.route`, kept in the span's extensions.
    struct Route(String);

    struct RouteVisitor(Option<String>);

    impl Visit for RouteVisitor {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if field.name() == "http.route" {
                self.0 = Some(format!("{value:?}"));
            }
        }
    }

    impl<S> Layer<S> for Probe
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let mut visitor = RouteVisitor(None);
            attrs.record(&mut visitor);
            if let (Some(route), Some(span)) = (visitor.0, ctx.span(id)) {
                span.extensions_mut().insert(Route(route));
            }
        }

        fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
            if ctx.span(id).is_some_and(|s| s.name() == "HTTP request") {
                self.enters.fetch_add(1, Ordering::Relaxed);
            }
        }

        fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
            if event.metadata().name().contains("request_span.rs") {
                if let Some(route) = ctx
                    .event_span(event)
                    .and_then(|s| s.extensions().get::<Route>().map(|r| r.0.clone()))
                {
                    self.logged.lock().unwrap().push(route);
                }
            }
        }
    }

    const FRAMES: usize = 50;

    async fn stream() -> HttpResponse {
        let chunks = (0..FRAMES).map(|_| Ok::<_, actix_web::Error>(Bytes::from_static(b"frame")));
        HttpResponse::Ok().streaming(futures_util::stream::iter(chunks))
    }

    /// Span enters while the body of `path` is read, and the routes of the access log lines.
    async fn read(path: &str) -> (usize, Vec<String>) {
        let probe = Probe::default();
        let subscriber = tracing_subscriber::registry().with(probe.clone());
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(
            crate::middleware::wrap(App::new(), None)
                .route("/ws", web::get().to(stream))
                .route("/stream", web::get().to(stream)),
        )
        .await;
        let res = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        let before = probe.enters.load(Ordering::Relaxed);
        let body = test::read_body(res).await;
        assert_eq!(body.len(), FRAMES * 5);
        let enters = probe.enters.load(Ordering::Relaxed) - before;
        let logged = probe.logged.lock().unwrap().clone();
        (enters, logged)
    }

    #[actix_web::test]
    async fn a_streaming_body_enters_its_request_span_on_every_poll() {
        let (enters, logged) = read("/stream").await;
        assert!(enters > FRAMES, "{enters} enters for {FRAMES} frames");
        assert_eq!(logged, ["/stream"]);
    }

    #[actix_web::test]
    async fn the_websocket_body_does_no_span_work_per_frame_and_still_gets_its_access_log_line() {
        let (enters, logged) = read("/ws").await;
        assert_eq!(enters, 0);
        assert_eq!(logged, ["/ws"]);
    }
}
