//! Turns a bearer token into a [`Principal`]: JWT verification with pinned algorithms.
//!
//! HS256 with a shared secret is for development; production uses RS256, ES256 or EdDSA public
//! keys from PEM files or a JWKS file. A token's header names its algorithm (and maybe a `kid`);
//! only keys configured for exactly that algorithm are tried, so `alg: none` and algorithm
//! confusion (an HS256 token signed with a public key) never verify. A token that verifies but
//! names an id the hub cannot use (`Claims::check_ids`: not a channel-name id, or a user id the
//! hub writes as) is refused as invalid too, for the WebSocket (4001) and REST (401) alike,
//! since both take their principal from [`JwtAuthenticator::verify`].

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use oneclass_actors::{AuthError, Authenticator, Principal};
pub use oneclass_protocol::token::Claims;

use crate::config::AuthSettings;
use oneclass_actors::identity::revocation::Revocations;
use secrecy::ExposeSecret as _;

/// File under the data directory holding the development secret.
pub const DEV_SECRET_FILE: &str = "dev-jwt-secret";

struct Key {
    alg: Algorithm,
    kid: Option<String>,
    key: DecodingKey,
}

/// Verifies tokens against the configured keys.
pub struct JwtAuthenticator {
    keys: Vec<Key>,
    issuer: String,
    audience: String,
    leeway: u64,
    revocations: std::sync::Arc<Revocations>,
}

impl std::fmt::Debug for JwtAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuthenticator")
            .field("keys", &self.keys.len())
            .finish()
    }
}

fn parse_alg(alg: &str) -> anyhow::Result<Algorithm> {
    match alg {
        "RS256" => Ok(Algorithm::RS256),
        "ES256" => Ok(Algorithm::ES256),
        "EdDSA" => Ok(Algorithm::EdDSA),
        other => anyhow::bail!("unsupported public-key algorithm `{other}` (RS256, ES256, EdDSA)"),
    }
}

impl JwtAuthenticator {
    /// Builds the verifier; `secret` is the resolved HS256 secret, if any.
    pub fn new(settings: &AuthSettings, secret: Option<&str>) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        if let Some(secret) = secret {
            keys.push(Key {
                alg: Algorithm::HS256,
                kid: None,
                key: DecodingKey::from_secret(secret.as_bytes()),
            });
        }
        for pk in &settings.public_keys {
            let alg = parse_alg(&pk.alg)?;
            let pem = std::fs::read(&pk.pem_file)
                .with_context(|| format!("reading public key {}", pk.pem_file.display()))?;
            let key = match alg {
                Algorithm::RS256 => DecodingKey::from_rsa_pem(&pem),
                Algorithm::ES256 => DecodingKey::from_ec_pem(&pem),
                _ => DecodingKey::from_ed_pem(&pem),
            }
            .with_context(|| format!("parsing public key {}", pk.pem_file.display()))?;
            keys.push(Key {
                alg,
                kid: pk.kid.clone(),
                key,
            });
        }
        if let Some(path) = &settings.jwks_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading JWKS {}", path.display()))?;
            let set: JwkSet = serde_json::from_str(&text)
                .with_context(|| format!("parsing JWKS {}", path.display()))?;
            for jwk in &set.keys {
                let alg = jwk
                    .common
                    .key_algorithm
                    .map(|a| a.to_string())
                    .context("every JWKS key needs an `alg`")?;
                let alg = parse_alg(&alg)?;
                let key = DecodingKey::from_jwk(jwk).context("unusable JWKS key")?;
                keys.push(Key {
                    alg,
                    kid: jwk.common.key_id.clone(),
                    key,
                });
            }
        }
        anyhow::ensure!(!keys.is_empty(), "no JWT key configured");
        Ok(Self {
            keys,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            leeway: settings.leeway_s,
            revocations: Default::default(),
        })
    }

    /// The revocation list this verifier checks.
    pub fn revocations(&self) -> &std::sync::Arc<Revocations> {
        &self.revocations
    }

    /// Checks a token's signature, issuer and audience but not its lifetime, and returns its
    /// claims: for deciding about a token someone wants revoked.
    pub fn inspect(&self, token: &str) -> Result<Claims, AuthError> {
        self.decode(token, false)
    }

    fn decode(&self, token: &str, check_exp: bool) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| AuthError::Invalid(format!("bad header: {e}")))?;
        let mut last = AuthError::Invalid(format!("algorithm {:?} is not accepted", header.alg));
        for key in self.keys.iter().filter(|k| k.alg == header.alg) {
            if key.kid.is_some() && key.kid != header.kid {
                continue;
            }
            let mut v = Validation::new(key.alg);
            v.set_audience(&[&self.audience]);
            v.set_issuer(&[&self.issuer]);
            v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            v.validate_nbf = true;
            v.validate_exp = check_exp;
            v.leeway = self.leeway;
            match jsonwebtoken::decode::<Claims>(token, &key.key, &v) {
                Ok(data) => return Ok(data.claims),
                Err(e) => {
                    last = match e.kind() {
                        ErrorKind::ExpiredSignature => AuthError::Expired,
                        ErrorKind::InvalidAudience => AuthError::Invalid("wrong audience".into()),
                        ErrorKind::InvalidIssuer => AuthError::Invalid("wrong issuer".into()),
                        ErrorKind::ImmatureSignature => AuthError::Invalid("not valid yet".into()),
                        ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".into()),
                        other => AuthError::Invalid(format!("{other:?}")),
                    };
                }
            }
        }
        Err(last)
    }
}

impl Authenticator for JwtAuthenticator {
    fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let c = self.decode(token, true)?;
        c.check_ids()
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        if c.jti
            .as_deref()
            .is_some_and(|j| self.revocations.is_revoked(j))
        {
            return Err(AuthError::Revoked);
        }
        Ok(Principal {
            user: c.sub,
            school: c.school,
            role: c.role,
            classes: c.classes,
            exp: c.exp,
            jti: c.jti,
        })
    }
}

/// The HS256 secret to use: the configured one, or (when no key at all is configured) the
/// development secret under `data_dir`, created on first use so `token` and `serve` agree.
pub fn resolve_secret(settings: &AuthSettings, data_dir: &Path) -> anyhow::Result<Option<String>> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(Some(secret.expose_secret().to_owned()));
    }
    if !settings.public_keys.is_empty() || settings.jwks_file.is_some() {
        return Ok(None);
    }
    let path = data_dir.join(DEV_SECRET_FILE);
    if let Ok(secret) = std::fs::read_to_string(&path) {
        return Ok(Some(secret.trim().to_owned()));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    std::fs::write(&path, &secret)
        .with_context(|| format!("writing development secret {}", path.display()))?;
    tracing::warn!(path = %path.display(), "created a development JWT secret");
    Ok(Some(secret))
}

/// Seconds since the epoch.
pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Mints an HS256 token (development and tests).
pub fn mint(secret: &str, claims: &Claims) -> String {
    // unwrap: HS256 signing of a serialisable struct cannot fail.
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oneclass_actors::Role;
    use oneclass_protocol::token::{DEFAULT_AUDIENCE, DEFAULT_ISSUER};

    fn claims(exp_in: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            school: "s1".into(),
            role: Role::Parent,
            classes: vec!["c1".into()],
            exp: (now_s() as i64 + exp_in) as u64,
            iat: now_s(),
            iss: DEFAULT_ISSUER.into(),
            aud: DEFAULT_AUDIENCE.into(),
            jti: None,
        }
    }

    fn verifier() -> JwtAuthenticator {
        let settings = AuthSettings {
            leeway_s: 0,
            ..AuthSettings::default()
        };
        JwtAuthenticator::new(&settings, Some("0123456789abcdef0123")).unwrap()
    }

    #[test]
    fn a_valid_token_yields_its_principal() {
        let p = verifier()
            .verify(&mint("0123456789abcdef0123", &claims(60)))
            .unwrap();
        assert_eq!(
            (p.user.as_str(), p.school.as_str(), p.role),
            ("u1", "s1", Role::Parent)
        );
    }

    #[test]
    fn a_signed_token_with_an_unusable_id_is_refused_as_invalid() {
        let v = verifier();
        let bad: [fn(&mut Claims); 5] = [
            |c| c.sub = String::new(),
            |c| c.sub = "x".repeat(600),
            |c| c.sub = "a:b".into(),
            |c| c.sub = "system".into(),
            |c| c.classes = vec!["c:7".into()],
        ];
        for change in bad {
            let mut c = claims(60);
            change(&mut c);
            assert!(
                matches!(
                    v.verify(&mint("0123456789abcdef0123", &c)),
                    Err(AuthError::Invalid(_))
                ),
                "{c:?}"
            );
        }
        let mut c = claims(60);
        c.school = "s 1".into();
        assert!(v.verify(&mint("0123456789abcdef0123", &c)).is_err());
    }

    #[test]
    fn expired_wrong_audience_wrong_key_and_alg_none_are_refused() {
        let v = verifier();
        assert_eq!(
            v.verify(&mint("0123456789abcdef0123", &claims(-10))),
            Err(AuthError::Expired)
        );
        let mut c = claims(60);
        c.aud = "other".into();
        assert!(v.verify(&mint("0123456789abcdef0123", &c)).is_err());
        assert!(v
            .verify(&mint("another-secret-of-length", &claims(60)))
            .is_err());
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let none = format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(serde_json::to_vec(&claims(60)).unwrap())
        );
        assert!(v.verify(&none).is_err());
    }
}
