//! The Paynow client: builds signed requests, checks reply hashes and classifies errors.
//!
//! Paynow answers `status=Error&error=<text>` with HTTP 200 and no hash; the text decides the
//! class. Successful replies carry a hash that is verified before anything in them is used.

use async_trait::async_trait;
use reqwest::header::CONTENT_TYPE;
use secrecy::{ExposeSecret as _, SecretString};

use super::message::{PaynowMessage, StatusUpdate};
use crate::clock::SharedClock;
use crate::http::{base_url, classify_status, exchange, ConfigError, HttpSettings, Reply};
use crate::outcome::Outcome;
use crate::pay::{Initiated, PaymentGateway, PaymentMethod, PaymentRequest, PaymentState, Wallet};

/// Paynow's only host; test or live is a property of the integration.
pub const DEFAULT_BASE_URL: &str = "https://www.paynow.co.zw";

/// One Paynow integration.
#[derive(Debug, Clone)]
pub struct PaynowConfig {
    /// [`DEFAULT_BASE_URL`], or the simulator's `…/paynow`.
    pub base_url: String,
    /// Integration id.
    pub integration_id: String,
    /// Integration key (a GUID).
    pub integration_key: SecretString,
    /// Where Paynow POSTs status updates.
    pub result_url: String,
    /// Where the payer's browser returns after web checkout.
    pub return_url: String,
    /// `authemail` used for express checkout when the request has no payer e-mail (Paynow
    /// requires one; in test mode it must be the merchant's login).
    pub default_auth_email: Option<String>,
}

/// A Paynow reply that could not be trusted or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaynowError {
    /// The reply's hash is missing or wrong.
    #[error("reply hash does not verify")]
    BadHash,
    /// A field the reply must have is missing.
    #[error("reply lacks {0}")]
    Missing(&'static str),
}

/// A Paynow client for one integration.
#[derive(Debug)]
pub struct PaynowClient {
    http: reqwest::Client,
    config: PaynowConfig,
    base: String,
    clock: SharedClock,
}

impl PaynowClient {
    /// Builds a client.
    pub fn new(
        config: PaynowConfig,
        settings: &HttpSettings,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        if config.integration_id.trim().is_empty()
            || config.integration_key.expose_secret().trim().is_empty()
        {
            return Err(ConfigError::Credential(
                "paynow integration id and key are required".to_owned(),
            ));
        }
        Ok(Self {
            http: settings.build()?,
            base: base_url(&config.base_url)?,
            config,
            clock,
        })
    }

    /// Verifies and reads a status update POSTed to our `resulturl`.
    pub fn parse_status_update(&self, body: &[u8]) -> Result<StatusUpdate, PaynowError> {
        let message = PaynowMessage::parse(body);
        if !message.verify(self.config.integration_key.expose_secret()) {
            return Err(PaynowError::BadHash);
        }
        StatusUpdate::from_message(message).ok_or(PaynowError::Missing("reference/status"))
    }

    /// Looks a transaction up by the `merchanttrace` it was started with.
    /// `Sent(None)` means Paynow does not know it.
    pub async fn trace(&self, merchant_trace: &str) -> Outcome<Option<StatusUpdate>> {
        let mut message = PaynowMessage::new();
        message
            .push("id", &self.config.integration_id)
            .push("merchanttrace", merchant_trace)
            .push("status", "Message")
            .sign(self.config.integration_key.expose_secret());
        let url = format!("{}/interface/trace", self.base);
        let reply = match self.post(&url, Some(&message)).await {
            Ok(reply) => reply,
            Err(outcome) => return outcome.map(|never| match never {}),
        };
        if reply
            .get("status")
            .is_some_and(|s| s.eq_ignore_ascii_case("notfound"))
        {
            return if reply.verify(self.config.integration_key.expose_secret()) {
                Outcome::Sent(None)
            } else {
                Outcome::FixConfig(PaynowError::BadHash.to_string())
            };
        }
        self.status_reply(reply).map(Some)
    }

    /// POSTs a form (or an empty body) and decodes the reply; `Err` is already classified.
    async fn post(
        &self,
        url: &str,
        message: Option<&PaynowMessage>,
    ) -> Result<PaynowMessage, Outcome<std::convert::Infallible>> {
        let body = message.map(PaynowMessage::encode).unwrap_or_default();
        let Reply {
            status,
            headers,
            text,
        } = exchange(
            self.http
                .post(url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body),
        )
        .await?;
        if !status.is_success() {
            return Err(classify_status(status, &headers, &self.clock, &text));
        }
        Ok(PaynowMessage::parse(text.as_bytes()))
    }

    /// Classifies `status=Error` replies; `None` for anything else.
    fn error_reply<T>(reply: &PaynowMessage) -> Option<Outcome<T>> {
        if !reply
            .get("status")
            .is_some_and(|s| s.eq_ignore_ascii_case("error"))
        {
            return None;
        }
        let error = reply.get("error").unwrap_or("unspecified error").to_owned();
        let lower = error.to_ascii_lowercase();
        Some(
            if lower.contains("hash") || lower.contains("invalid id") || lower.contains("test") {
                // Wrong key or id, or a test-mode integration used outside its rules.
                Outcome::FixConfig(error)
            } else if lower.contains("insufficient balance") || lower.contains("phone") {
                // The payer's wallet cannot pay; another method or number might.
                Outcome::DropRecipient(error)
            } else if lower.contains("try again") || lower.contains("unavailable") {
                Outcome::RetryBackoff(error)
            } else {
                Outcome::FixMessage(error)
            },
        )
    }

    fn status_reply(&self, reply: PaynowMessage) -> Outcome<StatusUpdate> {
        if let Some(outcome) = Self::error_reply(&reply) {
            return outcome;
        }
        if !reply.verify(self.config.integration_key.expose_secret()) {
            return Outcome::FixConfig(PaynowError::BadHash.to_string());
        }
        match StatusUpdate::from_message(reply) {
            Some(update) => Outcome::Sent(update),
            None => Outcome::RetryBackoff(PaynowError::Missing("reference/status").to_string()),
        }
    }

    /// Polls a transaction (empty POST to its poll URL) and verifies the reply.
    pub async fn poll(&self, poll_url: &str) -> Outcome<StatusUpdate> {
        match self.post(poll_url, None).await {
            Ok(reply) => self.status_reply(reply),
            Err(outcome) => outcome.map(|never| match never {}),
        }
    }
}

fn amount(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn wallet_method(wallet: Wallet) -> &'static str {
    match wallet {
        Wallet::Ecocash => "ecocash",
        Wallet::OneMoney => "onemoney",
        Wallet::InnBucks => "innbucks",
        Wallet::Omari => "omari",
    }
}

#[async_trait]
impl PaymentGateway for PaynowClient {
    fn provider(&self) -> &str {
        "paynow"
    }

    #[tracing::instrument(skip_all, fields(provider = "paynow", reference = %request.reference))]
    async fn initiate(&self, request: &PaymentRequest) -> Outcome<Initiated> {
        let mut message = PaynowMessage::new();
        message
            .push("id", &self.config.integration_id)
            .push("reference", &request.reference)
            .push("amount", amount(request.amount_cents))
            .push("additionalinfo", &request.description)
            .push("returnurl", &self.config.return_url)
            .push("resulturl", &self.config.result_url);
        let email = request
            .payer_email
            .clone()
            .or_else(|| self.config.default_auth_email.clone());
        let path = match &request.method {
            PaymentMethod::Web => {
                if let Some(email) = &email {
                    message.push("authemail", email);
                }
                "initiatetransaction"
            }
            PaymentMethod::Mobile { wallet, phone } => {
                let Some(email) = &email else {
                    return Outcome::FixConfig(
                        "express checkout needs an authemail and none is configured".to_owned(),
                    );
                };
                message
                    .push("authemail", email)
                    .push("phone", phone.paynow())
                    .push("method", wallet_method(*wallet));
                "remotetransaction"
            }
        };
        if let Some(trace) = &request.merchant_trace {
            message.push("merchanttrace", trace);
        }
        message
            .push("status", "Message")
            .sign(self.config.integration_key.expose_secret());
        let url = format!("{}/interface/{path}", self.base);
        let reply = match self.post(&url, Some(&message)).await {
            Ok(reply) => reply,
            Err(outcome) => return outcome.map(|never| match never {}),
        };
        if let Some(outcome) = Self::error_reply(&reply) {
            return outcome;
        }
        if !reply
            .get("status")
            .is_some_and(|s| s.eq_ignore_ascii_case("ok"))
        {
            return Outcome::RetryBackoff(format!("unexpected reply: {}", reply.encode()));
        }
        if !reply.verify(self.config.integration_key.expose_secret()) {
            return Outcome::FixConfig(PaynowError::BadHash.to_string());
        }
        let Some(poll_url) = reply.get("pollurl") else {
            return Outcome::RetryBackoff(PaynowError::Missing("pollurl").to_string());
        };
        Outcome::Sent(Initiated {
            provider_reference: reply.get("paynowreference").map(str::to_owned),
            poll_url: poll_url.to_owned(),
            redirect_url: reply.get("browserurl").map(str::to_owned),
            instructions: reply.get("instructions").map(str::to_owned),
            authorization_code: reply.get("authorizationcode").map(str::to_owned),
        })
    }

    async fn check(&self, poll_url: &str) -> Outcome<PaymentState> {
        self.poll(poll_url).await.map(|update| PaymentState {
            status: update.status.neutral(),
            provider_status: update.status.as_wire().to_owned(),
            reference: update.reference,
            provider_reference: update.paynow_reference,
            amount: update.amount,
        })
    }
}
