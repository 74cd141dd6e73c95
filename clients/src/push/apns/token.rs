//! The ES256 provider token, minted once and reused until it reaches its configured age.

use secrecy::{ExposeSecret as _, SecretString};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use serde::Serialize;

use crate::clock::SharedClock;

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: u64,
}

/// The current provider token and when it was minted.
#[derive(Debug)]
pub(super) struct ProviderToken {
    key: EncodingKey,
    key_id: String,
    team_id: String,
    lifetime: Duration,
    clock: SharedClock,
    /// The signed JWT (redacted in `Debug`) and when it was minted.
    current: Mutex<Option<(SecretString, SystemTime)>>,
}

impl ProviderToken {
    pub(super) fn new(
        key: EncodingKey,
        key_id: String,
        team_id: String,
        lifetime: Duration,
        clock: SharedClock,
    ) -> Self {
        Self {
            key,
            key_id,
            team_id,
            lifetime,
            clock,
            current: Mutex::new(None),
        }
    }

    /// The token to send now: the cached one while younger than the lifetime, else a new one.
    pub(super) fn get(&self) -> Result<String, String> {
        let now = self.clock.now();
        let mut current = self.current.lock();
        if let Some((token, minted)) = current.as_ref() {
            // A clock that went backwards counts as "just minted".
            if now.duration_since(*minted).unwrap_or(Duration::ZERO) < self.lifetime {
                return Ok(token.expose_secret().to_owned());
            }
        }
        let iat = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs();
        let mut header = Header::new(Algorithm::ES256);
        header.typ = None;
        header.kid = Some(self.key_id.clone());
        let token = jsonwebtoken::encode(
            &header,
            &Claims {
                iss: &self.team_id,
                iat,
            },
            &self.key,
        )
        .map_err(|e| format!("cannot sign the apns provider token: {e}"))?;
        tracing::debug!(key_id = %self.key_id, "minted apns provider token");
        *current = Some((token.as_str().into(), now));
        Ok(token)
    }

    /// Forgets `token` if it is still current (APNs said it expired).
    pub(super) fn invalidate(&self, token: &str) {
        let mut current = self.current.lock();
        if current
            .as_ref()
            .is_some_and(|(t, _)| t.expose_secret() == token)
        {
            *current = None;
        }
    }
}
