//! The receiving side of the Cloud API: the GET verification handshake, the
//! `X-Hub-Signature-256` check over the raw body, and parsing of status and inbound-message
//! notifications.
//!
//! Order of work for a POST: verify the signature on the exact bytes received (before any JSON
//! parsing), answer 200 quickly, then apply the statuses. Meta may deliver statuses out of order
//! and more than once; [`WaDeliveryState::rank`] lets the caller keep only forward moves, and
//! (wamid, state) is a natural deduplication key.

use std::time::{Duration, SystemTime};
use subtle::ConstantTimeEq as _;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::client::classify_code;
use crate::outcome::Outcome;

/// Why a webhook signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Hub-Signature-256` header.
    #[error("missing X-Hub-Signature-256")]
    Missing,
    /// The header is not `sha256=<64 hex digits>`.
    #[error("malformed X-Hub-Signature-256")]
    Malformed,
    /// The HMAC does not match the body.
    #[error("signature does not match the body")]
    Mismatch,
}

/// Checks `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw_body)>` in constant
/// time. `header` is the header's value, if present.
pub fn verify_signature(
    app_secret: &[u8],
    raw_body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_sig = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let given = hex::decode(hex_sig).map_err(|_| SignatureError::Malformed)?;
    if given.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    // unwrap: HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret).unwrap();
    mac.update(raw_body);
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

/// The value to put in `X-Hub-Signature-256` for `raw_body` (for the simulator and tests).
pub fn sign_body(app_secret: &[u8], raw_body: &[u8]) -> String {
    // unwrap: HMAC takes keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret).unwrap();
    mac.update(raw_body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a verification request was refused; answer 403 for any of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// `hub.mode` is not `subscribe`.
    #[error("hub.mode is not subscribe")]
    NotSubscribe,
    /// `hub.verify_token` differs from ours.
    #[error("hub.verify_token does not match")]
    WrongToken,
    /// No `hub.challenge`.
    #[error("hub.challenge missing")]
    NoChallenge,
}

/// Reads the query of Meta's `GET` verification request. `Ok(challenge)` means: answer 200 with
/// exactly the challenge as the body.
pub fn verify_handshake(query: &str, verify_token: &str) -> Result<String, HandshakeError> {
    let mut mode = None;
    let mut token = None;
    let mut challenge = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "hub.mode" => mode = Some(value.into_owned()),
            "hub.verify_token" => token = Some(value.into_owned()),
            "hub.challenge" => challenge = Some(value.into_owned()),
            _ => {}
        }
    }
    if mode.as_deref() != Some("subscribe") {
        return Err(HandshakeError::NotSubscribe);
    }
    let token = token.unwrap_or_default();
    // Constant time, although the token is only a weak shared secret.
    let matches: bool = token.as_bytes().ct_eq(verify_token.as_bytes()).into();
    if !matches {
        return Err(HandshakeError::WrongToken);
    }
    challenge
        .filter(|c| !c.is_empty())
        .ok_or(HandshakeError::NoChallenge)
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaDeliveryState {
    /// Reached WhatsApp's servers.
    Sent,
    /// Reached the phone.
    Delivered,
    /// Opened (only with the user's read receipts on).
    Read,
    /// Will not be delivered; see the errors.
    Failed,
}

impl WaDeliveryState {
    /// Progress order; apply a status only if its rank is higher than the stored one
    /// (`Failed` outranks everything, since it is final).
    pub fn rank(self) -> u8 {
        match self {
            WaDeliveryState::Sent => 1,
            WaDeliveryState::Delivered => 2,
            WaDeliveryState::Read => 3,
            WaDeliveryState::Failed => 4,
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "sent" => WaDeliveryState::Sent,
            "delivered" => WaDeliveryState::Delivered,
            "read" => WaDeliveryState::Read,
            "failed" => WaDeliveryState::Failed,
            _ => return None,
        })
    }
}

/// One error attached to a `failed` status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaStatusError {
    /// Graph error code (131026, 131047, …).
    pub code: i64,
    /// Short title.
    pub title: String,
    /// Longer text.
    pub message: String,
    /// `error_data.details`.
    pub details: String,
}

/// A status notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaStatus {
    /// The wamid returned by the send.
    pub message_id: String,
    /// The new state.
    pub state: WaDeliveryState,
    /// When Meta says it happened.
    pub at: SystemTime,
    /// The user's WhatsApp id.
    pub recipient_id: String,
    /// The hub's reference, echoed from `biz_opaque_callback_data`.
    pub reference: Option<String>,
    /// Pricing category, when Meta reports one.
    pub pricing_category: Option<String>,
    /// Errors of a `failed` status.
    pub errors: Vec<WaStatusError>,
}

impl WaStatus {
    /// For a failed status, what the caller should do, classified like a send error
    /// (e.g. 131026 drops the recipient, 131047 needs a template).
    pub fn failure_outcome(&self) -> Option<Outcome> {
        if self.state != WaDeliveryState::Failed {
            return None;
        }
        let Some(first) = self.errors.first() else {
            return Some(Outcome::RetryBackoff(
                "failed without error details".to_owned(),
            ));
        };
        let detail = format!("code {}: {} {}", first.code, first.title, first.details);
        Some(
            classify_code(first.code, None, detail.clone(), None)
                .unwrap_or(Outcome::FixMessage(detail)),
        )
    }
}

/// A message a user sent to the business (it opens or renews the 24-hour window).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The user's WhatsApp id (international digits).
    pub from: String,
    /// Its wamid.
    pub id: String,
    /// When it was sent.
    pub at: SystemTime,
    /// `text`, `button`, `interactive`, `image`, …
    pub kind: String,
    /// Text body, for text messages.
    pub text: Option<String>,
    /// The id of the reply button or list row chosen, for interactive replies.
    pub reply_id: Option<String>,
}

/// Everything one webhook delivery carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookBatch {
    /// Status changes of messages we sent.
    pub statuses: Vec<WaStatus>,
    /// Messages users sent us.
    pub messages: Vec<InboundMessage>,
}

/// A webhook body that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// Not the JSON envelope Meta sends.
    #[error("not a whatsapp webhook: {0}")]
    Shape(String),
}

#[derive(Deserialize)]
struct Envelope {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    value: ChangeValue,
}

#[derive(Deserialize)]
struct ChangeValue {
    #[serde(default)]
    statuses: Vec<RawStatus>,
    #[serde(default)]
    messages: Vec<RawMessage>,
}

#[derive(Deserialize)]
struct RawStatus {
    id: String,
    status: String,
    timestamp: String,
    #[serde(default)]
    recipient_id: String,
    #[serde(default)]
    biz_opaque_callback_data: Option<String>,
    #[serde(default)]
    pricing: Option<RawPricing>,
    #[serde(default)]
    errors: Vec<RawError>,
}

#[derive(Deserialize)]
struct RawPricing {
    #[serde(default)]
    category: Option<String>,
}

#[derive(Deserialize)]
struct RawError {
    code: i64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    error_data: Option<RawErrorData>,
}

#[derive(Deserialize)]
struct RawErrorData {
    #[serde(default)]
    details: String,
}

#[derive(Deserialize)]
struct RawMessage {
    from: String,
    id: String,
    timestamp: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<RawText>,
    #[serde(default)]
    interactive: Option<serde_json::Value>,
    #[serde(default)]
    button: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawText {
    body: String,
}

fn epoch(value: &str) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(value.trim().parse().unwrap_or(0))
}

/// Parses a webhook body (after [`verify_signature`]). Unknown fields and change kinds are
/// ignored; a status with an unknown state is skipped.
pub fn parse_webhook(raw_body: &[u8]) -> Result<WebhookBatch, WebhookError> {
    let envelope: Envelope =
        serde_json::from_slice(raw_body).map_err(|e| WebhookError::Shape(e.to_string()))?;
    if envelope.object != "whatsapp_business_account" {
        return Err(WebhookError::Shape(format!("object {:?}", envelope.object)));
    }
    let mut batch = WebhookBatch::default();
    for change in envelope.entry.into_iter().flat_map(|e| e.changes) {
        if change.field != "messages" {
            continue;
        }
        for s in change.value.statuses {
            let Some(state) = WaDeliveryState::parse(&s.status) else {
                continue;
            };
            batch.statuses.push(WaStatus {
                message_id: s.id,
                state,
                at: epoch(&s.timestamp),
                recipient_id: s.recipient_id,
                reference: s.biz_opaque_callback_data,
                pricing_category: s.pricing.and_then(|p| p.category),
                errors: s
                    .errors
                    .into_iter()
                    .map(|e| WaStatusError {
                        code: e.code,
                        title: e.title,
                        message: e.message,
                        details: e.error_data.map(|d| d.details).unwrap_or_default(),
                    })
                    .collect(),
            });
        }
        for m in change.value.messages {
            let reply_id = m
                .interactive
                .as_ref()
                .and_then(|i| {
                    i.get("button_reply")
                        .or_else(|| i.get("list_reply"))
                        .and_then(|r| r.get("id"))
                })
                .or_else(|| m.button.as_ref().and_then(|b| b.get("payload")))
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            batch.messages.push(InboundMessage {
                from: m.from,
                id: m.id,
                at: epoch(&m.timestamp),
                kind: m.kind,
                text: m.text.map(|t| t.body),
                reply_id,
            });
        }
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"app-secret";

    #[test]
    fn a_signature_over_the_exact_body_is_accepted_and_anything_else_refused() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = sign_body(SECRET, body);
        assert_eq!(verify_signature(SECRET, body, Some(&header)), Ok(()));
        let mut altered = body.to_vec();
        altered[3] ^= 1;
        assert_eq!(
            verify_signature(SECRET, &altered, Some(&header)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"other", body, Some(&header)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(SECRET, body, None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(SECRET, body, Some("sha1=abcd")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(SECRET, body, Some("sha256=zz")),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn the_handshake_echoes_the_challenge_only_for_our_token() {
        let q = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock";
        assert_eq!(verify_handshake(q, "meatyhamhock").unwrap(), "1158201444");
        assert_eq!(
            verify_handshake(q, "other"),
            Err(HandshakeError::WrongToken)
        );
        assert_eq!(
            verify_handshake(
                "hub.mode=unsubscribe&hub.verify_token=meatyhamhock&hub.challenge=1",
                "meatyhamhock"
            ),
            Err(HandshakeError::NotSubscribe)
        );
        assert_eq!(
            verify_handshake(
                "hub.mode=subscribe&hub.verify_token=meatyhamhock",
                "meatyhamhock"
            ),
            Err(HandshakeError::NoChallenge)
        );
    }

    #[test]
    fn statuses_and_inbound_messages_are_parsed() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{
          "messaging_product":"whatsapp","metadata":{"display_phone_number":"263242000000","phone_number_id":"1001"},
          "statuses":[
            {"id":"wamid.A","status":"delivered","timestamp":"1700000100","recipient_id":"263771234567",
             "biz_opaque_callback_data":"att-1","pricing":{"billable":true,"pricing_model":"PMP","category":"utility"}},
            {"id":"wamid.B","status":"failed","timestamp":"1700000200","recipient_id":"263779990126",
             "errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"not on WhatsApp"}}]},
            {"id":"wamid.C","status":"deleted","timestamp":"1700000300","recipient_id":"1"}],
          "messages":[{"from":"263771234567","id":"wamid.IN","timestamp":"1700000050","type":"interactive",
             "interactive":{"type":"button_reply","button_reply":{"id":"yes","title":"Ehe"}}}]
        }}]}]}"#;
        let batch = parse_webhook(body).unwrap();
        assert_eq!(batch.statuses.len(), 2);
        let delivered = &batch.statuses[0];
        assert_eq!(delivered.state, WaDeliveryState::Delivered);
        assert_eq!(delivered.reference.as_deref(), Some("att-1"));
        assert_eq!(delivered.pricing_category.as_deref(), Some("utility"));
        assert_eq!(delivered.failure_outcome(), None);
        let failed = &batch.statuses[1];
        assert!(matches!(
            failed.failure_outcome(),
            Some(Outcome::DropRecipient(_))
        ));
        assert!(WaDeliveryState::Read.rank() > WaDeliveryState::Delivered.rank());
        assert_eq!(batch.messages[0].reply_id.as_deref(), Some("yes"));
        assert_eq!(
            batch.messages[0].at,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_050)
        );
        assert!(parse_webhook(br#"{"object":"page","entry":[]}"#).is_err());
        assert!(parse_webhook(b"not json").is_err());
    }
}
