//! Kannel's smsbox: `GET /cgi-bin/sendsms` and the delivery-report callbacks it makes.
//!
//! Kannel answers a submission with `202 0: Accepted for delivery` (or `3: Queued for later
//! delivery`) and no message id, so the hub's own reference travels inside the `dlr-url`, which
//! Kannel calls back with its escape codes filled in. The callback URL we register is
//! `<dlr_url>?msg=<reference>&type=%d&fid=%F&smsc=%i&to=%p&ts=%T&reply=%A` (`%p` is the handset
//! in a DLR: Kannel swaps sender and receiver there); [`parse_dlr`] reads it back.
//!
//! Text is sent as UTF-8 with `coding=0` when it fits GSM-7 and `coding=2` otherwise, so Kannel
//! converts it to UCS-2 for the SMSC and non-GSM letters survive.

use secrecy::{ExposeSecret as _, SecretString};
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use super::encoding::{SmsEncoding, SmsSegments};
use super::gateway::{DeliveryReport, DeliveryState, SmsMessage};
use super::http_client::{HttpSmsClient, SmsWire, WireRequest};
use crate::clock::SharedClock;
use crate::http::{base_url, classify_status, retry_after, truncate, ConfigError, HttpSettings};
use crate::outcome::Outcome;

/// DLR types to ask for: delivered, undelivered, buffered, SMSC accepted, SMSC rejected.
pub const DEFAULT_DLR_MASK: u8 = 31;

/// How to reach one Kannel smsbox.
#[derive(Debug, Clone)]
pub struct KannelConfig {
    /// The smsbox HTTP interface, e.g. `http://127.0.0.1:13013` (the path is appended).
    pub base_url: String,
    /// A `sendsms-user` username.
    pub username: String,
    /// Its password.
    pub password: SecretString,
    /// Default `from`; Kannel's `global-sender` applies when `None`.
    pub sender: Option<String>,
    /// Our DLR endpoint; no delivery reports are requested when `None`.
    pub dlr_url: Option<String>,
    /// DLR types wanted (bit set, see Kannel's `dlr-mask`).
    pub dlr_mask: u8,
    /// Route through this `smsc-id`, if set.
    pub smsc: Option<String>,
    /// Contracted hourly rate of the aggregator behind this Kannel, if any.
    pub hourly_rate_limit: Option<u32>,
}

/// Builds a Kannel client.
pub fn client(
    config: KannelConfig,
    settings: &HttpSettings,
    clock: SharedClock,
) -> Result<HttpSmsClient, ConfigError> {
    let limit = config.hourly_rate_limit;
    let wire = KannelWire {
        sendsms_url: format!("{}/cgi-bin/sendsms", base_url(&config.base_url)?),
        config,
    };
    HttpSmsClient::new(Box::new(wire), settings, clock, limit)
}

#[derive(Debug)]
struct KannelWire {
    config: KannelConfig,
    sendsms_url: String,
}

impl KannelWire {
    fn dlr_url(&self, reference: &str) -> Option<String> {
        let base = self.config.dlr_url.as_deref()?;
        let separator = if base.contains('?') { '&' } else { '?' };
        let reference: String = form_urlencoded::byte_serialize(reference.as_bytes()).collect();
        Some(format!(
            "{base}{separator}msg={reference}&type=%d&fid=%F&smsc=%i&to=%p&ts=%T&reply=%A"
        ))
    }
}

impl SmsWire for KannelWire {
    fn provider(&self) -> &'static str {
        "kannel"
    }

    fn request(
        &self,
        message: &SmsMessage,
        segments: &SmsSegments,
    ) -> Result<WireRequest, Outcome> {
        let mut query = vec![
            ("username".to_owned(), self.config.username.clone()),
            (
                "password".to_owned(),
                self.config.password.expose_secret().to_owned(),
            ),
            ("to".to_owned(), message.to.e164()),
            ("text".to_owned(), message.text.clone()),
            ("charset".to_owned(), "UTF-8".to_owned()),
            (
                "coding".to_owned(),
                match segments.encoding {
                    SmsEncoding::Gsm7 => "0",
                    SmsEncoding::Ucs2 => "2",
                }
                .to_owned(),
            ),
        ];
        if let Some(from) = message.sender.as_ref().or(self.config.sender.as_ref()) {
            query.push(("from".to_owned(), from.clone()));
        }
        if let Some(smsc) = &self.config.smsc {
            query.push(("smsc".to_owned(), smsc.clone()));
        }
        if let Some(dlr_url) = self.dlr_url(&message.reference) {
            query.push(("dlr-mask".to_owned(), self.config.dlr_mask.to_string()));
            query.push(("dlr-url".to_owned(), dlr_url));
        }
        Ok(WireRequest {
            method: Method::GET,
            url: self.sendsms_url.clone(),
            query,
            headers: Vec::new(),
            body: None,
        })
    }

    fn reply(
        &self,
        message: &SmsMessage,
        status: StatusCode,
        headers: &HeaderMap,
        body: &str,
        clock: &SharedClock,
    ) -> Outcome {
        let text = body.trim();
        if status.is_success() && (text.starts_with("0:") || text.starts_with("3:")) {
            // Kannel returns no id; the reference in our dlr-url is the handle.
            return Outcome::Sent(message.reference.clone());
        }
        let detail = format!("HTTP {}: {}", status.as_u16(), truncate(text, 200));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return match retry_after(headers, clock) {
                Some(after) => Outcome::RetryAfter { after, detail },
                None => Outcome::RetryBackoff(detail),
            };
        }
        let lower = text.to_ascii_lowercase();
        if lower.contains("authorization failed") {
            return Outcome::FixConfig(detail);
        }
        if lower.contains("denied") {
            return Outcome::DropRecipient(detail);
        }
        classify_status(status, headers, clock, text)
    }
}

/// Why a DLR callback could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DlrError {
    /// A required parameter is absent or empty.
    #[error("missing parameter {0}")]
    Missing(&'static str),
    /// The `type` parameter is not a known DLR type.
    #[error("unknown DLR type {0:?}")]
    UnknownType(String),
}

/// Maps a Kannel DLR type (one bit of the mask) to a state.
pub fn dlr_state(kind: u32) -> Option<DeliveryState> {
    Some(match kind {
        1 => DeliveryState::Delivered,
        2 => DeliveryState::Undelivered,
        4 => DeliveryState::Buffered,
        8 => DeliveryState::AcceptedBySmsc,
        16 => DeliveryState::RejectedBySmsc,
        _ => return None,
    })
}

/// Reads the query string of a DLR callback made to the URL this client registers.
pub fn parse_dlr(query: &str) -> Result<DeliveryReport, DlrError> {
    let mut reference = None;
    let mut kind = None;
    let mut fid = None;
    let mut phone = None;
    let mut ts = None;
    let mut reply = String::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.into_owned();
        match key.as_ref() {
            "msg" => reference = Some(value),
            "type" => kind = Some(value),
            "fid" => fid = Some(value),
            "to" => phone = Some(value),
            "ts" => ts = Some(value),
            "reply" => reply = value,
            _ => {}
        }
    }
    let reference = reference
        .filter(|r| !r.is_empty())
        .ok_or(DlrError::Missing("msg"))?;
    let kind = kind.ok_or(DlrError::Missing("type"))?;
    let state = kind
        .trim()
        .parse::<u32>()
        .ok()
        .and_then(dlr_state)
        .ok_or_else(|| DlrError::UnknownType(kind.clone()))?;
    let at = ts
        .and_then(|t| t.trim().parse::<u64>().ok())
        .map(|secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
    Ok(DeliveryReport {
        reference: Some(reference),
        provider_id: fid.filter(|f| !f.is_empty()),
        phone: phone.filter(|p| !p.is_empty()),
        state,
        at,
        detail: reply,
    })
}

/// One inbound SMS (MO) as smsbox's `sms-service` forwards it to the hub. The service's
/// `get-url` is `…?from=%p&to=%P&text=%a` (Kannel's escape codes: `%p` the handset, `%P` the
/// number it wrote to, `%a` the whole text); any other parameters (the hub's token) are left to
/// the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSms {
    /// The handset that sent it, as the SMSC wrote it.
    pub from: String,
    /// The hub's number it was sent to, when given.
    pub to: Option<String>,
    /// The text (may be empty).
    pub text: String,
}

/// Reads the query string of an `sms-service` call (see [`InboundSms`]).
pub fn parse_mo(query: &str) -> Result<InboundSms, DlrError> {
    let (mut from, mut to, mut text) = (None, None, None);
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "from" => from = Some(value.into_owned()),
            "to" => to = Some(value.into_owned()),
            "text" => text = Some(value.into_owned()),
            _ => {}
        }
    }
    Ok(InboundSms {
        from: from
            .filter(|f| !f.trim().is_empty())
            .ok_or(DlrError::Missing("from"))?,
        to: to.filter(|t| !t.is_empty()),
        text: text.ok_or(DlrError::Missing("text"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sms_service_call_is_parsed_into_an_inbound_sms() {
        let mo = parse_mo("token=x&from=%2B263771000001&to=12345&text=Stop+please").unwrap();
        assert_eq!(mo.from, "+263771000001");
        assert_eq!(mo.to.as_deref(), Some("12345"));
        assert_eq!(mo.text, "Stop please");
        assert_eq!(parse_mo("text=STOP"), Err(DlrError::Missing("from")));
        assert_eq!(parse_mo("from=1"), Err(DlrError::Missing("text")));
    }

    #[test]
    fn a_dlr_callback_is_parsed_into_a_report() {
        let report =
            parse_dlr("msg=att-1&type=1&fid=abc&smsc=FAKE&to=%2B263771234567&ts=1700000000&reply=")
                .unwrap();
        assert_eq!(report.reference.as_deref(), Some("att-1"));
        assert_eq!(report.state, DeliveryState::Delivered);
        assert!(report.state.is_final());
        assert_eq!(report.phone.as_deref(), Some("+263771234567"));
        assert_eq!(
            report.at,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
    }

    #[test]
    fn a_dlr_with_an_unknown_type_or_no_reference_is_refused() {
        assert_eq!(
            parse_dlr("msg=x&type=3"),
            Err(DlrError::UnknownType("3".into()))
        );
        assert_eq!(parse_dlr("type=1"), Err(DlrError::Missing("msg")));
        assert_eq!(parse_dlr("msg=x"), Err(DlrError::Missing("type")));
    }

    #[test]
    fn intermediate_types_are_not_final() {
        for kind in [4, 8] {
            assert!(!dlr_state(kind).unwrap().is_final());
        }
        assert!(dlr_state(16).unwrap().is_final());
    }
}
