//! What only the in-memory backend has: it runs under paused tokio time, its appends can be
//! held or delayed so a caller's batching can be watched, and its failure knobs behave like
//! SQLite's.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use oneclass_storage::{
    AppendRequest, EventQueries, EventQuery, Health, Journal, MemoryJournal, MemoryOptions,
    ReadCursors, Storage,
};

const T0: i64 = 1_767_225_600_000;

fn request(stream: &str, n: u64) -> AppendRequest {
    AppendRequest {
        school_id: "s1".into(),
        stream: stream.into(),
        kind: "chat.message.posted".into(),
        actor: "u1".into(),
        occurred_at: T0 + n as i64,
        payload: Bytes::from(format!("{n}")),
        idempotency: None,
    }
}

#[tokio::test(start_paused = true)]
async fn appends_complete_under_paused_time_and_a_delay_costs_no_real_time() {
    let j = MemoryJournal::with_options(MemoryOptions {
        append_delay: Duration::from_secs(3600),
        ..MemoryOptions::default()
    });
    let started = std::time::Instant::now();
    let virtual_start = tokio::time::Instant::now();
    let out = j.append(vec![request("c", 1)]).await.unwrap();
    assert_eq!(out[0].envelope().unwrap().seq, 1);
    assert!(virtual_start.elapsed() >= Duration::from_secs(3600));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no real hour passed"
    );
    assert_eq!(
        out[0].envelope().unwrap().day,
        "2026-01-01",
        "the day comes from the request"
    );
}

#[tokio::test(start_paused = true)]
async fn held_appends_wait_in_flight_and_commit_in_call_order_once_released() {
    let j = Arc::new(MemoryJournal::new());
    j.hold_appends();
    let tasks: Vec<_> = (1..=3u64)
        .map(|n| {
            let j = j.clone();
            let batch = vec![request("held", n); n as usize];
            tokio::spawn(async move { j.append(batch).await.unwrap() })
        })
        .collect();
    // Let every task reach the gate, in spawn order.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert_eq!(j.appends_in_flight(), 3);
    assert_eq!(
        j.head("held").await.unwrap(),
        0,
        "nothing commits while held"
    );
    assert!(j.committed_batches().is_empty());

    j.release_appends();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(j.appends_in_flight(), 0);
    assert_eq!(
        j.committed_batches(),
        vec![1, 2, 3],
        "call order, one batch per call"
    );
    let payloads: Vec<_> = j
        .read_stream("held", 1, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload)
        .collect();
    assert_eq!(
        payloads,
        ["1", "2", "2", "3", "3", "3"].map(|s| Bytes::from_static(s.as_bytes()))
    );
}

#[tokio::test]
async fn a_failed_commit_makes_the_memory_journal_unavailable_but_readable() {
    let j = MemoryJournal::new();
    j.append(vec![request("f", 1)]).await.unwrap();
    j.fail_next_commits(1);
    let err = j.append(vec![request("f", 2)]).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(matches!(j.health(), Health::Failed { .. }));
    assert!(j
        .append(vec![request("f", 3)])
        .await
        .unwrap_err()
        .is_unavailable());
    assert!(j
        .set_read_cursor("s1", "u1", "f", 1)
        .await
        .unwrap_err()
        .is_unavailable());
    assert_eq!(
        j.head("f").await.unwrap(),
        1,
        "the failed commit left nothing"
    );
    assert_eq!(j.read_stream("f", 1, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn tampering_with_a_stored_payload_is_found_by_verify() {
    let j = MemoryJournal::new();
    j.append((1..=5).map(|n| request("t", n)).collect())
        .await
        .unwrap();
    assert_eq!(j.verify_stream("t").await.unwrap(), None);
    assert!(j.tamper_payload("t", 3, Bytes::from_static(b"\0")));
    assert!(!j.tamper_payload("t", 9, Bytes::new()));
    assert_eq!(j.verify_stream("t").await.unwrap(), Some(3));
}

#[tokio::test]
async fn one_storage_handle_upcasts_to_a_read_only_query_handle() {
    let all: Arc<dyn Storage> = Arc::new(MemoryJournal::new());
    all.append(vec![request("q", 1)]).await.unwrap();
    let queries: Arc<dyn EventQueries> = all.clone();
    let page = queries
        .query(EventQuery {
            school_id: "s1".into(),
            from_ms: T0,
            to_ms: T0 + 10,
            kind_prefix: None,
            limit: 10,
            page_token: None,
        })
        .await
        .unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.next_page_token, None);
}
