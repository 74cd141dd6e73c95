//! Error codes carried in error replies and `error` events.

use serde::{Deserialize, Serialize};

/// Why a command failed. Serialised in snake_case (`bad_request`, `rate_limited`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Unknown op, missing or mistyped field, limit out of range.
    BadRequest,
    /// Not authenticated (no or invalid token).
    Unauthorized,
    /// Not allowed; also any channel of another school (never `not_found` for those).
    Forbidden,
    /// The thing does not exist.
    NotFound,
    /// REST only: the path exists but not with this method (HTTP 405, with `Allow`).
    MethodNotAllowed,
    /// Too many requests; `retry_after_ms` says when to try again.
    RateLimited,
    /// A `body` over the body limit inside an otherwise acceptable message.
    TooLarge,
    /// The same idempotency key with a different request.
    Conflict,
    /// Temporarily unable; retry with the same `client_msg_id`.
    Unavailable,
    /// A fault of the hub; the cause is logged, not sent.
    Internal,
}

impl ErrorCode {
    /// Every error code, in the order the protocol lists them.
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RateLimited,
        ErrorCode::TooLarge,
        ErrorCode::Conflict,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The wire name, e.g. `bad_request`.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            BadRequest => "bad_request",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            RateLimited => "rate_limited",
            TooLarge => "too_large",
            Conflict => "conflict",
            Unavailable => "unavailable",
            Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
