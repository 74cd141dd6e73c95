//! Paynow simulator: `/paynow/interface/{initiatetransaction,remotetransaction,trace}`,
//! `/paynow/Interface/CheckPayment/?guid=…` (GET or POST), and a test checkout page at
//! `/paynow/Payment/ConfirmPayment/{paynowreference}`.
//!
//! It knows the integration from Paynow's documentation out of the box (id `1201`, in test mode,
//! merchant login `merchant@example.com`), checks hashes the way Paynow does (over the values
//! after one form-decoding, in received order), plays the four documented test phone numbers with
//! their timings, and POSTs signed status updates to `resulturl`, retrying up to ten times.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use parking_lot::Mutex;

use super::sandbox::Sim;
use crate::pay::paynow::{hash_fields, PaynowMessage, PaynowStatus};

/// One integration the simulator accepts.
#[derive(Debug, Clone)]
pub struct PaynowIntegration {
    /// Integration id.
    pub id: String,
    /// Integration key.
    pub key: String,
    /// Test mode: only the merchant's login may pay, only the test phones work.
    pub test_mode: bool,
    /// Merchant login e-mails (the only `authemail` accepted in test mode).
    pub merchant_emails: Vec<String>,
}

/// How long the documented test outcomes take.
#[derive(Debug, Clone)]
pub struct PaynowTimings {
    /// 0771111111: paid after this.
    pub success: Duration,
    /// 0772222222: paid after this.
    pub delayed_success: Duration,
    /// 0773333333: user cancels (status `Failed`) after this.
    pub cancelled: Duration,
    /// Pause between status-update retries.
    pub callback_retry: Duration,
}

impl Default for PaynowTimings {
    fn default() -> Self {
        Self {
            success: Duration::from_secs(5),
            delayed_success: Duration::from_secs(30),
            cancelled: Duration::from_secs(30),
            callback_retry: Duration::from_secs(5),
        }
    }
}

/// Paynow simulator settings.
#[derive(Debug, Clone)]
pub struct PaynowSimConfig {
    /// Integrations known to the simulator.
    pub integrations: Vec<PaynowIntegration>,
    /// Test-outcome timings.
    pub timings: PaynowTimings,
}

/// The integration used throughout Paynow's own documentation.
pub const DOC_INTEGRATION_ID: &str = "1201";
/// Its key.
pub const DOC_INTEGRATION_KEY: &str = "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977";
/// Its merchant login.
pub const DOC_MERCHANT_EMAIL: &str = "merchant@example.com";

impl Default for PaynowSimConfig {
    fn default() -> Self {
        Self {
            integrations: vec![PaynowIntegration {
                id: DOC_INTEGRATION_ID.to_owned(),
                key: DOC_INTEGRATION_KEY.to_owned(),
                test_mode: true,
                merchant_emails: vec![DOC_MERCHANT_EMAIL.to_owned()],
            }],
            timings: PaynowTimings::default(),
        }
    }
}

#[derive(Debug, Clone)]
struct Txn {
    integration: PaynowIntegration,
    reference: String,
    paynow_reference: String,
    amount: String,
    status: PaynowStatus,
    guid: String,
    result_url: String,
    merchant_trace: Option<String>,
}

/// Transactions the simulator has seen.
#[derive(Debug)]
pub(crate) struct PaynowSim {
    integrations: HashMap<String, PaynowIntegration>,
    txns: Mutex<HashMap<String, Txn>>,
    next_reference: AtomicU64,
}

impl PaynowSim {
    pub(crate) fn new(config: &PaynowSimConfig) -> Self {
        Self {
            integrations: config
                .integrations
                .iter()
                .map(|i| (i.id.clone(), i.clone()))
                .collect(),
            txns: Mutex::new(HashMap::new()),
            next_reference: AtomicU64::new(1001),
        }
    }
}

pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/interface/initiatetransaction", post(initiate_web))
        .route("/interface/remotetransaction", post(initiate_express))
        .route("/interface/trace", post(trace))
        .route(
            "/Interface/CheckPayment/",
            axum::routing::get(poll).post(poll),
        )
        .route(
            "/Payment/ConfirmPayment/{reference}",
            axum::routing::get(checkout_page).post(checkout_decide),
        )
}

fn error(text: &str) -> Response {
    let mut m = PaynowMessage::new();
    m.push("status", "Error").push("error", text);
    reply(m)
}

fn reply(message: PaynowMessage) -> Response {
    (
        [("content-type", "text/plain; charset=utf-8")],
        message.encode(),
    )
        .into_response()
}

fn valid_amount(amount: &str) -> bool {
    let (whole, frac) = match amount.split_once('.') {
        Some((_, "")) => return false,
        Some(parts) => parts,
        None => (amount, ""),
    };
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 2
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// Checks id, hash, required fields, amount and test-mode e-mail; returns the integration.
fn authenticate(
    sim: &Sim,
    message: &PaynowMessage,
    required: &[&'static str],
) -> Result<PaynowIntegration, String> {
    let id = message.get("id").unwrap_or_default().trim();
    let Some(integration) = sim.paynow.integrations.get(id) else {
        return Err("Invalid id.".to_owned());
    };
    let expected = hash_fields(message.fields(), &integration.key);
    let given = message.get("hash").unwrap_or_default().trim();
    if !given.eq_ignore_ascii_case(&expected) {
        return Err(format!(
            "Invalid Hash.  Hash should start with: {}",
            &expected[..6]
        ));
    }
    for field in required {
        if message.get(field).is_none_or(|v| v.trim().is_empty()) {
            return Err(format!("Missing required field: {field}"));
        }
    }
    if let Some(amount) = message.get("amount") {
        if !valid_amount(amount.trim()) {
            return Err("Invalid amount field".to_owned());
        }
    }
    if integration.test_mode {
        if let Some(email) = message.get("authemail").filter(|e| !e.trim().is_empty()) {
            // The Python SDK sends a web checkout's authemail pre-escaped (`%40`); read it the
            // way it was meant.
            let email = percent_decoded(email);
            let email = email.as_str();
            if !integration
                .merchant_emails
                .iter()
                .any(|m| m.eq_ignore_ascii_case(email.trim()))
            {
                return Err(
                    "The merchant is in testing mode: authemail must be the merchant's login e-mail"
                        .to_owned(),
                );
            }
        }
    }
    Ok(integration.clone())
}

/// One more round of form-decoding, for values an SDK escaped before sending.
fn percent_decoded(value: &str) -> String {
    if !value.contains('%') {
        return value.to_owned();
    }
    form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| value.to_owned())
}

fn new_txn(sim: &Sim, integration: PaynowIntegration, message: &PaynowMessage) -> Txn {
    let n = sim.paynow.next_reference.fetch_add(1, Ordering::Relaxed);
    Txn {
        integration,
        reference: message.get("reference").unwrap_or_default().to_owned(),
        paynow_reference: n.to_string(),
        amount: message.get("amount").unwrap_or_default().to_owned(),
        status: PaynowStatus::Created,
        guid: uuid::Uuid::now_v7().to_string(),
        result_url: message.get("resulturl").unwrap_or_default().to_owned(),
        merchant_trace: message.get("merchanttrace").map(str::to_owned),
    }
}

fn poll_url(sim: &Sim, guid: &str) -> String {
    format!(
        "{}/paynow/Interface/CheckPayment/?guid={guid}",
        sim.public_url
    )
}

async fn initiate_web(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let message = PaynowMessage::parse(&body);
    let required = ["reference", "amount", "returnurl", "resulturl", "status"];
    let integration = match authenticate(&sim, &message, &required) {
        Ok(i) => i,
        Err(text) => return error(&text),
    };
    let txn = new_txn(&sim, integration, &message);
    let mut out = PaynowMessage::new();
    out.push("status", "Ok")
        .push(
            "browserurl",
            format!(
                "{}/paynow/Payment/ConfirmPayment/{}",
                sim.public_url, txn.paynow_reference
            ),
        )
        .push("pollurl", poll_url(&sim, &txn.guid))
        .push("paynowreference", &txn.paynow_reference)
        .sign(&txn.integration.key);
    sim.paynow.txns.lock().insert(txn.guid.clone(), txn);
    reply(out)
}

/// The documented test phones and what they do.
enum TestPhone {
    Success,
    DelayedSuccess,
    Cancelled,
    InsufficientBalance,
}

fn test_phone(phone: &str) -> Option<TestPhone> {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let local = digits
        .strip_prefix("263")
        .map(|rest| format!("0{rest}"))
        .unwrap_or(digits);
    Some(match local.as_str() {
        "0771111111" => TestPhone::Success,
        "0772222222" => TestPhone::DelayedSuccess,
        "0773333333" => TestPhone::Cancelled,
        "0774444444" => TestPhone::InsufficientBalance,
        _ => return None,
    })
}

const METHODS: &[&str] = &["ecocash", "onemoney", "innbucks", "paygo", "omari"];

async fn initiate_express(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let message = PaynowMessage::parse(&body);
    let required = [
        "reference",
        "amount",
        "returnurl",
        "resulturl",
        "authemail",
        "method",
        "phone",
        "status",
    ];
    let integration = match authenticate(&sim, &message, &required) {
        Ok(i) => i,
        Err(text) => return error(&text),
    };
    let method = message
        .get("method")
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if !METHODS.contains(&method.as_str()) {
        return error(&format!(
            "Payment method {method} is not enabled for this integration"
        ));
    }
    let phone = message.get("phone").unwrap_or_default();
    let plan = match test_phone(phone) {
        Some(plan) => plan,
        None if integration.test_mode => {
            return error("Integration is in test mode: use one of the test phone numbers")
        }
        // A live integration: behave like the success test number.
        None => TestPhone::Success,
    };
    let timings = &sim.config.paynow.timings;
    let (delay, outcome) = match plan {
        TestPhone::InsufficientBalance => return error("Insufficient balance"),
        TestPhone::Success => (timings.success, PaynowStatus::Paid),
        TestPhone::DelayedSuccess => (timings.delayed_success, PaynowStatus::Paid),
        TestPhone::Cancelled => (timings.cancelled, PaynowStatus::Failed),
    };
    let mut txn = new_txn(&sim, integration, &message);
    txn.status = PaynowStatus::Sent;
    let mut out = PaynowMessage::new();
    out.push("status", "Ok");
    match method.as_str() {
        "innbucks" | "paygo" => {
            out.push(
                "authorizationcode",
                format!("{:09}", txn.paynow_reference.len() * 111_111),
            )
            .push("authorizationexpires", "1-Jan-2099 00:00");
        }
        _ => {
            out.push(
                "instructions",
                "Dial *151*2*7# and enter your PIN to approve the payment",
            );
        }
    }
    out.push("paynowreference", &txn.paynow_reference)
        .push("pollurl", poll_url(&sim, &txn.guid))
        .sign(&txn.integration.key);
    let guid = txn.guid.clone();
    sim.paynow.txns.lock().insert(guid.clone(), txn);
    let sim2 = sim.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        settle(&sim2, &guid, outcome).await;
    });
    reply(out)
}

/// The status message for a transaction, fields in the order Paynow sends them.
fn status_message(sim: &Sim, txn: &Txn) -> PaynowMessage {
    let mut m = PaynowMessage::new();
    m.push("reference", &txn.reference)
        .push("paynowreference", &txn.paynow_reference)
        .push("amount", &txn.amount)
        .push("status", txn.status.as_wire())
        .push("pollurl", poll_url(sim, &txn.guid))
        .sign(&txn.integration.key);
    m
}

/// Moves a transaction to `status` and POSTs the status update to its `resulturl`.
async fn settle(sim: &Sim, guid: &str, status: PaynowStatus) {
    let txn = {
        let mut txns = sim.paynow.txns.lock();
        let Some(txn) = txns.get_mut(guid) else {
            return;
        };
        txn.status = status;
        txn.clone()
    };
    let body = status_message(sim, &txn).encode();
    for attempt in 1..=10 {
        let sent = sim
            .callbacks
            .post(&txn.result_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::debug!(
                attempt,
                status = r.status().as_u16(),
                "paynow update refused"
            ),
            Err(error) => tracing::debug!(attempt, %error, "paynow update failed"),
        }
        tokio::time::sleep(sim.config.paynow.timings.callback_retry).await;
    }
}

async fn poll(
    State(sim): State<Arc<Sim>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let guid = query.get("guid").map(String::as_str).unwrap_or_default();
    let txn = sim.paynow.txns.lock().get(guid).cloned();
    match txn {
        Some(txn) => reply(status_message(&sim, &txn)),
        None => error("Invalid transaction"),
    }
}

async fn trace(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let message = PaynowMessage::parse(&body);
    let integration = match authenticate(&sim, &message, &["merchanttrace", "status"]) {
        Ok(i) => i,
        Err(text) => return error(&text),
    };
    let wanted = message.get("merchanttrace").unwrap_or_default();
    let found = sim
        .paynow
        .txns
        .lock()
        .values()
        .find(|t| t.integration.id == integration.id && t.merchant_trace.as_deref() == Some(wanted))
        .cloned();
    match found {
        Some(txn) => reply(status_message(&sim, &txn)),
        None => {
            let mut m = PaynowMessage::new();
            m.push("status", "NotFound").sign(&integration.key);
            reply(m)
        }
    }
}

fn find_by_reference(sim: &Sim, paynow_reference: &str) -> Option<Txn> {
    sim.paynow
        .txns
        .lock()
        .values()
        .find(|t| t.paynow_reference == paynow_reference)
        .cloned()
}

async fn checkout_page(State(sim): State<Arc<Sim>>, Path(reference): Path<String>) -> Response {
    let Some(txn) = find_by_reference(&sim, &reference) else {
        return (StatusCode::NOT_FOUND, "no such transaction").into_response();
    };
    let note = if txn.integration.test_mode {
        "[TESTING: Faked Success]"
    } else {
        ""
    };
    Html(format!(
        "<!doctype html><title>Paynow checkout</title><h1>Pay {amount} for {r}</h1><p>{note}</p>\
         <form method=post><button name=outcome value=paid>Pay</button>\
         <button name=outcome value=cancelled>Cancel</button></form>",
        amount = txn.amount,
        r = txn.reference,
    ))
    .into_response()
}

async fn checkout_decide(
    State(sim): State<Arc<Sim>>,
    Path(reference): Path<String>,
    body: Bytes,
) -> Response {
    let Some(txn) = find_by_reference(&sim, &reference) else {
        return (StatusCode::NOT_FOUND, "no such transaction").into_response();
    };
    let decision = PaynowMessage::parse(&body);
    let status = match decision.get("outcome") {
        Some("cancelled") => PaynowStatus::Cancelled,
        _ => PaynowStatus::Paid,
    };
    let sim2 = sim.clone();
    let guid = txn.guid.clone();
    tokio::spawn(async move { settle(&sim2, &guid, status).await });
    (StatusCode::SEE_OTHER, [("location", "/")]).into_response()
}

#[cfg(test)]
mod tests {
    use super::valid_amount;

    #[test]
    fn amounts_follow_paynow_rules() {
        for ok in ["10", "10.5", "10.50", "0.01"] {
            assert!(valid_amount(ok), "{ok}");
        }
        for bad in ["", "10.", "10.505", "$10", "-1", "1,000", "abc"] {
            assert!(!valid_amount(bad), "{bad}");
        }
    }
}
