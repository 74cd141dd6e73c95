//! The journal's vocabulary, spelled out literally: analysts filter on these names, so changing
//! one is a breaking change that must show up here as a failing test, not slip through a constant.

use oneclass_protocol::journal::kinds;
use oneclass_protocol::{ChannelName, StreamName};

#[test]
fn the_registered_event_kinds_are_exactly_these() {
    assert_eq!(
        kinds::ALL,
        [
            "chat.message.posted",
            "notification.created",
            "notification.posted",
            "roster.member.upserted",
            "roster.member.removed",
            "school.calendar.set",
            "auth.token.revoked",
            "audit.bodies.accessed",
            "delivery.attempt.started",
            "delivery.attempt.finished",
            "provider.circuit.changed",
            "delivery.failed_over",
            "delivery.report",
            "consent.changed",
        ]
    );
}

#[test]
fn every_registered_kind_is_known_and_nothing_else_is() {
    for kind in kinds::ALL {
        assert!(kinds::is_known(kind), "{kind}");
    }
    assert!(!kinds::is_known("chat.message"));
    assert!(!kinds::is_known("payment.started"));
}

#[test]
fn every_stream_form_the_hub_writes_has_this_exact_name() {
    let cases = [
        (
            StreamName::Channel(ChannelName::Announcements {
                school: "s1".into(),
            }),
            "school:s1:announcements",
        ),
        (
            StreamName::Channel(ChannelName::Class {
                school: "s1".into(),
                class: "c1".into(),
            }),
            "class:s1:c1",
        ),
        (
            StreamName::Channel(ChannelName::dm("s1", "bob", "amy").unwrap()),
            "dm:s1:amy:bob",
        ),
        (
            StreamName::Channel(ChannelName::inbox("s1", "amy")),
            "user:s1:amy",
        ),
        (StreamName::roster("s1"), "roster:s1"),
        (StreamName::notification("n-1"), "notification:n-1"),
        (StreamName::Revocations, "auth:revoked"),
        (StreamName::audit("s1"), "audit:s1"),
        (StreamName::provider("telone"), "provider:telone"),
    ];
    for (stream, name) in cases {
        assert_eq!(stream.to_string(), name);
        assert_eq!(StreamName::parse(name).unwrap(), stream, "{name}");
    }
}

#[test]
fn notification_payloads_have_exactly_these_fields() {
    use oneclass_protocol::journal::{encode_payload, NotificationPayload, NotificationPosted};
    fn keys(bytes: &[u8]) -> Vec<String> {
        let map: serde_json::Map<String, serde_json::Value> = rmp_serde::from_slice(bytes).unwrap();
        map.keys().cloned().collect()
    }
    // `notification.created` holds the content and the recipients, once.
    let created = NotificationPayload {
        notification_id: "n-1".into(),
        kind: "fees.reminder".into(),
        title: "t".into(),
        body: "b".into(),
        data: Default::default(),
        recipients: vec!["u1".into()],
    };
    assert_eq!(
        keys(&encode_payload(&created)),
        [
            "body",
            "data",
            "kind",
            "notification_id",
            "recipients",
            "title"
        ]
    );
    // `notification.posted` references it (since issue 9; older events hold the content inline
    // and still decode as `NotificationPayload`).
    let posted = NotificationPosted {
        notification_id: "n-1".into(),
    };
    assert_eq!(keys(&encode_payload(&posted)), ["notification_id"]);
}

#[test]
fn delivery_payloads_have_exactly_these_fields() {
    use oneclass_protocol::journal::{
        encode_payload, DeliveryAttemptFinished, DeliveryAttemptStarted, ProviderCircuitChanged,
    };
    fn keys(bytes: &[u8]) -> Vec<String> {
        let map: serde_json::Map<String, serde_json::Value> = rmp_serde::from_slice(bytes).unwrap();
        map.keys().cloned().collect()
    }
    let started = DeliveryAttemptStarted {
        delivery_id: "d1".into(),
        attempt: 1,
        segments: 2,
        probe: false,
        context: None,
    };
    assert_eq!(
        keys(&encode_payload(&started)),
        ["attempt", "delivery_id", "probe", "segments"]
    );
    // Every optional field present; each is left out when `None`.
    let finished = DeliveryAttemptFinished {
        delivery_id: "d1".into(),
        attempt: 1,
        status: "retry_after".into(),
        decision: "retry".into(),
        provider_message_id: Some("TL1".into()),
        detail: Some("429".into()),
        duration_ms: 12,
        segments: 2,
        cost_micros: 0,
        currency: "USD".into(),
        retry_in_ms: Some(40_000),
        context: None,
    };
    assert_eq!(
        keys(&encode_payload(&finished)),
        [
            "attempt",
            "cost_micros",
            "currency",
            "decision",
            "delivery_id",
            "detail",
            "duration_ms",
            "provider_message_id",
            "retry_in_ms",
            "segments",
            "status"
        ]
    );
    let changed = ProviderCircuitChanged {
        from: "closed".into(),
        to: "open".into(),
        reason: "5 consecutive failures".into(),
    };
    assert_eq!(keys(&encode_payload(&changed)), ["from", "reason", "to"]);
}
