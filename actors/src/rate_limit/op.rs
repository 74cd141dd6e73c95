//! [`Op`]: the commands a user quota is set for, each with the label its refusals are counted
//! under (`oneclass_rate_limited_total{op="publish",…}`).
//!
//! `connect` has no user quota: it is a socket's first message, and the sockets a user may open
//! are capped already (`limits.max_connections_per_user`, 4009). A `connect` sent again on a
//! connected socket (answered `bad_request`) still takes from the connection's quota.

use oneclass_protocol::Command;

/// A limited command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Connect,
    Publish,
    Subscribe,
    Unsubscribe,
    History,
    Channels,
    Read,
    Presence,
    Typing,
    Refresh,
    Ping,
}

impl Op {
    /// Every op, in the order of [`Op::index`].
    pub const ALL: [Op; 11] = [
        Op::Connect,
        Op::Publish,
        Op::Subscribe,
        Op::Unsubscribe,
        Op::History,
        Op::Channels,
        Op::Read,
        Op::Presence,
        Op::Typing,
        Op::Refresh,
        Op::Ping,
    ];

    /// The op of a command.
    pub fn of(command: &Command) -> Op {
        match command {
            Command::Connect { .. } => Op::Connect,
            Command::Subscribe { .. } => Op::Subscribe,
            Command::Unsubscribe { .. } => Op::Unsubscribe,
            Command::Publish { .. } => Op::Publish,
            Command::History { .. } => Op::History,
            Command::Channels { .. } => Op::Channels,
            Command::Read { .. } => Op::Read,
            Command::Presence { .. } => Op::Presence,
            Command::Typing { .. } => Op::Typing,
            Command::Refresh { .. } => Op::Refresh,
            Command::Ping => Op::Ping,
        }
    }

    /// The op's position in [`Op::ALL`] (and in arrays indexed by op).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The wire name of the op, used as the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Connect => "connect",
            Op::Publish => "publish",
            Op::Subscribe => "subscribe",
            Op::Unsubscribe => "unsubscribe",
            Op::History => "history",
            Op::Channels => "channels",
            Op::Read => "read",
            Op::Presence => "presence",
            Op::Typing => "typing",
            Op::Refresh => "refresh",
            Op::Ping => "ping",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_sits_at_its_index() {
        for (i, op) in Op::ALL.iter().enumerate() {
            assert_eq!(op.index(), i, "{op:?}");
        }
    }
}
