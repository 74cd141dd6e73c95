//! In-process simulators of every provider, served together by [`run_sandbox`].
//!
//! Each simulator mirrors its provider's host under a prefix (`/kannel`, `/telone`, `/econet`,
//! `/paynow`, `/fcm` with `/oauth2`, `/apns`, `/ecocash`) and speaks the real paths and formats,
//! checks what the real provider checks (credentials, hashes, token signatures), picks outcomes
//! by magic inputs, makes the provider's callbacks, records every request and can be told to fail
//! (latency, 5xx, 429, hangs). `clients/SIMULATORS.md`
//! lists the prefixes, magic inputs and knobs.

mod apns;
mod control;
mod ecocash;
mod fcm;
mod kannel;
mod paynow;
mod push_keys;
mod sandbox;
mod sms_http;
mod smtp;
mod tap;
mod whatsapp;

pub use apns::{ApnsSimConfig, ApnsSimKey};
pub use control::{Fault, Faults, RecordedRequest, Recorder, SimSms};
pub use ecocash::{EcocashSimConfig, EcocashTimings, SANDBOX_ECOCASH_KEY};
pub use fcm::{FcmSimAccount, FcmSimConfig};
pub use paynow::{PaynowIntegration, PaynowSimConfig, PaynowTimings};
pub use push_keys::{
    generate_apns_key, generate_service_account, sandbox_apns_key, sandbox_service_account,
    TestApnsKey, TestServiceAccount, SANDBOX_APNS_KEY_ID, SANDBOX_APNS_TEAM_ID,
    SANDBOX_CLIENT_EMAIL, SANDBOX_PROJECT_ID,
};
pub use sandbox::{run_sandbox, SandboxConfig, SandboxCredentials, SandboxHandle, SmsSimConfig};
pub use smtp::{SimEmail, SmtpSim, SmtpSimConfig};
pub use whatsapp::{
    SimTemplate, SimWhatsApp, WhatsAppSim, WhatsAppSimConfig, SANDBOX_APP_SECRET,
    SANDBOX_PHONE_NUMBER_ID, SANDBOX_WHATSAPP_TOKEN,
};
