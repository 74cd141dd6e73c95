//! Transport settings shared by every HTTP client, and the one place where transport failures
//! and generic HTTP statuses become an [`Outcome`].
//!
//! Provider modules look at their own error bodies first and fall back to
//! [`classify_status`] for anything they do not recognise.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;

use crate::clock::SharedClock;
use crate::outcome::{parse_retry_after, Outcome};

/// Timeouts and identity for one provider's HTTP client.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Whole-request deadline: connect, send, and read the reply.
    pub timeout: Duration,
    /// TCP (and TLS) connect deadline.
    pub connect_timeout: Duration,
    /// Sent as `User-Agent`.
    pub user_agent: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            user_agent: concat!("oneclass-hub/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl HttpSettings {
    /// Default settings with a different whole-request timeout.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            connect_timeout: timeout.min(Duration::from_secs(5)),
            ..Self::default()
        }
    }

    /// Builds an HTTP/1.1 (ALPN-negotiated HTTP/2 over TLS) client with these settings.
    pub fn build(&self) -> Result<reqwest::Client, ConfigError> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent.clone())
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))
    }
}

/// A client could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The HTTP stack refused the settings.
    #[error("http client: {0}")]
    Http(String),
    /// A base URL does not parse.
    #[error("invalid base url {url:?}: {reason}")]
    BaseUrl {
        /// The offending value.
        url: String,
        /// The parser's complaint.
        reason: String,
    },
    /// A secret or key is malformed.
    #[error("invalid credential: {0}")]
    Credential(String),
}

/// Parses and normalises a base URL (no trailing slash), so paths can be appended.
pub fn base_url(url: &str) -> Result<String, ConfigError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| ConfigError::BaseUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ConfigError::BaseUrl {
            url: url.to_owned(),
            reason: "scheme must be http or https".to_owned(),
        });
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// A request that never got an HTTP status: timeouts and connection failures are transient,
/// a request we could not even build is our own configuration's fault.
pub fn classify_transport_error<T>(err: &reqwest::Error) -> Outcome<T> {
    if err.is_timeout() {
        Outcome::RetryBackoff(format!("timeout: {err}"))
    } else if err.is_builder() {
        Outcome::FixConfig(format!("request could not be built: {err}"))
    } else if err.is_connect() {
        Outcome::RetryBackoff(format!("connect failed: {err}"))
    } else {
        Outcome::RetryBackoff(format!("transport: {err}"))
    }
}

/// A reply read to its end.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

/// Sends `request` and reads the whole reply. A failure before the body is in (connect,
/// timeout, a broken body) comes back already classified; any HTTP status is a `Reply` for the
/// caller to judge.
pub async fn exchange<T>(request: reqwest::RequestBuilder) -> Result<Reply, Outcome<T>> {
    let response = request
        .send()
        .await
        .map_err(|e| classify_transport_error(&e))?;
    let status = response.status();
    let headers = response.headers().clone();
    let text = response
        .text()
        .await
        .map_err(|e| classify_transport_error(&e))?;
    Ok(Reply {
        status,
        headers,
        text,
    })
}

/// The delay a `Retry-After` header asks for, in either of its forms.
pub fn retry_after(headers: &HeaderMap, clock: &SharedClock) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, clock.now())
}

/// The generic meaning of an HTTP status, for replies a provider module did not recognise.
///
/// 429 and 503 honour `Retry-After`; other 5xx and 408 back off; 401/403 are configuration;
/// 404/405 mean we are calling the wrong URL (configuration); remaining 4xx blame the message.
pub fn classify_status<T>(
    status: StatusCode,
    headers: &HeaderMap,
    clock: &SharedClock,
    detail: &str,
) -> Outcome<T> {
    let detail = format!("HTTP {}: {}", status.as_u16(), truncate(detail, 300));
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        return match retry_after(headers, clock) {
            Some(after) => Outcome::RetryAfter { after, detail },
            None => Outcome::RetryBackoff(detail),
        };
    }
    if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        return Outcome::RetryBackoff(detail);
    }
    match status {
        StatusCode::UNAUTHORIZED
        | StatusCode::FORBIDDEN
        | StatusCode::NOT_FOUND
        | StatusCode::METHOD_NOT_ALLOWED => Outcome::FixConfig(detail),
        _ => Outcome::FixMessage(detail),
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary, for log details.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
