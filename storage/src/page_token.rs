//! The opaque page token of [`crate::EventQuery`], shared by every backend.
//!
//! A query is ordered by `(occurred_at, event_id)`, which is unique per event, so the position
//! after a page is fully described by the last event's pair. The token carries only that pair —
//! nothing about SQLite rowids or CQL paging states — so a client can start paging against one
//! backend and continue against another, and both produce byte-identical tokens.
//!
//! Format: URL-safe base64 (no padding) of `v1:{occurred_at}:{event_id as hyphenated UUID}`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use uuid::Uuid;

use crate::error::StorageError;

/// Version tag inside the token, so the format can change without misreading old tokens.
const VERSION: &str = "v1";

/// A position in the `(occurred_at, event_id)` order: the query resumes strictly after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct QueryCursor {
    /// `occurred_at` of the last event already returned.
    pub occurred_at: i64,
    /// `event_id` of the last event already returned.
    pub event_id: Uuid,
}

impl QueryCursor {
    /// The opaque token for this position.
    pub fn encode(&self) -> String {
        let plain = format!(
            "{VERSION}:{}:{}",
            self.occurred_at,
            self.event_id.as_hyphenated()
        );
        URL_SAFE_NO_PAD.encode(plain)
    }

    /// Reads a token produced by [`QueryCursor::encode`].
    pub fn decode(token: &str) -> Result<Self, StorageError> {
        let bad = || StorageError::Invalid("malformed page token".into());
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        let plain = std::str::from_utf8(&raw).map_err(|_| bad())?;
        let mut parts = plain.splitn(3, ':');
        if parts.next() != Some(VERSION) {
            return Err(bad());
        }
        let occurred_at = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let event_id = parts
            .next()
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(bad)?;
        Ok(QueryCursor {
            occurred_at,
            event_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_decodes_to_the_cursor_it_was_made_from() {
        let c = QueryCursor {
            occurred_at: -5,
            event_id: Uuid::now_v7(),
        };
        assert_eq!(QueryCursor::decode(&c.encode()).unwrap(), c);
    }

    #[test]
    fn the_token_format_is_fixed_across_backends() {
        let c = QueryCursor {
            occurred_at: 1_700_000_000_000,
            event_id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001),
        };
        assert_eq!(
            c.encode(),
            URL_SAFE_NO_PAD.encode("v1:1700000000000:01900000-0000-7000-8000-000000000001")
        );
    }

    #[test]
    fn garbage_tokens_are_invalid_requests() {
        for t in [
            "",
            "!!",
            &URL_SAFE_NO_PAD.encode("v2:1:x"),
            &URL_SAFE_NO_PAD.encode("v1:x:y"),
        ] {
            assert!(matches!(
                QueryCursor::decode(t),
                Err(StorageError::Invalid(_))
            ));
        }
    }
}
