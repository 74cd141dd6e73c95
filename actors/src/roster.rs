//! A school's members as the rest of the platform reports them (`PUT /v1/schools/{s}/members/{u}`).
//! The roster is journaled on the stream `roster:{school}`; the school actor rebuilds it by
//! replaying that stream (its handlers are in `school/roster.rs`), and `notify::audience`
//! resolves the recipients of notifications against it. This file is the pure model: applying a
//! journaled event is the only way it changes, and an event whose payload does not decode is
//! skipped.

use std::collections::BTreeMap;

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

    /// Members, optionally only those of one class.
    pub fn list(&self, class: Option<&str>) -> Vec<Member> {
        self.members
            .values()
            .filter(|m| class.is_none_or(|c| m.classes.iter().any(|x| x == c)))
            .cloned()
            .collect()
    }

    /// Every member's user id.
    pub fn all_users(&self) -> Vec<String> {
        self.members.keys().cloned().collect()
    }
}
