use crate::support::{SHORT_TIMEOUT, TEST_TIMEOUT};
use std::time::{Duration, SystemTime};

use oneclass_clients::sim::{Fault, SandboxHandle};
use oneclass_clients::sms::econet::{self, EconetConfig};
use oneclass_clients::sms::telone::{self, TeloneConfig};
use oneclass_clients::sms::{HttpSmsClient, SmsMessage};
use oneclass_clients::{HttpSettings, Outcome, SmsGateway, SystemClock, ZwMobile};

use crate::support::{fast_config, sandbox, sandbox_with};

fn settings() -> HttpSettings {
    HttpSettings::with_timeout(TEST_TIMEOUT)
}

fn telone(sb: &SandboxHandle, password: &str, sender: &str) -> HttpSmsClient {
    telone::client(
        TeloneConfig {
            api_url: sb.url("telone"),
            username: "sandbox".into(),
            password: password.into(),
            sender_id: sender.into(),
            rate_limit: Some(1000),
        },
        &settings(),
        SystemClock::shared(),
    )
    .unwrap()
}

fn econet(sb: &SandboxHandle, key: &str) -> HttpSmsClient {
    econet_with(sb, key, settings())
}

fn econet_with(sb: &SandboxHandle, key: &str, settings: HttpSettings) -> HttpSmsClient {
    econet::client(
        EconetConfig {
            api_url: sb.url("econet"),
            api_key: key.into(),
            sender_id: "ONECLASS".into(),
            rate_limit: Some(500),
        },
        &settings,
        SystemClock::shared(),
    )
    .unwrap()
}

fn sms(to: &str, text: &str) -> SmsMessage {
    SmsMessage {
        to: ZwMobile::parse(to).unwrap(),
        text: text.into(),
        reference: "att-7".into(),
        sender: None,
    }
}

const SHONA: &str = "Vabereki, mubhadharo wezvidzidzo unofanira kubhadharwa neChishanu.";
const NDEBELE_OLD: &str = "Abazali: umhlangano ngoMgqibelo — ŋ";

#[tokio::test]
async fn telone_accepts_shona_and_ndebele_text_and_returns_its_message_id() {
    let sb = sandbox().await;
    let client = telone(&sb, "sandbox", "ONECLASS");
    assert_eq!(client.provider(), "telone");
    assert_eq!(client.hourly_rate_limit(), Some(1000));
    for text in [SHONA, NDEBELE_OLD] {
        let outcome = client.send(&sms("0712345678", text)).await;
        let id = outcome.sent().expect("sent").clone();
        assert!(id.starts_with("TL"), "{id}");
    }
    let out = sb.sms_outbox();
    assert_eq!(out[0].text, SHONA);
    assert_eq!(out[1].text, NDEBELE_OLD);
    assert_eq!(out[0].to, "263712345678");
    let bodies: Vec<serde_json::Value> = sb
        .recorder()
        .requests("telone")
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(bodies[0]["encoding"], "GSM7");
    assert_eq!(bodies[1]["encoding"], "UCS2");
}

#[tokio::test]
async fn telone_classifies_each_error_reply() {
    let sb = sandbox().await;
    let bad_password = telone(&sb, "nope", "ONECLASS")
        .send(&sms("0712345678", "hi"))
        .await;
    assert!(
        matches!(bad_password, Outcome::FixConfig(_)),
        "{bad_password:?}"
    );
    let bad_sender = telone(&sb, "sandbox", "A-VERY-LONG-SENDER")
        .send(&sms("0712345678", "hi"))
        .await;
    assert!(
        matches!(bad_sender, Outcome::FixConfig(_)),
        "{bad_sender:?}"
    );
    let client = telone(&sb, "sandbox", "ONECLASS");
    let barred = client.send(&sms("+263779999002", "hi")).await;
    assert!(matches!(barred, Outcome::DropRecipient(_)), "{barred:?}");
    let too_long = client.send(&sms("0712345678", &"a".repeat(1000))).await;
    assert!(matches!(too_long, Outcome::FixMessage(_)), "{too_long:?}");
    sb.faults().push(
        "telone",
        Fault::Status {
            status: 502,
            retry_after: None,
            body: "<html>bad gateway</html>".into(),
        },
    );
    let upstream = client.send(&sms("0712345678", "hi")).await;
    assert!(matches!(upstream, Outcome::RetryBackoff(_)), "{upstream:?}");
}

#[tokio::test]
async fn telone_over_its_hourly_limit_says_when_to_retry_in_seconds() {
    let mut config = fast_config();
    config.sms.telone_rate_limit = 2;
    let sb = sandbox_with(config).await;
    let client = telone(&sb, "sandbox", "ONECLASS");
    for _ in 0..2 {
        assert!(client.send(&sms("0712345678", "hi")).await.sent().is_some());
    }
    match client.send(&sms("0712345678", "hi")).await {
        Outcome::RetryAfter { after, .. } => {
            assert!(after > Duration::from_secs(3500) && after <= Duration::from_secs(3600))
        }
        other => panic!("{other:?}"),
    }
    let header = sb.recorder().requests("telone").len();
    assert_eq!(header, 3);
}

#[tokio::test]
async fn telone_that_never_answers_times_out_into_backoff() {
    let sb = sandbox().await;
    sb.faults().push("telone", Fault::Hang);
    let outcome = telone(&sb, "sandbox", "ONECLASS")
        .send(&sms("0712345678", "hi"))
        .await;
    assert!(
        matches!(&outcome, Outcome::RetryBackoff(d) if d.contains("timeout")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn econet_sends_with_its_api_key_and_returns_the_gateway_id() {
    let sb = sandbox().await;
    let outcome = econet(&sb, "sandbox-econet-key")
        .send(&sms("0772345678", SHONA))
        .await;
    assert!(outcome.sent().unwrap().starts_with("EC"), "{outcome:?}");
    let req = &sb.recorder().requests("econet")[0];
    assert_eq!(req.header("x-api-key"), Some("sandbox-econet-key"));
    assert_eq!(sb.sms_outbox()[0].to, "+263772345678");
    assert_eq!(sb.sms_outbox()[0].text, SHONA);
}

#[tokio::test]
async fn econet_classifies_each_error_reply() {
    let sb = sandbox().await;
    let bad_key = econet(&sb, "wrong").send(&sms("0772345678", "hi")).await;
    assert!(matches!(bad_key, Outcome::FixConfig(_)), "{bad_key:?}");
    let client = econet(&sb, "sandbox-econet-key");
    let barred = client.send(&sms("0779999002", "hi")).await;
    assert!(matches!(barred, Outcome::DropRecipient(_)), "{barred:?}");
    let too_long = client.send(&sms("0772345678", &"ŋ".repeat(500))).await;
    assert!(matches!(too_long, Outcome::FixMessage(_)), "{too_long:?}");
    sb.faults().push(
        "econet",
        Fault::Status {
            status: 429,
            retry_after: Some("30".into()),
            body: String::new(),
        },
    );
    let throttled = client.send(&sms("0772345678", "hi")).await;
    assert_eq!(
        throttled,
        Outcome::RetryAfter {
            after: Duration::from_secs(30),
            detail: "HTTP 429: ".into()
        }
    );
}

#[tokio::test]
async fn econet_over_its_hourly_limit_says_when_to_retry_as_an_http_date() {
    let mut config = fast_config();
    config.sms.econet_rate_limit = 1;
    let sb = sandbox_with(config).await;
    let client = econet(&sb, "sandbox-econet-key");
    assert!(client.send(&sms("0772345678", "hi")).await.sent().is_some());
    match client.send(&sms("0772345678", "hi")).await {
        Outcome::RetryAfter { after, .. } => {
            assert!(after > Duration::from_secs(3500) && after <= Duration::from_secs(3601))
        }
        other => panic!("{other:?}"),
    }
    let retry_after = sb.recorder().requests("econet").len();
    assert_eq!(retry_after, 2);
    // The header really is a date, not seconds.
    let url = format!("{}/v1/sms/messages", sb.url("econet"));
    let reply = reqwest::Client::new()
        .post(url)
        .header("x-api-key", "sandbox-econet-key")
        .json(&serde_json::json!({"from": "X", "to": "+263772345678", "text": "hi"}))
        .send()
        .await
        .unwrap();
    let value = reply.headers()["retry-after"].to_str().unwrap().to_owned();
    assert!(httpdate::parse_http_date(&value).unwrap() > SystemTime::now());
}

#[tokio::test]
async fn econet_that_answers_slowly_past_the_timeout_backs_off() {
    let sb = sandbox().await;
    sb.faults().push("econet", Fault::DelayMs { ms: 2000 });
    let short = HttpSettings::with_timeout(SHORT_TIMEOUT);
    let outcome = econet_with(&sb, "sandbox-econet-key", short)
        .send(&sms("0772345678", "hi"))
        .await;
    assert!(
        matches!(&outcome, Outcome::RetryBackoff(d) if d.contains("timeout")),
        "{outcome:?}"
    );
}
