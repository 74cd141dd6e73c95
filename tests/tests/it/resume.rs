//! Resume and history: exactly the missed messages, in order, then `synced`.

use std::collections::BTreeMap;

use oneclass_actors::Role;
use oneclass_protocol::command::Command;
use oneclass_protocol::reply::History;
use oneclass_protocol::{Codec, Event};
use oneclass_tests::{ch, next_on, token, within, TestHub};

async fn publish_n(hub: &TestHub, from: u64, to: u64) {
    let (mut t, _) = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    for n in from..=to {
        t.publish(
            &ch("class:s1:c1"),
            &format!("m{n}"),
            Some(&format!("id{n}")),
        )
        .await
        .unwrap();
    }
}

async fn expect_seqs_then_synced(c: &mut oneclass_protocol::client::Client, from: u64, to: u64) {
    for n in from..=to {
        match next_on(c, "class:s1:c1").await.unwrap() {
            Event::Msg(m) => assert_eq!(m.seq, n),
            other => panic!("expected seq {n}, got {other:?}"),
        }
    }
    match next_on(c, "class:s1:c1").await.unwrap() {
        Event::Synced { channel, head } => {
            assert_eq!(channel, "class:s1:c1");
            assert_eq!(head, to);
        }
        other => panic!("expected synced, got {other:?}"),
    }
}

#[tokio::test]
async fn a_client_that_resumes_gets_exactly_the_missed_messages_then_synced() {
    let hub = TestHub::spawn();
    let parent = token("p1", "s1", Role::Parent, &["c1"]);
    publish_n(&hub, 1, 5).await;
    let (mut c, _) = hub.connect(Codec::MsgPack, &parent).await;
    c.subscribe(&ch("class:s1:c1"), Some(3)).await.unwrap();
    expect_seqs_then_synced(&mut c, 4, 5).await;
    c.close().await.unwrap();

    publish_n(&hub, 6, 12).await;
    let resume = BTreeMap::from([("class:s1:c1".to_string(), 5)]);
    let (mut c, connected) = hub.resume(Codec::MsgPack, &parent, resume).await.unwrap();
    assert_eq!(connected.resumed.get("class:s1:c1"), Some(&12));
    expect_seqs_then_synced(&mut c, 6, 12).await;
    // Live traffic follows the replay.
    publish_n(&hub, 13, 13).await;
    assert_eq!(
        next_on(&mut c, "class:s1:c1").await.unwrap().seq(),
        Some(13)
    );
}

#[tokio::test]
async fn resume_works_across_a_hub_restart() {
    let hub = TestHub::spawn();
    let parent = token("p1", "s1", Role::Parent, &["c1"]);
    publish_n(&hub, 1, 4).await;
    let hub = hub.restart().await;
    publish_n(&hub, 5, 6).await;
    let resume = BTreeMap::from([("class:s1:c1".to_string(), 2)]);
    let (mut c, _) = hub.resume(Codec::Json, &parent, resume).await.unwrap();
    expect_seqs_then_synced(&mut c, 3, 6).await;
}

#[tokio::test]
async fn a_hub_shutdown_closes_sockets_with_1001() {
    let mut hub = TestHub::spawn();
    let (mut c, _) = hub
        .connect(Codec::Json, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    hub.stop().await;
    assert_eq!(within(5, c.closed()).await, Some(1001));
}

#[tokio::test]
async fn history_pages_backwards_newest_last() {
    let hub = TestHub::spawn();
    publish_n(&hub, 1, 7).await;
    let (mut c, _) = hub
        .connect(Codec::Json, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    let page: History = c
        .request_ok(Command::History {
            channel: ch("class:s1:c1"),
            before: None,
            limit: Some(3),
        })
        .await
        .unwrap();
    let seqs: Vec<u64> = page.messages.iter().filter_map(Event::seq).collect();
    assert_eq!(seqs, vec![5, 6, 7]);
    assert!(page.has_more);
    let page: History = c
        .request_ok(Command::History {
            channel: ch("class:s1:c1"),
            before: Some(5),
            limit: Some(10),
        })
        .await
        .unwrap();
    let seqs: Vec<u64> = page.messages.iter().filter_map(Event::seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert!(!page.has_more);
    let err = c
        .request_ok::<History>(Command::History {
            channel: ch("class:s1:c1"),
            before: None,
            limit: Some(500),
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.error_body().unwrap().code,
        oneclass_protocol::ErrorCode::BadRequest
    );
}
