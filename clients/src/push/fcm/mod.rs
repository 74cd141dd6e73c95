//! Firebase Cloud Messaging, HTTP v1 API.
//!
//! A [`ServiceAccount`] (the JSON key file from the Google Cloud console) signs an RS256 JWT
//! assertion, which is exchanged at the account's `token_uri` for a one-hour OAuth2 access token
//! (the JWT-bearer grant). The token is cached and refreshed ahead of expiry by one task while
//! concurrent senders wait for it. Each message is one
//! `POST /v1/projects/{project_id}/messages:send`; errors are classified from the FCM
//! `details[].errorCode` first and the HTTP status second.

mod client;
mod service_account;
mod token;
mod wire;

pub use client::{FcmClient, FcmConfig, DEFAULT_BASE_URL, SCOPE_MESSAGING};
pub use service_account::ServiceAccount;
