//! A resume across a gap of 100,000 messages (~100 MB): everything arrives in order, then
//! `synced`, while the hub's memory stays far below the size of the gap (the replay is paced by
//! the outbound queue, page by page).
//!
//! The hub runs as a child process here so that `/metrics`' resident memory is the hub's alone,
//! not this test process's (where other tests run in parallel).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use oneclass_actors::Role;
use oneclass_protocol::client::Client;
use oneclass_protocol::command::Body;
use oneclass_protocol::journal::{encode_payload, kinds, ChatMessagePosted};
use oneclass_protocol::timestamp::now_ms;
use oneclass_protocol::{Codec, Event};
use oneclass_storage::{AppendRequest, Journal, SqliteJournal};
use oneclass_tests::{metric, next_on, token, within, ChildHub};

const CLASS: &str = "class:s1:c1";
const GAP: u64 = 100_000;
const BATCH: u64 = 1000;
const MIB: f64 = 1024.0 * 1024.0;

async fn write_gap(dir: &std::path::Path) {
    let journal = SqliteJournal::open(dir.join(oneclass_hub::startup::JOURNAL_FILE)).unwrap();
    let filler = "k".repeat(1000);
    for batch in 0..GAP / BATCH {
        let requests = (1..=BATCH)
            .map(|i| {
                let n = batch * BATCH + i;
                let mut body = Body::new();
                body.insert("text".into(), format!("{n} {filler}").into());
                AppendRequest {
                    school_id: "s1".into(),
                    stream: CLASS.into(),
                    kind: kinds::CHAT_MESSAGE_POSTED.into(),
                    actor: "t1".into(),
                    occurred_at: now_ms(),
                    payload: encode_payload(&ChatMessagePosted {
                        body,
                        client_msg_id: None,
                    }),
                    idempotency: None,
                }
            })
            .collect();
        journal.append(requests).await.unwrap();
    }
    assert_eq!(journal.head(CLASS).await.unwrap(), GAP);
}

async fn resident_bytes(http: &reqwest::Client, hub: &ChildHub) -> f64 {
    let text = http
        .get(hub.http_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metric(&text, "process_resident_memory_bytes").expect("process_resident_memory_bytes")
}

async fn expect_seq(c: &mut Client, n: u64) {
    match next_on(c, CLASS).await.unwrap() {
        Event::Msg(m) => assert_eq!(m.seq, n, "out of order or gap"),
        other => panic!("expected seq {n}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_across_a_gap_of_100000_messages_arrives_in_order_with_bounded_hub_memory() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    write_gap(dir.path()).await;
    let hub = ChildHub::start(dir.path()).await;
    let http = reqwest::Client::new();
    let baseline = resident_bytes(&http, &hub).await;

    let resume = BTreeMap::from([(CLASS.to_string(), 0)]);
    let (mut c, connected) = Client::connect(
        &hub.ws_url(),
        Codec::MsgPack,
        &token("p1", "s1", Role::Parent, &["c1"]),
        resume,
    )
    .await
    .unwrap();
    assert_eq!(connected.resumed.get(CLASS), Some(&GAP));

    let mut peak = baseline;
    // A slow reader at first: the hub must wait for it, not read ahead into memory.
    for n in 1..=2000 {
        expect_seq(&mut c, n).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        if n % 500 == 0 {
            peak = peak.max(resident_bytes(&http, &hub).await);
        }
    }
    for n in 2001..=GAP {
        expect_seq(&mut c, n).await;
        if n % 10_000 == 0 {
            peak = peak.max(resident_bytes(&http, &hub).await);
        }
    }
    match within(10, next_on(&mut c, CLASS)).await.unwrap() {
        Event::Synced { head, .. } => assert_eq!(head, GAP),
        other => panic!("expected synced, got {other:?}"),
    }
    let growth = peak - baseline;
    eprintln!(
        "resume of {GAP}: hub RSS {:.1} MiB -> peak {:.1} MiB (+{:.1} MiB) in {:?}",
        baseline / MIB,
        peak / MIB,
        growth / MIB,
        started.elapsed()
    );
    assert!(
        growth < 40.0 * MIB,
        "hub memory grew by {:.1} MiB during a ~100 MB replay",
        growth / MIB
    );
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "took {:?}",
        started.elapsed()
    );
}
