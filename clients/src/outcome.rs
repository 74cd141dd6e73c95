//! The one classification every outbound call ends in, plus `Retry-After` parsing and backoff.
//!
//! Provider modules never return raw HTTP statuses or provider error codes to their callers; they
//! decide here what the caller should do next: record the provider's id, wait a stated time,
//! back off, stop sending to this recipient, fix the message, or alert an operator because the
//! credentials or account are broken.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// What the caller should do after an outbound call.
///
/// `T` is what a success carries: the provider's message id (a `String`) for messaging, richer
/// types for payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T = String> {
    /// The provider took the request; `T` identifies it at the provider.
    Sent(T),
    /// The provider asked for a pause of exactly this long (from `Retry-After` or an equivalent).
    RetryAfter {
        /// How long to wait before the next attempt.
        after: Duration,
        /// Why, for logs.
        detail: String,
    },
    /// A transient failure with no stated delay: retry with exponential backoff and jitter.
    RetryBackoff(String),
    /// The recipient cannot be reached this way (dead token, invalid number, not on WhatsApp).
    DropRecipient(String),
    /// The message itself was refused (bad payload, too large, unapproved template).
    FixMessage(String),
    /// Credentials or account are broken; retrying will not help, an operator must act.
    FixConfig(String),
}

impl<T> Outcome<T> {
    /// True for the two retry classes.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Outcome::RetryAfter { .. } | Outcome::RetryBackoff(_))
    }

    /// The success value, if any.
    pub fn sent(&self) -> Option<&T> {
        match self {
            Outcome::Sent(value) => Some(value),
            _ => None,
        }
    }

    /// A short stable name of the class, for metrics and logs.
    pub fn class(&self) -> &'static str {
        match self {
            Outcome::Sent(_) => "sent",
            Outcome::RetryAfter { .. } => "retry_after",
            Outcome::RetryBackoff(_) => "retry_backoff",
            Outcome::DropRecipient(_) => "drop_recipient",
            Outcome::FixMessage(_) => "fix_message",
            Outcome::FixConfig(_) => "fix_config",
        }
    }

    /// Maps the success value, keeping every failure class as it is.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Sent(value) => Outcome::Sent(f(value)),
            Outcome::RetryAfter { after, detail } => Outcome::RetryAfter { after, detail },
            Outcome::RetryBackoff(d) => Outcome::RetryBackoff(d),
            Outcome::DropRecipient(d) => Outcome::DropRecipient(d),
            Outcome::FixMessage(d) => Outcome::FixMessage(d),
            Outcome::FixConfig(d) => Outcome::FixConfig(d),
        }
    }
}

/// Parses a `Retry-After` value: either delta-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, plus the two obsolete forms HTTP still allows).
///
/// A date in the past yields zero. Anything else yields `None`, and the caller falls back to
/// backoff.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff with full jitter and a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay ceiling for the first retry.
    pub base: Duration,
    /// No delay ever exceeds this.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The ceiling for retry number `attempt` (0-based): `base * 2^attempt`, capped.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A random delay in `[0, ceiling(attempt)]` ("full jitter"), so that many senders that failed
    /// together do not retry together.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_delta_seconds() {
        assert_eq!(
            parse_retry_after(" 120 ", SystemTime::UNIX_EPOCH),
            Some(Duration::from_secs(120))
        );
    }

    #[test]
    fn retry_after_accepts_an_http_date_relative_to_the_clock() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:29:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_rejects_garbage() {
        assert_eq!(parse_retry_after("soon", SystemTime::UNIX_EPOCH), None);
        assert_eq!(parse_retry_after("-5", SystemTime::UNIX_EPOCH), None);
        assert_eq!(parse_retry_after("", SystemTime::UNIX_EPOCH), None);
    }

    #[test]
    fn backoff_grows_then_stays_at_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(4), Duration::from_secs(1));
        assert_eq!(b.ceiling(60), Duration::from_secs(1));
        for attempt in 0..10 {
            assert!(b.delay(attempt) <= b.ceiling(attempt));
        }
    }
}
