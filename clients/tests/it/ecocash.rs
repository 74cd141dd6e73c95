//! EcoCash Open API client against the EcoCash simulator.

use crate::support::TEST_TIMEOUT;
use std::time::Duration;

use oneclass_clients::pay::ecocash::{
    EcocashClient, EcocashConfig, EcocashEnvironment, EcocashRefund,
};
use oneclass_clients::pay::{PaymentMethod, PaymentRequest, PaymentStatus, Wallet};
use oneclass_clients::sim::{
    EcocashTimings, Fault, SandboxConfig, SandboxHandle, SANDBOX_ECOCASH_KEY,
};
use oneclass_clients::{HttpSettings, Outcome, PaymentGateway, SystemClock, ZwMobile};

use crate::support::{fast_config, sandbox_with, Sink};

pub const LIVE_KEY: &str = "live-ecocash-key";

pub fn config(callback: Option<&str>) -> SandboxConfig {
    let mut config = fast_config();
    config.ecocash.callback_url = callback.map(str::to_owned);
    config.ecocash.live_keys = vec![LIVE_KEY.into()];
    config.ecocash.timings = EcocashTimings {
        approve: Duration::from_millis(50),
        delayed_approve: Duration::from_millis(300),
        decline: Duration::from_millis(100),
        callback_retry: Duration::from_millis(20),
    };
    config
}

fn client_with(sb: &SandboxHandle, key: &str, environment: EcocashEnvironment) -> EcocashClient {
    EcocashClient::new(
        EcocashConfig {
            base_url: format!("{}/api/ecocash_pay", sb.url("ecocash")),
            api_key: key.into(),
            environment,
            currency: "USD".into(),
            client_name: "OneClass Academy".into(),
        },
        &HttpSettings::with_timeout(TEST_TIMEOUT),
        SystemClock::shared(),
    )
    .unwrap()
}

fn client(sb: &SandboxHandle) -> EcocashClient {
    client_with(sb, SANDBOX_ECOCASH_KEY, EcocashEnvironment::Sandbox)
}

pub fn sandbox_client(sb: &SandboxHandle) -> EcocashClient {
    client(sb)
}

pub fn payment(reference: &str, phone: &str) -> PaymentRequest {
    PaymentRequest {
        reference: reference.into(),
        amount_cents: 12_550,
        description: "Term 1 fees".into(),
        payer_email: None,
        method: PaymentMethod::Mobile {
            wallet: Wallet::Ecocash,
            phone: ZwMobile::parse(phone).unwrap(),
        },
        merchant_trace: None,
    }
}

fn last_body(sb: &SandboxHandle) -> serde_json::Value {
    let requests = sb.recorder().requests("ecocash");
    serde_json::from_slice(&requests.last().unwrap().body).unwrap()
}

#[tokio::test]
async fn a_payment_is_prompted_settles_and_calls_back() {
    let mut sink = Sink::start().await;
    let sb = sandbox_with(config(Some(&sink.url))).await;
    let c = client(&sb);
    let outcome = c.initiate(&payment("FEES-17", "0771234567")).await;
    let Outcome::Sent(initiated) = outcome else {
        panic!("{outcome:?}")
    };
    let request = &sb.recorder().requests("ecocash")[0];
    assert_eq!(
        request.path,
        "/api/ecocash_pay/api/v2/payment/instant/c2b/sandbox"
    );
    assert_eq!(request.header("x-api-key"), Some(SANDBOX_ECOCASH_KEY));
    let body = last_body(&sb);
    assert_eq!(body["customerMsisdn"], "263771234567");
    assert_eq!(body["amount"], 125.5);
    assert_eq!(body["currency"], "USD");
    assert_eq!(body["reason"], "Term 1 fees");
    let source = body["sourceReference"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&source).is_ok());

    let hit = sink.next(Duration::from_secs(5)).await;
    assert_eq!(hit.method, "POST");
    let callback = c.parse_callback(&hit.body).unwrap();
    assert_eq!(callback.status, "SUCCESS");
    assert_eq!(callback.neutral, PaymentStatus::Paid);
    assert_eq!(callback.source_reference, source);

    let state = c.check(&initiated.poll_url).await;
    let state = state.sent().expect("looked up");
    assert_eq!(state.status, PaymentStatus::Paid);
    assert_eq!(state.reference, source);
    assert_eq!(state.amount, "125.50");
    assert!(state.provider_reference.starts_with("MP"));
    let lookup = last_body(&sb);
    assert_eq!(lookup["sourceMobileNumber"], "263771234567");
    assert_eq!(lookup["sourceReference"], source.as_str());
}

#[tokio::test]
async fn the_magic_numbers_decline_refuse_and_never_answer() {
    let mut sink = Sink::start().await;
    let sb = sandbox_with(config(Some(&sink.url))).await;
    let c = client(&sb);
    let declined = c.initiate(&payment("D", "0773333333")).await;
    let declined = declined.sent().expect("prompted").clone();
    let callback = c
        .parse_callback(&sink.next(Duration::from_secs(5)).await.body)
        .unwrap();
    assert_eq!(callback.neutral, PaymentStatus::Failed);
    assert_eq!(
        c.check(&declined.poll_url).await.sent().unwrap().status,
        PaymentStatus::Failed
    );

    assert_eq!(
        c.initiate(&payment("I", "0774444444")).await.class(),
        "drop_recipient",
        "insufficient funds"
    );

    let silent = c.initiate(&payment("S", "0775555555")).await;
    let silent = silent.sent().unwrap().clone();
    sink.quiet(Duration::from_millis(300)).await;
    let state = c.check(&silent.poll_url).await;
    assert_eq!(state.sent().unwrap().status, PaymentStatus::Pending);
    assert_eq!(state.sent().unwrap().provider_status, "PENDING");
}

#[tokio::test]
async fn keys_are_checked_per_environment() {
    let sb = sandbox_with(config(None)).await;
    let wrong = client_with(&sb, "nope", EcocashEnvironment::Sandbox);
    assert_eq!(
        wrong.initiate(&payment("K", "0771234567")).await.class(),
        "fix_config"
    );
    let live_on_sandbox = client_with(&sb, LIVE_KEY, EcocashEnvironment::Sandbox);
    assert_eq!(
        live_on_sandbox
            .initiate(&payment("K", "0771234567"))
            .await
            .class(),
        "fix_config"
    );
    let live = client_with(&sb, LIVE_KEY, EcocashEnvironment::Live);
    assert!(live
        .initiate(&payment("K", "0771234567"))
        .await
        .sent()
        .is_some());
    assert!(sb
        .recorder()
        .requests("ecocash")
        .last()
        .unwrap()
        .path
        .ends_with("/live"));
}

#[tokio::test]
async fn a_reference_is_used_once_and_only_ecocash_wallets_are_taken() {
    let sb = sandbox_with(config(None)).await;
    let c = client(&sb);
    assert!(c
        .initiate(&payment("ONCE", "0771234567"))
        .await
        .sent()
        .is_some());
    assert_eq!(
        c.initiate(&payment("ONCE", "0771234567")).await.class(),
        "fix_message",
        "same sourceReference again: 409"
    );
    let mut web = payment("W", "0771234567");
    web.method = PaymentMethod::Web;
    assert_eq!(c.initiate(&web).await.class(), "fix_message");
    assert_eq!(sb.recorder().requests("ecocash").len(), 2);
    assert!(matches!(
        c.lookup(
            &ZwMobile::parse("0771234567").unwrap(),
            "7d6f0a2e-0000-4000-8000-000000000000"
        )
        .await,
        Outcome::Sent(None)
    ));
}

#[tokio::test]
async fn a_paid_payment_can_be_refunded_once_and_never_beyond_its_amount() {
    let mut sink = Sink::start().await;
    let sb = sandbox_with(config(Some(&sink.url))).await;
    let c = client(&sb);
    let initiated = c.initiate(&payment("R", "0771234567")).await;
    let initiated = initiated.sent().unwrap().clone();
    sink.next(Duration::from_secs(5)).await;
    let paid = c.check(&initiated.poll_url).await.sent().unwrap().clone();
    let refund = |cents: u64, correlator: &str| EcocashRefund {
        original_ecocash_reference: paid.provider_reference.clone(),
        refund_correlator: correlator.into(),
        phone: ZwMobile::parse("0771234567").unwrap(),
        amount_cents: cents,
        reason: "Overpaid".into(),
    };
    assert_eq!(
        c.refund(&refund(20_000, "a4f7e0f8-8f0e-4f53-9a1e-0b7f7f6c0001"))
            .await
            .class(),
        "fix_message",
        "more than was paid"
    );
    let done = c
        .refund(&refund(12_550, "a4f7e0f8-8f0e-4f53-9a1e-0b7f7f6c0002"))
        .await;
    let receipt = done.sent().expect("refunded");
    assert_eq!(receipt.status, "COMPLETED");
    let body = last_body(&sb);
    assert_eq!(
        body["origionalEcocashTransactionReference"],
        paid.provider_reference.as_str()
    );
    assert_eq!(
        body["refundCorelator"],
        "a4f7e0f8-8f0e-4f53-9a1e-0b7f7f6c0002"
    );
    assert_eq!(body["sourceMobileNumber"], "263771234567");
    assert_eq!(body["clientName"], "OneClass Academy");
    assert_eq!(body["reasonForRefund"], "Overpaid");
    assert_eq!(
        sb.recorder().requests("ecocash").last().unwrap().path,
        "/api/ecocash_pay/api/v2/refund/instant/c2b/sandbox"
    );
    assert_eq!(
        c.refund(&refund(100, "a4f7e0f8-8f0e-4f53-9a1e-0b7f7f6c0003"))
            .await
            .class(),
        "fix_message",
        "nothing left to refund"
    );
    assert_eq!(
        c.check(&initiated.poll_url).await.sent().unwrap().status,
        PaymentStatus::Refunded
    );
}

#[tokio::test]
async fn callbacks_are_retried_until_the_merchant_accepts() {
    let mut sink = Sink::failing_first(2).await;
    let sb = sandbox_with(config(Some(&sink.url))).await;
    let c = client(&sb);
    assert!(c
        .initiate(&payment("CB", "0771234567"))
        .await
        .sent()
        .is_some());
    for _ in 0..3 {
        let hit = sink.next(Duration::from_secs(5)).await;
        assert_eq!(c.parse_callback(&hit.body).unwrap().status, "SUCCESS");
    }
    sink.quiet(Duration::from_millis(200)).await;
    assert!(c.parse_callback(b"not json").is_err());
}

#[tokio::test]
async fn throttling_server_errors_and_timeouts_are_retryable() {
    let sb = sandbox_with(config(None)).await;
    let c = client(&sb);
    sb.faults().push(
        "ecocash",
        Fault::Status {
            status: 429,
            retry_after: Some("30".into()),
            body: r#"{"message":"Too many requests"}"#.into(),
        },
    );
    match c.initiate(&payment("T", "0771234567")).await {
        Outcome::RetryAfter { after, .. } => assert_eq!(after, Duration::from_secs(30)),
        other => panic!("{other:?}"),
    }
    sb.faults().push(
        "ecocash",
        Fault::Status {
            status: 500,
            retry_after: None,
            body: String::new(),
        },
    );
    assert_eq!(
        c.initiate(&payment("T", "0771234567")).await.class(),
        "retry_backoff"
    );
    sb.faults().push("ecocash", Fault::Hang);
    let outcome = c.initiate(&payment("T", "0771234567")).await;
    assert!(
        matches!(&outcome, Outcome::RetryBackoff(d) if d.contains("timeout")),
        "{outcome:?}"
    );
}
