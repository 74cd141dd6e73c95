//! The session's phases from outside: before `connect` only `connect` is accepted; once joined,
//! every command that carries an `id` is answered, also while the school actor dies and the
//! session joins its replacement; and transport errors close with the code of their cause.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use oneclass_actors::school::Crash;
use oneclass_actors::Role;
use oneclass_protocol::client::Client;
use oneclass_protocol::command::{Body, Command};
use oneclass_protocol::reply::Empty;
use oneclass_protocol::{Codec, ErrorCode, ServerFrame};
use oneclass_tests::{ch, token, within, TestHub};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

fn text_body(text: &str) -> Body {
    let mut body = Body::new();
    body.insert("text".into(), text.into());
    body
}

/// One of every command that carries an `id` and reaches a joined session's handlers.
fn every_command(round: u32, refresh_token: &str) -> Vec<Command> {
    let class = ch("class:s1:c1");
    vec![
        Command::Subscribe {
            channel: class.clone(),
            since: Some(0),
        },
        Command::Publish {
            channel: class.clone(),
            body: text_body(&format!("round {round}")),
            client_msg_id: Some(format!("round-{round}")),
        },
        Command::History {
            channel: class.clone(),
            before: None,
            limit: Some(10),
        },
        Command::Channels {
            cursor: None,
            limit: None,
        },
        Command::Read {
            channel: class.clone(),
            seq: 1,
        },
        Command::Presence {
            channel: class.clone(),
        },
        Command::Refresh {
            token: refresh_token.to_owned(),
        },
        Command::Unsubscribe {
            channel: ch("class:s1:c2"),
        },
        Command::Ping,
    ]
}

/// Reads frames until every id in `ids` was answered; fails on a second answer to one id or
/// on an error other than `unavailable`.
async fn expect_answers(c: &mut Client, mut ids: BTreeSet<u32>) {
    let mut answered = BTreeSet::new();
    while !ids.is_empty() {
        let frame = within(15, c.read_frame()).await.unwrap_or_else(|e| {
            panic!("the session stopped before answering {ids:?}: {e}");
        });
        let ServerFrame::Reply(reply) = frame else {
            continue;
        };
        assert!(answered.insert(reply.id), "id {} answered twice", reply.id);
        assert!(ids.remove(&reply.id), "a reply to an id never sent");
        if let Some(error) = reply.error {
            assert_eq!(
                error.code,
                ErrorCode::Unavailable,
                "id {}: {}",
                reply.id,
                error.message
            );
        }
    }
}

/// Publishes until the school actor answers (it may be restarting).
async fn publish_until_accepted(c: &mut Client, id: &str) {
    for _ in 0..100 {
        match c.publish(&ch("class:s1:c1"), id, Some(id)).await {
            Ok(_) => return,
            Err(e) if e.error_body().map(|b| b.code) == Some(ErrorCode::Unavailable) => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("publish {id} failed: {e}"),
        }
    }
    panic!("publish {id} stayed unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_with_an_id_is_answered_while_the_school_actor_is_replaced() {
    let hub = TestHub::spawn_with(|s| s.limits.heartbeat = std::time::Duration::from_secs(60));
    let user = token("t1", "s1", Role::Teacher, &["c1", "c2"]);
    let (mut c, _) = hub.connect(Codec::Json, &user).await;
    c.subscribe(&ch("class:s1:c1"), None).await.unwrap();
    publish_until_accepted(&mut c, "first").await;
    // Each round crashes the school actor and at once sends every command, so the commands
    // meet the session before, during and after it notices and rejoins the replacement.
    for round in 0..5 {
        let school = hub.registry().peek("s1").expect("the school actor of s1");
        school.do_send(Crash);
        let mut ids = BTreeSet::new();
        for command in every_command(round, &user) {
            ids.insert(c.send(command).await.unwrap());
        }
        expect_answers(&mut c, ids).await;
        publish_until_accepted(&mut c, &format!("after-{round}")).await;
    }
    let _: Empty = within(10, c.request_ok(Command::Ping)).await.unwrap();
}

#[tokio::test]
async fn a_command_with_an_id_before_connect_gets_no_reply_and_closes_with_4001() {
    let hub = TestHub::spawn();
    let mut c = Client::open(&hub.ws_url(), Codec::Json).await.unwrap();
    c.send(Command::Ping).await.unwrap();
    loop {
        match within(10, c.read_frame()).await {
            Ok(ServerFrame::Reply(r)) => panic!("a reply before connect: {r:?}"),
            Ok(ServerFrame::Event(_)) => continue,
            Err(e) => {
                assert_eq!(e.close_code(), Some(4001), "{e}");
                break;
            }
        }
    }
}

#[tokio::test]
async fn a_message_over_the_limit_sent_as_continuation_frames_closes_with_1009() {
    let hub = TestHub::spawn();
    let (mut c, _) = hub
        .connect(Codec::Json, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    // Each frame is under the 64 KiB frame limit; together they are over the message limit.
    let first = Frame::message(vec![b' '; 40 * 1024], OpCode::Data(Data::Text), false);
    let last = Frame::message(vec![b' '; 40 * 1024], OpCode::Data(Data::Continue), true);
    c.send_message(Message::Frame(first)).await.unwrap();
    c.send_message(Message::Frame(last)).await.unwrap();
    assert_eq!(within(10, c.closed()).await, Some(1009));
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_with_1007_not_1009() {
    let hub = TestHub::spawn();
    let (mut c, _) = hub
        .connect(Codec::Json, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    c.send_message(Message::Frame(frame)).await.unwrap();
    assert_eq!(within(10, c.closed()).await, Some(1007));
}

#[tokio::test]
async fn a_resumed_channel_can_be_unsubscribed_by_the_very_next_command() {
    let hub = TestHub::spawn();
    let user = token("t1", "s1", Role::Teacher, &["c1"]);
    let (mut t, _) = hub.connect(Codec::Json, &user).await;
    t.publish(&ch("class:s1:c1"), "m1", None).await.unwrap();
    let resume = BTreeMap::from([("class:s1:c1".to_owned(), 0u64)]);
    let (mut c, connected) = hub.resume(Codec::Json, &user, resume).await.unwrap();
    assert_eq!(connected.resumed.get("class:s1:c1"), Some(&1));
    let _: Empty = within(
        10,
        c.request_ok(Command::Unsubscribe {
            channel: ch("class:s1:c1"),
        }),
    )
    .await
    .unwrap();
    let _: Empty = within(10, c.request_ok(Command::Ping)).await.unwrap();
}
