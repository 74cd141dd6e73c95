//! Who is acting: the identity a verified token or API key yields, and the trait the hub
//! implements to verify tokens (so sessions can verify a `refresh` without knowing about keys).

/// A role from the token's `role` claim; defined with the claims in `oneclass_protocol::token`.
pub use oneclass_protocol::token::Role;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
    /// A school id, or `*` for platform services.
    pub school: String,
    pub role: Role,
    pub classes: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    pub jti: Option<String>,
}

impl Principal {
    /// Whether this is a platform service acting across schools.
    pub fn is_platform(&self) -> bool {
        self.school == oneclass_protocol::token::PLATFORM_SCHOOL && self.role == Role::Service
    }

    /// Whether the caller may act in `school` at all (tenant isolation).
    pub fn in_school(&self, school: &str) -> bool {
        self.school == school || self.is_platform()
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("token expired")]
    Expired,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("token revoked")]
    Revoked,
}

/// Verifies tokens; implemented by the hub with its configured keys.
pub trait Authenticator: Send + Sync + 'static {
    fn verify(&self, token: &str) -> Result<Principal, AuthError>;
}
