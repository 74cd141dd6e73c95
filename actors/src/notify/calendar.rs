//! A school's calendar: its time zone, its nightly quiet hours and its dated no-disturb periods
//! (exams, holidays), and [`SchoolCalendar::next_allowed`], the one answer the rest of delivery
//! needs from it: when may a message on this channel go.
//!
//! The calendar is set with `PUT /v1/schools/{school}/calendar` (hub `routes/calendar.rs`) and
//! journaled as `school.calendar.set` on the school's `roster:{school}` stream, the stream of
//! the school's own settings; the school actor rebuilds it from there with the roster and keeps
//! the last one set. The delivery plans of [`super::policy`] ask it for every step's not-before
//! time; the dispatcher that runs the plans (later work) will ask it again when it re-plans a
//! step that starts early.
//!
//! Rules (the invariants the tests hold):
//! - In-app and e-mail are never held: an inbox entry and an e-mail wake nobody. Push, WhatsApp
//!   and SMS are held, unless the notification is an [`Urgency::Emergency`], which is never held.
//! - Quiet hours are a daily local range `[start, end)`; `start > end` spans midnight
//!   (21:00–06:00). A held message goes at `end`.
//! - A no-disturb period covers whole local days, `from` to `to` inclusive; a held message goes
//!   at the first local midnight after `to` (and then waits out the quiet hours, if midnight is
//!   inside them).
//! - Local times go through the tz database (`jiff`, bundled), so a zone with daylight saving
//!   gets the right instant; a local time that a DST jump skips resolves to the instant after
//!   the gap. Harare has had no DST since 1903, so its offset is a fixed +02:00.
//!
//! Failure modes: a calendar that fails [`CalendarSpec::check`] is refused with the reason (a
//! 400 at the route) and never journaled. A stored calendar that no longer checks (a tz name
//! dropped from the database, limits lowered) is skipped at rebuild with a warning, leaving the
//! previous one in force.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use oneclass_protocol::journal::{kinds, EventEnvelope};

use super::policy::{Channel, Urgency};
use crate::events::payload::decode;

/// The time zone of a school that sets none.
pub const DEFAULT_TIME_ZONE: &str = "Africa/Harare";

/// Longest name of a period, in characters.
pub const MAX_PERIOD_NAME: usize = 100;

/// Longest single period, in days: a school holiday is at most a few weeks; a year-long
/// "period" is a mistake that would silence SMS for the year.
pub const MAX_PERIOD_DAYS: i32 = 120;

/// The calendar as the API takes and answers it, and as it is journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// An IANA time zone name.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Nightly quiet hours, if the school keeps them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHoursSpec>,
    /// Dated no-disturb periods, in any order; they must not overlap.
    #[serde(default)]
    pub no_disturb: Vec<PeriodSpec>,
}

/// Quiet hours as local `HH:MM` times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursSpec {
    pub start: String,
    pub end: String,
}

/// A no-disturb period: whole local days, `from` to `to` inclusive (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodSpec {
    /// What the period is ("Term 3 exams"), for people reading the calendar.
    pub name: String,
    pub from: String,
    pub to: String,
}

fn default_time_zone() -> String {
    DEFAULT_TIME_ZONE.to_owned()
}

impl Default for CalendarSpec {
    /// Harare time, no quiet hours, no periods: what a school that set nothing gets.
    fn default() -> Self {
        Self {
            time_zone: default_time_zone(),
            quiet_hours: None,
            no_disturb: Vec::new(),
        }
    }
}

/// Why a calendar was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCalendar {
    #[error(
        "time_zone {0:?} is not a time zone this hub knows (an IANA name such as Africa/Harare)"
    )]
    TimeZone(String),
    #[error("quiet_hours.{field} {value:?} is not a time of day HH:MM")]
    Time { field: &'static str, value: String },
    #[error(
        "quiet_hours start and end are both {0}: quiet hours must not be empty or the whole day"
    )]
    EmptyQuietHours(String),
    #[error("no_disturb[{index}].{field} {value:?} is not a date YYYY-MM-DD")]
    Date {
        index: usize,
        field: &'static str,
        value: String,
    },
    #[error("no_disturb[{index}] ends ({to}) before it starts ({from})")]
    Inverted { index: usize, from: Date, to: Date },
    #[error("no_disturb[{index}] is {days} days long, over the limit of {MAX_PERIOD_DAYS}")]
    TooLong { index: usize, days: i32 },
    #[error("no_disturb[{index}].name must be 1 to {MAX_PERIOD_NAME} characters")]
    Name { index: usize },
    #[error("no_disturb has {count} periods, over the limit of {max}")]
    TooMany { count: usize, max: usize },
    #[error("no_disturb periods {a:?} and {b:?} overlap")]
    Overlap { a: String, b: String },
}

/// A checked calendar, ready to answer [`SchoolCalendar::next_allowed`].
#[derive(Debug, Clone)]
pub struct SchoolCalendar {
    spec: CalendarSpec,
    tz: TimeZone,
    quiet: Option<(Time, Time)>,
    /// `(from, to, name)`, sorted by `from`, not overlapping.
    periods: Vec<(Date, Date, String)>,
}

impl Default for SchoolCalendar {
    fn default() -> Self {
        // unwrap: the default spec names the bundled Africa/Harare and checks (tested).
        CalendarSpec::default().check(0).unwrap()
    }
}

fn parse_time(field: &'static str, value: &str) -> Result<Time, InvalidCalendar> {
    let bad = || InvalidCalendar::Time {
        field,
        value: value.to_owned(),
    };
    let (h, m) = value.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: i8 = h.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

fn parse_date(index: usize, field: &'static str, value: &str) -> Result<Date, InvalidCalendar> {
    let bad = || InvalidCalendar::Date {
        index,
        field,
        value: value.to_owned(),
    };
    // Exactly YYYY-MM-DD: jiff would also take other ISO 8601 forms.
    if value.len() != 10 {
        return Err(bad());
    }
    value.parse::<Date>().map_err(|_| bad())
}

impl CalendarSpec {
    /// Checks every field and builds the calendar; the first problem found is the error.
    /// `max_periods` is [`crate::Limits::calendar_periods_max`].
    pub fn check(self, max_periods: usize) -> Result<SchoolCalendar, InvalidCalendar> {
        let tz = TimeZone::get(&self.time_zone)
            .map_err(|_| InvalidCalendar::TimeZone(self.time_zone.clone()))?;
        let quiet = match &self.quiet_hours {
            None => None,
            Some(q) => {
                let start = parse_time("start", &q.start)?;
                let end = parse_time("end", &q.end)?;
                if start == end {
                    return Err(InvalidCalendar::EmptyQuietHours(q.start.clone()));
                }
                Some((start, end))
            }
        };
        if self.no_disturb.len() > max_periods {
            return Err(InvalidCalendar::TooMany {
                count: self.no_disturb.len(),
                max: max_periods,
            });
        }
        let mut periods = Vec::with_capacity(self.no_disturb.len());
        for (index, p) in self.no_disturb.iter().enumerate() {
            let name_len = p.name.trim().chars().count();
            if name_len == 0 || p.name.chars().count() > MAX_PERIOD_NAME {
                return Err(InvalidCalendar::Name { index });
            }
            let from = parse_date(index, "from", &p.from)?;
            let to = parse_date(index, "to", &p.to)?;
            if to < from {
                return Err(InvalidCalendar::Inverted { index, from, to });
            }
            // unwrap: both dates are valid civil dates, so the span between them is too.
            let days = from.until(to).unwrap().get_days() + 1;
            if days > MAX_PERIOD_DAYS {
                return Err(InvalidCalendar::TooLong { index, days });
            }
            periods.push((from, to, p.name.clone()));
        }
        periods.sort_by_key(|(from, _, _)| *from);
        if let Some(w) = periods.windows(2).find(|w| w[1].0 <= w[0].1) {
            return Err(InvalidCalendar::Overlap {
                a: w[0].2.clone(),
                b: w[1].2.clone(),
            });
        }
        Ok(SchoolCalendar {
            spec: self,
            tz,
            quiet,
            periods,
        })
    }
}

/// Whether a channel is ever held by quiet hours and no-disturb periods.
pub fn is_held(channel: Channel) -> bool {
    matches!(channel, Channel::Push | Channel::WhatsApp | Channel::Sms)
}

impl SchoolCalendar {
    /// Applies one event of the `roster:{school}` stream: a `school.calendar.set` replaces the
    /// calendar; other kinds are not the calendar's. A stored calendar that no longer checks
    /// (see the module doc) is skipped with a warning and the previous one stays.
    pub fn apply(&mut self, e: &EventEnvelope, max_periods: usize) {
        if e.kind != kinds::SCHOOL_CALENDAR_SET {
            return;
        }
        let Some(spec) = decode::<CalendarSpec>(&e.payload) else {
            return;
        };
        match spec.check(max_periods) {
            Ok(calendar) => *self = calendar,
            Err(why) => tracing::warn!(
                school = %e.school_id,
                seq = e.seq,
                error = %why,
                "a stored school calendar no longer checks; the previous one stays"
            ),
        }
    }

    /// The calendar as it was set.
    pub fn spec(&self) -> &CalendarSpec {
        &self.spec
    }

    /// The school's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The earliest instant at or after `at` when a message of `urgency` may go on `channel`.
    pub fn next_allowed(&self, channel: Channel, urgency: Urgency, at: Timestamp) -> Timestamp {
        if !is_held(channel) || urgency == Urgency::Emergency {
            return at;
        }
        let mut t = at;
        // Each pass moves past one period or one quiet night; periods are sorted and disjoint,
        // so the passes end after at most one per period plus one per night between them.
        for _ in 0..=(2 * self.periods.len() + 2) {
            let moved = self.past_period(t).or_else(|| self.past_quiet(t));
            match moved {
                Some(later) => t = later,
                None => return t,
            }
        }
        t
    }

    /// The local midnight after the period `t` falls in, if it falls in one.
    fn past_period(&self, t: Timestamp) -> Option<Timestamp> {
        let day = t.to_zoned(self.tz.clone()).date();
        let (_, to, _) = self
            .periods
            .iter()
            .find(|(from, to, _)| *from <= day && day <= *to)?;
        // A period ending on the last representable day holds forever; never in practice.
        let next = to.tomorrow().ok()?;
        Some(self.instant(next, Time::midnight()))
    }

    /// The end of the quiet hours `t` falls in, if it falls in them.
    fn past_quiet(&self, t: Timestamp) -> Option<Timestamp> {
        let (start, end) = self.quiet?;
        let local = t.to_zoned(self.tz.clone());
        let (day, time) = (local.date(), local.time());
        let end_day = if start < end {
            (start <= time && time < end).then_some(day)?
        } else if time >= start {
            day.tomorrow().ok()?
        } else if time < end {
            day
        } else {
            return None;
        };
        Some(self.instant(end_day, end))
    }

    /// The instant of a local date and time; a time skipped by a DST jump resolves to the
    /// instant after the gap (jiff's "compatible" disambiguation).
    fn instant(&self, day: Date, time: Time) -> Timestamp {
        // unwrap: a valid civil date and time always map to an instant in a tzdb zone, except
        // at the very ends of jiff's range (year ±9999), which a checked calendar never nears.
        day.to_datetime(time)
            .to_zoned(self.tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calendar(quiet: Option<(&str, &str)>, periods: &[(&str, &str, &str)]) -> SchoolCalendar {
        spec(quiet, periods).check(100).unwrap()
    }

    fn spec(quiet: Option<(&str, &str)>, periods: &[(&str, &str, &str)]) -> CalendarSpec {
        CalendarSpec {
            time_zone: DEFAULT_TIME_ZONE.into(),
            quiet_hours: quiet.map(|(start, end)| QuietHoursSpec {
                start: start.into(),
                end: end.into(),
            }),
            no_disturb: periods
                .iter()
                .map(|(name, from, to)| PeriodSpec {
                    name: (*name).into(),
                    from: (*from).into(),
                    to: (*to).into(),
                })
                .collect(),
        }
    }

    /// An instant given as Harare local time.
    fn harare(local: &str) -> Timestamp {
        format!("{local}+02:00[Africa/Harare]")
            .parse::<jiff::Zoned>()
            .unwrap()
            .timestamp()
    }

    #[test]
    fn harare_is_two_hours_ahead_of_utc_all_year_round() {
        let cal = SchoolCalendar::default();
        for utc in ["2026-01-15T10:00:00Z", "2026-07-15T10:00:00Z"] {
            let t: Timestamp = utc.parse().unwrap();
            let local = t.to_zoned(cal.time_zone().clone());
            assert_eq!(local.time(), Time::new(12, 0, 0, 0).unwrap(), "{utc}");
        }
    }

    #[test]
    fn quiet_hours_spanning_midnight_hold_until_the_morning() {
        let cal = calendar(Some(("21:00", "06:00")), &[]);
        let n = Urgency::Normal;
        // Evening: to tomorrow's 06:00. After midnight: to today's 06:00.
        let evening = harare("2026-03-10T22:30:00");
        assert_eq!(
            cal.next_allowed(Channel::Sms, n, evening),
            harare("2026-03-11T06:00:00")
        );
        let night = harare("2026-03-11T02:00:00");
        assert_eq!(
            cal.next_allowed(Channel::WhatsApp, n, night),
            harare("2026-03-11T06:00:00")
        );
        // The edges: 21:00 is quiet, 06:00 is not, 20:59 is not.
        let start = harare("2026-03-10T21:00:00");
        assert_eq!(
            cal.next_allowed(Channel::Push, n, start),
            harare("2026-03-11T06:00:00")
        );
        for free in [
            "2026-03-11T06:00:00",
            "2026-03-10T20:59:00",
            "2026-03-10T12:00:00",
        ] {
            assert_eq!(
                cal.next_allowed(Channel::Sms, n, harare(free)),
                harare(free)
            );
        }
    }

    #[test]
    fn quiet_hours_within_one_day_hold_until_their_end() {
        let cal = calendar(Some(("13:00", "14:00")), &[]);
        let lunch = harare("2026-03-10T13:15:00");
        assert_eq!(
            cal.next_allowed(Channel::Sms, Urgency::Normal, lunch),
            harare("2026-03-10T14:00:00")
        );
        let late = harare("2026-03-10T22:00:00");
        assert_eq!(cal.next_allowed(Channel::Sms, Urgency::Normal, late), late);
    }

    #[test]
    fn in_app_and_email_are_never_held_and_emergencies_break_through() {
        let cal = calendar(
            Some(("21:00", "06:00")),
            &[("Exams", "2026-03-01", "2026-03-31")],
        );
        let night = harare("2026-03-10T23:00:00");
        for ch in [Channel::InApp, Channel::Email] {
            assert_eq!(cal.next_allowed(ch, Urgency::Normal, night), night);
        }
        for ch in [Channel::Push, Channel::WhatsApp, Channel::Sms] {
            assert_eq!(cal.next_allowed(ch, Urgency::Emergency, night), night);
            assert!(cal.next_allowed(ch, Urgency::Normal, night) > night);
        }
    }

    #[test]
    fn a_period_holds_until_the_morning_after_its_last_day() {
        let cal = calendar(
            Some(("21:00", "06:00")),
            &[("Term 1 exams", "2026-03-16", "2026-03-27")],
        );
        let during = harare("2026-03-20T10:00:00");
        // Midnight after the 27th is inside the quiet hours, so the 28th at 06:00.
        assert_eq!(
            cal.next_allowed(Channel::Sms, Urgency::Normal, during),
            harare("2026-03-28T06:00:00")
        );
        let before = harare("2026-03-15T10:00:00");
        assert_eq!(
            cal.next_allowed(Channel::Sms, Urgency::Normal, before),
            before
        );
        // Without quiet hours the first instant after the period is its midnight.
        let plain = calendar(None, &[("Holiday", "2026-04-01", "2026-04-01")]);
        assert_eq!(
            plain.next_allowed(Channel::Sms, Urgency::Normal, harare("2026-04-01T00:00:00")),
            harare("2026-04-02T00:00:00")
        );
    }

    #[test]
    fn back_to_back_periods_and_quiet_hours_chain() {
        let cal = calendar(
            Some(("21:00", "06:00")),
            &[
                ("Holiday", "2026-04-20", "2026-04-20"),
                ("Exams", "2026-04-21", "2026-04-22"),
            ],
        );
        assert_eq!(
            cal.next_allowed(Channel::Sms, Urgency::Normal, harare("2026-04-19T22:00:00")),
            harare("2026-04-23T06:00:00")
        );
    }

    #[test]
    fn local_times_follow_the_zones_daylight_saving() {
        // London's clocks went forward on 2026-03-29; 06:00 local is 05:00 UTC after it.
        let mut s = spec(Some(("21:00", "06:00")), &[]);
        s.time_zone = "Europe/London".into();
        let cal = s.check(100).unwrap();
        let night: Timestamp = "2026-03-29T23:00:00Z".parse().unwrap();
        let morning: Timestamp = "2026-03-30T05:00:00Z".parse().unwrap();
        assert_eq!(
            cal.next_allowed(Channel::Sms, Urgency::Normal, night),
            morning
        );
    }

    #[test]
    fn bad_calendars_are_refused_with_the_field_named() {
        let mut bad_tz = spec(None, &[]);
        bad_tz.time_zone = "Africa/Atlantis".into();
        assert!(matches!(
            bad_tz.check(100),
            Err(InvalidCalendar::TimeZone(_))
        ));
        for (start, end) in [("25:00", "06:00"), ("9:00", "06:00"), ("21:00", "six")] {
            assert!(matches!(
                spec(Some((start, end)), &[]).check(100),
                Err(InvalidCalendar::Time { .. })
            ));
        }
        assert!(matches!(
            spec(Some(("21:00", "21:00")), &[]).check(100),
            Err(InvalidCalendar::EmptyQuietHours(_))
        ));
        assert!(matches!(
            spec(None, &[("x", "2026-02-30", "2026-03-01")]).check(100),
            Err(InvalidCalendar::Date {
                index: 0,
                field: "from",
                ..
            })
        ));
        assert!(matches!(
            spec(None, &[("x", "2026-03-02", "2026-03-01")]).check(100),
            Err(InvalidCalendar::Inverted { index: 0, .. })
        ));
        assert!(matches!(
            spec(None, &[("x", "2026-01-01", "2026-12-31")]).check(100),
            Err(InvalidCalendar::TooLong { index: 0, .. })
        ));
        assert!(matches!(
            spec(None, &[(" ", "2026-01-01", "2026-01-02")]).check(100),
            Err(InvalidCalendar::Name { index: 0 })
        ));
        let e = spec(
            None,
            &[
                ("b", "2026-05-10", "2026-05-20"),
                ("a", "2026-05-01", "2026-05-10"),
            ],
        )
        .check(100)
        .unwrap_err();
        assert_eq!(
            e,
            InvalidCalendar::Overlap {
                a: "a".into(),
                b: "b".into()
            }
        );
        let many: Vec<(String, String)> = (0..=100)
            .map(|i| {
                let d = Date::new(2026, 1, 1).unwrap() + jiff::Span::new().days(i as i64 * 2);
                (d.to_string(), d.to_string())
            })
            .collect();
        let periods: Vec<(&str, &str, &str)> = many
            .iter()
            .map(|(f, t)| ("p", f.as_str(), t.as_str()))
            .collect();
        assert_eq!(
            spec(None, &periods).check(100).unwrap_err(),
            InvalidCalendar::TooMany {
                count: 101,
                max: 100
            }
        );
    }

    fn stored(kind: &str, spec: &CalendarSpec) -> EventEnvelope {
        EventEnvelope {
            school_id: "s1".into(),
            day: "2026-01-01".into(),
            event_id: uuid::Uuid::nil(),
            stream: "roster:s1".into(),
            seq: 1,
            kind: kind.into(),
            actor: "a1".into(),
            occurred_at: 0,
            payload: oneclass_protocol::journal::encode_payload(spec),
            hash: [0; 32],
        }
    }

    #[test]
    fn replaying_keeps_the_last_calendar_that_still_checks() {
        let mut cal = SchoolCalendar::default();
        let set = spec(Some(("21:00", "06:00")), &[]);
        cal.apply(&stored(kinds::SCHOOL_CALENDAR_SET, &set), 100);
        assert_eq!(cal.spec(), &set);
        // Another kind on the same stream, and a calendar over a since-lowered limit: ignored.
        cal.apply(
            &stored(kinds::MEMBER_REMOVED, &CalendarSpec::default()),
            100,
        );
        let periods = spec(None, &[("a", "2026-01-01", "2026-01-02")]);
        cal.apply(&stored(kinds::SCHOOL_CALENDAR_SET, &periods), 0);
        assert_eq!(cal.spec(), &set);
        cal.apply(&stored(kinds::SCHOOL_CALENDAR_SET, &periods), 1);
        assert_eq!(cal.spec(), &periods);
    }

    #[test]
    fn the_default_calendar_is_harare_with_nothing_held() {
        let cal = SchoolCalendar::default();
        assert_eq!(cal.spec().time_zone, "Africa/Harare");
        let t = harare("2026-03-10T23:00:00");
        assert_eq!(cal.next_allowed(Channel::Sms, Urgency::Normal, t), t);
        let spec: CalendarSpec = serde_json::from_str("{}").unwrap();
        assert_eq!(spec, CalendarSpec::default());
    }
}
