//! Journal stream names, parsed into a typed stream (parse, don't validate).
//!
//! Every stream the hub writes is one of these; the four channel forms are the
//! [`ChannelName`]s clients subscribe to, the rest are internal and never reach a client.
//!
//! | form | meaning | written by |
//! |---|---|---|
//! | a [`ChannelName`] | a channel: announcements, class, DM, inbox | the school actor |
//! | `roster:{school}` | a school's roster changes | the school actor |
//! | `notification:{id}` | one notification as requested, with its recipients | the school actor |
//! | `auth:revoked` | token revocations, for every school | the revocation module |
//! | `audit:{school}` | accesses to personal data (message bodies) | the journal gateway's audit |
//! | `provider:{name}` | one outside provider's attempts and circuit changes, for every school | its provider actor |
//!
//! Ids follow the channel rule (1–64 of `A-Z a-z 0-9 _ - .`), so no part contains a colon and a
//! name splits unambiguously. A notification id is the UUID of its request. Parsing a name the hub
//! does not write fails: a name read from the journal either is one of these or was written by
//! something else.

use std::fmt;

use crate::channel::{is_valid_id, ChannelError, ChannelName};

/// The name of the stream that holds every token revocation.
pub const REVOCATIONS: &str = "auth:revoked";

/// A parsed stream name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamName {
    /// A channel clients subscribe to.
    Channel(ChannelName),
    /// `roster:{school}`
    Roster { school: String },
    /// `notification:{id}`
    Notification { id: String },
    /// `auth:revoked`
    Revocations,
    /// `audit:{school}`
    Audit { school: String },
    /// `provider:{name}`
    Provider { name: String },
}

/// Why a stream name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// It looks like a channel (`school:`, `class:`, `dm:`, `user:`) but is not a valid one.
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// No stream of this kind is written by the hub.
    #[error("unknown stream kind in `{0}`")]
    UnknownKind(String),
    /// The kind is known but the parts are not (wrong count or an invalid id).
    #[error("stream `{0}` is malformed")]
    Malformed(String),
}

impl StreamName {
    /// Parses a stream name.
    pub fn parse(name: &str) -> Result<Self, StreamError> {
        if name == REVOCATIONS {
            return Ok(Self::Revocations);
        }
        let (kind, rest) = name.split_once(':').unwrap_or((name, ""));
        let one_id = || {
            if is_valid_id(rest) {
                Ok(rest.to_owned())
            } else {
                Err(StreamError::Malformed(name.to_owned()))
            }
        };
        match kind {
            "school" | "class" | "dm" | "user" => Ok(Self::Channel(ChannelName::parse(name)?)),
            "roster" => Ok(Self::Roster { school: one_id()? }),
            "notification" => Ok(Self::Notification { id: one_id()? }),
            "audit" => Ok(Self::Audit { school: one_id()? }),
            "provider" => Ok(Self::Provider { name: one_id()? }),
            _ => Err(StreamError::UnknownKind(name.to_owned())),
        }
    }

    /// A school's roster stream.
    pub fn roster(school: &str) -> Self {
        Self::Roster {
            school: school.to_owned(),
        }
    }

    /// The stream of one notification.
    pub fn notification(id: &str) -> Self {
        Self::Notification { id: id.to_owned() }
    }

    /// A school's audit stream.
    pub fn audit(school: &str) -> Self {
        Self::Audit {
            school: school.to_owned(),
        }
    }

    /// The stream of one outside provider (`telone`, `econet`, …).
    pub fn provider(name: &str) -> Self {
        Self::Provider {
            name: name.to_owned(),
        }
    }

    /// The channel, when this stream is one.
    pub fn channel(&self) -> Option<&ChannelName> {
        match self {
            Self::Channel(c) => Some(c),
            _ => None,
        }
    }
}

impl From<ChannelName> for StreamName {
    fn from(c: ChannelName) -> Self {
        Self::Channel(c)
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Channel(c) => c.fmt(f),
            Self::Roster { school } => write!(f, "roster:{school}"),
            Self::Notification { id } => write!(f, "notification:{id}"),
            Self::Revocations => f.write_str(REVOCATIONS),
            Self::Audit { school } => write!(f, "audit:{school}"),
            Self::Provider { name } => write!(f, "provider:{name}"),
        }
    }
}

impl std::str::FromStr for StreamName {
    type Err = StreamError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_round_trips_through_its_name() {
        for name in [
            "school:s1:announcements",
            "class:s1:c1",
            "dm:s1:alice:bob",
            "user:s1:alice",
            "roster:s1",
            "notification:01936f8e-7c3a-7b42-9d1e-2f3a4b5c6d7e",
            "auth:revoked",
            "audit:s1",
            "provider:telone",
        ] {
            assert_eq!(StreamName::parse(name).unwrap().to_string(), name);
        }
    }

    #[test]
    fn only_the_channel_forms_are_channels() {
        assert!(StreamName::parse("class:s1:c1")
            .unwrap()
            .channel()
            .is_some());
        assert!(StreamName::parse("roster:s1").unwrap().channel().is_none());
        assert!(StreamName::parse("auth:revoked")
            .unwrap()
            .channel()
            .is_none());
    }

    #[test]
    fn malformed_and_unknown_names_are_refused_with_a_reason() {
        assert!(matches!(
            StreamName::parse("payment:p1"),
            Err(StreamError::UnknownKind(_))
        ));
        assert!(matches!(
            StreamName::parse("auth:other"),
            Err(StreamError::UnknownKind(_))
        ));
        assert!(matches!(
            StreamName::parse("roster:s1:x"),
            Err(StreamError::Malformed(_))
        ));
        assert!(matches!(
            StreamName::parse("audit:"),
            Err(StreamError::Malformed(_))
        ));
        assert!(matches!(
            StreamName::parse("class:s1"),
            Err(StreamError::Channel(ChannelError::WrongShape(_)))
        ));
    }
}
