//! The [`Settings`] tree, its compiled-in defaults and its validation.
//!
//! Every struct refuses unknown keys and takes its defaults from `Default`, so a layer (TOML file
//! or environment) names only what it changes. [`Settings::validate`] runs after all layers are
//! merged and fails with the key at fault; it checks only what would otherwise fail later or
//! silently misbehave (limits that cannot hold one message, a short HS256 secret, a provider
//! without a price for its kind).

use std::collections::BTreeMap;
use std::path::PathBuf;

use oneclass_actors::rate_limit::RateLimits;
use oneclass_actors::Limits;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::config::providers::ProviderSettings;

/// The shortest HS256 secret accepted, in bytes.
const MIN_JWT_SECRET_BYTES: usize = 16;

/// The smallest `limits.read_ahead_bytes`: room for a message's header and per-frame charge
/// beside a message of `max_message_bytes`, and a few fragments and control frames on top.
const MIN_READ_AHEAD_BYTES: usize = 1024;

/// Everything the hub can be configured with.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub journal: JournalSettings,
    pub auth: AuthSettings,
    /// Session and school limits, handed to the actors as they are.
    pub limits: Limits,
    /// Rate limits of the WebSocket API by connection, user and op, and school writes.
    pub rate_limits: RateLimits,
    pub telemetry: TelemetrySettings,
    /// Outside delivery providers by name (`[providers.telone]`); `crate::providers` builds one
    /// client for each at startup. None configured: the hub delivers in-app only.
    pub providers: BTreeMap<String, ProviderSettings>,
    /// How notifications go beyond the inbox (`[delivery]`).
    pub delivery: DeliverySettings,
}

/// `[delivery]`: the delivery engine's settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliverySettings {
    /// The delivery policy per notification kind (`[delivery.policies."fees.reminder"]`); a
    /// kind not named keeps its compiled-in default
    /// ([`oneclass_actors::notify::policy::DeliveryPolicies`]). Checked at startup; read by
    /// the dispatcher once it lands.
    pub policies: oneclass_actors::notify::policy::DeliveryPolicies,
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
    /// `data_dir` (see `journal_backend`). An empty string counts as unset.
    pub url: Option<String>,
    /// Embedded journal: WAL size in bytes past which the checkpoint thread truncates the WAL
    /// (and the size a restarted WAL is cut back to). 0 turns it off.
    pub wal_checkpoint_bytes: u64,
    /// Embedded journal: WAL size in bytes past which the writer truncates the WAL itself, making
    /// appends wait for the copy. 0 turns it off (the WAL may then grow without bound).
    pub wal_max_bytes: u64,
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
    pub jwt_secret: Option<SecretString>,
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

/// Where errors are reported.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetrySettings {
    /// Sentry (or compatible) DSN; error tracking is off while unset. A secret: its key
    /// authenticates whoever sends events.
    pub sentry_dsn: Option<SecretString>,
    /// The `environment` attached to reported events (`production`, `staging`, …).
    pub environment: Option<String>,
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
            wal_checkpoint_bytes: oneclass_storage::sqlite::DEFAULT_WAL_CHECKPOINT_BYTES,
            wal_max_bytes: oneclass_storage::sqlite::DEFAULT_WAL_MAX_BYTES,
        }
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            public_keys: Vec::new(),
            jwks_file: None,
            issuer: oneclass_protocol::token::DEFAULT_ISSUER.into(),
            audience: oneclass_protocol::token::DEFAULT_AUDIENCE.into(),
            leeway_s: 30,
        }
    }
}

impl Settings {
    /// Fails fast on settings that cannot work, naming the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        let j = &self.journal;
        anyhow::ensure!(
            j.wal_max_bytes == 0 || j.wal_max_bytes >= j.wal_checkpoint_bytes,
            "journal.wal_max_bytes must be 0 or at least journal.wal_checkpoint_bytes"
        );
        let l = &self.limits;
        anyhow::ensure!(
            l.heartbeat.as_secs() >= 1,
            "limits.heartbeat must be at least 1s"
        );
        anyhow::ensure!(
            l.max_body_bytes <= l.max_message_bytes,
            "limits.max_body_bytes must not exceed limits.max_message_bytes"
        );
        anyhow::ensure!(
            l.outbound_max_bytes >= l.max_message_bytes,
            "limits.outbound_max_bytes must hold at least one message"
        );
        anyhow::ensure!(
            l.read_ahead_bytes >= MIN_READ_AHEAD_BYTES,
            "limits.read_ahead_bytes must be at least {MIN_READ_AHEAD_BYTES}"
        );
        anyhow::ensure!(l.replay_page >= 1, "limits.replay_page must be at least 1");
        anyhow::ensure!(
            l.catch_up_buffer >= 1,
            "limits.catch_up_buffer must be at least 1"
        );
        anyhow::ensure!(
            l.member_page_max >= 1,
            "limits.member_page_max must be at least 1"
        );
        anyhow::ensure!(
            l.max_subscriptions_per_connection >= 1,
            "limits.max_subscriptions_per_connection must be at least 1 (the inbox)"
        );
        anyhow::ensure!(
            l.max_subscriptions_per_user >= l.max_subscriptions_per_connection,
            "limits.max_subscriptions_per_user must be at least \
             limits.max_subscriptions_per_connection"
        );
        self.rate_limits.validate().map_err(anyhow::Error::msg)?;
        anyhow::ensure!(
            l.notify_data_bytes < l.max_message_bytes,
            "limits.notify_data_bytes must be below limits.max_message_bytes"
        );
        anyhow::ensure!(
            (1..=oneclass_protocol::codec::MAX_BODY_DEPTH).contains(&l.notify_data_depth),
            "limits.notify_data_depth must be between 1 and {}",
            oneclass_protocol::codec::MAX_BODY_DEPTH
        );
        anyhow::ensure!(
            l.notify_chunk >= 1,
            "limits.notify_chunk must be at least 1"
        );
        anyhow::ensure!(
            l.notification_cache >= 1,
            "limits.notification_cache must be at least 1"
        );
        if let Some(secret) = &self.auth.jwt_secret {
            anyhow::ensure!(
                secret.expose_secret().len() >= MIN_JWT_SECRET_BYTES,
                "the JWT secret must be at least {MIN_JWT_SECRET_BYTES} bytes"
            );
        }
        if let Some(dsn) = &self.telemetry.sentry_dsn {
            dsn.expose_secret()
                .parse::<sentry::types::Dsn>()
                .map_err(|e| anyhow::anyhow!("telemetry.sentry_dsn is not a DSN: {e}"))?;
        }
        crate::config::providers::validate_all(&self.providers)?;
        Ok(())
    }

    /// The actors' limits.
    pub fn actor_limits(&self) -> Limits {
        self.limits.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_debug_form_of_the_settings_leaks_no_secret() {
        let toml = r#"
            [auth]
            jwt_secret = "jwt-secret-that-must-not-leak"
            [telemetry]
            sentry_dsn = "http://dsnkeythatmustnotleak@127.0.0.1:1/1"
            [providers.telone]
            kind = "sms"
            base_url = "http://127.0.0.1:1"
            sender = "SCHOOL"
            credentials = { username = "u", password = "provider-password-that-must-not-leak" }
            cost = { currency = "USD", sms_segment = "0.02" }
        "#;
        let settings: Settings = toml::from_str(toml).unwrap();
        settings.validate().unwrap();
        let debug = format!("{settings:?}");
        for secret in ["jwt-secret-that", "dsnkeythat", "provider-password"] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(debug.contains("REDACTED"), "{debug}");
    }

    #[test]
    fn validation_names_the_key_at_fault() {
        let mut s = Settings::default();
        s.limits.heartbeat = Duration::from_millis(10);
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("limits.heartbeat"), "{err}");

        let mut s = Settings::default();
        s.auth.jwt_secret = Some("short".into());
        assert!(s.validate().unwrap_err().to_string().contains("16 bytes"));

        let mut s = Settings::default();
        s.telemetry.sentry_dsn = Some("not a dsn".into());
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("telemetry.sentry_dsn"), "{err}");
    }

    #[test]
    fn the_read_ahead_is_configurable_and_must_leave_room_for_framing() {
        let s: Settings = toml::from_str("[limits]\nread_ahead_bytes = 4096\n").unwrap();
        assert_eq!(s.actor_limits().read_ahead_bytes, 4096);
        s.validate().unwrap();
        let s: Settings = toml::from_str("[limits]\nread_ahead_bytes = 100\n").unwrap();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("limits.read_ahead_bytes"), "{err}");
    }

    #[test]
    fn replay_page_and_catch_up_buffer_are_configurable() {
        let s: Settings =
            toml::from_str("[limits]\nreplay_page = 64\ncatch_up_buffer = 128\n").unwrap();
        assert_eq!(s.actor_limits().replay_page, 64);
        assert_eq!(s.actor_limits().catch_up_buffer, 128);
        assert_eq!(s.actor_limits().heartbeat, Limits::default().heartbeat);
    }

    #[test]
    fn rate_limits_are_configurable_per_op_and_keep_their_defaults_otherwise() {
        let s: Settings = toml::from_str(
            "[rate_limits]\nstrikes = 3\nstrike_window = \"2s\"\n\
             school_writes = { per_second = 7, burst = 9 }\n\
             [rate_limits.user]\npublish = { per_second = 2, burst = 5 }\n",
        )
        .unwrap();
        s.validate().unwrap();
        let r = &s.rate_limits;
        assert_eq!(r.strikes, 3);
        assert_eq!(r.strike_window, Duration::from_secs(2));
        assert_eq!(r.school_writes.per_second.get(), 7);
        assert_eq!(r.user.publish.burst.get(), 5);
        assert_eq!(r.user.history, RateLimits::default().user.history);
        assert_eq!(r.connection, RateLimits::default().connection);

        let zero = toml::from_str::<Settings>(
            "[rate_limits.user]\nhistory = { per_second = 0, burst = 1 }\n",
        );
        assert!(zero.is_err(), "a zero rate is refused");
        let mut s = Settings::default();
        s.rate_limits.strikes = 0;
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("rate_limits.strikes"), "{err}");
        let mut s = Settings::default();
        s.limits.max_subscriptions_per_user = 1;
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("max_subscriptions_per_user"), "{err}");
    }

    #[test]
    fn notification_limits_are_configurable_and_checked_against_the_protocol() {
        let s: Settings = toml::from_str(
            "[limits]\nnotify_data_bytes = 4096\nnotify_data_depth = 8\nnotify_chunk = 100\n",
        )
        .unwrap();
        assert_eq!(s.actor_limits().notify_chunk, 100);
        assert!(s.validate().is_ok());
        let mut s = Settings::default();
        s.limits.notify_data_depth = 60;
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("limits.notify_data_depth"), "{err}");
        let mut s = Settings::default();
        s.limits.notify_chunk = 0;
        assert!(s.validate().is_err());
    }

    #[test]
    fn the_outbound_stall_allowance_is_a_human_readable_duration() {
        let s: Settings = toml::from_str("[limits]\noutbound_max_stall = \"250ms\"\n").unwrap();
        assert_eq!(
            s.actor_limits().outbound_max_stall,
            Duration::from_millis(250)
        );
        assert_eq!(Limits::default().outbound_max_stall, Duration::from_secs(1));
    }
}
