//! Close codes: bad tokens, late or missing `connect`, expiry and refresh, undecodable, wrong-type
//! and oversized frames; and the errors that do not close the connection.

use std::collections::BTreeMap;
use std::time::Duration;

use oneclass_actors::Role;
use oneclass_hub::auth::{mint, now_s};
use oneclass_protocol::client::Client;
use oneclass_protocol::command::{Body, Command};
use oneclass_protocol::reply::{Empty, Refreshed};
use oneclass_protocol::{Codec, ErrorCode, ServerFrame};
use oneclass_tests::{ch, claims, token, within, TestHub, SECRET};
use tokio_tungstenite::tungstenite::Message;

/// Opens a connection, sends `connect` with `token`, and returns the close code.
async fn close_code_for_token(hub: &TestHub, token: &str) -> Option<u16> {
    let mut c = Client::open(&hub.ws_url(), Codec::Json).await.unwrap();
    c.send(Command::Connect {
        token: token.to_owned(),
        resume: BTreeMap::new(),
    })
    .await
    .unwrap();
    within(10, c.closed()).await
}

async fn connected(hub: &TestHub, codec: Codec) -> Client {
    hub.connect(codec, &token("p1", "s1", Role::Parent, &["c1"]))
        .await
        .0
}

async fn ping(c: &mut Client) {
    let _: Empty = within(10, c.request_ok(Command::Ping)).await.unwrap();
}

#[tokio::test]
async fn an_expired_token_closes_with_4001() {
    let hub = TestHub::spawn();
    let mut c = claims("p1", "s1", Role::Parent, &["c1"]);
    c.exp = now_s() - 60;
    c.iat = now_s() - 120;
    assert_eq!(
        close_code_for_token(&hub, &mint(SECRET, &c)).await,
        Some(4001)
    );
}

#[tokio::test]
async fn a_token_for_another_audience_closes_with_4001() {
    let hub = TestHub::spawn();
    let mut c = claims("p1", "s1", Role::Parent, &["c1"]);
    c.aud = "some-other-service".into();
    assert_eq!(
        close_code_for_token(&hub, &mint(SECRET, &c)).await,
        Some(4001)
    );
}

#[tokio::test]
async fn a_token_signed_with_another_secret_closes_with_4001() {
    let hub = TestHub::spawn();
    let c = claims("p1", "s1", Role::Parent, &["c1"]);
    let forged = mint("not-the-hub-secret-0123456789", &c);
    assert_eq!(close_code_for_token(&hub, &forged).await, Some(4001));
}

#[tokio::test]
async fn an_unsigned_alg_none_token_closes_with_4001() {
    use base64::Engine;
    let hub = TestHub::spawn();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let c = claims("a1", "s1", Role::Admin, &["c1"]);
    let none = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(serde_json::to_vec(&c).unwrap())
    );
    assert_eq!(close_code_for_token(&hub, &none).await, Some(4001));
}

#[tokio::test]
async fn no_connect_within_the_connect_timeout_closes_with_4001() {
    let hub = TestHub::spawn_with(|s| s.limits.connect_timeout = Duration::from_millis(300));
    let mut c = Client::open(&hub.ws_url(), Codec::Json).await.unwrap();
    assert_eq!(within(5, c.closed()).await, Some(4001));
}

#[tokio::test]
async fn a_first_message_that_is_not_connect_closes_with_4001() {
    let hub = TestHub::spawn();
    let mut c = Client::open(&hub.ws_url(), Codec::Json).await.unwrap();
    c.send(Command::Ping).await.unwrap();
    assert_eq!(within(10, c.closed()).await, Some(4001));
}

#[tokio::test]
async fn a_token_that_expires_without_refresh_closes_with_4002() {
    let hub = TestHub::spawn();
    let mut short = claims("p1", "s1", Role::Parent, &["c1"]);
    short.exp = now_s() + 2;
    let (mut c, _) = hub.connect(Codec::Json, &mint(SECRET, &short)).await;
    assert_eq!(within(10, c.closed()).await, Some(4002));
}

#[tokio::test]
async fn a_token_refreshed_in_time_keeps_the_connection_open() {
    let hub = TestHub::spawn();
    let mut short = claims("p1", "s1", Role::Parent, &["c1"]);
    short.exp = now_s() + 2;
    let (mut c, _) = hub.connect(Codec::Json, &mint(SECRET, &short)).await;
    let longer = claims("p1", "s1", Role::Parent, &["c1"]);
    let refreshed: Refreshed = c
        .request_ok(Command::Refresh {
            token: mint(SECRET, &longer),
        })
        .await
        .unwrap();
    assert_eq!(refreshed.exp, longer.exp);
    // Well past the first token's expiry, the connection is still open and answers.
    let closed = tokio::time::timeout(Duration::from_secs(4), c.closed()).await;
    assert!(closed.is_err(), "closed with {:?}", closed.ok());
    ping(&mut c).await;
}

#[tokio::test]
async fn invalid_json_text_closes_with_1007() {
    let hub = TestHub::spawn();
    let mut c = connected(&hub, Codec::Json).await;
    c.send_message(Message::Text(r#"{"op": "ping", "id": 1"#.into()))
        .await
        .unwrap();
    assert_eq!(within(10, c.closed()).await, Some(1007));
}

#[tokio::test]
async fn invalid_messagepack_with_a_bin_value_closes_with_1007() {
    let hub = TestHub::spawn();
    let mut c = connected(&hub, Codec::MsgPack).await;
    // {"op": "ping", "x": bin(1 2 3)}: bin is not a type of the protocol.
    let mut frame = vec![0x82, 0xa2, b'o', b'p', 0xa4, b'p', b'i', b'n', b'g'];
    frame.extend([0xa1, b'x', 0xc4, 0x03, 1, 2, 3]);
    c.send_message(Message::Binary(frame.into())).await.unwrap();
    assert_eq!(within(10, c.closed()).await, Some(1007));
}

#[tokio::test]
async fn a_binary_frame_on_a_json_connection_closes_with_1003() {
    let hub = TestHub::spawn();
    let mut c = connected(&hub, Codec::Json).await;
    c.send_message(Message::Binary(br#"{"op":"ping","id":1}"#.to_vec().into()))
        .await
        .unwrap();
    assert_eq!(within(10, c.closed()).await, Some(1003));
}

#[tokio::test]
async fn a_message_over_64_kib_closes_with_1009() {
    let hub = TestHub::spawn();
    let mut c = connected(&hub, Codec::Json).await;
    let text = format!(
        r#"{{"op":"publish","id":1,"channel":"class:s1:c1","body":{{"text":"{}"}}}}"#,
        "x".repeat(70 * 1024)
    );
    c.send_message(Message::Text(text.into())).await.unwrap();
    assert_eq!(within(10, c.closed()).await, Some(1009));
}

#[tokio::test]
async fn a_body_over_16_kib_gets_too_large_and_the_connection_lives_on() {
    let hub = TestHub::spawn();
    let mut c = connected(&hub, Codec::MsgPack).await;
    let err = c
        .publish(&ch("class:s1:c1"), &"y".repeat(20 * 1024), Some("big"))
        .await
        .unwrap_err();
    assert_eq!(err.error_body().unwrap().code, ErrorCode::TooLarge);
    ping(&mut c).await;
    let ok = c
        .publish(&ch("class:s1:c1"), "small", Some("small"))
        .await
        .unwrap();
    assert_eq!(ok.seq, 1, "the refused body took no seq");
}

/// Reads frames until the reply with `id`.
async fn reply_to(c: &mut Client, id: u32) -> oneclass_protocol::Reply {
    loop {
        match within(10, c.read_frame()).await.unwrap() {
            ServerFrame::Reply(r) if r.id == id => return r,
            _ => continue,
        }
    }
}

#[tokio::test]
async fn an_unknown_op_and_a_missing_field_get_bad_request_with_their_id_and_ping_still_works() {
    let hub = TestHub::spawn();
    for codec in [Codec::Json, Codec::MsgPack] {
        let mut c = connected(&hub, codec).await;
        let unknown = serde_json::json!({"op": "dance", "id": 41});
        c.send_bytes(codec.encode(&unknown).to_vec()).await.unwrap();
        let r = reply_to(&mut c, 41).await;
        assert_eq!(
            r.error.as_ref().map(|e| e.code),
            Some(ErrorCode::BadRequest)
        );
        assert!(r.ok.is_none());

        let no_body = serde_json::json!({"op": "publish", "id": 42, "channel": "class:s1:c1"});
        c.send_bytes(codec.encode(&no_body).to_vec()).await.unwrap();
        let r = reply_to(&mut c, 42).await;
        let error = r.error.expect("an error reply");
        assert_eq!(error.code, ErrorCode::BadRequest);
        assert!(error.message.contains("body"), "{}", error.message);

        let no_seq = serde_json::json!({"op": "read", "id": 43, "channel": "class:s1:c1"});
        c.send_bytes(codec.encode(&no_seq).to_vec()).await.unwrap();
        let r = reply_to(&mut c, 43).await;
        assert_eq!(r.error.map(|e| e.code), Some(ErrorCode::BadRequest));
        ping(&mut c).await;
        let mut body = Body::new();
        body.insert("text".into(), "still here".into());
        c.request_ok::<serde_json::Value>(Command::Publish {
            channel: ch("class:s1:c1"),
            body,
            client_msg_id: None,
        })
        .await
        .unwrap();
    }
}
