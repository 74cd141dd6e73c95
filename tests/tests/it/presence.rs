//! Presence, typing and read receipts.

use oneclass_actors::Role;
use oneclass_protocol::client::Client;
use oneclass_protocol::command::Command;
use oneclass_protocol::reply::{Empty, Presence};
use oneclass_protocol::{Codec, ErrorCode, Event};
use oneclass_tests::{ch, token, within, TestHub};

const CLASS: &str = "class:s1:c1";

async fn joined(hub: &TestHub, user: &str, role: Role) -> Client {
    let (mut c, _) = hub
        .connect(Codec::Json, &token(user, "s1", role, &["c1"]))
        .await;
    c.subscribe(&ch(CLASS), None).await.unwrap();
    c
}

/// Every event up to and including the message with `marker` as its text.
async fn events_until_marker(c: &mut Client, marker: &str) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let e = within(10, c.next_event()).await.unwrap();
        let done = matches!(&e, Event::Msg(m) if m.body["text"] == marker);
        seen.push(e);
        if done {
            return seen;
        }
    }
}

fn typing_count(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Typing { .. }))
        .count()
}

#[tokio::test]
async fn presence_lists_the_users_present_on_a_class() {
    let hub = TestHub::spawn();
    let mut p1 = joined(&hub, "p1", Role::Parent).await;
    let _p2 = joined(&hub, "p2", Role::Parent).await;
    // A second socket of p2 counts once.
    let _p2b = joined(&hub, "p2", Role::Parent).await;
    let present: Presence = p1
        .request_ok(Command::Presence { channel: ch(CLASS) })
        .await
        .unwrap();
    assert_eq!(present.channel, CLASS);
    assert_eq!(present.users, vec!["p1".to_string(), "p2".to_string()]);
}

#[tokio::test]
async fn typing_reaches_the_others_but_not_the_typist_and_is_throttled() {
    let hub = TestHub::spawn();
    let mut typist = joined(&hub, "p1", Role::Parent).await;
    let mut other = joined(&hub, "p2", Role::Parent).await;
    let mut teacher = joined(&hub, "t1", Role::Teacher).await;
    for _ in 0..4 {
        typist
            .send_unacked(Command::Typing { channel: ch(CLASS) })
            .await
            .unwrap();
    }
    // A ping answered after the typing frames means they were handled.
    let _: Empty = typist.request_ok(Command::Ping).await.unwrap();
    teacher.publish(&ch(CLASS), "marker", None).await.unwrap();

    let seen = events_until_marker(&mut other, "marker").await;
    assert_eq!(typing_count(&seen), 1, "throttled to one: {seen:?}");
    assert!(seen
        .iter()
        .any(|e| matches!(e, Event::Typing { user, channel } if user == "p1" && channel == CLASS)));
    let own = events_until_marker(&mut typist, "marker").await;
    assert_eq!(
        typing_count(&own),
        0,
        "the typist saw its own typing: {own:?}"
    );
}

#[tokio::test]
async fn read_reaches_the_users_other_session_and_the_other_dm_party() {
    let hub = TestHub::spawn();
    let dm = ch("dm:s1:p1:t1");
    let (mut p1a, _) = hub
        .connect(Codec::Json, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    let (mut p1b, _) = hub
        .connect(Codec::MsgPack, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    let (mut t1, _) = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    t1.publish(&dm, "hello", None).await.unwrap();
    t1.publish(&dm, "are you there", None).await.unwrap();
    let _: Empty = p1a
        .request_ok(Command::Read {
            channel: dm.clone(),
            seq: 2,
        })
        .await
        .unwrap();
    let expected = |e: &Event| {
        matches!(e, Event::Read { channel, user, seq }
            if channel == "dm:s1:p1:t1" && user == "p1" && *seq == 2)
    };
    for (who, c) in [("p1's other session", &mut p1b), ("t1", &mut t1)] {
        let got = within(10, async {
            loop {
                let e = c.next_event().await.unwrap();
                if matches!(e, Event::Read { .. }) {
                    return e;
                }
            }
        })
        .await;
        assert!(expected(&got), "{who} got {got:?}");
    }
    // Reading beyond the head is refused.
    let err = p1a
        .request_ok::<Empty>(Command::Read {
            channel: dm.clone(),
            seq: 3,
        })
        .await
        .unwrap_err();
    assert_eq!(err.error_body().unwrap().code, ErrorCode::BadRequest);
}

#[tokio::test]
async fn presence_and_typing_on_a_school_channel_are_bad_requests() {
    let hub = TestHub::spawn();
    let (mut c, _) = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    let err = c
        .request_ok::<Presence>(Command::Presence {
            channel: ch("school:s1:announcements"),
        })
        .await
        .unwrap_err();
    assert_eq!(err.error_body().unwrap().code, ErrorCode::BadRequest);
    let err = c
        .request_ok::<Empty>(Command::Typing {
            channel: ch("school:s1:announcements"),
        })
        .await
        .unwrap_err();
    assert_eq!(err.error_body().unwrap().code, ErrorCode::BadRequest);
}
