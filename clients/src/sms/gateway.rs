//! The SMS capability actors hold, and the delivery-report shape every gateway's callback
//! parser produces.

use std::fmt::Debug;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::outcome::Outcome;
use crate::phone::ZwMobile;

/// One SMS to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsMessage {
    /// The recipient.
    pub to: ZwMobile,
    /// The text, any Unicode; the gateway picks GSM-7 or UCS-2.
    pub text: String,
    /// The hub's own id of this attempt; gateways that return no id (Kannel) and delivery
    /// reports are matched on it.
    pub reference: String,
    /// Sender id override; the gateway's configured sender when `None`.
    pub sender: Option<String>,
}

/// A gateway that can send SMS. `send` returns `Sent(provider_message_id)` when the gateway took
/// the message; delivery comes later as a [`DeliveryReport`].
#[async_trait]
pub trait SmsGateway: Send + Sync + Debug {
    /// Short provider name (`kannel`, `telone`, `econet`) for logs, metrics and routing.
    fn provider(&self) -> &str;

    /// The contracted hourly send rate, if the provider has one; the caller's rate limiter uses
    /// it (gateways do not sleep on their own).
    fn hourly_rate_limit(&self) -> Option<u32>;

    /// Hands one message to the gateway.
    async fn send(&self, message: &SmsMessage) -> Outcome;
}

/// Where a message stands according to a delivery report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Reached the handset (final).
    Delivered,
    /// Will not reach the handset (final).
    Undelivered,
    /// Held by the SMSC, e.g. phone off (intermediate).
    Buffered,
    /// The SMSC accepted it (intermediate).
    AcceptedBySmsc,
    /// The SMSC refused it (final).
    RejectedBySmsc,
}

impl DeliveryState {
    /// True when no later report can change the outcome.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DeliveryState::Delivered | DeliveryState::Undelivered | DeliveryState::RejectedBySmsc
        )
    }
}

/// A parsed delivery report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The hub's reference from [`SmsMessage::reference`], when the gateway echoes it.
    pub reference: Option<String>,
    /// The SMSC's or gateway's message id.
    pub provider_id: Option<String>,
    /// The handset number as the gateway wrote it.
    pub phone: Option<String>,
    /// The reported state.
    pub state: DeliveryState,
    /// When the gateway says the state was reached.
    pub at: Option<SystemTime>,
    /// Free text from the SMSC (e.g. an SMPP receipt), for logs.
    pub detail: String,
}
