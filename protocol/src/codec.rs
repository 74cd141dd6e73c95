//! The two codecs: JSON in text frames and MessagePack (maps with the JSON keys) in binary frames.
//!
//! Decoding a command tells two failures apart, because the protocol treats them differently:
//! - [`DecodeError::Malformed`]: the bytes are not a valid message for the codec (bad syntax, not
//!   an object/map, trailing bytes, MessagePack `bin`/`ext` values or non-string keys, nesting
//!   deeper than [`MAX_DEPTH`]). The hub closes with 1007.
//! - [`DecodeError::Invalid`]: a well-formed map that is not a valid command (unknown op, missing
//!   or mistyped field). The hub replies `bad_request` and keeps the connection.

use bytes::Bytes;
use serde::{de::DeserializeOwned, Serialize};

use crate::command::{CommandFrame, IdOnly, InvalidCommand, RawCommand};
use crate::reply::ServerFrame;

/// Deepest nesting of maps and arrays accepted in a frame, the top-level map counted as level 1.
pub const MAX_DEPTH: usize = 64;

/// Deepest a message `body` or a notification's `data` may nest, the object itself being level 1.
/// The deepest frame that carries one is the `channels` reply (`{ok: {channels: [{last: {body:
/// …}}]}}` puts a body five levels down), so a body within this keeps every frame the hub sends
/// within [`MAX_DEPTH`].
pub const MAX_BODY_DEPTH: usize = MAX_DEPTH - 5;

/// How deeply `value` nests objects and arrays: a scalar is 0, `{}` and `[]` are 1.
pub fn nesting_depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Object(map) => object_depth(map),
        serde_json::Value::Array(items) => 1 + items.iter().map(nesting_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// [`nesting_depth`] of an object (a `body` or `data`).
pub fn object_depth(map: &serde_json::Map<String, serde_json::Value>) -> usize {
    1 + map.values().map(nesting_depth).max().unwrap_or(0)
}

/// A connection's codec, chosen by the WebSocket subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    Json,
    MsgPack,
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not a valid message for the codec: close 1007.
    #[error("malformed frame: {0}")]
    Malformed(String),
    /// Well-formed, but not a valid command: reply `bad_request`.
    #[error(transparent)]
    Invalid(#[from] InvalidCommand),
}

impl Codec {
    /// Both codecs, JSON first (the default).
    pub const ALL: [Codec; 2] = [Codec::Json, Codec::MsgPack];

    /// The `Sec-WebSocket-Protocol` name.
    pub fn subprotocol(self) -> &'static str {
        match self {
            Codec::Json => "oneclass.v1.json",
            Codec::MsgPack => "oneclass.v1.msgpack",
        }
    }

    /// The codec of a subprotocol name.
    pub fn from_subprotocol(name: &str) -> Option<Self> {
        match name.trim() {
            "oneclass.v1.json" => Some(Codec::Json),
            "oneclass.v1.msgpack" => Some(Codec::MsgPack),
            _ => None,
        }
    }

    /// Whether frames of this codec travel as binary WebSocket frames.
    pub fn is_binary(self) -> bool {
        matches!(self, Codec::MsgPack)
    }

    /// Index for per-codec caches (`[T; 2]`).
    pub fn index(self) -> usize {
        match self {
            Codec::Json => 0,
            Codec::MsgPack => 1,
        }
    }

    /// Encodes any frame. Our frame types always encode; a failure is a bug.
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Bytes {
        let bytes = match self {
            Codec::Json => serde_json::to_vec(value).map_err(|e| e.to_string()),
            Codec::MsgPack => rmp_serde::to_vec_named(value).map_err(|e| e.to_string()),
        };
        // unwrap: protocol types have string keys and no fallible Serialize impls.
        Bytes::from(bytes.unwrap())
    }

    /// Whether an encoded frame keeps the protocol's limits: at most `max_bytes` long (the
    /// message limit) and nested at most [`MAX_DEPTH`] deep. The hub checks every frame it
    /// encodes for a client with this, so it never sends one that [`Codec::decode_server_frame`]
    /// or the peer's size limit would refuse; `Err` says which limit.
    pub fn check_limits(self, bytes: &[u8], max_bytes: usize) -> Result<(), String> {
        if bytes.len() > max_bytes {
            return Err(format!(
                "frame of {} bytes is over the {max_bytes}-byte message limit",
                bytes.len()
            ));
        }
        match self {
            Codec::Json => json_depth_check(bytes),
            Codec::MsgPack => msgpack_scan::check_frame(bytes),
        }
    }

    /// Decodes a command frame sent by a client.
    pub fn decode_command(self, bytes: &[u8]) -> Result<CommandFrame, DecodeError> {
        let raw: RawCommand = self.decode_map(bytes)?;
        Ok(raw.into_frame()?)
    }

    /// Decodes anything the hub sends (used by clients).
    pub fn decode_server_frame(self, bytes: &[u8]) -> Result<ServerFrame, DecodeError> {
        let value: serde_json::Value = self.decode_map(bytes)?;
        ServerFrame::from_value(value)
            .map_err(|message| DecodeError::Invalid(InvalidCommand { id: None, message }))
    }

    /// Decodes one top-level map into `T`, classifying failures.
    pub fn decode_map<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, DecodeError> {
        match self {
            Codec::Json => decode_json(bytes),
            Codec::MsgPack => decode_msgpack(bytes),
        }
    }
}

fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(DecodeError::Malformed(
            "a frame must be one JSON object".into(),
        ));
    }
    // serde_json skips ignored strings without checking their UTF-8, and its own nesting limit
    // (128) is not ours.
    if std::str::from_utf8(bytes).is_err() {
        return Err(DecodeError::Malformed(
            "a JSON frame must be valid UTF-8".into(),
        ));
    }
    json_depth_check(bytes).map_err(DecodeError::Malformed)?;
    match serde_json::from_slice::<T>(bytes) {
        Ok(v) => Ok(v),
        Err(e) if e.is_data() => {
            // serde stops at the first mistyped field: the rest of the text may still be broken.
            if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                return Err(DecodeError::Malformed(syntax.to_string()));
            }
            Err(invalid(e.to_string(), || {
                serde_json::from_slice::<IdOnly>(bytes)
                    .ok()
                    .and_then(|i| i.id())
            }))
        }
        Err(e) => Err(DecodeError::Malformed(e.to_string())),
    }
}

/// Refuses JSON text that nests objects and arrays more than [`MAX_DEPTH`] levels deep (the
/// top-level object is level 1). Brackets inside strings do not count; syntax is left to serde.
fn json_depth_check(bytes: &[u8]) -> Result<(), String> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err("frame nested too deeply".into());
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn decode_msgpack<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    msgpack_scan::check_frame(bytes).map_err(DecodeError::Malformed)?;
    rmp_serde::from_slice::<T>(bytes).map_err(|e| {
        invalid(e.to_string(), || {
            rmp_serde::from_slice::<IdOnly>(bytes)
                .ok()
                .and_then(|i| i.id())
        })
    })
}

fn invalid(message: String, id: impl FnOnce() -> Option<u32>) -> DecodeError {
    DecodeError::Invalid(InvalidCommand { id: id(), message })
}

/// A structural check of a MessagePack frame before serde sees it: exactly one map at the top,
/// string keys everywhere, valid UTF-8 strings, no `bin` or `ext`, bounded depth, no trailing
/// bytes. serde alone would accept some of these (e.g. `bin` where a string is ignored).
mod msgpack_scan {
    use super::MAX_DEPTH;

    pub fn check_frame(bytes: &[u8]) -> Result<(), String> {
        match bytes.first() {
            Some(0x80..=0x8f | 0xde | 0xdf) => {}
            Some(_) => return Err("a frame must be one MessagePack map".into()),
            None => return Err("empty frame".into()),
        }
        let mut scanner = Scanner { bytes, pos: 0 };
        scanner.value(0, false)?;
        if scanner.pos != bytes.len() {
            return Err("trailing bytes after the frame".into());
        }
        Ok(())
    }

    struct Scanner<'a> {
        bytes: &'a [u8],
        pos: usize,
    }

    impl Scanner<'_> {
        fn take(&mut self, n: usize) -> Result<&[u8], String> {
            let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
            let end = end.ok_or_else(|| "truncated frame".to_string())?;
            let slice = &self.bytes[self.pos..end];
            self.pos = end;
            Ok(slice)
        }

        fn len(&mut self, width: usize) -> Result<usize, String> {
            let b = self.take(width)?;
            Ok(b.iter().fold(0usize, |acc, &x| (acc << 8) | x as usize))
        }

        fn string(&mut self, len: usize) -> Result<(), String> {
            let s = self.take(len)?;
            std::str::from_utf8(s).map_err(|_| "string is not valid UTF-8".to_string())?;
            Ok(())
        }

        /// Scans one value inside `depth` enclosing maps and arrays; `key` says it is a map key,
        /// which must be a string. A map or array may be at most [`MAX_DEPTH`] levels deep, the
        /// top-level map being level 1 (as in JSON).
        fn value(&mut self, depth: usize, key: bool) -> Result<(), String> {
            let marker = self.take(1)?[0];
            let is_str = matches!(marker, 0xa0..=0xbf | 0xd9..=0xdb);
            if key && !is_str {
                return Err("map keys must be strings".into());
            }
            let is_container = matches!(marker, 0x80..=0x9f | 0xdc..=0xdf);
            if is_container && depth >= MAX_DEPTH {
                return Err("frame nested too deeply".into());
            }
            match marker {
                0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => Ok(()),
                0x80..=0x8f => self.map((marker & 0x0f) as usize, depth),
                0x90..=0x9f => self.array((marker & 0x0f) as usize, depth),
                0xa0..=0xbf => self.string((marker & 0x1f) as usize),
                0xc4..=0xc9 | 0xd4..=0xd8 => Err("bin and ext values are not allowed".into()),
                0xca => self.take(4).map(drop),
                0xcb => self.take(8).map(drop),
                0xcc | 0xd0 => self.take(1).map(drop),
                0xcd | 0xd1 => self.take(2).map(drop),
                0xce | 0xd2 => self.take(4).map(drop),
                0xcf | 0xd3 => self.take(8).map(drop),
                0xd9 => {
                    let n = self.len(1)?;
                    self.string(n)
                }
                0xda => {
                    let n = self.len(2)?;
                    self.string(n)
                }
                0xdb => {
                    let n = self.len(4)?;
                    self.string(n)
                }
                0xdc => {
                    let n = self.len(2)?;
                    self.array(n, depth)
                }
                0xdd => {
                    let n = self.len(4)?;
                    self.array(n, depth)
                }
                0xde => {
                    let n = self.len(2)?;
                    self.map(n, depth)
                }
                0xdf => {
                    let n = self.len(4)?;
                    self.map(n, depth)
                }
                0xc1 => Err("reserved marker 0xc1".into()),
            }
        }

        fn array(&mut self, n: usize, depth: usize) -> Result<(), String> {
            for _ in 0..n {
                self.value(depth + 1, false)?;
            }
            Ok(())
        }

        fn map(&mut self, n: usize, depth: usize) -> Result<(), String> {
            for _ in 0..n {
                self.value(depth + 1, true)?;
                self.value(depth + 1, false)?;
            }
            Ok(())
        }
    }
}
