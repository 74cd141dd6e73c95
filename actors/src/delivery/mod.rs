//! The delivery family: one [`ProviderActor`] per configured outside provider (SMS gateways,
//! WhatsApp, e-mail, push), and the pure pieces it is made of.
//!
//! A provider actor takes deliveries (one message for one recipient), sends them no faster than
//! the provider's contract allows, retries what the provider says is worth retrying, stops
//! calling a provider that keeps failing, journals every attempt before and after the call, and
//! answers each delivery with its end at this provider. A [`ProviderSet`] per kind chooses the
//! provider and fails over to the next one of the kind ([`Failure::fails_over`] is the line
//! between "try the next provider" and "this recipient or message is at fault"); the
//! per-recipient plan across channels is the dispatcher's (`notify/`, not built yet).
//!
//! | file | owns |
//! |---|---|
//! | `actor.rs` | [`ProviderActor`]: the queue, the pump, the attempt and its journal entries, restart |
//! | `client.rs` | [`ProviderClient`] over the clients' capability traits, and [`OutboundMessage`] |
//! | `settings.rs` | [`ProviderActorSettings`]: rate, queue bound, in-flight calls, policies, price |
//! | `limiter.rs` | [`ProviderLimiter`]: the contracted rate as `governor` GCRA on tokio's clock |
//! | `retry.rs` | [`RetrySchedule`]: backoff with full jitter, `Retry-After` within bounds |
//! | `circuit.rs` | [`Circuit`]: the breaker's states and transitions as a pure table |
//! | `journal.rs` | the three journal entries (`delivery.attempt.started`/`finished`, `provider.circuit.changed`) on `provider:{name}` |
//! | `router.rs` | [`ProviderSet`]: one kind's providers in priority order, failover, [`plan`] |
//! | `decision.rs` | [`decide`]: the client's `Outcome` → done, retry, give up; [`Failure`] |
//! | `state.rs` | [`DeliveryStatus`] and [`advance`]: states only move forward |
//! | `report_index.rs` | [`ReportIndex`]: provider message id → delivery, bounded, rebuilt from the journal |
//! | `consent.rs` | opt-out keywords and [`ConsentLedger`], the opted-out channels per address |
//! | `reports.rs` | [`DeliveryReports`]: provider callbacks authenticated, parsed, mapped and journaled |
//!
//! Time: every piece reads `tokio::time::Instant`, so under `tokio::time::pause()` an hour of
//! pacing, retries and cool-downs runs in no real time.

mod actor;
mod circuit;
mod client;
mod consent;
mod decision;
pub(crate) mod journal;
mod limiter;
mod report_index;
mod reports;
mod retry;
mod router;
mod settings;
mod state;

#[cfg(test)]
mod router_tests;
#[cfg(test)]
mod tests;

#[cfg(any(test, feature = "fault-injection"))]
pub use actor::Fail;
pub use actor::{Delivery, ProviderActor, ProviderStatus, Sent, Status, Submit};
pub use circuit::{Admission, Circuit, CircuitPolicy, CircuitState, Transition};
pub use client::{
    EmailProvider, Named, OutboundMessage, ProviderClient, ProviderKind, PushProvider, SmsProvider,
    WhatsAppProvider,
};
pub use consent::{keyword, ConsentLedger, Keyword, OPT_IN_WORDS, OPT_OUT_WORDS};
pub use decision::{decide, Decision, Failure, Health};
pub use limiter::{ProviderLimiter, ProviderRate, TokioClock};
pub use report_index::{ReportIndex, Tracked};
pub use reports::{
    Ack, Callback, CallbackError, CallbackSecrets, DeliveryReports, GetDelivery, OptedOut,
    ProviderCallback, ReportDesk, DEFAULT_REPORT_INDEX_CAPACITY,
};
pub use retry::{Retry, RetryPolicy, RetrySchedule};
pub use router::{plan, skip, Member, Passed, ProviderSet, Skip, Step, Undelivered};
pub use settings::{ProviderActorSettings, DEFAULT_MAX_IN_FLIGHT, DEFAULT_QUEUE_CAPACITY};
pub use state::{advance, DeliveryStatus};
