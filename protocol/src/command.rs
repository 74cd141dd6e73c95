//! Commands: the frames a client sends to the hub.
//!
//! A frame is a map with `op`, an optional client-chosen `id` (u32; a command with an `id` gets a
//! reply) and the op's fields. Decoding goes through [`RawCommand`], a flat struct holding every
//! field any op can have, so that one pass over the map yields both the command and its `id`: a
//! well-formed frame with an unknown op or a missing field still gets a `bad_request` reply that
//! names its `id`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::channel::ChannelName;

/// A message body: a JSON object (a MessagePack map with string keys).
pub type Body = serde_json::Map<String, serde_json::Value>;

/// A command and the `id` its reply will carry.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandFrame {
    pub id: Option<u32>,
    pub command: Command,
}

/// Every command of protocol version 1.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Authenticate; optionally resume channels from the last seq seen on each.
    Connect {
        token: String,
        resume: BTreeMap<String, u64>,
    },
    /// Subscribe to a channel, replaying everything after `since`.
    Subscribe {
        channel: ChannelName,
        since: Option<u64>,
    },
    Unsubscribe {
        channel: ChannelName,
    },
    /// Publish a message; `client_msg_id` makes the publish idempotent.
    Publish {
        channel: ChannelName,
        body: Body,
        client_msg_id: Option<String>,
    },
    /// A page of history, newest last, strictly before `before`.
    History {
        channel: ChannelName,
        before: Option<u64>,
        limit: Option<u32>,
    },
    /// A page of the conversations this user can see: the first without `cursor`, then the one
    /// after the `next_cursor` of the page before; at most `limit` entries.
    Channels {
        cursor: Option<String>,
        limit: Option<u32>,
    },
    /// Move the read cursor forward.
    Read {
        channel: ChannelName,
        seq: u64,
    },
    Presence {
        channel: ChannelName,
    },
    Typing {
        channel: ChannelName,
    },
    /// Replace the connection's token with a newer one for the same user.
    Refresh {
        token: String,
    },
    Ping,
}

impl Command {
    /// The wire name of the op.
    pub fn op(&self) -> &'static str {
        match self {
            Command::Connect { .. } => "connect",
            Command::Subscribe { .. } => "subscribe",
            Command::Unsubscribe { .. } => "unsubscribe",
            Command::Publish { .. } => "publish",
            Command::History { .. } => "history",
            Command::Channels { .. } => "channels",
            Command::Read { .. } => "read",
            Command::Presence { .. } => "presence",
            Command::Typing { .. } => "typing",
            Command::Refresh { .. } => "refresh",
            Command::Ping => "ping",
        }
    }
}

/// Every field any command can carry; unknown fields are ignored (new optional fields must not
/// break old hubs).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RawCommand {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<BTreeMap<String, u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A well-formed frame that is not a valid command. `id` is the frame's id when it had a usable
/// one, so the error can be sent as a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidCommand {
    pub id: Option<u32>,
    pub message: String,
}

impl RawCommand {
    /// Builds the typed command, or says which field is missing or wrong.
    pub fn into_frame(self) -> Result<CommandFrame, InvalidCommand> {
        let id = self.id;
        let fail = |message: String| InvalidCommand { id, message };
        let missing = |field: &str| fail(format!("missing field `{field}`"));
        let channel = |c: Option<String>| -> Result<ChannelName, InvalidCommand> {
            let c = c.ok_or_else(|| missing("channel"))?;
            ChannelName::parse(&c).map_err(|e| fail(e.to_string()))
        };
        let op = self.op.as_deref().ok_or_else(|| missing("op"))?;
        let command = match op {
            "connect" => Command::Connect {
                token: self.token.ok_or_else(|| missing("token"))?,
                resume: self.resume.unwrap_or_default(),
            },
            "subscribe" => Command::Subscribe {
                channel: channel(self.channel)?,
                since: self.since,
            },
            "unsubscribe" => Command::Unsubscribe {
                channel: channel(self.channel)?,
            },
            "publish" => Command::Publish {
                channel: channel(self.channel)?,
                body: self.body.ok_or_else(|| missing("body"))?,
                client_msg_id: self.client_msg_id,
            },
            "history" => Command::History {
                channel: channel(self.channel)?,
                before: self.before,
                limit: self.limit,
            },
            "channels" => Command::Channels {
                cursor: self.cursor,
                limit: self.limit,
            },
            "read" => Command::Read {
                channel: channel(self.channel)?,
                seq: self.seq.ok_or_else(|| missing("seq"))?,
            },
            "presence" => Command::Presence {
                channel: channel(self.channel)?,
            },
            "typing" => Command::Typing {
                channel: channel(self.channel)?,
            },
            "refresh" => Command::Refresh {
                token: self.token.ok_or_else(|| missing("token"))?,
            },
            "ping" => Command::Ping,
            other => return Err(fail(format!("unknown op `{other}`"))),
        };
        Ok(CommandFrame { id, command })
    }
}

impl From<&CommandFrame> for RawCommand {
    fn from(frame: &CommandFrame) -> Self {
        let mut raw = RawCommand {
            op: Some(frame.command.op().to_owned()),
            id: frame.id,
            ..RawCommand::default()
        };
        match &frame.command {
            Command::Connect { token, resume } => {
                raw.token = Some(token.clone());
                if !resume.is_empty() {
                    raw.resume = Some(resume.clone());
                }
            }
            Command::Subscribe { channel, since } => {
                raw.channel = Some(channel.to_string());
                raw.since = *since;
            }
            Command::Unsubscribe { channel }
            | Command::Presence { channel }
            | Command::Typing { channel } => raw.channel = Some(channel.to_string()),
            Command::Publish {
                channel,
                body,
                client_msg_id,
            } => {
                raw.channel = Some(channel.to_string());
                raw.body = Some(body.clone());
                raw.client_msg_id = client_msg_id.clone();
            }
            Command::History {
                channel,
                before,
                limit,
            } => {
                raw.channel = Some(channel.to_string());
                raw.before = *before;
                raw.limit = *limit;
            }
            Command::Read { channel, seq } => {
                raw.channel = Some(channel.to_string());
                raw.seq = Some(*seq);
            }
            Command::Refresh { token } => raw.token = Some(token.clone()),
            Command::Channels { cursor, limit } => {
                raw.cursor = cursor.clone();
                raw.limit = *limit;
            }
            Command::Ping => {}
        }
        raw
    }
}

/// Only the `id` of a frame, for replying to a frame whose other fields have the wrong type.
#[derive(Debug, Deserialize)]
pub(crate) struct IdOnly {
    #[serde(default)]
    pub id: Option<serde_json::Value>,
}

impl IdOnly {
    pub(crate) fn id(&self) -> Option<u32> {
        self.id
            .as_ref()
            .and_then(|v| v.as_u64())
            .and_then(|v| u32::try_from(v).ok())
    }
}
