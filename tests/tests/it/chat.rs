//! Publishing and fan-out.

use oneclass_actors::Role;
use oneclass_protocol::{Codec, ErrorCode, Event};
use oneclass_tests::{ch, next_on, token, TestHub};

#[tokio::test]
async fn a_class_message_reaches_every_subscriber_in_seq_order_in_both_codecs() {
    let hub = TestHub::spawn();
    let class = ch("class:s1:c1");
    let mut subscribers = Vec::new();
    for (i, codec) in [Codec::Json, Codec::MsgPack, Codec::Json, Codec::MsgPack]
        .into_iter()
        .enumerate()
    {
        let t = token(&format!("p{i}"), "s1", Role::Parent, &["c1"]);
        let (mut c, _) = hub.connect(codec, &t).await;
        assert_eq!(c.subscribe(&class, None).await.unwrap().head, 0);
        assert!(matches!(
            next_on(&mut c, "class:s1:c1").await.unwrap(),
            Event::Synced { .. }
        ));
        subscribers.push(c);
    }
    let (mut teacher, _) = hub
        .connect(Codec::MsgPack, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    for n in 1..=20u64 {
        let published = teacher
            .publish(&class, &format!("message {n}"), Some(&format!("m{n}")))
            .await
            .unwrap();
        assert_eq!(published.seq, n, "seqs are gap-free from 1");
    }
    for c in &mut subscribers {
        for n in 1..=20u64 {
            match next_on(c, "class:s1:c1").await.unwrap() {
                Event::Msg(m) => {
                    assert_eq!(m.seq, n);
                    assert_eq!(m.from, "t1");
                    assert_eq!(m.body["text"], format!("message {n}"));
                    assert_eq!(m.client_msg_id.as_deref(), Some(format!("m{n}").as_str()));
                }
                other => panic!("expected msg {n}, got {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_repeated_client_msg_id_returns_the_first_result_and_another_body_is_a_conflict() {
    let hub = TestHub::spawn();
    let class = ch("class:s1:c1");
    let (mut listener, _) = hub
        .connect(Codec::Json, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    listener.subscribe(&class, None).await.unwrap();
    let (mut t, _) = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    let first = t.publish(&class, "hello", Some("same")).await.unwrap();
    let again = t.publish(&class, "hello", Some("same")).await.unwrap();
    assert_eq!(first, again);
    let conflict = t
        .publish(&class, "different", Some("same"))
        .await
        .unwrap_err();
    assert_eq!(conflict.error_body().unwrap().code, ErrorCode::Conflict);
    let next = t.publish(&class, "next", Some("other")).await.unwrap();
    assert_eq!(next.seq, first.seq + 1, "a repeat takes no seq");
    // The listener sees synced, the first message once, then the next one.
    let on = "class:s1:c1";
    assert!(matches!(
        next_on(&mut listener, on).await.unwrap(),
        Event::Synced { .. }
    ));
    let seqs: Vec<u64> = vec![
        next_on(&mut listener, on).await.unwrap().seq().unwrap(),
        next_on(&mut listener, on).await.unwrap().seq().unwrap(),
    ];
    assert_eq!(seqs, vec![1, 2]);
}

#[tokio::test]
async fn the_publish_reply_comes_only_after_the_message_is_in_the_journal() {
    let hub = TestHub::spawn();
    let class = ch("class:s1:c1");
    let (mut t, _) = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    let published = t.publish(&class, "durable", Some("d1")).await.unwrap();
    // A separate read-only connection to the same file sees the committed event.
    let journal = oneclass_storage::SqliteJournal::open(
        hub.data_dir.join(oneclass_hub::startup::JOURNAL_FILE),
    )
    .unwrap();
    use oneclass_storage::Journal;
    let events = journal.read_stream("class:s1:c1", 1, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_id.to_string(), published.event_id);
}
