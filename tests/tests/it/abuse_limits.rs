//! What one user can make the hub hold or do (issue 9: H3, H4, L5, L7, L8), through the
//! WebSocket as a client sees it: subscription caps answered `forbidden` on an open socket,
//! channel states freed (`oneclass_channel_states` on `/metrics`), rate limits per user,
//! connection and school answered `rate_limited` with `retry_after_ms` (and 4029 for a socket
//! that ignores them), a `read` of 0 that stores nothing, coalesced presence, paged `channels`.
//!
//! Every hub here runs with tiny quotas, so a handful of commands reaches each bound.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use oneclass_actors::rate_limit::Quota;
use oneclass_actors::Role;
use oneclass_protocol::client::Client;
use oneclass_protocol::command::{Body, Command};
use oneclass_protocol::reply::{Empty, History, Presence, Reply};
use oneclass_protocol::{ChannelName, Codec, ErrorCode, Event, ServerFrame};
use oneclass_storage::ReadCursors;
use oneclass_tests::{ch, metric, next_on, token, within, TestHub};

const CLASS: &str = "class:s1:c1";

fn quota(per_second: u32, burst: u32) -> Quota {
    Quota::new(per_second, burst).expect("a non-zero quota")
}

fn dm(a: &str, b: &str) -> ChannelName {
    ChannelName::dm("s1", a, b).expect("two different users")
}

async fn parent(hub: &TestHub, user: &str) -> Client {
    hub.connect(Codec::Json, &token(user, "s1", Role::Parent, &["c1"]))
        .await
        .0
}

fn publish(channel: &str, text: &str) -> Command {
    let mut body = Body::new();
    body.insert("text".into(), text.into());
    Command::Publish {
        channel: ch(channel),
        body,
        client_msg_id: None,
    }
}

/// The replies to `ids`, by id (events read meanwhile are dropped).
async fn replies(c: &mut Client, ids: &[u32]) -> BTreeMap<u32, Reply> {
    let mut out = BTreeMap::new();
    while out.len() < ids.len() {
        if let ServerFrame::Reply(r) = within(10, c.read_frame()).await.unwrap() {
            out.insert(r.id, r);
        }
    }
    out
}

/// The `oneclass_channel_states` gauge, awaited until `wanted` holds (state is released by the
/// school actor after the socket's close or unsubscribe is handled, not before the reply).
async fn channel_states_become(hub: &TestHub, wanted: f64) {
    within(10, async {
        loop {
            let text = hub.metrics_text().await;
            if metric(&text, "oneclass_channel_states") == Some(wanted) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

fn assert_rate_limited(reply: &Reply) -> u64 {
    let e = reply
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("not refused: {reply:?}"));
    assert_eq!(e.code, ErrorCode::RateLimited, "{e:?}");
    let retry = e
        .retry_after_ms
        .expect("rate_limited carries retry_after_ms");
    assert!(retry > 0, "{e:?}");
    retry
}

#[tokio::test]
async fn a_subscribe_past_the_connection_cap_is_forbidden_and_the_socket_stays_open() {
    let hub = TestHub::spawn_with(|s| s.limits.max_subscriptions_per_connection = 3);
    let mut p1 = parent(&hub, "p1").await;
    // The inbox is the first of the three.
    p1.subscribe(&dm("p1", "x1"), None).await.unwrap();
    p1.subscribe(&dm("p1", "x2"), None).await.unwrap();
    let refused = p1.subscribe(&dm("p1", "x3"), None).await.unwrap_err();
    let e = refused.error_body().expect("an error reply, not a close");
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert!(e.message.contains("3 per connection"), "{e:?}");
    p1.subscribe(&dm("p1", "x2"), None)
        .await
        .expect("a resubscribe is no new subscription");
    let _: Empty = p1.request_ok(Command::Ping).await.expect("still open");
}

#[tokio::test]
async fn the_user_cap_holds_over_all_of_a_users_connections() {
    let hub = TestHub::spawn_with(|s| {
        s.limits.max_subscriptions_per_connection = 3;
        s.limits.max_subscriptions_per_user = 3;
    });
    let mut a = parent(&hub, "p1").await;
    let mut b = parent(&hub, "p1").await;
    // Two inboxes and one DM: three.
    a.subscribe(&dm("p1", "x1"), None).await.unwrap();
    let refused = b.subscribe(&dm("p1", "x2"), None).await.unwrap_err();
    let e = refused.error_body().expect("an error reply");
    assert_eq!(e.code, ErrorCode::Forbidden);
    assert!(e.message.contains("3 per user"), "{e:?}");
    let _: Empty = b.request_ok(Command::Ping).await.expect("still open");
    // Another user is not affected.
    let mut p2 = parent(&hub, "p2").await;
    p2.subscribe(&dm("p2", "x2"), None).await.unwrap();
}

#[tokio::test]
async fn channel_states_are_freed_on_unsubscribe_and_on_close() {
    let hub = TestHub::spawn();
    let mut p1 = parent(&hub, "p1").await;
    let dms: Vec<ChannelName> = (0..40).map(|i| dm("p1", &format!("ghost{i}"))).collect();
    for channel in &dms {
        p1.subscribe(channel, None).await.unwrap();
    }
    // The inbox and 40 DMs to users who do not exist.
    channel_states_become(&hub, 41.0).await;
    for channel in &dms[..30] {
        let _: Empty = p1
            .request_ok(Command::Unsubscribe {
                channel: channel.clone(),
            })
            .await
            .unwrap();
    }
    channel_states_become(&hub, 11.0).await;
    p1.close().await.unwrap();
    channel_states_become(&hub, 0.0).await;
}

#[tokio::test]
async fn a_publish_burst_past_the_user_quota_is_refused_and_nothing_refused_is_stored_or_sent() {
    let hub = TestHub::spawn_with(|s| {
        s.rate_limits.user.publish = quota(1, 3);
        s.rate_limits.strikes = 100;
    });
    let mut sub = parent(&hub, "p2").await;
    sub.subscribe(&ch(CLASS), None).await.unwrap();
    let mut t1 = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await
        .0;
    let ids = t1
        .send_pipelined(
            (1..=6)
                .map(|n| publish(CLASS, &format!("burst {n}")))
                .collect(),
        )
        .await
        .unwrap();
    let answers = replies(&mut t1, &ids).await;
    let ok: Vec<u64> = answers
        .values()
        .filter_map(|r| r.ok.as_ref()?["seq"].as_u64())
        .collect();
    assert_eq!(ok, [1, 2, 3], "the burst of three went through");
    for r in answers.values().filter(|r| r.error.is_some()) {
        assert!(assert_rate_limited(r) <= 1000, "{r:?}");
    }
    // Nothing of the three refused ones was journaled...
    let history: History = sub
        .request_ok(Command::History {
            channel: ch(CLASS),
            before: None,
            limit: None,
        })
        .await
        .unwrap();
    let texts: Vec<_> = history
        .messages
        .iter()
        .filter_map(|e| match e {
            Event::Msg(m) => m.body["text"].as_str().map(str::to_owned),
            _ => None,
        })
        .collect();
    assert_eq!(texts, ["burst 1", "burst 2", "burst 3"]);
    // ... nor sent: after the three, the next message the subscriber gets is another user's.
    let mut t2 = hub
        .connect(Codec::Json, &token("t2", "s1", Role::Teacher, &["c1"]))
        .await
        .0;
    t2.publish(&ch(CLASS), "marker", None).await.unwrap();
    let mut seen = Vec::new();
    loop {
        match next_on(&mut sub, CLASS).await.unwrap() {
            Event::Msg(m) => {
                seen.push(m.seq);
                if m.body["text"] == "marker" {
                    break;
                }
            }
            Event::Synced { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, [1, 2, 3, 4]);
    let text = hub.metrics_text().await;
    let name = r#"oneclass_rate_limited_total{op="publish",scope="user"}"#;
    assert_eq!(metric(&text, name), Some(3.0), "{text}");
}

#[tokio::test]
async fn a_socket_that_ignores_rate_limited_is_closed_with_4029() {
    let hub = TestHub::spawn_with(|s| {
        s.rate_limits.connection = quota(1, 2);
        s.rate_limits.strikes = 3;
        s.rate_limits.strike_window = Duration::from_secs(3600);
    });
    let mut p1 = parent(&hub, "p1").await;
    p1.send_pipelined((0..10).map(|_| Command::Ping).collect())
        .await
        .unwrap();
    let mut answered = Vec::new();
    let code = loop {
        match within(10, p1.read_frame()).await {
            Ok(ServerFrame::Reply(r)) => answered.push(r),
            Ok(ServerFrame::Event(_)) => {}
            Err(e) => break e.close_code(),
        }
    };
    assert_eq!(code, Some(4029));
    // Two within the quota, three refusals told, the fourth refusal still answered, then the
    // close: the rest were never read.
    assert_eq!(answered.len(), 6, "{answered:?}");
    assert!(answered[..2].iter().all(|r| r.ok.is_some()));
    answered[2..].iter().for_each(|r| {
        assert_rate_limited(r);
    });
    let text = hub.metrics_text().await;
    assert_eq!(metric(&text, "oneclass_rate_limit_closes_total"), Some(1.0));
    let name = r#"oneclass_rate_limited_total{op="ping",scope="connection"}"#;
    assert_eq!(metric(&text, name), Some(4.0), "{text}");
}

#[tokio::test]
async fn two_connections_of_one_user_share_the_user_quota() {
    let hub = TestHub::spawn_with(|s| s.rate_limits.user.history = quota(1, 2));
    let mut a = parent(&hub, "p1").await;
    let mut b = parent(&hub, "p1").await;
    let history = || Command::History {
        channel: ch(CLASS),
        before: None,
        limit: None,
    };
    assert!(a.request(history()).await.unwrap().ok.is_some());
    assert!(b.request(history()).await.unwrap().ok.is_some());
    assert_rate_limited(&a.request(history()).await.unwrap());
    assert_rate_limited(&b.request(history()).await.unwrap());
    // Another user has a quota of their own, and so has another op.
    let mut c = parent(&hub, "p2").await;
    assert!(c.request(history()).await.unwrap().ok.is_some());
    let _: Empty = a.request_ok(Command::Ping).await.unwrap();
}

#[tokio::test]
async fn the_school_write_quota_is_shared_by_every_user_of_the_school() {
    let hub = TestHub::spawn_with(|s| s.rate_limits.school_writes = quota(1, 2));
    let mut clients = Vec::new();
    for user in ["t1", "t2", "t3"] {
        let token = token(user, "s1", Role::Teacher, &["c1"]);
        clients.push(hub.connect(Codec::Json, &token).await.0);
    }
    for (c, n) in clients[..2].iter_mut().zip(1..) {
        assert_eq!(c.publish(&ch(CLASS), "ok", None).await.unwrap().seq, n);
    }
    let refused = clients[2]
        .request(publish(CLASS, "one too many"))
        .await
        .unwrap();
    assert_rate_limited(&refused);
    assert!(refused.error.unwrap().message.contains("school"));
    // Another school writes on.
    let other = token("t1", "s2", Role::Teacher, &["c1"]);
    let mut s2 = hub.connect(Codec::Json, &other).await.0;
    s2.publish(&ch("class:s2:c1"), "elsewhere", None)
        .await
        .expect("another school has its own quota");
    let text = hub.metrics_text().await;
    let name = r#"oneclass_rate_limited_total{op="publish",scope="school"}"#;
    assert_eq!(metric(&text, name), Some(1.0), "{text}");
}

#[tokio::test]
async fn a_read_of_seq_0_stores_nothing() {
    let hub = TestHub::spawn_with_journal_handle();
    let mut p1 = parent(&hub, "p1").await;
    for i in 0..5 {
        let _: Empty = p1
            .request_ok(Command::Read {
                channel: dm("p1", &format!("ghost{i}")),
                seq: 0,
            })
            .await
            .expect("a read of 0 is no error");
    }
    let journal = hub.journal.as_ref().expect("the test holds the journal");
    let cursors = journal.read_cursors("s1", "p1").await.unwrap();
    assert!(cursors.is_empty(), "{cursors:?}");
}

#[tokio::test]
async fn presence_toggles_are_coalesced_and_members_converge_on_the_final_state() {
    const INTERVAL: Duration = Duration::from_secs(3);
    const TOGGLES: u32 = 30;
    let hub = TestHub::spawn_with(|s| s.limits.presence_interval = INTERVAL);
    let mut observer = parent(&hub, "p1").await;
    observer.subscribe(&ch(CLASS), None).await.unwrap();
    let mut toggler = parent(&hub, "p2").await;
    let started = Instant::now();
    for _ in 0..TOGGLES {
        toggler.subscribe(&ch(CLASS), None).await.unwrap();
        let _: Empty = toggler
            .request_ok(Command::Unsubscribe { channel: ch(CLASS) })
            .await
            .unwrap();
    }
    let elapsed = started.elapsed();
    // Members converge: the last news of p2 is that it left.
    let mut events = Vec::new();
    loop {
        let e = within(30, observer.next_event()).await.unwrap();
        if let Event::Presence { left, .. } = &e {
            let done = left.iter().any(|u| u == "p2");
            events.push(e);
            if done {
                break;
            }
        }
    }
    // Nothing else follows: a marker published now is the next thing after any presence.
    let mut t1 = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await
        .0;
    t1.publish(&ch(CLASS), "marker", None).await.unwrap();
    loop {
        let e = within(10, observer.next_event()).await.unwrap();
        match &e {
            Event::Msg(m) if m.body["text"] == "marker" => break,
            Event::Presence { .. } => events.push(e),
            _ => {}
        }
    }
    // At most one announcement per interval (and one at its end) however fast p2 toggled.
    let intervals = elapsed.as_secs_f64() / INTERVAL.as_secs_f64();
    let bound = 2 * (intervals.ceil() as usize) + 2;
    assert!(
        events.len() <= bound && events.len() < 2 * TOGGLES as usize,
        "{} presence events for {TOGGLES} toggles in {elapsed:?}: {events:?}",
        events.len()
    );
    let present: Presence = observer
        .request_ok(Command::Presence { channel: ch(CLASS) })
        .await
        .unwrap();
    assert_eq!(present.users, ["p1"]);
}

#[tokio::test]
async fn channels_are_paged_and_every_channel_is_listed_once() {
    let hub = TestHub::spawn();
    let mut p1 = parent(&hub, "p1").await;
    for i in 0..7 {
        p1.publish(&dm("p1", &format!("friend{i}")), "hello", None)
            .await
            .unwrap();
    }
    // Inbox, announcements, class c1 and seven DMs.
    let pages = p1.all_channels(Some(3)).await.unwrap();
    assert_eq!(pages.len(), 4, "{pages:?}");
    assert!(pages.iter().all(|p| p.channels.len() <= 3));
    let names: Vec<String> = pages
        .iter()
        .flat_map(|p| p.channels.iter().map(|s| s.channel.clone()))
        .collect();
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(names.len(), 10, "{names:?}");
    assert_eq!(unique.len(), 10, "a channel listed twice: {names:?}");
    assert!(pages.last().unwrap().next_cursor.is_none());
    // Without paging fields: the first page, which here holds everything.
    let all = p1.channels(None, None).await.unwrap();
    assert_eq!(all.channels.len(), 10);
    assert!(all.next_cursor.is_none());
    let refused = p1.channels(None, Some(0)).await.unwrap_err();
    assert_eq!(refused.error_body().unwrap().code, ErrorCode::BadRequest);
}
