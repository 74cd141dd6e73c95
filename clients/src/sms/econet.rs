//! Econet bulk SMS.
//!
//! Like TelOne, Econet's bulk-SMS contract is not public; this mapping is an assumption kept in
//! one file. Requests are `POST <api_url>/v1/sms/messages` with the API key in `X-API-Key` and a
//! JSON body `{from, to (E.164), text, client_reference}`. Success is
//! `201 {"id":…,"status":"queued","parts":n}`; failures are `{"error":{"code","message"}}`, and
//! throttling is `429` with `Retry-After` as an HTTP-date.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::encoding::SmsSegments;
use super::gateway::SmsMessage;
use super::http_client::{HttpSmsClient, SmsWire, WireBody, WireRequest};
use crate::clock::SharedClock;
use crate::http::{base_url, classify_status, ConfigError, HttpSettings};
use crate::outcome::Outcome;

/// Path of the send call under `api_url`.
pub const SEND_PATH: &str = "/v1/sms/messages";

/// The seed's Econet configuration.
#[derive(Debug, Clone)]
pub struct EconetConfig {
    /// Base of the API, or the simulator's `…/econet`.
    pub api_url: String,
    /// The account's API key.
    pub api_key: SecretString,
    /// Registered sender id.
    pub sender_id: String,
    /// Contracted messages per hour.
    pub rate_limit: Option<u32>,
}

/// Builds an Econet client.
pub fn client(
    config: EconetConfig,
    settings: &HttpSettings,
    clock: SharedClock,
) -> Result<HttpSmsClient, ConfigError> {
    let limit = config.rate_limit;
    let wire = EconetWire {
        url: format!("{}{SEND_PATH}", base_url(&config.api_url)?),
        config,
    };
    HttpSmsClient::new(Box::new(wire), settings, clock, limit)
}

#[derive(Debug)]
struct EconetWire {
    config: EconetConfig,
    url: String,
}

#[derive(Deserialize)]
struct Accepted {
    id: String,
}

#[derive(Deserialize)]
struct ErrorReply {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    #[serde(default)]
    message: String,
}

impl SmsWire for EconetWire {
    fn provider(&self) -> &'static str {
        "econet"
    }

    fn request(
        &self,
        message: &SmsMessage,
        _segments: &SmsSegments,
    ) -> Result<WireRequest, Outcome> {
        let body = serde_json::json!({
            "from": message.sender.as_deref().unwrap_or(&self.config.sender_id),
            "to": message.to.e164(),
            "text": message.text,
            "client_reference": message.reference,
        });
        Ok(WireRequest {
            method: Method::POST,
            url: self.url.clone(),
            query: Vec::new(),
            headers: vec![("X-API-Key", self.config.api_key.expose_secret().to_owned())],
            body: Some(WireBody::Json(body)),
        })
    }

    fn reply(
        &self,
        _message: &SmsMessage,
        status: StatusCode,
        headers: &HeaderMap,
        body: &str,
        clock: &SharedClock,
    ) -> Outcome {
        if status.is_success() {
            return match serde_json::from_str::<Accepted>(body) {
                Ok(accepted) if !accepted.id.is_empty() => Outcome::Sent(accepted.id),
                _ => Outcome::RetryBackoff(format!("unexpected success body: {body}")),
            };
        }
        let Ok(ErrorReply { error }) = serde_json::from_str::<ErrorReply>(body) else {
            return classify_status(status, headers, clock, body);
        };
        let detail = format!("{}: {}", error.code, error.message);
        match error.code.as_str() {
            "unauthorized" | "unknown_sender" | "no_credit" => Outcome::FixConfig(detail),
            "invalid_destination" | "destination_barred" => Outcome::DropRecipient(detail),
            "invalid_text" => Outcome::FixMessage(detail),
            _ => classify_status(status, headers, clock, &detail),
        }
    }
}
