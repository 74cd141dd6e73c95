//! The payment capability payment sagas hold, in provider-neutral terms.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::outcome::Outcome;
use crate::phone::ZwMobile;

/// A mobile wallet that can be charged by a USSD push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wallet {
    /// Econet EcoCash.
    Ecocash,
    /// NetOne OneMoney.
    OneMoney,
    /// InnBucks (the payer gets an authorisation code instead of a PIN prompt).
    InnBucks,
    /// O'mari.
    Omari,
}

/// How the payer pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentMethod {
    /// Redirect the payer to the provider's checkout page.
    Web,
    /// Push a prompt to the payer's wallet.
    Mobile {
        /// Which wallet.
        wallet: Wallet,
        /// The wallet's number.
        phone: ZwMobile,
    },
}

/// One payment to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    /// Our unique reference for the payment (the saga id).
    pub reference: String,
    /// Amount in cents of the integration's currency.
    pub amount_cents: u64,
    /// What is being paid for, shown to the payer.
    pub description: String,
    /// The payer's e-mail, where the provider wants one.
    pub payer_email: Option<String>,
    /// How the payer pays.
    pub method: PaymentMethod,
    /// A unique trace id that lets us find the payment again after a timeout.
    pub merchant_trace: Option<String>,
}

/// A started payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initiated {
    /// The provider's reference, if it gave one yet.
    pub provider_reference: Option<String>,
    /// Where to ask for the payment's status.
    pub poll_url: String,
    /// Where to send the payer's browser (web checkout).
    pub redirect_url: Option<String>,
    /// What to tell the payer (e.g. USSD instructions).
    pub instructions: Option<String>,
    /// A code the payer must enter or scan (InnBucks, PayGo).
    pub authorization_code: Option<String>,
}

/// A payment's state in provider-neutral terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Created or waiting for the payer.
    Pending,
    /// Money taken (settlement may follow later).
    Paid,
    /// Declined or failed.
    Failed,
    /// Cancelled by the payer or merchant.
    Cancelled,
    /// Paid, then returned to the payer.
    Refunded,
    /// Paid, then disputed; funds held.
    Disputed,
}

impl PaymentStatus {
    /// True when the payment can no longer change without a new action by someone.
    pub fn is_final(self) -> bool {
        !matches!(self, PaymentStatus::Pending)
    }
}

/// What a status check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentState {
    /// Our reference.
    pub reference: String,
    /// The provider's reference.
    pub provider_reference: String,
    /// Neutral status.
    pub status: PaymentStatus,
    /// The provider's own word for it.
    pub provider_status: String,
    /// Amount as the provider reports it.
    pub amount: String,
}

/// A payment provider.
#[async_trait]
pub trait PaymentGateway: Send + Sync + Debug {
    /// Short provider name.
    fn provider(&self) -> &str;

    /// Starts a payment.
    async fn initiate(&self, request: &PaymentRequest) -> Outcome<Initiated>;

    /// Asks the provider for the state of a payment started earlier, by its poll URL.
    async fn check(&self, poll_url: &str) -> Outcome<PaymentState>;
}
