//! The school calendar's handlers: [`SetCalendar`] journals a checked calendar as
//! `school.calendar.set` on `roster:{school}` and applies it when committed, never before (the
//! roster's rule, `roster.rs`); [`GetCalendar`] answers from memory. The calendar is rebuilt by
//! the roster's replay at start; a school that never set one has the default (Harare time,
//! nothing held).

use actix::prelude::*;
use oneclass_protocol::journal::kinds;
use oneclass_protocol::reply::ErrorBody;
use oneclass_protocol::StreamName;

use super::SchoolActor;
use crate::events::Append;
use crate::notify::calendar::{CalendarSpec, SchoolCalendar};

/// Set the school's calendar (journaled; a no-op when it is the one in force).
#[derive(Message)]
#[rtype(result = "Result<CalendarSpec, ErrorBody>")]
pub struct SetCalendar {
    pub actor: String,
    /// Checked by the caller ([`CalendarSpec::check`]), so a refused calendar is never journaled.
    pub calendar: SchoolCalendar,
}

impl Handler<SetCalendar> for SchoolActor {
    type Result = ResponseFuture<Result<CalendarSpec, ErrorBody>>;

    fn handle(&mut self, msg: SetCalendar, ctx: &mut Context<Self>) -> Self::Result {
        let spec = msg.calendar.spec().clone();
        if self.calendar.spec() == &spec {
            return Box::pin(async move { Ok(spec) });
        }
        let append = calendar_set(&self.school, msg.actor, &spec);
        self.roster_write(append, spec, ctx)
    }
}

/// The append of `actor` setting `school`'s calendar to `spec`.
pub(crate) fn calendar_set(school: &str, actor: String, spec: &CalendarSpec) -> Append {
    Append::new(
        school,
        StreamName::roster(school),
        kinds::SCHOOL_CALENDAR_SET,
        actor,
        spec,
    )
}

/// Read the school's calendar as set.
#[derive(Message)]
#[rtype(result = "CalendarSpec")]
pub struct GetCalendar;

impl Handler<GetCalendar> for SchoolActor {
    type Result = MessageResult<GetCalendar>;

    fn handle(&mut self, _: GetCalendar, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.calendar.spec().clone())
    }
}
