//! The journal gateway: the only code in the workspace, outside `oneclass-storage` and its tests,
//! that builds an [`oneclass_storage::AppendRequest`].
//!
//! Everything the hub journals passes through here, so the journal's vocabulary lives in one place:
//!
//! | part | file | what it decides |
//! |---|---|---|
//! | [`Append`] and [`write`] | `append.rs` | the typed stream ([`oneclass_protocol::StreamName`]), a registered kind, the actor, the time |
//! | idempotency keys | `keys.rs` | every key format and the request fingerprint |
//! | payloads | `payload.rs` | how a payload becomes the stored bytes, and back |
//! | the body-access audit | `audit.rs` | `audit.bodies.accessed` on `audit:{school}` |
//! | [`RouteWrites`] | `route_writes.rs` | the only writes the HTTP layer can cause (audit, revocation) |
//!
//! Writers decide *what* to journal (the school actor for its streams, the revocation module,
//! the audit); this module decides *how* it is spelled. It does no ordering of its own: the single
//! writer of a stream is still the actor that owns it.

mod append;
pub mod audit;
pub mod keys;
pub mod payload;
#[cfg(test)]
mod registered;
mod route_writes;

pub use append::{write, Append};
pub use route_writes::RouteWrites;
