//! Channel names, parsed into a typed channel (parse, don't validate).
//!
//! | form | meaning |
//! |---|---|
//! | `school:{school}:announcements` | school-wide announcements |
//! | `class:{school}:{class}` | a class group |
//! | `dm:{school}:{a}:{b}` | a direct conversation; `a < b` (ids sorted) |
//! | `user:{school}:{user}` | a user's personal inbox |
//!
//! Ids are 1–64 characters of `A-Z a-z 0-9 _ - .`; a colon can never appear inside one, so the
//! name splits unambiguously. [`is_valid_id`] is the one definition of that rule: channel names,
//! the ids in a token (`oneclass_protocol::token::Claims::check_ids`) and REST paths use it, so
//! an id the hub accepted anywhere always fits into a channel name. [`is_reserved_user_id`] lists
//! the user ids the hub writes as itself, which no token may claim.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest id (school, class or user) accepted in a channel name.
pub const MAX_ID_LEN: usize = 64;

/// A parsed channel name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChannelName {
    /// `school:{school}:announcements`
    Announcements { school: String },
    /// `class:{school}:{class}`
    Class { school: String, class: String },
    /// `dm:{school}:{a}:{b}` with `a < b`.
    Dm {
        school: String,
        a: String,
        b: String,
    },
    /// `user:{school}:{user}`
    Inbox { school: String, user: String },
}

/// Why a channel name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("unknown channel kind in `{0}`")]
    UnknownKind(String),
    #[error("channel `{0}` has the wrong number of parts")]
    WrongShape(String),
    #[error("channel `{0}` has an invalid id (1-64 of A-Z a-z 0-9 _ - .)")]
    InvalidId(String),
    #[error("dm channel `{0}` must list two different users in sorted order")]
    UnsortedDm(String),
}

/// Whether `id` is a valid school, class or user id.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// User ids the hub writes as itself: `from: "system"` marks a message the hub wrote
/// (PROTOCOL.md §4). A token claiming one could publish messages that pass for the hub's, so no
/// token may (compared without regard to ASCII case, as a reader would).
pub const RESERVED_USER_IDS: &[&str] = &["system"];

/// Whether `id` is reserved for the hub ([`RESERVED_USER_IDS`]).
pub fn is_reserved_user_id(id: &str) -> bool {
    RESERVED_USER_IDS
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(id))
}

impl ChannelName {
    /// Parses a channel name.
    pub fn parse(name: &str) -> Result<Self, ChannelError> {
        let parts: Vec<&str> = name.split(':').collect();
        let shape = || ChannelError::WrongShape(name.to_owned());
        let ids = |ids: &[&str]| {
            if ids.iter().all(|id| is_valid_id(id)) {
                Ok(())
            } else {
                Err(ChannelError::InvalidId(name.to_owned()))
            }
        };
        match parts.first().copied() {
            Some("school") => match parts.as_slice() {
                [_, school, "announcements"] => {
                    ids(&[school])?;
                    Ok(Self::Announcements {
                        school: (*school).to_owned(),
                    })
                }
                _ => Err(shape()),
            },
            Some("class") => match parts.as_slice() {
                [_, school, class] => {
                    ids(&[school, class])?;
                    Ok(Self::Class {
                        school: (*school).to_owned(),
                        class: (*class).to_owned(),
                    })
                }
                _ => Err(shape()),
            },
            Some("dm") => match parts.as_slice() {
                [_, school, a, b] => {
                    ids(&[school, a, b])?;
                    if a >= b {
                        return Err(ChannelError::UnsortedDm(name.to_owned()));
                    }
                    Ok(Self::Dm {
                        school: (*school).to_owned(),
                        a: (*a).to_owned(),
                        b: (*b).to_owned(),
                    })
                }
                _ => Err(shape()),
            },
            Some("user") => match parts.as_slice() {
                [_, school, user] => {
                    ids(&[school, user])?;
                    Ok(Self::Inbox {
                        school: (*school).to_owned(),
                        user: (*user).to_owned(),
                    })
                }
                _ => Err(shape()),
            },
            _ => Err(ChannelError::UnknownKind(name.to_owned())),
        }
    }

    /// The DM channel between two users, with the ids sorted. `None` if they are the same user.
    pub fn dm(school: &str, x: &str, y: &str) -> Option<Self> {
        let (a, b) = match x.cmp(y) {
            std::cmp::Ordering::Less => (x, y),
            std::cmp::Ordering::Greater => (y, x),
            std::cmp::Ordering::Equal => return None,
        };
        Some(Self::Dm {
            school: school.to_owned(),
            a: a.to_owned(),
            b: b.to_owned(),
        })
    }

    /// A user's inbox channel.
    pub fn inbox(school: &str, user: &str) -> Self {
        Self::Inbox {
            school: school.to_owned(),
            user: user.to_owned(),
        }
    }

    /// The school this channel belongs to.
    pub fn school(&self) -> &str {
        match self {
            Self::Announcements { school }
            | Self::Class { school, .. }
            | Self::Dm { school, .. }
            | Self::Inbox { school, .. } => school,
        }
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Announcements { school } => write!(f, "school:{school}:announcements"),
            Self::Class { school, class } => write!(f, "class:{school}:{class}"),
            Self::Dm { school, a, b } => write!(f, "dm:{school}:{a}:{b}"),
            Self::Inbox { school, user } => write!(f, "user:{school}:{user}"),
        }
    }
}

impl std::str::FromStr for ChannelName {
    type Err = ChannelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for ChannelName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ChannelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for name in [
            "school:s1:announcements",
            "class:s1:c1",
            "dm:s1:alice:bob",
            "user:s1:alice",
        ] {
            assert_eq!(ChannelName::parse(name).unwrap().to_string(), name);
        }
    }

    #[test]
    fn malformed_names_are_refused_with_a_reason() {
        assert!(matches!(
            ChannelName::parse("room:s1:x"),
            Err(ChannelError::UnknownKind(_))
        ));
        assert!(matches!(
            ChannelName::parse("class:s1"),
            Err(ChannelError::WrongShape(_))
        ));
        assert!(matches!(
            ChannelName::parse("class:s1:c1:x"),
            Err(ChannelError::WrongShape(_))
        ));
        assert!(matches!(
            ChannelName::parse("class:s 1:c1"),
            Err(ChannelError::InvalidId(_))
        ));
        assert!(matches!(
            ChannelName::parse("class::c1"),
            Err(ChannelError::InvalidId(_))
        ));
        assert!(matches!(
            ChannelName::parse("dm:s1:bob:alice"),
            Err(ChannelError::UnsortedDm(_))
        ));
        assert!(matches!(
            ChannelName::parse("dm:s1:bob:bob"),
            Err(ChannelError::UnsortedDm(_))
        ));
        assert!(ChannelName::parse("school:s1:other").is_err());
    }

    #[test]
    fn ids_are_one_to_64_safe_characters_and_system_is_reserved_in_any_case() {
        assert!(is_valid_id("a"));
        assert!(is_valid_id(&"x".repeat(MAX_ID_LEN)));
        assert!(is_valid_id("Ab_9-.z"));
        for bad in ["", "a:b", "a b", "é", "a\u{0}", "a/b", "*"] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
        assert!(!is_valid_id(&"x".repeat(MAX_ID_LEN + 1)));
        for reserved in ["system", "System", "SYSTEM"] {
            assert!(is_reserved_user_id(reserved));
        }
        assert!(!is_reserved_user_id("systems"));
        assert!(!is_reserved_user_id("alice"));
    }

    #[test]
    fn dm_sorts_its_users_and_knows_its_school() {
        let dm = ChannelName::dm("s1", "zed", "amy").unwrap();
        assert_eq!(dm.to_string(), "dm:s1:amy:zed");
        assert_eq!(dm.school(), "s1");
        assert!(ChannelName::dm("s1", "amy", "amy").is_none());
    }
}
