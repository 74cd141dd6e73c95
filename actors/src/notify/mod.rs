//! Notifications: who a notification is for, what it journals and how its inbox events are read.
//!
//! A notification is requested over REST (`POST /v1/notifications`) and lands in each recipient's
//! `user:{school}:{user}` inbox with its own seq. This family decides the parts that are pure:
//! [`audience`] resolves an [`Audience`] against the school's roster, and [`request`] turns a
//! [`Notify`] into its journal events (the key resolved first, then the fan-out in chunks) and
//! their outcome into the answer. [`contents`] resolves the content that inbox events reference,
//! for replays and history. The school actor stays the single writer of the inbox streams: its
//! `school/inbox.rs` resolves against the roster it holds and drives the two steps.
//!
//! The delivery side's pure core is here too: [`policy`] turns a notification kind's policy, a
//! recipient's roster entry and opt-outs and the school's [`calendar`] into a per-recipient
//! delivery plan (and de-duplicates SMS per number), and [`templates`] gives each recipient's
//! words per kind and language, with the SMS segment count. Their consumer, the dispatcher
//! that runs the plans through the provider actors, is not built yet; today only the calendar
//! is used (set and read through its route and rebuilt by the school actor).

pub mod audience;
pub mod calendar;
pub mod contents;
pub mod policy;
pub mod request;
pub mod templates;

pub use audience::Audience;
pub use contents::NotificationContents;
pub use request::{Notify, NotifyOutcome};
