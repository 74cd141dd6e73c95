//! The OneClass hub wire protocol, version 1: every frame a client and the hub exchange, the
//! codecs that carry them (JSON text frames, MessagePack binary frames), typed channel names, the
//! journal's vocabulary (event envelope, typed stream names, the registered event kinds), and (feature `client`) a small async client.
//!
//! This crate does no I/O except in the client. `PROTOCOL.md` beside this crate is the
//! human-readable contract and is kept true to these types.

pub mod channel;
pub mod close_code;
pub mod codec;
pub mod command;
pub mod error_code;
pub mod event;
pub mod journal;
pub mod reply;
pub mod stream;
pub mod timestamp;
#[cfg(feature = "token")]
pub mod token;

#[cfg(feature = "client")]
pub mod client;

pub use channel::{ChannelError, ChannelName};
pub use close_code::CloseCode;
pub use codec::{Codec, DecodeError};
pub use command::{Command, CommandFrame};
pub use error_code::ErrorCode;
pub use event::Event;
pub use reply::{ErrorBody, Reply, ServerFrame};
pub use stream::{StreamError, StreamName};
