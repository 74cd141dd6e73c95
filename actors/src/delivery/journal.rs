//! The journal entries of the delivery family, all on `provider:{name}`:
//! `delivery.attempt.started` before each call, `delivery.attempt.finished` after it,
//! `provider.circuit.changed` on each breaker transition (those three by the provider's actor),
//! `delivery.failed_over` when a kind's router moves a delivery off the provider (written by the
//! router, actor `router`, only after the provider answered, so it follows the provider's last
//! entry for that delivery), and `delivery.report` and `consent.changed` by
//! [`super::DeliveryReports`] when the provider calls back. Several writers on one stream are
//! safe: the journal serialises a stream's appends within the process. The actor is the
//! provider's name (or `router`); the partition is the school of the delivery concerned, or
//! [`PLATFORM_SCHOOL`] for a consent change (a phone number's opt-out belongs to no one school).

use oneclass_protocol::journal::{
    kinds, ConsentChanged, DeliveryAttemptFinished, DeliveryAttemptStarted, DeliveryFailedOver,
    DeliveryReported, ProviderCircuitChanged,
};
use oneclass_protocol::token::PLATFORM_SCHOOL;
use oneclass_protocol::StreamName;

use crate::events::Append;

/// Before the call of one attempt.
pub(crate) fn attempt_started(
    school: &str,
    provider: &str,
    payload: &DeliveryAttemptStarted,
) -> Append {
    Append::new(
        school,
        StreamName::provider(provider),
        kinds::DELIVERY_ATTEMPT_STARTED,
        provider,
        payload,
    )
}

/// After the call of one attempt.
pub(crate) fn attempt_finished(
    school: &str,
    provider: &str,
    payload: &DeliveryAttemptFinished,
) -> Append {
    Append::new(
        school,
        StreamName::provider(provider),
        kinds::DELIVERY_ATTEMPT_FINISHED,
        provider,
        payload,
    )
}

/// A circuit breaker transition, under the school whose delivery's attempt caused it.
pub(crate) fn circuit_changed(
    school: &str,
    provider: &str,
    payload: &ProviderCircuitChanged,
) -> Append {
    Append::new(
        school,
        StreamName::provider(provider),
        kinds::PROVIDER_CIRCUIT_CHANGED,
        provider,
        payload,
    )
}

/// A kind's router moved a delivery off `payload.from` (on that provider's stream).
pub(crate) fn failed_over(school: &str, payload: &DeliveryFailedOver) -> Append {
    Append::new(
        school,
        StreamName::provider(&payload.from),
        kinds::DELIVERY_FAILED_OVER,
        "router",
        payload,
    )
}

/// A provider's report moved a delivery forward.
pub(crate) fn delivery_reported(
    school: &str,
    provider: &str,
    payload: &DeliveryReported,
) -> Append {
    Append::new(
        school,
        StreamName::provider(provider),
        kinds::DELIVERY_REPORT,
        provider,
        payload,
    )
}

/// A recipient's consent changed through a message that reached `provider` (e.g. an SMS STOP).
pub(crate) fn consent_changed(provider: &str, payload: &ConsentChanged) -> Append {
    Append::new(
        PLATFORM_SCHOOL,
        StreamName::provider(provider),
        kinds::CONSENT_CHANGED,
        provider,
        payload,
    )
}
