//! EcoCash Open API simulator under `/ecocash/api/ecocash_pay`: C2B payment, lookup and refund,
//! each at `…/{sandbox|live}`, plus the status callback.
//!
//! It checks `X-API-KEY` (and that the key belongs to the environment in the path), the fields
//! EcoCash requires (a `263…` number, a positive amount, `USD` or `ZWG`, a UUID
//! `sourceReference` used once), settles payments by magic number after configurable delays,
//! POSTs the callback to the configured URL, and caps refunds at what was paid.

// Validation helpers return the finished error reply; a simulated request is handled once, so
// the size of `Result<_, Response>` costs nothing worth boxing for.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::sandbox::Sim;
use crate::pay::ecocash::wire::{
    CallbackBody, LookupBody, LookupReply, Money, PaymentBody, RefundBody, RefundReply,
};

/// Key the sandbox accepts for the `sandbox` environment out of the box.
pub const SANDBOX_ECOCASH_KEY: &str = "sandbox-ecocash-key";

/// How long the simulated payers take.
#[derive(Debug, Clone)]
pub struct EcocashTimings {
    /// Ordinary numbers and `263771111111`: approved after this.
    pub approve: Duration,
    /// `263772222222`: approved after this.
    pub delayed_approve: Duration,
    /// `263773333333`: declined after this.
    pub decline: Duration,
    /// Pause between callback attempts.
    pub callback_retry: Duration,
}

impl Default for EcocashTimings {
    fn default() -> Self {
        Self {
            approve: Duration::from_secs(3),
            delayed_approve: Duration::from_secs(30),
            decline: Duration::from_secs(10),
            callback_retry: Duration::from_secs(5),
        }
    }
}

/// EcoCash simulator settings.
#[derive(Debug, Clone)]
pub struct EcocashSimConfig {
    /// Keys valid for `/sandbox` paths.
    pub sandbox_keys: Vec<String>,
    /// Keys valid for `/live` paths.
    pub live_keys: Vec<String>,
    /// Where status callbacks go (EcoCash registers this per portal project; no callbacks when
    /// `None`).
    pub callback_url: Option<String>,
    /// Attempts per callback while the receiver answers non-2xx.
    pub callback_attempts: u32,
    /// Payer timings.
    pub timings: EcocashTimings,
    /// `clientMerchantCode` in refund replies.
    pub merchant_code: String,
    /// `clientMerchantNumber` in refund replies.
    pub merchant_number: String,
}

impl Default for EcocashSimConfig {
    fn default() -> Self {
        Self {
            sandbox_keys: vec![SANDBOX_ECOCASH_KEY.to_owned()],
            live_keys: Vec::new(),
            callback_url: None,
            callback_attempts: 5,
            timings: EcocashTimings::default(),
            merchant_code: "001535".to_owned(),
            merchant_number: "771999999".to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
struct Payment {
    env: String,
    source_reference: String,
    msisdn: String,
    amount: f64,
    currency: String,
    status: &'static str,
    ecocash_reference: String,
    at: String,
    refunded: f64,
}

/// Payments and refunds seen.
#[derive(Debug, Default)]
pub(crate) struct EcocashSim {
    payments: Mutex<HashMap<String, Payment>>,
    refund_correlators: Mutex<Vec<String>>,
    sequence: AtomicU64,
}

const BASE: &str = "/api/ecocash_pay";

pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route(
            &format!("{BASE}/api/v2/payment/instant/c2b/{{env}}"),
            post(pay),
        )
        .route(
            &format!("{BASE}/api/v1/transaction/c2b/status/{{env}}"),
            post(lookup),
        )
        .route(
            &format!("{BASE}/api/v2/refund/instant/c2b/{{env}}"),
            post(refund),
        )
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "code": status.as_u16(), "message": message })),
    )
        .into_response()
}

/// Checks the key against the environment; `Err` is the reply.
fn authorise(sim: &Sim, env: &str, headers: &HeaderMap) -> Result<(), Response> {
    let config = &sim.config.ecocash;
    let key = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (mine, other) = match env {
        "sandbox" => (&config.sandbox_keys, &config.live_keys),
        "live" => (&config.live_keys, &config.sandbox_keys),
        _ => return Err(error(StatusCode::NOT_FOUND, "Unknown environment")),
    };
    if mine.iter().any(|k| k == key) {
        Ok(())
    } else if other.iter().any(|k| k == key) {
        Err(error(
            StatusCode::FORBIDDEN,
            "This API key is not enabled for this environment",
        ))
    } else {
        Err(error(StatusCode::UNAUTHORIZED, "Invalid API key"))
    }
}

fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid request body: {e}"),
        )
    })
}

fn valid_msisdn(msisdn: &str) -> bool {
    msisdn.len() == 12 && msisdn.starts_with("2637") && msisdn.bytes().all(|b| b.is_ascii_digit())
}

fn valid_amount(amount: f64) -> bool {
    amount.is_finite() && amount > 0.0 && (amount * 100.0 - (amount * 100.0).round()).abs() < 1e-6
}

fn valid_currency(currency: &str) -> bool {
    matches!(currency, "USD" | "ZWG")
}

fn harare_now() -> time::OffsetDateTime {
    // Zimbabwe keeps UTC+2 all year.
    time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+2))
}

fn format(
    at: time::OffsetDateTime,
    description: &[time::format_description::BorrowedFormatItem<'_>],
) -> String {
    at.format(description).unwrap_or_default()
}

/// What a magic number does.
enum Plan {
    Approve(Duration),
    Decline(Duration),
    Never,
}

async fn pay(
    State(sim): State<Arc<Sim>>,
    Path(env): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    if let Err(r) = authorise(&sim, &env, &headers) {
        return r;
    }
    let request: PaymentBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !valid_msisdn(&request.customer_msisdn) {
        return error(
            StatusCode::BAD_REQUEST,
            "customerMsisdn must be a 263… mobile number",
        );
    }
    if !valid_amount(request.amount) {
        return error(StatusCode::BAD_REQUEST, "Invalid amount");
    }
    if !valid_currency(&request.currency) {
        return error(StatusCode::BAD_REQUEST, "Unsupported currency");
    }
    if uuid::Uuid::parse_str(&request.source_reference).is_err() {
        return error(StatusCode::BAD_REQUEST, "sourceReference must be a UUID");
    }
    let timings = &sim.config.ecocash.timings;
    let plan = match request.customer_msisdn.as_str() {
        "263772222222" => Plan::Approve(timings.delayed_approve),
        "263773333333" => Plan::Decline(timings.decline),
        "263774444444" => {
            return error(
                StatusCode::PAYMENT_REQUIRED,
                "Insufficient funds in the customer's wallet",
            )
        }
        "263775555555" => Plan::Never,
        _ => Plan::Approve(timings.approve),
    };
    let now = harare_now();
    let n = sim.ecocash.sequence.fetch_add(1, Ordering::Relaxed) % 100_000;
    let payment = Payment {
        env,
        source_reference: request.source_reference.to_ascii_lowercase(),
        msisdn: request.customer_msisdn.clone(),
        amount: request.amount,
        currency: request.currency.clone(),
        status: "PENDING",
        ecocash_reference: format!(
            "MP{}.A{n:05}",
            format(
                now,
                time::macros::format_description!(
                    "[year repr:last_two][month][day].[hour][minute]"
                )
            )
        ),
        at: format(
            now,
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        ),
        refunded: 0.0,
    };
    {
        let mut payments = sim.ecocash.payments.lock();
        if payments.contains_key(&payment.source_reference) {
            return error(StatusCode::CONFLICT, "Duplicate sourceReference");
        }
        payments.insert(payment.source_reference.clone(), payment.clone());
    }
    let (delay, status) = match plan {
        Plan::Approve(d) => (d, "SUCCESS"),
        Plan::Decline(d) => (d, "FAILED"),
        Plan::Never => return accepted(&payment),
    };
    let sim2 = sim.clone();
    let key = payment.source_reference.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        settle(&sim2, &key, status).await;
    });
    accepted(&payment)
}

/// The reply to a payment request. EcoCash documents only "200 OK"; the simulator adds the
/// references so a reader can correlate.
fn accepted(payment: &Payment) -> Response {
    Json(json!({
        "sourceReference": payment.source_reference,
        "ecocashReference": payment.ecocash_reference,
        "transactionStatus": payment.status,
    }))
    .into_response()
}

async fn settle(sim: &Sim, source_reference: &str, status: &'static str) {
    let payment = {
        let mut payments = sim.ecocash.payments.lock();
        let Some(payment) = payments.get_mut(source_reference) else {
            return;
        };
        payment.status = status;
        payment.clone()
    };
    let Some(url) = sim.config.ecocash.callback_url.clone() else {
        return;
    };
    let callback = CallbackBody {
        transaction_operation_status: status.to_owned(),
        client_reference: payment.source_reference,
        ecocash_reference: Some(payment.ecocash_reference),
    };
    for attempt in 1..=sim.config.ecocash.callback_attempts {
        match sim.callbacks.post(&url).json(&callback).send().await {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::debug!(
                attempt,
                status = r.status().as_u16(),
                "ecocash callback refused"
            ),
            Err(error) => tracing::debug!(attempt, %error, "ecocash callback failed"),
        }
        tokio::time::sleep(sim.config.ecocash.timings.callback_retry).await;
    }
}

async fn lookup(
    State(sim): State<Arc<Sim>>,
    Path(env): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    if let Err(r) = authorise(&sim, &env, &headers) {
        return r;
    }
    let request: LookupBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let found = sim
        .ecocash
        .payments
        .lock()
        .get(&request.source_reference.to_ascii_lowercase())
        .filter(|p| p.msisdn == request.source_mobile_number && p.env == env)
        .cloned();
    let Some(p) = found else {
        return error(StatusCode::NOT_FOUND, "Transaction not found");
    };
    Json(LookupReply {
        amount: Money {
            amount: p.amount,
            currency: p.currency,
        },
        customer_msisdn: p.msisdn,
        reference: p.source_reference,
        ecocash_reference: Some(p.ecocash_reference),
        status: p.status.to_owned(),
        transaction_date_time: Some(p.at),
    })
    .into_response()
}

async fn refund(
    State(sim): State<Arc<Sim>>,
    Path(env): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    if let Err(r) = authorise(&sim, &env, &headers) {
        return r;
    }
    let request: RefundBody = match body(&bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !valid_amount(request.amount) || !valid_currency(&request.currency) {
        return error(StatusCode::BAD_REQUEST, "Invalid amount or currency");
    }
    if request.refund_correlator.trim().is_empty() || request.client_name.trim().is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "refundCorelator and clientName are required",
        );
    }
    let original = request.original_reference.to_ascii_lowercase();
    let mut payments = sim.ecocash.payments.lock();
    let Some(payment) = payments.values_mut().find(|p| {
        p.env == env
            && (p
                .ecocash_reference
                .eq_ignore_ascii_case(&request.original_reference)
                || p.source_reference == original)
    }) else {
        return error(StatusCode::NOT_FOUND, "Original transaction not found");
    };
    if payment.msisdn != request.source_mobile_number {
        return error(
            StatusCode::BAD_REQUEST,
            "sourceMobileNumber does not match the original transaction",
        );
    }
    if payment.status != "SUCCESS" {
        return error(
            StatusCode::CONFLICT,
            "Original transaction is not eligible for a refund",
        );
    }
    if request.amount > payment.amount - payment.refunded + 1e-9 {
        return error(
            StatusCode::BAD_REQUEST,
            "Refund amount exceeds the original transaction",
        );
    }
    {
        let mut correlators = sim.ecocash.refund_correlators.lock();
        if correlators.contains(&request.refund_correlator) {
            return error(StatusCode::CONFLICT, "Duplicate refundCorelator");
        }
        correlators.push(request.refund_correlator.clone());
    }
    payment.refunded += request.amount;
    if payment.amount - payment.refunded < 1e-9 {
        payment.status = "REFUNDED";
    }
    let now = harare_now();
    let n = sim.ecocash.sequence.fetch_add(1, Ordering::Relaxed) % 100_000;
    let day = format(
        now,
        time::macros::format_description!("[day]-[month]-[year]"),
    );
    let config = &sim.config.ecocash;
    Json(RefundReply {
        source_reference: Some(request.refund_correlator),
        transaction_end_time: Some(day.clone()),
        callback_url: config.callback_url.clone(),
        destination_reference_code: Some(payment.source_reference.clone()),
        source_mobile_number: Some(request.source_mobile_number),
        transaction_status: Some("COMPLETED".to_owned()),
        amount: Some(request.amount),
        destination_ecocash_reference: Some(payment.ecocash_reference.clone()),
        client_merchant_code: Some(config.merchant_code.clone()),
        client_merchant_number: Some(config.merchant_number.clone()),
        client_transaction_date: Some(day),
        description: Some(request.reason_for_refund),
        response_message: Some("COMPLETED".to_owned()),
        currency: Some(request.currency),
        payment_amount: Some(request.amount),
        ecocash_reference: Some(format!(
            "RF{}.A{n:05}",
            format(
                now,
                time::macros::format_description!(
                    "[year repr:last_two][month][day].[hour][minute]"
                )
            )
        )),
        transaction_start_time: Some(format(
            now,
            time::macros::format_description!("[hour]:[minute]"),
        )),
    })
    .into_response()
}
