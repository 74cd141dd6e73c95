//! Notifications: who a notification is for and what it journals.
//!
//! A notification is requested over REST (`POST /v1/notifications`) and lands in each recipient's
//! `user:{school}:{user}` inbox with its own seq. This family decides the parts that are pure:
//! [`audience`] resolves an [`Audience`] against the school's roster, and [`request`] turns a
//! [`Notify`] into its journal batch and the batch's outcome into the answer. The school actor
//! stays the single writer of the inbox streams: its `school/inbox.rs` only resolves against the
//! roster it holds (in the same turn, so the recipients and the append see one roster) and
//! appends the batch. The delivery side (push, SMS, e-mail fallbacks) will join here.

pub mod audience;
pub mod request;

pub use audience::Audience;
pub use request::{Notify, NotifyOutcome};
