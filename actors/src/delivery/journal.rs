//! The journal entries of the delivery family, all on `provider:{name}` and written only by
//! that provider's actor (its single writer): `delivery.attempt.started` before each call,
//! `delivery.attempt.finished` after it, `provider.circuit.changed` on each breaker transition.
//! The actor is the provider's name; the partition is the school of the delivery concerned.

use oneclass_protocol::journal::{
    kinds, DeliveryAttemptFinished, DeliveryAttemptStarted, ProviderCircuitChanged,
};
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
