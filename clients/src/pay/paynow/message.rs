//! Paynow's `key=value&…` messages (keys matched case-insensitively, order kept because the hash
//! depends on it), transaction statuses, and status updates.

use super::hash::{hash_fields, same_hash};
use crate::pay::PaymentStatus;

/// A decoded Paynow message: ordered fields, as received or about to be sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaynowMessage {
    fields: Vec<(String, String)>,
}

impl PaynowMessage {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes a form body (`+` is a space, `%xx` escapes in either case).
    pub fn parse(body: &[u8]) -> Self {
        Self {
            fields: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    /// Appends a field.
    pub fn push(&mut self, name: &str, value: impl Into<String>) -> &mut Self {
        self.fields.push((name.to_owned(), value.into()));
        self
    }

    /// The first value of `name`, matched case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The fields in order.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// Appends `hash`, computed over the fields so far.
    pub fn sign(&mut self, key: &str) -> &mut Self {
        let hash = hash_fields(&self.fields, key);
        self.push("hash", hash)
    }

    /// True if the message carries a `hash` that matches its other fields under `key`.
    pub fn verify(&self, key: &str) -> bool {
        match self.get("hash") {
            Some(hash) => same_hash(hash, &hash_fields(&self.fields, key)),
            None => false,
        }
    }

    /// Form-encodes the message.
    pub fn encode(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.fields {
            out.append_pair(name, value);
        }
        out.finish()
    }
}

/// A Paynow transaction status, as Paynow spells it on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaynowStatus {
    /// Created, not paid.
    Created,
    /// Handed to an upstream system (e.g. the wallet's USSD prompt), not yet paid.
    Sent,
    /// Paid.
    Paid,
    /// Paid, held until the merchant confirms delivery.
    AwaitingDelivery,
    /// Delivery acknowledged.
    Delivered,
    /// Cancelled; cannot be resumed.
    Cancelled,
    /// Disputed by the payer.
    Disputed,
    /// Refunded.
    Refunded,
    /// Failed (test mode reports a user-cancelled prompt this way).
    Failed,
    /// Anything else Paynow may say.
    Other(String),
}

impl PaynowStatus {
    /// Reads Paynow's spelling, ignoring case and surrounding space.
    pub fn parse(value: &str) -> Self {
        match value.trim().to_ascii_lowercase().as_str() {
            "created" => Self::Created,
            "sent" => Self::Sent,
            "paid" => Self::Paid,
            "awaiting delivery" => Self::AwaitingDelivery,
            "delivered" => Self::Delivered,
            "cancelled" => Self::Cancelled,
            "disputed" => Self::Disputed,
            "refunded" => Self::Refunded,
            "failed" => Self::Failed,
            _ => Self::Other(value.trim().to_owned()),
        }
    }

    /// Paynow's spelling.
    pub fn as_wire(&self) -> &str {
        match self {
            Self::Created => "Created",
            Self::Sent => "Sent",
            Self::Paid => "Paid",
            Self::AwaitingDelivery => "Awaiting Delivery",
            Self::Delivered => "Delivered",
            Self::Cancelled => "Cancelled",
            Self::Disputed => "Disputed",
            Self::Refunded => "Refunded",
            Self::Failed => "Failed",
            Self::Other(s) => s,
        }
    }

    /// The neutral status; `Paid`, `Awaiting Delivery` and `Delivered` all mean the money is in.
    pub fn neutral(&self) -> PaymentStatus {
        match self {
            Self::Created | Self::Sent | Self::Other(_) => PaymentStatus::Pending,
            Self::Paid | Self::AwaitingDelivery | Self::Delivered => PaymentStatus::Paid,
            Self::Cancelled => PaymentStatus::Cancelled,
            Self::Disputed => PaymentStatus::Disputed,
            Self::Refunded => PaymentStatus::Refunded,
            Self::Failed => PaymentStatus::Failed,
        }
    }
}

/// A verified status message: the body of a status update POSTed to `resulturl`, or a poll or
/// trace reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    /// Our reference.
    pub reference: String,
    /// Paynow's reference (may contain thousands separators, e.g. `1,082`).
    pub paynow_reference: String,
    /// Amount as Paynow wrote it.
    pub amount: String,
    /// Status.
    pub status: PaynowStatus,
    /// Poll URL of the transaction.
    pub poll_url: String,
    /// Card token for tokenised payments.
    pub token: Option<String>,
    /// All fields, for anything not lifted out above.
    pub message: PaynowMessage,
}

impl StatusUpdate {
    /// Parses and verifies a status message; `None` if the hash is missing or wrong, or a
    /// required field is absent.
    pub fn verified(body: &[u8], key: &str) -> Option<Self> {
        let message = PaynowMessage::parse(body);
        if !message.verify(key) {
            return None;
        }
        Self::from_message(message)
    }

    pub(crate) fn from_message(message: PaynowMessage) -> Option<Self> {
        Some(Self {
            reference: message.get("reference")?.to_owned(),
            paynow_reference: message.get("paynowreference")?.to_owned(),
            amount: message.get("amount").unwrap_or_default().to_owned(),
            status: PaynowStatus::parse(message.get("status")?),
            poll_url: message.get("pollurl").unwrap_or_default().to_owned(),
            token: message.get("token").map(str::to_owned),
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_matched_case_insensitively() {
        let m = PaynowMessage::parse(b"Status=Ok&BrowserUrl=http%3a%2f%2fx");
        assert_eq!(m.get("status"), Some("Ok"));
        assert_eq!(m.get("browserurl"), Some("http://x"));
    }

    #[test]
    fn a_signed_message_verifies_and_a_tampered_one_does_not() {
        let mut m = PaynowMessage::new();
        m.push("reference", "INV 1")
            .push("amount", "10.00")
            .push("status", "Paid");
        m.sign("k");
        let body = m.encode();
        assert!(PaynowMessage::parse(body.as_bytes()).verify("k"));
        assert!(!PaynowMessage::parse(body.replace("10.00", "1.00").as_bytes()).verify("k"));
        assert!(!PaynowMessage::parse(b"reference=x&status=Paid").verify("k"));
    }

    #[test]
    fn every_documented_status_round_trips() {
        for s in [
            "Created",
            "Sent",
            "Paid",
            "Awaiting Delivery",
            "Delivered",
            "Cancelled",
            "Disputed",
            "Refunded",
            "Failed",
        ] {
            assert_eq!(PaynowStatus::parse(s).as_wire(), s);
        }
        assert_eq!(
            PaynowStatus::parse("Pending3ds"),
            PaynowStatus::Other("Pending3ds".into())
        );
        assert_eq!(
            PaynowStatus::parse("awaiting delivery").neutral(),
            PaymentStatus::Paid
        );
    }
}
