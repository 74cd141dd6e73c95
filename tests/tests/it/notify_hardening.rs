//! Issue 9, notifications (H1, M4, H2, M3), through REST and WebSocket as a client sees them:
//! an `Idempotency-Key` is the sender's and is resolved before anything reaches an inbox; a large
//! fan-out is stored once and written in bounded transactions; nothing the hub sends breaks the
//! protocol's frame limits.

use std::collections::BTreeMap;

use futures_util::{SinkExt, StreamExt};
use oneclass_actors::Role;
use oneclass_hub::startup::JOURNAL_FILE;
use oneclass_protocol::client::Client;
use oneclass_protocol::command::Command;
use oneclass_protocol::event::Notification;
use oneclass_protocol::reply::History;
use oneclass_protocol::{Codec, Event, ServerFrame};
use oneclass_tests::{ch, metric, next_on, token, within, TestHub};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// The protocol's message limit (the hub's default `max_message_bytes`).
const MESSAGE_LIMIT: usize = 64 * 1024;

fn admin() -> String {
    token("a1", "s1", Role::Admin, &[])
}

async fn put_member(http: &reqwest::Client, hub: &TestHub, user: &str, classes: &[&str]) {
    let resp = http
        .put(hub.http_url(&format!("/v1/schools/s1/members/{user}")))
        .bearer_auth(admin())
        .json(
            &json!({"role": "parent", "classes": classes, "locale": "en",
                      "contacts": {"phone": "+263771234567"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

/// Posts a notification as the holder of `bearer`; the status and the JSON answer.
async fn notify(
    http: &reqwest::Client,
    hub: &TestHub,
    bearer: &str,
    key: &str,
    request: &Value,
) -> (u16, Value) {
    let resp = http
        .post(hub.http_url("/v1/notifications"))
        .bearer_auth(bearer)
        .header("Idempotency-Key", key)
        .json(request)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn to_users(users: &[&str], title: &str) -> Value {
    json!({"school": "s1", "to": {"users": users}, "kind": "notice", "title": title,
           "body": "please read", "data": {"n": 1}})
}

fn to_class(class: &str, title: &str) -> Value {
    json!({"school": "s1", "to": {"class": class}, "kind": "notice", "title": title,
           "body": "please read", "data": {"n": 1}})
}

/// The notifications in `user`'s inbox, by history.
async fn inbox(hub: &TestHub, user: &str) -> Vec<Notification> {
    let (mut c, _) = hub
        .connect(Codec::Json, &token(user, "s1", Role::Parent, &[]))
        .await;
    let history: History = c
        .request_ok(Command::History {
            channel: ch(&format!("user:s1:{user}")),
            before: None,
            limit: Some(200),
        })
        .await
        .unwrap();
    history
        .messages
        .into_iter()
        .map(|e| match e {
            Event::Notification(n) => n,
            other => panic!("not a notification: {other:?}"),
        })
        .collect()
}

/// `(stream, kind)` of every notification event in the hub's journal file.
fn journal_notification_events(hub: &TestHub) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(hub.data_dir.join(JOURNAL_FILE)).unwrap();
    let mut q = db
        .prepare("SELECT stream, kind FROM events WHERE kind LIKE 'notification.%' ORDER BY stream")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The next inbox event of `c` on `user`'s inbox, which must be a notification.
async fn next_notification(c: &mut Client, user: &str) -> Notification {
    match next_on(c, &format!("user:s1:{user}")).await.unwrap() {
        Event::Notification(n) => n,
        other => panic!("expected a notification, got {other:?}"),
    }
}

/// A parent connected with its inbox live (its `synced` read).
async fn live_inbox(hub: &TestHub, user: &str) -> Client {
    let (mut c, _) = hub
        .connect(Codec::Json, &token(user, "s1", Role::Parent, &[]))
        .await;
    assert!(matches!(
        next_on(&mut c, &format!("user:s1:{user}")).await.unwrap(),
        Event::Synced { .. }
    ));
    c
}

#[tokio::test]
async fn a_conflicting_key_answers_409_and_appends_nothing_for_anyone() {
    let hub = TestHub::spawn();
    let http = reqwest::Client::new();
    let mut bystander = live_inbox(&hub, "p9").await;
    let (status, first) = notify(&http, &hub, &admin(), "k1", &to_users(&["p1"], "Fees")).await;
    assert_eq!(status, 202);
    let before = journal_notification_events(&hub);

    let evacuate = to_users(&["p1", "p9"], "EVACUATE");
    let (status, answer) = notify(&http, &hub, &admin(), "k1", &evacuate).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(
        journal_notification_events(&hub),
        before,
        "the journal is unchanged"
    );

    // The bystander's next inbox event is a later marker, not the conflicting notice.
    let (status, _) = notify(&http, &hub, &admin(), "k2", &to_users(&["p9"], "marker")).await;
    assert_eq!(status, 202);
    assert_eq!(
        next_notification(&mut bystander, "p9").await.title,
        "marker"
    );
    let titles: Vec<String> = inbox(&hub, "p9")
        .await
        .into_iter()
        .map(|n| n.title)
        .collect();
    assert_eq!(titles, ["marker"]);
    let p1: Vec<String> = inbox(&hub, "p1")
        .await
        .into_iter()
        .map(|n| n.title)
        .collect();
    assert_eq!(p1, ["Fees"]);
    assert!(first["notification_id"].is_string());
}

#[tokio::test]
async fn a_same_key_retry_after_the_class_gained_a_member_reaches_nobody_new() {
    let hub = TestHub::spawn();
    let http = reqwest::Client::new();
    put_member(&http, &hub, "p1", &["c1"]).await;
    let (status, first) = notify(&http, &hub, &admin(), "k1", &to_class("c1", "Trip")).await;
    assert_eq!((status, first["recipients"].as_u64()), (202, Some(1)));
    put_member(&http, &hub, "p2", &["c1"]).await;

    let (status, again) = notify(&http, &hub, &admin(), "k1", &to_class("c1", "Trip")).await;
    assert_eq!(status, 202);
    assert_eq!(again, first, "the first id and recipient count");
    assert!(inbox(&hub, "p2").await.is_empty());
    assert_eq!(inbox(&hub, "p1").await.len(), 1);
}

#[tokio::test]
async fn two_senders_using_one_key_send_two_independent_notifications() {
    let hub = TestHub::spawn();
    let http = reqwest::Client::new();
    put_member(&http, &hub, "p1", &["c1"]).await;
    let teacher = token("t1", "s1", Role::Teacher, &["c1"]);
    let (s1, from_teacher) =
        notify(&http, &hub, &teacher, "same", &to_class("c1", "Homework")).await;
    let (s2, from_admin) = notify(&http, &hub, &admin(), "same", &to_class("c1", "Closure")).await;
    assert_eq!((s1, s2), (202, 202), "{from_admin}");
    assert_ne!(
        from_teacher["notification_id"],
        from_admin["notification_id"]
    );
    let titles: Vec<String> = inbox(&hub, "p1")
        .await
        .into_iter()
        .map(|n| n.title)
        .collect();
    assert_eq!(titles, ["Homework", "Closure"]);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_make_one_notification() {
    let hub = TestHub::spawn();
    let http = reqwest::Client::new();
    let request = to_users(&["p1", "p2", "p3"], "Once");
    let bearer = admin();
    let answers = futures_util::future::join_all(
        (0..8).map(|_| notify(&http, &hub, &bearer, "k1", &request)),
    )
    .await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(status, a)| {
            assert_eq!(*status, 202, "{a}");
            a["notification_id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    for user in ["p1", "p2", "p3"] {
        assert_eq!(inbox(&hub, user).await.len(), 1, "{user}");
    }
    let created = journal_notification_events(&hub)
        .into_iter()
        .filter(|(_, kind)| kind == "notification.created")
        .count();
    assert_eq!(created, 1);
}

fn nested(levels: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..levels {
        v = json!({ "a": v });
    }
    v
}

#[tokio::test]
async fn oversized_or_deep_data_and_deep_publish_bodies_are_refused() {
    let hub = TestHub::spawn();
    let http = reqwest::Client::new();
    let mut cases = vec![
        ("deep", nested(100)),
        ("large", json!({"s": "x".repeat(100_000)})),
    ];
    cases.push(("one level too deep", nested(17)));
    for (what, data) in cases {
        let mut request = to_users(&["p1"], "t");
        request["data"] = data;
        let (status, answer) = notify(&http, &hub, &admin(), what, &request).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], "bad_request", "{what}: {answer}");
    }
    // A body that JSON-escapes to more than one message.
    let mut request = to_users(&["p1"], "t");
    request["body"] = json!("\u{1}".repeat(16 * 1024));
    let (status, _) = notify(&http, &hub, &admin(), "escaped", &request).await;
    assert_eq!(status, 400);
    assert!(inbox(&hub, "p1").await.is_empty());

    // A publish body deep enough that a `history` or `channels` frame would nest past 64.
    let (mut t, _) = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    let body = match nested(62) {
        Value::Object(body) => body,
        _ => unreachable!(),
    };
    let reply = t
        .request(Command::Publish {
            channel: ch("class:s1:c1"),
            body,
            client_msg_id: None,
        })
        .await
        .unwrap();
    assert_eq!(
        reply.error.map(|e| e.code),
        Some(oneclass_protocol::ErrorCode::BadRequest)
    );
}

/// A raw socket that keeps every frame's bytes, to check them against the protocol's limits.
struct RawClient {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl RawClient {
    async fn connect(hub: &TestHub, token: &str) -> Self {
        let mut request = hub.ws_url().into_client_request().unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(Codec::Json.subprotocol()),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut c = Self { socket };
        c.send(json!({"op": "connect", "id": 1, "token": token}))
            .await;
        c
    }

    async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::text(frame.to_string()))
            .await
            .unwrap();
    }

    /// Frames until the reply to `id`, each checked: within the message limit and decodable by
    /// the project's own decoder.
    async fn frames_until_reply(&mut self, id: u32) -> Vec<ServerFrame> {
        let mut out = Vec::new();
        loop {
            let message = within(20, self.socket.next()).await.unwrap().unwrap();
            let Message::Text(text) = message else {
                continue;
            };
            assert!(
                text.len() <= MESSAGE_LIMIT,
                "a frame of {} bytes: {}…",
                text.len(),
                &text[..200]
            );
            let frame = Codec::Json
                .decode_server_frame(text.as_bytes())
                .unwrap_or_else(|e| panic!("the hub sent an undecodable frame: {e}"));
            let done = matches!(&frame, ServerFrame::Reply(r) if r.id == id);
            out.push(frame);
            if done {
                return out;
            }
        }
    }
}

#[tokio::test]
async fn no_frame_the_hub_sends_breaks_the_protocols_limits() {
    let hub = TestHub::spawn();
    let http = reqwest::Client::new();
    let (mut t, _) = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    // Sixty messages near the body limit, and the deepest body a publish accepts.
    for n in 0..60 {
        let reply = t
            .request(Command::Publish {
                channel: ch("class:s1:c1"),
                body: json!({"text": format!("{n} {}", "x".repeat(15_000))})
                    .as_object()
                    .cloned()
                    .unwrap(),
                client_msg_id: None,
            })
            .await
            .unwrap();
        assert!(reply.error.is_none(), "{reply:?}");
    }
    for depth in [58, 59] {
        let body = match nested(depth) {
            Value::Object(body) => body,
            _ => unreachable!(),
        };
        let reply = t
            .request(Command::Publish {
                channel: ch("class:s1:c1"),
                body,
                client_msg_id: None,
            })
            .await
            .unwrap();
        assert!(reply.error.is_none(), "depth {depth}: {reply:?}");
    }
    // The largest notification data allows.
    let mut request = to_users(&["p1"], "Report");
    request["data"] = json!({"s": "y".repeat(8_000)});
    assert_eq!(notify(&http, &hub, &admin(), "big", &request).await.0, 202);

    let mut p = RawClient::connect(&hub, &token("p1", "s1", Role::Parent, &["c1"])).await;
    p.frames_until_reply(1).await;
    p.send(json!({"op": "subscribe", "id": 2, "channel": "class:s1:c1", "since": 0}))
        .await;
    p.frames_until_reply(2).await;
    let mut history_pages = 0;
    let mut before: Option<u64> = None;
    loop {
        let id = 10 + history_pages;
        let mut frame = json!({"op": "history", "id": id, "channel": "class:s1:c1", "limit": 200});
        if let Some(b) = before {
            frame["before"] = json!(b);
        }
        p.send(frame).await;
        let frames = p.frames_until_reply(id).await;
        let ServerFrame::Reply(reply) = frames.last().unwrap() else {
            unreachable!()
        };
        let page: History = reply.ok_as().unwrap();
        history_pages += 1;
        before = page.messages.first().and_then(Event::seq);
        if !page.has_more {
            break;
        }
    }
    assert!(history_pages > 1, "a page of 62 large messages is split");
    p.send(json!({"op": "channels", "id": 100})).await;
    p.frames_until_reply(100).await;
    p.send(json!({"op": "history", "id": 101, "channel": "user:s1:p1"}))
        .await;
    p.frames_until_reply(101).await;
    let metrics = hub.metrics_text().await;
    assert_eq!(
        metric(&metrics, "oneclass_frames_withheld_total"),
        Some(0.0)
    );
}

#[tokio::test]
async fn a_notification_to_10000_users_is_split_stored_once_and_read_in_full_live_and_on_resume() {
    let hub = TestHub::spawn();
    let http = reqwest::Client::new();
    let users: Vec<String> = (0..10_000).map(|i| format!("u{i:05}")).collect();
    let live_users = ["u00000", "u05000", "u09999"];
    let mut live = Vec::new();
    for user in live_users {
        live.push(live_inbox(&hub, user).await);
    }
    let data = json!({"report": "r".repeat(8_000)});
    let request = json!({"school": "s1", "to": {"users": users}, "kind": "exam.results",
                         "title": "Results", "body": "Term results are out", "data": data});
    let journal = hub.data_dir.join(JOURNAL_FILE);
    let size_before = journal_bytes(&journal);
    let (status, answer) = notify(&http, &hub, &admin(), "results", &request).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["recipients"], 10_000);
    let db = rusqlite::Connection::open(&journal).unwrap();
    let payloads: i64 = db
        .query_row("SELECT SUM(LENGTH(payload)) FROM events", [], |r| r.get(0))
        .unwrap();
    eprintln!(
        "10,000 recipients: journal files grew by {} bytes; payload bytes stored: {payloads}",
        journal_bytes(&journal).saturating_sub(size_before)
    );

    for (c, user) in live.iter_mut().zip(live_users) {
        let n = next_notification(c, user).await;
        assert_eq!((n.title.as_str(), n.seq), ("Results", 1));
        assert_eq!(Value::Object(n.data), data);
    }
    for user in ["u00001", "u04999", "u09998"] {
        let resume = BTreeMap::from([(format!("user:s1:{user}"), 0)]);
        let (mut c, _) = hub
            .resume(
                Codec::MsgPack,
                &token(user, "s1", Role::Parent, &[]),
                resume,
            )
            .await
            .unwrap();
        let n = next_notification(&mut c, user).await;
        assert_eq!(n.title, "Results");
        assert_eq!(Value::Object(n.data), data);
    }

    // Split: every journal batch of the school held at most 1024 events (the default chunk is
    // 500), and there were at least 10,000 / 500 of them.
    let metrics = hub.metrics_text().await;
    let count = metric(&metrics, "oneclass_journal_batch_size_count").unwrap();
    let small: f64 = metrics
        .lines()
        .find(|l| l.starts_with("oneclass_journal_batch_size_bucket{le=\"1024"))
        .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
        .unwrap_or_else(|| panic!("no 1024 bucket in {metrics}"));
    assert_eq!(small, count, "a batch of more than 1024 events was written");
    assert!(count >= 20.0, "{count} batches");
}

/// The journal's bytes on disk: the database and its write-ahead log.
fn journal_bytes(path: &std::path::Path) -> u64 {
    let wal = path.with_file_name(format!(
        "{}-wal",
        path.file_name().unwrap().to_string_lossy()
    ));
    [path.to_owned(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}
