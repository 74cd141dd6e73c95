//! The delivery engine of a running hub over the in-process simulators, configured exactly as
//! `serve --sandbox` configures them: one provider actor runs per configured provider (its
//! queue and circuit gauges are on `/metrics` from the start), and the hub's SMS router fails a
//! delivery over from TelOne to Econet when TelOne answers 5xx until its retries are used up,
//! with both the attempts and the move in the hub's journal.
//!
//! Compiled only with this crate's `sandbox` feature (the simulators).

use std::sync::Arc;
use std::time::Duration;

use oneclass_actors::delivery::{Delivery, OutboundMessage};
use oneclass_clients::sim::Fault;
use oneclass_clients::sms::SmsMessage;
use oneclass_clients::ZwMobile;
use oneclass_hub::config::{ProviderKind, Settings};
use oneclass_hub::sandbox::{self, provider_layer, SANDBOX_PROVIDERS};
use oneclass_protocol::journal::{decode_payload, DeliveryFailedOver};
use oneclass_tests::{metric, within, TestHub};

/// The simulators on a port of their own, and a hub whose providers point at them.
async fn hub_over_sandbox(tmp: &Arc<tempfile::TempDir>) -> (sandbox::Sandbox, TestHub) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sb = sandbox::start(listener, tmp.path()).await.unwrap();
    let layer = provider_layer(&sb.handle.credentials()).unwrap();
    let loaded = Settings::load_over(layer, None).unwrap();
    let mut providers = loaded.providers.clone();
    // TelOne retries within milliseconds (the `[providers.telone.retry]` sub-table), so its
    // retries run out quickly under real time.
    let telone = providers.get_mut("telone").unwrap();
    telone.retry.base = Duration::from_millis(10);
    telone.retry.cap = Duration::from_millis(50);
    telone.retry.max_attempts = 3;
    let hub = TestHub::spawn_on(tmp.clone(), move |s| s.providers = providers);
    (sb, hub)
}

#[actix_rt::test]
async fn a_sandbox_hub_runs_one_provider_actor_per_configured_provider() {
    let tmp = Arc::new(tempfile::tempdir().unwrap());
    let (_sb, hub) = hub_over_sandbox(&tmp).await;
    let text = hub.metrics_text().await;
    for name in SANDBOX_PROVIDERS {
        for gauge in [
            "oneclass_provider_queue_depth",
            "oneclass_provider_circuit_state",
        ] {
            let sample = format!("{gauge}{{provider=\"{name}\"}}");
            assert_eq!(metric(&text, &sample), Some(0.0), "{sample} in\n{text}");
        }
    }
    let kinds: Vec<_> = hub
        .delivery()
        .routers()
        .map(|(kind, set)| {
            let names: Vec<_> = set.members().iter().map(|m| m.name.clone()).collect();
            (kind, names)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (
                ProviderKind::Sms,
                vec!["telone".into(), "econet".into(), "kannel".into()]
            ),
            (ProviderKind::Whatsapp, vec!["whatsapp".into()]),
            (ProviderKind::Email, vec!["email".into()]),
            (ProviderKind::PushFcm, vec!["fcm".into()]),
            (ProviderKind::PushApns, vec!["apns".into()]),
        ]
    );
}

#[actix_rt::test]
async fn the_hub_fails_an_sms_over_from_telone_to_econet_and_journals_the_move() {
    let tmp = Arc::new(tempfile::tempdir().unwrap());
    let (sb, mut hub) = hub_over_sandbox(&tmp).await;
    // As many 503s as TelOne's attempts: its retries are exhausted.
    for _ in 0..3 {
        sb.handle.faults().push(
            "telone",
            Fault::Status {
                status: 503,
                retry_after: None,
                body: "down".into(),
            },
        );
    }
    let sms = hub.delivery().router(ProviderKind::Sms).unwrap().clone();
    let delivery = Delivery {
        delivery_id: "e2e-1".into(),
        school: "s1".into(),
        context: None,
        message: OutboundMessage::Sms(SmsMessage {
            to: ZwMobile::parse("0772345678").unwrap(),
            text: "Fees are due on Friday".into(),
            reference: "e2e-1".into(),
            sender: None,
        }),
    };
    let sent = within(60, sms.submit(delivery, None)).await.unwrap();
    assert_eq!(sent.provider, "econet");
    assert_eq!(
        sent.cost_micros, 10_800,
        "Econet's sandbox price of one part"
    );
    assert!(sb
        .handle
        .sms_outbox()
        .iter()
        .all(|m| m.provider == "econet"));

    let text = hub.metrics_text().await;
    assert_eq!(
        metric(
            &text,
            "oneclass_delivery_failovers_total{from=\"telone\",reason=\"provider_unavailable\"}"
        ),
        Some(1.0),
        "{text}"
    );
    hub.stop().await;
    // The journal as the analyst API would read it: TelOne's attempts, then the move.
    let journal =
        oneclass_storage::SqliteJournal::open(tmp.path().join(oneclass_hub::startup::JOURNAL_FILE))
            .unwrap();
    use oneclass_storage::Journal as _;
    let telone = journal
        .read_stream("provider:telone", 1, 100)
        .await
        .unwrap();
    let kinds: Vec<_> = telone.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "delivery.attempt.started",
            "delivery.attempt.finished",
            "delivery.attempt.started",
            "delivery.attempt.finished",
            "delivery.attempt.started",
            "delivery.attempt.finished",
            "delivery.failed_over",
        ]
    );
    let moved: DeliveryFailedOver = decode_payload(&telone[6].payload).unwrap();
    assert_eq!(
        (
            moved.delivery_id.as_str(),
            moved.to.as_deref(),
            moved.reason.as_str()
        ),
        ("e2e-1", Some("econet"), "provider_unavailable")
    );
    assert_eq!(sb.handle.recorder().requests("telone").len(), 3);
    let econet = journal
        .read_stream("provider:econet", 1, 100)
        .await
        .unwrap();
    let econet_kinds: Vec<_> = econet.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        econet_kinds,
        ["delivery.attempt.started", "delivery.attempt.finished"]
    );
}
