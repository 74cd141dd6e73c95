//! [`ProviderActor`]: one per configured provider. It owns the provider's bounded queue, its
//! GCRA limiter, its retry schedule and its circuit breaker, calls the provider through a
//! [`ProviderClient`], journals every attempt before and after the call, and answers each
//! [`Submit`] with the delivery's end at this provider: [`Sent`] with the provider's message id,
//! or the [`Failure`] it gave up with ([`Failure::fails_over`] tells a caller whether to try the
//! next provider of the kind).
//!
//! What it serialises: every decision about its provider (which delivery goes next, when, and
//! what an outcome means) happens in this one actor, so the limiter, the circuit and the queue
//! need no locks. The calls themselves run as futures on the actor's context, at most
//! `max_in_flight` at once.
//!
//! Order of one attempt:
//! 1. the queue's first delivery whose retry time has come is taken once the circuit admits a
//!    call and the limiter has a cell (otherwise the actor sleeps until the earliest of those
//!    times: it never polls);
//! 2. `delivery.attempt.started` is appended to `provider:{name}` (with the circuit's move to
//!    half-open when this call is the probe); if that append fails the call is not made and the
//!    caller is answered [`Failure::Journal`];
//! 3. the provider is called; its [`Outcome`](oneclass_clients::Outcome) goes through
//!    [`decide`] (the decision table) and the circuit;
//! 4. `delivery.attempt.finished` (with any circuit change) is appended; only then is the caller
//!    answered or the delivery queued again for its retry, so the journal always holds an
//!    attempt's end before the next attempt's start. A failed append here is logged and counted
//!    as an error: the call happened, so the caller still hears the truth.
//!
//! When the circuit opens, every queued delivery is answered [`Failure::CircuitOpen`] at once
//! (the caller fails over instead of waiting out the cool-down), and submissions are refused the
//! same way until the cool-down ends; the first submission after it is the half-open probe, and
//! the ones behind it wait for the probe's result.
//!
//! Restart policy: permanent, under actix's `Supervisor` ([`ProviderActor::start_supervised`]).
//! It rebuilds nothing from the journal: on a restart every queued delivery is answered
//! [`Failure::Stopped`] (which fails over) and calls in flight are dropped with their futures
//! (their callers hear `Stopped` too; a call that reached the provider may have been sent, which
//! the `delivery.attempt.started` without a `finished` shows). The limiter starts full again, so a
//! restart can let one extra burst through; the circuit starts closed and the retry schedule
//! afresh. The durable truth of a delivery is the dispatcher's plan, which resubmits. The hub
//! starts one per configured provider at start (`hub/src/delivery.rs`), under actix's
//! `Supervisor` only: the `HubSupervisor` has nothing to add to a restart that replays nothing.
//! The dispatcher that will submit through the kind's [`super::ProviderSet`] is not built yet.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use oneclass_clients::Outcome;
use oneclass_protocol::journal::{
    DeliveryAttemptFinished, DeliveryAttemptStarted, DeliveryFor, ProviderCircuitChanged,
};
use oneclass_storage::Journal;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::circuit::{Admission, Circuit, CircuitState, Transition};
use super::client::{OutboundMessage, ProviderClient};
use super::decision::{decide, Decision, Failure, Health};
use super::journal;
use super::limiter::ProviderLimiter;
use super::retry::RetrySchedule;
use super::settings::ProviderActorSettings;
use crate::events::{self, Append};
use crate::metrics::Metrics;

/// One message for one recipient, to send through this provider.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The hub's id of this delivery, written on every attempt. The caller also makes it the
    /// message's own `reference`, so the provider's delivery reports lead back to it.
    pub delivery_id: String,
    /// The school it is sent for (the journal's partition).
    pub school: String,
    pub message: OutboundMessage,
    /// The notification and recipient it is for (journaled on its attempts); `None` for a
    /// delivery sent outside a notification (tests, benchmarks).
    pub context: Option<DeliveryFor>,
}

/// A delivery this provider took.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    pub provider: String,
    pub provider_message_id: String,
    /// Attempts it took here, the successful one included.
    pub attempts: u32,
    pub segments: u32,
    /// What it cost, in millionths of `currency`.
    pub cost_micros: u64,
    pub currency: String,
}

/// Sends `0` through this provider; answered when it is sent or given up here.
#[derive(Message)]
#[rtype(result = "Result<Sent, Failure>")]
pub struct Submit(pub Delivery);

/// Asks where the provider stands, for a dispatcher choosing between providers.
#[derive(Message)]
#[rtype(result = "ProviderStatus")]
pub struct Status;

/// Where a provider stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderStatus {
    pub circuit: CircuitState,
    /// While open, when its cool-down ends (a submission after it is the half-open probe).
    pub open_until: Option<Instant>,
    /// Deliveries waiting (not in flight).
    pub queued: usize,
    pub in_flight: usize,
    /// An upper bound on how long the queue takes to drain at the contracted rate.
    pub drain_time: Duration,
}

struct Pending {
    delivery: Delivery,
    /// Attempts made so far at this provider.
    attempts: u32,
    not_before: Instant,
    reply: oneshot::Sender<Result<Sent, Failure>>,
}

/// What one attempt's future hands back to the actor.
struct Attempted {
    pending: Pending,
    probe: bool,
    segments: u32,
    result: Result<(Outcome, Duration), Failure>,
}

/// The actor. See the module doc.
pub struct ProviderActor {
    name: String,
    client: Arc<dyn ProviderClient>,
    journal: Arc<dyn Journal>,
    metrics: Arc<Metrics>,
    settings: ProviderActorSettings,
    limiter: ProviderLimiter,
    retry: RetrySchedule,
    circuit: Circuit,
    queue: VecDeque<Pending>,
    in_flight: usize,
    /// The one timer that wakes the pump, and when.
    wake: Option<(Instant, SpawnHandle)>,
}

impl ProviderActor {
    /// An actor for `client` with `settings`; retry jitter seeded from the OS.
    pub fn new(
        client: Arc<dyn ProviderClient>,
        settings: ProviderActorSettings,
        journal: Arc<dyn Journal>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let retry = RetrySchedule::new(settings.retry);
        Self::with_retry(client, settings, journal, metrics, retry)
    }

    /// The same with a given retry schedule (tests seed it).
    pub fn with_retry(
        client: Arc<dyn ProviderClient>,
        settings: ProviderActorSettings,
        journal: Arc<dyn Journal>,
        metrics: Arc<Metrics>,
        retry: RetrySchedule,
    ) -> Self {
        let name = client.provider().to_owned();
        metrics.set_provider_queue_depth(&name, 0);
        metrics.set_provider_circuit_state(&name, CircuitState::Closed.gauge());
        Self {
            name,
            client,
            journal,
            metrics,
            limiter: ProviderLimiter::new(settings.rate),
            retry,
            circuit: Circuit::new(settings.circuit),
            settings,
            queue: VecDeque::new(),
            in_flight: 0,
            wake: None,
        }
    }

    /// Starts `self` under actix's supervisor (restarted when it stops; see the module doc).
    pub fn start_supervised(self) -> Addr<Self> {
        actix::Supervisor::start(|_| self)
    }

    fn circuit_open(&self) -> Failure {
        Failure::CircuitOpen {
            provider: self.name.clone(),
        }
    }

    fn depth_changed(&self) {
        self.metrics
            .set_provider_queue_depth(&self.name, self.queue.len());
    }

    /// The journal append of a circuit change, and its gauge.
    fn transition(&self, school: &str, t: &Transition) -> Append {
        tracing::info!(
            message = "provider circuit changed",
            provider = %self.name,
            from = t.from.as_str(),
            to = t.to.as_str(),
            reason = %t.reason
        );
        self.metrics
            .set_provider_circuit_state(&self.name, t.to.gauge());
        journal::circuit_changed(
            school,
            &self.name,
            &ProviderCircuitChanged {
                from: t.from.as_str().into(),
                to: t.to.as_str().into(),
                reason: t.reason.clone(),
            },
        )
    }

    /// Answers every queued delivery `CircuitOpen`, so its caller fails over now.
    fn give_back_queue(&mut self) {
        for pending in self.queue.drain(..) {
            let _ = pending.reply.send(Err(Failure::CircuitOpen {
                provider: self.name.clone(),
            }));
        }
        self.depth_changed();
    }

    /// Wakes the pump at `at`, unless an earlier wake is already set.
    fn wake_at(&mut self, at: Instant, ctx: &mut Context<Self>) {
        if let Some((when, handle)) = self.wake {
            if when <= at {
                return;
            }
            ctx.cancel_future(handle);
        }
        let delay = at.saturating_duration_since(Instant::now());
        let handle = ctx.run_later(delay, |act, ctx| {
            act.wake = None;
            act.pump(ctx);
        });
        self.wake = Some((at, handle));
    }

    /// Starts every attempt that may start now, and sets the wake for the next one.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        while self.in_flight < self.settings.max_in_flight.max(1) {
            let now = Instant::now();
            let Some(index) = self.queue.iter().position(|p| p.not_before <= now) else {
                if let Some(next) = self.queue.iter().map(|p| p.not_before).min() {
                    self.wake_at(next, ctx);
                }
                return;
            };
            match self.circuit.admits(now) {
                Admission::Go => {}
                Admission::OpenUntil(until) => return self.wake_at(until, ctx),
                // The probe's result pumps again.
                Admission::ProbeInFlight => return,
            }
            if let Err(refusal) = self.limiter.try_send() {
                return self.wake_at(now + refusal.retry_after, ctx);
            }
            // unwrap: `index` was found in the queue just above.
            let pending = self.queue.remove(index).unwrap();
            self.depth_changed();
            let probe_transition = self.circuit.start(now);
            self.attempt(pending, probe_transition, ctx);
        }
    }

    /// Journals the start, calls the provider, and hands the result back to [`Self::finish`].
    fn attempt(
        &mut self,
        mut pending: Pending,
        probe_transition: Option<Transition>,
        ctx: &mut Context<Self>,
    ) {
        pending.attempts += 1;
        self.in_flight += 1;
        let probe = probe_transition.is_some();
        let segments = pending.delivery.message.segments();
        let school = pending.delivery.school.clone();
        let mut batch = Vec::with_capacity(2);
        if let Some(t) = &probe_transition {
            batch.push(self.transition(&school, t));
        }
        batch.push(journal::attempt_started(
            &school,
            &self.name,
            &DeliveryAttemptStarted {
                delivery_id: pending.delivery.delivery_id.clone(),
                attempt: pending.attempts,
                segments,
                probe,
                context: pending.delivery.context.clone(),
            },
        ));
        let journal = self.journal.clone();
        let client = self.client.clone();
        let call = async move {
            if let Err(error) = events::write(&*journal, batch).await {
                let result = Err(Failure::Journal(error.to_string()));
                return Attempted {
                    pending,
                    probe,
                    segments,
                    result,
                };
            }
            let started = Instant::now();
            let outcome = client.send(&pending.delivery.message).await;
            let result = Ok((outcome, started.elapsed()));
            Attempted {
                pending,
                probe,
                segments,
                result,
            }
        };
        ctx.spawn(
            call.into_actor(self)
                .map(|attempted, act, ctx| act.finish(attempted, ctx)),
        );
    }

    /// Decides on one attempt's result, journals its end, then answers or requeues.
    fn finish(&mut self, attempted: Attempted, ctx: &mut Context<Self>) {
        self.in_flight -= 1;
        let Attempted {
            pending,
            probe,
            segments,
            result,
        } = attempted;
        let now = Instant::now();
        let school = pending.delivery.school.clone();
        let (outcome, duration) = match result {
            Ok(r) => r,
            Err(failure) => {
                // Not journaled, so not made: the circuit learns nothing, except that a probe
                // that could not go counts as failed (the circuit must not stay half-open).
                let transition = if probe {
                    self.circuit.failed(now)
                } else {
                    None
                };
                if let Some(t) = transition {
                    let append = self.transition(&school, &t);
                    let journal = self.journal.clone();
                    ctx.spawn(
                        async move { events::write(&*journal, vec![append]).await }
                            .into_actor(self)
                            .map(|_, _, _| ()),
                    );
                    self.give_back_queue();
                }
                let _ = pending.reply.send(Err(failure));
                return self.pump(ctx);
            }
        };
        self.metrics.delivery_attempt(&self.name, outcome.class());
        let status = outcome.class();
        let detail = match &outcome {
            Outcome::Sent(_) => None,
            Outcome::RetryAfter { detail, .. }
            | Outcome::RetryBackoff(detail)
            | Outcome::DropRecipient(detail)
            | Outcome::FixMessage(detail)
            | Outcome::FixConfig(detail) => Some(detail.clone()),
        };
        let (mut decision, health) = decide(&self.name, outcome, pending.attempts, &mut self.retry);
        // Only the probe, or a call made while closed, speaks for the provider's health.
        let counts = probe || self.circuit.state() == CircuitState::Closed;
        let transition = match health {
            Health::Success if counts => self.circuit.succeeded(),
            Health::Failure if counts => self.circuit.failed(now),
            Health::Misconfigured => self
                .circuit
                .force_open(now, "provider misconfigured".into()),
            _ => None,
        };
        let opened = transition
            .as_ref()
            .is_some_and(|t| t.to == CircuitState::Open);
        if opened && matches!(decision, Decision::RetryIn(_)) {
            decision = Decision::GiveUp(self.circuit_open());
        }
        let (decision_name, provider_message_id, retry_in_ms) = match &decision {
            Decision::Done {
                provider_message_id,
            } => ("done", Some(provider_message_id.clone()), None),
            Decision::RetryIn(d) => ("retry", None, Some(millis(*d))),
            Decision::GiveUp(f) => (f.class(), None, None),
        };
        let cost_micros = if provider_message_id.is_some() {
            u64::from(segments).saturating_mul(self.settings.cost_per_segment_micros)
        } else {
            0
        };
        let mut batch = vec![journal::attempt_finished(
            &school,
            &self.name,
            &DeliveryAttemptFinished {
                delivery_id: pending.delivery.delivery_id.clone(),
                attempt: pending.attempts,
                status: status.into(),
                decision: decision_name.into(),
                provider_message_id,
                detail,
                duration_ms: millis(duration),
                segments,
                cost_micros,
                currency: self.settings.currency.clone(),
                retry_in_ms,
                context: pending.delivery.context.clone(),
            },
        )];
        if let Some(t) = &transition {
            batch.push(self.transition(&school, t));
        }
        if opened {
            self.give_back_queue();
        }
        let journal = self.journal.clone();
        let provider = self.name.clone();
        let written = async move {
            if let Err(error) = events::write(&*journal, batch).await {
                tracing::error!(
                    message = "attempt end not journaled",
                    provider = %provider,
                    %error
                );
            }
        };
        ctx.spawn(written.into_actor(self).map(move |(), act, ctx| {
            match decision {
                Decision::Done {
                    provider_message_id,
                } => {
                    let _ = pending.reply.send(Ok(Sent {
                        provider: act.name.clone(),
                        provider_message_id,
                        attempts: pending.attempts,
                        segments,
                        cost_micros,
                        currency: act.settings.currency.clone(),
                    }));
                }
                Decision::RetryIn(delay) => act.requeue(pending, delay),
                Decision::GiveUp(failure) => {
                    let _ = pending.reply.send(Err(failure));
                }
            }
            act.pump(ctx);
        }));
    }

    /// Queues `pending` again for its next attempt, unless the circuit opened meanwhile.
    fn requeue(&mut self, mut pending: Pending, delay: Duration) {
        if matches!(self.circuit.admits(Instant::now()), Admission::OpenUntil(_)) {
            let _ = pending.reply.send(Err(self.circuit_open()));
            return;
        }
        pending.not_before = Instant::now() + delay;
        // A retry keeps its place in front of newer deliveries (it was accepted first).
        self.queue.push_front(pending);
        self.depth_changed();
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Actor for ProviderActor {
    type Context = Context<Self>;
}

impl actix::Supervised for ProviderActor {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        tracing::warn!(message = "provider actor restarting", provider = %self.name);
        for pending in self.queue.drain(..) {
            let _ = pending.reply.send(Err(Failure::Stopped));
        }
        self.in_flight = 0;
        self.wake = None;
        self.limiter = ProviderLimiter::new(self.settings.rate);
        self.circuit = Circuit::new(self.settings.circuit);
        self.depth_changed();
        self.metrics
            .set_provider_circuit_state(&self.name, CircuitState::Closed.gauge());
    }
}

impl Handler<Submit> for ProviderActor {
    type Result = ResponseFuture<Result<Sent, Failure>>;

    fn handle(&mut self, Submit(delivery): Submit, ctx: &mut Context<Self>) -> Self::Result {
        let refused = |failure| -> Self::Result { Box::pin(async move { Err(failure) }) };
        let kind = self.client.kind();
        if delivery.message.kind() != kind {
            return refused(Failure::WrongKind {
                provider: self.name.clone(),
                kind: delivery.message.kind().as_str(),
            });
        }
        if let Admission::OpenUntil(_) = self.circuit.admits(Instant::now()) {
            return refused(self.circuit_open());
        }
        if self.queue.len() >= self.settings.queue_capacity {
            return refused(Failure::QueueFull {
                provider: self.name.clone(),
                capacity: self.settings.queue_capacity,
            });
        }
        let (reply, answer) = oneshot::channel();
        self.queue.push_back(Pending {
            delivery,
            attempts: 0,
            not_before: Instant::now(),
            reply,
        });
        self.depth_changed();
        self.pump(ctx);
        Box::pin(async move { answer.await.unwrap_or(Err(Failure::Stopped)) })
    }
}

impl Handler<Status> for ProviderActor {
    type Result = MessageResult<Status>;

    fn handle(&mut self, _: Status, _: &mut Context<Self>) -> Self::Result {
        MessageResult(ProviderStatus {
            circuit: self.circuit.state(),
            open_until: match self.circuit.admits(Instant::now()) {
                Admission::OpenUntil(until) => Some(until),
                _ => None,
            },
            queued: self.queue.len(),
            in_flight: self.in_flight,
            drain_time: self.limiter.drain_time(self.queue.len() + self.in_flight),
        })
    }
}

/// Stops the actor as a failure would, so its supervisor restarts it (tests of the restart).
#[cfg(any(test, feature = "fault-injection"))]
#[derive(Message)]
#[rtype(result = "()")]
pub struct Fail;

#[cfg(any(test, feature = "fault-injection"))]
impl Handler<Fail> for ProviderActor {
    type Result = ();

    fn handle(&mut self, _: Fail, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
