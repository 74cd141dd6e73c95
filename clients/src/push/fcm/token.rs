//! OAuth2 access tokens for a service account: the RS256 JWT assertion, the JWT-bearer exchange
//! at `token_uri`, and a cache refreshed by one task at a time.

use secrecy::{ExposeSecret as _, SecretString};
use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::RwLock;
use reqwest::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};

use super::service_account::ServiceAccount;
use crate::clock::SharedClock;
use crate::http::{classify_status, exchange, truncate, Reply};
use crate::outcome::Outcome;

/// The grant type of RFC 7523 (JWT as an authorisation grant).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How long an assertion claims to be valid; Google accepts at most one hour.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    #[serde(default = "default_expires_in")]
    expires_in: u64,
}

fn default_expires_in() -> u64 {
    3600
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Debug, Clone)]
struct AccessToken {
    /// The bearer token; redacted in `Debug`, as the client holding this cache derives it.
    value: SecretString,
    expires_at: SystemTime,
}

/// Mints and caches access tokens for one service account.
#[derive(Debug)]
pub(crate) struct TokenSource {
    account: ServiceAccount,
    key: EncodingKey,
    scope: String,
    /// A token closer than this to its expiry is replaced before use.
    margin: Duration,
    http: reqwest::Client,
    clock: SharedClock,
    cached: RwLock<Option<AccessToken>>,
    /// Held by the one task exchanging a new assertion; others wait on it, then reuse its token.
    refreshing: tokio::sync::Mutex<()>,
}

impl TokenSource {
    pub(crate) fn new(
        account: ServiceAccount,
        key: EncodingKey,
        scope: String,
        margin: Duration,
        http: reqwest::Client,
        clock: SharedClock,
    ) -> Self {
        Self {
            account,
            key,
            scope,
            margin,
            http,
            clock,
            cached: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn fresh(&self) -> Option<String> {
        let now = self.clock.now();
        self.cached
            .read()
            .as_ref()
            .filter(|t| now + self.margin < t.expires_at)
            .map(|t| t.value.expose_secret().to_owned())
    }

    /// A valid access token, exchanging a new assertion if the cached one is missing or near its
    /// end. Concurrent callers share one exchange. `Err` is already classified.
    pub(crate) async fn token(&self) -> Result<String, Outcome<Infallible>> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let token = self.exchange().await?;
        let value = token.value.expose_secret().to_owned();
        *self.cached.write() = Some(token);
        Ok(value)
    }

    /// Forgets `token` if it is still the cached one (FCM refused it).
    pub(crate) fn invalidate(&self, token: &str) {
        let mut cached = self.cached.write();
        if cached
            .as_ref()
            .is_some_and(|t| t.value.expose_secret() == token)
        {
            *cached = None;
        }
    }

    fn assertion(&self, now: SystemTime) -> Result<String, Outcome<Infallible>> {
        let iat = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        let claims = Claims {
            iss: &self.account.client_email,
            scope: &self.scope,
            aud: &self.account.token_uri,
            iat,
            exp: iat + ASSERTION_LIFETIME.as_secs(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.account.private_key_id.clone());
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| Outcome::FixConfig(format!("cannot sign the oauth2 assertion: {e}")))
    }

    #[tracing::instrument(skip_all, fields(provider = "fcm", account = %self.account.client_email))]
    async fn exchange(&self) -> Result<AccessToken, Outcome<Infallible>> {
        let now = self.clock.now();
        let assertion = self.assertion(now)?;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", JWT_BEARER)
            .append_pair("assertion", &assertion)
            .finish();
        let Reply {
            status,
            headers,
            text,
        } = exchange(
            self.http
                .post(&self.account.token_uri)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body),
        )
        .await?;
        if status.is_success() {
            let reply: TokenReply = serde_json::from_str(&text).map_err(|e| {
                Outcome::RetryBackoff(format!(
                    "unreadable token reply: {e}: {}",
                    truncate(&text, 200)
                ))
            })?;
            tracing::debug!(
                expires_in = reply.expires_in,
                "oauth2 access token obtained"
            );
            return Ok(AccessToken {
                value: reply.access_token.into(),
                expires_at: now + Duration::from_secs(reply.expires_in),
            });
        }
        // OAuth2 errors (RFC 6749 §5.2): a refused grant, client or scope is a broken account or
        // a skewed clock, which retrying does not fix.
        if status.is_client_error() && status.as_u16() != 429 {
            if let Ok(error) = serde_json::from_str::<TokenError>(&text) {
                return Err(Outcome::FixConfig(format!(
                    "token exchange refused: {}: {}",
                    error.error, error.error_description
                )));
            }
        }
        Err(classify_status(
            status,
            &headers,
            &self.clock,
            &format!("token exchange: {text}"),
        ))
    }
}
