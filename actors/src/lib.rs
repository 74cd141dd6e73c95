//! The actix actors of the OneClass hub, the messages between them, and the journal gateway they
//! write through.
//!
//! ```text
//! HubSupervisor            watches the journal's health and the school actors
//! ├── SchoolRegistry       finds or starts the SchoolActor of a school, restarts dead ones
//! │   └── SchoolActor      owns every channel of one school: heads, subscribers, fan-out,
//! │                        presence, typing, roster, inboxes; the single writer of its streams
//! └── SessionActor         one per WebSocket: auth, commands, catch-up replay, heartbeats
//!
//! ProviderActor            one per configured provider (`delivery/`), each under its own actix
//!                          `Supervisor`; a router per kind fails over between them
//! DeliveryReports          provider callbacks: reports mapped to deliveries, opt-outs
//! ```
//!
//! The journal's writer thread (group commit) lives in `oneclass-storage`; actors reach it through
//! `Arc<dyn Journal>`, and every append is built by [`events`], the journal gateway. Sessions
//! receive events through a [`session::Outbound`] queue that the school pushes shared bytes into
//! and a single writer future drains.
//!
//! Layout: one folder per actor family, shared modules beside them.
//!
//! | module | what it owns |
//! |---|---|
//! | `school/` | the school actor, one concept per file (batch, channel, members, subscribe, …) |
//! | `session/` | the WebSocket session, one concept per file (frames, connect, subscriptions, replay, recovery, queries, outbound queue, writer, live-session index) |
//! | `events/` | the journal gateway: typed appends, idempotency keys, payload encoding, audit |
//! | `delivery/` | one provider actor per outside provider: GCRA pacing, bounded queue, retries, circuit breaker, journaled attempts; the delivery-report actor (provider callbacks, forward-only states, opt-outs) |
//! | `notify/` | notifications: audience resolution, the journal events of one notification, the contents inbox events reference; the dispatcher's pure core: delivery policies and plans, templates and SMS segments, the school calendar |
//! | `identity/` | credentials beyond signatures: token revocation |
//! | `client_view` | which journal kinds a client sees, as protocol events |
//! | `frame_limits` | the check that no frame for a client breaks the protocol's limits |
//! | `roster` | the pure roster model the school actor rebuilds from the journal |
//! | `roster_validation` | what a roster member may hold: the one check before it is journaled |
//! | `rate_limit/` | GCRA quotas per connection, user and school, shared with the REST API |
//! | `permissions` | every access rule, WebSocket and REST |
//! | `wire_error` | the one mapping from storage and mailbox errors to wire errors |
//!
//! Families still to come each get a folder here when their first file lands (none exists yet):
//! `payments/` (payment sagas rebuilt from the journal), `webhooks/` (outbound webhook
//! endpoints and their ordered queues), `files/` (bounded media processing off the workers), and
//! more of `identity/` (MFA, API keys) and `notify/` (the dispatcher actor that runs the plans).

pub mod client_view;
pub mod delivery;
pub mod events;
pub mod frame_limits;
pub mod identity;
pub mod limits;
pub mod metrics;
pub mod notify;
pub mod permissions;
pub mod principal;
pub mod rate_limit;
pub mod roster;
pub mod roster_validation;
pub mod school;
pub mod school_registry;
pub mod session;
pub mod supervisor;
pub mod wire_error;

pub use limits::Limits;
pub use principal::{AuthError, Authenticator, Principal, Role};
pub use school_registry::SchoolRegistry;
pub use supervisor::HubSupervisor;
