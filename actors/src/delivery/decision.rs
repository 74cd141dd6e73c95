//! The decision table: what a provider actor does after one attempt, driven only by the
//! client's [`Outcome`] (and, for the two retry classes, the [`RetrySchedule`]).
//!
//! | outcome | circuit | retry schedule says | decision |
//! |---|---|---|---|
//! | `Sent(id)` | success | — | [`Decision::Done`] with the provider's message id |
//! | `RetryAfter { after }` | failure | wait `after` | [`Decision::RetryIn`] `after` |
//! | `RetryAfter { after }` | failure | longer than the bound | give up here: [`Failure::ProviderUnavailable`] (fail over) |
//! | `RetryAfter` / `RetryBackoff` | failure | attempts used up | give up here: [`Failure::ProviderUnavailable`] (fail over) |
//! | `RetryBackoff` | failure | a jittered delay | [`Decision::RetryIn`] that delay |
//! | `DropRecipient` | success (the provider answered sanely) | — | [`Failure::RecipientUnreachable`]: the channel ends for this recipient, **no failover** |
//! | `FixMessage` | not counted | — | [`Failure::MessageRefused`]: the content must change; no retry |
//! | `FixConfig` | forced open | — | [`Failure::ProviderMisconfigured`] (fail over), and an operator must act |
//!
//! A permanent recipient error never fails over: another SMS gateway would reach the same barred
//! number no better, and each try costs money. Which failures a caller may take to the next
//! provider is [`Failure::fails_over`], the one predicate a dispatcher needs.

use std::time::Duration;

use oneclass_clients::Outcome;

use super::retry::{Retry, RetrySchedule};

/// What the circuit hears of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// The provider works.
    Success,
    /// The provider failed (counts towards opening).
    Failure,
    /// Nothing about the provider's health (the message was at fault).
    NotCounted,
    /// The provider cannot work until an operator acts: open the circuit now.
    Misconfigured,
}

/// Why a delivery ended without being sent by this provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The provider's queue is full; nothing was tried.
    #[error("provider `{provider}` queue is full ({capacity} deliveries)")]
    QueueFull { provider: String, capacity: usize },
    /// The provider's circuit is open; nothing was tried (or what was queued was given back).
    #[error("provider `{provider}` circuit is open")]
    CircuitOpen { provider: String },
    /// Retries at this provider are used up, or it asked for a longer pause than is waited for.
    #[error("provider `{provider}` unavailable after {attempts} attempts: {detail}")]
    ProviderUnavailable {
        provider: String,
        attempts: u32,
        detail: String,
    },
    /// The provider's credentials or account are broken.
    #[error("provider `{provider}` is misconfigured: {detail}")]
    ProviderMisconfigured { provider: String, detail: String },
    /// The recipient cannot be reached on this channel (invalid or barred number).
    #[error("recipient unreachable: {0}")]
    RecipientUnreachable(String),
    /// The message itself was refused (too long, bad content).
    #[error("message refused: {0}")]
    MessageRefused(String),
    /// The message is not of this provider's kind.
    #[error("provider `{provider}` does not send {kind} messages")]
    WrongKind {
        provider: String,
        kind: &'static str,
    },
    /// The attempt could not be journaled before the call, so it was not made.
    #[error("journal unavailable, attempt not made: {0}")]
    Journal(String),
    /// The provider actor stopped before answering.
    #[error("provider actor stopped")]
    Stopped,
}

impl Failure {
    /// Whether the caller should try the next provider of the same kind: the provider is the
    /// problem, not the recipient or the message.
    pub fn fails_over(&self) -> bool {
        matches!(
            self,
            Failure::QueueFull { .. }
                | Failure::CircuitOpen { .. }
                | Failure::ProviderUnavailable { .. }
                | Failure::ProviderMisconfigured { .. }
                | Failure::Journal(_)
                | Failure::Stopped
        )
    }

    /// A short stable name, for metrics and the journal.
    pub fn class(&self) -> &'static str {
        match self {
            Failure::QueueFull { .. } => "queue_full",
            Failure::CircuitOpen { .. } => "circuit_open",
            Failure::ProviderUnavailable { .. } => "provider_unavailable",
            Failure::ProviderMisconfigured { .. } => "provider_misconfigured",
            Failure::RecipientUnreachable(_) => "recipient_unreachable",
            Failure::MessageRefused(_) => "message_refused",
            Failure::WrongKind { .. } => "wrong_kind",
            Failure::Journal(_) => "journal",
            Failure::Stopped => "stopped",
        }
    }
}

/// What the actor does next with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Sent; answer the caller with the provider's message id.
    Done { provider_message_id: String },
    /// Queue it again, not before this long from now.
    RetryIn(Duration),
    /// Answer the caller with this failure.
    GiveUp(Failure),
}

/// The table above. `attempts` counts the attempt that produced `outcome` (1-based).
pub fn decide(
    provider: &str,
    outcome: Outcome,
    attempts: u32,
    retry: &mut RetrySchedule,
) -> (Decision, Health) {
    let unavailable = |detail: String| {
        Decision::GiveUp(Failure::ProviderUnavailable {
            provider: provider.to_owned(),
            attempts,
            detail,
        })
    };
    match outcome {
        Outcome::Sent(id) => (
            Decision::Done {
                provider_message_id: id,
            },
            Health::Success,
        ),
        Outcome::RetryAfter { after, detail } => {
            let decision = match retry.next(attempts, Some(after)) {
                Retry::After(d) => Decision::RetryIn(d),
                Retry::TooLong(d) => unavailable(format!("asked to wait {d:?}: {detail}")),
                Retry::Exhausted => unavailable(detail),
            };
            (decision, Health::Failure)
        }
        Outcome::RetryBackoff(detail) => {
            let decision = match retry.next(attempts, None) {
                Retry::After(d) => Decision::RetryIn(d),
                Retry::TooLong(_) | Retry::Exhausted => unavailable(detail),
            };
            (decision, Health::Failure)
        }
        Outcome::DropRecipient(detail) => (
            Decision::GiveUp(Failure::RecipientUnreachable(detail)),
            Health::Success,
        ),
        Outcome::FixMessage(detail) => (
            Decision::GiveUp(Failure::MessageRefused(detail)),
            Health::NotCounted,
        ),
        Outcome::FixConfig(detail) => (
            Decision::GiveUp(Failure::ProviderMisconfigured {
                provider: provider.to_owned(),
                detail,
            }),
            Health::Misconfigured,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::retry::RetryPolicy;

    fn schedule() -> RetrySchedule {
        RetrySchedule::seeded(
            RetryPolicy {
                base: Duration::from_millis(100),
                cap: Duration::from_secs(1),
                max_attempts: 3,
                max_retry_after: Duration::from_secs(60),
            },
            9,
        )
    }

    fn unavailable(attempts: u32, detail: &str) -> Decision {
        Decision::GiveUp(Failure::ProviderUnavailable {
            provider: "telone".into(),
            attempts,
            detail: detail.into(),
        })
    }

    #[test]
    fn every_row_of_the_table() {
        let after = |s| Outcome::RetryAfter {
            after: Duration::from_secs(s),
            detail: "429".into(),
        };
        let rows: Vec<(Outcome, u32, Decision, Health)> = vec![
            (
                Outcome::Sent("TL1".into()),
                1,
                Decision::Done {
                    provider_message_id: "TL1".into(),
                },
                Health::Success,
            ),
            (
                after(30),
                1,
                Decision::RetryIn(Duration::from_secs(30)),
                Health::Failure,
            ),
            (
                after(3600),
                1,
                unavailable(1, "asked to wait 3600s: 429"),
                Health::Failure,
            ),
            (after(1), 3, unavailable(3, "429"), Health::Failure),
            (
                Outcome::RetryBackoff("503".into()),
                3,
                unavailable(3, "503"),
                Health::Failure,
            ),
            (
                Outcome::DropRecipient("barred".into()),
                1,
                Decision::GiveUp(Failure::RecipientUnreachable("barred".into())),
                Health::Success,
            ),
            (
                Outcome::FixMessage("too long".into()),
                1,
                Decision::GiveUp(Failure::MessageRefused("too long".into())),
                Health::NotCounted,
            ),
            (
                Outcome::FixConfig("bad password".into()),
                1,
                Decision::GiveUp(Failure::ProviderMisconfigured {
                    provider: "telone".into(),
                    detail: "bad password".into(),
                }),
                Health::Misconfigured,
            ),
        ];
        for (outcome, attempts, decision, health) in rows {
            let label = format!("{outcome:?} at attempt {attempts}");
            assert_eq!(
                decide("telone", outcome, attempts, &mut schedule()),
                (decision, health),
                "{label}"
            );
        }
        // The jittered row: a delay within the first ceiling.
        match decide(
            "telone",
            Outcome::RetryBackoff("503".into()),
            1,
            &mut schedule(),
        ) {
            (Decision::RetryIn(d), Health::Failure) => assert!(d <= Duration::from_millis(100)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_provider_failures_fail_over_and_recipient_errors_never_do() {
        let p = || "telone".to_owned();
        assert!(Failure::QueueFull {
            provider: p(),
            capacity: 1
        }
        .fails_over());
        assert!(Failure::CircuitOpen { provider: p() }.fails_over());
        assert!(Failure::ProviderMisconfigured {
            provider: p(),
            detail: String::new()
        }
        .fails_over());
        assert!(Failure::ProviderUnavailable {
            provider: p(),
            attempts: 1,
            detail: String::new()
        }
        .fails_over());
        assert!(!Failure::RecipientUnreachable("barred".into()).fails_over());
        assert!(!Failure::MessageRefused("too long".into()).fails_over());
        assert!(!Failure::WrongKind {
            provider: p(),
            kind: "sms"
        }
        .fails_over());
    }
}
