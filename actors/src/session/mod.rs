//! The session family: one [`SessionActor`] per WebSocket connection, and what it needs.
//!
//! A session owns its connection's authentication (the verified token and its expiry timer), its
//! subscriptions and their catch-up replays, and its heartbeat. Frames from the client arrive as
//! a stream on the actor, through a read guard that refuses an oversized frame by its header and
//! bounds what the connection has read and not yet handled. Every frame to the client goes
//! through the session's [`Outbound`] queue, which one writer future drains into the socket. The
//! school actor pushes live events into the same queue directly, so fan-out costs no actor
//! message per event.
//!
//! | file | owns |
//! |---|---|
//! | `actor.rs` | the struct, its `Phase`, lifecycle, heartbeat, close/send/reply |
//! | `frames.rs` | the socket stream and the dispatch of one command to its handler |
//! | `read_guard.rs` | between the HTTP payload and actix-ws: headers checked as they arrive, the read budget |
//! | `frame_scan.rs` | the incremental RFC 6455 frame-header reader the guard uses |
//! | `connect.rs` | `connect`, the initial subscriptions, `refresh` (re-checking every subscription), the token's expiry |
//! | `admission.rs` | the rate limits every command passes first, and their refusals (4029) |
//! | `connect.rs` | `connect`, the initial subscriptions, `refresh`, the token's expiry |
//! | `subscriptions.rs` | the `subscribe` and `unsubscribe` commands |
//! | `sub_table.rs` | the subscription life cycle as a pure table (state table, transitions) |
//! | `replay.rs` | the paged catch-up replay future |
//! | `forward.rs` | commands the school actor answers: publish, read, presence, typing |
//! | `recovery.rs` | rejoining a replacement school actor and resubscribing |
//! | `queries.rs` | read-only journal queries: history, channels |
//! | `outbound.rs` | the byte-bounded outbound queue |
//! | `writer.rs` | the single socket writer |
//! | `registry.rs` | the process's live sessions, for shutdown and token revocation |
//!
//! Invariant: every command that carries an `id` is answered exactly once, whatever the phase
//! (a command before `connect` closes the socket with 4001 instead, as the protocol says).
//!
//! Restart policy: never. When a session stops the client reconnects and resumes. If its school
//! actor dies, the session joins the new one and resubscribes each channel from the newest seq
//! it already queued, so the client sees neither a gap nor a duplicate.

mod actor;
mod admission;
mod connect;
mod forward;
mod frame_scan;
mod frames;
pub mod outbound;
mod queries;
mod read_guard;
mod recovery;
pub mod registry;
mod replay;
mod sub_table;
mod subscriptions;
mod writer;

pub use actor::{SessionActor, SessionDeps};
pub use outbound::{Drained, OutFrame, Outbound};
pub use read_guard::{ReadBudget, ReadGuard, ReadRefused};
pub use registry::{LiveSessions, SessionId};
