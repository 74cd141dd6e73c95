//! The APNs client: headers and payload from a [`PushMessage`], HTTP/2 transport, and the
//! classification of APNs's `reason` replies.

use secrecy::{ExposeSecret as _, SecretString};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::header::{HeaderMap, AUTHORIZATION};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::token::ProviderToken;
use crate::clock::SharedClock;
use crate::http::{
    base_url, classify_status, exchange, retry_after, truncate, ConfigError, HttpSettings, Reply,
};
use crate::outcome::Outcome;
use crate::push::aps::{apns_expiration, aps};
use crate::push::{PushMessage, PushPriority, PushSender, PushTarget};

/// Apple's production host.
pub const PRODUCTION_BASE_URL: &str = "https://api.push.apple.com";
/// Apple's development (sandbox) host; device tokens of development builds only work here.
pub const SANDBOX_BASE_URL: &str = "https://api.sandbox.push.apple.com";

/// Largest payload APNs accepts for ordinary notifications.
const MAX_PAYLOAD: usize = 4096;

/// One team key and app.
#[derive(Debug, Clone)]
pub struct ApnsConfig {
    /// [`PRODUCTION_BASE_URL`], [`SANDBOX_BASE_URL`], or the simulator's `…/apns`.
    pub base_url: String,
    /// The 10-character key id of the `.p8` key.
    pub key_id: String,
    /// The 10-character team id.
    pub team_id: String,
    /// Contents of the `.p8` file (PKCS#8 PEM, P-256).
    pub private_key_pem: SecretString,
    /// Default `apns-topic`: the app's bundle id.
    pub topic: String,
    /// How long one provider token is reused. Apple refuses tokens older than an hour and
    /// new tokens more often than every 20 minutes; 45 minutes sits inside that window.
    pub token_lifetime: Duration,
}

impl ApnsConfig {
    /// Production host, 45-minute token reuse.
    pub fn new(key_id: &str, team_id: &str, private_key_pem: &str, topic: &str) -> Self {
        Self {
            base_url: PRODUCTION_BASE_URL.to_owned(),
            key_id: key_id.to_owned(),
            team_id: team_id.to_owned(),
            private_key_pem: private_key_pem.into(),
            topic: topic.to_owned(),
            token_lifetime: Duration::from_secs(45 * 60),
        }
    }
}

/// An APNs sender for one team key.
#[derive(Debug)]
pub struct ApnsClient {
    http: reqwest::Client,
    base: String,
    topic: String,
    token: ProviderToken,
    clock: SharedClock,
}

#[derive(Deserialize)]
struct ErrorReply {
    #[serde(default)]
    reason: String,
    /// Milliseconds since the epoch at which APNs found the token invalid (410 only).
    timestamp: Option<u64>,
}

impl ApnsClient {
    /// Builds a client that speaks HTTP/2 only (with prior knowledge on `http://` URLs, the way
    /// the simulator listens; negotiated by ALPN over TLS).
    pub fn new(
        config: ApnsConfig,
        settings: &HttpSettings,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        let key = jsonwebtoken::EncodingKey::from_ec_pem(
            config.private_key_pem.expose_secret().as_bytes(),
        )
        .map_err(|e| ConfigError::Credential(format!("apns key is not a P-256 .p8: {e}")))?;
        if config.key_id.trim().is_empty() || config.team_id.trim().is_empty() {
            return Err(ConfigError::Credential(
                "apns key id and team id are required".to_owned(),
            ));
        }
        let http = reqwest::Client::builder()
            .http2_prior_knowledge()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .user_agent(settings.user_agent.clone())
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        Ok(Self {
            http,
            base: base_url(&config.base_url)?,
            topic: config.topic,
            token: ProviderToken::new(
                key,
                config.key_id,
                config.team_id,
                config.token_lifetime,
                clock.clone(),
            ),
            clock,
        })
    }

    fn headers(&self, message: &PushMessage) -> Vec<(&'static str, String)> {
        let data_only = message.is_data_only();
        let priority = if data_only || message.priority == PushPriority::Normal {
            "5"
        } else {
            "10"
        };
        let mut headers = vec![
            (
                "apns-topic",
                message
                    .apns
                    .topic
                    .clone()
                    .unwrap_or_else(|| self.topic.clone()),
            ),
            (
                "apns-push-type",
                if data_only { "background" } else { "alert" }.to_owned(),
            ),
            ("apns-priority", priority.to_owned()),
        ];
        if let Some(ttl) = message.ttl {
            headers.push(("apns-expiration", apns_expiration(self.clock.now(), ttl)));
        }
        if let Some(collapse) = &message.collapse_key {
            headers.push(("apns-collapse-id", collapse.clone()));
        }
        headers
    }

    fn payload(message: &PushMessage) -> Value {
        let mut root = Map::new();
        for (k, v) in &message.data {
            root.insert(k.clone(), Value::String(v.clone()));
        }
        root.insert("aps".to_owned(), aps(message));
        Value::Object(root)
    }

    /// One POST with the current provider token. `Ok(None)`: the token had expired and has been
    /// forgotten.
    async fn attempt(
        &self,
        url: &str,
        message: &PushMessage,
        body: &[u8],
    ) -> Result<Option<Outcome>, Outcome> {
        let token = self.token.get().map_err(Outcome::FixConfig)?;
        let mut request = self
            .http
            .post(url)
            .header(AUTHORIZATION, format!("bearer {token}"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in self.headers(message) {
            request = request.header(name, value);
        }
        let Reply {
            status,
            headers,
            text,
        } = exchange(request).await?;
        if status.is_success() {
            let id = headers
                .get("apns-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            return Ok(Some(Outcome::Sent(id)));
        }
        let reply: Option<ErrorReply> = serde_json::from_str(&text).ok();
        if status == StatusCode::FORBIDDEN
            && reply
                .as_ref()
                .is_some_and(|r| r.reason == "ExpiredProviderToken")
        {
            self.token.invalidate(&token);
            return Ok(None);
        }
        Ok(Some(classify(
            status,
            &headers,
            reply,
            &text,
            message.token_registered_at,
            &self.clock,
        )))
    }
}

fn epoch_millis(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis()
}

fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    reply: Option<ErrorReply>,
    text: &str,
    registered_at: Option<SystemTime>,
    clock: &SharedClock,
) -> Outcome {
    let Some(reply) = reply else {
        return classify_status(status, headers, clock, text);
    };
    let reason = reply.reason.as_str();
    let detail = format!("{} {reason}", status.as_u16());
    match (status.as_u16(), reason) {
        (410, _) => {
            let Some(dead_since) = reply.timestamp else {
                return Outcome::DropRecipient(detail);
            };
            let detail = format!("{detail} (token invalid since {dead_since} ms after the epoch)");
            match registered_at {
                // The device handed us this token again after APNs found it dead: the 410 is
                // about an older registration, so keep the token.
                Some(at) if epoch_millis(at) > u128::from(dead_since) => Outcome::RetryBackoff(
                    format!("{detail}; kept, the device registered it again later"),
                ),
                _ => Outcome::DropRecipient(detail),
            }
        }
        // Wrong token, or a development token sent to production (or the reverse).
        (400, "BadDeviceToken" | "DeviceTokenNotForTopic") => Outcome::DropRecipient(detail),
        (400, "MissingTopic" | "TopicDisallowed" | "BadTopic") => Outcome::FixConfig(detail),
        (400, _) | (413, _) => Outcome::FixMessage(detail),
        (403, _) | (404, _) | (405, _) => Outcome::FixConfig(detail),
        // Our token caching is off; the previous token stays valid, so try again later.
        (429, "TooManyProviderTokenUpdates") => Outcome::RetryBackoff(detail),
        (429, _) | (500, _) | (503, _) => match retry_after(headers, clock) {
            Some(after) => Outcome::RetryAfter { after, detail },
            None => Outcome::RetryBackoff(detail),
        },
        _ => classify_status(
            status,
            headers,
            clock,
            &format!("{reason} {}", truncate(text, 200)),
        ),
    }
}

#[async_trait]
impl PushSender for ApnsClient {
    fn provider(&self) -> &str {
        "apns"
    }

    #[tracing::instrument(skip_all, fields(provider = "apns"))]
    async fn send(&self, message: &PushMessage) -> Outcome {
        let device = match &message.target {
            Some(PushTarget::Token(token)) => token,
            Some(_) => return Outcome::FixMessage("apns sends to device tokens only".to_owned()),
            None => return Outcome::FixMessage("push message has no target".to_owned()),
        };
        if device.is_empty() || !device.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Outcome::DropRecipient(format!("{device:?} is not a hex apns device token"));
        }
        let body = match serde_json::to_vec(&Self::payload(message)) {
            Ok(body) => body,
            Err(e) => return Outcome::FixMessage(format!("cannot encode payload: {e}")),
        };
        if body.len() > MAX_PAYLOAD {
            return Outcome::FixMessage(format!(
                "payload is {} bytes, apns allows {MAX_PAYLOAD}",
                body.len()
            ));
        }
        let url = format!("{}/3/device/{}", self.base, device.to_ascii_lowercase());
        match self.attempt(&url, message, &body).await {
            Ok(Some(outcome)) => outcome,
            // The provider token had expired: mint a new one and try exactly once more.
            Ok(None) => match self.attempt(&url, message, &body).await {
                Ok(Some(outcome)) => outcome,
                Ok(None) => Outcome::FixConfig(
                    "apns refused a freshly minted provider token (ExpiredProviderToken); \
                     check the clock"
                        .to_owned(),
                ),
                Err(outcome) => outcome,
            },
            Err(outcome) => outcome,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    fn reply(reason: &str, timestamp: Option<u64>) -> Option<ErrorReply> {
        Some(ErrorReply {
            reason: reason.to_owned(),
            timestamp,
        })
    }

    fn class(status: u16, reason: &str) -> &'static str {
        classify(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            reply(reason, None),
            "",
            None,
            &SystemClock::shared(),
        )
        .class()
    }

    #[test]
    fn reasons_map_to_classes() {
        assert_eq!(class(400, "BadDeviceToken"), "drop_recipient");
        assert_eq!(class(400, "DeviceTokenNotForTopic"), "drop_recipient");
        assert_eq!(class(400, "BadCollapseId"), "fix_message");
        assert_eq!(class(400, "TopicDisallowed"), "fix_config");
        assert_eq!(class(403, "InvalidProviderToken"), "fix_config");
        assert_eq!(class(413, "PayloadTooLarge"), "fix_message");
        assert_eq!(class(429, "TooManyRequests"), "retry_backoff");
        assert_eq!(class(503, "ServiceUnavailable"), "retry_backoff");
        assert_eq!(class(410, "Unregistered"), "drop_recipient");
    }

    #[test]
    fn a_token_registered_again_after_the_410_timestamp_is_kept() {
        let dead_since = 1_700_000_000_000u64;
        let outcome = |registered: SystemTime| {
            classify(
                StatusCode::GONE,
                &HeaderMap::new(),
                reply("Unregistered", Some(dead_since)),
                "",
                Some(registered),
                &SystemClock::shared(),
            )
        };
        let before = UNIX_EPOCH + Duration::from_millis(dead_since - 1000);
        let after = UNIX_EPOCH + Duration::from_millis(dead_since + 1000);
        assert_eq!(outcome(before).class(), "drop_recipient");
        assert_eq!(outcome(after).class(), "retry_backoff");
    }
}
