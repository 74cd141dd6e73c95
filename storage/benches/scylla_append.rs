//! Append throughput and latency of the CQL backend against a real node, next to the embedded
//! SQLite backend measured in the same run.
//!
//! Each criterion iteration is one round: N streams (N = 1, 16, 128) each append one ~100-byte
//! event at the same moment, and the round ends when all N are acknowledged. Criterion reports
//! rounds as elements/s = appends/s; every single append's latency also goes into a histogram,
//! whose p50/p99/max are printed after each case. The CQL node comes from `ONECLASS_TEST_CQL`
//! (`scripts/cassandra.sh start`); without it only SQLite is measured. The CQL journal uses a
//! fresh keyspace (replication factor 1, LOCAL_QUORUM), dropped at the end.
//!
//! Run: `eval "$(scripts/cassandra.sh start)"; cargo bench -p oneclass-storage --bench scylla_append`

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::future::join_all;
use hdrhistogram::Histogram;
use oneclass_storage::scylla::{Dialect, ScyllaJournal, ScyllaOptions};
use oneclass_storage::{AppendRequest, Journal, SqliteJournal};
use parking_lot::Mutex;

/// Concurrent streams measured.
const STREAMS: [usize; 3] = [1, 16, 128];

fn request(stream: &str, at: i64) -> AppendRequest {
    AppendRequest {
        school_id: "bench-school".into(),
        stream: stream.into(),
        kind: "chat.message.posted".into(),
        actor: "u1".into(),
        occurred_at: at,
        payload: Bytes::from(vec![b'x'; 100]),
        idempotency: None,
    }
}

fn measure(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    backend: &str,
    journal: Arc<dyn Journal>,
) {
    let mut group = c.benchmark_group(format!("append_{backend}"));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    for n in STREAMS {
        let streams: Vec<String> = (0..n)
            .map(|i| format!("class:bench:{backend}-{n}-{i}"))
            .collect();
        // unwrap: 1 µs .. 60 s with 3 significant digits is a valid histogram.
        let latencies = Mutex::new(Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap());
        let mut clock = 1_767_225_600_000i64;
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("{n}_streams"), |b| {
            b.iter_custom(|rounds| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..rounds {
                        clock += 1;
                        let appends = streams.iter().map(|s| {
                            let j = journal.clone();
                            let req = request(s, clock);
                            let latencies = &latencies;
                            async move {
                                let t = Instant::now();
                                // unwrap: a failed append invalidates the measurement.
                                j.append(vec![req]).await.unwrap();
                                let us = t.elapsed().as_micros() as u64;
                                latencies.lock().saturating_record(us.max(1));
                            }
                        });
                        join_all(appends).await;
                    }
                    start.elapsed()
                })
            })
        });
        let h = latencies.lock();
        println!(
            "append_{backend}/{n}_streams: {} appends, latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            h.len(),
            h.value_at_quantile(0.50) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
            h.max() as f64 / 1000.0
        );
    }
    group.finish();
}

fn append(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        // unwrap: a bench without a runtime cannot run at all.
        .unwrap();
    // unwrap: the temporary directory is on the machine's disk.
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Journal> =
        Arc::new(SqliteJournal::open(dir.path().join("bench.db")).unwrap());
    measure(c, &rt, "sqlite", sqlite);

    let Some(addr) = std::env::var("ONECLASS_TEST_CQL")
        .ok()
        .filter(|a| !a.is_empty())
    else {
        println!("SKIPPED: the CQL backend (ONECLASS_TEST_CQL is not set)");
        return;
    };
    let keyspace = format!("oneclass_bench_{}", std::process::id());
    let options = ScyllaOptions {
        dialect: Dialect::Cassandra,
        create_keyspace: Some("{'class': 'SimpleStrategy', 'replication_factor': 1}".into()),
        ..ScyllaOptions::default()
    };
    let cql = rt
        .block_on(ScyllaJournal::connect(&[addr], &keyspace, options))
        // unwrap: the node was named, so not reaching it is an error of the run.
        .unwrap();
    let cql = Arc::new(cql);
    measure(c, &rt, "cql", cql.clone());
    // The keyspace is only bench data; a failed drop leaves it for the node's wipe at stop.
    let _ = rt.block_on(
        cql.session()
            .query_unpaged(format!("DROP KEYSPACE IF EXISTS {keyspace}"), ()),
    );
}

criterion_group!(benches, append);
criterion_main!(benches);
