//! What tests and operators use to observe and steer the simulators: the request recorder, the
//! SMS outbox, and fault injection.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// One request as a simulator received it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// The simulator's prefix without `/` (`kannel`, `paynow`, …).
    pub provider: String,
    /// HTTP method.
    pub method: String,
    /// Path below the prefix.
    pub path: String,
    /// Raw query string (empty if none).
    pub query: String,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// Raw body.
    #[serde(serialize_with = "body_as_text")]
    pub body: Bytes,
}

fn body_as_text<S: serde::Serializer>(body: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(body))
}

impl RecordedRequest {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query string decoded into ordered pairs.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    /// The body decoded as a form, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }
}

/// Every request every simulator received, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl Recorder {
    pub(crate) fn push(&self, request: RecordedRequest) {
        self.inner.lock().push(request);
    }

    /// The requests one simulator received.
    pub fn requests(&self, provider: &str) -> Vec<RecordedRequest> {
        self.inner
            .lock()
            .iter()
            .filter(|r| r.provider == provider)
            .cloned()
            .collect()
    }

    /// Forgets everything recorded so far.
    pub fn clear(&self) {
        self.inner.lock().clear();
    }
}

/// An SMS a simulated gateway accepted, as the handset would receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimSms {
    /// `kannel`, `telone` or `econet`.
    pub provider: String,
    /// The id the simulator gave it.
    pub id: String,
    /// Recipient, as sent.
    pub to: String,
    /// Sender id, as sent.
    pub from: String,
    /// Text after the gateway's decoding.
    pub text: String,
}

/// One injected misbehaviour, consumed by the next request to that simulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this status and body instead of handling the request.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` value to send, verbatim (seconds or an HTTP-date).
        #[serde(default)]
        retry_after: Option<String>,
        /// Body text.
        #[serde(default)]
        body: String,
    },
    /// Wait this many milliseconds, then handle the request normally.
    DelayMs {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// Never answer (the caller's timeout fires).
    Hang,
}

/// Queues of pending faults per simulator.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<HashMap<String, VecDeque<Fault>>>>,
}

impl Faults {
    /// Makes the next request to `provider` misbehave as `fault` (queued behind earlier ones).
    pub fn push(&self, provider: &str, fault: Fault) {
        self.inner
            .lock()
            .entry(provider.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// Drops all pending faults.
    pub fn clear(&self) {
        self.inner.lock().clear();
    }

    pub(crate) fn take(&self, provider: &str) -> Option<Fault> {
        self.inner.lock().get_mut(provider)?.pop_front()
    }
}

/// How long a `Hang` fault holds a request; far beyond any client timeout.
pub(crate) const HANG: Duration = Duration::from_secs(120);
