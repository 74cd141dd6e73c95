//! Unit tests of the [`super::SchoolActor`] on the in-memory journal, under a paused clock.
//!
//! No sockets and no session actors: a test joins stand-in sessions by handing the school an
//! [`crate::session::Outbound`] queue of its own ([`super::Join`]) and reads what the school
//! pushed into it. Time is paused (`tokio::time::pause()`), so timers (the idle check) and
//! timeouts that prove "nothing arrived" cost no real time.
//!
//! | file | concern |
//! |---|---|
//! | `support.rs` | starting an actor, stand-in sessions, reading frames, a reordering journal |
//! | `batching.rs` | group commit: one batch per burst, replies after commit, failures, idempotency |
//! | `fanout.rs` | seq-ordered fan-out of out-of-order commits, stalled gaps refilled from the journal |
//! | `catch_up.rs` | the subscription handshake: buffering during catch-up, overflow, stale generations |
//! | `lifecycle.rs` | the roster rebuilt on start, the idle stop |
//! | `bounds.rs` | what one user can make the actor hold: channel states released (not during a head load), the subscription cap, presence coalesced, read 0 |
//! | `notify.rs` | notifications: the key resolved first, chunked fan-out, retries completing it, live content |

mod batching;
mod bounds;
mod catch_up;
mod fanout;
mod lifecycle;
mod notify;
mod support;
