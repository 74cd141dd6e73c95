//! Provider callbacks through HTTP against a running hub: Kannel DLRs move a journaled attempt
//! forward (and a backward one changes nothing), an inbound `STOP` journals the opt-out, a
//! WhatsApp status is applied only with a good `X-Hub-Signature-256`, the verification
//! handshake echoes the challenge only with the right token, bad tokens are 401 and unreadable
//! DSNs 400, all counted in `oneclass_callbacks_total`.
//!
//! The attempts reported on are appended to the journal before the hub starts (the
//! `delivery.attempt.finished` entries a `ProviderActor` writes, byte for byte the same
//! payload type), not sent through a provider actor: the hub does not start provider actors
//! until the dispatcher exists.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use oneclass_actors::Role;
use oneclass_hub::startup::JOURNAL_FILE;
use oneclass_protocol::journal::{
    decode_payload, encode_payload, kinds, ConsentChanged, DeliveryAttemptFinished,
    DeliveryReported,
};
use oneclass_storage::{AppendRequest, Journal, SqliteJournal};
use oneclass_tests::{metric, token, TestHub};
use sha2::Sha256;

const KANNEL_TOKEN: &str = "kannel-callback-token";
const APP_SECRET: &str = "whatsapp-app-secret";
const VERIFY_TOKEN: &str = "whatsapp-verify-token";
const DSN_TOKEN: &str = "mta-callback-token";

fn providers() -> serde_json::Value {
    serde_json::json!({
        "kannel": {
            "kind": "sms", "gateway": "kannel", "base_url": "http://127.0.0.1:1",
            "credentials": {"username": "u", "password": "p", "callback_token": KANNEL_TOKEN},
            "cost": {"currency": "USD", "sms_segment": "0.01"}
        },
        "whatsapp": {
            "kind": "whatsapp", "base_url": "http://127.0.0.1:1",
            "credentials": {"access_token": "t", "phone_number_id": "1",
                            "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN},
            "cost": {"currency": "USD", "whatsapp": {"utility": "0.01"}}
        },
        "mail": {
            "kind": "email", "base_url": "smtp+insecure://127.0.0.1:1", "sender": "school@example.org",
            "credentials": {"callback_token": DSN_TOKEN},
            "cost": {"currency": "USD", "email": "0.001"}
        }
    })
}

fn finished(delivery: &str, message: &str) -> DeliveryAttemptFinished {
    DeliveryAttemptFinished {
        delivery_id: delivery.into(),
        attempt: 1,
        status: "sent".into(),
        decision: "done".into(),
        provider_message_id: Some(message.into()),
        detail: None,
        duration_ms: 3,
        segments: 1,
        cost_micros: 10_000,
        currency: "USD".into(),
        retry_in_ms: None,
        context: None,
    }
}

/// A hub whose journal already holds a sent attempt `d1` at Kannel and `d2` (`wamid.X`) at
/// WhatsApp.
async fn hub() -> TestHub {
    let tmp = Arc::new(tempfile::tempdir().unwrap());
    {
        let journal = SqliteJournal::open(tmp.path().join(JOURNAL_FILE)).unwrap();
        let append = |provider: &str, payload: DeliveryAttemptFinished| AppendRequest {
            school_id: "s1".into(),
            stream: format!("provider:{provider}"),
            kind: kinds::DELIVERY_ATTEMPT_FINISHED.into(),
            actor: provider.into(),
            occurred_at: 1_700_000_000_000,
            payload: encode_payload(&payload),
            idempotency: None,
        };
        journal
            .append(vec![
                append("kannel", finished("d1", "d1")),
                append("whatsapp", finished("d2", "wamid.X")),
            ])
            .await
            .unwrap();
    }
    let providers = serde_json::from_value(providers()).unwrap();
    TestHub::spawn_on(tmp, move |s| s.providers = providers)
}

/// The kinds and payloads of `provider:{provider}`, read after the hub stopped.
async fn stream(hub: &TestHub, provider: &str) -> Vec<(String, Vec<u8>)> {
    let journal = SqliteJournal::open(hub.data_dir.join(JOURNAL_FILE)).unwrap();
    journal
        .read_stream(&format!("provider:{provider}"), 1, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.payload.to_vec()))
        .collect()
}

async fn get(hub: &TestHub, path: &str) -> (u16, String) {
    let resp = reqwest::get(hub.http_url(path)).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn callbacks(text: &str, provider: &str, outcome: &str) -> f64 {
    metric(
        text,
        &format!("oneclass_callbacks_total{{provider=\"{provider}\",outcome=\"{outcome}\"}}"),
    )
    .unwrap_or(0.0)
}

#[tokio::test]
async fn a_kannel_dlr_moves_the_attempt_to_delivered_once_and_an_sms_stop_opts_out() {
    let mut hub = hub().await;
    let dlr = |token: &str, kind: u32| {
        format!("/v1/callbacks/kannel/kannel/dlr?token={token}&msg=d1&type={kind}&fid=F1&to=%2B263771000001")
    };
    assert_eq!(get(&hub, &dlr(KANNEL_TOKEN, 1)).await.0, 200);
    // Backward (SMSC accepted after delivered) and duplicate: acknowledged, nothing journaled.
    assert_eq!(get(&hub, &dlr(KANNEL_TOKEN, 8)).await.0, 200);
    assert_eq!(get(&hub, &dlr(KANNEL_TOKEN, 1)).await.0, 200);
    // Forged and malformed: refused.
    assert_eq!(get(&hub, &dlr("guess", 2)).await.0, 401);
    assert_eq!(get(&hub, &dlr(KANNEL_TOKEN, 3)).await.0, 400);
    let mo = |text: &str| {
        format!("/v1/callbacks/kannel/kannel/mo?token={KANNEL_TOKEN}&from=%2B263771000001&to=24000&text={text}")
    };
    assert_eq!(get(&hub, &mo("STOP")).await.0, 200);
    assert_eq!(get(&hub, &mo("Thanks")).await.0, 200);
    // The report as `GET /v1/deliveries/{id}` gives it: to the school's admin only.
    let report = |who: String, id: &'static str| {
        reqwest::Client::new()
            .get(hub.http_url(&format!("/v1/deliveries/{id}")))
            .bearer_auth(who)
            .send()
    };
    let admin = token("a1", "s1", Role::Admin, &[]);
    let resp = report(admin.clone(), "d1").await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (body["state"].as_str(), body["provider"].as_str()),
        (Some("delivered"), Some("kannel"))
    );
    let other_school = token("a2", "s2", Role::Admin, &[]);
    assert_eq!(report(other_school, "d1").await.unwrap().status(), 404);
    let parent = token("p1", "s1", Role::Parent, &[]);
    assert_eq!(report(parent, "d1").await.unwrap().status(), 404);
    assert_eq!(report(admin, "d404").await.unwrap().status(), 404);
    let text = hub.metrics_text().await;
    assert_eq!(callbacks(&text, "kannel", "applied"), 1.0);
    assert_eq!(callbacks(&text, "kannel", "duplicate"), 2.0);
    assert_eq!(callbacks(&text, "kannel", "unauthorized"), 1.0);
    assert_eq!(callbacks(&text, "kannel", "malformed"), 1.0);
    assert_eq!(callbacks(&text, "kannel", "consent"), 1.0);
    hub.stop().await;

    let events = stream(&hub, "kannel").await;
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            kinds::DELIVERY_ATTEMPT_FINISHED,
            kinds::DELIVERY_REPORT,
            kinds::CONSENT_CHANGED
        ]
    );
    let report: DeliveryReported = decode_payload(&events[1].1).unwrap();
    assert_eq!(
        (
            report.delivery_id.as_str(),
            report.from.as_str(),
            report.to.as_str()
        ),
        ("d1", "sent", "delivered")
    );
    let consent: ConsentChanged = decode_payload(&events[2].1).unwrap();
    assert_eq!(
        (
            consent.address.as_str(),
            consent.channel.as_str(),
            consent.opted_out
        ),
        ("+263771000001", "sms", true)
    );
}

#[tokio::test]
async fn a_whatsapp_status_is_applied_only_with_a_good_signature() {
    let mut hub = hub().await;
    let body = r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"statuses":[{"id":"wamid.X","status":"delivered","timestamp":"1700000100","recipient_id":"263771000002"}]}}]}]}"#;
    let post = |signature: String| {
        reqwest::Client::new()
            .post(hub.http_url("/v1/callbacks/whatsapp/whatsapp"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
    };
    let mut forged = sign(body.as_bytes());
    forged.replace_range(7..9, if &forged[7..9] == "00" { "11" } else { "00" });
    assert_eq!(post(forged).await.unwrap().status(), 401);
    let unsigned = reqwest::Client::new()
        .post(hub.http_url("/v1/callbacks/whatsapp/whatsapp"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    assert_eq!(post(sign(body.as_bytes())).await.unwrap().status(), 200);
    let text = hub.metrics_text().await;
    assert_eq!(callbacks(&text, "whatsapp", "unauthorized"), 2.0);
    assert_eq!(callbacks(&text, "whatsapp", "applied"), 1.0);
    hub.stop().await;

    let events = stream(&hub, "whatsapp").await;
    assert_eq!(events.len(), 2, "the forged posts journaled nothing");
    let report: DeliveryReported = decode_payload(&events[1].1).unwrap();
    assert_eq!(
        (report.delivery_id.as_str(), report.to.as_str()),
        ("d2", "delivered")
    );
}

#[tokio::test]
async fn the_handshake_echoes_the_challenge_only_with_the_verify_token() {
    let mut hub = hub().await;
    let path = |token: &str| {
        format!("/v1/callbacks/whatsapp/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}")
    };
    assert_eq!(
        get(&hub, &path(VERIFY_TOKEN)).await,
        (200, "1158201444".to_owned())
    );
    let (status, body) = get(&hub, &path("wrong")).await;
    assert_eq!(status, 403);
    assert!(!body.contains("1158201444"));
    // A method the path does not serve is the JSON 405.
    let put = reqwest::Client::new()
        .put(hub.http_url("/v1/callbacks/whatsapp/whatsapp"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
    hub.stop().await;
}

#[tokio::test]
async fn a_malformed_dsn_is_400_and_a_wrong_token_401() {
    let mut hub = hub().await;
    let post = |token: &str, body: &'static str| {
        reqwest::Client::new()
            .post(hub.http_url(&format!("/v1/callbacks/email/mail/dsn?token={token}")))
            .header("content-type", "message/rfc822")
            .body(body)
            .send()
    };
    let not_a_dsn = "From: someone@example.org\r\nSubject: hello\r\n\r\njust a letter\r\n";
    assert_eq!(post(DSN_TOKEN, not_a_dsn).await.unwrap().status(), 400);
    assert_eq!(post("nope", not_a_dsn).await.unwrap().status(), 401);
    // An unknown provider name is 404, whatever the token.
    let unknown = reqwest::get(hub.http_url(&format!(
        "/v1/callbacks/kannel/nobody/dlr?token={KANNEL_TOKEN}&msg=d1&type=1"
    )))
    .await
    .unwrap();
    assert_eq!(unknown.status(), 404);
    let text = hub.metrics_text().await;
    assert_eq!(callbacks(&text, "mail", "malformed"), 1.0);
    assert_eq!(callbacks(&text, "mail", "unauthorized"), 1.0);
    // The made-up name is not a label: forged paths cannot grow the metric.
    assert_eq!(callbacks(&text, "unknown", "unknown_provider"), 1.0);
    assert!(!text.contains("nobody"));
    hub.stop().await;
    assert!(stream(&hub, "mail").await.is_empty());
}
