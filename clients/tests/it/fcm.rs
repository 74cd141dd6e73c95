//! FCM HTTP v1 client against the FCM and OAuth2 simulators.

use crate::support::TEST_TIMEOUT;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oneclass_clients::push::fcm::{FcmClient, FcmConfig, ServiceAccount};
use oneclass_clients::push::{
    AndroidOptions, ApnsOptions, PushMessage, PushPriority, PushTarget, WebpushOptions,
};
use oneclass_clients::sim::{
    generate_service_account, Fault, FcmSimAccount, SandboxHandle, SANDBOX_CLIENT_EMAIL,
    SANDBOX_PROJECT_ID,
};
use oneclass_clients::{HttpSettings, ManualClock, Outcome, PushSender, SharedClock, SystemClock};

use crate::support::{fast_config, sandbox, sandbox_with};

fn client_for(sb: &SandboxHandle, json: &str, clock: SharedClock) -> FcmClient {
    let mut config = FcmConfig::new(ServiceAccount::from_json(json.as_bytes()).unwrap());
    config.base_url = sb.url("fcm");
    FcmClient::new(config, &HttpSettings::with_timeout(TEST_TIMEOUT), clock).unwrap()
}

fn client(sb: &SandboxHandle) -> FcmClient {
    client_for(sb, &sb.fcm_service_account().json, SystemClock::shared())
}

fn body(sb: &SandboxHandle, provider: &str, index: usize) -> serde_json::Value {
    serde_json::from_slice(&sb.recorder().requests(provider)[index].body).unwrap()
}

fn token_uri(sb: &SandboxHandle) -> String {
    format!("{}/token", sb.url("oauth2"))
}

#[tokio::test]
async fn a_notification_goes_out_with_its_platform_blocks_and_returns_the_message_name() {
    let sb = sandbox().await;
    let c = client(&sb);
    let message = PushMessage {
        target: Some(PushTarget::Token("device-token-1".into())),
        title: Some("Fees due".into()),
        body: Some("Mari yezvikoro inofanira kubhadharwa neChishanu".into()),
        data: BTreeMap::from([("school".into(), "42".into())]),
        priority: PushPriority::High,
        ttl: Some(Duration::from_secs(3600)),
        collapse_key: Some("fees".into()),
        android: AndroidOptions {
            channel_id: Some("announcements".into()),
            ..AndroidOptions::default()
        },
        apns: ApnsOptions {
            badge: Some(3),
            ..ApnsOptions::default()
        },
        webpush: WebpushOptions {
            link: Some("https://oneclass.example/fees".into()),
            ..WebpushOptions::default()
        },
        ..PushMessage::default()
    };
    let outcome = c.send(&message).await;
    let Outcome::Sent(name) = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(name.starts_with(&format!("projects/{SANDBOX_PROJECT_ID}/messages/")));

    let exchange = &sb.recorder().requests("oauth2")[0];
    let form = exchange.form();
    assert_eq!(
        form[0],
        (
            "grant_type".into(),
            "urn:ietf:params:oauth:grant-type:jwt-bearer".into()
        )
    );
    let header = jsonwebtoken::decode_header(&form[1].1).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert!(header.kid.is_some(), "kid is the private_key_id");

    let send = &sb.recorder().requests("fcm")[0];
    assert_eq!(
        send.path,
        format!("/v1/projects/{SANDBOX_PROJECT_ID}/messages:send")
    );
    assert!(send
        .header("authorization")
        .unwrap()
        .starts_with("Bearer ya29."));
    let m = &body(&sb, "fcm", 0)["message"];
    assert_eq!(m["token"], "device-token-1");
    assert_eq!(m["notification"]["title"], "Fees due");
    assert_eq!(m["data"]["school"], "42");
    assert_eq!(m["android"]["priority"], "HIGH");
    assert_eq!(m["android"]["ttl"], "3600s");
    assert_eq!(m["android"]["collapse_key"], "fees");
    assert_eq!(m["android"]["notification"]["channel_id"], "announcements");
    assert_eq!(m["apns"]["headers"]["apns-priority"], "10");
    assert_eq!(m["apns"]["headers"]["apns-collapse-id"], "fees");
    assert_eq!(m["apns"]["payload"]["aps"]["badge"], 3);
    assert_eq!(m["webpush"]["headers"]["TTL"], "3600");
    assert_eq!(
        m["webpush"]["fcm_options"]["link"],
        "https://oneclass.example/fees"
    );
}

#[tokio::test]
async fn concurrent_senders_share_one_token_exchange() {
    let sb = sandbox().await;
    let c = Arc::new(client(&sb));
    let sends = (0..16).map(|i| {
        let c = c.clone();
        async move {
            c.send(&PushMessage::to_token(format!("device-{i}"), "t", "b"))
                .await
        }
    });
    let outcomes = futures_util::future::join_all(sends).await;
    assert!(outcomes.iter().all(|o| o.sent().is_some()), "{outcomes:?}");
    assert_eq!(sb.recorder().requests("oauth2").len(), 1);
    assert_eq!(sb.recorder().requests("fcm").len(), 16);
}

#[tokio::test]
async fn the_access_token_is_reused_until_five_minutes_before_expiry() {
    let clock = ManualClock::new(SystemTime::now());
    let mut config = fast_config();
    config.fcm.clock = Some(clock.clone());
    let sb = sandbox_with(config).await;
    let c = client_for(&sb, &sb.fcm_service_account().json, clock.clone());
    let c = &c;
    let send = || async move { c.send(&PushMessage::to_token("d", "t", "b")).await };
    assert!(send().await.sent().is_some());
    clock.advance(Duration::from_secs(50 * 60));
    assert!(send().await.sent().is_some());
    assert_eq!(sb.recorder().requests("oauth2").len(), 1, "still fresh");
    clock.advance(Duration::from_secs(6 * 60));
    assert!(send().await.sent().is_some());
    assert_eq!(
        sb.recorder().requests("oauth2").len(),
        2,
        "56 minutes in, inside the margin"
    );
    let bearers: Vec<_> = sb
        .recorder()
        .requests("fcm")
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(bearers[0], bearers[1]);
    assert_ne!(bearers[1], bearers[2]);
}

#[tokio::test]
async fn a_token_fcm_no_longer_accepts_is_refreshed_once_and_the_send_retried() {
    let sim_clock = ManualClock::new(SystemTime::now());
    let mut config = fast_config();
    config.fcm.clock = Some(sim_clock.clone());
    config.fcm.token_lifetime = Duration::from_secs(20 * 60);
    let sb = sandbox_with(config).await;
    let c = client(&sb);
    assert!(c
        .send(&PushMessage::to_token("d", "t", "b"))
        .await
        .sent()
        .is_some());
    // The simulator's clock passes the token's end; the client's does not know.
    sim_clock.advance(Duration::from_secs(25 * 60));
    let outcome = c.send(&PushMessage::to_token("d", "t", "b")).await;
    assert!(outcome.sent().is_some(), "{outcome:?}");
    assert_eq!(sb.recorder().requests("oauth2").len(), 2);
    let sends = sb.recorder().requests("fcm");
    assert_eq!(sends.len(), 3, "first send, refused send, retried send");
}

#[tokio::test]
async fn each_fcm_error_code_is_classified() {
    let sb = sandbox().await;
    let c = client(&sb);
    let c = &c;
    let send =
        |token: &'static str| async move { c.send(&PushMessage::to_token(token, "t", "b")).await };
    assert_eq!(send("sim-unregistered").await.class(), "drop_recipient");
    assert_eq!(send("sim-invalid-token").await.class(), "drop_recipient");
    assert_eq!(send("sim-sender-mismatch").await.class(), "fix_config");
    assert_eq!(send("sim-third-party-auth").await.class(), "fix_config");
    assert_eq!(send("sim-internal").await.class(), "retry_backoff");
    match send("sim-quota-exceeded").await {
        Outcome::RetryAfter { after, detail } => {
            assert_eq!(after, Duration::from_secs(60));
            assert!(detail.contains("QUOTA_EXCEEDED"));
        }
        other => panic!("{other:?}"),
    }
    match send("sim-unavailable").await {
        Outcome::RetryAfter { after, .. } => assert_eq!(after, Duration::from_secs(30)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn messages_fcm_would_refuse_are_fix_message() {
    let sb = sandbox().await;
    let c = client(&sb);
    let mut reserved = PushMessage::to_token("d", "t", "b");
    reserved.data.insert("from".into(), "x".into());
    assert_eq!(c.send(&reserved).await.class(), "fix_message");
    let mut huge = PushMessage::to_token("d", "t", "b");
    huge.body = Some("x".repeat(5000));
    assert_eq!(c.send(&huge).await.class(), "fix_message");
    let untargeted = PushMessage {
        title: Some("t".into()),
        ..PushMessage::default()
    };
    assert_eq!(c.send(&untargeted).await.class(), "fix_message");
    let topic = PushMessage {
        target: Some(PushTarget::Topic("/topics/form-4".into())),
        title: Some("Exams".into()),
        ..PushMessage::default()
    };
    assert!(c.send(&topic).await.sent().is_some(), "prefix stripped");
    assert_eq!(body(&sb, "fcm", 2)["message"]["topic"], "form-4");
}

#[tokio::test]
async fn validate_only_is_passed_through() {
    let sb = sandbox().await;
    let mut config = FcmConfig::new(
        ServiceAccount::from_json(sb.fcm_service_account().json.as_bytes()).unwrap(),
    );
    config.base_url = sb.url("fcm");
    config.validate_only = true;
    let c = FcmClient::new(config, &HttpSettings::default(), SystemClock::shared()).unwrap();
    let outcome = c.send(&PushMessage::to_token("d", "t", "b")).await;
    assert!(outcome.sent().unwrap().ends_with("/fake_message_id"));
    assert_eq!(body(&sb, "fcm", 0)["validate_only"], true);
}

#[tokio::test]
async fn a_foreign_key_an_unknown_account_and_a_skewed_clock_are_fix_config() {
    let sb = sandbox().await;
    let forged =
        generate_service_account(&token_uri(&sb), SANDBOX_PROJECT_ID, SANDBOX_CLIENT_EMAIL);
    let outcome = client_for(&sb, &forged.json, SystemClock::shared())
        .send(&PushMessage::to_token("d", "t", "b"))
        .await;
    assert!(
        matches!(&outcome, Outcome::FixConfig(d) if d.contains("Invalid JWT Signature")),
        "{outcome:?}"
    );
    let stranger = generate_service_account(&token_uri(&sb), "other", "x@other.iam.example");
    let outcome = client_for(&sb, &stranger.json, SystemClock::shared())
        .send(&PushMessage::to_token("d", "t", "b"))
        .await;
    assert!(
        matches!(&outcome, Outcome::FixConfig(d) if d.contains("account not found")),
        "{outcome:?}"
    );
    let ahead = ManualClock::new(SystemTime::now() + Duration::from_secs(2 * 3600));
    let outcome = client_for(&sb, &sb.fcm_service_account().json, ahead)
        .send(&PushMessage::to_token("d", "t", "b"))
        .await;
    assert!(
        matches!(&outcome, Outcome::FixConfig(d) if d.contains("invalid_grant")),
        "{outcome:?}"
    );
    assert!(sb.recorder().requests("fcm").is_empty());
}

#[tokio::test]
async fn a_registered_account_sends_only_for_its_own_project() {
    let mut config = fast_config();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}/oauth2/token", listener.local_addr().unwrap());
    let account = generate_service_account(&uri, "school-app", "push@school-app.iam.example");
    config.fcm.accounts.push(FcmSimAccount {
        client_email: account.client_email.clone(),
        project_id: account.project_id.clone(),
        public_key_pem: account.public_key_pem.clone(),
    });
    let sb = oneclass_clients::sim::run_sandbox(listener, config)
        .await
        .unwrap();
    let c = client_for(&sb, &account.json, SystemClock::shared());
    assert!(c
        .send(&PushMessage::to_token("d", "t", "b"))
        .await
        .sent()
        .unwrap()
        .starts_with("projects/school-app/"));

    // The same token used against another project's URL is refused as PERMISSION_DENIED.
    let mut other = FcmConfig::new(ServiceAccount::from_json(account.json.as_bytes()).unwrap());
    other.base_url = sb.url("fcm");
    other.service_account.project_id = SANDBOX_PROJECT_ID.into();
    let c = FcmClient::new(other, &HttpSettings::default(), SystemClock::shared()).unwrap();
    assert_eq!(
        c.send(&PushMessage::to_token("d", "t", "b")).await.class(),
        "fix_config"
    );
}

#[tokio::test]
async fn retry_after_in_both_forms_and_timeouts_are_retryable() {
    let sb = sandbox().await;
    let c = client(&sb);
    let message = PushMessage::to_token("d", "t", "b");
    assert!(c.access_token().await.sent().is_some());
    sb.faults().push(
        "fcm",
        Fault::Status {
            status: 429,
            retry_after: Some("120".into()),
            body: String::new(),
        },
    );
    match c.send(&message).await {
        Outcome::RetryAfter { after, .. } => assert_eq!(after, Duration::from_secs(120)),
        other => panic!("{other:?}"),
    }
    let at = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(600));
    sb.faults().push(
        "fcm",
        Fault::Status {
            status: 503,
            retry_after: Some(at),
            body: "<html>busy</html>".into(),
        },
    );
    match c.send(&message).await {
        Outcome::RetryAfter { after, .. } => {
            assert!(after > Duration::from_secs(590) && after <= Duration::from_secs(600))
        }
        other => panic!("{other:?}"),
    }
    sb.faults().push("fcm", Fault::Hang);
    let outcome = c.send(&message).await;
    assert!(
        matches!(&outcome, Outcome::RetryBackoff(d) if d.contains("timeout")),
        "{outcome:?}"
    );
    sb.faults().push("oauth2", Fault::Hang);
    let fresh = client(&sb);
    assert!(
        matches!(fresh.send(&message).await, Outcome::RetryBackoff(_)),
        "a hanging token endpoint backs off too"
    );
}
