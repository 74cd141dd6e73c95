//! Who a notification is for, and the recipients that makes against a roster.
//!
//! Resolution is pure: a function of the [`Audience`] and a [`Roster`] snapshot. Recipients come
//! out sorted and without duplicates; an explicit list is taken as given (a user need not be on
//! the roster yet) but every id must be valid, since it becomes part of a stream name.

use oneclass_protocol::channel::is_valid_id;
use oneclass_protocol::reply::ErrorBody;
use oneclass_protocol::ErrorCode;
use serde::Serialize;

use crate::roster::Roster;

/// Who a notification is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// These users.
    Users(Vec<String>),
    /// Every member of the roster in this class.
    Class(String),
    /// Every member of the school's roster.
    School,
}

impl Audience {
    /// The recipients of this audience in `roster`: sorted, unique, valid ids.
    pub fn resolve(&self, roster: &Roster) -> Result<Vec<String>, ErrorBody> {
        let mut recipients: Vec<String> = match self {
            Audience::Users(users) => users.clone(),
            Audience::Class(class) => roster.class_users(class),
            Audience::School => roster.all_users(),
        };
        recipients.sort();
        recipients.dedup();
        if let Some(bad) = recipients.iter().find(|u| !is_valid_id(u)) {
            return Err(ErrorBody::new(
                ErrorCode::BadRequest,
                format!("invalid user id `{bad}`"),
            ));
        }
        Ok(recipients)
    }

    /// The audience as it enters a request's fingerprint. Frozen: this is the encoding of the
    /// earlier `School(bool)` form, so a retry across an upgrade still matches its first request.
    pub(crate) fn fingerprint_form(&self) -> impl Serialize + '_ {
        #[derive(Serialize)]
        #[serde(rename_all = "snake_case")]
        enum Form<'a> {
            Users(&'a [String]),
            Class(&'a str),
            School(bool),
        }
        match self {
            Audience::Users(users) => Form::Users(users),
            Audience::Class(class) => Form::Class(class),
            Audience::School => Form::School(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::Member;
    use crate::Role;
    use oneclass_protocol::journal::{encode_payload, kinds, EventEnvelope};

    fn roster(members: &[(&str, &[&str])]) -> Roster {
        let mut r = Roster::default();
        for (seq, (user, classes)) in members.iter().enumerate() {
            let member = Member {
                user: (*user).into(),
                role: Role::Parent,
                classes: classes.iter().map(|c| c.to_string()).collect(),
                guardian_of: vec![],
                locale: Default::default(),
                contacts: Default::default(),
                preferences: vec![],
                display_name: None,
            };
            r.apply(&EventEnvelope {
                school_id: "s1".into(),
                day: "2026-01-01".into(),
                event_id: uuid::Uuid::nil(),
                stream: "roster:s1".into(),
                seq: seq as u64 + 1,
                kind: kinds::MEMBER_UPSERTED.into(),
                actor: "admin".into(),
                occurred_at: 0,
                payload: encode_payload(&member),
                hash: [0; 32],
            });
        }
        r
    }

    #[test]
    fn a_user_list_is_sorted_and_deduplicated_without_consulting_the_roster() {
        let to = Audience::Users(vec!["u2".into(), "u1".into(), "u2".into()]);
        assert_eq!(to.resolve(&Roster::default()).unwrap(), ["u1", "u2"]);
    }

    #[test]
    fn a_class_is_its_roster_members_and_a_school_is_everyone() {
        let r = roster(&[("a", &["c1"]), ("b", &["c2"]), ("c", &["c1", "c2"])]);
        assert_eq!(
            Audience::Class("c1".into()).resolve(&r).unwrap(),
            ["a", "c"]
        );
        assert_eq!(Audience::School.resolve(&r).unwrap(), ["a", "b", "c"]);
        assert!(Audience::Class("c9".into()).resolve(&r).unwrap().is_empty());
    }

    #[test]
    fn an_invalid_user_id_is_a_bad_request_naming_it() {
        let e = Audience::Users(vec!["ok".into(), "no way".into()])
            .resolve(&Roster::default())
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert_eq!(e.message, "invalid user id `no way`");
    }
}
