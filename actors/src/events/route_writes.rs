//! The only journal writes the hub's HTTP layer can cause, as typed methods.
//!
//! Routes never hold an append handle: they get a [`RouteWrites`], which can record exactly two
//! facts — an administrator reading message bodies (the audit must be durable before any body
//! leaves) and a token revocation (durable before it takes effect). Both go through the gateway's
//! [`super::write`], so their streams, kinds and payload encoding are the gateway's.
//!
//! Failure: each method returns the storage error unchanged; the caller refuses the request
//! (`unavailable`) and nothing was recorded.

use std::sync::Arc;

use oneclass_storage::{Journal, StorageError};

use super::audit::{record_bodies_accessed, BodiesAccessed};
use crate::identity::revocation::{Revocations, TokenRevoked};

/// Write access for routes, limited to the facts they may record.
#[derive(Clone)]
pub struct RouteWrites {
    journal: Arc<dyn Journal>,
}

impl std::fmt::Debug for RouteWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteWrites").finish_non_exhaustive()
    }
}

impl RouteWrites {
    pub fn new(journal: Arc<dyn Journal>) -> Self {
        Self { journal }
    }

    /// Journals `actor`'s access to `school`'s bodies; the access may proceed only on `Ok`.
    pub async fn bodies_accessed(
        &self,
        school: &str,
        actor: &str,
        access: &BodiesAccessed<'_>,
    ) -> Result<(), StorageError> {
        record_bodies_accessed(self.journal.as_ref(), school, actor, access).await
    }

    /// Journals that `actor` revoked `token` and adds it to `revocations`.
    pub async fn revoke_token(
        &self,
        revocations: &Revocations,
        actor: &str,
        token: &TokenRevoked,
    ) -> Result<(), StorageError> {
        revocations
            .revoke(self.journal.as_ref(), actor, token)
            .await
    }
}
