use crate::support::{SHORT_TIMEOUT, TEST_TIMEOUT};
use std::time::{Duration, SystemTime};

use oneclass_clients::sim::{Fault, SandboxHandle};
use oneclass_clients::sms::kannel::{self, parse_dlr, KannelConfig, DEFAULT_DLR_MASK};
use oneclass_clients::sms::{DeliveryState, HttpSmsClient, SmsMessage};
use oneclass_clients::{HttpSettings, Outcome, SmsGateway, SystemClock, ZwMobile};

use crate::support::{sandbox, Sink};

fn client(sb: &SandboxHandle, password: &str, dlr_url: Option<&str>) -> HttpSmsClient {
    client_with_timeout(sb, password, dlr_url, TEST_TIMEOUT)
}

fn client_with_timeout(
    sb: &SandboxHandle,
    password: &str,
    dlr_url: Option<&str>,
    timeout: Duration,
) -> HttpSmsClient {
    kannel::client(
        KannelConfig {
            base_url: sb.url("kannel"),
            username: "sandbox".into(),
            password: password.into(),
            sender: Some("ONECLASS".into()),
            dlr_url: dlr_url.map(str::to_owned),
            dlr_mask: DEFAULT_DLR_MASK,
            smsc: None,
            hourly_rate_limit: None,
        },
        &HttpSettings::with_timeout(timeout),
        SystemClock::shared(),
    )
    .unwrap()
}

fn sms(to: &str, text: &str) -> SmsMessage {
    SmsMessage {
        to: ZwMobile::parse(to).unwrap(),
        text: text.into(),
        reference: "att-42".into(),
        sender: None,
    }
}

async fn dlr_states(sink: &mut Sink, n: usize) -> Vec<DeliveryState> {
    let mut states = Vec::new();
    for _ in 0..n {
        let hit = sink.next(Duration::from_secs(5)).await;
        assert_eq!(hit.method, "GET", "Kannel reports with GET");
        let report = parse_dlr(hit.uri.query().unwrap()).unwrap();
        assert_eq!(report.reference.as_deref(), Some("att-42"));
        states.push(report.state);
    }
    states
}

#[tokio::test]
async fn a_message_is_accepted_and_its_delivery_reports_come_back_through_the_dlr_url() {
    let sb = sandbox().await;
    let mut sink = Sink::start().await;
    let outcome = client(&sb, "sandbox", Some(&sink.url))
        .send(&sms("0771234567", "Mhoro vabereki"))
        .await;
    assert_eq!(outcome, Outcome::Sent("att-42".into()));
    let mut reports = Vec::new();
    for _ in 0..2 {
        let hit = sink.next(Duration::from_secs(5)).await;
        assert_eq!(hit.method, "GET");
        reports.push(parse_dlr(hit.uri.query().unwrap()).unwrap());
    }
    assert_eq!(
        reports.iter().map(|r| r.state).collect::<Vec<_>>(),
        [DeliveryState::AcceptedBySmsc, DeliveryState::Delivered]
    );
    let last = &reports[1];
    assert_eq!(last.reference.as_deref(), Some("att-42"));
    assert_eq!(last.phone.as_deref(), Some("+263771234567"));
    assert!(last.provider_id.is_some());
    assert!(last.at.unwrap() <= SystemTime::now());
    let sent = sb.sms_outbox();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].text, "Mhoro vabereki");
    assert_eq!(sent[0].from, "ONECLASS");
    let query = sb.recorder().requests("kannel")[0].query_pairs();
    assert!(query.contains(&("dlr-mask".into(), "31".into())));
    assert!(query.contains(&("coding".into(), "0".into())));
}

#[tokio::test]
async fn text_outside_gsm7_is_sent_as_ucs2_and_arrives_intact() {
    let sb = sandbox().await;
    let text = "Ŋombe dzose dzakadzoka 🎉 — Ndebele: Sawubona";
    let outcome = client(&sb, "sandbox", None)
        .send(&sms("0771234567", text))
        .await;
    assert!(matches!(outcome, Outcome::Sent(_)), "{outcome:?}");
    assert_eq!(sb.sms_outbox()[0].text, text);
    let query = sb.recorder().requests("kannel")[0].query_pairs();
    assert!(query.contains(&("coding".into(), "2".into())));
    assert!(query.contains(&("charset".into(), "UTF-8".into())));
    assert!(!query.iter().any(|(k, _)| k == "dlr-url"));
}

#[tokio::test]
async fn a_number_that_never_delivers_gets_an_undelivered_report() {
    let sb = sandbox().await;
    let mut sink = Sink::start().await;
    let outcome = client(&sb, "sandbox", Some(&sink.url))
        .send(&sms("+263779999001", "hello"))
        .await;
    assert!(matches!(outcome, Outcome::Sent(_)));
    assert_eq!(
        dlr_states(&mut sink, 2).await,
        [DeliveryState::AcceptedBySmsc, DeliveryState::Undelivered]
    );
}

#[tokio::test]
async fn a_switched_off_phone_is_reported_buffered_and_never_final() {
    let sb = sandbox().await;
    let mut sink = Sink::start().await;
    client(&sb, "sandbox", Some(&sink.url))
        .send(&sms("+263779999003", "hello"))
        .await;
    let states = dlr_states(&mut sink, 2).await;
    assert_eq!(states[1], DeliveryState::Buffered);
    assert!(!states[1].is_final());
    sink.quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_barred_number_is_dropped() {
    let sb = sandbox().await;
    let outcome = client(&sb, "sandbox", None)
        .send(&sms("+263779999002", "hello"))
        .await;
    assert!(matches!(outcome, Outcome::DropRecipient(_)), "{outcome:?}");
}

#[tokio::test]
async fn a_wrong_password_is_a_configuration_error() {
    let sb = sandbox().await;
    let outcome = client(&sb, "wrong", None)
        .send(&sms("0771234567", "hello"))
        .await;
    assert!(matches!(outcome, Outcome::FixConfig(_)), "{outcome:?}");
    assert!(sb.sms_outbox().is_empty());
}

#[tokio::test]
async fn a_temporal_failure_honours_retry_after_in_both_forms() {
    let sb = sandbox().await;
    let c = client(&sb, "sandbox", None);
    sb.faults().push(
        "kannel",
        Fault::Status {
            status: 503,
            retry_after: Some("120".into()),
            body: "Temporal failure, try again later.".into(),
        },
    );
    match c.send(&sms("0771234567", "x")).await {
        Outcome::RetryAfter { after, .. } => assert_eq!(after, Duration::from_secs(120)),
        other => panic!("{other:?}"),
    }
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(90));
    sb.faults().push(
        "kannel",
        Fault::Status {
            status: 503,
            retry_after: Some(at),
            body: String::new(),
        },
    );
    match c.send(&sms("0771234567", "x")).await {
        Outcome::RetryAfter { after, .. } => {
            assert!(
                after > Duration::from_secs(85) && after <= Duration::from_secs(90),
                "{after:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    sb.faults().push(
        "kannel",
        Fault::Status {
            status: 503,
            retry_after: None,
            body: String::new(),
        },
    );
    assert!(matches!(
        c.send(&sms("0771234567", "x")).await,
        Outcome::RetryBackoff(_)
    ));
}

#[tokio::test]
async fn a_server_error_backs_off_and_a_bad_request_blames_the_message() {
    let sb = sandbox().await;
    let c = client(&sb, "sandbox", None);
    sb.faults().push(
        "kannel",
        Fault::Status {
            status: 500,
            retry_after: None,
            body: "boom".into(),
        },
    );
    assert!(matches!(
        c.send(&sms("0771234567", "x")).await,
        Outcome::RetryBackoff(_)
    ));
    sb.faults().push(
        "kannel",
        Fault::Status {
            status: 400,
            retry_after: None,
            body: "Invalid UDH".into(),
        },
    );
    assert!(matches!(
        c.send(&sms("0771234567", "x")).await,
        Outcome::FixMessage(_)
    ));
}

#[tokio::test]
async fn a_gateway_that_never_answers_times_out_into_backoff() {
    let sb = sandbox().await;
    sb.faults().push("kannel", Fault::Hang);
    let started = std::time::Instant::now();
    let outcome = client_with_timeout(&sb, "sandbox", None, SHORT_TIMEOUT)
        .send(&sms("0771234567", "x"))
        .await;
    match outcome {
        Outcome::RetryBackoff(detail) => assert!(detail.contains("timeout"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn an_empty_text_is_refused_before_any_request() {
    let sb = sandbox().await;
    let outcome = client(&sb, "sandbox", None)
        .send(&sms("0771234567", ""))
        .await;
    assert!(matches!(outcome, Outcome::FixMessage(_)));
    assert!(sb.recorder().requests("kannel").is_empty());
}
