//! The actix actors of the OneClass hub and the messages between them.
//!
//! ```text
//! HubSupervisor            watches the journal's health and the school actors
//! ├── SchoolRegistry       finds or starts the SchoolActor of a school, restarts dead ones
//! │   └── SchoolActor      owns every channel of one school: heads, subscribers, fan-out,
//! │                        presence, typing, roster; the single writer of its streams
//! └── SessionActor         one per WebSocket (session/): auth, commands, catch-up replay, heartbeats
//! ```
//!
//! The journal's writer thread (group commit) lives in `oneclass-storage`; actors reach it through
//! `Arc<dyn Journal>`. Sessions receive events through an [`session::Outbound`] queue that the
//! school pushes shared bytes into and a single writer future drains.

pub mod channel_state;
pub mod convert;
pub mod limits;
pub mod metrics;
pub mod permissions;
pub mod principal;
pub mod roster;
pub mod school_actor;
pub mod school_registry;
pub mod session;
pub mod supervisor;
pub mod wire_error;

/// The outbound queue's old path, kept while the school family still imports it from here.
pub use session::outbound;

pub use limits::Limits;
pub use principal::{AuthError, Authenticator, Principal, Role};
pub use school_registry::SchoolRegistry;
pub use supervisor::HubSupervisor;
