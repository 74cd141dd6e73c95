//! Sandbox mode: every provider simulator of `oneclass-clients` in this process, so the hub and
//! its clients can be tried with no credentials (`serve --sandbox`, or `sandbox --listen ADDR`
//! for the simulators alone). The simulators speak the providers' real formats; their prefixes,
//! magic inputs and knobs are in `clients/SIMULATORS.md`.
//!
//! The FCM simulator only accepts assertions signed by its own service account, so the sandbox
//! writes that account's key file (with `token_uri` pointing at the simulator) into the data
//! directory for clients and SDKs to use.
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

#[cfg(feature = "sandbox")]
mod simulators {
    use std::path::Path;

    use anyhow::Context as _;
    use oneclass_clients::sim::{run_sandbox, SandboxConfig};

    use super::{Sandbox, FCM_ACCOUNT_FILE};

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
