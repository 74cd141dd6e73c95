//! The EcoCash Open API client.
//!
//! EcoCash documents its HTTP statuses but not its error bodies, so classification rests on the
//! status: 400 a bad field, 401/403 the key, 402 a valid request the payer's wallet refused, 404
//! an unknown transaction (or a wrong URL), 409 a duplicate reference, 429 throttling, 5xx
//! EcoCash itself.

use async_trait::async_trait;
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::StatusCode;
use secrecy::{ExposeSecret as _, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::wire::{CallbackBody, LookupBody, LookupReply, PaymentBody, RefundBody, RefundReply};
use crate::clock::SharedClock;
use crate::http::{
    base_url, classify_status, exchange, truncate, ConfigError, HttpSettings, Reply,
};
use crate::outcome::Outcome;
use crate::pay::{
    Initiated, PaymentGateway, PaymentMethod, PaymentRequest, PaymentState, PaymentStatus, Wallet,
};
use crate::phone::ZwMobile;

/// The Open API's base; the simulator's is `http://ADDR/ecocash/api/ecocash_pay`.
pub const DEFAULT_BASE_URL: &str = "https://developers.ecocash.co.zw/api/ecocash_pay";

const PAYMENT_PATH: &str = "/api/v2/payment/instant/c2b";
const LOOKUP_PATH: &str = "/api/v1/transaction/c2b/status";
const REFUND_PATH: &str = "/api/v2/refund/instant/c2b";

/// Which EcoCash environment a key belongs to; it is the last segment of every path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcocashEnvironment {
    /// Test money, whitelisted numbers.
    Sandbox,
    /// Real money.
    Live,
}

impl EcocashEnvironment {
    fn segment(self) -> &'static str {
        match self {
            EcocashEnvironment::Sandbox => "sandbox",
            EcocashEnvironment::Live => "live",
        }
    }
}

/// One EcoCash Open API project.
#[derive(Debug, Clone)]
pub struct EcocashConfig {
    /// [`DEFAULT_BASE_URL`] or the simulator's.
    pub base_url: String,
    /// The project's API key, sent as `X-API-KEY`.
    pub api_key: SecretString,
    /// Sandbox or live.
    pub environment: EcocashEnvironment,
    /// `USD` or `ZWG`.
    pub currency: String,
    /// Our name as shown on refunds (`clientName`).
    pub client_name: String,
}

/// A payment as the lookup call reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct EcocashTransaction {
    /// Our `sourceReference`.
    pub source_reference: String,
    /// EcoCash's reference (`MP…`), once it has one.
    pub ecocash_reference: Option<String>,
    /// EcoCash's status word (`SUCCESS`, `PENDING`, `FAILED`, …).
    pub status: String,
    /// Neutral reading of `status`.
    pub neutral: PaymentStatus,
    /// Amount, as reported.
    pub amount: f64,
    /// Currency, as reported.
    pub currency: String,
    /// The payer's number, as reported.
    pub msisdn: String,
    /// `transactionDateTime`, as reported.
    pub at: Option<String>,
}

/// A refund to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcocashRefund {
    /// The original payment's EcoCash reference (`MP…`).
    pub original_ecocash_reference: String,
    /// Our unique id for this refund (a UUID), so a retried refund is recognised.
    pub refund_correlator: String,
    /// The payer's number.
    pub phone: ZwMobile,
    /// Amount to return, in cents.
    pub amount_cents: u64,
    /// Why, shown to the payer.
    pub reason: String,
}

/// What EcoCash said about a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReceipt {
    /// `transactionStatus` (`COMPLETED` when done).
    pub status: String,
    /// The refund's own EcoCash reference.
    pub ecocash_reference: Option<String>,
    /// `responseMessage`.
    pub message: Option<String>,
}

/// A status callback from EcoCash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcocashCallback {
    /// `transactionOperationStatus`.
    pub status: String,
    /// Neutral reading of `status`.
    pub neutral: PaymentStatus,
    /// `clientReference`: our `sourceReference`.
    pub source_reference: String,
    /// `ecocashReference`.
    pub ecocash_reference: Option<String>,
}

/// A callback body that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcocashError {
    /// Not the callback JSON.
    #[error("ecocash callback is not readable: {0}")]
    Unreadable(String),
}

/// The neutral meaning of an EcoCash status word. Only `SUCCESS` and `COMPLETED` are confirmed
/// by captured replies; the others follow the older gateway's vocabulary.
pub fn neutral_status(status: &str) -> PaymentStatus {
    match status.trim().to_ascii_uppercase().as_str() {
        "SUCCESS" | "SUCCESSFUL" | "COMPLETED" | "PAID" => PaymentStatus::Paid,
        "FAILED" | "FAILURE" | "DECLINED" | "EXPIRED" => PaymentStatus::Failed,
        "CANCELLED" | "CANCELED" => PaymentStatus::Cancelled,
        "REFUNDED" | "REVERSED" => PaymentStatus::Refunded,
        _ => PaymentStatus::Pending,
    }
}

/// `sourceReference` for a payment: the merchant trace or reference itself when it is a UUID,
/// else a UUID derived from the reference, so retries of one payment reuse one reference.
pub fn source_reference(request: &PaymentRequest) -> String {
    for candidate in [request.merchant_trace.as_deref(), Some(&request.reference)]
        .into_iter()
        .flatten()
    {
        if let Ok(uuid) = uuid::Uuid::parse_str(candidate) {
            return uuid.hyphenated().to_string();
        }
    }
    let digest = Sha256::digest(request.reference.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

fn amount(cents: u64) -> f64 {
    // Exact for any realistic amount; serde prints the shortest form (125.5, 3.0).
    cents as f64 / 100.0
}

/// An EcoCash Open API client.
#[derive(Debug)]
pub struct EcocashClient {
    http: reqwest::Client,
    base: String,
    config: EcocashConfig,
    clock: SharedClock,
}

impl EcocashClient {
    /// Builds a client.
    pub fn new(
        config: EcocashConfig,
        settings: &HttpSettings,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        if config.api_key.expose_secret().trim().is_empty() {
            return Err(ConfigError::Credential(
                "ecocash api key is required".to_owned(),
            ));
        }
        Ok(Self {
            http: settings.build()?,
            base: base_url(&config.base_url)?,
            config,
            clock,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}/{}", self.base, self.config.environment.segment())
    }

    /// POSTs JSON and returns the status and body of any HTTP reply; `Err` is a classified
    /// transport failure.
    async fn post<B: Serialize>(
        &self,
        url: &str,
        body: &B,
    ) -> Result<(StatusCode, HeaderMap, String), Outcome<std::convert::Infallible>> {
        let Reply {
            status,
            headers,
            text,
        } = exchange(
            self.http
                .post(url)
                .header("X-API-KEY", self.config.api_key.expose_secret())
                .header(CONTENT_TYPE, "application/json")
                .json(body),
        )
        .await?;
        Ok((status, headers, text))
    }

    fn classify<T>(&self, status: StatusCode, headers: &HeaderMap, text: &str) -> Outcome<T> {
        let detail = format!("ecocash {}: {}", status.as_u16(), truncate(text, 300));
        match status.as_u16() {
            // A well-formed request the payer's wallet refused (balance, limits, barred).
            402 => Outcome::DropRecipient(detail),
            // The sourceReference or refund correlator was used before.
            409 => Outcome::FixMessage(detail),
            _ => classify_status(status, headers, &self.clock, &detail),
        }
    }

    fn parse<T: DeserializeOwned>(text: &str) -> Result<T, Outcome<std::convert::Infallible>> {
        serde_json::from_str(text).map_err(|e| {
            Outcome::RetryBackoff(format!(
                "unreadable ecocash reply: {e}: {}",
                truncate(text, 200)
            ))
        })
    }

    /// Looks a payment up by the payer's number and our `sourceReference`. `Sent(None)`: EcoCash
    /// does not know it (404).
    pub async fn lookup(
        &self,
        phone: &ZwMobile,
        source_reference: &str,
    ) -> Outcome<Option<EcocashTransaction>> {
        self.lookup_msisdn(&phone.msisdn(), source_reference).await
    }

    async fn lookup_msisdn(
        &self,
        msisdn: &str,
        source_reference: &str,
    ) -> Outcome<Option<EcocashTransaction>> {
        let body = LookupBody {
            source_mobile_number: msisdn.to_owned(),
            source_reference: source_reference.to_owned(),
        };
        let (status, headers, text) = match self.post(&self.url(LOOKUP_PATH), &body).await {
            Ok(reply) => reply,
            Err(outcome) => return outcome.map(|never| match never {}),
        };
        if status == StatusCode::NOT_FOUND {
            return Outcome::Sent(None);
        }
        if !status.is_success() {
            return self.classify(status, &headers, &text);
        }
        match Self::parse::<LookupReply>(&text) {
            Ok(reply) => Outcome::Sent(Some(EcocashTransaction {
                source_reference: reply.reference,
                ecocash_reference: reply.ecocash_reference,
                neutral: neutral_status(&reply.status),
                status: reply.status,
                amount: reply.amount.amount,
                currency: reply.amount.currency,
                msisdn: reply.customer_msisdn,
                at: reply.transaction_date_time,
            })),
            Err(outcome) => outcome.map(|never| match never {}),
        }
    }

    /// Returns money from an earlier payment.
    #[tracing::instrument(skip_all, fields(provider = "ecocash", correlator = %refund.refund_correlator))]
    pub async fn refund(&self, refund: &EcocashRefund) -> Outcome<RefundReceipt> {
        let body = RefundBody {
            original_reference: refund.original_ecocash_reference.clone(),
            refund_correlator: refund.refund_correlator.clone(),
            source_mobile_number: refund.phone.msisdn(),
            amount: amount(refund.amount_cents),
            client_name: self.config.client_name.clone(),
            currency: self.config.currency.clone(),
            reason_for_refund: refund.reason.clone(),
        };
        let (status, headers, text) = match self.post(&self.url(REFUND_PATH), &body).await {
            Ok(reply) => reply,
            Err(outcome) => return outcome.map(|never| match never {}),
        };
        if !status.is_success() {
            return self.classify(status, &headers, &text);
        }
        match Self::parse::<RefundReply>(&text) {
            Ok(reply) => Outcome::Sent(RefundReceipt {
                status: reply.transaction_status.unwrap_or_default(),
                ecocash_reference: reply.ecocash_reference,
                message: reply.response_message,
            }),
            Err(outcome) => outcome.map(|never| match never {}),
        }
    }

    /// Reads a status callback. EcoCash documents no signature on it, so treat it as a hint and
    /// confirm with [`EcocashClient::lookup`] before acting on money.
    pub fn parse_callback(&self, body: &[u8]) -> Result<EcocashCallback, EcocashError> {
        let callback: CallbackBody =
            serde_json::from_slice(body).map_err(|e| EcocashError::Unreadable(e.to_string()))?;
        Ok(EcocashCallback {
            neutral: neutral_status(&callback.transaction_operation_status),
            status: callback.transaction_operation_status,
            source_reference: callback.client_reference,
            ecocash_reference: callback.ecocash_reference,
        })
    }

    /// The "poll URL" handed out for a payment: the lookup endpoint, with the two lookup keys in
    /// the query so that [`PaymentGateway::check`] can rebuild the lookup body.
    fn poll_url(&self, msisdn: &str, source_reference: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("sourceMobileNumber", msisdn)
            .append_pair("sourceReference", source_reference)
            .finish();
        format!("{}?{query}", self.url(LOOKUP_PATH))
    }
}

#[async_trait]
impl PaymentGateway for EcocashClient {
    fn provider(&self) -> &str {
        "ecocash"
    }

    #[tracing::instrument(skip_all, fields(provider = "ecocash", reference = %request.reference))]
    async fn initiate(&self, request: &PaymentRequest) -> Outcome<Initiated> {
        let phone = match &request.method {
            PaymentMethod::Mobile {
                wallet: Wallet::Ecocash,
                phone,
            } => phone,
            other => {
                return Outcome::FixMessage(format!(
                    "the ecocash api takes ecocash wallet payments only, not {other:?}"
                ))
            }
        };
        let source_reference = source_reference(request);
        let body = PaymentBody {
            customer_msisdn: phone.msisdn(),
            amount: amount(request.amount_cents),
            reason: request.description.clone(),
            currency: self.config.currency.clone(),
            source_reference: source_reference.clone(),
        };
        let (status, headers, text) = match self.post(&self.url(PAYMENT_PATH), &body).await {
            Ok(reply) => reply,
            Err(outcome) => return outcome.map(|never| match never {}),
        };
        if !status.is_success() {
            return self.classify(status, &headers, &text);
        }
        // The reply body is undocumented; take an EcoCash reference from it if one is there.
        let ecocash_reference = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("ecocashReference")?.as_str().map(str::to_owned));
        Outcome::Sent(Initiated {
            provider_reference: ecocash_reference.or(Some(source_reference.clone())),
            poll_url: self.poll_url(&body.customer_msisdn, &source_reference),
            redirect_url: None,
            instructions: Some(
                "Approve the EcoCash prompt on your phone by entering your PIN".to_owned(),
            ),
            authorization_code: None,
        })
    }

    async fn check(&self, poll_url: &str) -> Outcome<PaymentState> {
        let query = poll_url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let (Some(msisdn), Some(reference)) = (get("sourceMobileNumber"), get("sourceReference"))
        else {
            return Outcome::FixMessage(format!("not an ecocash poll url: {poll_url}"));
        };
        match self.lookup_msisdn(&msisdn, &reference).await {
            Outcome::Sent(Some(t)) => Outcome::Sent(PaymentState {
                reference: t.source_reference,
                provider_reference: t.ecocash_reference.unwrap_or_default(),
                status: t.neutral,
                provider_status: t.status,
                amount: format!("{:.2}", t.amount),
            }),
            // Unknown to EcoCash: it may not have registered the payment yet.
            Outcome::Sent(None) => {
                Outcome::RetryBackoff(format!("ecocash does not know {reference} (yet)"))
            }
            other => other.map(|_| unreachable!("Sent is handled above")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(reference: &str, trace: Option<&str>) -> PaymentRequest {
        PaymentRequest {
            reference: reference.to_owned(),
            amount_cents: 100,
            description: "x".to_owned(),
            payer_email: None,
            method: PaymentMethod::Web,
            merchant_trace: trace.map(str::to_owned),
        }
    }

    #[test]
    fn source_references_are_uuids_and_stable_per_payment() {
        let a = source_reference(&request("FEES 2025/T1 #17", None));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
        assert_eq!(a, source_reference(&request("FEES 2025/T1 #17", None)));
        assert_ne!(a, source_reference(&request("FEES 2025/T1 #18", None)));
        let given = "5f0e2f7c-7c8e-4d4b-9a59-2d9f1c3b7a11";
        assert_eq!(source_reference(&request("r", Some(given))), given);
    }

    #[test]
    fn amounts_are_plain_decimal_numbers() {
        assert_eq!(serde_json::to_string(&amount(12_550)).unwrap(), "125.5");
        assert_eq!(serde_json::to_string(&amount(1)).unwrap(), "0.01");
        assert_eq!(serde_json::to_string(&amount(300)).unwrap(), "3.0");
    }

    #[test]
    fn status_words_map_to_neutral_states() {
        assert_eq!(neutral_status("SUCCESS"), PaymentStatus::Paid);
        assert_eq!(
            neutral_status("pending subscriber validation"),
            PaymentStatus::Pending
        );
        assert_eq!(neutral_status("FAILED"), PaymentStatus::Failed);
        assert_eq!(neutral_status("something new"), PaymentStatus::Pending);
    }
}
