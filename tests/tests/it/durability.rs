//! Durability: an acknowledged publish survives kill -9, and a failed journal batch leaves no
//! gap in the seqs.

use oneclass_actors::Role;
use oneclass_protocol::client::Client;
use oneclass_protocol::command::Command;
use oneclass_protocol::reply::History;
use oneclass_protocol::{Codec, ErrorCode, Event};
use oneclass_tests::{ch, next_on, token, ChildHub, TestHub};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_publish_survives_kill_9_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let teacher = token("t1", "s1", Role::Teacher, &["c1"]);
    let class = ch("class:s1:c1");

    let hub = ChildHub::start(dir.path()).await;
    let (mut c, _) = Client::connect(&hub.ws_url(), Codec::MsgPack, &teacher, Default::default())
        .await
        .unwrap();
    let mut acked = Vec::new();
    for n in 1..=3 {
        acked.push(
            c.publish(
                &class,
                &format!("before the crash {n}"),
                Some(&format!("k{n}")),
            )
            .await
            .unwrap(),
        );
    }
    // SIGKILL right after the last acknowledgement: no shutdown code runs.
    hub.kill9();
    drop(c);

    let hub = ChildHub::start(dir.path()).await;
    let (mut c, _) = Client::connect(&hub.ws_url(), Codec::Json, &teacher, Default::default())
        .await
        .unwrap();
    let page: History = c
        .request_ok(Command::History {
            channel: class.clone(),
            before: None,
            limit: Some(10),
        })
        .await
        .unwrap();
    let stored: Vec<(u64, String, String)> = page
        .messages
        .iter()
        .map(|e| match e {
            Event::Msg(m) => (m.seq, m.event_id.clone(), m.body["text"].to_string()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    let expected: Vec<(u64, String, String)> = acked
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                p.seq,
                p.event_id.clone(),
                format!("\"before the crash {}\"", i + 1),
            )
        })
        .collect();
    assert_eq!(stored, expected);
    // The seq continues after the restart, and a retry of an acknowledged id is a duplicate.
    assert_eq!(c.publish(&class, "after", Some("k4")).await.unwrap().seq, 4);
    let retry = c.publish(&class, "before the crash 3", Some("k3")).await;
    // k3 was sent by the same user, so the journal's dedup returns the first result.
    assert_eq!(retry.unwrap(), acked[2]);
}

#[tokio::test]
async fn a_failed_batch_leaves_no_gap_and_a_retry_takes_the_next_seq() {
    let hub = TestHub::spawn_with_journal_handle();
    let journal = hub.journal.clone().expect("journal handle");
    let class = ch("class:s1:c1");
    let (mut sub, _) = hub
        .connect(Codec::Json, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    sub.subscribe(&class, None).await.unwrap();
    assert!(matches!(
        next_on(&mut sub, "class:s1:c1").await.unwrap(),
        Event::Synced { head: 0, .. }
    ));
    let (mut t, _) = hub
        .connect(Codec::MsgPack, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    assert_eq!(t.publish(&class, "one", Some("m1")).await.unwrap().seq, 1);

    journal.fail_next_batches(1);
    let err = t.publish(&class, "two", Some("m2")).await.unwrap_err();
    assert_eq!(err.error_body().unwrap().code, ErrorCode::Unavailable);
    assert_eq!(t.publish(&class, "two", Some("m2")).await.unwrap().seq, 2);
    assert_eq!(t.publish(&class, "three", Some("m3")).await.unwrap().seq, 3);

    let mut seen = Vec::new();
    for _ in 0..3 {
        match next_on(&mut sub, "class:s1:c1").await.unwrap() {
            Event::Msg(m) => seen.push((m.seq, m.body["text"].as_str().unwrap().to_owned())),
            other => panic!("expected a message, got {other:?}"),
        }
    }
    assert_eq!(
        seen,
        vec![
            (1, "one".to_owned()),
            (2, "two".to_owned()),
            (3, "three".to_owned())
        ]
    );
    // The journal agrees: 1, 2, 3 and nothing else.
    use oneclass_storage::Journal;
    let stored: Vec<u64> = journal
        .read_stream("class:s1:c1", 1, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(stored, vec![1, 2, 3]);
}
