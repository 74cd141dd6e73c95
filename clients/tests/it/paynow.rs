use crate::support::TEST_TIMEOUT;
use std::time::Duration;

use oneclass_clients::pay::paynow::{PaynowClient, PaynowConfig, PaynowMessage, PaynowStatus};
use oneclass_clients::pay::{PaymentMethod, PaymentRequest, PaymentStatus, Wallet};
use oneclass_clients::sim::{Fault, SandboxHandle};
use oneclass_clients::{HttpSettings, Outcome, PaymentGateway, SystemClock, ZwMobile};

use crate::support::{sandbox, Sink};

pub const ID: &str = "1201";
pub const KEY: &str = "3e9fed89-60e1-4ce5-ab6e-6b1eb2d4f977";
pub const MERCHANT: &str = "merchant@example.com";

fn client_with(sb: &SandboxHandle, id: &str, key: &str, result_url: &str) -> PaynowClient {
    PaynowClient::new(
        PaynowConfig {
            base_url: sb.url("paynow"),
            integration_id: id.into(),
            integration_key: key.into(),
            result_url: result_url.into(),
            return_url: "http://school.example/return".into(),
            default_auth_email: Some(MERCHANT.into()),
        },
        &HttpSettings::with_timeout(TEST_TIMEOUT),
        SystemClock::shared(),
    )
    .unwrap()
}

fn client(sb: &SandboxHandle, result_url: &str) -> PaynowClient {
    client_with(sb, ID, KEY, result_url)
}

fn express(phone: &str) -> PaymentRequest {
    PaymentRequest {
        reference: "FEES 2025/T1 #17".into(),
        amount_cents: 12_550,
        description: "Term 1 fees".into(),
        payer_email: None,
        method: PaymentMethod::Mobile {
            wallet: Wallet::Ecocash,
            phone: ZwMobile::parse(phone).unwrap(),
        },
        merchant_trace: Some(format!("trace-{phone}")),
    }
}

fn web() -> PaymentRequest {
    PaymentRequest {
        method: PaymentMethod::Web,
        merchant_trace: None,
        ..express("0771111111")
    }
}

#[tokio::test]
async fn web_checkout_returns_verified_urls_and_paying_sends_a_signed_status_update() {
    let sb = sandbox().await;
    let mut sink = Sink::start().await;
    let c = client(&sb, &sink.url);
    let started = c.initiate(&web()).await;
    let Outcome::Sent(initiated) = started else {
        panic!("{started:?}")
    };
    let browser = initiated.redirect_url.clone().unwrap();
    assert!(browser.contains("/paynow/Payment/ConfirmPayment/"));
    let sent = sb.recorder().requests("paynow")[0].form();
    assert_eq!(sent[0], ("id".into(), "1201".into()));
    assert!(sent.contains(&("amount".into(), "125.50".into())));
    assert_eq!(sent.last().unwrap().0, "hash");

    let before = c.check(&initiated.poll_url).await;
    assert_eq!(before.sent().unwrap().status, PaymentStatus::Pending);

    let page = reqwest::get(&browser).await.unwrap().text().await.unwrap();
    assert!(page.contains("[TESTING: Faked Success]"));
    reqwest::Client::new()
        .post(&browser)
        .form(&[("outcome", "paid")])
        .send()
        .await
        .unwrap();
    let hit = sink.next(Duration::from_secs(5)).await;
    assert_eq!(hit.method, "POST");
    let update = c.parse_status_update(&hit.body).unwrap();
    assert_eq!(update.status, PaynowStatus::Paid);
    assert_eq!(update.reference, "FEES 2025/T1 #17");
    assert_eq!(update.amount, "125.50");
    let after = c.check(&initiated.poll_url).await;
    assert_eq!(after.sent().unwrap().status, PaymentStatus::Paid);
}

#[tokio::test]
async fn express_checkout_with_the_success_test_number_is_paid_and_reported() {
    let sb = sandbox().await;
    let mut sink = Sink::start().await;
    let c = client(&sb, &sink.url);
    let outcome = c.initiate(&express("0771111111")).await;
    let initiated = outcome.sent().expect("initiated").clone();
    assert!(initiated.redirect_url.is_none());
    assert!(initiated.instructions.unwrap().contains("*151*"));
    let sent = sb.recorder().requests("paynow")[0].form();
    assert!(sent.contains(&("phone".into(), "0771111111".into())));
    assert!(sent.contains(&("method".into(), "ecocash".into())));
    assert!(sent.contains(&("authemail".into(), MERCHANT.into())));
    let update = c
        .parse_status_update(&sink.next(Duration::from_secs(5)).await.body)
        .unwrap();
    assert_eq!(update.status, PaynowStatus::Paid);
    assert_eq!(
        update.paynow_reference,
        initiated.provider_reference.unwrap()
    );
}

#[tokio::test]
async fn the_delayed_test_number_pays_later_and_the_cancel_number_fails() {
    let sb = sandbox().await;
    let mut sink = Sink::start().await;
    let c = client(&sb, &sink.url);
    let delayed = c
        .initiate(&express("0772222222"))
        .await
        .sent()
        .unwrap()
        .clone();
    let cancelled = c
        .initiate(&express("0773333333"))
        .await
        .sent()
        .unwrap()
        .clone();
    assert_eq!(
        c.check(&delayed.poll_url)
            .await
            .sent()
            .unwrap()
            .provider_status,
        "Sent"
    );
    let first = c
        .parse_status_update(&sink.next(Duration::from_secs(5)).await.body)
        .unwrap();
    assert_eq!(first.status, PaynowStatus::Failed, "the cancel comes first");
    let second = c
        .parse_status_update(&sink.next(Duration::from_secs(5)).await.body)
        .unwrap();
    assert_eq!(second.status, PaynowStatus::Paid);
    assert_eq!(
        c.check(&cancelled.poll_url).await.sent().unwrap().status,
        PaymentStatus::Failed
    );
}

#[tokio::test]
async fn the_insufficient_balance_number_fails_at_once_without_a_hash() {
    let sb = sandbox().await;
    let outcome = client(&sb, "http://127.0.0.1:9/cb")
        .initiate(&express("0774444444"))
        .await;
    assert_eq!(
        outcome,
        Outcome::DropRecipient("Insufficient balance".into())
    );
}

#[tokio::test]
async fn a_wrong_key_an_unknown_id_and_a_foreign_payer_email_are_configuration_errors() {
    let sb = sandbox().await;
    let wrong_key = client_with(
        &sb,
        ID,
        "00000000-0000-0000-0000-000000000000",
        "http://x/cb",
    )
    .initiate(&web())
    .await;
    match wrong_key {
        Outcome::FixConfig(e) => assert!(e.starts_with("Invalid Hash"), "{e}"),
        other => panic!("{other:?}"),
    }
    let unknown = client_with(&sb, "999", KEY, "http://x/cb")
        .initiate(&web())
        .await;
    assert!(matches!(unknown, Outcome::FixConfig(_)), "{unknown:?}");
    let foreign = client(&sb, "http://x/cb")
        .initiate(&PaymentRequest {
            payer_email: Some("parent@example.org".into()),
            ..web()
        })
        .await;
    assert!(matches!(foreign, Outcome::FixConfig(_)), "{foreign:?}");
    let real_phone = client(&sb, "http://x/cb")
        .initiate(&express("0775123456"))
        .await;
    assert!(
        matches!(real_phone, Outcome::FixConfig(_)),
        "{real_phone:?}"
    );
}

#[tokio::test]
async fn a_tampered_status_update_is_rejected() {
    let sb = sandbox().await;
    let c = client(&sb, "http://x/cb");
    let mut m = PaynowMessage::new();
    m.push("reference", "R1")
        .push("amount", "10.00")
        .push("paynowreference", "1,082")
        .push("pollurl", "http://x/poll")
        .push("status", "Paid")
        .sign(KEY);
    let body = m.encode();
    assert_eq!(
        c.parse_status_update(body.as_bytes())
            .unwrap()
            .paynow_reference,
        "1,082"
    );
    let tampered = body.replace("10.00", "1000.00");
    assert!(c.parse_status_update(tampered.as_bytes()).is_err());
    let unsigned = "reference=R1&amount=10.00&paynowreference=1&status=Paid";
    assert!(c.parse_status_update(unsigned.as_bytes()).is_err());
}

#[tokio::test]
async fn status_updates_are_retried_until_the_merchant_accepts_them() {
    let sb = sandbox().await;
    let mut sink = Sink::failing_first(2).await;
    let c = client(&sb, &sink.url);
    c.initiate(&express("0771111111")).await.sent().unwrap();
    let mut bodies = Vec::new();
    for _ in 0..3 {
        bodies.push(sink.next(Duration::from_secs(5)).await.body);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "same update each time"
    );
    sink.quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn trace_finds_a_payment_by_merchant_trace_and_says_when_it_does_not_exist() {
    let sb = sandbox().await;
    let c = client(&sb, "http://127.0.0.1:9/cb");
    c.initiate(&express("0772222222")).await.sent().unwrap();
    let found = c.trace("trace-0772222222").await;
    let update = found.sent().unwrap().clone().unwrap();
    assert_eq!(update.reference, "FEES 2025/T1 #17");
    assert_eq!(c.trace("never-used").await, Outcome::Sent(None));
}

#[tokio::test]
async fn a_reply_whose_hash_does_not_verify_is_not_trusted() {
    let sb = sandbox().await;
    sb.faults().push(
        "paynow",
        Fault::Status {
            status: 200,
            retry_after: None,
            body: "status=Ok&pollurl=http%3a%2f%2fevil%2fpoll&hash=ABCDEF".into(),
        },
    );
    let outcome = client(&sb, "http://x/cb").initiate(&web()).await;
    assert!(matches!(outcome, Outcome::FixConfig(_)), "{outcome:?}");
}

#[tokio::test]
async fn an_overloaded_paynow_is_retried_after_its_stated_delay_and_timeouts_back_off() {
    let sb = sandbox().await;
    let c = client(&sb, "http://x/cb");
    sb.faults().push(
        "paynow",
        Fault::Status {
            status: 503,
            retry_after: Some("7".into()),
            body: String::new(),
        },
    );
    match c.initiate(&web()).await {
        Outcome::RetryAfter { after, .. } => assert_eq!(after, Duration::from_secs(7)),
        other => panic!("{other:?}"),
    }
    sb.faults().push(
        "paynow",
        Fault::Status {
            status: 500,
            retry_after: None,
            body: String::new(),
        },
    );
    assert!(matches!(c.initiate(&web()).await, Outcome::RetryBackoff(_)));
    sb.faults().push("paynow", Fault::Hang);
    let timed_out = c.initiate(&web()).await;
    assert!(
        matches!(&timed_out, Outcome::RetryBackoff(d) if d.contains("timeout")),
        "{timed_out:?}"
    );
}

#[tokio::test]
async fn an_invalid_amount_blames_the_message() {
    let sb = sandbox().await;
    let url = format!("{}/interface/initiatetransaction", sb.url("paynow"));
    let mut m = PaynowMessage::new();
    m.push("id", ID)
        .push("reference", "R")
        .push("amount", "10.505")
        .push("returnurl", "http://x")
        .push("resulturl", "http://x")
        .push("status", "Message")
        .sign(KEY);
    let body = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(m.encode())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let reply = PaynowMessage::parse(body.as_bytes());
    assert_eq!(reply.get("status"), Some("Error"));
    assert_eq!(reply.get("error"), Some("Invalid amount field"));
    assert_eq!(reply.get("hash"), None);
}
