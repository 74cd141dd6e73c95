//! Delivery policies and plans: for one notification and one recipient, which channels to try,
//! in which order, not before when, and for how long each may take to reach `delivered`/`read`
//! before the next one is tried. Pure: the inputs are the policy, the recipient's roster entry and
//! opt-outs, the school's calendar and the start time; the output is a [`Plan`].
//!
//! Policies are configuration (`[delivery.policies."<kind>"]`, [`DeliveryPolicies`]); a kind the
//! configuration does not name keeps its compiled-in default, and a kind nobody names uses the
//! `default` policy (in-app only: the hub's behaviour before delivery existed, so a new kind
//! never costs money by surprise). The defaults:
//! - `emergency`: every channel at once, never held by quiet hours or no-disturb periods.
//! - `fees.reminder`, `exam.results`, `attendance`, `event`: cheapest first — in-app, push,
//!   WhatsApp, SMS, e-mail — each step waiting its `wait` for `delivered`/`read` before the next.
//!
//! An explicit `channels` list on the request replaces the policy's channels (same mode, the
//! policy's wait per channel, [`DEFAULT_WAIT`] for a channel the policy lacks).
//!
//! The recipient's roster entry decides the rest: a channel without a contact (no phone for SMS
//! and WhatsApp, no e-mail, no push token) is skipped with that reason, as is a channel the
//! recipient opted out of (opt-outs are always honoured, emergencies included: the consent ledger
//! is the law's, POTRAZ 2/2013), and, when the member lists `preferences`, an offline channel not
//! in them (except in an emergency, which goes everywhere the member can be reached); listed
//! preferences also order the offline steps of a cheapest-first plan. In-app is always
//! reachable.
//!
//! Timeline: in cheapest-first mode, a step starts when the one before it has used its whole
//! wait, then later if the calendar holds its channel ([`SchoolCalendar::next_allowed`]). That
//! is the latest each step can start; the dispatcher (later work, the consumer of these plans)
//! moves on earlier when a step fails and re-plans the rest with [`Plan::replan_from`].
//!
//! [`dedupe_sms`] then makes one SMS per destination number per notification over all the plans
//! of a notification (guardians and siblings sharing a handset).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use oneclass_clients::ZwMobile;
use serde::{Deserialize, Deserializer, Serialize};

use super::calendar::SchoolCalendar;
use crate::roster::Member;

/// A way to reach a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The recipient's inbox in the app (`user:{school}:{user}`).
    InApp,
    Push,
    #[serde(rename = "whatsapp")]
    WhatsApp,
    Sms,
    Email,
}

impl Channel {
    /// Every channel, cheapest first.
    pub const CHEAPEST_FIRST: [Channel; 5] = [
        Channel::InApp,
        Channel::Push,
        Channel::WhatsApp,
        Channel::Sms,
        Channel::Email,
    ];

    /// The name used in configuration, the API and member preferences.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::InApp => "in_app",
            Channel::Push => "push",
            Channel::WhatsApp => "whatsapp",
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }

    /// Reads a name as [`Channel::as_str`] writes it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::CHEAPEST_FIRST
            .into_iter()
            .find(|c| c.as_str() == name)
    }
}

/// Whether the calendar may hold a notification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Held by quiet hours and no-disturb periods.
    #[default]
    Normal,
    /// Never held.
    Emergency,
}

/// How a policy runs its channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Every channel at the start.
    AllAtOnce,
    /// One channel after the other, moving on when one fails or its wait runs out.
    CheapestFirst,
}

/// One step of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyStep {
    pub channel: Channel,
    /// How long the step may take to reach `delivered`/`read` before the next step starts.
    #[serde(with = "humantime_serde")]
    pub wait: Duration,
}

/// The delivery policy of one notification kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub mode: Mode,
    #[serde(default)]
    pub urgency: Urgency,
    pub steps: Vec<PolicyStep>,
}

/// The wait of a channel a request names but its kind's policy does not have.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60 * 60);

/// The policy of a kind no configuration names.
pub const DEFAULT_KIND: &str = "default";

fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

impl Policy {
    fn ladder(waits: [u64; 5]) -> Self {
        Policy {
            mode: Mode::CheapestFirst,
            urgency: Urgency::Normal,
            steps: Channel::CHEAPEST_FIRST
                .into_iter()
                .zip(waits)
                .map(|(channel, m)| PolicyStep {
                    channel,
                    wait: minutes(m),
                })
                .collect(),
        }
    }

    /// This policy with its channels replaced by `channels` (a request's explicit list).
    pub fn with_channels(&self, channels: &[Channel]) -> Policy {
        let mut seen = BTreeSet::new();
        Policy {
            mode: self.mode,
            urgency: self.urgency,
            steps: channels
                .iter()
                .filter(|c| seen.insert(**c))
                .map(|&channel| PolicyStep {
                    channel,
                    wait: self
                        .steps
                        .iter()
                        .find(|s| s.channel == channel)
                        .map_or(DEFAULT_WAIT, |s| s.wait),
                })
                .collect(),
        }
    }
}

/// Every kind's policy: the compiled-in defaults with the configured ones over them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DeliveryPolicies(BTreeMap<String, Policy>);

impl Default for DeliveryPolicies {
    fn default() -> Self {
        let mut m = BTreeMap::new();
        m.insert(
            "emergency".to_owned(),
            Policy {
                mode: Mode::AllAtOnce,
                urgency: Urgency::Emergency,
                steps: Channel::CHEAPEST_FIRST
                    .into_iter()
                    .map(|channel| PolicyStep {
                        channel,
                        wait: minutes(30),
                    })
                    .collect(),
            },
        );
        // Waits in minutes for in-app, push, WhatsApp, SMS, e-mail. A parent reads the app or a
        // push within the hour if at all; SMS is the last channel that reaches a basic phone,
        // so it gets the longest wait before e-mail.
        let routine = Policy::ladder([60, 60, 120, 240, 1440]);
        for kind in ["fees.reminder", "exam.results", "event"] {
            m.insert(kind.to_owned(), routine.clone());
        }
        // An absent child: the guardian should know within the morning.
        m.insert(
            "attendance".to_owned(),
            Policy::ladder([15, 15, 30, 120, 1440]),
        );
        m.insert(
            DEFAULT_KIND.to_owned(),
            Policy {
                mode: Mode::CheapestFirst,
                urgency: Urgency::Normal,
                steps: vec![PolicyStep {
                    channel: Channel::InApp,
                    wait: minutes(60),
                }],
            },
        );
        Self(m)
    }
}

impl<'de> Deserialize<'de> for DeliveryPolicies {
    /// The configured kinds replace their defaults whole; the other defaults stay.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let configured = BTreeMap::<String, Policy>::deserialize(d)?;
        let mut all = Self::default();
        for (kind, policy) in configured {
            if policy.steps.is_empty() {
                return Err(serde::de::Error::custom(format!(
                    "delivery policy {kind:?} has no steps"
                )));
            }
            all.0.insert(kind, policy);
        }
        Ok(all)
    }
}

impl DeliveryPolicies {
    /// The policy of `kind`, or the `default` one.
    pub fn for_kind(&self, kind: &str) -> &Policy {
        self.0
            .get(kind)
            .or_else(|| self.0.get(DEFAULT_KIND))
            // unwrap: `default` is compiled in and configuration can replace it but not remove it.
            .unwrap()
    }
}

/// Why a step of a plan will not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// The roster has no phone, e-mail address or push token for this channel.
    NoContact,
    /// The recipient opted out of this channel.
    OptedOut,
    /// The recipient's preferences list other channels only.
    NotPreferred,
    /// Another recipient of the same notification gets the SMS on this number.
    SharedNumber { with: String },
}

/// What happens to one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StepState {
    /// To run between `not_before` and `deadline`.
    Due {
        not_before: Timestamp,
        deadline: Timestamp,
    },
    Skipped(SkipReason),
}

/// One step of one recipient's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    pub channel: Channel,
    /// The contact used: E.164 number, e-mail address, push token count; `None` in-app.
    pub destination: Option<String>,
    #[serde(with = "humantime_serde")]
    pub wait: Duration,
    #[serde(flatten)]
    pub state: StepState,
}

/// One recipient's delivery plan for one notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub user: String,
    pub mode: Mode,
    pub urgency: Urgency,
    pub steps: Vec<PlannedStep>,
}

/// Who a plan is for: the roster entry and the channels the member opted out of (the consent
/// ledger's current answer).
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub member: &'a Member,
    pub opted_out: &'a BTreeSet<Channel>,
}

/// The contact `channel` would use for `member`, or `None` when there is none.
fn destination(member: &Member, channel: Channel) -> Option<Option<String>> {
    let c = &member.contacts;
    match channel {
        Channel::InApp => Some(None),
        // The roster checked the number with the same parser; normalising again makes two
        // spellings of one handset one destination.
        Channel::Sms | Channel::WhatsApp => c
            .phone
            .as_ref()
            .map(|p| Some(ZwMobile::parse(p).map_or_else(|_| p.clone(), |n| n.e164()))),
        Channel::Email => c.email.as_ref().map(|e| Some(e.to_ascii_lowercase())),
        Channel::Push => {
            (!c.push_tokens.is_empty()).then(|| Some(format!("{} tokens", c.push_tokens.len())))
        }
    }
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// The plan of `policy` for `recipient`, starting at `start` (now, or the request's `send_at`).
pub fn plan(
    policy: &Policy,
    recipient: Recipient<'_>,
    calendar: &SchoolCalendar,
    start: Timestamp,
) -> Plan {
    let member = recipient.member;
    let preferred: Vec<Channel> = member
        .preferences
        .iter()
        .filter_map(|p| Channel::parse(p))
        .collect();
    let mut steps: Vec<&PolicyStep> = policy.steps.iter().collect();
    if !preferred.is_empty() && policy.mode == Mode::CheapestFirst {
        // In-app first as ever, then the preferred channels in the member's order, then the
        // rest (to be skipped as not preferred) in the policy's order.
        let rank = |c: Channel| match c {
            Channel::InApp => 0,
            c => preferred
                .iter()
                .position(|p| *p == c)
                .map_or(usize::MAX, |i| i + 1),
        };
        steps.sort_by_key(|s| rank(s.channel));
    }
    let mut planned = Vec::with_capacity(steps.len());
    let mut next_start = start;
    for step in steps {
        let channel = step.channel;
        let skip = |reason| PlannedStep {
            channel,
            destination: None,
            wait: step.wait,
            state: StepState::Skipped(reason),
        };
        if recipient.opted_out.contains(&channel) {
            planned.push(skip(SkipReason::OptedOut));
            continue;
        }
        let filters = policy.urgency == Urgency::Normal && !preferred.is_empty();
        if channel != Channel::InApp && filters && !preferred.contains(&channel) {
            planned.push(skip(SkipReason::NotPreferred));
            continue;
        }
        let Some(destination) = destination(member, channel) else {
            planned.push(skip(SkipReason::NoContact));
            continue;
        };
        let earliest = match policy.mode {
            Mode::AllAtOnce => start,
            Mode::CheapestFirst => next_start,
        };
        let not_before = calendar.next_allowed(channel, policy.urgency, earliest);
        let deadline = add(not_before, step.wait);
        next_start = deadline;
        planned.push(PlannedStep {
            channel,
            destination,
            wait: step.wait,
            state: StepState::Due {
                not_before,
                deadline,
            },
        });
    }
    Plan {
        user: member.user.clone(),
        mode: policy.mode,
        urgency: policy.urgency,
        steps: planned,
    }
}

impl Plan {
    /// The steps still due after `index`, re-timed as if step `index` ended at `at` (it failed
    /// or was delivered early): each starts when the one before ends, or later if the calendar
    /// holds its channel. Skipped steps stay skipped. All-at-once plans have nothing to re-time.
    pub fn replan_from(&mut self, index: usize, at: Timestamp, calendar: &SchoolCalendar) {
        if self.mode == Mode::AllAtOnce {
            return;
        }
        let mut next_start = at;
        for step in self.steps.iter_mut().skip(index + 1) {
            if let StepState::Due { .. } = step.state {
                let not_before = calendar.next_allowed(step.channel, self.urgency, next_start);
                let deadline = add(not_before, step.wait);
                next_start = deadline;
                step.state = StepState::Due {
                    not_before,
                    deadline,
                };
            }
        }
    }
}

/// One SMS per destination number over all the plans of one notification: of the SMS steps
/// that share a number, the one due first keeps it (ties: the lowest user id) and the others are
/// skipped as [`SkipReason::SharedNumber`]. Other channels are untouched: push tokens and e-mail
/// addresses are personal, and WhatsApp is not billed per handset the way SMS parts are.
pub fn dedupe_sms(plans: &mut [Plan]) {
    let mut keeper: HashMap<String, (Timestamp, String, usize, usize)> = HashMap::new();
    for (pi, plan) in plans.iter().enumerate() {
        for (si, step) in plan.steps.iter().enumerate() {
            let (Channel::Sms, Some(number), StepState::Due { not_before, .. }) =
                (step.channel, &step.destination, &step.state)
            else {
                continue;
            };
            let candidate = (*not_before, plan.user.clone(), pi, si);
            keeper
                .entry(number.clone())
                .and_modify(|k| {
                    if (candidate.0, &candidate.1) < (k.0, &k.1) {
                        *k = candidate.clone();
                    }
                })
                .or_insert(candidate);
        }
    }
    for (pi, plan) in plans.iter_mut().enumerate() {
        for (si, step) in plan.steps.iter_mut().enumerate() {
            if step.channel != Channel::Sms || !matches!(step.state, StepState::Due { .. }) {
                continue;
            }
            let Some(number) = &step.destination else {
                continue;
            };
            if let Some((_, user, kp, ks)) = keeper.get(number) {
                if (*kp, *ks) != (pi, si) {
                    step.state =
                        StepState::Skipped(SkipReason::SharedNumber { with: user.clone() });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::calendar::{CalendarSpec, QuietHoursSpec};
    use crate::roster::{Contacts, Locale};
    use crate::Role;

    fn member(user: &str, phone: Option<&str>, email: Option<&str>, tokens: usize) -> Member {
        Member {
            user: user.into(),
            role: Role::Parent,
            classes: vec![],
            guardian_of: vec!["st1".into()],
            locale: Locale::En,
            contacts: Contacts {
                phone: phone.map(Into::into),
                email: email.map(Into::into),
                push_tokens: (0..tokens).map(|i| format!("tok{i}")).collect(),
            },
            preferences: vec![],
            display_name: None,
        }
    }

    fn full(user: &str) -> Member {
        member(user, Some("0771234567"), Some("Mai@Example.org"), 1)
    }

    fn harare(local: &str) -> Timestamp {
        format!("{local}+02:00[Africa/Harare]")
            .parse::<jiff::Zoned>()
            .unwrap()
            .timestamp()
    }

    fn quiet() -> SchoolCalendar {
        CalendarSpec {
            quiet_hours: Some(QuietHoursSpec {
                start: "21:00".into(),
                end: "06:00".into(),
            }),
            ..CalendarSpec::default()
        }
        .check(100)
        .unwrap()
    }

    fn plan_for(kind: &str, m: &Member, opted_out: &[Channel], at: Timestamp) -> Plan {
        let opted: BTreeSet<Channel> = opted_out.iter().copied().collect();
        let policies = DeliveryPolicies::default();
        plan(
            policies.for_kind(kind),
            Recipient {
                member: m,
                opted_out: &opted,
            },
            &quiet(),
            at,
        )
    }

    fn due(step: &PlannedStep) -> (Timestamp, Timestamp) {
        match step.state {
            StepState::Due {
                not_before,
                deadline,
            } => (not_before, deadline),
            StepState::Skipped(ref r) => panic!("{:?} skipped: {r:?}", step.channel),
        }
    }

    fn channels(p: &Plan) -> Vec<Channel> {
        p.steps.iter().map(|s| s.channel).collect()
    }

    #[test]
    fn routine_kinds_go_cheapest_first_each_step_after_the_previous_wait() {
        let noon = harare("2026-03-10T12:00:00");
        for kind in ["fees.reminder", "exam.results", "attendance", "event"] {
            let p = plan_for(kind, &full("p1"), &[], noon);
            assert_eq!(p.mode, Mode::CheapestFirst, "{kind}");
            assert_eq!(channels(&p), Channel::CHEAPEST_FIRST, "{kind}");
            let (first, _) = due(&p.steps[0]);
            assert_eq!(first, noon);
            for w in p.steps.windows(2) {
                assert_eq!(due(&w[1]).0, due(&w[0]).1, "{kind}: step follows step");
            }
        }
        let fees = plan_for("fees.reminder", &full("p1"), &[], noon);
        assert_eq!(due(&fees.steps[0]).1, harare("2026-03-10T13:00:00"));
        assert_eq!(fees.steps[3].destination.as_deref(), Some("+263771234567"));
        assert_eq!(
            fees.steps[4].destination.as_deref(),
            Some("mai@example.org")
        );
    }

    #[test]
    fn emergencies_go_everywhere_at_once_and_break_through_quiet_hours() {
        let night = harare("2026-03-10T23:30:00");
        let p = plan_for("emergency", &full("p1"), &[], night);
        assert_eq!(p.mode, Mode::AllAtOnce);
        assert_eq!(channels(&p), Channel::CHEAPEST_FIRST);
        for s in &p.steps {
            assert_eq!(due(s).0, night, "{:?}", s.channel);
        }
    }

    #[test]
    fn quiet_hours_defer_held_channels_but_not_the_inbox() {
        let evening = harare("2026-03-10T20:30:00");
        let p = plan_for("fees.reminder", &full("p1"), &[], evening);
        // In-app at once; push would start at 21:30, inside the quiet hours: 06:00.
        assert_eq!(due(&p.steps[0]).0, evening);
        assert_eq!(due(&p.steps[1]).0, harare("2026-03-11T06:00:00"));
        assert_eq!(due(&p.steps[2]).0, harare("2026-03-11T07:00:00"));
    }

    #[test]
    fn a_missing_contact_or_an_opt_out_skips_the_step_with_its_reason() {
        let noon = harare("2026-03-10T12:00:00");
        let bare = member("p1", None, Some("a@b.org"), 0);
        let p = plan_for("exam.results", &bare, &[Channel::Email], noon);
        let states: Vec<_> = p.steps.iter().map(|s| s.state.clone()).collect();
        assert!(matches!(states[0], StepState::Due { .. }));
        for (i, state) in states.iter().enumerate().take(4).skip(1) {
            assert_eq!(*state, StepState::Skipped(SkipReason::NoContact), "{i}");
        }
        assert_eq!(states[4], StepState::Skipped(SkipReason::OptedOut));
        let opted = plan_for("emergency", &full("p1"), &[Channel::Sms], noon);
        assert_eq!(
            opted.steps[3].state,
            StepState::Skipped(SkipReason::OptedOut),
            "opt-outs hold for emergencies too"
        );
    }

    #[test]
    fn preferences_order_and_limit_the_offline_steps() {
        let mut m = full("p1");
        m.preferences = vec!["sms".into(), "push".into()];
        let p = plan_for("event", &m, &[], harare("2026-03-10T08:00:00"));
        assert_eq!(
            channels(&p),
            [
                Channel::InApp,
                Channel::Sms,
                Channel::Push,
                Channel::WhatsApp,
                Channel::Email
            ]
        );
        assert_eq!(
            p.steps[3].state,
            StepState::Skipped(SkipReason::NotPreferred)
        );
        assert_eq!(
            p.steps[4].state,
            StepState::Skipped(SkipReason::NotPreferred)
        );
        assert_eq!(due(&p.steps[2]).0, due(&p.steps[1]).1);
    }

    #[test]
    fn an_explicit_channel_list_overrides_the_policy() {
        let policies = DeliveryPolicies::default();
        let policy = policies.for_kind("fees.reminder").with_channels(&[
            Channel::Sms,
            Channel::InApp,
            Channel::Sms,
        ]);
        assert_eq!(policy.steps.len(), 2, "duplicates dropped");
        assert_eq!(policy.steps[0].channel, Channel::Sms);
        assert_eq!(
            policy.steps[0].wait,
            minutes(240),
            "the kind's wait for SMS"
        );
        let emergency = policies
            .for_kind("emergency")
            .with_channels(&[Channel::Sms]);
        assert_eq!(
            (emergency.mode, emergency.urgency),
            (Mode::AllAtOnce, Urgency::Emergency)
        );
    }

    #[test]
    fn unknown_kinds_get_the_in_app_only_default_and_configuration_replaces_kinds() {
        let policies = DeliveryPolicies::default();
        let p = policies.for_kind("club.news");
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.steps[0].channel, Channel::InApp);
        let toml_like = serde_json::json!({
            "event": {"mode": "cheapest_first", "steps": [
                {"channel": "in_app", "wait": "10m"}, {"channel": "sms", "wait": "2h"}]},
        });
        let configured: DeliveryPolicies = serde_json::from_value(toml_like).unwrap();
        assert_eq!(configured.for_kind("event").steps.len(), 2);
        assert_eq!(configured.for_kind("event").steps[1].wait, minutes(120));
        assert_eq!(
            configured.for_kind("emergency"),
            policies.for_kind("emergency"),
            "kinds not configured keep their defaults"
        );
        let empty = serde_json::json!({"event": {"mode": "all_at_once", "steps": []}});
        let e = serde_json::from_value::<DeliveryPolicies>(empty).unwrap_err();
        assert!(e.to_string().contains("has no steps"), "{e}");
    }

    #[test]
    fn a_step_that_ends_early_pulls_the_rest_forward_within_the_calendar() {
        let noon = harare("2026-03-10T12:00:00");
        let mut p = plan_for("fees.reminder", &full("p1"), &[], noon);
        // In-app "fails" at once: push may start now, WhatsApp an hour later.
        p.replan_from(0, noon, &quiet());
        assert_eq!(due(&p.steps[1]).0, noon);
        assert_eq!(due(&p.steps[2]).0, harare("2026-03-10T13:00:00"));
        // Re-planned at 21:15, WhatsApp would start inside the quiet hours.
        p.replan_from(1, harare("2026-03-10T21:15:00"), &quiet());
        assert_eq!(due(&p.steps[2]).0, harare("2026-03-11T06:00:00"));
    }

    #[test]
    fn one_sms_per_number_however_many_recipients_share_the_handset() {
        let noon = harare("2026-03-10T12:00:00");
        // Two guardians share one phone written two ways; a third has their own.
        let a = full("mother");
        let b = member("father", Some("+263 77 123 4567"), None, 0);
        let c = member("aunt", Some("0712345678"), None, 0);
        let mut plans: Vec<Plan> = [&b, &a, &c]
            .iter()
            .map(|m| plan_for("attendance", m, &[], noon))
            .collect();
        dedupe_sms(&mut plans);
        let sms = |p: &Plan| {
            p.steps
                .iter()
                .find(|s| s.channel == Channel::Sms)
                .unwrap()
                .state
                .clone()
        };
        // The father has no push, WhatsApp aside: his SMS is due first, so he keeps the number.
        assert!(matches!(sms(&plans[0]), StepState::Due { .. }));
        assert_eq!(
            sms(&plans[1]),
            StepState::Skipped(SkipReason::SharedNumber {
                with: "father".into()
            })
        );
        assert!(matches!(sms(&plans[2]), StepState::Due { .. }));
        // WhatsApp is not de-duplicated.
        let wa = plans[1]
            .steps
            .iter()
            .find(|s| s.channel == Channel::WhatsApp)
            .unwrap();
        assert!(matches!(wa.state, StepState::Due { .. }));
    }

    #[test]
    fn equal_times_keep_the_sms_for_the_lowest_user_id() {
        let noon = harare("2026-03-10T12:00:00");
        let mut plans: Vec<Plan> = ["zed", "amy"]
            .iter()
            .map(|u| plan_for("emergency", &full(u), &[], noon))
            .collect();
        dedupe_sms(&mut plans);
        assert_eq!(
            plans[0].steps[3].state,
            StepState::Skipped(SkipReason::SharedNumber { with: "amy".into() })
        );
        assert!(matches!(plans[1].steps[3].state, StepState::Due { .. }));
    }
}
