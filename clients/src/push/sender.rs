//! The push capability actors hold.

use std::fmt::Debug;

use async_trait::async_trait;

use super::message::PushMessage;
use crate::outcome::Outcome;

/// Something that can deliver a [`PushMessage`] to a device or topic.
///
/// `send` returns `Sent(provider_message_id)` once the provider accepted the message (FCM's
/// `projects/…/messages/…` name, APNs's `apns-id`), and `DropRecipient` when the device token is
/// dead, so the caller can forget it.
#[async_trait]
pub trait PushSender: Send + Sync + Debug {
    /// Short provider name (`fcm`, `apns`) for logs, metrics and routing.
    fn provider(&self) -> &str;

    /// Hands one message to the provider.
    async fn send(&self, message: &PushMessage) -> Outcome;
}
