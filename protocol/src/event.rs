//! Events: frames the hub sends without being asked. Each carries `ev` and no `id`.

use serde::{Deserialize, Serialize};

use crate::command::Body;
use crate::error_code::ErrorCode;

/// A chat message on a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Msg {
    pub channel: String,
    pub seq: u64,
    /// UUID v7, lowercase hyphenated.
    pub event_id: String,
    /// The sender's user id, or `system`.
    pub from: String,
    pub body: Body,
    /// RFC 3339 UTC with milliseconds.
    pub ts: String,
    /// Echoed when the sender gave one, so a sender can match its own message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
}

/// A notification in a user's inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub channel: String,
    pub seq: u64,
    pub event_id: String,
    /// e.g. `fees.reminder`, `exam.results`, `attendance`, `emergency`, `event`.
    pub kind: String,
    pub title: String,
    pub body: String,
    #[serde(default)]
    pub data: Body,
    pub ts: String,
}

/// Every event of protocol version 1, tagged by `ev`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum Event {
    Msg(Msg),
    Notification(Notification),
    /// The catch-up of a `subscribe` or `resume` is complete.
    Synced {
        channel: String,
        head: u64,
    },
    Presence {
        channel: String,
        joined: Vec<String>,
        left: Vec<String>,
    },
    Typing {
        channel: String,
        user: String,
    },
    Read {
        channel: String,
        user: String,
        seq: u64,
    },
    /// An error about a frame that had no `id`, or about a channel the hub stopped sending on
    /// its own (a subscription a `refresh` no longer allows, or one a restarted school refused).
    Error {
        code: ErrorCode,
        message: String,
        /// The channel whose subscription ended; absent for an error about a frame.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
}

impl Event {
    /// The channel the event belongs to, if any.
    pub fn channel(&self) -> Option<&str> {
        match self {
            Event::Msg(m) => Some(&m.channel),
            Event::Notification(n) => Some(&n.channel),
            Event::Synced { channel, .. }
            | Event::Presence { channel, .. }
            | Event::Typing { channel, .. }
            | Event::Read { channel, .. } => Some(channel),
            Event::Error { channel, .. } => channel.as_deref(),
        }
    }

    /// The seq of a journaled event (`msg`, `notification`).
    pub fn seq(&self) -> Option<u64> {
        match self {
            Event::Msg(m) => Some(m.seq),
            Event::Notification(n) => Some(n.seq),
            _ => None,
        }
    }
}
