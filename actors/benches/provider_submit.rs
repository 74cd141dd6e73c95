//! Provider submit throughput (issue 10): SMS submissions per second through a
//! [`ProviderActor`] with its limits off, and through the bare TelOne client at the same
//! concurrency, both against the TelOne simulator (`oneclass_clients::sim`) on loopback.
//!
//! The ratio of the two is the result: the actor's overhead (queue, pump, journal entries of
//! every attempt, metrics) over the client's own HTTP round trip. Absolute figures depend on
//! the machine; the simulator and the load share it.
//!
//! Set-up, and why:
//! - The simulator runs on its own thread with its own single-threaded tokio runtime, as a
//!   separate process would: on the bench's actix thread it would compete with the load for the
//!   same core and the figure would measure the scheduler, not the actor.
//! - The actor has no rate (`ProviderActorSettings::at_rate(None)`, the hub's `rate_per_hour = 0`),
//!   an in-flight window of [`WINDOW`] and a queue large enough for a whole batch; the
//!   simulator's own hourly quota is lifted. Every batch of [`BATCH`] submissions is handed to
//!   the actor at once, so it runs as fast as it accepts them.
//! - One reqwest client (inside the TelOne client) serves each run, so connections are pooled
//!   and kept alive; the baseline keeps [`WINDOW`] calls in flight, as the actor does.
//! - A submission that does not come back `Sent` panics: a benchmark that counted failures as
//!   throughput would lie.
//!
//! Run with `cargo bench -p oneclass-actors --bench provider_submit` (never part of
//! `cargo test`: criterion benches run under `cargo bench` only).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use futures_util::stream::{self, StreamExt};
use oneclass_actors::delivery::{
    Delivery, OutboundMessage, ProviderActor, ProviderActorSettings, SmsProvider, Submit,
};
use oneclass_actors::metrics::Metrics;
use oneclass_clients::sim::{run_sandbox, SandboxConfig};
use oneclass_clients::sms::telone::{self, TeloneConfig};
use oneclass_clients::sms::{HttpSmsClient, SmsGateway, SmsMessage};
use oneclass_clients::{HttpSettings, Outcome, SystemClock, ZwMobile};
use oneclass_storage::MemoryJournal;

/// Submissions per measured iteration.
const BATCH: usize = 2_000;
/// Calls in flight at once: the actor's `max_in_flight`, and the baseline's concurrency.
const WINDOW: usize = 64;

/// Starts the simulator on a thread of its own and returns its TelOne URL; the thread (and the
/// simulator) lives until the process exits.
fn simulator() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("telone-sim".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("simulator runtime");
            rt.block_on(async move {
                let mut config = SandboxConfig::default();
                config.sms.telone_rate_limit = u32::MAX;
                let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                let handle = run_sandbox(listener, config).await.expect("simulator");
                tx.send(handle.url("telone")).expect("bench is waiting");
                // Holding the handle keeps the simulator serving.
                std::future::pending::<()>().await;
                drop(handle);
            });
        })
        .expect("simulator thread");
    rx.recv().expect("simulator started")
}

fn telone_client(url: &str) -> HttpSmsClient {
    telone::client(
        TeloneConfig {
            api_url: url.to_owned(),
            username: "sandbox".into(),
            password: "sandbox".into(),
            sender_id: "ONECLASS".into(),
            // Limits off: no contracted hourly rate.
            rate_limit: None,
        },
        &HttpSettings::with_timeout(Duration::from_secs(30)),
        SystemClock::shared(),
    )
    .expect("TelOne client")
}

fn message(n: u64) -> SmsMessage {
    let id = format!("bench-{n}");
    SmsMessage {
        to: ZwMobile::parse("0712345678").expect("TelOne number"),
        text: "Fees are due on Friday".into(),
        reference: id,
        sender: None,
    }
}

fn provider_submit(c: &mut Criterion) {
    let url = simulator();
    let system = actix_rt::System::new();
    let next = Arc::new(AtomicU64::new(0));

    let mut group = c.benchmark_group("provider_submit");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(BATCH as u64));

    // Baseline: the bare client, WINDOW calls in flight.
    let client = telone_client(&url);
    group.bench_function("bare_client", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let begin = Instant::now();
                for _ in 0..iters {
                    let first = next.fetch_add(BATCH as u64, Ordering::Relaxed);
                    stream::iter(first..first + BATCH as u64)
                        .map(|n| {
                            let client = &client;
                            async move { client.send(&message(n)).await }
                        })
                        .buffer_unordered(WINDOW)
                        .for_each(|outcome| async move {
                            assert!(matches!(outcome, Outcome::Sent(_)), "{outcome:?}");
                        })
                        .await;
                }
                begin.elapsed()
            })
        });
    });

    // The provider actor: limits off, WINDOW in flight, every batch queued at once.
    let actor = system.block_on(async {
        let mut settings = ProviderActorSettings::at_rate(None);
        settings.max_in_flight = WINDOW;
        settings.queue_capacity = BATCH;
        ProviderActor::new(
            Arc::new(SmsProvider(Arc::new(telone_client(&url)))),
            settings,
            Arc::new(MemoryJournal::new()),
            Arc::new(Metrics::new()),
        )
        .start()
    });
    group.bench_function("provider_actor", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let begin = Instant::now();
                for _ in 0..iters {
                    let first = next.fetch_add(BATCH as u64, Ordering::Relaxed);
                    let answers: Vec<_> = (first..first + BATCH as u64)
                        .map(|n| {
                            actor.send(Submit(Delivery {
                                delivery_id: format!("bench-{n}"),
                                school: "s1".into(),
                                context: None,
                                message: OutboundMessage::Sms(message(n)),
                            }))
                        })
                        .collect();
                    for answer in futures_util::future::join_all(answers).await {
                        let sent = answer.expect("actor alive");
                        assert!(sent.is_ok(), "{sent:?}");
                    }
                }
                begin.elapsed()
            })
        });
    });
    group.finish();
}

criterion_group!(benches, provider_submit);
criterion_main!(benches);
