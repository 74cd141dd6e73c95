//! Sandbox mode: every provider simulator of `oneclass-clients` in this process, so the hub and
//! its clients can be tried with no credentials (`serve --sandbox`, or `sandbox --listen ADDR`
//! for the simulators alone). The simulators speak the providers' real formats; their prefixes,
//! magic inputs and knobs are in `clients/SIMULATORS.md`.
//!
//! The FCM simulator only accepts assertions signed by its own service account, so the sandbox
//! writes that account's key file (with `token_uri` pointing at the simulator) into the data
//! directory for clients and SDKs to use.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use oneclass_clients::sim::{run_sandbox, SandboxConfig, SandboxHandle};

/// Path prefixes the simulators serve over HTTP, for the startup message.
const PREFIXES: &[&str] = &[
    "kannel", "telone", "econet", "paynow", "ecocash", "whatsapp", "fcm", "oauth2", "apns",
];
/// File name of the FCM service account the sandbox writes.
pub const FCM_ACCOUNT_FILE: &str = "sandbox-fcm-service-account.json";

/// A running sandbox and the service-account file it wrote.
#[derive(Debug)]
pub struct Sandbox {
    pub handle: SandboxHandle,
    pub fcm_account: PathBuf,
}

/// Starts the simulators on `listener`, writes the FCM service account under `data_dir`, and
/// says where everything is.
pub async fn start(listener: std::net::TcpListener, data_dir: &Path) -> anyhow::Result<Sandbox> {
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
