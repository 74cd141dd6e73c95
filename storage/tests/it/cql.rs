//! The conformance suite against a real CQL node (Apache Cassandra 5 in CI, ScyllaDB on a
//! developer's machine), plus what only the CQL backend has: bucketed streams, a schema that
//! re-applies cleanly, reconcilable counters and tamper detection on the stored rows.
//!
//! The node's address comes from `ONECLASS_TEST_CQL` (`host:port`, as printed by
//! `scripts/cassandra.sh start`). Without it the test prints a SKIPPED notice and passes, except
//! under CI, where a missing node is a failure (`tests/src/peer.rs` says what counts as CI). Everything runs in ONE keyspace created
//! for this run (schema changes are slow on Cassandra) and dropped at the end.

use std::sync::Arc;

use bytes::Bytes;
use oneclass_protocol::timestamp::now_ms;
use oneclass_storage::conformance::{self as c, FailNextBatches};
use oneclass_storage::scylla::{Dialect, ScyllaJournal, ScyllaOptions};
use oneclass_storage::{AppendRequest, Journal, Storage};

/// Seqs per partition in the test keyspace: tiny, so the suite's streams span many buckets.
const TEST_BUCKET_SIZE: u64 = 4;

/// The node's address, or `None` when the test should skip.
fn node() -> Option<String> {
    crate::peer::peer(
        "ONECLASS_TEST_CQL",
        "a CQL node (eval \"$(scripts/cassandra.sh start)\")",
    )
}

fn options(bucket_size: u64) -> ScyllaOptions {
    let dialect = match std::env::var("ONECLASS_TEST_CQL_DIALECT").as_deref() {
        Ok("scylla") => Dialect::Scylla,
        _ => Dialect::Cassandra,
    };
    ScyllaOptions {
        dialect,
        create_keyspace: Some("{'class': 'SimpleStrategy', 'replication_factor': 1}".into()),
        bucket_size,
        ..ScyllaOptions::default()
    }
}

fn event(school: &str, stream: &str, kind: &str, at: i64) -> AppendRequest {
    AppendRequest {
        school_id: school.into(),
        stream: stream.into(),
        kind: kind.into(),
        actor: "u1".into(),
        occurred_at: at,
        payload: Bytes::from_static(b"payload"),
        idempotency: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conformance_suite_passes_on_a_cql_node() {
    let Some(addr) = node() else { return };
    let keyspace = format!("oneclass_it_{}_{}", std::process::id(), now_ms());
    let j = Arc::new(
        ScyllaJournal::connect(
            std::slice::from_ref(&addr),
            &keyspace,
            options(TEST_BUCKET_SIZE),
        )
        .await
        .expect("connect and migrate"),
    );
    assert_eq!(j.bucket_size(), TEST_BUCKET_SIZE);

    // The same suite, unchanged, as the embedded backend runs.
    let hook = j.clone();
    let fail: FailNextBatches = Arc::new(move |n| hook.fail_next_batches(n));
    let storage: Arc<dyn Storage> = j.clone();
    c::run_all(storage, "cql", Some(fail)).await;

    // Connecting again re-applies nothing and keeps the bucket size the keyspace was made with.
    let again = ScyllaJournal::connect(&[addr], &keyspace, options(10_000))
        .await
        .expect("reconnect");
    assert_eq!(again.bucket_size(), TEST_BUCKET_SIZE);
    drop(again);

    counters_reconcile_from_the_events(&j).await;
    a_tampered_row_is_found(&j).await;

    j.session()
        .query_unpaged(format!("DROP KEYSPACE IF EXISTS {keyspace}"), ())
        .await
        .expect("drop the test keyspace");
}

async fn counters_reconcile_from_the_events(j: &ScyllaJournal) {
    let at = 1_767_225_600_000; // 2026-01-01
    let batch = vec![
        event("cnt-s1", "class:cnt-s1:c1", "chat.message.posted", at),
        event("cnt-s1", "class:cnt-s1:c1", "chat.message.posted", at + 1),
        event("cnt-s1", "payment:cnt-1", "payment.initiated", at + 2),
    ];
    j.append(batch).await.unwrap();
    let counts = j.day_counts("cnt-s1", "2026-01-01").await.unwrap();
    assert_eq!(counts.get("chat.message.posted"), Some(&2));
    assert_eq!(counts.get("payment.initiated"), Some(&1));

    // A counter that drifted (say, an increment applied twice) is put right from the events.
    j.session()
        .query_unpaged(
            "UPDATE event_counts SET n = n + 5 WHERE school_id = 'cnt-s1' AND day = '2026-01-01' \
             AND kind = 'chat.message.posted'",
            (),
        )
        .await
        .unwrap();
    let report = j.reconcile_counts("cnt-s1", "2026-01-01").await.unwrap();
    assert_eq!(report.counted.get("chat.message.posted"), Some(&2));
    assert_eq!(report.corrected.get("chat.message.posted"), Some(&7));
    let counts = j.day_counts("cnt-s1", "2026-01-01").await.unwrap();
    assert_eq!(counts.get("chat.message.posted"), Some(&2));
    assert!(j
        .reconcile_counts("cnt-s1", "2026-01-01")
        .await
        .unwrap()
        .corrected
        .is_empty());
}

async fn a_tampered_row_is_found(j: &ScyllaJournal) {
    let s = "class:tamper-s1:c1";
    let batch = (0..6)
        .map(|i| event("tamper-s1", s, "chat.message.posted", 1_767_225_600_000 + i))
        .collect();
    j.append(batch).await.unwrap();
    assert_eq!(j.verify_stream(s).await.unwrap(), None);
    // Seq 5 lives in the second bucket (size 4).
    j.session()
        .query_unpaged(
            "UPDATE events_by_stream SET payload = 0x00 WHERE stream = ? AND bucket = 1 AND seq = 5",
            (s,),
        )
        .await
        .unwrap();
    assert_eq!(j.verify_stream(s).await.unwrap(), Some(5));
}
