//! Tenancy and permissions: other schools, classes outside the token, DMs of others, inboxes,
//! and the REST API's authorisation and input errors.

use oneclass_actors::Role;
use oneclass_protocol::client::ClientError;
use oneclass_protocol::command::Command;
use oneclass_protocol::reply::History;
use oneclass_protocol::{Codec, ErrorCode};
use oneclass_tests::{ch, token, TestHub};
use serde_json::json;

fn code(e: ClientError) -> ErrorCode {
    e.error_body()
        .unwrap_or_else(|| panic!("expected an error reply, got {e}"))
        .code
}

fn history(channel: &str) -> Command {
    Command::History {
        channel: ch(channel),
        before: None,
        limit: None,
    }
}

#[tokio::test]
async fn another_schools_user_is_forbidden_to_subscribe_publish_and_read_history() {
    let hub = TestHub::spawn();
    let class = ch("class:s1:c1");
    let (mut t, _) = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    t.publish(&class, "for s1 only", Some("m1")).await.unwrap();
    for role in [Role::Teacher, Role::Admin, Role::Parent] {
        let (mut other, _) = hub
            .connect(Codec::Json, &token("t1", "s2", role, &["c1"]))
            .await;
        assert_eq!(
            code(other.subscribe(&class, Some(0)).await.unwrap_err()),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(other.publish(&class, "hi", None).await.unwrap_err()),
            ErrorCode::Forbidden
        );
        assert_eq!(
            code(
                other
                    .request_ok::<History>(history("class:s1:c1"))
                    .await
                    .unwrap_err()
            ),
            ErrorCode::Forbidden
        );
    }
}

#[tokio::test]
async fn a_parent_cannot_subscribe_to_a_class_that_is_not_in_the_token() {
    let hub = TestHub::spawn();
    let (mut p, _) = hub
        .connect(Codec::MsgPack, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    assert_eq!(
        code(p.subscribe(&ch("class:s1:c2"), None).await.unwrap_err()),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            p.request_ok::<History>(history("class:s1:c2"))
                .await
                .unwrap_err()
        ),
        ErrorCode::Forbidden
    );
    // Its own class works on the same connection.
    p.subscribe(&ch("class:s1:c1"), None).await.unwrap();
}

#[tokio::test]
async fn a_third_user_cannot_read_or_write_a_dm_of_two_others() {
    let hub = TestHub::spawn();
    let dm = ch("dm:s1:a:b");
    let (mut a, _) = hub
        .connect(Codec::Json, &token("a", "s1", Role::Parent, &[]))
        .await;
    a.publish(&dm, "private", None).await.unwrap();
    let (mut c, _) = hub
        .connect(Codec::Json, &token("c", "s1", Role::Teacher, &["c1"]))
        .await;
    assert_eq!(
        code(c.subscribe(&dm, Some(0)).await.unwrap_err()),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(
            c.request_ok::<History>(history("dm:s1:a:b"))
                .await
                .unwrap_err()
        ),
        ErrorCode::Forbidden
    );
    assert_eq!(
        code(c.publish(&dm, "let me in", None).await.unwrap_err()),
        ErrorCode::Forbidden
    );
    // Even an admin of the school is not a party to the DM.
    let (mut admin, _) = hub
        .connect(Codec::Json, &token("adm", "s1", Role::Admin, &[]))
        .await;
    assert_eq!(
        code(admin.subscribe(&dm, Some(0)).await.unwrap_err()),
        ErrorCode::Forbidden
    );
}

#[tokio::test]
async fn nobody_not_even_an_admin_or_the_owner_can_publish_into_a_user_inbox() {
    let hub = TestHub::spawn();
    let inbox = ch("user:s1:p1");
    for (user, role) in [
        ("a1", Role::Admin),
        ("t1", Role::Teacher),
        ("p1", Role::Parent),
        ("svc", Role::Service),
    ] {
        let (mut c, _) = hub
            .connect(Codec::Json, &token(user, "s1", role, &["c1"]))
            .await;
        assert_eq!(
            code(c.publish(&inbox, "spoofed notice", None).await.unwrap_err()),
            ErrorCode::Forbidden,
            "{user} published into an inbox"
        );
    }
}

#[tokio::test]
async fn roster_calls_by_a_parent_or_another_schools_admin_get_403() {
    let hub = TestHub::spawn();
    let http = reqwest::Client::new();
    let parent = token("p1", "s1", Role::Parent, &["c1"]);
    let other_admin = token("a9", "s2", Role::Admin, &[]);
    let member = json!({"role": "parent", "classes": ["c1"]});
    for bearer in [&parent, &other_admin] {
        let list = http
            .get(hub.http_url("/v1/schools/s1/members"))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(list.status(), 403);
        let body: serde_json::Value = list.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden");
        let put = http
            .put(hub.http_url("/v1/schools/s1/members/p2"))
            .bearer_auth(bearer)
            .json(&member)
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 403);
        let get = http
            .get(hub.http_url("/v1/schools/s1/members/p1"))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), 403);
        let delete = http
            .delete(hub.http_url("/v1/schools/s1/members/p1"))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(delete.status(), 403);
    }
}

#[tokio::test]
async fn a_notification_request_without_an_idempotency_key_gets_400() {
    let hub = TestHub::spawn();
    let resp = reqwest::Client::new()
        .post(hub.http_url("/v1/notifications"))
        .bearer_auth(token("a1", "s1", Role::Admin, &[]))
        .json(
            &json!({"school": "s1", "to": {"class": "c1"}, "kind": "event",
                      "title": "Sports day", "body": "Friday"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "bad_request");
}

#[tokio::test]
async fn a_malformed_json_body_gets_400_with_a_bad_request_error() {
    let hub = TestHub::spawn();
    let http = reqwest::Client::new();
    let admin = token("a1", "s1", Role::Admin, &[]);
    for (method, path) in [
        (reqwest::Method::PUT, "/v1/schools/s1/members/p1"),
        (reqwest::Method::POST, "/v1/notifications"),
    ] {
        let resp = http
            .request(method, hub.http_url(path))
            .bearer_auth(&admin)
            .header("Idempotency-Key", "k1")
            .header("Content-Type", "application/json")
            .body(r#"{"role": "parent", "classes": ["c1"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{path}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_request", "{path}: {body}");
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
    }
}
