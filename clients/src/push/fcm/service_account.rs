//! The service-account key file, as Google Cloud issues it.

use std::path::Path;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::http::ConfigError;

/// The fields of a Google service-account JSON key file that FCM needs. Other fields in the file
/// (`auth_uri`, certificate URLs, `universe_domain`) are accepted and ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccount {
    /// Always `service_account`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The Firebase/Google Cloud project messages are sent for.
    pub project_id: String,
    /// Id of the key pair; sent as the JWT `kid`.
    pub private_key_id: String,
    /// PEM (PKCS#8) RSA private key.
    pub private_key: SecretString,
    /// The account's e-mail; the JWT issuer.
    pub client_email: String,
    /// Numeric client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Where assertions are exchanged for access tokens
    /// (`https://oauth2.googleapis.com/token` for real accounts).
    pub token_uri: String,
}

impl ServiceAccount {
    /// Parses the key file's contents and checks that the key is an RSA private key.
    pub fn from_json(json: &[u8]) -> Result<Self, ConfigError> {
        let account: ServiceAccount = serde_json::from_slice(json)
            .map_err(|e| ConfigError::Credential(format!("service account json: {e}")))?;
        if account.kind != "service_account" {
            return Err(ConfigError::Credential(format!(
                "service account json has type {:?}, expected \"service_account\"",
                account.kind
            )));
        }
        for (name, value) in [
            ("project_id", &account.project_id),
            ("client_email", &account.client_email),
            ("token_uri", &account.token_uri),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::Credential(format!(
                    "service account json lacks {name}"
                )));
            }
        }
        account.encoding_key()?;
        Ok(account)
    }

    /// Reads and parses a key file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| ConfigError::Credential(format!("cannot read {}: {e}", path.display())))?;
        Self::from_json(&bytes)
    }

    pub(crate) fn encoding_key(&self) -> Result<jsonwebtoken::EncodingKey, ConfigError> {
        jsonwebtoken::EncodingKey::from_rsa_pem(self.private_key.expose_secret().as_bytes())
            .map_err(|e| {
                ConfigError::Credential(format!("service account private_key is not RSA PEM: {e}"))
            })
    }
}
