//! [`ProviderSet`]: the router of one kind (SMS, WhatsApp, e-mail, push). It submits a delivery
//! to the highest-priority provider that can take it in time and moves to the next one of the
//! kind when that provider cannot send it; [`skip`] (and [`plan`] over a whole kind) is its
//! choice, pure.
//!
//! Choice, for one delivery with an optional `deadline`, over the kind's providers in priority
//! order, each judged at the moment it is reached with its [`ProviderStatus`] of that moment:
//! - a provider whose circuit is open and still cooling down is skipped (reason `circuit_open`;
//!   nothing is sent to it); past its cool-down it is tried, and the submission is its probe;
//! - a provider whose queue at its contracted rate would not drain before the deadline
//!   (`now + drain_time > deadline`) is skipped (reason `deadline`);
//! - every other provider is tried in order. An answer whose [`Failure::fails_over`] is true
//!   (circuit opened, retries exhausted on a retryable error, queue full, misconfigured,
//!   journal down, actor stopped) moves to the next; any other failure (recipient unreachable:
//!   invalid or barred number; message refused) ends the delivery here, since another provider
//!   of the kind would reach that number or carry that text no better.
//!
//! Invariants: a delivery is at one provider at a time (the next is tried only after the
//! previous answered), so no two providers of a kind send the same delivery; each move off a
//! provider is journaled as `delivery.failed_over` on that provider's stream after its answer
//! (so after its last `delivery.attempt.finished` for the delivery), and counted in
//! `oneclass_delivery_failovers_total{from, reason}`. The answer names the provider that sent it
//! ([`Sent::provider`]) or says why every provider failed ([`Undelivered`]).
//!
//! Failure modes: a provider whose status cannot be read (its actor is restarting) is tried
//! anyway and its answer decides. A journal that refuses the `delivery.failed_over` entry is
//! logged and counted as an error but does not stop the failover: the attempts themselves are
//! journaled by the provider actors, and holding a delivery back over a missing note would
//! cost more than the note. When every provider is skipped for the deadline, nothing is sent
//! and the answer says so; moving to another channel is the dispatcher's (`notify/`, not built).

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use oneclass_protocol::journal::DeliveryFailedOver;
use oneclass_storage::Journal;
use tokio::time::Instant;

use super::actor::{Delivery, ProviderActor, ProviderStatus, Sent, Status, Submit};
use super::circuit::CircuitState;
use super::client::ProviderKind;
use super::decision::Failure;
use super::journal;
use crate::events;
use crate::metrics::Metrics;
use oneclass_protocol::ErrorCode;

/// One provider of a kind, as the router holds it.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub addr: Addr<ProviderActor>,
}

/// Why a provider was passed over for one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Open and still cooling down.
    CircuitOpen,
    /// Its queue at its rate drains after the deadline.
    Deadline { drain_time: Duration },
}

/// What the router does with one provider, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Try(usize),
    Skip(usize, Skip),
}

/// Whether one provider is passed over for a delivery at `now` (`None`: try it). A provider
/// whose status could not be read is tried: its answer decides.
pub fn skip(
    now: Instant,
    deadline: Option<Instant>,
    status: Option<&ProviderStatus>,
) -> Option<Skip> {
    let s = status?;
    if s.circuit == CircuitState::Open && s.open_until.is_some_and(|until| now < until) {
        return Some(Skip::CircuitOpen);
    }
    match deadline {
        Some(deadline) if now + s.drain_time > deadline => Some(Skip::Deadline {
            drain_time: s.drain_time,
        }),
        _ => None,
    }
}

/// The choice for one delivery over the kind's providers as they stand at `now`: a step per
/// provider, in priority order (`statuses[i]` is the `i`th provider's). The router takes each
/// step with the provider's status read just before it, so a delivery that spent minutes
/// retrying at one provider is judged at the next by the time and queue of that moment.
pub fn plan(
    now: Instant,
    deadline: Option<Instant>,
    statuses: &[Option<ProviderStatus>],
) -> Vec<Step> {
    statuses
        .iter()
        .enumerate()
        .map(|(i, status)| match skip(now, deadline, status.as_ref()) {
            Some(why) => Step::Skip(i, why),
            None => Step::Try(i),
        })
        .collect()
}

/// Why one provider did not send a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    pub provider: String,
    /// A [`Failure::class`] or `deadline`.
    pub reason: &'static str,
    pub detail: String,
}

/// A delivery no provider of the kind sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Undelivered {
    /// The kind has no provider configured.
    #[error("no {0} provider configured")]
    NoProvider(&'static str),
    /// The recipient or message is at fault (no failover); `provider` is where it was refused.
    #[error("provider `{provider}`: {failure}")]
    Refused { provider: String, failure: Failure },
    /// Every provider of the kind failed or was passed over, in priority order.
    #[error("every {kind} provider failed: {}", describe(.passed))]
    Exhausted {
        kind: &'static str,
        passed: Vec<Passed>,
    },
}

fn describe(passed: &[Passed]) -> String {
    passed
        .iter()
        .map(|p| format!("{} ({}: {})", p.provider, p.reason, p.detail))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The router of one kind. Cheap to clone (the members are actor addresses).
#[derive(Clone)]
pub struct ProviderSet {
    kind: ProviderKind,
    /// Highest priority first.
    members: Vec<Member>,
    journal: Arc<dyn Journal>,
    metrics: Arc<Metrics>,
}

impl ProviderSet {
    /// A router over `members`, given highest priority first.
    pub fn new(
        kind: ProviderKind,
        members: Vec<Member>,
        journal: Arc<dyn Journal>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            kind,
            members,
            journal,
            metrics,
        }
    }

    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// The providers, highest priority first.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Sends `delivery` through the first provider of the kind that can (see the module doc),
    /// to go out before `deadline` when one is given.
    pub async fn submit(
        &self,
        delivery: Delivery,
        deadline: Option<Instant>,
    ) -> Result<Sent, Undelivered> {
        if self.members.is_empty() {
            return Err(Undelivered::NoProvider(self.kind.as_str()));
        }
        let mut passed: Vec<Passed> = Vec::new();
        // The provider just passed over; its move is journaled once the next one is known.
        let mut leaving: Option<Passed> = None;
        for (i, member) in self.members.iter().enumerate() {
            if let Some(left) = leaving.take() {
                self.failed_over(&delivery, &left, Some(&member.name)).await;
                passed.push(left);
            }
            // Read now, not before the first provider was tried: time has passed since.
            let status = member.addr.send(Status).await.ok();
            let step = match skip(Instant::now(), deadline, status.as_ref()) {
                Some(why) => Step::Skip(i, why),
                None => Step::Try(i),
            };
            let reason = match step {
                Step::Skip(_, Skip::CircuitOpen) => Passed {
                    provider: member.name.clone(),
                    reason: "circuit_open",
                    detail: "circuit open, cooling down; not submitted".into(),
                },
                Step::Skip(_, Skip::Deadline { drain_time }) => Passed {
                    provider: member.name.clone(),
                    reason: "deadline",
                    detail: format!(
                        "its queue drains in {}s at its rate, after the deadline; not submitted",
                        drain_time.as_secs()
                    ),
                },
                Step::Try(_) => {
                    let answer = member
                        .addr
                        .send(Submit(delivery.clone()))
                        .await
                        .unwrap_or(Err(Failure::Stopped));
                    match answer {
                        Ok(sent) => return Ok(sent),
                        Err(failure) if failure.fails_over() => Passed {
                            provider: member.name.clone(),
                            reason: failure.class(),
                            detail: failure.to_string(),
                        },
                        Err(failure) => {
                            return Err(Undelivered::Refused {
                                provider: member.name.clone(),
                                failure,
                            })
                        }
                    }
                }
            };
            leaving = Some(reason);
        }
        if let Some(left) = leaving.take() {
            self.failed_over(&delivery, &left, None).await;
            passed.push(left);
        }
        Err(Undelivered::Exhausted {
            kind: self.kind.as_str(),
            passed,
        })
    }

    /// Journals and counts the move off `left.provider` to `to` (`None`: it was the last).
    async fn failed_over(&self, delivery: &Delivery, left: &Passed, to: Option<&str>) {
        self.metrics.delivery_failover(&left.provider, left.reason);
        tracing::info!(
            message = "delivery failed over",
            delivery = %delivery.delivery_id,
            from = %left.provider,
            to = to.unwrap_or("-"),
            reason = left.reason,
        );
        let append = journal::failed_over(
            &delivery.school,
            &DeliveryFailedOver {
                delivery_id: delivery.delivery_id.clone(),
                from: left.provider.clone(),
                to: to.map(str::to_owned),
                reason: left.reason.into(),
                detail: left.detail.clone(),
            },
        );
        if let Err(error) = events::write(&*self.journal, vec![append]).await {
            self.metrics.error(ErrorCode::Internal);
            tracing::error!(message = "failover not journaled", %error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(circuit: CircuitState, open_for: Option<u64>, drain_secs: u64) -> ProviderStatus {
        ProviderStatus {
            circuit,
            open_until: open_for.map(|s| Instant::now() + Duration::from_secs(s)),
            queued: 0,
            in_flight: 0,
            drain_time: Duration::from_secs(drain_secs),
        }
    }

    fn closed(drain_secs: u64) -> Option<ProviderStatus> {
        Some(status(CircuitState::Closed, None, drain_secs))
    }

    #[tokio::test(start_paused = true)]
    async fn healthy_providers_are_tried_in_priority_order() {
        let now = Instant::now();
        assert_eq!(
            plan(now, None, &[closed(0), closed(0)]),
            [Step::Try(0), Step::Try(1)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_circuit_cooling_down_is_skipped_and_one_past_its_cool_down_is_probed() {
        let now = Instant::now();
        let cooling = Some(status(CircuitState::Open, Some(30), 0));
        assert_eq!(
            plan(now, None, &[cooling, closed(0)]),
            [Step::Skip(0, Skip::CircuitOpen), Step::Try(1)]
        );
        let later = now + Duration::from_secs(31);
        assert_eq!(
            plan(later, None, &[cooling, closed(0)]),
            [Step::Try(0), Step::Try(1)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_queue_that_would_miss_the_deadline_is_skipped_for_one_that_would_not() {
        let now = Instant::now();
        let deadline = now + Duration::from_secs(600);
        // TelOne drains in an hour, Econet in a minute.
        assert_eq!(
            plan(now, Some(deadline), &[closed(3600), closed(60)]),
            [
                Step::Skip(
                    0,
                    Skip::Deadline {
                        drain_time: Duration::from_secs(3600)
                    }
                ),
                Step::Try(1)
            ]
        );
        // Exactly on the deadline still makes it; without a deadline the queue never matters.
        assert_eq!(plan(now, Some(deadline), &[closed(600)]), [Step::Try(0)]);
        assert_eq!(plan(now, None, &[closed(3600)]), [Step::Try(0)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_that_passed_while_the_first_provider_retried_skips_even_an_empty_queue() {
        let deadline = Instant::now() + Duration::from_secs(60);
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(
            skip(Instant::now(), Some(deadline), closed(0).as_ref()),
            Some(Skip::Deadline {
                drain_time: Duration::ZERO
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_provider_whose_status_is_unknown_is_tried_and_a_half_open_one_too() {
        let now = Instant::now();
        let half_open = Some(status(CircuitState::HalfOpen, None, 0));
        assert_eq!(
            plan(now, Some(now), &[None, half_open]),
            [Step::Try(0), Step::Try(1)]
        );
    }
}
