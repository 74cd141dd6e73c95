//! Tokens for the simulated users: minted with HS256 from `--secret`, or read from
//! `--token-file` (line i is the token of the i-th connection a scenario opens).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oneclass_protocol::token::{Claims, Role, DEFAULT_AUDIENCE};

use crate::cli::Args;

/// How long minted tokens stay valid: longer than any run, short enough not to be a standing
/// credential.
const TOKEN_LIFETIME_S: u64 = 6 * 3600;

/// Who a connection acts as.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: String,
    pub school: String,
    pub role: Role,
    pub classes: Vec<String>,
}

/// Where tokens come from.
pub enum Tokens {
    Mint { key: EncodingKey, issuer: String },
    File(Vec<String>),
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tokens::Mint { issuer, .. } => write!(f, "Tokens::Mint({issuer})"),
            Tokens::File(t) => write!(f, "Tokens::File({} tokens)", t.len()),
        }
    }
}

impl Tokens {
    /// From `--token-file` when given, else from `--secret`.
    pub fn from_args(args: &Args) -> anyhow::Result<Self> {
        if let Some(path) = &args.token_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading token file {}", path.display()))?;
            let tokens: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            if tokens.is_empty() {
                bail!("token file {} holds no token", path.display());
            }
            return Ok(Tokens::File(tokens));
        }
        match &args.secret {
            Some(secret) => Ok(Tokens::Mint {
                key: EncodingKey::from_secret(secret.as_bytes()),
                issuer: args.issuer.clone(),
            }),
            None if args.ws_only => Ok(Tokens::File(vec![String::new()])),
            None => bail!("give --secret (or ONECLASS_JWT_SECRET) or --token-file"),
        }
    }

    /// The token of the `index`-th connection, acting as `who`.
    pub fn token(&self, index: usize, who: &Identity) -> anyhow::Result<String> {
        match self {
            Tokens::File(tokens) => tokens.get(index).cloned().with_context(|| {
                format!(
                    "token file has no line {} (needs one per connection)",
                    index + 1
                )
            }),
            Tokens::Mint { key, issuer } => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let claims = Claims {
                    sub: who.user.clone(),
                    school: who.school.clone(),
                    role: who.role,
                    classes: who.classes.clone(),
                    exp: now + TOKEN_LIFETIME_S,
                    iat: now,
                    iss: issuer.clone(),
                    aud: DEFAULT_AUDIENCE.into(),
                    jti: None,
                };
                Ok(jsonwebtoken::encode(
                    &Header::new(Algorithm::HS256),
                    &claims,
                    key,
                )?)
            }
        }
    }
}

/// School id `s{n}` (1-based).
pub fn school_id(n: u32) -> String {
    format!("s{n}")
}

/// Class id `c{n}` (1-based).
pub fn class_id(n: u32) -> String {
    format!("c{n}")
}

/// The class channel name.
pub fn class_channel(school: &str, class: &str) -> String {
    format!("class:{school}:{class}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn minted_tokens_are_hs256_with_the_claims_the_hub_checks() {
        let tokens = Tokens::Mint {
            key: EncodingKey::from_secret(b"k"),
            issuer: "oneclass".into(),
        };
        let who = Identity {
            user: "p1".into(),
            school: "s1".into(),
            role: Role::Parent,
            classes: vec!["c1".into()],
        };
        let jwt = tokens.token(0, &who).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header: serde_json::Value =
            serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(header["alg"], "HS256");
        assert_eq!(claims["sub"], "p1");
        assert_eq!(claims["school"], "s1");
        assert_eq!(claims["role"], "parent");
        assert_eq!(claims["classes"][0], "c1");
        assert_eq!(claims["iss"], "oneclass");
        assert_eq!(claims["aud"], "oneclass-hub");
        assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
    }
}
