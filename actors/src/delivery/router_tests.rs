//! The router of a kind over real provider actors, each calling its simulator
//! (`oneclass_clients::sim`), on tokio's paused clock: failover TelOne → Econet when TelOne's
//! retries are exhausted, when its circuit is open, and when its queue would miss a deadline;
//! none on a barred number; the journal's record of each attempt and of the move.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use oneclass_clients::sim::{Fault, SandboxHandle};
use oneclass_protocol::journal::{decode_payload, kinds, DeliveryFailedOver};
use oneclass_storage::MemoryJournal;
use tokio::time::Instant;

use super::tests::{econet, finished, journal_of, sandbox, settings, sms, telone};
use super::*;
use crate::metrics::Metrics;

struct Rig {
    set: ProviderSet,
    telone: Addr<ProviderActor>,
    journal: Arc<MemoryJournal>,
    metrics: Arc<Metrics>,
}

/// TelOne (priority 1) and Econet (priority 2), as the hub configures them, on one journal.
fn start(sb: &SandboxHandle, telone_settings: ProviderActorSettings) -> Rig {
    let journal = Arc::new(MemoryJournal::new());
    let metrics = Arc::new(Metrics::new());
    let actor = |client, s: ProviderActorSettings| {
        let retry = RetrySchedule::seeded(s.retry, 7);
        ProviderActor::with_retry(client, s, journal.clone(), metrics.clone(), retry).start()
    };
    let telone = actor(telone(sb), telone_settings);
    let econet = actor(econet(sb), settings(500, 10));
    let set = ProviderSet::new(
        ProviderKind::Sms,
        vec![
            Member {
                name: "telone".into(),
                addr: telone.clone(),
            },
            Member {
                name: "econet".into(),
                addr: econet,
            },
        ],
        journal.clone(),
        metrics.clone(),
    );
    Rig {
        set,
        telone,
        journal,
        metrics,
    }
}

fn server_error(sb: &SandboxHandle, provider: &str, times: usize) {
    for _ in 0..times {
        sb.faults().push(
            provider,
            Fault::Status {
                status: 503,
                retry_after: None,
                body: "down".into(),
            },
        );
    }
}

fn delivery(id: &str, to: &str) -> Delivery {
    sms(id, to, "Fees are due on Friday").0
}

fn failed_over(payload: &[u8]) -> DeliveryFailedOver {
    decode_payload(payload).unwrap()
}

#[actix_rt::test]
async fn injected_server_errors_exhaust_telone_retries_and_econet_sends_it() {
    tokio::time::pause();
    let sb = sandbox().await;
    let rig = start(&sb, settings(3600, 10));
    // TelOne's three attempts all fail; Econet has no fault.
    server_error(&sb, "telone", 3);
    let sent = rig
        .set
        .submit(delivery("d1", "0772345678"), None)
        .await
        .unwrap();
    assert_eq!(sent.provider, "econet");
    assert_eq!(sb.recorder().requests("telone").len(), 3);
    assert_eq!(sb.recorder().requests("econet").len(), 1);
    assert_eq!(sb.sms_outbox().len(), 1, "sent once, by Econet only");

    // TelOne's stream: three attempts, each started and finished, then the move.
    let telone_events = journal_of(&rig.journal, "telone").await;
    let seen: Vec<_> = telone_events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        seen,
        [
            kinds::DELIVERY_ATTEMPT_STARTED,
            kinds::DELIVERY_ATTEMPT_FINISHED,
            kinds::DELIVERY_ATTEMPT_STARTED,
            kinds::DELIVERY_ATTEMPT_FINISHED,
            kinds::DELIVERY_ATTEMPT_STARTED,
            kinds::DELIVERY_ATTEMPT_FINISHED,
            kinds::DELIVERY_FAILED_OVER,
        ]
    );
    assert_eq!(
        finished(&telone_events[5].1).decision,
        "provider_unavailable"
    );
    let moved = failed_over(&telone_events[6].1);
    assert_eq!(
        (
            moved.delivery_id.as_str(),
            moved.from.as_str(),
            moved.to.as_deref(),
            moved.reason.as_str()
        ),
        ("d1", "telone", Some("econet"), "provider_unavailable")
    );
    let econet_events = journal_of(&rig.journal, "econet").await;
    let end = finished(&econet_events[1].1);
    assert_eq!(
        (end.delivery_id.as_str(), end.decision.as_str()),
        ("d1", "done")
    );
    assert_eq!(
        rig.metrics
            .delivery_failovers("telone", "provider_unavailable"),
        1
    );
}

#[actix_rt::test]
async fn an_open_telone_circuit_sends_to_econet_without_calling_telone() {
    tokio::time::pause();
    let sb = sandbox().await;
    let mut s = settings(3600, 10);
    s.retry.max_attempts = 1;
    s.circuit.consecutive_failures = 1;
    let rig = start(&sb, s);
    // One failure opens TelOne's circuit (and that delivery fails over too).
    server_error(&sb, "telone", 1);
    let first = rig
        .set
        .submit(delivery("d1", "0712345678"), None)
        .await
        .unwrap();
    assert_eq!(first.provider, "econet");
    assert_eq!(
        rig.telone.send(Status).await.unwrap().circuit,
        CircuitState::Open
    );
    let sent = rig
        .set
        .submit(delivery("d2", "0712345678"), None)
        .await
        .unwrap();
    assert_eq!(sent.provider, "econet");
    assert_eq!(
        sb.recorder().requests("telone").len(),
        1,
        "an open circuit is not called"
    );
    let telone_events = journal_of(&rig.journal, "telone").await;
    let (kind, payload) = telone_events.last().unwrap();
    assert_eq!(kind, kinds::DELIVERY_FAILED_OVER);
    let moved = failed_over(payload);
    assert_eq!(
        (moved.delivery_id.as_str(), moved.reason.as_str()),
        ("d2", "circuit_open")
    );
    assert_eq!(rig.metrics.delivery_failovers("telone", "circuit_open"), 1);
}

#[actix_rt::test]
async fn a_barred_number_is_not_failed_over() {
    tokio::time::pause();
    let sb = sandbox().await;
    let rig = start(&sb, settings(3600, 10));
    let refused = rig
        .set
        .submit(delivery("d1", "+263779999002"), None)
        .await
        .unwrap_err();
    match &refused {
        Undelivered::Refused { provider, failure } => {
            assert_eq!(provider, "telone");
            assert!(
                matches!(failure, Failure::RecipientUnreachable(_)),
                "{failure:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(sb.recorder().requests("econet").is_empty());
    let telone_events = journal_of(&rig.journal, "telone").await;
    assert!(telone_events
        .iter()
        .all(|(k, _)| k != kinds::DELIVERY_FAILED_OVER));
}

#[actix_rt::test]
async fn a_deadline_telone_queue_would_miss_goes_to_econet() {
    tokio::time::pause();
    let sb = sandbox().await;
    // 60/h with a burst of 1: one send a minute.
    let rig = start(&sb, settings(60, 1));
    // Fill TelOne's queue with ten deliveries without a deadline (they go out over ten minutes).
    let backlog: Vec<_> = (0..10)
        .map(|i| {
            let set = rig.set.clone();
            actix_rt::spawn(async move {
                set.submit(delivery(&format!("b{i}"), "0712345678"), None)
                    .await
            })
        })
        .collect();
    // Wait until TelOne holds them all (an actor's mailbox answers in order, so this is a
    // condition, not a sleep).
    loop {
        let s = rig.telone.send(Status).await.unwrap();
        if s.queued + s.in_flight + sb.recorder().requests("telone").len() >= 10 {
            break;
        }
        tokio::task::yield_now().await;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let sent = rig
        .set
        .submit(delivery("urgent", "0712345678"), Some(deadline))
        .await
        .unwrap();
    assert_eq!(sent.provider, "econet");
    let telone_events = journal_of(&rig.journal, "telone").await;
    let moved: Vec<_> = telone_events
        .iter()
        .filter(|(k, _)| k == kinds::DELIVERY_FAILED_OVER)
        .map(|(_, p)| failed_over(p))
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(
        (moved[0].delivery_id.as_str(), moved[0].reason.as_str()),
        ("urgent", "deadline")
    );
    assert!(telone_events
        .iter()
        .all(|(k, p)| k != kinds::DELIVERY_ATTEMPT_STARTED
            || decode_payload::<oneclass_protocol::journal::DeliveryAttemptStarted>(p)
                .unwrap()
                .delivery_id
                != "urgent"));
    for b in backlog {
        assert_eq!(b.await.unwrap().unwrap().provider, "telone");
    }
}

#[actix_rt::test]
async fn when_every_provider_fails_the_answer_lists_each_and_why() {
    tokio::time::pause();
    let sb = sandbox().await;
    let rig = start(&sb, settings(3600, 10));
    server_error(&sb, "telone", 3);
    server_error(&sb, "econet", 3);
    let err = rig
        .set
        .submit(delivery("d1", "0712345678"), None)
        .await
        .unwrap_err();
    match &err {
        Undelivered::Exhausted { kind, passed } => {
            assert_eq!(*kind, "sms");
            let who: Vec<_> = passed
                .iter()
                .map(|p| (p.provider.as_str(), p.reason))
                .collect();
            assert_eq!(
                who,
                [
                    ("telone", "provider_unavailable"),
                    ("econet", "provider_unavailable")
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    let econet_events = journal_of(&rig.journal, "econet").await;
    let last = failed_over(&econet_events.last().unwrap().1);
    assert_eq!((last.from.as_str(), last.to), ("econet", None));
}
