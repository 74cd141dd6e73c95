//! [`Circuit`]: one provider's circuit breaker, as a pure state table with `now` passed in.
//!
//! | state | [`Circuit::admits`] | on success | on failure | on [`Circuit::force_open`] |
//! |---|---|---|---|---|
//! | `Closed` | yes | counted | counted; opens once `consecutive_failures` in a row, or once the last `window` calls hold at least `window` × `failure_ratio` failures | opens |
//! | `Open { until }` | no before `until`; from `until` one probe ([`Circuit::start`] moves to `HalfOpen`) | — | — | reopens |
//! | `HalfOpen` | no (the probe is in flight) | closes, counts reset | reopens for another cool-down | reopens |
//!
//! Every state change is returned as a [`Transition`] so the actor journals it
//! (`provider.circuit.changed`) and sets the circuit-state gauge. Outcomes that say nothing about
//! the provider's health (a barred number, a refused message) are not recorded at all: the
//! decision table ([`super::decision`]) says which outcomes count.
//!
//! The ratio window is the last `window` calls (a count, not a time span): at a provider's
//! contracted rate of hundreds per hour, a time window would hold too few calls to judge early
//! in the day and too many after a burst. The ratio is judged only once the window is full.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// When a circuit opens and how long it stays open. Part of a provider's settings.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitPolicy {
    /// Failures in a row that open the circuit.
    pub consecutive_failures: u32,
    /// Calls in the ratio window.
    pub window: u32,
    /// Share of failures in a full window that opens the circuit (0 < ratio ≤ 1).
    pub failure_ratio: f64,
    /// How long an open circuit refuses before a probe is let through.
    #[serde(with = "humantime_serde")]
    pub cool_down: Duration,
}

impl Default for CircuitPolicy {
    /// Five failures in a row, or half of the last twenty calls, open the circuit for 30 s.
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            window: 20,
            failure_ratio: 0.5,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// A circuit's state, as reported and journaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Calls go through.
    Closed,
    /// Calls are refused until the cool-down ends.
    Open,
    /// One probe call is in flight; its result closes or reopens.
    HalfOpen,
}

impl CircuitState {
    /// The metric label, and the value of the circuit-state gauge (closed 0, half-open 1,
    /// open 2).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }

    /// The gauge value.
    pub fn gauge(self) -> i64 {
        match self {
            Self::Closed => 0,
            Self::HalfOpen => 1,
            Self::Open => 2,
        }
    }
}

/// A state change, for the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: CircuitState,
    pub to: CircuitState,
    /// Why, in words (`5 consecutive failures`, `probe failed`, …).
    pub reason: String,
}

/// Whether a call may start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Yes.
    Go,
    /// Not before this instant (the cool-down's end).
    OpenUntil(Instant),
    /// A probe is in flight; wait for its result.
    ProbeInFlight,
}

/// One provider's breaker.
#[derive(Debug)]
pub struct Circuit {
    policy: CircuitPolicy,
    state: Inner,
    /// The last `window` calls, `true` = failure (only while closed).
    recent: VecDeque<bool>,
    consecutive: u32,
}

#[derive(Debug, Clone, Copy)]
enum Inner {
    Closed,
    Open { until: Instant },
    HalfOpen,
}

impl Circuit {
    /// A closed circuit.
    pub fn new(policy: CircuitPolicy) -> Self {
        Self {
            policy,
            state: Inner::Closed,
            recent: VecDeque::new(),
            consecutive: 0,
        }
    }

    /// The state now (an open circuit past its cool-down still reads `Open` until a probe
    /// starts).
    pub fn state(&self) -> CircuitState {
        match self.state {
            Inner::Closed => CircuitState::Closed,
            Inner::Open { .. } => CircuitState::Open,
            Inner::HalfOpen => CircuitState::HalfOpen,
        }
    }

    /// Whether a call may start at `now`. Changes nothing.
    pub fn admits(&self, now: Instant) -> Admission {
        match self.state {
            Inner::Closed => Admission::Go,
            Inner::Open { until } if now >= until => Admission::Go,
            Inner::Open { until } => Admission::OpenUntil(until),
            Inner::HalfOpen => Admission::ProbeInFlight,
        }
    }

    /// A call starts at `now` (after [`Circuit::admits`] said `Go`): past an open circuit's
    /// cool-down, this call is the probe and the circuit goes half-open.
    pub fn start(&mut self, now: Instant) -> Option<Transition> {
        match self.state {
            Inner::Open { until } if now >= until => {
                self.state = Inner::HalfOpen;
                Some(Transition {
                    from: CircuitState::Open,
                    to: CircuitState::HalfOpen,
                    reason: "cool-down over, probing".into(),
                })
            }
            _ => None,
        }
    }

    /// A call that counts for the provider's health ended well.
    pub fn succeeded(&mut self) -> Option<Transition> {
        match self.state {
            Inner::HalfOpen => {
                self.reset();
                self.state = Inner::Closed;
                Some(Transition {
                    from: CircuitState::HalfOpen,
                    to: CircuitState::Closed,
                    reason: "probe succeeded".into(),
                })
            }
            Inner::Closed => {
                self.consecutive = 0;
                self.push(false);
                None
            }
            // A call admitted before the circuit opened ends late: it says nothing new.
            Inner::Open { .. } => None,
        }
    }

    /// A call that counts for the provider's health failed at `now`.
    pub fn failed(&mut self, now: Instant) -> Option<Transition> {
        match self.state {
            Inner::HalfOpen => Some(self.open(now, CircuitState::HalfOpen, "probe failed".into())),
            Inner::Closed => {
                self.consecutive += 1;
                self.push(true);
                let failures = self.recent.iter().filter(|f| **f).count();
                let window = self.policy.window.max(1) as usize;
                if self.consecutive >= self.policy.consecutive_failures.max(1) {
                    let reason = format!("{} consecutive failures", self.consecutive);
                    Some(self.open(now, CircuitState::Closed, reason))
                } else if self.recent.len() >= window
                    && failures as f64 >= self.policy.failure_ratio * window as f64
                {
                    let reason = format!("{failures} failures in the last {window} calls");
                    Some(self.open(now, CircuitState::Closed, reason))
                } else {
                    None
                }
            }
            Inner::Open { .. } => None,
        }
    }

    /// Opens at `now` whatever the counts say (the provider's credentials or account are
    /// broken: sending on is pointless until an operator acts; the cool-down's probe finds out).
    pub fn force_open(&mut self, now: Instant, reason: String) -> Option<Transition> {
        let from = self.state();
        match self.state {
            Inner::Open { .. } => {
                self.state = Inner::Open {
                    until: now + self.policy.cool_down,
                };
                None
            }
            _ => Some(self.open(now, from, reason)),
        }
    }

    fn open(&mut self, now: Instant, from: CircuitState, reason: String) -> Transition {
        self.reset();
        self.state = Inner::Open {
            until: now + self.policy.cool_down,
        };
        Transition {
            from,
            to: CircuitState::Open,
            reason,
        }
    }

    fn push(&mut self, failure: bool) {
        self.recent.push_back(failure);
        while self.recent.len() > self.policy.window.max(1) as usize {
            self.recent.pop_front();
        }
    }

    fn reset(&mut self) {
        self.recent.clear();
        self.consecutive = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CircuitPolicy {
        CircuitPolicy {
            consecutive_failures: 3,
            window: 10,
            failure_ratio: 0.5,
            cool_down: Duration::from_secs(30),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn consecutive_failures_open_it_and_a_success_between_resets_the_run() {
        let mut c = Circuit::new(policy());
        let now = Instant::now();
        assert_eq!(c.failed(now), None);
        assert_eq!(c.failed(now), None);
        assert_eq!(c.succeeded(), None);
        assert_eq!(c.failed(now), None);
        assert_eq!(c.failed(now), None);
        let t = c.failed(now).unwrap();
        assert_eq!((t.from, t.to), (CircuitState::Closed, CircuitState::Open));
        assert_eq!(t.reason, "3 consecutive failures");
        assert_eq!(
            c.admits(now),
            Admission::OpenUntil(now + Duration::from_secs(30))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_ratio_over_a_full_window_opens_it() {
        let mut c = Circuit::new(policy());
        let now = Instant::now();
        // Alternating: never 3 in a row, but 5 of the last 10.
        for i in 0..9 {
            let t = if i % 2 == 0 {
                c.failed(now)
            } else {
                c.succeeded()
            };
            assert_eq!(t, None, "call {i}");
        }
        let t = c.succeeded();
        assert_eq!(t, None, "a success never opens");
        let t = c.failed(now).unwrap();
        assert_eq!(t.to, CircuitState::Open);
        assert_eq!(t.reason, "5 failures in the last 10 calls");
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_cool_down_one_probe_goes_and_its_success_closes_it() {
        let mut c = Circuit::new(policy());
        let opened = Instant::now();
        c.force_open(opened, "fix config".into()).unwrap();
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(matches!(c.admits(Instant::now()), Admission::OpenUntil(_)));
        tokio::time::advance(Duration::from_secs(1)).await;
        let now = Instant::now();
        assert_eq!(c.admits(now), Admission::Go);
        let t = c.start(now).unwrap();
        assert_eq!((t.from, t.to), (CircuitState::Open, CircuitState::HalfOpen));
        assert_eq!(c.admits(now), Admission::ProbeInFlight, "a single probe");
        let t = c.succeeded().unwrap();
        assert_eq!(
            (t.from, t.to),
            (CircuitState::HalfOpen, CircuitState::Closed)
        );
        assert_eq!(c.admits(now), Admission::Go);
        assert_eq!(
            c.start(now),
            None,
            "a closed circuit's call changes nothing"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_reopens_it_for_another_cool_down() {
        let mut c = Circuit::new(policy());
        for _ in 0..3 {
            c.failed(Instant::now());
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        c.start(Instant::now()).unwrap();
        let probe_failed_at = Instant::now();
        let t = c.failed(probe_failed_at).unwrap();
        assert_eq!((t.from, t.to), (CircuitState::HalfOpen, CircuitState::Open));
        assert_eq!(
            c.admits(probe_failed_at),
            Admission::OpenUntil(probe_failed_at + Duration::from_secs(30))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn late_results_of_calls_started_before_it_opened_change_nothing() {
        let mut c = Circuit::new(policy());
        let now = Instant::now();
        c.force_open(now, "x".into()).unwrap();
        assert_eq!(c.failed(now), None);
        assert_eq!(c.succeeded(), None);
        assert_eq!(c.state(), CircuitState::Open);
        assert_eq!(
            c.force_open(now, "again".into()),
            None,
            "already open: no new transition"
        );
    }
}
