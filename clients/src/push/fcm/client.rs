//! The FCM client: sends one message per request and classifies the reply.

use std::convert::Infallible;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, AUTHORIZATION};
use reqwest::StatusCode;

use super::service_account::ServiceAccount;
use super::token::TokenSource;
use super::wire::{self, ErrorReply, SendReply, SendRequest};
use crate::clock::SharedClock;
use crate::http::{
    base_url, classify_status, exchange, retry_after, truncate, ConfigError, HttpSettings, Reply,
};
use crate::outcome::Outcome;
use crate::push::{PushMessage, PushSender};

/// FCM's host.
pub const DEFAULT_BASE_URL: &str = "https://fcm.googleapis.com";

/// The narrowest OAuth2 scope that allows sending.
pub const SCOPE_MESSAGING: &str = "https://www.googleapis.com/auth/firebase.messaging";

/// Google asks for at least a minute before retrying an exhausted overall or topic quota.
const QUOTA_PAUSE: Duration = Duration::from_secs(60);

/// One FCM project, as seen through one service account.
#[derive(Debug, Clone)]
pub struct FcmConfig {
    /// [`DEFAULT_BASE_URL`], or the simulator's `…/fcm`.
    pub base_url: String,
    /// The parsed key file; its `token_uri` says where tokens come from.
    pub service_account: ServiceAccount,
    /// Requested OAuth2 scope(s), space-separated.
    pub scope: String,
    /// Access tokens are replaced this long before they expire.
    pub refresh_margin: Duration,
    /// Ask FCM to validate without delivering (`validate_only`).
    pub validate_only: bool,
}

impl FcmConfig {
    /// The defaults for a service account: the real FCM host, the messaging scope, a five-minute
    /// refresh margin.
    pub fn new(service_account: ServiceAccount) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            service_account,
            scope: SCOPE_MESSAGING.to_owned(),
            refresh_margin: Duration::from_secs(300),
            validate_only: false,
        }
    }
}

/// An FCM HTTP v1 sender.
#[derive(Debug)]
pub struct FcmClient {
    http: reqwest::Client,
    send_url: String,
    validate_only: bool,
    tokens: TokenSource,
    clock: SharedClock,
}

impl FcmClient {
    /// Builds a client; no request is made until the first send.
    pub fn new(
        config: FcmConfig,
        settings: &HttpSettings,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        let http = settings.build()?;
        let account = config.service_account;
        let key = account.encoding_key()?;
        base_url(&account.token_uri)?;
        let send_url = format!(
            "{}/v1/projects/{}/messages:send",
            base_url(&config.base_url)?,
            account.project_id
        );
        Ok(Self {
            tokens: TokenSource::new(
                account,
                key,
                config.scope,
                config.refresh_margin,
                http.clone(),
                clock.clone(),
            ),
            http,
            send_url,
            validate_only: config.validate_only,
            clock,
        })
    }

    /// An access token for the account, from the cache or a fresh exchange. Exposed so callers
    /// can warm the cache at start-up and see credential problems early.
    pub async fn access_token(&self) -> Outcome<()> {
        match self.tokens.token().await {
            Ok(_) => Outcome::Sent(()),
            Err(outcome) => outcome.map(|never| match never {}),
        }
    }

    /// One send with the current access token. `Ok(None)` means FCM refused the token, which
    /// has been forgotten so the next attempt exchanges a new one.
    async fn attempt(&self, body: &[u8]) -> Result<Option<Outcome>, Outcome<Infallible>> {
        let token = self.tokens.token().await?;
        let Reply {
            status,
            headers,
            text,
        } = exchange(
            self.http
                .post(&self.send_url)
                .header(AUTHORIZATION, format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(body.to_vec()),
        )
        .await?;
        if status.is_success() {
            return Ok(Some(match serde_json::from_str::<SendReply>(&text) {
                Ok(reply) => Outcome::Sent(reply.name),
                Err(_) => Outcome::RetryBackoff(format!(
                    "unreadable success reply: {}",
                    truncate(&text, 200)
                )),
            }));
        }
        match classify_error(status, &headers, &text, &self.clock) {
            Classified::Final(outcome) => Ok(Some(outcome)),
            Classified::TokenRefused(detail) => {
                tracing::debug!(%detail, "fcm refused the access token");
                self.tokens.invalidate(&token);
                Ok(None)
            }
        }
    }
}

/// An FCM error reply, classified.
enum Classified {
    Final(Outcome),
    /// `UNAUTHENTICATED` with no FCM code: the access token was refused (expired or revoked).
    TokenRefused(String),
}

impl Classified {
    #[cfg(test)]
    fn into_outcome(self) -> Outcome {
        match self {
            Classified::Final(outcome) => outcome,
            Classified::TokenRefused(detail) => Outcome::FixConfig(detail),
        }
    }
}

fn classify_error(
    status: StatusCode,
    headers: &HeaderMap,
    text: &str,
    clock: &SharedClock,
) -> Classified {
    let Ok(ErrorReply { error }) = serde_json::from_str::<ErrorReply>(text) else {
        // A bare status (an HTML 502 from a proxy, an oversize 400 with no JSON).
        return Classified::Final(classify_status(status, headers, clock, text));
    };
    let code = error.fcm_code().map(str::to_owned);
    let detail = format!(
        "{} {}: {}",
        code.as_deref().unwrap_or(&error.status),
        status.as_u16(),
        truncate(&error.message, 300)
    );
    let outcome = match code.as_deref() {
        Some("UNREGISTERED") => Outcome::DropRecipient(detail),
        Some("INVALID_ARGUMENT") if error.blames_token() => Outcome::DropRecipient(detail),
        Some("INVALID_ARGUMENT") | Some("UNSPECIFIED_ERROR") => Outcome::FixMessage(detail),
        // The token belongs to another sender, or Firebase's APNs/web-push credentials are
        // broken: both are fixed in the project's configuration, not by retrying.
        Some("SENDER_ID_MISMATCH") | Some("THIRD_PARTY_AUTH_ERROR") => Outcome::FixConfig(detail),
        Some("QUOTA_EXCEEDED") => Outcome::RetryAfter {
            after: retry_after(headers, clock).unwrap_or(QUOTA_PAUSE),
            detail,
        },
        Some("UNAVAILABLE") | Some("INTERNAL") => match retry_after(headers, clock) {
            Some(after) => Outcome::RetryAfter { after, detail },
            None => Outcome::RetryBackoff(detail),
        },
        Some(_) => classify_status(status, headers, clock, &detail),
        None if status == StatusCode::UNAUTHORIZED || error.status == "UNAUTHENTICATED" => {
            return Classified::TokenRefused(detail)
        }
        None if status == StatusCode::FORBIDDEN => Outcome::FixConfig(detail),
        None => classify_status(status, headers, clock, &detail),
    };
    Classified::Final(outcome)
}

#[async_trait]
impl PushSender for FcmClient {
    fn provider(&self) -> &str {
        "fcm"
    }

    #[tracing::instrument(skip_all, fields(provider = "fcm"))]
    async fn send(&self, message: &PushMessage) -> Outcome {
        let wire = match wire::message(message, self.clock.now()) {
            Ok(wire) => wire,
            Err(detail) => return Outcome::FixMessage(detail),
        };
        let body = match serde_json::to_vec(&SendRequest {
            validate_only: self.validate_only,
            message: wire,
        }) {
            Ok(body) => body,
            Err(e) => return Outcome::FixMessage(format!("cannot encode message: {e}")),
        };
        match self.attempt(&body).await {
            Ok(Some(outcome)) => outcome,
            // The access token was refused: exchange a new one and try exactly once more.
            Ok(None) => match self.attempt(&body).await {
                Ok(Some(outcome)) => outcome,
                Ok(None) => Outcome::FixConfig(
                    "fcm refused a freshly exchanged access token (UNAUTHENTICATED)".to_owned(),
                ),
                Err(outcome) => outcome.map(|never| match never {}),
            },
            Err(outcome) => outcome.map(|never| match never {}),
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
        .into_outcome()
    }

    fn fcm_error(code: u16, status: &str, error_code: &str) -> String {
        serde_json::json!({"error": {"code": code, "message": "m", "status": status,
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                         "errorCode": error_code}]}})
        .to_string()
    }

    #[test]
    fn error_codes_decide_before_http_statuses() {
        assert_eq!(
            classify(404, &fcm_error(404, "NOT_FOUND", "UNREGISTERED")).class(),
            "drop_recipient"
        );
        assert_eq!(
            classify(400, &fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")).class(),
            "fix_message"
        );
        assert_eq!(
            classify(
                403,
                &fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH")
            )
            .class(),
            "fix_config"
        );
        assert_eq!(
            classify(
                401,
                &fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR")
            )
            .class(),
            "fix_config"
        );
        assert_eq!(
            classify(429, &fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED")),
            Outcome::RetryAfter {
                after: QUOTA_PAUSE,
                detail: "QUOTA_EXCEEDED 429: m".into()
            }
        );
        assert_eq!(
            classify(500, &fcm_error(500, "INTERNAL", "INTERNAL")).class(),
            "retry_backoff"
        );
    }

    #[test]
    fn an_invalid_token_field_drops_the_recipient() {
        let body = serde_json::json!({"error": {"code": 400, "message": "bad token",
            "status": "INVALID_ARGUMENT", "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                 "errorCode": "INVALID_ARGUMENT"},
                {"@type": "type.googleapis.com/google.rpc.BadRequest",
                 "fieldViolations": [{"field": "message.token", "description": "x"}]}]}});
        assert_eq!(classify(400, &body.to_string()).class(), "drop_recipient");
    }

    #[test]
    fn replies_without_an_fcm_code_fall_back_to_the_status() {
        assert_eq!(
            classify(502, "<html>bad gateway</html>").class(),
            "retry_backoff"
        );
        assert_eq!(classify(400, "").class(), "fix_message");
        let denied = r#"{"error":{"code":403,"message":"no","status":"PERMISSION_DENIED"}}"#;
        assert_eq!(classify(403, denied).class(), "fix_config");
    }
}
