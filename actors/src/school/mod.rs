//! The school family: `SchoolActor`, the owner of every channel of one school.
//!
//! It serialises everything that must be ordered per channel: appends go to the journal from here
//! only (through the journal gateway, [`crate::events`]), commits are fanned out in seq order (a
//! reorder buffer absorbs commits that complete out of order), subscribers switch from catch-up to
//! live here, and presence, typing and read events go out from here. It also holds the school's
//! roster and appends notifications to the inboxes of their recipients.
//!
//! Publishes that arrive together are appended as one journal batch: the first one schedules a
//! flush that runs after the mailbox has been read, so a burst costs one append and one fsync.
//!
//! Restart policy: transient. It runs on the worker arbiter of the session that needed it first
//! and stops after [`crate::Limits::school_idle`] without sessions. If it dies, the registry
//! starts a new one on the next request and sessions resubscribe from the seqs they already
//! delivered. On start it rebuilds the roster and calendar from `roster:{school}`; channel heads are read from
//! the journal the first time each channel is used. A restart loses in-flight appends' replies
//! (the callers answer `unavailable`, "school restarted, retry"; clients retry with the same
//! `client_msg_id`, which the journal dedups), catch-up buffers (sessions replay from the journal
//! instead), presence (sessions re-announce it as they resubscribe) and typing throttles.
//!
//! | file | concept |
//! |---|---|
//! | `actor.rs` | the actor's state, start (roster rebuild, idle check), stop |
//! | `batch.rs` | the group-commit pipeline: enqueue, flush, commit, replies |
//! | `channel.rs` | per-channel state and the ordered fan-out of commits, gap filling |
//! | `members.rs` | sessions joining and leaving, the per-user connection cap |
//! | `subscribe.rs` | the subscription handshake (catch-up, then live), with its state table |
//! | `publish.rs` | chat publishes |
//! | `ephemeral.rs` | typing, presence queries, read cursors: events that are not journaled |
//! | `presence.rs` | presence announcements, coalesced per user and channel |
//! | `roster.rs` | the roster's handlers (the model is [`crate::roster`]) |
//! | `calendar.rs` | the school calendar's handlers (the model is [`crate::notify::calendar`]) |
//! | `inbox.rs` | appending a notification to its recipients' inboxes |
//! | `tests/` | unit tests of the actor on the in-memory journal under a paused clock |

mod actor;
mod batch;
mod calendar;
mod channel;
mod ephemeral;
mod inbox;
mod members;
mod presence;
mod publish;
mod roster;
mod subscribe;
#[cfg(test)]
mod tests;

#[cfg(feature = "fault-injection")]
pub use actor::Crash;
pub use actor::SchoolActor;
#[cfg(test)]
pub(crate) use calendar::calendar_set;
pub use calendar::{GetCalendar, SetCalendar};
pub use channel::SessionId;
pub use ephemeral::{MarkRead, PresenceOf, Typing};
pub use members::{Join, Leave};
pub use publish::Publish;
#[cfg(test)]
pub(crate) use roster::{member_removed, member_upserted};
pub use roster::{GetMember, ListMembers, RemoveMember, UpsertMember};
pub use subscribe::{CatchUp, CatchUpDone, Subscribe, Unsubscribe};
