//! The provider actor against the real clients and the provider simulators
//! (`oneclass_clients::sim`), on tokio's paused clock: pacing, `Retry-After`, the circuit, the
//! queue bound, and the journal entries of every attempt.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use oneclass_clients::sim::{run_sandbox, Fault, SandboxConfig, SandboxHandle};
use oneclass_clients::sms::econet::{self, EconetConfig};
use oneclass_clients::sms::kannel::{self, KannelConfig};
use oneclass_clients::sms::telone::{self, TeloneConfig};
use oneclass_clients::sms::SmsMessage;
use oneclass_clients::{HttpSettings, SystemClock, ZwMobile};
use oneclass_protocol::journal::{
    decode_payload, kinds, DeliveryAttemptFinished, DeliveryAttemptStarted, ProviderCircuitChanged,
};
use oneclass_storage::{Journal, MemoryJournal};
use tokio::time::Instant;

use super::*;
use crate::metrics::Metrics;

/// Far beyond anything a simulator on loopback needs; a paused clock never reaches it unless a
/// call really hangs.
const CALL_TIMEOUT: Duration = Duration::from_secs(600);

pub(super) async fn sandbox() -> SandboxHandle {
    sandbox_with(SandboxConfig::default()).await
}

async fn sandbox_with(config: SandboxConfig) -> SandboxHandle {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    run_sandbox(listener, config).await.unwrap()
}

fn http() -> HttpSettings {
    HttpSettings::with_timeout(CALL_TIMEOUT)
}

pub(super) fn telone(sb: &SandboxHandle) -> Arc<dyn ProviderClient> {
    let client = telone::client(
        TeloneConfig {
            api_url: sb.url("telone"),
            username: "sandbox".into(),
            password: "sandbox".into(),
            sender_id: "ONECLASS".into(),
            rate_limit: Some(1000),
        },
        &http(),
        SystemClock::shared(),
    )
    .unwrap();
    Arc::new(SmsProvider(Arc::new(client)))
}

pub(super) fn econet(sb: &SandboxHandle) -> Arc<dyn ProviderClient> {
    let client = econet::client(
        EconetConfig {
            api_url: sb.url("econet"),
            api_key: "sandbox-econet-key".into(),
            sender_id: "ONECLASS".into(),
            rate_limit: Some(500),
        },
        &http(),
        SystemClock::shared(),
    )
    .unwrap();
    Arc::new(SmsProvider(Arc::new(client)))
}

fn kannel(sb: &SandboxHandle) -> Arc<dyn ProviderClient> {
    let client = kannel::client(
        KannelConfig {
            base_url: sb.url("kannel"),
            username: "sandbox".into(),
            password: "sandbox".into(),
            sender: Some("ONECLASS".into()),
            dlr_url: None,
            dlr_mask: 0,
            smsc: None,
            hourly_rate_limit: None,
        },
        &http(),
        SystemClock::shared(),
    )
    .unwrap();
    Arc::new(SmsProvider(Arc::new(client)))
}

pub(super) fn settings(per_hour: u32, burst: u32) -> ProviderActorSettings {
    let mut s = ProviderActorSettings::at_rate(Some(ProviderRate::new(per_hour, burst).unwrap()));
    s.retry = RetryPolicy {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(10),
        max_attempts: 3,
        max_retry_after: Duration::from_secs(120),
    };
    // Econet's US$0.0108 a part.
    s.cost_per_segment_micros = 10_800;
    s
}

struct Rig {
    addr: Addr<ProviderActor>,
    journal: Arc<MemoryJournal>,
    metrics: Arc<Metrics>,
}

fn start(client: Arc<dyn ProviderClient>, settings: ProviderActorSettings) -> Rig {
    let journal = Arc::new(MemoryJournal::new());
    let metrics = Arc::new(Metrics::new());
    let retry = RetrySchedule::seeded(settings.retry, 11);
    let actor =
        ProviderActor::with_retry(client, settings, journal.clone(), metrics.clone(), retry);
    Rig {
        addr: actor.start(),
        journal,
        metrics,
    }
}

pub(super) fn sms(id: &str, to: &str, text: &str) -> Submit {
    Submit(Delivery {
        delivery_id: id.into(),
        school: "s1".into(),
        context: None,
        message: OutboundMessage::Sms(SmsMessage {
            to: ZwMobile::parse(to).unwrap(),
            text: text.into(),
            reference: id.into(),
            sender: None,
        }),
    })
}

/// Every event of `provider:{name}` as (kind, payload bytes).
pub(super) async fn journal_of(journal: &MemoryJournal, provider: &str) -> Vec<(String, Vec<u8>)> {
    journal
        .read_stream(&format!("provider:{provider}"), 1, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.payload.to_vec()))
        .collect()
}

pub(super) fn finished(payload: &[u8]) -> DeliveryAttemptFinished {
    decode_payload(payload).unwrap()
}

#[actix_rt::test]
async fn a_provider_at_n_per_hour_sends_no_faster_over_a_long_window() {
    tokio::time::pause();
    let sb = sandbox().await;
    // 120/h with a burst of 1: one send every 30 s.
    let rig = start(telone(&sb), settings(120, 1));
    let begin = Instant::now();
    let answers: Vec<_> = (0..10)
        .map(|i| {
            rig.addr
                .send(sms(&format!("d{i}"), "0712345678", "Fees due"))
        })
        .collect();
    let mut answered_at = Vec::new();
    for answer in answers {
        let sent = answer.await.unwrap().unwrap();
        assert!(sent.provider_message_id.starts_with("TL"), "{sent:?}");
        answered_at.push(begin.elapsed());
    }
    assert_eq!(sb.sms_outbox().len(), 10);
    // The first goes at once; each later one waits for its cell, 30 s after the one before.
    for (i, pair) in answered_at.windows(2).enumerate() {
        assert!(
            pair[1] - pair[0] >= Duration::from_secs(29),
            "send {} came {:?} after the one before",
            i + 1,
            pair[1] - pair[0]
        );
    }
    assert!(
        answered_at[9] >= Duration::from_secs(9 * 30),
        "{answered_at:?}"
    );
    assert_eq!(rig.metrics.delivery_attempts("telone", "sent"), 10);
}

#[actix_rt::test]
async fn retry_after_from_the_provider_is_waited_for_exactly_then_the_send_goes() {
    tokio::time::pause();
    let sb = sandbox().await;
    sb.faults().push(
        "telone",
        Fault::Status {
            status: 429,
            retry_after: Some("40".into()),
            body: "slow down".into(),
        },
    );
    let rig = start(telone(&sb), settings(3600, 10));
    let begin = Instant::now();
    let sent = rig
        .addr
        .send(sms("d1", "0712345678", "Exam results"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        begin.elapsed() >= Duration::from_secs(40),
        "{:?}",
        begin.elapsed()
    );
    assert_eq!(sent.attempts, 2);
    assert_eq!(sb.recorder().requests("telone").len(), 2);
    let events = journal_of(&rig.journal, "telone").await;
    let kinds_seen: Vec<_> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds_seen,
        [
            kinds::DELIVERY_ATTEMPT_STARTED,
            kinds::DELIVERY_ATTEMPT_FINISHED,
            kinds::DELIVERY_ATTEMPT_STARTED,
            kinds::DELIVERY_ATTEMPT_FINISHED,
        ]
    );
    let first = finished(&events[1].1);
    assert_eq!(
        (
            first.status.as_str(),
            first.decision.as_str(),
            first.retry_in_ms
        ),
        ("retry_after", "retry", Some(40_000))
    );
    assert_eq!(first.cost_micros, 0, "a refused attempt costs nothing");
}

#[actix_rt::test]
async fn every_attempt_is_journaled_before_and_after_the_call_with_its_id_segments_and_cost() {
    tokio::time::pause();
    let sb = sandbox().await;
    let rig = start(kannel(&sb), settings(3600, 10));
    // 161 GSM-7 characters: two parts.
    let text = "a".repeat(161);
    let sent = rig
        .addr
        .send(sms("d-42", "0712345678", &text))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sent.segments, 2);
    assert_eq!((sent.cost_micros, sent.currency.as_str()), (21_600, "USD"));
    let events = journal_of(&rig.journal, "kannel").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].0, kinds::DELIVERY_ATTEMPT_STARTED);
    let started: DeliveryAttemptStarted = decode_payload(&events[0].1).unwrap();
    assert_eq!(
        started,
        DeliveryAttemptStarted {
            delivery_id: "d-42".into(),
            attempt: 1,
            segments: 2,
            probe: false,
            context: None,
        }
    );
    let end = finished(&events[1].1);
    assert_eq!(end.delivery_id, "d-42");
    assert_eq!(end.status, "sent");
    assert_eq!(end.decision, "done");
    assert_eq!(
        end.provider_message_id.as_deref(),
        Some(sent.provider_message_id.as_str())
    );
    assert_eq!(end.segments, 2);
    assert_eq!((end.cost_micros, end.currency.as_str()), (21_600, "USD"));
}

#[actix_rt::test]
async fn the_circuit_opens_after_injected_failures_refuses_then_probes_and_closes() {
    tokio::time::pause();
    let sb = sandbox().await;
    let mut s = settings(3600, 10);
    s.retry.max_attempts = 1;
    s.circuit = CircuitPolicy {
        consecutive_failures: 3,
        window: 10,
        failure_ratio: 1.0,
        cool_down: Duration::from_secs(30),
    };
    let rig = start(econet(&sb), s);
    for _ in 0..3 {
        sb.faults().push(
            "econet",
            Fault::Status {
                status: 503,
                retry_after: None,
                body: "down".into(),
            },
        );
    }
    for i in 0..3 {
        let failure = rig
            .addr
            .send(sms(&format!("d{i}"), "0772345678", "Attendance"))
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(failure, Failure::ProviderUnavailable { .. }),
            "{failure:?}"
        );
        assert!(failure.fails_over());
    }
    assert_eq!(rig.metrics.provider_circuit_state("econet"), 2);
    // Open: refused at once, and the provider is not called.
    let refused = rig
        .addr
        .send(sms("d3", "0772345678", "Attendance"))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        refused,
        Failure::CircuitOpen {
            provider: "econet".into()
        }
    );
    assert!(refused.fails_over());
    assert_eq!(sb.recorder().requests("econet").len(), 3);
    let status = rig.addr.send(Status).await.unwrap();
    assert_eq!(status.circuit, CircuitState::Open);
    // After the cool-down the next delivery is the probe; it succeeds and closes the circuit.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let sent = rig
        .addr
        .send(sms("d4", "0772345678", "Attendance"))
        .await
        .unwrap()
        .unwrap();
    assert!(!sent.provider_message_id.is_empty());
    assert_eq!(rig.metrics.provider_circuit_state("econet"), 0);
    let events = journal_of(&rig.journal, "econet").await;
    let changes: Vec<(String, String)> = events
        .iter()
        .filter(|(k, _)| k == kinds::PROVIDER_CIRCUIT_CHANGED)
        .map(|(_, p)| {
            let c: ProviderCircuitChanged = decode_payload(p).unwrap();
            (c.from, c.to)
        })
        .collect();
    let pairs: Vec<(&str, &str)> = changes
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("closed", "open"),
            ("open", "half_open"),
            ("half_open", "closed")
        ]
    );
    // The probe's start says it was the probe.
    let probe_start = events
        .iter()
        .rev()
        .find(|(k, _)| k == kinds::DELIVERY_ATTEMPT_STARTED)
        .map(|(_, p)| decode_payload::<DeliveryAttemptStarted>(p).unwrap())
        .unwrap();
    assert!(probe_start.probe);
}

#[actix_rt::test]
async fn a_failed_probe_reopens_the_circuit_for_another_cool_down() {
    tokio::time::pause();
    let sb = sandbox().await;
    let mut s = settings(3600, 10);
    s.retry.max_attempts = 1;
    s.circuit.consecutive_failures = 1;
    s.circuit.cool_down = Duration::from_secs(30);
    let rig = start(telone(&sb), s);
    let fault = || Fault::Status {
        status: 502,
        retry_after: None,
        body: "bad gateway".into(),
    };
    sb.faults().push("telone", fault());
    sb.faults().push("telone", fault());
    let _ = rig.addr.send(sms("d1", "0712345678", "x")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(30)).await;
    let probe = rig.addr.send(sms("d2", "0712345678", "x")).await.unwrap();
    assert!(
        matches!(probe, Err(Failure::ProviderUnavailable { .. })),
        "{probe:?}"
    );
    let status = rig.addr.send(Status).await.unwrap();
    assert_eq!(status.circuit, CircuitState::Open);
    let refused = rig.addr.send(sms("d3", "0712345678", "x")).await.unwrap();
    assert!(
        matches!(refused, Err(Failure::CircuitOpen { .. })),
        "{refused:?}"
    );
    assert_eq!(sb.recorder().requests("telone").len(), 2);
}

#[actix_rt::test]
async fn a_barred_number_ends_the_channel_without_failover_and_keeps_the_circuit_closed() {
    tokio::time::pause();
    let sb = sandbox().await;
    let mut s = settings(3600, 10);
    s.circuit.consecutive_failures = 1;
    let rig = start(telone(&sb), s);
    let failure = rig
        .addr
        .send(sms("d1", "+263779999002", "x"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(failure, Failure::RecipientUnreachable(_)),
        "{failure:?}"
    );
    assert!(!failure.fails_over());
    assert_eq!(sb.recorder().requests("telone").len(), 1, "never retried");
    let status = rig.addr.send(Status).await.unwrap();
    assert_eq!(status.circuit, CircuitState::Closed);
}

#[actix_rt::test]
async fn a_full_queue_refuses_with_an_error_the_caller_fails_over_on() {
    tokio::time::pause();
    let sb = sandbox().await;
    let mut s = settings(1, 1);
    s.queue_capacity = 2;
    s.max_in_flight = 1;
    let rig = start(telone(&sb), s);
    // The first takes the only cell; the next two wait an hour each in the queue.
    let first = rig.addr.send(sms("d0", "0712345678", "x")).await.unwrap();
    assert!(first.is_ok());
    let waiting: Vec<_> = (1..3)
        .map(|i| actix_rt::spawn(rig.addr.send(sms(&format!("d{i}"), "0712345678", "x"))))
        .collect();
    let status = loop {
        let status = rig.addr.send(Status).await.unwrap();
        if status.queued == 2 {
            break status;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(status.drain_time, Duration::from_secs(2 * 3600));
    let refused = rig.addr.send(sms("d3", "0712345678", "x")).await.unwrap();
    assert_eq!(
        refused,
        Err(Failure::QueueFull {
            provider: "telone".into(),
            capacity: 2
        })
    );
    assert!(refused.unwrap_err().fails_over());
    for w in waiting {
        assert!(w.await.unwrap().unwrap().is_ok());
    }
    assert_eq!(sb.sms_outbox().len(), 3);
}

#[actix_rt::test]
async fn an_attempt_that_cannot_be_journaled_first_is_not_made() {
    tokio::time::pause();
    let sb = sandbox().await;
    let rig = start(telone(&sb), settings(3600, 10));
    rig.journal.fail_next_batches(1);
    let failure = rig
        .addr
        .send(sms("d1", "0712345678", "x"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(failure, Failure::Journal(_)), "{failure:?}");
    assert!(failure.fails_over());
    assert!(sb.recorder().requests("telone").is_empty());
    assert!(journal_of(&rig.journal, "telone").await.is_empty());
}

#[actix_rt::test]
async fn a_message_of_another_kind_is_refused_before_it_is_queued() {
    let sb = sandbox().await;
    let rig = start(telone(&sb), settings(3600, 10));
    let email = oneclass_clients::email::Email {
        to: "parent@example.org".into(),
        to_name: None,
        reference: "d1".into(),
        template: "announcement".into(),
        language: oneclass_clients::email::Language::English,
        context: serde_json::json!({}),
        list: None,
    };
    let refused = rig
        .addr
        .send(Submit(Delivery {
            delivery_id: "d1".into(),
            school: "s1".into(),
            context: None,
            message: OutboundMessage::Email(email),
        }))
        .await
        .unwrap();
    assert!(
        matches!(refused, Err(Failure::WrongKind { kind: "email", .. })),
        "{refused:?}"
    );
}

#[actix_rt::test]
async fn a_restarted_actor_answers_what_it_held_stopped_and_serves_again() {
    tokio::time::pause();
    let sb = sandbox().await;
    let journal = Arc::new(MemoryJournal::new());
    let mut s = settings(1, 1);
    s.max_in_flight = 1;
    let addr =
        ProviderActor::new(telone(&sb), s, journal, Arc::new(Metrics::new())).start_supervised();
    assert!(addr
        .send(sms("d0", "0712345678", "x"))
        .await
        .unwrap()
        .is_ok());
    // Queued behind the limiter for an hour when the actor fails.
    let held = actix_rt::spawn(addr.send(sms("d1", "0712345678", "x")));
    while addr.send(Status).await.unwrap().queued == 0 {
        tokio::task::yield_now().await;
    }
    addr.do_send(Fail);
    let answer = held.await.unwrap().unwrap();
    assert_eq!(answer, Err(Failure::Stopped));
    assert!(answer.unwrap_err().fails_over());
    // The same address serves again, with a fresh (full) limiter.
    let status = addr.send(Status).await.unwrap();
    assert_eq!((status.queued, status.circuit), (0, CircuitState::Closed));
    assert!(addr
        .send(sms("d2", "0712345678", "x"))
        .await
        .unwrap()
        .is_ok());
    assert_eq!(sb.sms_outbox().len(), 2);
}

#[actix_rt::test]
async fn telone_at_its_contracted_thousand_an_hour_sends_no_more_in_an_hour() {
    tokio::time::pause();
    // The simulator counts its own hourly quota on the wall clock, where this test's paused
    // hours take a second or two: lift it so only the actor's pacing is measured.
    let mut config = SandboxConfig::default();
    config.sms.telone_rate_limit = 1_000_000;
    let sb = sandbox_with(config).await;
    let mut s = settings(1000, 5);
    s.queue_capacity = 2000;
    let rig = start(telone(&sb), s);
    let submitted: Vec<_> = (0..1200)
        .map(|i| {
            actix_rt::spawn(
                rig.addr
                    .send(sms(&format!("d{i}"), "0712345678", "Fees due")),
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let in_the_hour = sb.sms_outbox().len();
    // The burst of 5 at once, then one every 3.6 s: 1,000 more by the end of the hour.
    assert!(
        (1000..=1006).contains(&in_the_hour),
        "{in_the_hour} sent in the first hour"
    );
    for s in submitted {
        assert!(s.await.unwrap().unwrap().is_ok());
    }
    assert_eq!(sb.sms_outbox().len(), 1200);
}

fn whatsapp(sb: &SandboxHandle) -> Arc<dyn ProviderClient> {
    use oneclass_clients::whatsapp::{CloudApiClient, WhatsAppConfig};
    let client = CloudApiClient::new(
        WhatsAppConfig {
            base_url: sb.url("whatsapp"),
            api_version: "v23.0".into(),
            phone_number_id: "100000000000001".into(),
            access_token: "sandbox-whatsapp-token".into(),
        },
        &http(),
        SystemClock::shared(),
    )
    .unwrap();
    Arc::new(WhatsAppProvider(Arc::new(client)))
}

fn whatsapp_text(id: &str, to: &str) -> Submit {
    use oneclass_clients::whatsapp::{WaBody, WaMessage};
    Submit(Delivery {
        delivery_id: id.into(),
        school: "s1".into(),
        context: None,
        message: OutboundMessage::WhatsApp(WaMessage {
            to: to.into(),
            reference: id.into(),
            body: WaBody::Text {
                body: "Exam results are out".into(),
                preview_url: false,
            },
        }),
    })
}

#[actix_rt::test]
async fn the_whatsapp_adapter_sends_and_a_number_not_on_whatsapp_ends_the_channel() {
    tokio::time::pause();
    let sb = sandbox().await;
    let rig = start(whatsapp(&sb), settings(3600, 10));
    let sent = rig
        .addr
        .send(whatsapp_text("w1", "263771234567"))
        .await
        .unwrap()
        .unwrap();
    assert!(sent.provider_message_id.starts_with("wamid"), "{sent:?}");
    let failure = rig
        .addr
        .send(whatsapp_text("w2", "263779990026"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(failure, Failure::RecipientUnreachable(_)),
        "{failure:?}"
    );
    assert!(!failure.fails_over());
    assert_eq!(journal_of(&rig.journal, "whatsapp").await.len(), 4);
}
