//! The WhatsApp Cloud API client and webhook helpers against the sandbox's `/whatsapp`
//! simulator: every message type, every error class, Retry-After, timeouts, signed status
//! webhooks, the GET handshake and the 24-hour window.

use crate::support::{SHORT_TIMEOUT, TEST_TIMEOUT};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use oneclass_clients::sim::{
    Fault, SandboxHandle, SANDBOX_APP_SECRET, SANDBOX_PHONE_NUMBER_ID, SANDBOX_WHATSAPP_TOKEN,
};
use oneclass_clients::whatsapp::{
    parse_webhook, verify_handshake, verify_signature, CloudApiClient, ListRow, ListSection,
    MediaKind, MediaSource, ReplyButton, SendMode, SignatureError, TemplateComponent,
    TemplateParam, WaBody, WaDeliveryState, WaMessage, WaStatus, WhatsAppConfig,
};
use oneclass_clients::{HttpSettings, Outcome, SystemClock, WhatsApp};
use tokio::sync::mpsc;

use crate::support::sandbox;

const VERIFY_TOKEN: &str = "sandbox-verify-token";

fn client_with(sb: &SandboxHandle, token: &str, version: &str, phone: &str) -> CloudApiClient {
    client_timing_out_after(sb, token, version, phone, TEST_TIMEOUT)
}

fn client_timing_out_after(
    sb: &SandboxHandle,
    token: &str,
    version: &str,
    phone: &str,
    timeout: Duration,
) -> CloudApiClient {
    CloudApiClient::new(
        WhatsAppConfig {
            base_url: sb.url("whatsapp"),
            api_version: version.into(),
            phone_number_id: phone.into(),
            access_token: token.into(),
        },
        &HttpSettings::with_timeout(timeout),
        SystemClock::shared(),
    )
    .unwrap()
}

fn client(sb: &SandboxHandle) -> CloudApiClient {
    client_with(sb, SANDBOX_WHATSAPP_TOKEN, "v23.0", SANDBOX_PHONE_NUMBER_ID)
}

fn text(to: &str, body: &str) -> WaMessage {
    WaMessage {
        to: to.into(),
        reference: format!("ref-{to}"),
        body: WaBody::Text {
            body: body.into(),
            preview_url: false,
        },
    }
}

fn template(to: &str, name: &str, params: &[&str]) -> WaMessage {
    WaMessage {
        to: to.into(),
        reference: format!("tpl-{to}"),
        body: WaBody::Template {
            name: name.into(),
            language: "sn".into(),
            components: vec![TemplateComponent::Body(
                params
                    .iter()
                    .map(|p| TemplateParam::Text((*p).into()))
                    .collect(),
            )],
        },
    }
}

/// A webhook endpoint: answers Meta's GET handshake with `verify_token` and forwards each
/// POST's signature header and raw body.
struct Receiver {
    url: String,
    rx: mpsc::UnboundedReceiver<(Option<String>, Bytes)>,
}

#[derive(Clone)]
struct ReceiverState {
    tx: mpsc::UnboundedSender<(Option<String>, Bytes)>,
    verify_token: &'static str,
}

async fn handshake(State(s): State<ReceiverState>, RawQuery(q): RawQuery) -> (StatusCode, String) {
    match verify_handshake(&q.unwrap_or_default(), s.verify_token) {
        Ok(challenge) => (StatusCode::OK, challenge),
        Err(e) => (StatusCode::FORBIDDEN, e.to_string()),
    }
}

async fn notification(
    State(s): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = s.tx.send((signature, body));
    StatusCode::OK
}

impl Receiver {
    async fn start(verify_token: &'static str) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = Router::new()
            .route("/wa", get(handshake).post(notification))
            .with_state(ReceiverState { tx, verify_token });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/wa", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, rx }
    }

    /// The next status, after checking the delivery's signature.
    async fn status(&mut self) -> WaStatus {
        loop {
            let (signature, body) = tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
                .await
                .expect("webhook did not arrive")
                .unwrap();
            verify_signature(SANDBOX_APP_SECRET.as_bytes(), &body, signature.as_deref())
                .expect("simulator signs every webhook");
            let batch = parse_webhook(&body).unwrap();
            if let Some(status) = batch.statuses.into_iter().next() {
                return status;
            }
        }
    }
}

async fn wired() -> (SandboxHandle, Receiver) {
    let sb = sandbox().await;
    let receiver = Receiver::start(VERIFY_TOKEN).await;
    sb.whatsapp().set_webhook_url(Some(receiver.url.clone()));
    (sb, receiver)
}

#[tokio::test]
async fn a_text_inside_the_window_is_sent_then_reported_sent_delivered_and_read_with_signed_webhooks(
) {
    let (sb, mut rx) = wired().await;
    sb.whatsapp().user_message("263771234567", "Mhoro").await;
    // The inbound webhook carries the user's message (it opens the window on our side too).
    let (signature, body) = rx.rx.recv().await.unwrap();
    verify_signature(SANDBOX_APP_SECRET.as_bytes(), &body, signature.as_deref()).unwrap();
    let inbound = parse_webhook(&body).unwrap().messages.remove(0);
    assert_eq!(inbound.text.as_deref(), Some("Mhoro"));
    let mode = SendMode::for_user(Some(inbound.at), SystemTime::now(), Duration::ZERO);
    assert!(mode.allows_free_form());

    let outcome = client(&sb)
        .send(&text("263771234567", "Makadini? Ŋ — ✓"))
        .await;
    let Outcome::Sent(wamid) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(wamid.starts_with("wamid."));
    let mut states = Vec::new();
    for _ in 0..3 {
        let status = rx.status().await;
        assert_eq!(status.message_id, wamid);
        assert_eq!(status.reference.as_deref(), Some("ref-263771234567"));
        states.push(status.state);
    }
    assert_eq!(
        states,
        [
            WaDeliveryState::Sent,
            WaDeliveryState::Delivered,
            WaDeliveryState::Read
        ]
    );
    let sent = sb.whatsapp().sent();
    assert_eq!(sent[0].body["text"]["body"], "Makadini? Ŋ — ✓");
    let recorded = &sb.recorder().requests("whatsapp")[0];
    assert_eq!(
        recorded.path,
        format!("/v23.0/{SANDBOX_PHONE_NUMBER_ID}/messages")
    );
    assert_eq!(
        recorded.header("authorization"),
        Some(format!("Bearer {SANDBOX_WHATSAPP_TOKEN}").as_str())
    );
}

#[tokio::test]
async fn outside_the_window_templates_go_through_and_free_form_fails_with_131047() {
    let (sb, mut rx) = wired().await;
    // The user last wrote 25 hours ago.
    let last = SystemTime::now() - Duration::from_secs(25 * 3600);
    sb.whatsapp().set_last_inbound("263772000001", last);
    assert_eq!(
        SendMode::for_user(Some(last), SystemTime::now(), Duration::ZERO),
        SendMode::TemplateOnly
    );
    let c = client(&sb);
    let outcome = c
        .send(&template(
            "263772000001",
            "school_notice",
            &["Chipo", "Chishanu"],
        ))
        .await;
    assert!(matches!(outcome, Outcome::Sent(_)), "{outcome:?}");
    assert_eq!(rx.status().await.state, WaDeliveryState::Sent);
    for _ in 0..2 {
        rx.status().await;
    }
    // Free-form: Meta takes the call, then reports failure.
    let outcome = c.send(&text("263772000001", "Mhoro")).await;
    let Outcome::Sent(wamid) = outcome else {
        panic!("{outcome:?}")
    };
    let failed = rx.status().await;
    assert_eq!(failed.message_id, wamid);
    assert_eq!(failed.state, WaDeliveryState::Failed);
    assert_eq!(failed.errors[0].code, 131047);
    assert!(matches!(
        failed.failure_outcome(),
        Some(Outcome::FixMessage(_))
    ));
}

#[tokio::test]
async fn media_by_upload_id_and_by_link_and_interactive_messages_are_sent() {
    let (sb, _rx) = wired().await;
    sb.whatsapp().user_message("263771234567", "hi").await;
    let c = client(&sb);
    let outcome = c
        .upload_media(b"%PDF-1.4 report".to_vec(), "application/pdf", "report.pdf")
        .await;
    let Outcome::Sent(media_id) = outcome else {
        panic!("{outcome:?}")
    };
    let doc = |source| WaMessage {
        to: "263771234567".into(),
        reference: "doc".into(),
        body: WaBody::Media {
            kind: MediaKind::Document,
            source,
            caption: Some("Term 2 report".into()),
            filename: Some("report.pdf".into()),
        },
    };
    assert!(matches!(
        c.send(&doc(MediaSource::Id(media_id))).await,
        Outcome::Sent(_)
    ));
    assert!(matches!(
        c.send(&doc(MediaSource::Link(
            "https://school.example/r.pdf".into()
        )))
        .await,
        Outcome::Sent(_)
    ));
    let unknown = c.send(&doc(MediaSource::Id("999".into()))).await;
    assert!(matches!(unknown, Outcome::FixMessage(_)), "{unknown:?}");
    let buttons = WaMessage {
        to: "263771234567".into(),
        reference: "btn".into(),
        body: WaBody::Buttons {
            body: "Muchauya here?".into(),
            footer: Some("Mufakose High".into()),
            buttons: vec![
                ReplyButton {
                    id: "yes".into(),
                    title: "Ehe".into(),
                },
                ReplyButton {
                    id: "no".into(),
                    title: "Kwete".into(),
                },
            ],
        },
    };
    assert!(matches!(c.send(&buttons).await, Outcome::Sent(_)));
    let list = WaMessage {
        to: "263771234567".into(),
        reference: "list".into(),
        body: WaBody::List {
            body: "Sarudzai kirasi".into(),
            footer: None,
            button: "Makirasi".into(),
            sections: vec![ListSection {
                title: "Form 1".into(),
                rows: vec![ListRow {
                    id: "1a".into(),
                    title: "1A".into(),
                    description: None,
                }],
            }],
        },
    };
    assert!(matches!(c.send(&list).await, Outcome::Sent(_)));
    let sent = sb.whatsapp().sent();
    assert_eq!(sent.len(), 4);
    assert_eq!(
        sent[2].body["interactive"]["action"]["buttons"][1]["reply"]["id"],
        "no"
    );
    assert_eq!(
        sent[3].body["interactive"]["action"]["sections"][0]["rows"][0]["id"],
        "1a"
    );
}

#[tokio::test]
async fn every_error_class_comes_back_from_the_simulator() {
    let (sb, _rx) = wired().await;
    let c = client(&sb);
    for (to, class) in [
        ("263779990026", "drop_recipient"),
        ("263779990429", "retry_backoff"),
        ("263779990056", "retry_after"),
        ("263779990057", "retry_after"),
        ("263779990048", "fix_config"),
        ("263779990031", "fix_config"),
        ("263779990368", "fix_config"),
        ("263779990002", "retry_backoff"),
    ] {
        let outcome = c.send(&template(to, "fees_due", &["USD 20"])).await;
        assert_eq!(outcome.class(), class, "{to}: {outcome:?}");
    }
    let unknown_template = c.send(&template("263771234567", "no_such", &[])).await;
    assert!(
        matches!(unknown_template, Outcome::FixMessage(_)),
        "{unknown_template:?}"
    );
    let wrong_count = c
        .send(&template("263771234567", "fees_due", &["a", "b"]))
        .await;
    assert!(
        matches!(wrong_count, Outcome::FixMessage(_)),
        "{wrong_count:?}"
    );
    for bad in [
        client_with(&sb, "expired-token", "v23.0", SANDBOX_PHONE_NUMBER_ID),
        client_with(&sb, SANDBOX_WHATSAPP_TOKEN, "v23.0", "42"),
        client_with(
            &sb,
            SANDBOX_WHATSAPP_TOKEN,
            "latest",
            SANDBOX_PHONE_NUMBER_ID,
        ),
    ] {
        let outcome = bad
            .send(&template("263771234567", "fees_due", &["x"]))
            .await;
        assert!(matches!(outcome, Outcome::FixConfig(_)), "{outcome:?}");
    }
    let local = c.send(&text("not-a-number", "x")).await;
    assert!(matches!(local, Outcome::DropRecipient(_)), "{local:?}");
}

#[tokio::test]
async fn a_failure_reported_later_drops_the_recipient() {
    let (sb, mut rx) = wired().await;
    let outcome = client(&sb)
        .send(&template("263779990126", "fees_due", &["x"]))
        .await;
    assert!(matches!(outcome, Outcome::Sent(_)), "{outcome:?}");
    let status = rx.status().await;
    assert_eq!(status.state, WaDeliveryState::Failed);
    assert!(matches!(
        status.failure_outcome(),
        Some(Outcome::DropRecipient(_))
    ));
}

#[tokio::test]
async fn retry_after_is_honoured_in_both_forms_and_a_hang_times_out() {
    let (sb, _rx) = wired().await;
    let c = client(&sb);
    let body = r#"{"error":{"message":"Rate limit hit","type":"OAuthException","code":130429,"fbtrace_id":"x"}}"#;
    sb.faults().push(
        "whatsapp",
        Fault::Status {
            status: 429,
            retry_after: Some("30".into()),
            body: body.into(),
        },
    );
    let outcome = c.send(&template("263771234567", "fees_due", &["x"])).await;
    assert!(
        matches!(outcome, Outcome::RetryAfter { after, .. } if after == Duration::from_secs(30)),
        "{outcome:?}"
    );
    let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    sb.faults().push(
        "whatsapp",
        Fault::Status {
            status: 503,
            retry_after: Some(later),
            body: "<html>busy</html>".into(),
        },
    );
    let outcome = c.send(&template("263771234567", "fees_due", &["x"])).await;
    match outcome {
        Outcome::RetryAfter { after, .. } => {
            assert!(after > Duration::from_secs(100) && after <= Duration::from_secs(120))
        }
        other => panic!("{other:?}"),
    }
    sb.faults().push("whatsapp", Fault::Hang);
    let started = Instant::now();
    let impatient = client_timing_out_after(
        &sb,
        SANDBOX_WHATSAPP_TOKEN,
        "v23.0",
        SANDBOX_PHONE_NUMBER_ID,
        SHORT_TIMEOUT,
    );
    let outcome = impatient
        .send(&template("263771234567", "fees_due", &["x"]))
        .await;
    assert!(matches!(outcome, Outcome::RetryBackoff(_)), "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn the_handshake_succeeds_only_with_our_verify_token() {
    let sb = sandbox().await;
    let ours = Receiver::start(VERIFY_TOKEN).await;
    sb.whatsapp().verify_callback(&ours.url).await.unwrap();
    let theirs = Receiver::start("some-other-token").await;
    let refused = sb
        .whatsapp()
        .verify_callback(&theirs.url)
        .await
        .unwrap_err();
    assert!(refused.contains("403"), "{refused}");
}

#[tokio::test]
async fn a_tampered_webhook_body_fails_verification() {
    let (sb, mut rx) = wired().await;
    sb.whatsapp().user_message("263771234567", "Sawubona").await;
    let (signature, body) = rx.rx.recv().await.unwrap();
    let tampered = String::from_utf8(body.to_vec())
        .unwrap()
        .replace("Sawubona", "Sawubona!");
    assert_eq!(
        verify_signature(
            SANDBOX_APP_SECRET.as_bytes(),
            tampered.as_bytes(),
            signature.as_deref()
        ),
        Err(SignatureError::Mismatch)
    );
    assert_eq!(
        verify_signature(b"wrong-secret", &body, signature.as_deref()),
        Err(SignatureError::Mismatch)
    );
}
