//! APNs client against the APNs simulator (HTTP/2 with prior knowledge).

use crate::support::TEST_TIMEOUT;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oneclass_clients::push::apns::{ApnsClient, ApnsConfig};
use oneclass_clients::push::{PushMessage, PushPriority};
use oneclass_clients::sim::{
    generate_apns_key, sandbox_apns_key, ApnsSimKey, Fault, SandboxHandle, TestApnsKey,
};
use oneclass_clients::{HttpSettings, ManualClock, Outcome, PushSender, SharedClock, SystemClock};

use crate::support::{fast_config, sandbox, sandbox_with};

const TOPIC: &str = "zw.oneclass.app";

fn device(code: &str) -> String {
    code.repeat(16)
}

fn client_with(
    sb: &SandboxHandle,
    key: &TestApnsKey,
    lifetime: Duration,
    clock: SharedClock,
) -> ApnsClient {
    let mut config = ApnsConfig::new(&key.key_id, &key.team_id, &key.private_key_pem, TOPIC);
    config.base_url = sb.url("apns");
    config.token_lifetime = lifetime;
    ApnsClient::new(config, &HttpSettings::with_timeout(TEST_TIMEOUT), clock).unwrap()
}

fn client(sb: &SandboxHandle) -> ApnsClient {
    client_with(
        sb,
        &sandbox_apns_key(),
        Duration::from_secs(45 * 60),
        SystemClock::shared(),
    )
}

fn bearers(sb: &SandboxHandle) -> Vec<String> {
    sb.recorder()
        .requests("apns")
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_alert_goes_out_over_http2_with_every_header_and_returns_the_apns_id() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut message = PushMessage::to_token(device("a1b2"), "Results", "Mhedzisiro yakabuda");
    message.ttl = Some(Duration::from_secs(3600));
    message.collapse_key = Some("results".into());
    message.data.insert("school".into(), "42".into());
    let outcome = c.send(&message).await;
    let Outcome::Sent(id) = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(id.len(), 36, "a UUID");

    let request = &sb.recorder().requests("apns")[0];
    assert_eq!(request.path, format!("/3/device/{}", device("a1b2")));
    assert_eq!(request.header("apns-topic"), Some(TOPIC));
    assert_eq!(request.header("apns-push-type"), Some("alert"));
    assert_eq!(request.header("apns-priority"), Some("10"));
    assert_eq!(request.header("apns-collapse-id"), Some("results"));
    let expiration: u64 = request.header("apns-expiration").unwrap().parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(expiration > now + 3500 && expiration <= now + 3601);
    let bearer = request.header("authorization").unwrap();
    let jwt = bearer.strip_prefix("bearer ").unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(
        header.kid.as_deref(),
        Some(sandbox_apns_key().key_id.as_str())
    );
    let payload: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(payload["aps"]["alert"]["body"], "Mhedzisiro yakabuda");
    assert_eq!(payload["school"], "42");
}

#[tokio::test]
async fn a_data_only_push_is_background_at_priority_five() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut message = PushMessage {
        target: Some(oneclass_clients::push::PushTarget::Token(device("beef"))),
        priority: PushPriority::High,
        ..PushMessage::default()
    };
    message.data.insert("sync".into(), "inbox".into());
    assert!(c.send(&message).await.sent().is_some());
    let request = &sb.recorder().requests("apns")[0];
    assert_eq!(request.header("apns-push-type"), Some("background"));
    assert_eq!(request.header("apns-priority"), Some("5"));
    let payload: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(payload["aps"]["content-available"], 1);
}

#[tokio::test]
async fn the_simulator_refuses_http1_as_apple_does() {
    let sb = sandbox().await;
    let reply = reqwest::Client::new()
        .post(format!("{}/3/device/{}", sb.url("apns"), device("a1b2")))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 505);
}

#[tokio::test]
async fn the_provider_token_is_reused_for_45_minutes_then_replaced() {
    let clock = ManualClock::new(SystemTime::now());
    let mut config = fast_config();
    config.apns.clock = Some(clock.clone());
    let sb = sandbox_with(config).await;
    let c = client_with(
        &sb,
        &sandbox_apns_key(),
        Duration::from_secs(45 * 60),
        clock.clone(),
    );
    let c = &c;
    let send = || async move {
        c.send(&PushMessage::to_token(device("a1b2"), "t", "b"))
            .await
    };
    assert!(send().await.sent().is_some());
    clock.advance(Duration::from_secs(30 * 60));
    assert!(send().await.sent().is_some());
    clock.advance(Duration::from_secs(16 * 60));
    assert!(send().await.sent().is_some());
    let b = bearers(&sb);
    assert_eq!(b[0], b[1], "reused at 30 minutes");
    assert_ne!(b[1], b[2], "replaced at 46 minutes");
}

#[tokio::test]
async fn an_expired_provider_token_is_reminted_once_and_the_push_retried() {
    let clock = ManualClock::new(SystemTime::now());
    let mut config = fast_config();
    config.apns.clock = Some(clock.clone());
    let sb = sandbox_with(config).await;
    // A misconfigured lifetime beyond Apple's hour.
    let c = client_with(
        &sb,
        &sandbox_apns_key(),
        Duration::from_secs(3 * 3600),
        clock.clone(),
    );
    assert!(c
        .send(&PushMessage::to_token(device("a1b2"), "t", "b"))
        .await
        .sent()
        .is_some());
    clock.advance(Duration::from_secs(61 * 60));
    let outcome = c
        .send(&PushMessage::to_token(device("a1b2"), "t", "b"))
        .await;
    assert!(outcome.sent().is_some(), "{outcome:?}");
    let b = bearers(&sb);
    assert_eq!(b.len(), 3);
    assert_eq!(b[0], b[1], "the stale token was tried first");
    assert_ne!(b[1], b[2]);
}

#[tokio::test]
async fn minting_again_within_twenty_minutes_is_refused_as_too_many_updates() {
    let sb = sandbox().await;
    let first = client(&sb);
    assert!(first
        .send(&PushMessage::to_token(device("a1b2"), "t", "b"))
        .await
        .sent()
        .is_some());
    // A second client with its own cache mints another token a second later.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = client(&sb);
    let outcome = second
        .send(&PushMessage::to_token(device("a1b2"), "t", "b"))
        .await;
    assert!(
        matches!(&outcome, Outcome::RetryBackoff(d) if d.contains("TooManyProviderTokenUpdates")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn each_apns_reason_is_classified() {
    let sb = sandbox().await;
    let c = client(&sb);
    let cr = &c;
    let send = |code: &str| {
        let m = PushMessage::to_token(device(code), "t", "b");
        async move { cr.send(&m).await }
    };
    match send("0410").await {
        Outcome::DropRecipient(detail) => assert!(detail.contains("invalid since"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(send("0400").await.class(), "drop_recipient");
    assert_eq!(send("0403").await.class(), "drop_recipient");
    assert_eq!(send("0429").await.class(), "retry_backoff");
    assert_eq!(send("0500").await.class(), "retry_backoff");
    assert_eq!(send("0503").await.class(), "retry_backoff");
    let mut long_collapse = PushMessage::to_token(device("a1b2"), "t", "b");
    long_collapse.collapse_key = Some("c".repeat(65));
    assert_eq!(c.send(&long_collapse).await.class(), "fix_message");
    let mut large = PushMessage::to_token(device("a1b2"), "t", "b");
    large.body = Some("x".repeat(5000));
    assert_eq!(c.send(&large).await.class(), "fix_message");
    assert_eq!(
        c.send(&PushMessage::to_token("sim-unregistered", "t", "b"))
            .await
            .class(),
        "drop_recipient",
        "not a hex token: refused before any request"
    );
}

#[tokio::test]
async fn a_token_registered_again_after_apple_dropped_it_is_kept() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut message = PushMessage::to_token(device("0410"), "t", "b");
    message.token_registered_at = Some(SystemTime::now() + Duration::from_secs(60));
    assert_eq!(c.send(&message).await.class(), "retry_backoff");
    message.token_registered_at = Some(SystemTime::now() - Duration::from_secs(86_400));
    assert_eq!(c.send(&message).await.class(), "drop_recipient");
}

#[tokio::test]
async fn a_wrong_key_an_unknown_key_id_and_a_disallowed_topic_are_fix_config() {
    let mut config = fast_config();
    config.apns.topics = vec![TOPIC.into()];
    let registered = generate_apns_key("SCHOOLKEY1", "SCHOOLTEAM");
    config.apns.keys.push(ApnsSimKey {
        key_id: registered.key_id.clone(),
        team_id: registered.team_id.clone(),
        public_key_pem: registered.public_key_pem.clone(),
    });
    let sb = sandbox_with(config).await;
    let lifetime = Duration::from_secs(45 * 60);
    let message = PushMessage::to_token(device("a1b2"), "t", "b");

    let ok = client_with(&sb, &registered, lifetime, SystemClock::shared());
    assert!(ok.send(&message).await.sent().is_some());

    let forged = generate_apns_key("SCHOOLKEY1", "SCHOOLTEAM");
    let outcome = client_with(&sb, &forged, lifetime, SystemClock::shared())
        .send(&message)
        .await;
    assert!(
        matches!(&outcome, Outcome::FixConfig(d) if d.contains("InvalidProviderToken")),
        "{outcome:?}"
    );
    let unknown = generate_apns_key("NOSUCHKEY1", "SCHOOLTEAM");
    assert_eq!(
        client_with(&sb, &unknown, lifetime, SystemClock::shared())
            .send(&message)
            .await
            .class(),
        "fix_config"
    );
    let mut elsewhere = message.clone();
    elsewhere.apns.topic = Some("com.other.app".into());
    let outcome = ok.send(&elsewhere).await;
    assert!(
        matches!(&outcome, Outcome::FixConfig(d) if d.contains("TopicDisallowed")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn retry_after_and_timeouts_are_retryable() {
    let sb = sandbox().await;
    let c = client(&sb);
    let message = PushMessage::to_token(device("a1b2"), "t", "b");
    sb.faults().push(
        "apns",
        Fault::Status {
            status: 503,
            retry_after: Some("45".into()),
            body: String::new(),
        },
    );
    match c.send(&message).await {
        Outcome::RetryAfter { after, .. } => assert_eq!(after, Duration::from_secs(45)),
        other => panic!("{other:?}"),
    }
    sb.faults().push("apns", Fault::Hang);
    let outcome = c.send(&message).await;
    assert!(
        matches!(&outcome, Outcome::RetryBackoff(d) if d.contains("timeout")),
        "{outcome:?}"
    );
}
