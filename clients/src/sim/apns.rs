//! APNs simulator: `POST /apns/3/device/{token}` over HTTP/2 (prior knowledge, no TLS).
//!
//! Like Apple it refuses HTTP/1.1, verifies the ES256 provider token against the team key named
//! by its `kid` (issuer = team id), refuses tokens older than an hour (`ExpiredProviderToken`)
//! and new tokens for a key sooner than 20 minutes after the previous one
//! (`TooManyProviderTokenUpdates`), checks the `apns-*` headers and the payload size, and answers
//! magic device tokens with each error. Success is `200` with an `apns-id` header.

// Validation helpers return the finished error reply; a simulated request is handled once, so
// the size of `Result<_, Response>` costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::json;

use super::push_keys::{sandbox_apns_key, SANDBOX_APNS_KEY_ID};
use super::sandbox::Sim;
use crate::clock::{SharedClock, SystemClock};

/// One team key the simulator accepts.
#[derive(Debug, Clone)]
pub struct ApnsSimKey {
    /// `kid`.
    pub key_id: String,
    /// `iss`.
    pub team_id: String,
    /// SPKI PEM public key.
    pub public_key_pem: String,
}

/// APNs simulator settings.
#[derive(Debug, Clone)]
pub struct ApnsSimConfig {
    /// Keys accepted besides the sandbox's own.
    pub keys: Vec<ApnsSimKey>,
    /// Topics (bundle ids) allowed; empty allows any.
    pub topics: Vec<String>,
    /// Oldest provider token accepted.
    pub max_token_age: Duration,
    /// Least time between two new tokens of one key; `None` turns the check off. (Apple applies
    /// it per connection; the simulator, more strictly, per key.)
    pub min_token_interval: Option<Duration>,
    /// The simulator's notion of now; the system clock when `None`.
    pub clock: Option<SharedClock>,
}

impl Default for ApnsSimConfig {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            topics: Vec::new(),
            max_token_age: Duration::from_secs(3600),
            min_token_interval: Some(Duration::from_secs(20 * 60)),
            clock: None,
        }
    }
}

/// Per-key token history.
#[derive(Debug)]
pub(crate) struct ApnsSim {
    config: ApnsSimConfig,
    clock: SharedClock,
    /// Newest `iat` seen per key id.
    newest_iat: Mutex<HashMap<String, u64>>,
}

impl ApnsSim {
    pub(crate) fn new(config: &ApnsSimConfig) -> Self {
        Self {
            clock: config.clock.clone().unwrap_or_else(SystemClock::shared),
            config: config.clone(),
            newest_iat: Mutex::new(HashMap::new()),
        }
    }

    fn key(&self, key_id: &str) -> Option<ApnsSimKey> {
        if let Some(key) = self.config.keys.iter().find(|k| k.key_id == key_id) {
            return Some(key.clone());
        }
        (key_id == SANDBOX_APNS_KEY_ID).then(|| {
            let key = sandbox_apns_key();
            ApnsSimKey {
                key_id: key.key_id,
                team_id: key.team_id,
                public_key_pem: key.public_key_pem,
            }
        })
    }
}

pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new().route("/3/device/{token}", post(push))
}

fn reason(status: StatusCode, reason: &str) -> Response {
    (status, Json(json!({ "reason": reason }))).into_response()
}

/// Magic device tokens: a 4-hex-digit code repeated 16 times.
fn magic(device: &str, now: SystemTime) -> Option<Response> {
    if device.len() != 64 || device[..4].repeat(16) != device {
        return None;
    }
    Some(match &device[..4] {
        "0410" => {
            let ms = now
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_millis() as u64;
            (
                StatusCode::GONE,
                Json(json!({ "reason": "Unregistered", "timestamp": ms })),
            )
                .into_response()
        }
        "0400" => reason(StatusCode::BAD_REQUEST, "BadDeviceToken"),
        "0403" => reason(StatusCode::BAD_REQUEST, "DeviceTokenNotForTopic"),
        "0429" => reason(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests"),
        "0500" => reason(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
        "0503" => reason(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
        _ => return None,
    })
}

#[derive(Deserialize)]
struct ProviderClaims {
    iss: String,
    iat: u64,
}

/// Verifies the provider token; `Err` is APNs's 403 (or 429) reply.
fn authenticate(sim: &ApnsSim, headers: &HeaderMap) -> Result<(), Response> {
    let forbidden = |r: &str| reason(StatusCode::FORBIDDEN, r);
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("bearer ")
                .or_else(|| v.strip_prefix("Bearer "))
        })
    else {
        return Err(forbidden("MissingProviderToken"));
    };
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| forbidden("InvalidProviderToken"))?;
    if header.alg != Algorithm::ES256 {
        return Err(forbidden("InvalidProviderToken"));
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| sim.key(kid))
        .ok_or_else(|| forbidden("InvalidProviderToken"))?;
    let decoding = DecodingKey::from_ec_pem(key.public_key_pem.as_bytes())
        .map_err(|_| forbidden("InvalidProviderToken"))?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<ProviderClaims>(token, &decoding, &validation)
        .map_err(|_| forbidden("InvalidProviderToken"))?
        .claims;
    if claims.iss != key.team_id {
        return Err(forbidden("InvalidProviderToken"));
    }
    let now = sim
        .clock
        .now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    if claims.iat > now + 60 {
        return Err(forbidden("InvalidProviderToken"));
    }
    if now - claims.iat.min(now) > sim.config.max_token_age.as_secs() {
        return Err(forbidden("ExpiredProviderToken"));
    }
    let mut newest = sim.newest_iat.lock();
    match newest.get(&key.key_id).copied() {
        Some(previous) if claims.iat > previous => {
            if let Some(interval) = sim.config.min_token_interval {
                if claims.iat - previous < interval.as_secs() {
                    return Err(reason(
                        StatusCode::TOO_MANY_REQUESTS,
                        "TooManyProviderTokenUpdates",
                    ));
                }
            }
            newest.insert(key.key_id, claims.iat);
        }
        Some(_) => {}
        None => {
            newest.insert(key.key_id, claims.iat);
        }
    }
    Ok(())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

const PUSH_TYPES: &[&str] = &[
    "alert",
    "background",
    "location",
    "voip",
    "complication",
    "fileprovider",
    "mdm",
    "liveactivity",
    "pushtotalk",
];

fn check_headers(sim: &ApnsSim, headers: &HeaderMap) -> Result<(), Response> {
    let bad = |r: &str| Err(reason(StatusCode::BAD_REQUEST, r));
    match header(headers, "apns-topic") {
        None | Some("") => return bad("MissingTopic"),
        Some(topic) => {
            if !sim.config.topics.is_empty() && !sim.config.topics.iter().any(|t| t == topic) {
                return bad("TopicDisallowed");
            }
        }
    }
    if let Some(push_type) = header(headers, "apns-push-type") {
        if !PUSH_TYPES.contains(&push_type) {
            return bad("InvalidPushType");
        }
    }
    if let Some(priority) = header(headers, "apns-priority") {
        if !matches!(priority, "1" | "5" | "10") {
            return bad("BadPriority");
        }
    }
    if let Some(expiration) = header(headers, "apns-expiration") {
        if expiration.is_empty() || !expiration.bytes().all(|b| b.is_ascii_digit()) {
            return bad("BadExpirationDate");
        }
    }
    if header(headers, "apns-collapse-id").is_some_and(|c| c.len() > 64) {
        return bad("BadCollapseId");
    }
    if let Some(id) = header(headers, "apns-id") {
        let canonical = uuid::Uuid::parse_str(id)
            .is_ok_and(|u| u.hyphenated().to_string() == id.to_ascii_lowercase());
        if !canonical || id.len() != 36 {
            return bad("BadMessageId");
        }
    }
    Ok(())
}

async fn push(
    State(sim): State<Arc<Sim>>,
    Path(device): Path<String>,
    request: Request,
) -> Response {
    if request.version() != Version::HTTP_2 {
        // Apple serves HTTP/2 only.
        return (
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "apns speaks HTTP/2 only",
        )
            .into_response();
    }
    let headers = request.headers().clone();
    let Ok(body) = axum::body::to_bytes(request.into_body(), 64 * 1024).await else {
        return reason(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
    };
    let apns = &sim.apns;
    if let Err(response) = authenticate(apns, &headers) {
        return response;
    }
    if let Err(response) = check_headers(apns, &headers) {
        return response;
    }
    if device.is_empty() {
        return reason(StatusCode::BAD_REQUEST, "MissingDeviceToken");
    }
    if !device.bytes().all(|b| b.is_ascii_hexdigit()) {
        return reason(StatusCode::BAD_REQUEST, "BadDeviceToken");
    }
    let body: Bytes = body;
    if body.is_empty() {
        return reason(StatusCode::BAD_REQUEST, "PayloadEmpty");
    }
    let limit = if header(&headers, "apns-push-type") == Some("voip") {
        5120
    } else {
        4096
    };
    if body.len() > limit {
        return reason(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
    }
    if let Some(response) = magic(&device, apns.clock.now()) {
        return response;
    }
    let id = header(&headers, "apns-id")
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| uuid::Uuid::now_v7().hyphenated().to_string());
    let mut response = StatusCode::OK.into_response();
    // unwrap: a hyphenated UUID is a valid header value.
    response
        .headers_mut()
        .insert("apns-id", HeaderValue::from_str(&id).unwrap());
    response
}
