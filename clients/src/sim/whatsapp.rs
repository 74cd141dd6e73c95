//! WhatsApp Cloud API simulator under `/whatsapp`, mirroring `graph.facebook.com`:
//! `POST /whatsapp/{version}/{phone-number-id}/messages` and `…/media`.
//!
//! It checks the bearer token, the version segment, the phone number id and the message shape
//! (known templates with the right parameter count, media by link or uploaded id, button and
//! list limits), keeps a per-user 24-hour window (opened by [`WhatsAppSim::user_message`] or
//! `POST /_sim/whatsapp/inbound`), answers with Graph-style bodies, and after each accepted
//! message POSTs status webhooks signed with the app secret to the configured URL. Magic
//! recipients choose failures (see `MAGIC` and SIMULATORS.md).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::sandbox::Sim;
use crate::whatsapp::{sign_body, CUSTOMER_SERVICE_WINDOW};

/// An approved template the simulator knows.
#[derive(Debug, Clone)]
pub struct SimTemplate {
    /// Template name.
    pub name: String,
    /// Approved language codes.
    pub languages: Vec<String>,
    /// Number of `{{n}}` placeholders in its body.
    pub body_params: usize,
}

/// WhatsApp simulator settings.
#[derive(Debug, Clone)]
pub struct WhatsAppSimConfig {
    /// The only bearer token accepted.
    pub access_token: String,
    /// Key of the `X-Hub-Signature-256` HMAC on webhooks.
    pub app_secret: String,
    /// Token sent in the GET verification handshake.
    pub verify_token: String,
    /// Phone number ids that exist.
    pub phone_number_ids: Vec<String>,
    /// Where status webhooks go (changeable with [`WhatsAppSim::set_webhook_url`]).
    pub webhook_url: Option<String>,
    /// Pause before each status webhook.
    pub status_delay: Duration,
    /// Approved templates.
    pub templates: Vec<SimTemplate>,
}

/// The sandbox's WhatsApp access token.
pub const SANDBOX_WHATSAPP_TOKEN: &str = "sandbox-whatsapp-token";
/// The sandbox's app secret.
pub const SANDBOX_APP_SECRET: &str = "sandbox-app-secret";
/// The sandbox's phone number id.
pub const SANDBOX_PHONE_NUMBER_ID: &str = "100000000000001";

impl Default for WhatsAppSimConfig {
    fn default() -> Self {
        let langs = || vec!["en".to_owned(), "sn".to_owned(), "nd".to_owned()];
        Self {
            access_token: SANDBOX_WHATSAPP_TOKEN.to_owned(),
            app_secret: SANDBOX_APP_SECRET.to_owned(),
            verify_token: "sandbox-verify-token".to_owned(),
            phone_number_ids: vec![SANDBOX_PHONE_NUMBER_ID.to_owned()],
            webhook_url: None,
            status_delay: Duration::from_millis(50),
            templates: vec![
                SimTemplate {
                    name: "school_notice".to_owned(),
                    languages: langs(),
                    body_params: 2,
                },
                SimTemplate {
                    name: "fees_due".to_owned(),
                    languages: langs(),
                    body_params: 1,
                },
            ],
        }
    }
}

/// A message the simulator accepted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimWhatsApp {
    /// The wamid it answered with.
    pub id: String,
    /// Recipient digits.
    pub to: String,
    /// `template`, `text`, `image`, `interactive`, …
    pub kind: String,
    /// The request body as received.
    pub body: Value,
}

/// State of the WhatsApp simulator, reachable through [`super::SandboxHandle::whatsapp`].
#[derive(Debug)]
pub struct WhatsAppSim {
    config: WhatsAppSimConfig,
    webhook_url: Mutex<Option<String>>,
    last_inbound: Mutex<HashMap<String, SystemTime>>,
    media: Mutex<HashSet<String>>,
    sent: Mutex<Vec<SimWhatsApp>>,
    next: AtomicU64,
    http: reqwest::Client,
}

/// What a magic recipient does: an immediate Graph error, or a failed status later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    Normal,
    NoReadReceipts,
    Reject(u16, i64, &'static str),
    FailLater(i64, &'static str),
}

/// Magic recipients (digits).
const MAGIC: &[(&str, Plan)] = &[
    (
        "263779990026",
        Plan::Reject(400, 131026, "Message undeliverable"),
    ),
    (
        "263779990126",
        Plan::FailLater(131026, "Message undeliverable"),
    ),
    ("263779990429", Plan::Reject(429, 130429, "Rate limit hit")),
    (
        "263779990056",
        Plan::Reject(
            400,
            131056,
            "(Business Account, Consumer Account) pair rate limit hit",
        ),
    ),
    (
        "263779990057",
        Plan::Reject(503, 131057, "Account in maintenance mode"),
    ),
    (
        "263779990048",
        Plan::Reject(400, 131048, "Spam rate limit hit"),
    ),
    (
        "263779990031",
        Plan::Reject(400, 131031, "Account has been locked"),
    ),
    (
        "263779990368",
        Plan::Reject(403, 368, "Temporarily blocked for policies violations"),
    ),
    (
        "263779990002",
        Plan::Reject(500, 2, "Service temporarily unavailable"),
    ),
    ("263779990200", Plan::NoReadReceipts),
];

fn plan(to: &str) -> Plan {
    MAGIC
        .iter()
        .find(|(n, _)| *n == to)
        .map_or(Plan::Normal, |(_, p)| *p)
}

impl WhatsAppSim {
    pub(crate) fn new(config: &WhatsAppSimConfig) -> Self {
        Self {
            webhook_url: Mutex::new(config.webhook_url.clone()),
            config: config.clone(),
            last_inbound: Mutex::new(HashMap::new()),
            media: Mutex::new(HashSet::new()),
            sent: Mutex::new(Vec::new()),
            next: AtomicU64::new(1),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Sends status webhooks (and inbound-message webhooks) to `url` from now on.
    pub fn set_webhook_url(&self, url: Option<String>) {
        *self.webhook_url.lock() = url;
    }

    /// Records that user `from` (digits) wrote at `at`, opening or renewing their window.
    pub fn set_last_inbound(&self, from: &str, at: SystemTime) {
        self.last_inbound.lock().insert(from.to_owned(), at);
    }

    /// A user writes to the business now: opens the window and sends the inbound webhook.
    pub async fn user_message(&self, from: &str, text: &str) {
        let now = SystemTime::now();
        self.set_last_inbound(from, now);
        let message = json!({
            "from": from, "id": self.wamid(), "timestamp": epoch(now).to_string(),
            "type": "text", "text": {"body": text},
        });
        self.deliver(json!({"messages": [message], "contacts": [{"wa_id": from, "profile": {"name": "Sim User"}}]}))
            .await;
    }

    /// Every message accepted so far.
    pub fn sent(&self) -> Vec<SimWhatsApp> {
        self.sent.lock().clone()
    }

    /// Plays Meta's subscription check against `url`: a GET with `hub.mode=subscribe`, our
    /// verify token and a random challenge, which must come back as the body of a 200.
    pub async fn verify_callback(&self, url: &str) -> Result<(), String> {
        let challenge = rand::random::<u32>().to_string();
        let response = self
            .http
            .get(url)
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.verify_token", self.config.verify_token.as_str()),
                ("hub.challenge", challenge.as_str()),
            ])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        if status == StatusCode::OK && body == challenge {
            Ok(())
        } else {
            Err(format!("callback answered {status} {body:?}"))
        }
    }

    fn wamid(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("wamid.SIM{n:012}{}", uuid::Uuid::now_v7().simple())
    }

    fn window_open(&self, to: &str) -> bool {
        self.last_inbound
            .lock()
            .get(to)
            .is_some_and(|at| SystemTime::now() < *at + CUSTOMER_SERVICE_WINDOW)
    }

    /// POSTs one change value in Meta's envelope, signed, retrying a few times on failure.
    async fn deliver(&self, mut value: Value) {
        let Some(url) = self.webhook_url.lock().clone() else {
            return;
        };
        value["messaging_product"] = "whatsapp".into();
        value["metadata"] = json!({
            "display_phone_number": "263242000000",
            "phone_number_id": self.config.phone_number_ids.first().cloned().unwrap_or_default(),
        });
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "100000000000099", "changes": [{"field": "messages", "value": value}]}],
        });
        // unwrap: a Value always serialises.
        let bytes = serde_json::to_vec(&body).unwrap();
        let signature = sign_body(self.config.app_secret.as_bytes(), &bytes);
        for attempt in 0..4u64 {
            let sent = self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-hub-signature-256", &signature)
                .body(bytes.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => tracing::debug!(status = r.status().as_u16(), "whatsapp webhook refused"),
                Err(error) => tracing::debug!(%error, "whatsapp webhook failed"),
            }
            tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
        }
    }
}

fn epoch(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// A Graph API error reply.
fn graph_error(status: u16, code: i64, message: &str, subcode: Option<i64>) -> Response {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": message},
        "fbtrace_id": format!("Sim{}", uuid::Uuid::now_v7().simple()),
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = subcode.into();
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(json!({ "error": error }))).into_response()
}

pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/{version}/{phone_id}/messages", post(messages))
        .route("/{version}/{phone_id}/media", post(media))
}

/// Checks the token, version and phone number id common to every call.
fn gate(sim: &Sim, headers: &HeaderMap, version: &str, phone_id: &str) -> Option<Response> {
    let wa = &sim.whatsapp;
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if token != Some(wa.config.access_token.as_str()) {
        return Some(graph_error(
            401,
            190,
            "Invalid OAuth access token - Cannot parse access token",
            None,
        ));
    }
    let version_ok = version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty() && !b.is_empty() && (a.to_owned() + b).bytes().all(|c| c.is_ascii_digit())
        });
    if !version_ok {
        return Some(graph_error(400, 2500, "Unknown path components", None));
    }
    if !wa.config.phone_number_ids.iter().any(|p| p == phone_id) {
        return Some(graph_error(
            400,
            100,
            &format!("Unsupported post request. Object with ID '{phone_id}' does not exist"),
            Some(33),
        ));
    }
    None
}

async fn messages(
    State(sim): State<Arc<Sim>>,
    Path((version, phone_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = gate(&sim, &headers, &version, &phone_id) {
        return refused;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return graph_error(400, 100, "Invalid parameter: body is not JSON", None);
    };
    if request["messaging_product"] != "whatsapp" {
        return graph_error(
            400,
            100,
            "The parameter messaging_product is required.",
            None,
        );
    }
    let to = request["to"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('+')
        .to_owned();
    if to.is_empty() || !to.bytes().all(|b| b.is_ascii_digit()) {
        return graph_error(400, 100, "Invalid parameter: to", None);
    }
    let kind = request["type"].as_str().unwrap_or("text").to_owned();
    if let Err((code, message)) = check_body(&sim.whatsapp, &kind, &request) {
        return graph_error(400, code, &message, None);
    }
    let mut plan = plan(&to);
    if let Plan::Reject(status, code, message) = plan {
        return graph_error(status, code, message, None);
    }
    if kind != "template" && !sim.whatsapp.window_open(&to) {
        // Meta accepts the call and reports the failure as a status.
        plan = Plan::FailLater(
            131047,
            "Re-engagement message: more than 24 hours have passed since the recipient last replied",
        );
    }
    let id = sim.whatsapp.wamid();
    sim.whatsapp.sent.lock().push(SimWhatsApp {
        id: id.clone(),
        to: to.clone(),
        kind: kind.clone(),
        body: request.clone(),
    });
    let reference = request["biz_opaque_callback_data"]
        .as_str()
        .map(str::to_owned);
    let states: Vec<(&str, Option<(i64, &str)>)> = match plan {
        Plan::Normal => vec![("sent", None), ("delivered", None), ("read", None)],
        Plan::NoReadReceipts => vec![("sent", None), ("delivered", None)],
        Plan::FailLater(code, title) => vec![("failed", Some((code, title)))],
        Plan::Reject(..) => Vec::new(),
    };
    let sim2 = sim.clone();
    let (id2, to2) = (id.clone(), to.clone());
    tokio::spawn(async move {
        let wa = &sim2.whatsapp;
        for (state, error) in states {
            tokio::time::sleep(wa.config.status_delay).await;
            let mut status = json!({
                "id": id2, "status": state, "timestamp": epoch(SystemTime::now()).to_string(),
                "recipient_id": to2,
            });
            if let Some(reference) = &reference {
                status["biz_opaque_callback_data"] = reference.clone().into();
            }
            match error {
                Some((code, title)) => {
                    status["errors"] = json!([{"code": code, "title": title, "message": title,
                        "error_data": {"details": title}}]);
                }
                None => {
                    status["pricing"] =
                        json!({"billable": true, "pricing_model": "PMP", "category": "utility"});
                }
            }
            wa.deliver(json!({ "statuses": [status] })).await;
        }
    });
    let mut message = json!({ "id": id });
    if kind == "template" {
        message["message_status"] = "accepted".into();
    }
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": request["to"], "wa_id": to}],
        "messages": [message],
    }))
    .into_response()
}

/// Validates the typed part of a message as the Cloud API would; `Err((code, text))`.
fn check_body(wa: &WhatsAppSim, kind: &str, request: &Value) -> Result<(), (i64, String)> {
    let payload = &request[kind];
    match kind {
        "text" => {
            let body = payload["body"].as_str().unwrap_or_default();
            if body.is_empty() || body.chars().count() > 4096 {
                return Err((100, "Invalid parameter: text.body".into()));
            }
        }
        "template" => {
            let name = payload["name"].as_str().unwrap_or_default();
            let language = payload["language"]["code"].as_str().unwrap_or_default();
            let Some(template) = wa
                .config
                .templates
                .iter()
                .find(|t| t.name == name && t.languages.iter().any(|l| l == language))
            else {
                return Err((
                    132001,
                    format!("Template name does not exist in the translation: {name} ({language})"),
                ));
            };
            let given = payload["components"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["type"] == "body")
                .map(|c| c["parameters"].as_array().map_or(0, Vec::len))
                .sum::<usize>();
            if given != template.body_params {
                return Err((
                    132000,
                    format!(
                        "Number of parameters does not match the expected number of params ({} expected, {given} given)",
                        template.body_params
                    ),
                ));
            }
        }
        "image" | "document" | "video" | "audio" => {
            let link = payload["link"].as_str();
            let id = payload["id"].as_str();
            match (link, id) {
                (Some(link), None)
                    if link.starts_with("https://") || link.starts_with("http://") => {}
                (None, Some(id)) if wa.media.lock().contains(id) => {}
                (None, Some(_)) => {
                    return Err((131053, "Media upload error: unknown media id".into()))
                }
                _ => {
                    return Err((
                        100,
                        format!("Invalid parameter: exactly one of {kind}.link or {kind}.id"),
                    ))
                }
            }
        }
        "interactive" => {
            let action = &payload["action"];
            let ok = match payload["type"].as_str() {
                Some("button") => {
                    let n = action["buttons"].as_array().map_or(0, Vec::len);
                    (1..=3).contains(&n)
                }
                Some("list") => {
                    let rows: usize = action["sections"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|s| s["rows"].as_array().map_or(0, Vec::len))
                        .sum();
                    (1..=10).contains(&rows) && action["button"].is_string()
                }
                Some(_) => true,
                None => false,
            };
            if !ok
                || payload["body"]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty()
            {
                return Err((131009, "Parameter value is not valid: interactive".into()));
            }
        }
        other => return Err((131051, format!("Unsupported message type: {other}"))),
    }
    Ok(())
}

async fn media(
    State(sim): State<Arc<Sim>>,
    Path((version, phone_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = gate(&sim, &headers, &version, &phone_id) {
        return refused;
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(boundary) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_owned())
    else {
        return graph_error(400, 100, "Invalid parameter: multipart body expected", None);
    };
    let parts = crate::email::mime::split_multipart(&body, &boundary);
    let mut product = None;
    let mut has_file = false;
    for raw in parts {
        let part = crate::email::mime::Part::parse(raw);
        let disposition = part.header("content-disposition").unwrap_or_default();
        if disposition.contains("name=\"messaging_product\"") {
            product = Some(String::from_utf8_lossy(&part.body).trim().to_owned());
        }
        if disposition.contains("name=\"file\"") && !part.body.is_empty() {
            has_file = true;
        }
    }
    if product.as_deref() != Some("whatsapp") || !has_file {
        return graph_error(
            400,
            100,
            "Invalid parameter: messaging_product and file are required",
            None,
        );
    }
    let id = format!(
        "{}",
        1_000_000_000_000u64 + sim.whatsapp.next.fetch_add(1, Ordering::Relaxed)
    );
    sim.whatsapp.media.lock().insert(id.clone());
    Json(json!({ "id": id })).into_response()
}

/// Body of `POST /_sim/whatsapp/inbound`.
#[derive(Debug, Deserialize)]
pub(crate) struct Inbound {
    from: String,
    #[serde(default)]
    text: String,
}

/// `POST /_sim/whatsapp/inbound {"from":"2637…","text":"…"}`: a user writes to the business.
pub(crate) async fn inbound(
    State(sim): State<Arc<Sim>>,
    Json(inbound): Json<Inbound>,
) -> StatusCode {
    sim.whatsapp
        .user_message(&inbound.from, &inbound.text)
        .await;
    StatusCode::NO_CONTENT
}
