//! Who a WebSocket connection is and what it may do (issue 9: M2, L6, L9), through the public
//! interface only: a `refresh` re-checks every subscription; a token whose ids the hub cannot use
//! is refused on the WebSocket (4001) and on REST (401); an analyst token opens no session.
//!
//! "Nothing of a channel arrives" is proved by order, never by waiting: the publisher writes the
//! channel, then (after its reply) a fence message on a channel the subscriber still holds. The
//! school fans a commit out before it answers the publisher, and a session's queue is FIFO, so
//! a subscriber that reaches the fence without the first message was never sent it, while a
//! control subscriber shows that the message was delivered.

use std::collections::{BTreeMap, BTreeSet};

use oneclass_actors::Role;
use oneclass_hub::auth::mint;
use oneclass_protocol::client::Client;
use oneclass_protocol::command::Command;
use oneclass_protocol::reply::{Refreshed, ServerFrame};
use oneclass_protocol::token::Claims;
use oneclass_protocol::{Codec, ErrorCode, Event};
use oneclass_tests::{ch, claims, next_on, token, within, TestHub, SECRET};
use serde_json::Value;

const C7: &str = "class:s1:c7";
const C8: &str = "class:s1:c8";

/// A connected client (JSON) for `user` of school s1.
async fn connect(hub: &TestHub, user: &str, role: Role, classes: &[&str]) -> Client {
    hub.connect(Codec::Json, &token(user, "s1", role, classes))
        .await
        .0
}

/// Subscribes live (no `since`) and waits for the channel's `synced`, so the subscription is live.
async fn subscribe_live(c: &mut Client, channel: &str) {
    within(10, c.subscribe(&ch(channel), None)).await.unwrap();
    match next_on(c, channel).await.unwrap() {
        Event::Synced { .. } => {}
        other => panic!("expected synced on {channel}, got {other:?}"),
    }
}

/// The text of a `msg` event.
fn text(event: &Event) -> Option<&str> {
    match event {
        Event::Msg(m) => m.body.get("text").and_then(Value::as_str),
        _ => None,
    }
}

/// Reads `c`'s events up to the `msg` with text `fence` on `fence_channel`, failing on any
/// event of `silent` on the way.
async fn nothing_of_until_fence(c: &mut Client, silent: &str, fence_channel: &str, fence: &str) {
    loop {
        let event = within(10, c.next_event()).await.unwrap();
        assert_ne!(
            event.channel(),
            Some(silent),
            "an event of the ended channel arrived: {event:?}"
        );
        if event.channel() == Some(fence_channel) && text(&event) == Some(fence) {
            return;
        }
    }
}

/// Publishes `text` on `channel` and waits for the reply.
async fn publish(c: &mut Client, channel: &str, text: &str) {
    within(10, c.publish(&ch(channel), text, None))
        .await
        .unwrap();
}

async fn refresh(c: &mut Client, token: String) -> Result<Refreshed, ErrorCode> {
    within(10, c.request_ok::<Refreshed>(Command::Refresh { token }))
        .await
        .map_err(|e| e.error_body().expect("an error reply").code)
}

/// The next `error` event, skipping presence and other events that interleave freely.
async fn next_error(c: &mut Client) -> (ErrorCode, Option<String>) {
    loop {
        if let Event::Error { code, channel, .. } = within(10, c.next_event()).await.unwrap() {
            return (code, channel);
        }
    }
}

/// Opens a socket, sends `connect` with `token` (and any `then` commands in the same write),
/// and returns the close code, failing if any command was answered.
async fn close_code_for_token(hub: &TestHub, token: &str, then: Vec<Command>) -> Option<u16> {
    let mut c = Client::open(&hub.ws_url(), Codec::Json).await.unwrap();
    let mut commands = vec![Command::Connect {
        token: token.to_owned(),
        resume: BTreeMap::from([("school:s1:announcements".to_owned(), 0)]),
    }];
    commands.extend(then);
    c.send_pipelined(commands).await.unwrap();
    match within(10, c.read_frame()).await {
        Ok(frame) => panic!("a refused connection was answered: {frame:?}"),
        Err(e) => e.close_code(),
    }
}

#[tokio::test]
async fn a_refresh_without_a_class_ends_its_subscription_with_an_error_and_nothing_of_it_follows() {
    let hub = TestHub::spawn();
    let mut teacher = connect(&hub, "t1", Role::Teacher, &["c7", "c8"]).await;
    let mut control = connect(&hub, "p2", Role::Parent, &["c7"]).await;
    subscribe_live(&mut control, C7).await;
    let mut p1 = connect(&hub, "p1", Role::Parent, &["c7", "c8"]).await;
    subscribe_live(&mut p1, C7).await;
    subscribe_live(&mut p1, C8).await;
    publish(&mut teacher, C7, "before").await;
    assert_eq!(text(&next_on(&mut p1, C7).await.unwrap()), Some("before"));
    assert_eq!(
        text(&next_on(&mut control, C7).await.unwrap()),
        Some("before")
    );

    refresh(&mut p1, token("p1", "s1", Role::Parent, &["c8"]))
        .await
        .unwrap();
    // The error event comes before the refresh reply; `request_ok` kept it.
    assert_eq!(
        next_error(&mut p1).await,
        (ErrorCode::Forbidden, Some(C7.to_owned()))
    );

    publish(&mut teacher, C7, "after").await;
    publish(&mut teacher, C8, "fence").await;
    assert_eq!(
        text(&next_on(&mut control, C7).await.unwrap()),
        Some("after"),
        "the message was delivered to those still allowed"
    );
    nothing_of_until_fence(&mut p1, C7, C8, "fence").await;
    // The channel is refused from now on, subscribe included.
    let err = within(10, p1.subscribe(&ch(C7), None)).await.unwrap_err();
    assert_eq!(err.error_body().unwrap().code, ErrorCode::Forbidden);
}

#[tokio::test]
async fn a_refresh_that_keeps_the_class_keeps_its_subscription() {
    let hub = TestHub::spawn();
    let mut teacher = connect(&hub, "t1", Role::Teacher, &["c7"]).await;
    let mut p1 = connect(&hub, "p1", Role::Parent, &["c7"]).await;
    subscribe_live(&mut p1, C7).await;
    refresh(&mut p1, token("p1", "s1", Role::Parent, &["c7", "c9"]))
        .await
        .unwrap();
    publish(&mut teacher, C7, "still here").await;
    // `next_on` returns an error event too, so an ended subscription would show here.
    assert_eq!(
        text(&next_on(&mut p1, C7).await.unwrap()),
        Some("still here")
    );
}

#[tokio::test]
async fn a_subscribe_in_flight_when_a_refresh_ends_it_delivers_nothing_after_its_notice() {
    let hub = TestHub::spawn();
    let mut teacher = connect(&hub, "t1", Role::Teacher, &["c7", "c8"]).await;
    publish(&mut teacher, C7, "old").await;
    let mut p1 = connect(&hub, "p1", Role::Parent, &["c7", "c8"]).await;
    subscribe_live(&mut p1, C8).await;
    // One write, so the session reads the refresh before the school answers the subscribe.
    let ids = p1
        .send_pipelined(vec![
            Command::Subscribe {
                channel: ch(C7),
                since: Some(0),
            },
            Command::Refresh {
                token: token("p1", "s1", Role::Parent, &["c8"]),
            },
        ])
        .await
        .unwrap();
    let (sub_id, refresh_id) = (ids[0], ids[1]);
    let mut unanswered = BTreeSet::from([sub_id, refresh_id]);
    // Whichever came first, the school's answer or the refresh, the channel's end is said
    // once: a `forbidden` answer to the subscribe, or an `error` event naming the channel.
    let mut ended = false;
    while !unanswered.is_empty() {
        match within(10, p1.read_frame()).await.unwrap() {
            ServerFrame::Reply(reply) => {
                assert!(unanswered.remove(&reply.id), "answered twice: {reply:?}");
                if reply.id == refresh_id {
                    assert!(reply.error.is_none(), "{reply:?}");
                } else if let Some(error) = reply.error {
                    assert_eq!(error.code, ErrorCode::Forbidden);
                    ended = true;
                }
            }
            ServerFrame::Event(Event::Error { code, channel, .. }) => {
                assert_eq!((code, channel.as_deref()), (ErrorCode::Forbidden, Some(C7)));
                ended = true;
            }
            ServerFrame::Event(event) => assert!(
                !(ended && event.channel() == Some(C7)),
                "an event of the ended channel after its end: {event:?}"
            ),
        }
    }
    assert!(ended, "the subscription of {C7} was not ended");
    publish(&mut teacher, C7, "after").await;
    publish(&mut teacher, C8, "fence").await;
    nothing_of_until_fence(&mut p1, C7, C8, "fence").await;
}

#[tokio::test]
async fn a_refresh_to_another_user_or_an_unusable_token_is_refused_and_changes_nothing() {
    let hub = TestHub::spawn();
    let mut teacher = connect(&hub, "t1", Role::Teacher, &["c7"]).await;
    let mut p1 = connect(&hub, "p1", Role::Parent, &["c7"]).await;
    subscribe_live(&mut p1, C7).await;
    let mut bad_class = claims("p1", "s1", Role::Parent, &["c8"]);
    bad_class.classes.push("c:9".into());
    for (refused, code) in [
        (
            token("p9", "s1", Role::Parent, &[]),
            ErrorCode::Unauthorized,
        ),
        (
            token("p1", "s2", Role::Parent, &[]),
            ErrorCode::Unauthorized,
        ),
        (mint(SECRET, &bad_class), ErrorCode::Unauthorized),
        (token("p1", "s1", Role::Analyst, &[]), ErrorCode::Forbidden),
    ] {
        assert_eq!(refresh(&mut p1, refused).await.unwrap_err(), code);
    }
    publish(&mut teacher, C7, "kept").await;
    assert_eq!(text(&next_on(&mut p1, C7).await.unwrap()), Some("kept"));
}

/// Claims for p1 of s1 with one id made unusable, named for the assertion message.
fn unusable_claims() -> Vec<(&'static str, Claims)> {
    let base = || claims("p1", "s1", Role::Parent, &["c7"]);
    let with = |f: fn(&mut Claims)| {
        let mut c = base();
        f(&mut c);
        c
    };
    vec![
        ("empty sub", with(|c| c.sub = String::new())),
        ("600-character sub", with(|c| c.sub = "x".repeat(600))),
        ("sub with a colon", with(|c| c.sub = "a:b".into())),
        ("sub system", with(|c| c.sub = "system".into())),
        ("sub SYSTEM", with(|c| c.sub = "SYSTEM".into())),
        ("school with a colon", with(|c| c.school = "s1:x".into())),
        ("empty school", with(|c| c.school = String::new())),
        ("class with a space", with(|c| c.classes.push("c 8".into()))),
        ("empty class", with(|c| c.classes.push(String::new()))),
        (
            "platform school for a parent",
            with(|c| c.school = "*".into()),
        ),
    ]
}

#[tokio::test]
async fn tokens_with_unusable_ids_are_refused_at_connect_with_4001() {
    let hub = TestHub::spawn();
    for (what, claims) in unusable_claims() {
        let code = close_code_for_token(&hub, &mint(SECRET, &claims), vec![]).await;
        assert_eq!(code, Some(4001), "{what}");
    }
}

#[tokio::test]
async fn rest_refuses_tokens_with_unusable_ids_with_a_json_401() {
    let hub = TestHub::spawn();
    let http = reqwest::Client::new();
    for (what, mut claims) in unusable_claims() {
        // A role that may read the journal, so only the ids can be the reason.
        claims.role = Role::Admin;
        let resp = http
            .get(hub.http_url("/v1/journal/events?school=s1&from=2020-01-01&to=2100-01-01"))
            .bearer_auth(mint(SECRET, &claims))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{what}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{what}: {body}");
    }
    let fine = token("a1", "s1", Role::Admin, &[]);
    let resp = http
        .get(hub.http_url("/v1/journal/events?school=s1&from=2020-01-01&to=2100-01-01"))
        .bearer_auth(fine)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the same request with usable ids");
}

#[tokio::test]
async fn an_analyst_token_opens_no_websocket_session_and_no_op_is_served() {
    let hub = TestHub::spawn();
    let mut teacher = connect(&hub, "t1", Role::Teacher, &["c7"]).await;
    publish(&mut teacher, "school:s1:announcements", "a body").await;
    publish(&mut teacher, C7, "a class body").await;
    let analyst = token("an1", "s1", Role::Analyst, &["c7"]);
    let announcements = ch("school:s1:announcements");
    let mut body = oneclass_protocol::command::Body::new();
    body.insert("text".into(), "from an analyst".into());
    // Every op, sent in the same write as the connect: none of them may be answered.
    let every_op = vec![
        Command::Subscribe {
            channel: announcements.clone(),
            since: Some(0),
        },
        Command::Unsubscribe {
            channel: announcements.clone(),
        },
        Command::Publish {
            channel: ch("dm:s1:an1:t1"),
            body: body.clone(),
            client_msg_id: None,
        },
        Command::Publish {
            channel: announcements.clone(),
            body,
            client_msg_id: None,
        },
        Command::History {
            channel: announcements.clone(),
            before: None,
            limit: None,
        },
        Command::History {
            channel: ch(C7),
            before: None,
            limit: None,
        },
        Command::Channels {
            cursor: None,
            limit: None,
        },
        Command::Read {
            channel: ch("user:s1:an1"),
            seq: 1,
        },
        Command::Presence { channel: ch(C7) },
        Command::Refresh {
            token: analyst.clone(),
        },
        Command::Ping,
    ];
    assert_eq!(
        close_code_for_token(&hub, &analyst, every_op).await,
        Some(4003)
    );
    // Nothing was written: the DM the analyst tried is still empty.
    let history = within(
        10,
        teacher.request(Command::History {
            channel: ch("dm:s1:an1:t1"),
            before: None,
            limit: None,
        }),
    )
    .await
    .unwrap();
    assert_eq!(history.ok.unwrap()["messages"], Value::Array(vec![]));
}
