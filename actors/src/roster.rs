//! A school's members as the rest of the platform reports them (`PUT /v1/schools/{s}/members/{u}`).
//! The roster is journaled on the stream `roster:{school}`; the school actor rebuilds it by
//! replaying that stream and uses it to resolve the recipients of notifications.

use std::collections::BTreeMap;

use oneclass_protocol::journal::{decode_payload, kinds, EventEnvelope};
use serde::{Deserialize, Serialize};

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

/// The stream a school's roster is journaled on.
pub fn roster_stream(school: &str) -> String {
    format!("roster:{school}")
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
                if let Ok(m) = decode_payload::<Member>(&e.payload) {
                    self.members.insert(m.user.clone(), m);
                }
            }
            kinds::MEMBER_REMOVED => {
                if let Ok(r) = decode_payload::<MemberRemoved>(&e.payload) {
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
