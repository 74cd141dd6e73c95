//! WhatsApp Business Cloud API (Meta Graph API): the [`WhatsApp`] capability, template, text,
//! media and interactive messages, media upload, error classification, the 24-hour
//! customer-service window, and the webhook side (GET handshake, `X-Hub-Signature-256`
//! verification, status and inbound-message parsing).

mod client;
mod message;
mod webhook;
mod window;

pub use client::{classify_error, CloudApiClient, WhatsAppConfig, DEFAULT_BASE_URL};
pub use message::{
    ListRow, ListSection, MediaKind, MediaSource, ReplyButton, TemplateComponent, TemplateParam,
    WaBody, WaMessage,
};
pub use webhook::{
    parse_webhook, sign_body, verify_handshake, verify_signature, HandshakeError, InboundMessage,
    SignatureError, WaDeliveryState, WaStatus, WaStatusError, WebhookBatch, WebhookError,
};
pub use window::{SendMode, CUSTOMER_SERVICE_WINDOW};

use async_trait::async_trait;

use crate::outcome::Outcome;

/// A WhatsApp sender. `send` returns `Sent(wamid)`; delivery and read come later as status
/// webhooks ([`parse_webhook`]). Free-form messages only reach users inside their 24-hour window
/// (see [`SendMode`]); outside it send a template.
#[async_trait]
pub trait WhatsApp: Send + Sync + std::fmt::Debug {
    /// Short provider name for logs and metrics.
    fn provider(&self) -> &str;

    /// Sends one message.
    async fn send(&self, message: &WaMessage) -> Outcome;

    /// Uploads media for later sends by id; `Sent(media_id)`.
    async fn upload_media(&self, bytes: Vec<u8>, mime_type: &str, filename: &str) -> Outcome;
}
