//! Revoked token ids (`jti`).
//!
//! A revocation is journaled as `auth.token.revoked` on the stream `auth:revoked` (one stream for
//! every school), rebuilt into memory when the hub starts ([`Revocations::load`]), and checked on
//! every token verification by the hub's authenticator ([`Revocations::is_revoked`]). Entries are
//! dropped once the token would have expired anyway, so the set stays as small as the tokens still
//! alive.
//!
//! [`Revocations::revoke`] journals first and only then remembers: a revocation that was not made
//! durable is refused (the caller answers `unavailable`) rather than forgotten at the next
//! restart. Closing the sessions that use the token is the caller's next step.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use oneclass_protocol::journal::kinds;
use oneclass_protocol::StreamName;
use oneclass_storage::{Journal, StorageError};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::events::{payload, write, Append};

/// Events read per page while loading.
const PAGE: usize = 1000;

/// Payload of `auth.token.revoked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRevoked {
    pub jti: String,
    /// The token's expiry (seconds since the epoch); the entry is useless after it.
    pub exp: u64,
    pub user: String,
    pub school: String,
}

/// The revoked token ids still worth remembering.
#[derive(Debug, Default)]
pub struct Revocations {
    /// `jti` → the token's expiry.
    revoked: RwLock<HashMap<String, u64>>,
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Revocations {
    /// Rebuilds the list from the journal; returns how many entries are still alive.
    pub async fn load(&self, journal: &dyn Journal) -> Result<usize, StorageError> {
        let stream = StreamName::Revocations.to_string();
        let mut from = 1;
        loop {
            let page = journal.read_stream(&stream, from, PAGE).await?;
            for e in &page {
                if let Some(r) = payload::decode::<TokenRevoked>(&e.payload) {
                    self.insert(&r.jti, r.exp);
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => from = last.seq + 1,
                _ => break,
            }
        }
        Ok(self.revoked.read().len())
    }

    /// Whether the token with this id was revoked.
    pub fn is_revoked(&self, jti: &str) -> bool {
        self.revoked.read().contains_key(jti)
    }

    /// Remembers a revocation and forgets the ones whose tokens expired.
    pub fn insert(&self, jti: &str, exp: u64) {
        let now = now_s();
        let mut revoked = self.revoked.write();
        revoked.retain(|_, e| *e > now);
        if exp > now {
            revoked.insert(jti.to_owned(), exp);
        }
    }

    /// Journals that `actor` revoked `token`, then remembers it. On error nothing is remembered.
    pub async fn revoke(
        &self,
        journal: &dyn Journal,
        actor: &str,
        token: &TokenRevoked,
    ) -> Result<(), StorageError> {
        write(journal, vec![revoked(actor, token)]).await?;
        self.insert(&token.jti, token.exp);
        Ok(())
    }
}

/// The append of one revocation, journaled under the token's school.
pub fn revoked(actor: &str, token: &TokenRevoked) -> Append {
    Append::new(
        &token.school,
        StreamName::Revocations,
        kinds::TOKEN_REVOKED,
        actor,
        token,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_is_remembered_until_its_token_would_have_expired() {
        let r = Revocations::default();
        r.insert("live", now_s() + 3600);
        r.insert("expired", now_s().saturating_sub(1));
        assert!(r.is_revoked("live"));
        assert!(!r.is_revoked("expired"));
    }

    #[test]
    fn a_revocation_is_journaled_on_auth_revoked_under_the_tokens_school() {
        let token = TokenRevoked {
            jti: "j1".into(),
            exp: 1,
            user: "u1".into(),
            school: "s1".into(),
        };
        let a = revoked("admin", &token);
        assert_eq!(a.stream_name(), "auth:revoked");
        assert_eq!(a.kind(), "auth.token.revoked");
        assert_eq!(payload::decode::<TokenRevoked>(a.payload()), Some(token));
    }
}
