//! Key material for the push simulators, generated at run time: an RSA service account for FCM
//! and a P-256 team key for APNs. Nothing secret is checked in; each process makes its own.
//!
//! The sandbox knows one of each out of the box ([`sandbox_service_account`],
//! [`sandbox_apns_key`]); tests can make more ([`generate_service_account`],
//! [`generate_apns_key`]) and register their public halves with the simulators.

use std::sync::OnceLock;

use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::rand_core::OsRng;

/// Client e-mail of the service account every sandbox accepts.
pub const SANDBOX_CLIENT_EMAIL: &str = "oneclass-sandbox@oneclass-sandbox.iam.gserviceaccount.com";
/// Its project.
pub const SANDBOX_PROJECT_ID: &str = "oneclass-sandbox";
/// Key id of the APNs key every sandbox accepts.
pub const SANDBOX_APNS_KEY_ID: &str = "SANDBOXKEY";
/// Its team.
pub const SANDBOX_APNS_TEAM_ID: &str = "SANDBOXTEAM";

/// A service account and the public key that verifies its signatures.
#[derive(Debug, Clone)]
pub struct TestServiceAccount {
    /// The key file, in Google's format.
    pub json: String,
    /// `client_email`.
    pub client_email: String,
    /// `project_id`.
    pub project_id: String,
    /// SPKI PEM of the public key (what the FCM simulator verifies with).
    pub public_key_pem: String,
}

struct RsaPair {
    private_pem: String,
    public_pem: String,
}

fn rsa_pair() -> RsaPair {
    // unwrap: 2048-bit generation from the OS RNG and PEM encoding of a fresh key do not fail.
    let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap();
    RsaPair {
        private_pem: key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        public_pem: key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
    }
}

/// The sandbox's RSA key, generated once per process (RSA generation takes a while).
fn sandbox_rsa() -> &'static RsaPair {
    static KEY: OnceLock<RsaPair> = OnceLock::new();
    KEY.get_or_init(rsa_pair)
}

fn account_json(pair: &RsaPair, token_uri: &str, project_id: &str, client_email: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": format!("{:x}", uuid::Uuid::now_v7().as_u128()),
        "private_key": pair.private_pem,
        "client_email": client_email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": format!(
            "https://www.googleapis.com/robot/v1/metadata/x509/{}",
            client_email.replace('@', "%40")
        ),
        "universe_domain": "googleapis.com"
    })
    .to_string()
}

/// The service account every sandbox's FCM simulator accepts, with `token_uri` set to
/// `token_uri` (the sandbox's `…/oauth2/token`).
pub fn sandbox_service_account(token_uri: &str) -> TestServiceAccount {
    let pair = sandbox_rsa();
    TestServiceAccount {
        json: account_json(pair, token_uri, SANDBOX_PROJECT_ID, SANDBOX_CLIENT_EMAIL),
        client_email: SANDBOX_CLIENT_EMAIL.to_owned(),
        project_id: SANDBOX_PROJECT_ID.to_owned(),
        public_key_pem: pair.public_pem.clone(),
    }
}

/// A service account with a freshly generated key; register its public key through
/// `PushSimConfig::fcm_accounts` for the simulator to accept it.
pub fn generate_service_account(
    token_uri: &str,
    project_id: &str,
    client_email: &str,
) -> TestServiceAccount {
    let pair = rsa_pair();
    TestServiceAccount {
        json: account_json(&pair, token_uri, project_id, client_email),
        client_email: client_email.to_owned(),
        project_id: project_id.to_owned(),
        public_key_pem: pair.public_pem,
    }
}

/// An APNs team key: the `.p8` contents and the public half.
#[derive(Debug, Clone)]
pub struct TestApnsKey {
    /// Key id (`kid`).
    pub key_id: String,
    /// Team id (`iss`).
    pub team_id: String,
    /// PKCS#8 PEM, as in a `.p8` file.
    pub private_key_pem: String,
    /// SPKI PEM of the public key.
    pub public_key_pem: String,
}

/// A P-256 key with the given ids.
pub fn generate_apns_key(key_id: &str, team_id: &str) -> TestApnsKey {
    let secret = p256::SecretKey::random(&mut OsRng);
    TestApnsKey {
        key_id: key_id.to_owned(),
        team_id: team_id.to_owned(),
        // unwrap: encoding a fresh key does not fail.
        private_key_pem: secret.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
        public_key_pem: secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
    }
}

/// The APNs key every sandbox accepts (generated once per process).
pub fn sandbox_apns_key() -> TestApnsKey {
    static KEY: OnceLock<TestApnsKey> = OnceLock::new();
    KEY.get_or_init(|| generate_apns_key(SANDBOX_APNS_KEY_ID, SANDBOX_APNS_TEAM_ID))
        .clone()
}
