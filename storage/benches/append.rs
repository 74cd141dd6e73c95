//! Durable append throughput of the SQLite journal.
//!
//! Each iteration appends one batch of ~100-byte events and waits for its acknowledgement, i.e.
//! for the commit and its fsync, so the numbers are durable events per second at batch sizes 1,
//! 64 and 1024 (criterion reports them as elements/s). The journal lives in a temporary
//! directory on the real disk, not in memory.
//!
//! Run: `cargo bench -p oneclass-storage --bench append -- --warm-up-time 1 --measurement-time 5`

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use oneclass_storage::{AppendRequest, Journal, SqliteJournal};

/// Batch sizes measured: one event per fsync, a typical group, and a bulk import.
const BATCH_SIZES: [usize; 3] = [1, 64, 1024];

/// A batch whose timestamps continue from `clock`, as live traffic's do: events keep arriving
/// in time order, so the by-school-and-time index grows at its end rather than being rewritten
/// all over by every batch.
fn batch(size: usize, stream: &str, clock: &mut i64) -> Vec<AppendRequest> {
    (0..size)
        .map(|_| AppendRequest {
            school_id: "bench-school".into(),
            stream: stream.into(),
            kind: "chat.message.posted".into(),
            actor: "u1".into(),
            occurred_at: {
                *clock += 1;
                *clock
            },
            payload: Bytes::from(vec![b'x'; 100]),
            idempotency: None,
        })
        .collect()
}

fn append(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        // unwrap: a bench without a runtime cannot run at all.
        .unwrap();
    // unwrap: same; the temporary directory is on the machine's disk.
    let dir = tempfile::tempdir().unwrap();
    let journal = SqliteJournal::open(dir.path().join("bench.db")).unwrap();
    let mut group = c.benchmark_group("durable_append");
    let mut clock = 1_767_225_600_000i64;
    for size in BATCH_SIZES {
        let stream = format!("class:bench:{size}");
        group.throughput(Throughput::Elements(size as u64));
        group.bench_function(format!("batch_{size}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        let input = batch(size, &stream, &mut clock);
                        let start = Instant::now();
                        // unwrap: a failed append invalidates the measurement.
                        journal.append(input).await.unwrap();
                        spent += start.elapsed();
                    }
                    spent
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
