//! In-process simulators of every provider, served together by [`run_sandbox`].
//!
//! Each simulator mirrors its provider's host under a prefix (`/kannel`, `/telone`, `/econet`,
//! `/paynow`) and speaks the real paths and formats, checks what the real provider checks
//! (credentials, hashes), picks outcomes by magic inputs, makes the provider's callbacks, records
//! every request and can be told to fail (latency, 5xx, 429, hangs). `clients/SIMULATORS.md`
//! lists the prefixes, magic inputs and knobs.

mod control;
mod kannel;
mod paynow;
mod sandbox;
mod sms_http;
mod smtp;
mod tap;
mod whatsapp;

pub use control::{Fault, Faults, RecordedRequest, Recorder, SimSms};
pub use paynow::{PaynowIntegration, PaynowSimConfig, PaynowTimings};
pub use sandbox::{run_sandbox, SandboxConfig, SandboxHandle, SmsSimConfig};
pub use smtp::{SimEmail, SmtpSim, SmtpSimConfig};
pub use whatsapp::{
    SimTemplate, SimWhatsApp, WhatsAppSim, WhatsAppSimConfig, SANDBOX_APP_SECRET,
    SANDBOX_PHONE_NUMBER_ID, SANDBOX_WHATSAPP_TOKEN,
};
