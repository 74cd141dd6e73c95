//! Push notifications: the [`PushSender`] capability, the provider-neutral [`PushMessage`], and
//! two providers: Firebase Cloud Messaging HTTP v1 ([`fcm`]) and Apple's provider API ([`apns`]).

pub mod apns;
mod aps;
pub mod fcm;
mod message;
mod sender;

pub use message::{
    AndroidOptions, ApnsOptions, PushMessage, PushPriority, PushTarget, WebpushOptions,
};
pub use sender::PushSender;
