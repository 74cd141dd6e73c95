//! Revoked token ids (`jti`). A revocation is journaled as `auth.token.revoked` on the stream
//! `auth:revoked`, rebuilt into memory when the hub starts, and checked on every token
//! verification; sessions connected with a revoked token are closed with 4003 at once.
//! Entries are dropped once the token would have expired anyway.

use std::collections::HashMap;

use oneclass_protocol::journal::decode_payload;
use oneclass_storage::{Journal, StorageError};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

use crate::auth::now_s;

/// The stream revocations are journaled on.
pub const REVOCATION_STREAM: &str = "auth:revoked";
/// The event kind of a revocation.
pub const TOKEN_REVOKED: &str = "auth.token.revoked";
/// Events read per page while loading.
const PAGE: usize = 1000;

/// Payload of `auth.token.revoked`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRevoked {
    pub jti: String,
    /// The token's expiry; the entry is useless after it.
    pub exp: u64,
    pub user: String,
    pub school: String,
}

/// The revoked token ids still worth remembering.
#[derive(Debug, Default)]
pub struct Revocations {
    revoked: RwLock<HashMap<String, u64>>,
}

impl Revocations {
    /// Rebuilds the list from the journal.
    pub async fn load(&self, journal: &dyn Journal) -> Result<usize, StorageError> {
        let mut from = 1;
        loop {
            let page = journal.read_stream(REVOCATION_STREAM, from, PAGE).await?;
            for e in &page {
                if let Ok(r) = decode_payload::<TokenRevoked>(&e.payload) {
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
}
