//! Roster and notifications over REST, arriving in inboxes live and on resume; unread counts.

use std::collections::BTreeMap;

use oneclass_actors::Role;
use oneclass_protocol::command::Command;
use oneclass_protocol::reply::{Channels, Empty};
use oneclass_protocol::{Codec, Event};
use oneclass_tests::{ch, next_on, token, TestHub};
use serde_json::json;

async fn put_member(
    http: &reqwest::Client,
    hub: &TestHub,
    user: &str,
    role: &str,
    classes: &[&str],
) {
    let admin = token("a1", "s1", Role::Admin, &[]);
    let resp = http
        .put(hub.http_url(&format!("/v1/schools/s1/members/{user}")))
        .bearer_auth(&admin)
        .json(&json!({"role": role, "classes": classes, "locale": "sn", "contacts": {"phone": "+263771234567"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

async fn notify_class(http: &reqwest::Client, hub: &TestHub, key: &str) -> serde_json::Value {
    let admin = token("a1", "s1", Role::Admin, &[]);
    let resp = http
        .post(hub.http_url("/v1/notifications"))
        .bearer_auth(&admin)
        .header("Idempotency-Key", key)
        .json(&json!({"school": "s1", "to": {"class": "c1"}, "kind": "fees.reminder",
                      "title": "Fees due", "body": "Term 3 fees are due Friday", "data": {"amount": 120}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn a_class_notification_reaches_members_live_and_an_offline_member_on_resume() {
    let hub = TestHub::spawn();
    let http = reqwest::Client::new();
    put_member(&http, &hub, "p1", "parent", &["c1"]).await;
    put_member(&http, &hub, "p2", "parent", &["c1"]).await;
    put_member(&http, &hub, "p3", "parent", &["c2"]).await;

    let (mut online, connected) = hub
        .connect(Codec::Json, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    assert_eq!(connected.inbox, "user:s1:p1");
    assert!(matches!(
        next_on(&mut online, "user:s1:p1").await.unwrap(),
        Event::Synced { .. }
    ));

    let created = notify_class(&http, &hub, "fees-1").await;
    assert_eq!(created["recipients"], 2);
    match next_on(&mut online, "user:s1:p1").await.unwrap() {
        Event::Notification(n) => {
            assert_eq!(
                (n.channel.as_str(), n.seq, n.kind.as_str()),
                ("user:s1:p1", 1, "fees.reminder")
            );
            assert_eq!(n.data["amount"], 120);
        }
        other => panic!("expected a notification, got {other:?}"),
    }
    // A retry with the same key creates nothing new.
    let again = notify_class(&http, &hub, "fees-1").await;
    assert_eq!(again["notification_id"], created["notification_id"]);

    // p2 was offline; it resumes its inbox from 0 and gets exactly one notification.
    let resume = BTreeMap::from([("user:s1:p2".to_string(), 0)]);
    let (mut late, _) = hub
        .resume(
            Codec::MsgPack,
            &token("p2", "s1", Role::Parent, &["c1"]),
            resume,
        )
        .await
        .unwrap();
    assert!(
        matches!(next_on(&mut late, "user:s1:p2").await.unwrap(), Event::Notification(n) if n.seq == 1)
    );
    assert!(matches!(
        next_on(&mut late, "user:s1:p2").await.unwrap(),
        Event::Synced { head: 1, .. }
    ));
}

#[tokio::test]
async fn channels_shows_unread_counts_that_read_moves() {
    let hub = TestHub::spawn();
    let (mut t, _) = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    for n in 0..3 {
        t.publish(&ch("class:s1:c1"), &format!("hi {n}"), None)
            .await
            .unwrap();
    }
    t.publish(&ch("dm:s1:p1:t1"), "a private word", None)
        .await
        .unwrap();
    let (mut p, _) = hub
        .connect(Codec::Json, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    let list: Channels = p.channels(None, None).await.unwrap();
    let unread: BTreeMap<String, u64> = list
        .channels
        .iter()
        .map(|c| (c.channel.clone(), c.unread))
        .collect();
    assert_eq!(unread.get("class:s1:c1"), Some(&3));
    assert_eq!(unread.get("dm:s1:p1:t1"), Some(&1));
    assert_eq!(unread.get("user:s1:p1"), Some(&0));
    let class = list
        .channels
        .iter()
        .find(|c| c.channel == "class:s1:c1")
        .unwrap();
    assert!(matches!(&class.last, Some(Event::Msg(m)) if m.seq == 3));

    let _: Empty = p
        .request_ok(Command::Read {
            channel: ch("class:s1:c1"),
            seq: 2,
        })
        .await
        .unwrap();
    let list: Channels = p.channels(None, None).await.unwrap();
    let class = list
        .channels
        .iter()
        .find(|c| c.channel == "class:s1:c1")
        .unwrap();
    assert_eq!((class.read_seq, class.unread), (2, 1));
    // The cursor never moves backwards.
    let _: Empty = p
        .request_ok(Command::Read {
            channel: ch("class:s1:c1"),
            seq: 1,
        })
        .await
        .unwrap();
    let list: Channels = p.channels(None, None).await.unwrap();
    assert_eq!(
        list.channels
            .iter()
            .find(|c| c.channel == "class:s1:c1")
            .unwrap()
            .read_seq,
        2
    );
}
