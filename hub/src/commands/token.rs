//! `oneclass-hub token`: mints a development token with the HS256 secret `serve` would verify
//! with (the configured one, or the one created under the data directory). Fails when the hub is
//! configured for public-key tokens only, the role is unknown, or an id is one the hub would
//! refuse (`Claims::check_ids`); prints nothing then.

use anyhow::Context as _;
use oneclass_actors::Role;

use crate::auth::{mint, now_s, resolve_secret, Claims};
use crate::config::Settings;

/// What to put in the token.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub user: String,
    pub school: String,
    /// `parent`, `teacher`, `admin`, `analyst` or `service`.
    pub role: String,
    pub classes: Vec<String>,
    /// Lifetime in seconds.
    pub ttl: u64,
}

/// The signed token.
pub fn run(settings: &Settings, request: TokenRequest) -> anyhow::Result<String> {
    let secret = resolve_secret(&settings.auth, &settings.journal.data_dir)?
        .context("no HS256 secret: this hub verifies public-key tokens only")?;
    let role = request.role;
    let role: Role = serde_json::from_value(serde_json::Value::String(role.clone()))
        .with_context(|| format!("unknown role `{role}`"))?;
    let now = now_s();
    let claims = Claims {
        sub: request.user,
        school: request.school,
        role,
        classes: request.classes,
        exp: now + request.ttl,
        iat: now,
        iss: settings.auth.issuer.clone(),
        aud: settings.auth.audience.clone(),
        jti: Some(uuid::Uuid::now_v7().to_string()),
    };
    // The hub would refuse the token; say why now rather than mint a useless one.
    claims.check_ids().context("cannot mint this token")?;
    Ok(mint(&secret, &claims))
}
