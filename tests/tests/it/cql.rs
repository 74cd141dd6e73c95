//! The hub end to end on the ScyllaDB backend, against the real Cassandra node that
//! scripts/cassandra.sh starts: fan-out, resume, history, restart and kill -9 durability.

use std::collections::BTreeMap;

use oneclass_actors::Role;
use oneclass_protocol::command::Command;
use oneclass_protocol::reply::History;
use oneclass_protocol::{Codec, Event};
use oneclass_tests::{ch, cql_journal_url, next_on, token, ChildHub, TestHub};

const CLASS: &str = "class:s1:c1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_resume_history_and_restart_work_on_the_cql_journal() {
    let Some(url) = cql_journal_url("chat on CQL") else {
        return;
    };
    let hub = TestHub::spawn_with(|s| s.journal.url = Some(url));
    let parent = token("p1", "s1", Role::Parent, &["c1"]);
    let (mut sub, _) = hub.connect(Codec::MsgPack, &parent).await;
    sub.subscribe(&ch(CLASS), None).await.unwrap();
    let (mut t, _) = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    for n in 1..=5u64 {
        let p = t
            .publish(&ch(CLASS), &format!("m{n}"), Some(&format!("k{n}")))
            .await
            .unwrap();
        assert_eq!(p.seq, n);
    }
    assert_eq!(
        t.publish(&ch(CLASS), "m5", Some("k5")).await.unwrap().seq,
        5,
        "idempotent"
    );
    assert!(matches!(
        next_on(&mut sub, CLASS).await.unwrap(),
        Event::Synced { .. }
    ));
    for n in 1..=5u64 {
        assert_eq!(next_on(&mut sub, CLASS).await.unwrap().seq(), Some(n));
    }
    sub.close().await.unwrap();
    for n in 6..=8u64 {
        t.publish(&ch(CLASS), &format!("m{n}"), Some(&format!("k{n}")))
            .await
            .unwrap();
    }
    let resume = BTreeMap::from([(CLASS.to_string(), 5)]);
    let (mut back, _) = hub.resume(Codec::Json, &parent, resume).await.unwrap();
    for n in 6..=8u64 {
        assert_eq!(next_on(&mut back, CLASS).await.unwrap().seq(), Some(n));
    }
    assert!(matches!(
        next_on(&mut back, CLASS).await.unwrap(),
        Event::Synced { head: 8, .. }
    ));
    let page: History = back
        .request_ok(Command::History {
            channel: ch(CLASS),
            before: Some(8),
            limit: Some(3),
        })
        .await
        .unwrap();
    let seqs: Vec<u64> = page.messages.iter().filter_map(Event::seq).collect();
    assert_eq!(seqs, vec![5, 6, 7]);

    let hub = hub.restart().await;
    let (mut t, _) = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    assert_eq!(
        t.publish(&ch(CLASS), "after restart", None)
            .await
            .unwrap()
            .seq,
        9
    );
    let resume = BTreeMap::from([(CLASS.to_string(), 2)]);
    let (mut again, _) = hub.resume(Codec::MsgPack, &parent, resume).await.unwrap();
    for n in 3..=9u64 {
        assert_eq!(next_on(&mut again, CLASS).await.unwrap().seq(), Some(n));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_publish_survives_kill_9_on_the_cql_journal() {
    let Some(url) = cql_journal_url("kill -9 on CQL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let env = [("ONECLASS_JOURNAL", url.as_str())];
    let hub = ChildHub::start_with_env(dir.path(), &env).await;
    let (mut t, _) = oneclass_protocol::client::Client::connect(
        &hub.ws_url(),
        Codec::Json,
        &token("t1", "s1", Role::Teacher, &["c1"]),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    let mut acked = Vec::new();
    for n in 1..=3u64 {
        acked.push(
            t.publish(&ch(CLASS), &format!("m{n}"), Some(&format!("k{n}")))
                .await
                .unwrap(),
        );
    }
    hub.kill9();
    let hub = ChildHub::start_with_env(dir.path(), &env).await;
    let (mut p, _) = oneclass_protocol::client::Client::connect(
        &hub.ws_url(),
        Codec::Json,
        &token("p1", "s1", Role::Parent, &["c1"]),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    let page: History = p
        .request_ok(Command::History {
            channel: ch(CLASS),
            before: None,
            limit: Some(10),
        })
        .await
        .unwrap();
    let ids: Vec<String> = page
        .messages
        .iter()
        .map(|m| match m {
            Event::Msg(m) => m.event_id.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        ids,
        acked.iter().map(|a| a.event_id.clone()).collect::<Vec<_>>()
    );
}
