//! Sandbox mode: every provider simulator of `oneclass-clients` in this process, so the hub and
//! its clients can be tried with no credentials (`serve --sandbox`, or `sandbox --listen ADDR`
//! for the simulators alone). The simulators speak the providers' real formats; their prefixes,
//! magic inputs and knobs are in `clients/SIMULATORS.md`.
//!
//! The FCM simulator only accepts assertions signed by its own service account, so the sandbox
//! writes that account's key file (with `token_uri` pointing at the simulator) into the data
//! directory for clients and SDKs to use.
//!
//! **Providers.** `serve --sandbox` and `serve --sandbox-at URL` ([`SandboxMode`]) point every
//! provider at the simulators: [`settle`] reads the simulators' credentials (from the handle in
//! process, or from the running sandbox's `GET /_sim/credentials`, which is the only way a hub in
//! another process can learn the FCM and APNs keys a sandbox generated), turns them into one
//! `[providers.*]` entry per simulator ([`SANDBOX_PROVIDERS`]: `telone` and `econet` at the
//! simulators' own hourly limits, `kannel`, `whatsapp`, `email`, `fcm`, `apns`) and reloads the
//! settings with those entries as the layer beneath the file and the environment. So the file
//! overrides any key of them (`[providers.telone] rate_per_hour = 60`) and can add providers of
//! its own. The sandbox's prices are illustrative, not any provider's tariff.
//!
//! The simulators are linked only when the hub is built with its `sandbox` feature (which turns
//! on `oneclass-clients/sim`); a production build leaves them, axum and RSA key generation out.
//! Without the feature both commands stop at [`require`], before anything is bound or opened,
//! with an error that names the feature ([`UNAVAILABLE`]).

use std::path::{Path, PathBuf};

/// Why sandbox mode is refused in a build without the `sandbox` feature, and how to get it.
pub const UNAVAILABLE: &str =
    "sandbox mode is unavailable: oneclass-hub was built without the `sandbox` feature; \
     rebuild with --features sandbox";

/// File name of the FCM service account the sandbox writes.
pub const FCM_ACCOUNT_FILE: &str = "sandbox-fcm-service-account.json";

/// Names of the providers sandbox mode configures, one per simulator.
pub const SANDBOX_PROVIDERS: &[&str] = &[
    "telone", "econet", "kannel", "whatsapp", "email", "fcm", "apns",
];

/// Where `serve` gets its providers from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxMode {
    /// The configuration alone.
    Off,
    /// Simulators started in this process, listening on `listen`.
    InProcess { listen: String },
    /// An already running `oneclass-hub sandbox` at this base URL.
    At(String),
}

/// Whether this build carries the simulators (the `sandbox` feature).
pub const AVAILABLE: bool = cfg!(feature = "sandbox");

/// Succeeds when this build can run the sandbox; otherwise fails with [`UNAVAILABLE`]. The
/// commands call it first, so a build without the simulators fails before it binds a port or
/// opens the journal.
pub fn require() -> anyhow::Result<()> {
    if AVAILABLE {
        Ok(())
    } else {
        Err(anyhow::anyhow!(UNAVAILABLE))
    }
}

#[cfg(feature = "sandbox")]
pub use oneclass_clients::sim::SandboxHandle;

/// What stands in for the simulators' handle in a build without them: it has no values, so
/// [`Sandbox`] cannot be made there, and the code that uses a running sandbox still compiles.
#[cfg(not(feature = "sandbox"))]
#[derive(Debug)]
pub enum SandboxHandle {}

#[cfg(not(feature = "sandbox"))]
impl SandboxHandle {
    /// Never called: no value of this type exists.
    pub fn addr(&self) -> std::net::SocketAddr {
        match *self {}
    }

    /// Never called: no value of this type exists.
    pub async fn shutdown(self) -> std::io::Result<()> {
        match self {}
    }
}

/// A running sandbox and the service-account file it wrote.
#[derive(Debug)]
pub struct Sandbox {
    pub handle: SandboxHandle,
    pub fcm_account: PathBuf,
}

/// Starts the simulators on `listener`, writes the FCM service account under `data_dir`, and
/// says where everything is. Fails with [`UNAVAILABLE`] in a build without the `sandbox` feature.
pub async fn start(listener: std::net::TcpListener, data_dir: &Path) -> anyhow::Result<Sandbox> {
    #[cfg(feature = "sandbox")]
    {
        simulators::start(listener, data_dir).await
    }
    #[cfg(not(feature = "sandbox"))]
    {
        let _ = (listener, data_dir);
        Err(anyhow::anyhow!(UNAVAILABLE))
    }
}

/// The settings `serve` runs with under `mode`, and the in-process simulators when it started
/// them: with the sandbox on, the settings are loaded again from `file` and the environment over
/// the simulators' providers. Fails with [`UNAVAILABLE`] in a build without the simulators.
pub async fn settle(
    settings: crate::config::Settings,
    file: Option<&Path>,
    mode: &SandboxMode,
) -> anyhow::Result<(crate::config::Settings, Option<Sandbox>)> {
    if *mode == SandboxMode::Off {
        return Ok((settings, None));
    }
    #[cfg(feature = "sandbox")]
    {
        simulators::settle(settings, file, mode).await
    }
    #[cfg(not(feature = "sandbox"))]
    {
        let _ = (settings, file);
        Err(anyhow::anyhow!(UNAVAILABLE))
    }
}

#[cfg(feature = "sandbox")]
pub use simulators::{credentials_at, provider_layer};

#[cfg(feature = "sandbox")]
mod simulators {
    use std::path::Path;

    use anyhow::Context as _;
    use figment::value::{Dict, Value};
    use oneclass_clients::sim::{run_sandbox, SandboxConfig, SandboxCredentials};

    use super::{Sandbox, SandboxMode, FCM_ACCOUNT_FILE};
    use crate::config::Settings;

    /// How long fetching a running sandbox's credentials may take.
    const CREDENTIALS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

    pub(super) async fn settle(
        settings: Settings,
        file: Option<&Path>,
        mode: &SandboxMode,
    ) -> anyhow::Result<(Settings, Option<Sandbox>)> {
        let (credentials, sandbox) = match mode {
            SandboxMode::Off => return Ok((settings, None)),
            SandboxMode::InProcess { listen } => {
                let listener = std::net::TcpListener::bind(listen)
                    .with_context(|| format!("binding the sandbox to {listen}"))?;
                let sandbox = start(listener, &settings.journal.data_dir).await?;
                (sandbox.handle.credentials(), Some(sandbox))
            }
            SandboxMode::At(url) => (credentials_at(url).await?, None),
        };
        let settings = Settings::load_over(provider_layer(&credentials)?, file)?;
        eprintln!(
            "providers point at the simulators on {}: {}",
            credentials.base_url,
            super::SANDBOX_PROVIDERS.join(", ")
        );
        Ok((settings, sandbox))
    }

    /// The credentials of the `oneclass-hub sandbox` at `base_url`, from `GET /_sim/credentials`.
    pub async fn credentials_at(base_url: &str) -> anyhow::Result<SandboxCredentials> {
        let url = format!("{}/_sim/credentials", base_url.trim_end_matches('/'));
        let reply = reqwest::Client::builder()
            .timeout(CREDENTIALS_TIMEOUT)
            .build()?
            .get(&url)
            .send()
            .await
            .with_context(|| format!("asking the sandbox at {base_url} for its credentials"))?
            .error_for_status()
            .with_context(|| format!("GET {url}"))?;
        reply
            .json()
            .await
            .with_context(|| format!("reading the sandbox credentials from {url}"))
    }

    /// One `[providers.*]` entry per simulator, as a settings layer.
    pub fn provider_layer(c: &SandboxCredentials) -> anyhow::Result<Dict> {
        let base = c.base_url.trim_end_matches('/');
        let sms_cost = serde_json::json!({ "currency": "USD", "sms_segment": "0.0108" });
        let free = |key: &str| serde_json::json!({ "currency": "USD", key: "0" });
        let providers = serde_json::json!({
            "telone": {
                "kind": "sms",
                "base_url": format!("{base}/telone"),
                "sender": "ONECLASS",
                "rate_per_hour": c.telone_rate_limit,
                "credentials": { "username": c.telone_username, "password": c.telone_password },
                "cost": sms_cost,
            },
            "econet": {
                "kind": "sms",
                "base_url": format!("{base}/econet"),
                "sender": "ONECLASS",
                "rate_per_hour": c.econet_rate_limit,
                "credentials": { "api_key": c.econet_api_key },
                "cost": sms_cost,
            },
            "kannel": {
                "kind": "sms",
                "gateway": "kannel",
                "priority": 3,
                "base_url": format!("{base}/kannel"),
                "sender": "ONECLASS",
                "credentials": { "username": c.kannel_username, "password": c.kannel_password },
                "cost": sms_cost,
            },
            "whatsapp": {
                "kind": "whatsapp",
                "base_url": format!("{base}/whatsapp"),
                "credentials": {
                    "access_token": c.whatsapp_access_token,
                    "phone_number_id": c.whatsapp_phone_number_id,
                },
                "cost": { "currency": "USD", "whatsapp": {
                    "marketing": "0.0225", "utility": "0.004",
                    "authentication": "0.004", "service": "0",
                } },
            },
            "email": {
                "kind": "email",
                "base_url": format!("smtp+insecure://{}", c.smtp_addr),
                "sender": "OneClass Sandbox <noreply@sandbox.oneclass.invalid>",
                "credentials": { "username": c.smtp_username, "password": c.smtp_password },
                "cost": free("email"),
            },
            "fcm": {
                "kind": "push_fcm",
                "base_url": format!("{base}/fcm"),
                "credentials": { "service_account": c.fcm_service_account },
                "cost": free("push"),
            },
            "apns": {
                "kind": "push_apns",
                "base_url": format!("{base}/apns"),
                "topic": "zw.oneclass.sandbox",
                "credentials": {
                    "key_id": c.apns_key_id,
                    "team_id": c.apns_team_id,
                    "private_key": c.apns_private_key_pem,
                },
                "cost": free("push"),
            },
        });
        let mut layer = Dict::new();
        layer.insert("providers".to_owned(), Value::serialize(providers)?);
        Ok(layer)
    }

    /// Path prefixes the simulators serve over HTTP, for the startup message.
    const PREFIXES: &[&str] = &[
        "kannel", "telone", "econet", "paynow", "ecocash", "whatsapp", "fcm", "oauth2", "apns",
    ];

    pub(super) async fn start(
        listener: std::net::TcpListener,
        data_dir: &Path,
    ) -> anyhow::Result<Sandbox> {
        let handle = run_sandbox(listener, SandboxConfig::default()).await?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let fcm_account = data_dir.join(FCM_ACCOUNT_FILE);
        std::fs::write(&fcm_account, handle.fcm_service_account().json)
            .with_context(|| format!("writing {}", fcm_account.display()))?;
        let urls: Vec<String> = PREFIXES.iter().map(|p| handle.url(p)).collect();
        eprintln!(
            "provider simulators (sandbox): {}\n  SMTP on {}; FCM service account in {}",
            urls.join(" "),
            handle.smtp().addr(),
            fcm_account.display()
        );
        Ok(Sandbox {
            handle,
            fcm_account,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_the_feature_and_how_to_rebuild() {
        assert!(UNAVAILABLE.contains("built without the `sandbox` feature"));
        assert!(UNAVAILABLE.contains("rebuild with --features sandbox"));
    }

    #[test]
    fn require_fails_exactly_when_the_simulators_are_not_linked() {
        let built_with_simulators = cfg!(feature = "sandbox");
        match require() {
            Ok(()) => assert!(built_with_simulators, "accepted without the simulators"),
            Err(error) => {
                assert!(!built_with_simulators, "refused with the simulators linked");
                assert_eq!(error.to_string(), UNAVAILABLE);
            }
        }
    }
}
