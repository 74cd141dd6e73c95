//! TelOne and Econet bulk-SMS simulators, plus what all SMS simulators share: magic recipients
//! and the hourly rate windows.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::control::SimSms;
use super::sandbox::Sim;
use crate::phone::ZwMobile;
use crate::sms::analyse;

/// Accepted, then reported undelivered.
pub const NEVER_DELIVERS: &str = "263779999001";
/// Refused at submission as an invalid or barred recipient.
pub const REFUSED: &str = "263779999002";
/// Accepted, then only ever reported buffered (handset off).
pub const PHONE_OFF: &str = "263779999003";

/// Longest message the simulated bulk gateways accept, in segments.
const MAX_SEGMENTS: usize = 6;

/// What happens to a message, by recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DlrPlan {
    Deliver,
    Undeliverable,
    Buffered,
    Refuse,
}

impl DlrPlan {
    pub(crate) fn for_recipient(digits: &str) -> Self {
        match digits {
            NEVER_DELIVERS => DlrPlan::Undeliverable,
            REFUSED => DlrPlan::Refuse,
            PHONE_OFF => DlrPlan::Buffered,
            _ => DlrPlan::Deliver,
        }
    }

    /// Kannel DLR types sent, in order.
    pub(crate) fn kannel_types(self) -> &'static [u32] {
        match self {
            DlrPlan::Deliver => &[8, 1],
            DlrPlan::Undeliverable => &[8, 2],
            DlrPlan::Buffered => &[8, 4],
            DlrPlan::Refuse => &[],
        }
    }
}

/// Digits of a number in international form without `+` or `00`.
pub(crate) fn digits(number: &str) -> String {
    let d: String = number.chars().filter(char::is_ascii_digit).collect();
    d.strip_prefix("00").map(str::to_owned).unwrap_or(d)
}

/// One fixed one-hour window per gateway.
#[derive(Debug, Default)]
pub(crate) struct RateWindows {
    windows: Mutex<HashMap<&'static str, (Instant, u32)>>,
}

impl RateWindows {
    /// Counts one message; `Err(wait)` if the hourly limit is already used up.
    fn admit(&self, gateway: &'static str, limit: u32) -> Result<(), Duration> {
        const HOUR: Duration = Duration::from_secs(3600);
        let mut windows = self.windows.lock();
        let now = Instant::now();
        let entry = windows.entry(gateway).or_insert((now, 0));
        if now.duration_since(entry.0) >= HOUR {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            return Err(HOUR.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += 1;
        Ok(())
    }
}

pub(crate) fn telone_routes() -> Router<Arc<Sim>> {
    Router::new().route(crate::sms::telone::SEND_PATH, post(telone_send))
}

pub(crate) fn econet_routes() -> Router<Arc<Sim>> {
    Router::new().route(crate::sms::econet::SEND_PATH, post(econet_send))
}

fn telone_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"status": "error", "error_code": code, "message": message})),
    )
        .into_response()
}

async fn telone_send(State(sim): State<Arc<Sim>>, body: axum::body::Bytes) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return telone_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "body is not JSON");
    };
    let field = |name: &str| req.get(name).and_then(Value::as_str).unwrap_or_default();
    let cfg = &sim.config.sms;
    if field("username") != cfg.telone_username || field("password") != cfg.telone_password {
        return telone_error(
            StatusCode::UNAUTHORIZED,
            "AUTH_FAILED",
            "invalid credentials",
        );
    }
    let sender = field("sender_id");
    if sender.is_empty() || sender.len() > 11 {
        return telone_error(
            StatusCode::BAD_REQUEST,
            "INVALID_SENDER_ID",
            "sender id must be 1-11 characters",
        );
    }
    let recipient = field("recipient");
    if !recipient.starts_with("263")
        || ZwMobile::parse(recipient).is_err()
        || DlrPlan::for_recipient(recipient) == DlrPlan::Refuse
    {
        return telone_error(
            StatusCode::BAD_REQUEST,
            "INVALID_RECIPIENT",
            "recipient is not a valid subscriber",
        );
    }
    let text = field("message");
    let segments = analyse(text).segments;
    if segments == 0 {
        return telone_error(StatusCode::BAD_REQUEST, "EMPTY_MESSAGE", "message is empty");
    }
    if segments > MAX_SEGMENTS {
        return telone_error(
            StatusCode::BAD_REQUEST,
            "MESSAGE_TOO_LONG",
            "message exceeds 6 segments",
        );
    }
    if let Err(wait) = sim.rate.admit("telone", cfg.telone_rate_limit) {
        let mut response = telone_error(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            "hourly limit reached",
        );
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(wait.as_secs().max(1)));
        return response;
    }
    let id = format!("TL{}", uuid::Uuid::now_v7().simple());
    sim.outbox.lock().push(SimSms {
        provider: "telone".to_owned(),
        id: id.clone(),
        to: recipient.to_owned(),
        from: sender.to_owned(),
        text: text.to_owned(),
    });
    Json(json!({"status": "success", "message_id": id, "segments": segments})).into_response()
}

fn econet_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

async fn econet_send(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let cfg = &sim.config.sms;
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if key != cfg.econet_api_key {
        return econet_error(StatusCode::UNAUTHORIZED, "unauthorized", "invalid API key");
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return econet_error(StatusCode::BAD_REQUEST, "bad_request", "body is not JSON");
    };
    let field = |name: &str| req.get(name).and_then(Value::as_str).unwrap_or_default();
    let from = field("from");
    if from.is_empty() {
        return econet_error(
            StatusCode::FORBIDDEN,
            "unknown_sender",
            "sender not registered",
        );
    }
    let to = field("to");
    if !to.starts_with("+263")
        || ZwMobile::parse(to).is_err()
        || DlrPlan::for_recipient(&digits(to)) == DlrPlan::Refuse
    {
        return econet_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_destination",
            "destination is not a valid subscriber",
        );
    }
    let text = field("text");
    let parts = analyse(text).segments;
    if parts == 0 || parts > MAX_SEGMENTS {
        return econet_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_text",
            "text must be 1 to 6 segments",
        );
    }
    if let Err(wait) = sim.rate.admit("econet", cfg.econet_rate_limit) {
        let mut response = econet_error(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            "hourly limit reached",
        );
        let until = httpdate::fmt_http_date(SystemTime::now() + wait + Duration::from_secs(1));
        if let Ok(value) = HeaderValue::from_str(&until) {
            response.headers_mut().insert("retry-after", value);
        }
        return response;
    }
    let id = format!("EC{}", uuid::Uuid::now_v7().simple());
    sim.outbox.lock().push(SimSms {
        provider: "econet".to_owned(),
        id: id.clone(),
        to: to.to_owned(),
        from: from.to_owned(),
        text: text.to_owned(),
    });
    (
        StatusCode::CREATED,
        Json(json!({"id": id, "status": "queued", "parts": parts})),
    )
        .into_response()
}
