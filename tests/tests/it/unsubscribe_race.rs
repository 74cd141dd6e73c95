//! An `unsubscribe` pipelined right behind the `subscribe` of the same channel, so it reaches
//! the session while the school's answer to the subscribe is still on its way: the
//! subscription is cancelled (both commands are answered) and nothing of the channel follows.

use std::time::Duration;

use oneclass_actors::Role;
use oneclass_protocol::command::Command;
use oneclass_protocol::reply::Empty;
use oneclass_protocol::{Codec, Event, ServerFrame};
use oneclass_tests::{ch, token, within, TestHub};

const CLASS: &str = "class:s1:c1";

#[tokio::test]
async fn an_unsubscribe_sent_before_the_subscribe_was_answered_stops_every_event_of_the_channel() {
    let hub = TestHub::spawn();
    let (mut reader, _) = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    let (mut writer, _) = hub
        .connect(Codec::Json, &token("t2", "s1", Role::Teacher, &["c1"]))
        .await;
    let subscribe = Command::Subscribe {
        channel: ch(CLASS),
        since: Some(0),
    };
    let unsubscribe = Command::Unsubscribe { channel: ch(CLASS) };
    // One write, so the session reads the unsubscribe before the school can answer.
    let ids = reader
        .send_pipelined(vec![subscribe, unsubscribe])
        .await
        .unwrap();
    let (sub_id, unsub_id) = (ids[0], ids[1]);
    let mut unanswered = vec![sub_id, unsub_id];
    while !unanswered.is_empty() {
        let frame = within(10, reader.read_frame()).await.unwrap();
        let ServerFrame::Reply(reply) = frame else {
            continue;
        };
        assert_eq!(reply.error, None, "id {}", reply.id);
        if reply.id == sub_id {
            assert_eq!(reply.ok.as_ref().unwrap()["channel"], CLASS, "{reply:?}");
        }
        unanswered.retain(|id| *id != reply.id);
    }
    // The publish is acknowledged only after its fan-out, and a live or catching-up
    // subscription would have had the time to pass the event on before the ping is answered.
    writer.publish(&ch(CLASS), "after", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ping = reader.send(Command::Ping).await.unwrap();
    loop {
        match within(10, reader.read_frame()).await.unwrap() {
            ServerFrame::Reply(r) if r.id == ping => {
                assert!(r.ok.is_some(), "{r:?}");
                break;
            }
            ServerFrame::Event(Event::Msg(m)) if m.channel == CLASS => {
                panic!("an unsubscribed channel delivered {m:?}")
            }
            ServerFrame::Event(Event::Synced { channel, .. }) if channel == CLASS => {
                panic!("an unsubscribed channel finished a catch-up")
            }
            _ => {}
        }
    }
    let _: Empty = within(10, reader.request_ok(Command::Ping)).await.unwrap();
}
