//! Supervision: a school actor that dies mid-traffic is replaced, and seqs continue with no gap
//! or duplicate for live subscribers.

use oneclass_actors::school::Crash;
use oneclass_actors::Role;
use oneclass_protocol::client::Client;
use oneclass_protocol::{Codec, ErrorCode, Event};
use oneclass_tests::{ch, next_on, token, within, TestHub};

/// Publishes, retrying `unavailable` (the school restarting) with the same `client_msg_id`.
async fn publish_retrying(c: &mut Client, text: &str, id: &str) -> u64 {
    for _ in 0..50 {
        match c.publish(&ch("class:s1:c1"), text, Some(id)).await {
            Ok(p) => return p.seq,
            Err(e) if e.error_body().map(|b| b.code) == Some(ErrorCode::Unavailable) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Err(e) => panic!("publish {id} failed: {e}"),
        }
    }
    panic!("publish {id} stayed unavailable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_school_actor_that_dies_mid_traffic_is_restarted_and_seqs_continue() {
    // The heartbeat is far longer than the test: the idle subscriber must learn of the restart
    // from the supervisor's notice, not from its next heartbeat.
    let hub = TestHub::spawn_with(|s| s.limits.heartbeat = std::time::Duration::from_secs(60));
    let (mut sub, _) = hub
        .connect(Codec::Json, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    sub.subscribe(&ch("class:s1:c1"), None).await.unwrap();
    let (mut t, _) = hub
        .connect(Codec::MsgPack, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    for n in 1..=5u64 {
        assert_eq!(
            publish_retrying(&mut t, &format!("m{n}"), &format!("m{n}")).await,
            n
        );
    }
    let old = hub.registry().peek("s1").expect("the school actor of s1");
    old.do_send(Crash);
    within(10, async {
        while old.connected() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    for n in 6..=10u64 {
        assert_eq!(
            publish_retrying(&mut t, &format!("m{n}"), &format!("m{n}")).await,
            n
        );
    }
    let new = hub.registry().peek("s1").expect("a new school actor");
    assert!(new.connected());

    let mut seqs = Vec::new();
    within(5, async {
        loop {
            match next_on(&mut sub, "class:s1:c1").await.unwrap() {
                Event::Msg(m) => {
                    seqs.push(m.seq);
                    if m.seq == 10 {
                        break;
                    }
                }
                Event::Synced { .. } => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>(), "gap or duplicate");
}
