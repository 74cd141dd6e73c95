//! Outbound clients for every outside API the OneClass hub talks to, and an in-process simulator
//! of each.
//!
//! Actors hold the capability traits ([`SmsGateway`], [`PaymentGateway`], …) behind `Arc<dyn …>`
//! and never see a provider's wire format: each provider module maps its own request and reply
//! shapes onto the shared [`Outcome`] classification at the edge. Every client takes its base URL,
//! secrets, timeouts and a [`Clock`] from its constructor, so tests and the sandbox point it at
//! the simulators in `sim`, which speak the same paths and formats as the real providers.
//!
//! The simulators are compiled only with the `sim` feature: the hub's `sandbox` feature and this
//! crate's own tests turn it on, and a production build links neither them nor their HTTP server
//! (axum) and key generation (RSA, P-256).
//!
//! Layout: [`outcome`] (classification, `Retry-After`, backoff), [`clock`], [`http`] (shared
//! transport settings and error mapping), [`phone`] (Zimbabwean numbers), [`sms`] (Kannel, TelOne,
//! Econet, GSM-7/UCS-2), [`pay`] (Paynow, EcoCash), [`push`] (FCM, APNs), [`email`] (SMTP,
//! templates, signed links, bounces), [`whatsapp`] (Cloud API, webhooks), `sim` (simulators and
//! `sim::run_sandbox`, with the `sim` feature).

pub mod clock;
pub mod email;
pub mod http;
pub mod outcome;
pub mod pay;
pub mod phone;
pub mod push;
#[cfg(feature = "sim")]
pub mod sim;
pub mod sms;
pub mod whatsapp;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use email::Mailer;
pub use http::{ConfigError, HttpSettings};
pub use outcome::{parse_retry_after, Backoff, Outcome};
pub use pay::PaymentGateway;
pub use phone::{Network, PhoneError, ZwMobile};
pub use push::PushSender;
pub use sms::SmsGateway;
pub use whatsapp::WhatsApp;
