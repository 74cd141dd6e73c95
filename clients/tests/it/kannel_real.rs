//! Against a real Kannel (bearerbox + smsbox + fakesmsc) started by `scripts/kannel.sh`.
//! `ONECLASS_TEST_KANNEL` holds `http://127.0.0.1:PORT` of smsbox's sendsms interface;
//! `ONECLASS_TEST_KANNEL_USER` / `_PASS` its sendsms-user (default `tester` / `foobar`).

use std::time::Duration;

use oneclass_clients::sms::kannel::{self, parse_dlr, KannelConfig, DEFAULT_DLR_MASK};
use oneclass_clients::sms::{DeliveryState, SmsMessage};
use oneclass_clients::{HttpSettings, Outcome, SmsGateway, SystemClock, ZwMobile};

use crate::support::{peer, Sink};

#[tokio::test]
async fn real_kannel_accepts_a_message_and_its_delivery_report_reaches_our_callback() {
    let Some(base_url) = peer("ONECLASS_TEST_KANNEL", "Kannel (scripts/kannel.sh)") else {
        return;
    };
    let mut sink = Sink::start().await;
    let client = kannel::client(
        KannelConfig {
            base_url,
            username: std::env::var("ONECLASS_TEST_KANNEL_USER").unwrap_or("tester".into()),
            password: std::env::var("ONECLASS_TEST_KANNEL_PASS")
                .unwrap_or("foobar".into())
                .into(),
            sender: Some("ONECLASS".into()),
            dlr_url: Some(sink.url.clone()),
            dlr_mask: DEFAULT_DLR_MASK,
            smsc: None,
            hourly_rate_limit: None,
        },
        &HttpSettings::with_timeout(Duration::from_secs(5)),
        SystemClock::shared(),
    )
    .unwrap();
    let message = SmsMessage {
        to: ZwMobile::parse("0771234567").unwrap(),
        text: "Mhoro vabereki — Ŋombe".into(),
        reference: "real-kannel-1".into(),
        sender: None,
    };
    let outcome = client.send(&message).await;
    assert_eq!(outcome, Outcome::Sent("real-kannel-1".into()));
    let mut states = Vec::new();
    while !states.contains(&DeliveryState::Delivered) {
        let hit = sink.next(Duration::from_secs(10)).await;
        let report = parse_dlr(hit.uri.query().unwrap_or_default()).unwrap();
        assert_eq!(report.reference.as_deref(), Some("real-kannel-1"));
        assert_eq!(report.phone.as_deref(), Some("+263771234567"));
        states.push(report.state);
    }
    assert_eq!(states.first(), Some(&DeliveryState::AcceptedBySmsc));
}

#[tokio::test]
async fn real_kannel_refuses_a_wrong_password_as_a_configuration_error() {
    let Some(base_url) = peer("ONECLASS_TEST_KANNEL", "Kannel (scripts/kannel.sh)") else {
        return;
    };
    let client = kannel::client(
        KannelConfig {
            base_url,
            username: "tester".into(),
            password: "definitely-wrong".into(),
            sender: None,
            dlr_url: None,
            dlr_mask: DEFAULT_DLR_MASK,
            smsc: None,
            hourly_rate_limit: None,
        },
        &HttpSettings::with_timeout(Duration::from_secs(5)),
        SystemClock::shared(),
    )
    .unwrap();
    let outcome = client
        .send(&SmsMessage {
            to: ZwMobile::parse("0771234567").unwrap(),
            text: "x".into(),
            reference: "r".into(),
            sender: None,
        })
        .await;
    assert!(matches!(outcome, Outcome::FixConfig(_)), "{outcome:?}");
}
