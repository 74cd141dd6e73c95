//! The roster's handlers: reads answer from memory, changes are journaled on `roster:{school}`
//! through the group commit and applied to the model ([`crate::roster::Roster`]) when committed,
//! never before, so memory never holds a change the journal lost.
//!
//! The same stream carries the school's calendar (`school.calendar.set`, handlers in
//! `calendar.rs`), applied by the same replay and commit path ([`SchoolActor::apply_settings`]).
//!
//! On start the actor rebuilds the model by replaying the whole stream, page by page, before it
//! handles any message (`ctx.wait`). A failed rebuild stops the actor (see `actor.rs`).

use actix::prelude::*;
use oneclass_protocol::journal::kinds;
use oneclass_protocol::reply::ErrorBody;
use oneclass_protocol::StreamName;
use oneclass_storage::StorageError;

use super::batch::written;
use super::SchoolActor;
use crate::events::Append;
use crate::roster::{Member, MemberPage, MemberRemoved};
use crate::wire_error::ErrorChain;

/// Roster events read per page while rebuilding the roster.
const ROSTER_PAGE: usize = 1000;

/// Add or change a roster member (journaled; a no-op when nothing changed).
#[derive(Message)]
#[rtype(result = "Result<Member, ErrorBody>")]
pub struct UpsertMember {
    pub actor: String,
    pub member: Member,
}

impl Handler<UpsertMember> for SchoolActor {
    type Result = ResponseFuture<Result<Member, ErrorBody>>;

    fn handle(&mut self, msg: UpsertMember, ctx: &mut Context<Self>) -> Self::Result {
        if self.roster.get(&msg.member.user) == Some(&msg.member) {
            return Box::pin(async move { Ok(msg.member) });
        }
        let append = member_upserted(&self.school, msg.actor, &msg.member);
        self.roster_write(append, msg.member, ctx)
    }
}

/// Remove a roster member (journaled). `Ok(false)` when there was no such member.
#[derive(Message)]
#[rtype(result = "Result<bool, ErrorBody>")]
pub struct RemoveMember {
    pub actor: String,
    pub user: String,
}

impl Handler<RemoveMember> for SchoolActor {
    type Result = ResponseFuture<Result<bool, ErrorBody>>;

    fn handle(&mut self, msg: RemoveMember, ctx: &mut Context<Self>) -> Self::Result {
        if self.roster.get(&msg.user).is_none() {
            return Box::pin(async { Ok(false) });
        }
        let append = member_removed(&self.school, msg.actor, msg.user);
        self.roster_write(append, true, ctx)
    }
}

/// The append of `actor` adding or changing `member` in `school`'s roster.
pub(crate) fn member_upserted(school: &str, actor: String, member: &Member) -> Append {
    Append::new(
        school,
        StreamName::roster(school),
        kinds::MEMBER_UPSERTED,
        actor,
        member,
    )
}

/// The append of `actor` removing `user` from `school`'s roster.
pub(crate) fn member_removed(school: &str, actor: String, user: String) -> Append {
    Append::new(
        school,
        StreamName::roster(school),
        kinds::MEMBER_REMOVED,
        actor,
        &MemberRemoved { user },
    )
}

/// Read one member.
#[derive(Message)]
#[rtype(result = "Option<Member>")]
pub struct GetMember {
    pub user: String,
}

impl Handler<GetMember> for SchoolActor {
    type Result = Option<Member>;

    fn handle(&mut self, msg: GetMember, _: &mut Context<Self>) -> Option<Member> {
        self.roster.get(&msg.user).cloned()
    }
}

/// One page of the members, optionally of one class ([`crate::roster::Roster::page`]).
#[derive(Message)]
#[rtype(result = "MemberPage")]
pub struct ListMembers {
    pub class: Option<String>,
    /// Start after this user id (the previous page's `next_after`).
    pub after: Option<String>,
    /// Most members in the page; the caller bounds it.
    pub limit: usize,
}

impl Handler<ListMembers> for SchoolActor {
    type Result = MessageResult<ListMembers>;

    fn handle(&mut self, msg: ListMembers, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.roster
                .page(msg.class.as_deref(), msg.after.as_deref(), msg.limit),
        )
    }
}

impl SchoolActor {
    /// Applies one committed or replayed event of `roster:{school}`: members to the roster, a
    /// calendar to the calendar.
    pub(super) fn apply_settings(&mut self, e: &oneclass_protocol::journal::EventEnvelope) {
        self.roster.apply(e);
        self.calendar.apply(e, self.limits.calendar_periods_max);
    }

    /// Journals one roster change and answers `value` once it is durable.
    pub(super) fn roster_write<T: 'static>(
        &mut self,
        append: Append,
        value: T,
        ctx: &mut Context<Self>,
    ) -> ResponseFuture<Result<T, ErrorBody>> {
        let rx = self.enqueue(vec![append], ctx);
        Box::pin(async move { written(rx).await.map(|_| value) })
    }

    /// Replays `roster:{school}` into the model before the actor handles anything.
    pub(super) fn rebuild_roster(&mut self, ctx: &mut Context<Self>) {
        let journal = self.journal.clone();
        let stream = StreamName::roster(&self.school).to_string();
        ctx.wait(
            async move {
                let mut events = Vec::new();
                let mut from = 1;
                loop {
                    let page = journal.read_stream(&stream, from, ROSTER_PAGE).await?;
                    let done = page.len() < ROSTER_PAGE;
                    from = page.last().map(|e| e.seq + 1).unwrap_or(from);
                    events.extend(page);
                    if done {
                        return Ok::<_, StorageError>(events);
                    }
                }
            }
            .into_actor(self)
            .map(|events, act, ctx| match events {
                Ok(events) => events.iter().for_each(|e| act.apply_settings(e)),
                Err(e) => {
                    tracing::error!(
                        school = %act.school,
                        error = %ErrorChain(&e),
                        "roster rebuild failed"
                    );
                    ctx.stop();
                }
            }),
        );
    }
}
