//! Slow consumers: a client that stops reading is closed with 4008 without hurting a reading
//! subscriber of the same channel; a fast reader survives bursts, including journal batches and
//! catch-up pages larger than its whole queue (what the hub queues in one turn, before the
//! writer could run, says nothing about the client).

use oneclass_actors::Role;
use oneclass_protocol::client::{Client, ClientError};
use oneclass_protocol::command::{Body, Command};
use oneclass_protocol::{Codec, Event, ServerFrame};
use oneclass_tests::{ch, next_on, token, within, TestHub};

const CLASS: &str = "class:s1:c1";

async fn subscriber(hub: &TestHub, user: &str) -> Client {
    let (mut c, _) = hub
        .connect(Codec::MsgPack, &token(user, "s1", Role::Parent, &["c1"]))
        .await;
    c.subscribe(&ch(CLASS), None).await.unwrap();
    assert!(matches!(
        next_on(&mut c, CLASS).await.unwrap(),
        Event::Synced { .. }
    ));
    c
}

/// Publishes `count` messages with `size`-byte bodies, keeping up to 32 in flight; returns the
/// seqs the hub acknowledged, sorted (replies to pipelined commands may come in any order; they
/// are matched by `id`).
async fn publish_burst(publisher: &mut Client, from: u64, count: u64, size: usize) -> Vec<u64> {
    let filler = "z".repeat(size);
    let mut acked = Vec::new();
    let mut in_flight = 0;
    for n in from..from + count {
        let mut body = Body::new();
        body.insert("text".into(), format!("{n} {filler}").into());
        publisher
            .send(Command::Publish {
                channel: ch(CLASS),
                body,
                client_msg_id: Some(format!("b{n}")),
            })
            .await
            .unwrap();
        in_flight += 1;
        while in_flight >= 32 || (n == from + count - 1 && in_flight > 0) {
            if let ServerFrame::Reply(r) = within(30, publisher.read_frame()).await.unwrap() {
                let seq = r.ok.as_ref().and_then(|ok| ok["seq"].as_u64());
                acked.push(seq.unwrap_or_else(|| panic!("publish failed: {r:?}")));
                in_flight -= 1;
            }
        }
    }
    acked.sort_unstable();
    acked
}

/// Reads `count` messages on CLASS and checks they are `from..from+count` in order.
async fn read_in_order(c: &mut Client, from: u64, count: u64) -> Result<(), ClientError> {
    for n in from..from + count {
        match next_on(c, CLASS).await? {
            Event::Msg(m) => {
                assert_eq!(m.seq, n, "out of order or gap");
                // Publishes of one connection take seqs in the order they were sent.
                let text = m.body["text"].as_str().unwrap_or_default();
                assert!(
                    text.starts_with(&format!("{n} ")),
                    "seq {n} carries {text:.20}"
                );
            }
            other => panic!("expected seq {n}, got {other:?}"),
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_with_4008_and_a_reading_one_gets_everything() {
    let hub = TestHub::spawn_with(|s| {
        s.limits.outbound_max_bytes = 256 * 1024;
        s.limits.outbound_max_lag = std::time::Duration::from_millis(2000);
    });
    let mut stalled = subscriber(&hub, "slow").await;
    let mut reader = subscriber(&hub, "fast").await;
    let reading =
        tokio::spawn(async move { read_in_order(&mut reader, 1, 1000).await.map(|_| reader) });
    let (mut publisher, _) = hub
        .connect(Codec::MsgPack, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    // ~8 MB: 1000 messages with 8 KiB bodies.
    let acked = publish_burst(&mut publisher, 1, 1000, 8 * 1024).await;
    assert_eq!(acked, (1..=1000).collect::<Vec<_>>());
    let mut reader = within(60, reading)
        .await
        .unwrap()
        .expect("the reading subscriber was not closed");

    // The stalled client now reads: whatever was queued, then the 4008 close.
    assert_eq!(within(30, stalled.closed()).await, Some(4008));

    // The reader is healthy: a burst of 2000 small messages, all delivered, no close.
    let reading =
        tokio::spawn(async move { read_in_order(&mut reader, 1001, 2000).await.map(|_| reader) });
    let acked = publish_burst(&mut publisher, 1001, 2000, 16).await;
    assert_eq!(acked.len(), 2000);
    let mut reader = within(60, reading)
        .await
        .unwrap()
        .expect("a reading client was closed during a burst");
    let _: oneclass_protocol::reply::Empty = reader.request_ok(Command::Ping).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_catching_up_on_more_than_its_queue_holds_gets_everything_and_stays_open() {
    // One replay page (256 messages of 8 KiB, ~2 MiB) is eight times the queue.
    let hub = TestHub::spawn_with(|s| {
        s.limits.outbound_max_bytes = 256 * 1024;
    });
    let (mut publisher, _) = hub
        .connect(Codec::MsgPack, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    let acked = publish_burst(&mut publisher, 1, 300, 8 * 1024).await;
    assert_eq!(acked, (1..=300).collect::<Vec<_>>());

    let (mut late, _) = hub
        .connect(Codec::MsgPack, &token("late", "s1", Role::Parent, &["c1"]))
        .await;
    late.subscribe(&ch(CLASS), Some(0)).await.unwrap();
    within(60, read_in_order(&mut late, 1, 300))
        .await
        .expect("the catching-up client was closed");
    assert!(matches!(
        next_on(&mut late, CLASS).await.unwrap(),
        Event::Synced { head: 300, .. }
    ));
    let _: oneclass_protocol::reply::Empty = late.request_ok(Command::Ping).await.unwrap();
}
