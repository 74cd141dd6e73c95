//! FCM simulator: Google's OAuth2 token endpoint under `/oauth2` (`POST /oauth2/token`) and
//! FCM HTTP v1 under `/fcm` (`POST /fcm/v1/projects/{project}/messages:send`).
//!
//! The token endpoint checks the JWT-bearer grant the way Google does: the assertion's RS256
//! signature against the service account's public key, its audience, a lifetime of at most an
//! hour around the simulator's clock, and a scope that allows messaging. The send endpoint wants
//! a live access token issued for the same project, validates the message (one target, string
//! data without reserved keys, TTL and priority formats, size) and answers magic tokens with
//! each FCM error.

// Validation helpers return the finished error reply; a simulated request is handled once, so
// the size of `Result<_, Response>` costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};

use super::push_keys::{sandbox_service_account, SANDBOX_CLIENT_EMAIL};
use super::sandbox::Sim;
use crate::clock::{SharedClock, SystemClock};

/// Google's real token endpoint; assertions may name it or the simulator's own as audience.
const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Scopes that allow sending.
const SEND_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/firebase.messaging",
    "https://www.googleapis.com/auth/cloud-platform",
];
/// Largest message FCM takes (keys and values; the simulator measures the whole JSON object).
const MAX_MESSAGE: usize = 4096;
/// Largest topic message.
const MAX_TOPIC_MESSAGE: usize = 2048;
/// Longest Android TTL: four weeks.
const MAX_TTL_SECS: u64 = 2_419_200;
/// How far in the future an assertion's `iat` may be (clock skew).
const SKEW: Duration = Duration::from_secs(60);

/// A service account the simulator accepts, by its public key.
#[derive(Debug, Clone)]
pub struct FcmSimAccount {
    /// `client_email` (the assertion's `iss`).
    pub client_email: String,
    /// The project its tokens may send for.
    pub project_id: String,
    /// SPKI PEM public key.
    pub public_key_pem: String,
}

/// FCM simulator settings.
#[derive(Debug, Clone)]
pub struct FcmSimConfig {
    /// Accounts accepted besides the sandbox's own ([`sandbox_service_account`]).
    pub accounts: Vec<FcmSimAccount>,
    /// `expires_in` of issued access tokens.
    pub token_lifetime: Duration,
    /// The simulator's notion of now (token expiry); the system clock when `None`.
    pub clock: Option<SharedClock>,
}

impl Default for FcmSimConfig {
    fn default() -> Self {
        Self {
            accounts: Vec::new(),
            token_lifetime: Duration::from_secs(3600),
            clock: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Issued {
    project_id: String,
    expires_at: SystemTime,
}

/// Issued tokens and sent-message numbering.
#[derive(Debug)]
pub(crate) struct FcmSim {
    accounts: HashMap<String, FcmSimAccount>,
    lifetime: Duration,
    clock: SharedClock,
    issued: Mutex<HashMap<String, Issued>>,
    next_id: AtomicU64,
}

impl FcmSim {
    pub(crate) fn new(config: &FcmSimConfig) -> Self {
        Self {
            accounts: config
                .accounts
                .iter()
                .map(|a| (a.client_email.clone(), a.clone()))
                .collect(),
            lifetime: config.token_lifetime,
            clock: config.clock.clone().unwrap_or_else(SystemClock::shared),
            issued: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        }
    }

    fn account(&self, client_email: &str) -> Option<FcmSimAccount> {
        if let Some(account) = self.accounts.get(client_email) {
            return Some(account.clone());
        }
        (client_email == SANDBOX_CLIENT_EMAIL).then(|| {
            let sandbox = sandbox_service_account(GOOGLE_TOKEN_URI);
            FcmSimAccount {
                client_email: sandbox.client_email,
                project_id: sandbox.project_id,
                public_key_pem: sandbox.public_key_pem,
            }
        })
    }
}

pub(crate) fn oauth_routes() -> Router<Arc<Sim>> {
    Router::new().route("/token", post(token))
}

pub(crate) fn fcm_routes() -> Router<Arc<Sim>> {
    Router::new().route("/v1/projects/{project}/messages:send", post(send))
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    aud: String,
    iat: u64,
    exp: u64,
}

fn epoch_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

async fn token(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let grant = form.get("grant_type").map(String::as_str).unwrap_or("");
    if grant != JWT_BEARER {
        return oauth_error(
            "unsupported_grant_type",
            &format!("Invalid grant_type: {grant}"),
        );
    }
    let Some(assertion) = form.get("assertion") else {
        return oauth_error("invalid_request", "Missing required parameter: assertion");
    };
    match jsonwebtoken::decode_header(assertion) {
        Ok(h) if h.alg == Algorithm::RS256 => {}
        Ok(_) => return oauth_error("invalid_grant", "Invalid JWT: algorithm must be RS256."),
        Err(_) => return oauth_error("invalid_grant", "Invalid JWT: malformed."),
    }
    let unverified = match jsonwebtoken::dangerous::insecure_decode::<AssertionClaims>(assertion) {
        Ok(data) => data.claims,
        Err(_) => return oauth_error("invalid_grant", "Invalid JWT: claims unreadable."),
    };
    let fcm = &sim.fcm;
    let Some(account) = fcm.account(&unverified.iss) else {
        return oauth_error("invalid_grant", "Invalid grant: account not found");
    };
    let Ok(key) = DecodingKey::from_rsa_pem(account.public_key_pem.as_bytes()) else {
        return oauth_error("invalid_client", "The account's public key is unusable.");
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = match jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(_) => return oauth_error("invalid_grant", "Invalid JWT Signature."),
    };
    let own_uri = format!("{}/oauth2/token", sim.public_url);
    if claims.aud != GOOGLE_TOKEN_URI && claims.aud != own_uri {
        return oauth_error("invalid_grant", "Invalid JWT: Failed audience check.");
    }
    let now = epoch_secs(fcm.clock.now());
    let timeframe_ok = claims.iat <= now + SKEW.as_secs()
        && claims.exp > now
        && claims.exp > claims.iat
        && claims.exp - claims.iat <= 3600;
    if !timeframe_ok {
        return oauth_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable \
             timeframe. Check your iat and exp values in the JWT claim.",
        );
    }
    if !claims
        .scope
        .split_whitespace()
        .any(|s| SEND_SCOPES.contains(&s))
    {
        return oauth_error("invalid_scope", "No valid scope for sending messages.");
    }
    let access = format!("ya29.sim-{}", uuid::Uuid::now_v7().simple());
    fcm.issued.lock().insert(
        access.clone(),
        Issued {
            project_id: account.project_id,
            expires_at: fcm.clock.now() + fcm.lifetime,
        },
    );
    Json(json!({
        "access_token": access,
        "expires_in": fcm.lifetime.as_secs(),
        "token_type": "Bearer",
    }))
    .into_response()
}

const FCM_ERROR_TYPE: &str = "type.googleapis.com/google.firebase.fcm.v1.FcmError";

/// A Google API error body, with an FCM error code when `fcm_code` is given.
fn fcm_error(
    status: StatusCode,
    canonical: &str,
    message: &str,
    fcm_code: Option<&str>,
    extra: Option<Value>,
) -> Response {
    let mut details = Vec::new();
    if let Some(code) = fcm_code {
        details.push(json!({ "@type": FCM_ERROR_TYPE, "errorCode": code }));
    }
    details.extend(extra);
    let mut error = json!({ "code": status.as_u16(), "message": message, "status": canonical });
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    (status, Json(json!({ "error": error }))).into_response()
}

fn invalid(message: &str, field: &str) -> Response {
    fcm_error(
        StatusCode::BAD_REQUEST,
        "INVALID_ARGUMENT",
        message,
        Some("INVALID_ARGUMENT"),
        Some(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{ "field": field, "description": message }]
        })),
    )
}

fn unauthenticated() -> Response {
    fcm_error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login \
         cookie or other valid authentication credential.",
        None,
        None,
    )
}

/// Checks the message the way FCM does, as far as the simulator knows the rules.
fn validate(message: &Value) -> Result<(), Response> {
    let Some(m) = message.as_object() else {
        return Err(invalid("Request contains an invalid argument.", "message"));
    };
    let targets = ["token", "topic", "condition"]
        .iter()
        .filter(|t| m.get(**t).is_some_and(|v| !v.is_null()))
        .count();
    if targets != 1 {
        return Err(invalid(
            "Exactly one of token, topic or condition must be set.",
            "message",
        ));
    }
    if let Some(topic) = m.get("topic").and_then(Value::as_str) {
        let ok = !topic.is_empty()
            && topic
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b));
        if !ok {
            return Err(invalid("Invalid topic name.", "message.topic"));
        }
    }
    if let Some(data) = m.get("data") {
        let Some(data) = data.as_object() else {
            return Err(invalid("data must be a map.", "message.data"));
        };
        for (key, value) in data {
            let reserved = key == "from"
                || key == "message_type"
                || key.starts_with("google")
                || key.starts_with("gcm");
            if reserved {
                return Err(invalid(
                    &format!("Invalid data payload key: {key}"),
                    "message.data",
                ));
            }
            if !value.is_string() {
                return Err(invalid(
                    &format!("Invalid value at 'message.data[{key}]': expected a string"),
                    "message.data",
                ));
            }
        }
    }
    if let Some(android) = m.get("android") {
        if let Some(priority) = android.get("priority").and_then(Value::as_str) {
            if !matches!(priority, "NORMAL" | "HIGH" | "normal" | "high") {
                return Err(invalid(
                    "Invalid value at 'message.android.priority'",
                    "message.android.priority",
                ));
            }
        }
        if let Some(ttl) = android.get("ttl") {
            let secs = ttl
                .as_str()
                .and_then(|t| t.strip_suffix('s'))
                .and_then(|t| t.split('.').next())
                .and_then(|t| t.parse::<u64>().ok());
            if secs.is_none_or(|s| s > MAX_TTL_SECS) {
                return Err(invalid(
                    "Invalid value at 'message.android.ttl'",
                    "message.android.ttl",
                ));
            }
        }
    }
    if let Some(headers) = m.get("apns").and_then(|a| a.get("headers")) {
        if !headers
            .as_object()
            .is_some_and(|h| h.values().all(Value::is_string))
        {
            return Err(invalid(
                "apns headers must be strings",
                "message.apns.headers",
            ));
        }
    }
    let size = message.to_string().len();
    let limit = if m.contains_key("topic") {
        MAX_TOPIC_MESSAGE
    } else {
        MAX_MESSAGE
    };
    if size > limit {
        // FCM answers an oversize message with a bare INVALID_ARGUMENT and no FcmError.
        return Err(fcm_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "Request contains an invalid argument.",
            None,
            None,
        ));
    }
    Ok(())
}

/// The error a magic registration token stands for.
fn magic(token: &str, project: &str) -> Option<Response> {
    Some(match token {
        "sim-unregistered" => fcm_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Requested entity was not found.",
            Some("UNREGISTERED"),
            None,
        ),
        "sim-invalid-token" => invalid(
            "The registration token is not a valid FCM registration token",
            "message.token",
        ),
        "sim-sender-mismatch" => fcm_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "SenderId mismatch",
            Some("SENDER_ID_MISMATCH"),
            None,
        ),
        "sim-quota-exceeded" => fcm_error(
            StatusCode::TOO_MANY_REQUESTS,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Send requests' for the device.",
            Some("QUOTA_EXCEEDED"),
            Some(json!({
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{ "subject": format!("projects/{project}"),
                                 "description": "Device message rate exceeded." }]
            })),
        ),
        "sim-unavailable" => {
            let mut r = fcm_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "The service is currently unavailable.",
                Some("UNAVAILABLE"),
                None,
            );
            r.headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("30"));
            r
        }
        "sim-internal" => fcm_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "Internal error encountered.",
            Some("INTERNAL"),
            None,
        ),
        "sim-third-party-auth" => fcm_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Auth error from APNS or Web Push Service",
            Some("THIRD_PARTY_AUTH_ERROR"),
            None,
        ),
        _ => return None,
    })
}

async fn send(
    State(sim): State<Arc<Sim>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fcm = &sim.fcm;
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let Some(bearer) = bearer else {
        return unauthenticated();
    };
    let issued = fcm.issued.lock().get(bearer).cloned();
    let Some(issued) = issued.filter(|i| i.expires_at > fcm.clock.now()) else {
        return unauthenticated();
    };
    if issued.project_id != project {
        return fcm_error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            &format!(
                "Permission 'cloudmessaging.messages.create' denied on resource \
                 '//cloudresourcemanager.googleapis.com/projects/{project}'"
            ),
            None,
            None,
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return fcm_error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "Invalid JSON payload received.",
            None,
            None,
        );
    };
    let Some(message) = request.get("message") else {
        return invalid("Request contains an invalid argument.", "message");
    };
    if let Err(response) = validate(message) {
        return response;
    }
    if let Some(response) = message
        .get("token")
        .and_then(Value::as_str)
        .and_then(|t| magic(t, &project))
    {
        return response;
    }
    let name = if request
        .get("validate_only")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        format!("projects/{project}/messages/fake_message_id")
    } else {
        let n = fcm.next_id.fetch_add(1, Ordering::Relaxed);
        format!("projects/{project}/messages/0:{n}%sim")
    };
    Json(json!({ "name": name })).into_response()
}
