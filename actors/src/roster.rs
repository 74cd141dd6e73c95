//! A school's members as the rest of the platform reports them (`PUT /v1/schools/{s}/members/{u}`).
//! The roster is journaled on the stream `roster:{school}`; the school actor rebuilds it by
//! replaying that stream (its handlers are in `school/roster.rs`), and `notify::audience`
//! resolves the recipients of notifications against it. This file is the pure model: applying a
//! journaled event is the only way it changes, and an event whose payload does not decode is
//! skipped. What a member may contain is checked before it is journaled, by
//! [`crate::roster_validation`].

use std::collections::BTreeMap;
use std::ops::Bound;

use oneclass_protocol::journal::{kinds, EventEnvelope};
use serde::{Deserialize, Serialize};

use crate::events::payload::decode;
use crate::principal::Role;

/// How to reach a member outside the app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub push_tokens: Vec<String>,
}

/// A member's language for messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Locale {
    #[default]
    En,
    Sn,
    Nd,
}

/// One member of a school.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user: String,
    pub role: Role,
    #[serde(default)]
    pub classes: Vec<String>,
    /// Student ids this member is a guardian of.
    #[serde(default)]
    pub guardian_of: Vec<String>,
    #[serde(default)]
    pub locale: Locale,
    #[serde(default)]
    pub contacts: Contacts,
    /// Channels in order of preference for offline delivery (`push`, `whatsapp`, `sms`, `email`).
    #[serde(default)]
    pub preferences: Vec<String>,
    /// The name to show and to address messages to (e-mail's display name), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// One page of the member list, in user-id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberPage {
    pub members: Vec<Member>,
    /// The last user id of this page, to pass as `after` for the next one; `None` on the last
    /// page.
    pub next_after: Option<String>,
}

/// Payload of `roster.member.removed`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberRemoved {
    pub user: String,
}

/// The members of one school.
#[derive(Debug, Default, Clone)]
pub struct Roster {
    members: BTreeMap<String, Member>,
}

impl Roster {
    /// Applies one journaled roster event.
    pub fn apply(&mut self, e: &EventEnvelope) {
        match e.kind.as_str() {
            kinds::MEMBER_UPSERTED => {
                if let Some(m) = decode::<Member>(&e.payload) {
                    self.members.insert(m.user.clone(), m);
                }
            }
            kinds::MEMBER_REMOVED => {
                if let Some(r) = decode::<MemberRemoved>(&e.payload) {
                    self.members.remove(&r.user);
                }
            }
            _ => {}
        }
    }

    pub fn get(&self, user: &str) -> Option<&Member> {
        self.members.get(user)
    }

    /// Up to `limit` members (at least one) with user ids after `after`, optionally only those of
    /// one class. Paging by the last id seen, not by position, means a member added or removed
    /// between two pages does not shift the others: every member present throughout is listed
    /// exactly once.
    pub fn page(&self, class: Option<&str>, after: Option<&str>, limit: usize) -> MemberPage {
        let limit = limit.max(1);
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut members: Vec<Member> = self
            .members
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(_, m)| m)
            .filter(|m| class.is_none_or(|c| m.classes.iter().any(|x| x == c)))
            .take(limit + 1)
            .cloned()
            .collect();
        let next_after = if members.len() > limit {
            members.truncate(limit);
            members.last().map(|m| m.user.clone())
        } else {
            None
        };
        MemberPage {
            members,
            next_after,
        }
    }

    /// The user ids of one class's members.
    pub fn class_users(&self, class: &str) -> Vec<String> {
        self.members
            .values()
            .filter(|m| m.classes.iter().any(|x| x == class))
            .map(|m| m.user.clone())
            .collect()
    }

    /// Every member's user id.
    pub fn all_users(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;

    fn roster(users: &[(&str, &str)]) -> Roster {
        let mut r = Roster::default();
        for (user, class) in users {
            let m = Member {
                user: (*user).into(),
                role: Role::Parent,
                classes: vec![(*class).into()],
                guardian_of: vec![],
                locale: Locale::En,
                contacts: Contacts::default(),
                preferences: vec![],
                display_name: None,
            };
            r.members.insert(m.user.clone(), m);
        }
        r
    }

    fn users(page: &MemberPage) -> Vec<&str> {
        page.members.iter().map(|m| m.user.as_str()).collect()
    }

    #[test]
    fn pages_cover_every_member_once_in_id_order() {
        let r = roster(&[
            ("u1", "c1"),
            ("u2", "c2"),
            ("u3", "c1"),
            ("u4", "c1"),
            ("u5", "c2"),
        ]);
        let first = r.page(None, None, 2);
        assert_eq!(
            (users(&first), first.next_after.as_deref()),
            (vec!["u1", "u2"], Some("u2"))
        );
        let second = r.page(None, Some("u2"), 2);
        assert_eq!(users(&second), ["u3", "u4"]);
        let last = r.page(None, Some("u4"), 2);
        assert_eq!((users(&last), last.next_after.clone()), (vec!["u5"], None));
    }

    #[test]
    fn a_class_filter_pages_over_that_class_only() {
        let r = roster(&[("u1", "c1"), ("u2", "c2"), ("u3", "c1"), ("u4", "c1")]);
        let first = r.page(Some("c1"), None, 2);
        assert_eq!(users(&first), ["u1", "u3"]);
        let last = r.page(Some("c1"), first.next_after.as_deref(), 2);
        assert_eq!((users(&last), last.next_after.clone()), (vec!["u4"], None));
    }

    #[test]
    fn a_page_after_a_removed_member_continues_with_the_next() {
        let mut r = roster(&[("u1", "c1"), ("u2", "c1"), ("u3", "c1")]);
        r.members.remove("u2");
        assert_eq!(users(&r.page(None, Some("u2"), 10)), ["u3"]);
        let exact = r.page(None, None, 2);
        assert_eq!(
            exact.next_after, None,
            "no empty page after an exactly full one"
        );
    }
}
