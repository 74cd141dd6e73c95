//! Test only: every append the actors build carries a kind registered in
//! [`oneclass_protocol::journal::kinds::ALL`], and together they write every registered kind.
//! A new writer adds its builder here; [`super::Append::new`] also refuses an unregistered kind
//! in every debug build, so a writer missing from this list still fails the suites.

use std::collections::BTreeSet;

use oneclass_protocol::journal::{
    kinds, ConsentChanged, DeliveryAttemptFinished, DeliveryAttemptStarted, DeliveryFailedOver,
    DeliveryReported, ProviderCircuitChanged,
};
use oneclass_protocol::ChannelName;

use super::audit::{bodies_accessed, BodiesAccessed};
use super::Append;
use crate::delivery;
use crate::identity::revocation::{revoked, TokenRevoked};
use crate::notify::calendar::CalendarSpec;
use crate::notify::request::Stored;
use crate::notify::{Audience, Notify};
use crate::roster::Member;
use crate::school::{calendar_set, member_removed, member_upserted, Publish};
use crate::Role;

fn every_append_the_actors_build() -> Vec<Append> {
    let mut all = vec![Publish {
        user: "u1".into(),
        channel: ChannelName::parse("class:s1:c1").unwrap(),
        body: Default::default(),
        client_msg_id: Some("m1".into()),
    }
    .append("s1")];
    let created = Notify {
        actor: "a1".into(),
        idempotency_key: "k1".into(),
        to: Audience::School,
        kind: "k".into(),
        title: "t".into(),
        body: "b".into(),
        data: Default::default(),
    }
    .created("s1", vec!["u1".into()]);
    let stored = Stored {
        // unwrap: the payload was just encoded from this type.
        payload: super::payload::decode(created.payload()).unwrap(),
        actor: "a1".into(),
        occurred_at: 0,
    };
    all.push(created);
    all.extend(stored.posted("s1", &stored.payload.recipients));
    let member = Member {
        user: "u1".into(),
        role: Role::Parent,
        classes: vec![],
        guardian_of: vec![],
        locale: Default::default(),
        contacts: Default::default(),
        preferences: vec![],
        display_name: None,
    };
    all.push(member_upserted("s1", "a1".into(), &member));
    all.push(member_removed("s1", "a1".into(), "u1".into()));
    all.push(calendar_set("s1", "a1".into(), &CalendarSpec::default()));
    all.push(revoked(
        "a1",
        &TokenRevoked {
            jti: "j1".into(),
            exp: 1,
            user: "u1".into(),
            school: "s1".into(),
        },
    ));
    all.push(bodies_accessed(
        "s1",
        "a1",
        &BodiesAccessed {
            route: "events",
            reason: "audit request",
            from: "2026-01-01",
            to: "2026-01-02",
            kind: None,
        },
    ));
    let started = DeliveryAttemptStarted {
        delivery_id: "d1".into(),
        attempt: 1,
        segments: 1,
        probe: false,
        context: None,
    };
    all.push(delivery::journal::attempt_started("s1", "telone", &started));
    let finished = DeliveryAttemptFinished {
        delivery_id: "d1".into(),
        attempt: 1,
        status: "sent".into(),
        decision: "done".into(),
        provider_message_id: Some("TL1".into()),
        detail: None,
        duration_ms: 5,
        segments: 1,
        cost_micros: 10_800,
        currency: "USD".into(),
        retry_in_ms: None,
        context: None,
    };
    all.push(delivery::journal::attempt_finished(
        "s1", "telone", &finished,
    ));
    let changed = ProviderCircuitChanged {
        from: "closed".into(),
        to: "open".into(),
        reason: "5 consecutive failures".into(),
    };
    all.push(delivery::journal::circuit_changed("s1", "telone", &changed));
    let failed_over = DeliveryFailedOver {
        delivery_id: "d1".into(),
        from: "telone".into(),
        to: Some("econet".into()),
        reason: "circuit_open".into(),
        detail: "provider `telone` circuit is open".into(),
    };
    all.push(delivery::journal::failed_over("s1", &failed_over));
    let reported = DeliveryReported {
        delivery_id: "d1".into(),
        provider_message_id: Some("TL1".into()),
        from: "sent".into(),
        to: "delivered".into(),
        detail: String::new(),
    };
    all.push(delivery::journal::delivery_reported(
        "s1", "telone", &reported,
    ));
    let consent = ConsentChanged {
        address: "+263771000001".into(),
        channel: "sms".into(),
        opted_out: true,
        source: "sms_keyword:STOP".into(),
    };
    all.push(delivery::journal::consent_changed("telone", &consent));
    all
}

#[test]
fn every_kind_the_actors_write_is_registered_and_every_registered_kind_is_written() {
    let written: BTreeSet<String> = every_append_the_actors_build()
        .iter()
        .map(|a| a.kind().to_owned())
        .collect();
    for kind in &written {
        assert!(
            kinds::is_known(kind),
            "`{kind}` is written but not registered"
        );
    }
    let registered: BTreeSet<String> = kinds::ALL.iter().map(|k| k.to_string()).collect();
    assert_eq!(written, registered);
}

#[test]
fn every_append_names_a_stream_that_parses_back_to_its_typed_name() {
    for a in every_append_the_actors_build() {
        assert_eq!(
            &oneclass_protocol::StreamName::parse(a.stream_name()).unwrap(),
            a.stream(),
            "{}",
            a.stream_name()
        );
    }
}
