//! [`DeliveryReports`]: the actor every provider callback goes through (Kannel DLRs and inbound
//! SMS, WhatsApp status webhooks and their verification handshake, e-mail DSNs). The HTTP routes
//! (`hub/src/routes/callbacks/`) hand it the raw request; it authenticates, parses through
//! `oneclass_clients`, maps each report to its delivery, and journals what moved.
//!
//! Authentication, per provider entry ([`CallbackSecrets`]):
//! - Kannel has no signature, so its `dlr-url` and `sms-service` URL carry `token=<secret>`, a
//!   per-provider secret compared in constant time (`subtle`). The same scheme serves the MTA
//!   that POSTs DSNs. Anyone who can read the gateway's configuration can forge a callback; keep
//!   the token as secret as the gateway's password, and rotate it with it.
//! - WhatsApp: `X-Hub-Signature-256` over the raw body with the app secret, and the `GET`
//!   handshake's `hub.verify_token` (both checked by the clients' verifier).
//!
//! A callback that fails authentication is [`CallbackError::Unauthorized`], one that cannot be
//! read [`CallbackError::Malformed`]; neither touches the journal, and each is counted in
//! `oneclass_callbacks_total{provider,outcome}` like every other outcome.
//!
//! Mapping: the [`ReportIndex`] holds the deliveries each provider took, keyed by the provider's
//! message id and by the hub's delivery id (Kannel echoes the hub's `msg=` reference). It is
//! rebuilt from the provider's stream `provider:{name}` and caught up from the last seq seen
//! before every callback, so attempts the provider actor journaled a moment ago are found, and
//! a restart loses nothing. [`advance`] decides whether a report moves the delivery: a move is
//! journaled as `delivery.report`; a duplicate or backward report is acknowledged and journals
//! nothing (the provider must get a 2xx or it retries for hours). A report for a message id the
//! index does not hold (not ours, or older than the index's bound) is acknowledged, counted as
//! `unknown` and not journaled: the journal holds facts about the hub's deliveries, and nothing
//! could later be done with an orphan report.
//!
//! Consent: an inbound SMS or WhatsApp message whose whole text is an opt-out keyword
//! (`consent.rs`) journals `consent.changed` for that number and channel; [`OptedOut`] answers
//! the dispatcher's question "which channels did this address opt out of", from the ledger
//! rebuilt from every `provider:*` stream at start.
//!
//! Failure modes: a journal read or write error is [`CallbackError::Unavailable`] (the route
//! answers 503, so the provider retries later); the index and ledger change only after the
//! write succeeded. One callback is handled at a time (the state sits behind one async lock),
//! which keeps "read state, decide, write" free of races; callbacks are small and rare next to
//! the journal's write rate.
//!
//! Not here yet: push results (FCM/APNs answers come back on the send, not as callbacks; the
//! token removal belongs with the dispatcher), and telling the dispatcher that a delivery moved
//! (it reads the journal).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use actix::prelude::*;
use bytes::Bytes;
use oneclass_clients::email::{parse_dsn, DsnAction};
use oneclass_clients::sms::kannel::{parse_dlr, parse_mo};
use oneclass_clients::sms::DeliveryState;
use oneclass_clients::whatsapp::{
    parse_webhook, verify_handshake, verify_signature, WaDeliveryState,
};
use oneclass_protocol::journal::{
    decode_payload, kinds, ConsentChanged, DeliveryAttemptFinished, DeliveryReported, EventEnvelope,
};
use oneclass_protocol::StreamName;
use oneclass_storage::{Journal, StorageError};
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;

use super::consent::{keyword, ConsentLedger, Keyword};
use super::journal;
use super::report_index::{ReportIndex, Tracked};
use super::state::{advance, DeliveryStatus};
use crate::events::{self, Append};
use crate::metrics::Metrics;
use crate::notify::policy::Channel;

/// Deliveries the index keeps by default: a day of TelOne and Econet at their contracted rates
/// several times over, a few hundred bytes each.
pub const DEFAULT_REPORT_INDEX_CAPACITY: usize = 200_000;

/// Events read per journal page while catching up.
const PAGE: usize = 1_000;

/// What authenticates one provider's callbacks. Empty fields mean the callback kind is refused
/// for that provider.
#[derive(Debug, Clone, Default)]
pub struct CallbackSecrets {
    /// The `token=` of Kannel's `dlr-url` and `sms-service` URL, and of the DSN POST.
    pub token: Option<String>,
    /// WhatsApp's app secret (the key of `X-Hub-Signature-256`).
    pub app_secret: Option<String>,
    /// WhatsApp's `hub.verify_token`.
    pub verify_token: Option<String>,
}

/// One raw callback, as the route received it.
#[derive(Debug, Clone)]
pub enum Callback {
    /// Kannel's `GET dlr-url` (the query string).
    KannelDlr { query: String },
    /// Kannel's `sms-service` call for an inbound SMS (the query string).
    KannelMo { query: String },
    /// A WhatsApp webhook POST.
    WhatsApp {
        signature: Option<String>,
        body: Bytes,
    },
    /// Meta's `GET` verification (the query string); answered with the challenge.
    WhatsAppHandshake { query: String },
    /// An RFC 3464 DSN POSTed by the MTA; `query` carries the token.
    Dsn { query: String, body: Bytes },
}

/// One callback for `provider`.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Ack, CallbackError>")]
pub struct ProviderCallback {
    pub provider: String,
    pub callback: Callback,
}

/// What the hub did with an accepted callback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ack {
    /// Reports that moved a delivery (journaled).
    pub applied: usize,
    /// Duplicate or backward reports (acknowledged, not journaled).
    pub unchanged: usize,
    /// Reports for message ids the index does not hold.
    pub unknown: usize,
    /// Consent changes journaled.
    pub consent_changes: usize,
    /// For the WhatsApp handshake: the body to answer with.
    pub challenge: Option<String>,
}

/// Why a callback was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// No provider of that name (or kind) is configured.
    #[error("no such provider callback")]
    UnknownProvider,
    /// Bad or missing token or signature.
    #[error("callback not authenticated: {0}")]
    Unauthorized(String),
    /// The handshake's verify token is wrong (Meta expects 403).
    #[error("verification refused: {0}")]
    Forbidden(String),
    /// Authenticated but unreadable.
    #[error("malformed callback: {0}")]
    Malformed(String),
    /// The journal could not be read or written; the provider should retry.
    #[error("journal unavailable: {0}")]
    Unavailable(String),
}

impl CallbackError {
    fn outcome(&self) -> &'static str {
        match self {
            Self::UnknownProvider => "unknown_provider",
            Self::Unauthorized(_) | Self::Forbidden(_) => "unauthorized",
            Self::Malformed(_) => "malformed",
            Self::Unavailable(_) => "failed",
        }
    }
}

/// What one callback said, once read.
#[derive(Debug, Clone, PartialEq)]
enum Observed {
    /// A delivery report: by the provider's message id or the hub's delivery id.
    Report {
        message_id: Option<String>,
        delivery_id: Option<String>,
        status: DeliveryStatus,
        detail: String,
    },
    /// A consent change for `address` on `channel`.
    Consent {
        address: String,
        channel: Channel,
        opted_out: bool,
        source: String,
    },
}

/// The actor. See the module doc.
pub struct DeliveryReports {
    desk: Arc<Mutex<ReportDesk>>,
    metrics: Arc<Metrics>,
}

impl DeliveryReports {
    /// The actor over `desk` (see [`ReportDesk::load`]).
    pub fn new(desk: ReportDesk, metrics: Arc<Metrics>) -> Self {
        Self {
            desk: Arc::new(Mutex::new(desk)),
            metrics,
        }
    }

    /// The opt-out lookup the dispatcher uses, sharing the actor's ledger.
    pub fn opted_out(&self) -> OptedOut {
        OptedOut(self.desk.clone())
    }
}

impl Actor for DeliveryReports {
    type Context = Context<Self>;
}

/// State is in the desk (rebuilt from the journal on each callback's catch-up), so a restart
/// after a panic loses nothing.
impl actix::Supervised for DeliveryReports {}

impl Handler<ProviderCallback> for DeliveryReports {
    type Result = ResponseFuture<Result<Ack, CallbackError>>;

    fn handle(&mut self, msg: ProviderCallback, _: &mut Context<Self>) -> Self::Result {
        let desk = self.desk.clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            let mut provider = msg.provider.clone();
            let result = desk.lock().await.handle(msg).await;
            // The name comes from the URL: an unconfigured one is not a label of its own, or
            // anyone could grow the metric without bound.
            if result == Err(CallbackError::UnknownProvider) {
                provider = "unknown".to_owned();
            }
            match &result {
                Ok(ack) => {
                    let count = |n: usize, outcome| {
                        for _ in 0..n {
                            metrics.callback(&provider, outcome);
                        }
                    };
                    count(ack.applied, "applied");
                    count(ack.unchanged, "duplicate");
                    count(ack.unknown, "unknown");
                    count(ack.consent_changes, "consent");
                    if ack.challenge.is_some() {
                        metrics.callback(&provider, "handshake");
                    } else if ack.applied + ack.unchanged + ack.unknown + ack.consent_changes == 0 {
                        metrics.callback(&provider, "ignored");
                    }
                }
                Err(e) => metrics.callback(&provider, e.outcome()),
            }
            result
        })
    }
}

/// Where one delivery stands, as the index knows it (after catching up with the journal):
/// `None` for a delivery no provider took yet or one older than the index's bound.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<Option<Tracked>, CallbackError>")]
pub struct GetDelivery {
    pub delivery_id: String,
}

impl Handler<GetDelivery> for DeliveryReports {
    type Result = ResponseFuture<Result<Option<Tracked>, CallbackError>>;

    fn handle(&mut self, msg: GetDelivery, _: &mut Context<Self>) -> Self::Result {
        let desk = self.desk.clone();
        Box::pin(async move {
            let mut desk = desk.lock().await;
            desk.catch_up_all()
                .await
                .map_err(|e| CallbackError::Unavailable(e.to_string()))?;
            Ok(desk.index.by_delivery(&msg.delivery_id).cloned())
        })
    }
}

/// Which channels an address opted out of (see the module doc).
#[derive(Clone)]
pub struct OptedOut(Arc<Mutex<ReportDesk>>);

impl OptedOut {
    /// The channels any of `addresses` (a member's phone, e-mail) opted out of.
    pub async fn channels(&self, addresses: &[&str]) -> BTreeSet<Channel> {
        self.0
            .lock()
            .await
            .consent
            .opted_out_any(addresses.iter().copied())
    }
}

/// The actor's state and logic, usable without an actor system in tests.
pub struct ReportDesk {
    journal: Arc<dyn Journal>,
    secrets: HashMap<String, CallbackSecrets>,
    index: ReportIndex,
    consent: ConsentLedger,
    /// The last seq read per `provider:{name}` stream.
    seen: HashMap<String, u64>,
}

impl ReportDesk {
    /// A desk for the providers in `secrets`, its index bounded by `capacity`, with the ledger
    /// and index rebuilt from every `provider:*` stream.
    pub async fn load(
        journal: Arc<dyn Journal>,
        secrets: HashMap<String, CallbackSecrets>,
        capacity: usize,
    ) -> Result<Self, StorageError> {
        let mut desk = Self {
            journal,
            secrets,
            index: ReportIndex::new(capacity),
            consent: ConsentLedger::default(),
            seen: HashMap::new(),
        };
        desk.catch_up_all().await?;
        Ok(desk)
    }

    /// Catches up with every `provider:*` stream (new providers' streams included).
    async fn catch_up_all(&mut self) -> Result<(), StorageError> {
        for (stream, _) in self.journal.streams_with_prefix("provider:").await? {
            self.catch_up(&stream).await?;
        }
        Ok(())
    }

    /// The index, for tests and the delivery report route.
    pub fn index(&self) -> &ReportIndex {
        &self.index
    }

    /// Reads `stream` past the last seq seen and applies it.
    async fn catch_up(&mut self, stream: &str) -> Result<(), StorageError> {
        loop {
            let from = self.seen.get(stream).copied().unwrap_or(0) + 1;
            let events = self.journal.read_stream(stream, from, PAGE).await?;
            let done = events.len() < PAGE;
            for event in &events {
                self.apply(event);
                self.seen.insert(stream.to_owned(), event.seq);
            }
            if done {
                return Ok(());
            }
        }
    }

    fn apply(&mut self, event: &EventEnvelope) {
        let provider = event.stream.strip_prefix("provider:").unwrap_or_default();
        match event.kind.as_str() {
            kinds::DELIVERY_ATTEMPT_FINISHED => {
                if let Ok(f) = decode_payload::<DeliveryAttemptFinished>(&event.payload) {
                    self.index.attempt_finished(
                        &event.school_id,
                        provider,
                        &f.delivery_id,
                        f.provider_message_id.as_deref(),
                    );
                }
            }
            kinds::DELIVERY_REPORT => {
                if let Ok(r) = decode_payload::<DeliveryReported>(&event.payload) {
                    if let Some(state) = DeliveryStatus::parse(&r.to) {
                        self.index.reported(&r.delivery_id, state);
                    }
                }
            }
            kinds::CONSENT_CHANGED => {
                if let Ok(c) = decode_payload::<ConsentChanged>(&event.payload) {
                    if let Ok(channel) = serde_json::from_value::<Channel>(c.channel.into()) {
                        self.consent.apply(&c.address, channel, c.opted_out);
                    }
                }
            }
            _ => {}
        }
    }

    /// Authenticates, parses, maps and journals one callback.
    pub async fn handle(&mut self, msg: ProviderCallback) -> Result<Ack, CallbackError> {
        let secrets = self
            .secrets
            .get(&msg.provider)
            .ok_or(CallbackError::UnknownProvider)?;
        let observed = match read(secrets, msg.callback)? {
            Read::Challenge(challenge) => {
                return Ok(Ack {
                    challenge: Some(challenge),
                    ..Ack::default()
                })
            }
            Read::Observed(observed) => observed,
        };
        let stream = StreamName::provider(&msg.provider).to_string();
        self.catch_up(&stream)
            .await
            .map_err(|e| CallbackError::Unavailable(e.to_string()))?;
        let mut ack = Ack::default();
        let mut batch: Vec<Append> = Vec::new();
        // Several reports in one webhook may name the same delivery: decide each against the
        // state the earlier ones left.
        let mut pending: HashMap<String, DeliveryStatus> = HashMap::new();
        for o in observed {
            match o {
                Observed::Report {
                    message_id,
                    delivery_id,
                    status,
                    detail,
                } => {
                    let tracked = message_id
                        .as_deref()
                        .and_then(|m| self.index.by_message(&msg.provider, m))
                        .or_else(|| {
                            delivery_id
                                .as_deref()
                                .and_then(|d| self.index.by_delivery(d))
                                .filter(|t| t.provider == msg.provider)
                        });
                    let Some(tracked) = tracked else {
                        ack.unknown += 1;
                        continue;
                    };
                    let current = pending
                        .get(&tracked.delivery_id)
                        .copied()
                        .unwrap_or(tracked.state);
                    let Some(to) = advance(current, status) else {
                        ack.unchanged += 1;
                        continue;
                    };
                    pending.insert(tracked.delivery_id.clone(), to);
                    batch.push(journal::delivery_reported(
                        &tracked.school,
                        &msg.provider,
                        &DeliveryReported {
                            delivery_id: tracked.delivery_id.clone(),
                            provider_message_id: tracked.provider_message_id.clone(),
                            from: current.to_string(),
                            to: to.to_string(),
                            detail,
                        },
                    ));
                    ack.applied += 1;
                }
                Observed::Consent {
                    address,
                    channel,
                    opted_out,
                    source,
                } => {
                    let already = self.consent.opted_out(&address).contains(&channel);
                    if already == opted_out {
                        ack.unchanged += 1;
                        continue;
                    }
                    batch.push(journal::consent_changed(
                        &msg.provider,
                        &ConsentChanged {
                            address,
                            channel: channel_name(channel),
                            opted_out,
                            source,
                        },
                    ));
                    ack.consent_changes += 1;
                }
            }
        }
        if !batch.is_empty() {
            events::write(self.journal.as_ref(), batch)
                .await
                .map_err(|e| CallbackError::Unavailable(e.to_string()))?;
            // The written events are applied by replay, in journal order, like any other.
            self.catch_up(&stream)
                .await
                .map_err(|e| CallbackError::Unavailable(e.to_string()))?;
        }
        Ok(ack)
    }
}

/// The channel's wire name (`sms`, `whatsapp`, …), as its serde form spells it.
fn channel_name(channel: Channel) -> String {
    serde_json::to_value(channel)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

enum Read {
    Observed(Vec<Observed>),
    Challenge(String),
}

/// `token=` of `query` against the provider's token, in constant time.
fn check_token(secrets: &CallbackSecrets, query: &str) -> Result<(), CallbackError> {
    let expected = secrets
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or(CallbackError::UnknownProvider)?;
    let given = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| CallbackError::Unauthorized("missing token".into()))?;
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(CallbackError::Unauthorized("wrong token".into()))
    }
}

/// Authenticates and parses one callback (pure).
fn read(secrets: &CallbackSecrets, callback: Callback) -> Result<Read, CallbackError> {
    let malformed = |e: &dyn std::fmt::Display| CallbackError::Malformed(e.to_string());
    match callback {
        Callback::KannelDlr { query } => {
            check_token(secrets, &query)?;
            let dlr = parse_dlr(&query).map_err(|e| malformed(&e))?;
            Ok(Read::Observed(vec![Observed::Report {
                message_id: dlr.provider_id.clone(),
                delivery_id: dlr.reference.clone(),
                status: kannel_status(dlr.state, &dlr.detail),
                detail: dlr.detail,
            }]))
        }
        Callback::KannelMo { query } => {
            check_token(secrets, &query)?;
            let mo = parse_mo(&query).map_err(|e| malformed(&e))?;
            Ok(Read::Observed(
                consent_from(&mo.from, &mo.text, Channel::Sms)
                    .into_iter()
                    .collect(),
            ))
        }
        Callback::WhatsApp { signature, body } => {
            let secret = secrets
                .app_secret
                .as_deref()
                .filter(|s| !s.is_empty())
                .ok_or(CallbackError::UnknownProvider)?;
            verify_signature(secret.as_bytes(), &body, signature.as_deref())
                .map_err(|e| CallbackError::Unauthorized(e.to_string()))?;
            let batch = parse_webhook(&body).map_err(|e| malformed(&e))?;
            let mut observed: Vec<Observed> = batch
                .statuses
                .into_iter()
                .map(|s| Observed::Report {
                    status: match s.state {
                        WaDeliveryState::Sent => DeliveryStatus::Sent,
                        WaDeliveryState::Delivered => DeliveryStatus::Delivered,
                        WaDeliveryState::Read => DeliveryStatus::Read,
                        WaDeliveryState::Failed => DeliveryStatus::Failed,
                    },
                    detail: s
                        .errors
                        .first()
                        .map(|e| format!("{} {}", e.code, e.title))
                        .unwrap_or_default(),
                    message_id: Some(s.message_id),
                    delivery_id: s.reference,
                })
                .collect();
            for m in batch.messages {
                if let Some(text) = &m.text {
                    // WhatsApp ids are international digits without the `+`.
                    let address = format!("+{}", m.from.trim_start_matches('+'));
                    observed.extend(consent_from(&address, text, Channel::WhatsApp));
                }
            }
            Ok(Read::Observed(observed))
        }
        Callback::WhatsAppHandshake { query } => {
            let token = secrets
                .verify_token
                .as_deref()
                .filter(|s| !s.is_empty())
                .ok_or(CallbackError::UnknownProvider)?;
            verify_handshake(&query, token)
                .map(Read::Challenge)
                .map_err(|e| CallbackError::Forbidden(e.to_string()))
        }
        Callback::Dsn { query, body } => {
            check_token(secrets, &query)?;
            let dsn = parse_dsn(&body).map_err(|e| malformed(&e))?;
            let observed = dsn
                .recipients
                .iter()
                .filter_map(|r| {
                    let status = match r.action {
                        DsnAction::Delivered | DsnAction::Relayed | DsnAction::Expanded => {
                            DeliveryStatus::Delivered
                        }
                        DsnAction::Failed if r.is_hard_bounce() => DeliveryStatus::Undelivered,
                        DsnAction::Failed => DeliveryStatus::Failed,
                        // A delay is not a state: the MTA keeps trying.
                        DsnAction::Delayed => return None,
                    };
                    Some(Observed::Report {
                        message_id: dsn.original_message_id.clone(),
                        delivery_id: dsn.original_envelope_id.clone(),
                        status,
                        detail: format!(
                            "{} {}",
                            r.status,
                            r.diagnostic_code.as_deref().unwrap_or("")
                        )
                        .trim()
                        .to_owned(),
                    })
                })
                .collect();
            Ok(Read::Observed(observed))
        }
    }
}

/// A Kannel DLR state as the hub's. Type 2 does not say why; the receipt's `stat:EXPIRED`
/// (Kannel passes the SMPP receipt text as `%A`) separates an expiry from a refusal.
fn kannel_status(state: DeliveryState, receipt: &str) -> DeliveryStatus {
    match state {
        DeliveryState::Delivered => DeliveryStatus::Delivered,
        DeliveryState::Undelivered if receipt.contains("stat:EXPIRED") => DeliveryStatus::Expired,
        DeliveryState::Undelivered => DeliveryStatus::Undelivered,
        DeliveryState::Buffered | DeliveryState::AcceptedBySmsc => DeliveryStatus::Sent,
        DeliveryState::RejectedBySmsc => DeliveryStatus::Failed,
    }
}

fn consent_from(address: &str, text: &str, channel: Channel) -> Option<Observed> {
    let (opted_out, word) = match keyword(text)? {
        Keyword::OptOut(w) => (true, w),
        Keyword::OptIn(w) => (false, w),
    };
    Some(Observed::Consent {
        address: address.to_owned(),
        channel,
        opted_out,
        source: format!("{}_keyword:{word}", channel_name(channel)),
    })
}

#[cfg(test)]
mod tests {
    use oneclass_clients::whatsapp::sign_body;
    use oneclass_protocol::journal::DeliveryAttemptFinished;
    use oneclass_storage::MemoryJournal;

    use super::*;

    fn secrets() -> HashMap<String, CallbackSecrets> {
        HashMap::from([
            (
                "kannel".to_owned(),
                CallbackSecrets {
                    token: Some("k-secret".into()),
                    ..Default::default()
                },
            ),
            (
                "whatsapp".to_owned(),
                CallbackSecrets {
                    app_secret: Some("app-secret".into()),
                    verify_token: Some("vt".into()),
                    ..Default::default()
                },
            ),
        ])
    }

    async fn journal_with_attempt(
        provider: &str,
        delivery: &str,
        message: &str,
    ) -> Arc<dyn Journal> {
        let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
        let finished = DeliveryAttemptFinished {
            delivery_id: delivery.into(),
            attempt: 1,
            status: "sent".into(),
            decision: "done".into(),
            provider_message_id: Some(message.into()),
            detail: None,
            duration_ms: 1,
            segments: 1,
            cost_micros: 0,
            currency: "USD".into(),
            retry_in_ms: None,
            context: None,
        };
        events::write(
            journal.as_ref(),
            vec![journal::attempt_finished("s1", provider, &finished)],
        )
        .await
        .unwrap();
        journal
    }

    fn dlr(query: &str) -> ProviderCallback {
        ProviderCallback {
            provider: "kannel".into(),
            callback: Callback::KannelDlr {
                query: query.into(),
            },
        }
    }

    async fn kinds_of(journal: &Arc<dyn Journal>, provider: &str) -> Vec<String> {
        journal
            .read_stream(&format!("provider:{provider}"), 1, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    #[tokio::test]
    async fn a_dlr_moves_its_delivery_forward_once_and_a_backward_one_changes_nothing() {
        let journal = journal_with_attempt("kannel", "d1", "d1").await;
        let mut desk = ReportDesk::load(journal.clone(), secrets(), 10)
            .await
            .unwrap();
        let ack = desk
            .handle(dlr("token=k-secret&msg=d1&type=1"))
            .await
            .unwrap();
        assert_eq!(ack.applied, 1);
        let again = desk
            .handle(dlr("token=k-secret&msg=d1&type=1"))
            .await
            .unwrap();
        let back = desk
            .handle(dlr("token=k-secret&msg=d1&type=8"))
            .await
            .unwrap();
        assert_eq!((again.unchanged, back.unchanged), (1, 1));
        assert_eq!(
            kinds_of(&journal, "kannel").await,
            ["delivery.attempt.finished", "delivery.report"]
        );
        // A fresh desk rebuilds the same state from the journal.
        let desk = ReportDesk::load(journal, secrets(), 10).await.unwrap();
        assert_eq!(
            desk.index().by_delivery("d1").unwrap().state,
            DeliveryStatus::Delivered
        );
    }

    #[tokio::test]
    async fn a_late_delivered_after_expired_wins() {
        let journal = journal_with_attempt("kannel", "d1", "d1").await;
        let mut desk = ReportDesk::load(journal.clone(), secrets(), 10)
            .await
            .unwrap();
        let expired = desk
            .handle(dlr(
                "token=k-secret&msg=d1&type=2&reply=id%3A1+stat%3AEXPIRED+err%3A000",
            ))
            .await
            .unwrap();
        assert_eq!(expired.applied, 1);
        assert_eq!(
            desk.index().by_delivery("d1").unwrap().state,
            DeliveryStatus::Expired
        );
        desk.handle(dlr("token=k-secret&msg=d1&type=1"))
            .await
            .unwrap();
        assert_eq!(
            desk.index().by_delivery("d1").unwrap().state,
            DeliveryStatus::Delivered
        );
    }

    #[tokio::test]
    async fn a_wrong_token_or_an_unreadable_dlr_is_refused_and_journals_nothing() {
        let journal = journal_with_attempt("kannel", "d1", "d1").await;
        let mut desk = ReportDesk::load(journal.clone(), secrets(), 10)
            .await
            .unwrap();
        for (query, want) in [
            ("token=k-secreT&msg=d1&type=1", "unauthorized"),
            ("msg=d1&type=1", "unauthorized"),
            ("token=k-secret&msg=d1&type=3", "malformed"),
            ("token=k-secret&type=1", "malformed"),
        ] {
            let err = desk.handle(dlr(query)).await.unwrap_err();
            assert_eq!(err.outcome(), want, "{query}");
        }
        let unknown = desk
            .handle(dlr("token=k-secret&msg=d9&type=1"))
            .await
            .unwrap();
        assert_eq!(unknown.unknown, 1);
        assert_eq!(
            kinds_of(&journal, "kannel").await,
            ["delivery.attempt.finished"]
        );
    }

    #[tokio::test]
    async fn an_sms_stop_opts_the_number_out_once_and_start_opts_it_back_in() {
        let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
        let mut desk = ReportDesk::load(journal.clone(), secrets(), 10)
            .await
            .unwrap();
        let mo = |text: &str| ProviderCallback {
            provider: "kannel".into(),
            callback: Callback::KannelMo {
                query: format!("token=k-secret&from=%2B263771000001&text={text}"),
            },
        };
        assert_eq!(desk.handle(mo("Stop")).await.unwrap().consent_changes, 1);
        assert_eq!(desk.handle(mo("STOP")).await.unwrap().unchanged, 1);
        assert_eq!(desk.handle(mo("hello")).await.unwrap(), Ack::default());
        let ledger = ReportDesk::load(journal.clone(), secrets(), 10)
            .await
            .unwrap();
        assert_eq!(
            ledger.consent.opted_out("+263771000001"),
            BTreeSet::from([Channel::Sms])
        );
        assert_eq!(desk.handle(mo("start")).await.unwrap().consent_changes, 1);
        assert!(desk.consent.opted_out("+263771000001").is_empty());
    }

    #[tokio::test]
    async fn a_signed_whatsapp_status_applies_and_a_forged_one_is_refused() {
        let journal = journal_with_attempt("whatsapp", "d1", "wamid.A").await;
        let mut desk = ReportDesk::load(journal.clone(), secrets(), 10)
            .await
            .unwrap();
        let body = Bytes::from(
            r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"id":"wamid.A","status":"read","timestamp":"1700000000","recipient_id":"263771000001"}]}}]}]}"#,
        );
        let call = |signature: String| ProviderCallback {
            provider: "whatsapp".into(),
            callback: Callback::WhatsApp {
                signature: Some(signature),
                body: body.clone(),
            },
        };
        let forged = desk
            .handle(call(sign_body(b"not-the-secret", &body)))
            .await
            .unwrap_err();
        assert_eq!(forged.outcome(), "unauthorized");
        assert_eq!(kinds_of(&journal, "whatsapp").await.len(), 1);
        let ack = desk
            .handle(call(sign_body(b"app-secret", &body)))
            .await
            .unwrap();
        assert_eq!(ack.applied, 1);
        assert_eq!(
            desk.index()
                .by_message("whatsapp", "wamid.A")
                .unwrap()
                .state,
            DeliveryStatus::Read
        );
    }

    #[tokio::test]
    async fn the_handshake_echoes_the_challenge_only_with_the_right_token() {
        let journal: Arc<dyn Journal> = Arc::new(MemoryJournal::new());
        let mut desk = ReportDesk::load(journal, secrets(), 10).await.unwrap();
        let hs = |token: &str| ProviderCallback {
            provider: "whatsapp".into(),
            callback: Callback::WhatsAppHandshake {
                query: format!(
                    "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}"
                ),
            },
        };
        let ok = desk.handle(hs("vt")).await.unwrap();
        assert_eq!(ok.challenge.as_deref(), Some("1158201444"));
        assert!(matches!(
            desk.handle(hs("nope")).await,
            Err(CallbackError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn a_hard_bounce_dsn_marks_its_e_mail_undelivered_and_a_delay_changes_nothing() {
        let journal = journal_with_attempt(
            "mail",
            "0190f3a4-5b6c-7d8e-9f00-112233445566",
            "0190f3a4-5b6c-7d8e-9f00-112233445566@oneclass.co.zw",
        )
        .await;
        let mut all = secrets();
        all.insert(
            "mail".into(),
            CallbackSecrets {
                token: Some("m".into()),
                ..Default::default()
            },
        );
        let mut desk = ReportDesk::load(journal.clone(), all, 10).await.unwrap();
        let dsn = |raw: &'static [u8]| ProviderCallback {
            provider: "mail".into(),
            callback: Callback::Dsn {
                query: "token=m".into(),
                body: Bytes::from_static(raw),
            },
        };
        let bounced = desk
            .handle(dsn(include_bytes!(
                "../../../clients/src/email/testdata/postfix-user-unknown.eml"
            )))
            .await
            .unwrap();
        assert_eq!(bounced.applied, 1);
        assert_eq!(
            desk.index()
                .by_delivery("0190f3a4-5b6c-7d8e-9f00-112233445566")
                .unwrap()
                .state,
            DeliveryStatus::Undelivered
        );
        let delayed = desk
            .handle(dsn(include_bytes!(
                "../../../clients/src/email/testdata/delayed-mailbox-full.eml"
            )))
            .await
            .unwrap();
        assert_eq!(delayed, Ack::default());
        assert!(matches!(
            desk.handle(dsn(b"Subject: hi\r\n\r\nnot a report")).await,
            Err(CallbackError::Malformed(_))
        ));
        assert_eq!(kinds_of(&journal, "mail").await.len(), 2);
    }
}
