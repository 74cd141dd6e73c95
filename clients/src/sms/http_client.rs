//! The shared HTTP SMS client: one transport, one timeout policy and one error mapping, with
//! each gateway's request and reply format supplied by a small [`SmsWire`] mapping.

use std::fmt::Debug;

use async_trait::async_trait;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use super::encoding::{analyse, SmsSegments};
use super::gateway::{SmsGateway, SmsMessage};
use crate::clock::SharedClock;
use crate::http::{classify_transport_error, ConfigError, HttpSettings};
use crate::outcome::Outcome;

/// A request body.
#[derive(Debug)]
pub(crate) enum WireBody {
    Json(serde_json::Value),
}

/// A provider-neutral HTTP request built by a wire mapping.
#[derive(Debug)]
pub(crate) struct WireRequest {
    pub method: Method,
    pub url: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<WireBody>,
}

/// How one gateway writes a send request and reads the reply.
pub(crate) trait SmsWire: Send + Sync + Debug {
    fn provider(&self) -> &'static str;
    /// Builds the request; an `Err` outcome refuses the message before any I/O.
    fn request(&self, message: &SmsMessage, segments: &SmsSegments)
        -> Result<WireRequest, Outcome>;
    /// Classifies the gateway's reply.
    fn reply(
        &self,
        message: &SmsMessage,
        status: StatusCode,
        headers: &HeaderMap,
        body: &str,
        clock: &SharedClock,
    ) -> Outcome;
}

/// An [`SmsGateway`] over HTTP; build one with `kannel::client`, `telone::client` or
/// `econet::client`.
#[derive(Debug)]
pub struct HttpSmsClient {
    http: reqwest::Client,
    wire: Box<dyn SmsWire>,
    clock: SharedClock,
    hourly_rate_limit: Option<u32>,
}

impl HttpSmsClient {
    pub(crate) fn new(
        wire: Box<dyn SmsWire>,
        settings: &HttpSettings,
        clock: SharedClock,
        hourly_rate_limit: Option<u32>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            http: settings.build()?,
            wire,
            clock,
            hourly_rate_limit,
        })
    }
}

#[async_trait]
impl SmsGateway for HttpSmsClient {
    fn provider(&self) -> &str {
        self.wire.provider()
    }

    fn hourly_rate_limit(&self) -> Option<u32> {
        self.hourly_rate_limit
    }

    #[tracing::instrument(skip_all, fields(provider = self.wire.provider(), reference = %message.reference))]
    async fn send(&self, message: &SmsMessage) -> Outcome {
        if message.text.is_empty() {
            return Outcome::FixMessage("empty text".to_owned());
        }
        let segments = analyse(&message.text);
        let request = match self.wire.request(message, &segments) {
            Ok(request) => request,
            Err(outcome) => return outcome,
        };
        let mut builder = self.http.request(request.method, &request.url);
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        if let Some(WireBody::Json(json)) = request.body {
            builder = builder.json(&json);
        }
        let response = match builder.send().await {
            Ok(response) => response,
            Err(err) => return classify_transport_error(&err),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let body = match response.text().await {
            Ok(body) => body,
            Err(err) => return classify_transport_error(&err),
        };
        let outcome = self
            .wire
            .reply(message, status, &headers, &body, &self.clock);
        tracing::debug!(
            status = status.as_u16(),
            class = outcome.class(),
            "sms sent"
        );
        outcome
    }
}
