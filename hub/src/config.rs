//! One `Settings` tree: compiled-in defaults, then a TOML file (`--config`), then environment
//! variables. `ONECLASS_LISTEN`, `ONECLASS_DATA_DIR` and `ONECLASS_JWT_SECRET` work under exactly
//! those names; the other variables are listed in [`Settings::apply_env`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use oneclass_actors::Limits;
use serde::Deserialize;

/// Everything the hub can be configured with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub journal: JournalSettings,
    pub auth: AuthSettings,
    pub limits: LimitSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address and port to listen on.
    pub listen: String,
    /// HTTP worker threads (each also hosts school and session actors); 0 = one per core.
    pub workers: usize,
    /// Most concurrent connections per worker.
    pub max_connections: usize,
    /// Pending connections the kernel may queue.
    pub backlog: u32,
    /// Largest REST request body.
    pub max_request_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JournalSettings {
    /// Directory of the embedded journal (and the development secret).
    pub data_dir: PathBuf,
    /// A `scylla://host:port,…/keyspace?…` URL; when set the journal lives there instead of in
    /// `data_dir` (see `journal_backend`).
    pub url: Option<String>,
}

/// A public key for verifying production tokens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKey {
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// Path of a PEM file.
    pub pem_file: PathBuf,
    /// Key id; when set, only tokens whose header names it use this key.
    #[serde(default)]
    pub kid: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 secret (development). When no key of any kind is configured, a secret is created
    /// under the data directory.
    pub jwt_secret: Option<String>,
    pub public_keys: Vec<PublicKey>,
    /// A JWKS file with RS256 / ES256 / EdDSA keys.
    pub jwks_file: Option<PathBuf>,
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// Allowed clock skew when checking `exp` and `nbf`, seconds.
    pub leeway_s: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    pub max_message_bytes: usize,
    pub max_body_bytes: usize,
    pub outbound_max_bytes: usize,
    pub outbound_max_lag_ms: u64,
    pub heartbeat_s: u64,
    pub connect_timeout_ms: u64,
    pub max_connections_per_user: usize,
    pub school_idle_s: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            workers: 0,
            max_connections: 50_000,
            backlog: 4096,
            max_request_bytes: 256 * 1024,
        }
    }
}

impl Default for JournalSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            url: None,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            public_keys: Vec::new(),
            jwks_file: None,
            issuer: "oneclass".into(),
            audience: "oneclass-hub".into(),
            leeway_s: 30,
        }
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        let l = Limits::default();
        Self {
            max_message_bytes: l.max_message_bytes,
            max_body_bytes: l.max_body_bytes,
            outbound_max_bytes: l.outbound_max_bytes,
            outbound_max_lag_ms: l.outbound_max_lag.as_millis() as u64,
            heartbeat_s: l.heartbeat.as_secs(),
            connect_timeout_ms: l.connect_timeout.as_millis() as u64,
            max_connections_per_user: l.max_connections_per_user,
            school_idle_s: l.school_idle.as_secs(),
        }
    }
}

impl Settings {
    /// Defaults, then the file (if any), then the environment; validated.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut settings = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => Settings::default(),
        };
        settings.apply_env(|k| std::env::var(k).ok())?;
        settings.validate()?;
        Ok(settings)
    }

    /// Applies `ONECLASS_*` variables: `LISTEN`, `DATA_DIR`, `JOURNAL`, `JWT_SECRET`, `WORKERS`,
    /// `JWT_ISSUER`, `HEARTBEAT_S`, `CONNECT_TIMEOUT_MS`, `OUTBOUND_MAX_BYTES`,
    /// `OUTBOUND_MAX_LAG_MS`, `MAX_MESSAGE_BYTES`, `MAX_BODY_BYTES`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn num<T: std::str::FromStr>(name: &str, v: String) -> anyhow::Result<T> {
            v.parse()
                .map_err(|_| anyhow::anyhow!("{name} must be a number, got `{v}`"))
        }
        if let Some(v) = var("ONECLASS_LISTEN") {
            self.server.listen = v;
        }
        if let Some(v) = var("ONECLASS_DATA_DIR") {
            self.journal.data_dir = v.into();
        }
        if let Some(v) = var("ONECLASS_JOURNAL") {
            self.journal.url = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = var("ONECLASS_JWT_SECRET") {
            self.auth.jwt_secret = Some(v);
        }
        if let Some(v) = var("ONECLASS_JWT_ISSUER") {
            self.auth.issuer = v;
        }
        if let Some(v) = var("ONECLASS_WORKERS") {
            self.server.workers = num("ONECLASS_WORKERS", v)?;
        }
        if let Some(v) = var("ONECLASS_HEARTBEAT_S") {
            self.limits.heartbeat_s = num("ONECLASS_HEARTBEAT_S", v)?;
        }
        if let Some(v) = var("ONECLASS_CONNECT_TIMEOUT_MS") {
            self.limits.connect_timeout_ms = num("ONECLASS_CONNECT_TIMEOUT_MS", v)?;
        }
        if let Some(v) = var("ONECLASS_OUTBOUND_MAX_BYTES") {
            self.limits.outbound_max_bytes = num("ONECLASS_OUTBOUND_MAX_BYTES", v)?;
        }
        if let Some(v) = var("ONECLASS_OUTBOUND_MAX_LAG_MS") {
            self.limits.outbound_max_lag_ms = num("ONECLASS_OUTBOUND_MAX_LAG_MS", v)?;
        }
        if let Some(v) = var("ONECLASS_MAX_MESSAGE_BYTES") {
            self.limits.max_message_bytes = num("ONECLASS_MAX_MESSAGE_BYTES", v)?;
        }
        if let Some(v) = var("ONECLASS_MAX_BODY_BYTES") {
            self.limits.max_body_bytes = num("ONECLASS_MAX_BODY_BYTES", v)?;
        }
        Ok(())
    }

    /// Fails fast on settings that cannot work.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.limits.heartbeat_s >= 1,
            "limits.heartbeat_s must be at least 1"
        );
        anyhow::ensure!(
            self.limits.max_body_bytes <= self.limits.max_message_bytes,
            "limits.max_body_bytes must not exceed limits.max_message_bytes"
        );
        anyhow::ensure!(
            self.limits.outbound_max_bytes >= self.limits.max_message_bytes,
            "limits.outbound_max_bytes must hold at least one message"
        );
        if let Some(secret) = &self.auth.jwt_secret {
            anyhow::ensure!(
                secret.len() >= 16,
                "the JWT secret must be at least 16 bytes"
            );
        }
        Ok(())
    }

    /// The actors' limits.
    pub fn actor_limits(&self) -> Limits {
        let l = &self.limits;
        Limits {
            max_message_bytes: l.max_message_bytes,
            max_body_bytes: l.max_body_bytes,
            outbound_max_bytes: l.outbound_max_bytes,
            outbound_max_lag: Duration::from_millis(l.outbound_max_lag_ms),
            heartbeat: Duration::from_secs(l.heartbeat_s),
            connect_timeout: Duration::from_millis(l.connect_timeout_ms),
            max_connections_per_user: l.max_connections_per_user,
            school_idle: Duration::from_secs(l.school_idle_s),
            ..Limits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file_under_the_documented_names() {
        let mut s: Settings = toml::from_str("[server]\nlisten = \"0.0.0.0:1\"\n").unwrap();
        s.apply_env(|k| match k {
            "ONECLASS_LISTEN" => Some("127.0.0.1:9".into()),
            "ONECLASS_DATA_DIR" => Some("/tmp/x".into()),
            "ONECLASS_JWT_SECRET" => Some("0123456789abcdef".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.server.listen, "127.0.0.1:9");
        assert_eq!(s.journal.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(s.auth.jwt_secret.as_deref(), Some("0123456789abcdef"));
        s.validate().unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_numbers_fail_with_context() {
        assert!(toml::from_str::<Settings>("[server]\nlisten2 = \"x\"\n").is_err());
        let mut s = Settings::default();
        let err = s
            .apply_env(|k| (k == "ONECLASS_WORKERS").then(|| "two".into()))
            .unwrap_err();
        assert!(err.to_string().contains("ONECLASS_WORKERS"));
    }
}
