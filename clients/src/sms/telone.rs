//! TelOne bulk SMS.
//!
//! TelOne publishes no public API reference, so this wire format is our working assumption,
//! kept entirely in this file so that it can be corrected in one place once the contract is in
//! hand: `POST <api_url>/api/v1/sms/send` with a JSON body carrying the account's username and
//! password, `sender_id`, `recipient` (`2637…`, no `+`), `message`, `reference` and
//! `encoding` (`GSM7`/`UCS2`). Success is `200 {"status":"success","message_id":…}`; failures
//! are `{"status":"error","error_code":…,"message":…}` with an HTTP status, and a throttled
//! account gets `429` with `Retry-After` in seconds.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::encoding::{SmsEncoding, SmsSegments};
use super::gateway::SmsMessage;
use super::http_client::{HttpSmsClient, SmsWire, WireBody, WireRequest};
use crate::clock::SharedClock;
use crate::http::{base_url, classify_status, ConfigError, HttpSettings};
use crate::outcome::Outcome;

/// Path of the send call under `api_url`.
pub const SEND_PATH: &str = "/api/v1/sms/send";

/// The seed's TelOne configuration.
#[derive(Debug, Clone)]
pub struct TeloneConfig {
    /// Base of the API, e.g. `https://bulksms.telone.co.zw` or the simulator's `…/telone`.
    pub api_url: String,
    /// Account username.
    pub username: String,
    /// Account password.
    pub password: SecretString,
    /// Registered alphanumeric sender id.
    pub sender_id: String,
    /// Contracted messages per hour.
    pub rate_limit: Option<u32>,
}

/// Builds a TelOne client.
pub fn client(
    config: TeloneConfig,
    settings: &HttpSettings,
    clock: SharedClock,
) -> Result<HttpSmsClient, ConfigError> {
    let limit = config.rate_limit;
    let wire = TeloneWire {
        url: format!("{}{SEND_PATH}", base_url(&config.api_url)?),
        config,
    };
    HttpSmsClient::new(Box::new(wire), settings, clock, limit)
}

#[derive(Debug)]
struct TeloneWire {
    config: TeloneConfig,
    url: String,
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    status: String,
    message_id: Option<String>,
    error_code: Option<String>,
    message: Option<String>,
}

impl SmsWire for TeloneWire {
    fn provider(&self) -> &'static str {
        "telone"
    }

    fn request(
        &self,
        message: &SmsMessage,
        segments: &SmsSegments,
    ) -> Result<WireRequest, Outcome> {
        let body = serde_json::json!({
            "username": self.config.username,
            "password": self.config.password.expose_secret(),
            "sender_id": message.sender.as_deref().unwrap_or(&self.config.sender_id),
            "recipient": message.to.msisdn(),
            "message": message.text,
            "reference": message.reference,
            "encoding": match segments.encoding {
                SmsEncoding::Gsm7 => "GSM7",
                SmsEncoding::Ucs2 => "UCS2",
            },
        });
        Ok(WireRequest {
            method: Method::POST,
            url: self.url.clone(),
            query: Vec::new(),
            headers: Vec::new(),
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
        let parsed: Option<Reply> = serde_json::from_str(body).ok();
        if status.is_success() {
            return match parsed {
                Some(Reply {
                    status: s,
                    message_id: Some(id),
                    ..
                }) if s == "success" && !id.is_empty() => Outcome::Sent(id),
                _ => Outcome::RetryBackoff(format!("unexpected success body: {body}")),
            };
        }
        let Some(Reply {
            error_code: Some(code),
            message,
            ..
        }) = parsed
        else {
            return classify_status(status, headers, clock, body);
        };
        let detail = format!("{code}: {}", message.unwrap_or_default());
        match code.as_str() {
            "AUTH_FAILED" | "ACCOUNT_SUSPENDED" | "INVALID_SENDER_ID" | "INSUFFICIENT_CREDIT" => {
                Outcome::FixConfig(detail)
            }
            "INVALID_RECIPIENT" | "RECIPIENT_BLACKLISTED" => Outcome::DropRecipient(detail),
            "EMPTY_MESSAGE" | "MESSAGE_TOO_LONG" => Outcome::FixMessage(detail),
            _ => classify_status(status, headers, clock, &detail),
        }
    }
}
