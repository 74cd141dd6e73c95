//! The Cloud API client: `POST /{version}/{phone-number-id}/messages` and `/media`, with the
//! Graph error body classified by its `code`.
//!
//! Meta documents codes rather than HTTP statuses, so the mapping keys on `error.code` (and
//! `error_subcode` where it matters) and falls back to the HTTP status for anything unknown:
//! throughput and pair-rate limits retry after a pause (the reply's `Retry-After` when present,
//! else the pause the limit implies); 131026 (not on WhatsApp, old app, terms not accepted)
//! drops the recipient; 131047 (outside the 24-hour window), 100 and the 132xxx template errors
//! fix the message; 190/0 and permission, account and registration errors fix the config.

use secrecy::{ExposeSecret as _, SecretString};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde::Deserialize;

use super::message::{to_wire, validate, WaMessage};
use super::WhatsApp;
use crate::clock::SharedClock;
use crate::http::{
    base_url, classify_status, exchange, retry_after, truncate, ConfigError, HttpSettings, Reply,
};
use crate::outcome::Outcome;

/// Meta's Graph API host.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";

/// Pause after a pair-rate-limit error (131056) without `Retry-After`: one message per six
/// seconds to the same user is what Meta describes.
const PAIR_RATE_PAUSE: Duration = Duration::from_secs(6);
/// Pause during a throughput upgrade or maintenance (131057), which Meta says lasts minutes.
const UPGRADE_PAUSE: Duration = Duration::from_secs(60);
/// Pause after Meta declined to deliver for engagement reasons (131049); a guess: a day.
const ENGAGEMENT_PAUSE: Duration = Duration::from_secs(24 * 60 * 60);

/// One WhatsApp business phone number.
#[derive(Debug, Clone)]
pub struct WhatsAppConfig {
    /// [`DEFAULT_BASE_URL`] or the simulator's `…/whatsapp`.
    pub base_url: String,
    /// Graph API version segment, e.g. `v23.0`.
    pub api_version: String,
    /// The phone number id (not the number itself).
    pub phone_number_id: String,
    /// A system-user access token.
    pub access_token: SecretString,
}

/// A Cloud API client for one business number.
#[derive(Debug)]
pub struct CloudApiClient {
    http: reqwest::Client,
    node: String,
    token: SecretString,
    clock: SharedClock,
}

impl CloudApiClient {
    /// Builds the client.
    pub fn new(
        config: WhatsAppConfig,
        settings: &HttpSettings,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        if config.access_token.expose_secret().trim().is_empty()
            || config.phone_number_id.trim().is_empty()
        {
            return Err(ConfigError::Credential(
                "whatsapp access token and phone number id are required".to_owned(),
            ));
        }
        let version = config.api_version.trim_matches('/');
        Ok(Self {
            http: settings.build()?,
            node: format!(
                "{}/{version}/{}",
                base_url(&config.base_url)?,
                config.phone_number_id
            ),
            token: config.access_token,
            clock,
        })
    }

    async fn post(
        &self,
        path: &str,
        content_type: String,
        body: Vec<u8>,
    ) -> Result<String, Outcome> {
        let Reply {
            status,
            headers,
            text,
        } = exchange(
            self.http
                .post(format!("{}/{path}", self.node))
                .header(
                    AUTHORIZATION,
                    format!("Bearer {}", self.token.expose_secret()),
                )
                .header(CONTENT_TYPE, content_type)
                .body(body),
        )
        .await?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(classify_error(status, &headers, &text, &self.clock))
        }
    }
}

#[derive(Deserialize)]
struct SendReply {
    #[serde(default)]
    messages: Vec<SentId>,
}

#[derive(Deserialize)]
struct SentId {
    id: String,
}

#[derive(Deserialize)]
struct UploadReply {
    id: String,
}

#[derive(Deserialize)]
struct GraphErrorReply {
    error: GraphError,
}

#[derive(Deserialize)]
struct GraphError {
    #[serde(default)]
    message: String,
    code: i64,
    #[serde(default)]
    error_subcode: Option<i64>,
    #[serde(default)]
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    #[serde(default)]
    details: String,
}

/// Classifies a Graph API error `code` (from a reply or a `failed` status webhook).
/// `retry_after` is the reply's `Retry-After`, if any.
pub(crate) fn classify_code(
    code: i64,
    subcode: Option<i64>,
    detail: String,
    retry_after: Option<Duration>,
) -> Option<Outcome> {
    let wait = |default: Option<Duration>, detail: String| match retry_after.or(default) {
        Some(after) => Outcome::RetryAfter { after, detail },
        None => Outcome::RetryBackoff(detail),
    };
    Some(match code {
        131026 => Outcome::DropRecipient(detail),
        131047 => Outcome::FixMessage(format!(
            "outside the 24-hour window, send a template: {detail}"
        )),
        130429 | 80007 | 4 => wait(None, detail),
        131056 => wait(Some(PAIR_RATE_PAUSE), detail),
        131057 => wait(Some(UPGRADE_PAUSE), detail),
        131049 => wait(Some(ENGAGEMENT_PAUSE), detail),
        // Spam rate limit: the number's quality is at stake; an operator pauses the campaign.
        131048 => Outcome::FixConfig(detail),
        // Account locked, policy block, payment, certificate, number not registered.
        131031 | 368 | 131042 | 131045 | 133010 => Outcome::FixConfig(detail),
        // Expired or bad token, permissions.
        190 | 0 | 3 | 10 | 200..=299 => Outcome::FixConfig(detail),
        // Unknown API version or path: we are calling the wrong URL.
        2500 => Outcome::FixConfig(detail),
        // The phone number id does not exist or is not ours.
        100 if subcode == Some(33) => Outcome::FixConfig(detail),
        100 | 131008 | 131009 | 131051 | 131052 | 131053 => Outcome::FixMessage(detail),
        132000..=132999 => Outcome::FixMessage(detail),
        1 | 2 | 131000 | 131016 => Outcome::RetryBackoff(detail),
        _ => return None,
    })
}

/// Classifies a non-2xx reply of the Cloud API.
pub fn classify_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    clock: &SharedClock,
) -> Outcome {
    let Ok(GraphErrorReply { error }) = serde_json::from_str::<GraphErrorReply>(body) else {
        return classify_status(status, headers, clock, body);
    };
    let details = error.error_data.map(|d| d.details).unwrap_or_default();
    let detail = format!(
        "HTTP {} code {}: {} {}",
        status.as_u16(),
        error.code,
        truncate(&error.message, 200),
        truncate(&details, 200)
    )
    .trim_end()
    .to_owned();
    classify_code(
        error.code,
        error.error_subcode,
        detail.clone(),
        retry_after(headers, clock),
    )
    .unwrap_or_else(|| classify_status(status, headers, clock, &detail))
}

#[async_trait]
impl WhatsApp for CloudApiClient {
    fn provider(&self) -> &str {
        "whatsapp"
    }

    #[tracing::instrument(skip_all, fields(provider = "whatsapp", reference = %message.reference))]
    async fn send(&self, message: &WaMessage) -> Outcome {
        if let Err(problem) = validate(&message.body) {
            return Outcome::FixMessage(problem);
        }
        if message.to.trim_start_matches('+').is_empty()
            || !message
                .to
                .trim_start_matches('+')
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            return Outcome::DropRecipient(format!(
                "not an international number: {:?}",
                message.to
            ));
        }
        // unwrap: a serde_json::Value always serialises.
        let body = serde_json::to_vec(&to_wire(message)).unwrap();
        let outcome = match self
            .post("messages", "application/json".to_owned(), body)
            .await
        {
            Ok(text) => match serde_json::from_str::<SendReply>(&text) {
                Ok(reply) if !reply.messages.is_empty() => {
                    Outcome::Sent(reply.messages[0].id.clone())
                }
                _ => Outcome::RetryBackoff(format!(
                    "unexpected success body: {}",
                    truncate(&text, 200)
                )),
            },
            Err(outcome) => outcome,
        };
        tracing::debug!(class = outcome.class(), "whatsapp sent");
        outcome
    }

    async fn upload_media(&self, bytes: Vec<u8>, mime_type: &str, filename: &str) -> Outcome {
        let boundary = format!("oneclass-{}", uuid::Uuid::now_v7().simple());
        let filename = filename.replace(['"', '\r', '\n'], "_");
        let mut body = Vec::with_capacity(bytes.len() + 512);
        for (name, value) in [("messaging_product", "whatsapp"), ("type", mime_type)] {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {mime_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let content_type = format!("multipart/form-data; boundary={boundary}");
        match self.post("media", content_type, body).await {
            Ok(text) => match serde_json::from_str::<UploadReply>(&text) {
                Ok(reply) => Outcome::Sent(reply.id),
                Err(_) => Outcome::RetryBackoff(format!(
                    "unexpected upload reply: {}",
                    truncate(&text, 200)
                )),
            },
            Err(outcome) => outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    fn classify(status: u16, body: &str) -> Outcome {
        classify_error(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body,
            &SystemClock::shared(),
        )
    }

    fn err(code: i64) -> String {
        format!(
            r#"{{"error":{{"message":"m","type":"OAuthException","code":{code},"error_data":{{"details":"d"}},"fbtrace_id":"A"}}}}"#
        )
    }

    #[test]
    fn graph_error_codes_map_to_the_documented_classes() {
        assert_eq!(classify(400, &err(131026)).class(), "drop_recipient");
        assert_eq!(classify(400, &err(131047)).class(), "fix_message");
        assert_eq!(classify(400, &err(132001)).class(), "fix_message");
        assert_eq!(classify(400, &err(100)).class(), "fix_message");
        assert_eq!(classify(401, &err(190)).class(), "fix_config");
        assert_eq!(classify(403, &err(368)).class(), "fix_config");
        assert_eq!(classify(400, &err(131031)).class(), "fix_config");
        assert_eq!(classify(429, &err(130429)).class(), "retry_backoff");
        assert_eq!(classify(429, &err(4)).class(), "retry_backoff");
        assert_eq!(classify(500, &err(2)).class(), "retry_backoff");
        assert_eq!(
            classify(400, &err(131056)),
            Outcome::RetryAfter {
                after: PAIR_RATE_PAUSE,
                detail: "HTTP 400 code 131056: m d".into()
            }
        );
        assert!(
            matches!(classify(503, &err(131057)), Outcome::RetryAfter { after, .. } if after == UPGRADE_PAUSE)
        );
        let unknown_phone =
            r#"{"error":{"message":"Unsupported post request","code":100,"error_subcode":33}}"#;
        assert_eq!(classify(400, unknown_phone).class(), "fix_config");
        // Unknown codes and non-JSON bodies fall back to the HTTP status.
        assert_eq!(classify(500, &err(999_999)).class(), "retry_backoff");
        assert_eq!(
            classify(502, "<html>bad gateway</html>").class(),
            "retry_backoff"
        );
    }
}
