//! Identity: what the hub knows about credentials beyond verifying a token's signature. Today that
//! is [`revocation`] (tokens revoked before their expiry); MFA and API keys will join here.

pub mod revocation;
