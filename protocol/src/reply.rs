//! Replies to commands, and [`ServerFrame`], anything the hub sends.
//!
//! A reply is `{"id": N, "ok": {...}}` or `{"id": N, "error": {code, message, retry_after_ms?}}`.
//! The hub builds the `ok` payload from the typed structs here; a client reads it back into the
//! struct of the op it sent (see [`Reply::ok_as`]).

use std::collections::BTreeMap;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::error_code::ErrorCode;
use crate::event::Event;

/// The error half of a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }
}

/// `ok` of `connect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connected {
    pub user: String,
    pub school: String,
    pub role: String,
    /// This connection's session id.
    pub session: String,
    pub heartbeat_s: u64,
    /// The user's inbox channel, subscribed automatically.
    pub inbox: String,
    /// Each resumed channel with its head.
    #[serde(default)]
    pub resumed: BTreeMap<String, u64>,
    /// Each channel of `resume` that was refused, with the error code.
    #[serde(default)]
    pub refused: BTreeMap<String, ErrorCode>,
}

/// `ok` of `subscribe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscribed {
    pub channel: String,
    pub head: u64,
}

/// `ok` of `publish`: sent only once the message is durably journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Published {
    pub channel: String,
    pub seq: u64,
    pub event_id: String,
    pub ts: String,
}

/// `ok` of `history`: `messages` are `msg` or `notification` events, newest last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub channel: String,
    pub messages: Vec<Event>,
    pub has_more: bool,
}

/// One conversation in the `channels` list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelSummary {
    pub channel: String,
    pub head: u64,
    pub read_seq: u64,
    pub unread: u64,
    pub last: Option<Event>,
}

/// `ok` of `channels`: one page of the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channels {
    pub channels: Vec<ChannelSummary>,
    /// Present when more follow: send it back as `cursor` for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `ok` of `presence`: users (not sockets) present on the channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    pub channel: String,
    pub users: Vec<String>,
}

/// `ok` of `refresh`: the new expiry, seconds since the epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refreshed {
    pub exp: u64,
}

/// `ok` of `unsubscribe`, `read`, `ping`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Empty {}

/// Every `ok` payload the hub sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OkBody {
    Connected(Connected),
    Subscribed(Subscribed),
    Published(Published),
    History(History),
    Channels(Channels),
    Presence(Presence),
    Refreshed(Refreshed),
    Empty(Empty),
}

/// A reply to the command with the same `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply<T = serde_json::Value> {
    pub id: u32,
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub ok: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

fn none<T>() -> Option<T> {
    None
}

impl<T> Reply<T> {
    pub fn ok(id: u32, body: T) -> Self {
        Self {
            id,
            ok: Some(body),
            error: None,
        }
    }

    pub fn error(id: u32, error: ErrorBody) -> Self {
        Self {
            id,
            ok: None,
            error: Some(error),
        }
    }
}

impl Reply<serde_json::Value> {
    /// Reads the `ok` payload as the reply type of the op that was sent; an error reply or a
    /// payload of another shape comes back as `Err` with the error body.
    pub fn ok_as<T: DeserializeOwned>(&self) -> Result<T, ErrorBody> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        let value = self.ok.clone().unwrap_or(serde_json::Value::Null);
        serde_json::from_value(value)
            .map_err(|e| ErrorBody::new(ErrorCode::Internal, format!("unexpected reply: {e}")))
    }
}

/// Anything the hub sends: a reply (has `id`) or an event (has `ev`).
#[derive(Debug, Clone, PartialEq)]
pub enum ServerFrame {
    Reply(Reply),
    Event(Event),
}

impl ServerFrame {
    /// Sorts a decoded map into a reply or an event.
    pub fn from_value(value: serde_json::Value) -> Result<Self, String> {
        let is_event = value.get("ev").is_some();
        if is_event {
            serde_json::from_value(value)
                .map(ServerFrame::Event)
                .map_err(|e| e.to_string())
        } else {
            serde_json::from_value(value)
                .map(ServerFrame::Reply)
                .map_err(|e| e.to_string())
        }
    }
}
