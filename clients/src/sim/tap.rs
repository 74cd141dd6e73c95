//! The layer in front of every simulator: records the request, applies the global latency and
//! any queued fault, then lets the simulator handle it.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::control::{Fault, RecordedRequest, HANG};
use super::sandbox::Sim;

/// Largest request body a simulator accepts.
const MAX_BODY: usize = 4 * 1024 * 1024;

#[derive(Clone)]
pub(crate) struct Tap {
    pub sim: Arc<Sim>,
    pub provider: &'static str,
}

pub(crate) async fn tap(State(tap): State<Tap>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response();
    };
    tap.sim.recorder.push(RecordedRequest {
        provider: tap.provider.to_owned(),
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: bytes.clone(),
    });
    if !tap.sim.config.latency.is_zero() {
        tokio::time::sleep(tap.sim.config.latency).await;
    }
    match tap.sim.faults.take(tap.provider) {
        Some(Fault::Status {
            status,
            retry_after,
            body,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, body).into_response();
            if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert("retry-after", value);
            }
            return response;
        }
        Some(Fault::DelayMs { ms }) => {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        Some(Fault::Hang) => {
            tokio::time::sleep(HANG).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        None => {}
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
