//! WebSocket close codes the hub uses, with their meaning in this protocol.

/// A close code sent by the hub. Standard codes (1xxx) keep their RFC 6455 meaning; 4xxx are ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum CloseCode {
    /// Normal close.
    Normal = 1000,
    /// The hub is shutting down; reconnect and resume.
    GoingAway = 1001,
    /// The peer broke the WebSocket protocol (bad framing).
    ProtocolError = 1002,
    /// A text frame on a MessagePack connection, or a binary frame on a JSON one.
    WrongFrameType = 1003,
    /// The message is not valid for the codec (syntax, not an object, forbidden MessagePack types).
    InvalidPayload = 1007,
    /// The message is larger than the configured limit.
    TooLarge = 1009,
    /// No `connect`, a `connect` too late, or an invalid token.
    InvalidConnect = 4001,
    /// The token expired and no `refresh` came in time.
    TokenExpired = 4002,
    /// Forbidden, e.g. the token was revoked.
    Forbidden = 4003,
    /// Slow consumer: the client fell too far behind; reconnect and resume.
    SlowConsumer = 4008,
    /// Too many connections for this user or school.
    TooManyConnections = 4009,
    /// Rate limited.
    RateLimited = 4029,
}

impl CloseCode {
    /// The numeric code on the wire.
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The code for a number, if it is one of ours.
    pub fn from_code(code: u16) -> Option<Self> {
        use CloseCode::*;
        Some(match code {
            1000 => Normal,
            1001 => GoingAway,
            1002 => ProtocolError,
            1003 => WrongFrameType,
            1007 => InvalidPayload,
            1009 => TooLarge,
            4001 => InvalidConnect,
            4002 => TokenExpired,
            4003 => Forbidden,
            4008 => SlowConsumer,
            4009 => TooManyConnections,
            4029 => RateLimited,
            _ => return None,
        })
    }
}
