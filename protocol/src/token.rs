//! The claims of a OneClass token (PROTOCOL.md §9), the role vocabulary they carry, and the
//! default issuer and audience: the one definition that the hub verifies against, the hub's
//! `token` command and the tests mint with, and the load generator mints for its simulated users.
//!
//! Only the shape lives here. Signing and verification (algorithms, keys, leeway, revocation)
//! belong to the hub, which pins the accepted algorithms; this module pulls in no JWT library.
//!
//! Invariants: the JSON shape is part of the contract and fixed by the golden tests below. Field
//! names and order are those of PROTOCOL.md; `classes` may be absent on input (read as empty) but
//! is always written; `jti` is written only when present. An unknown `role` fails to decode, so a
//! token with one is refused as invalid rather than given some default power. The ids a token
//! names (`sub`, `school`, `classes`) must pass [`Claims::check_ids`] before the token is worth
//! anything: the hub refuses a token that fails it exactly like one with a bad signature.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::channel::{is_reserved_user_id, is_valid_id};

/// The issuer the hub expects unless configured otherwise (`auth.issuer`).
pub const DEFAULT_ISSUER: &str = "oneclass";

/// The audience every hub token carries unless the hub is configured otherwise (`auth.audience`).
pub const DEFAULT_AUDIENCE: &str = "oneclass-hub";

/// A role from the token's `role` claim: what the bearer may do (see the hub's permissions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Parent,
    Teacher,
    Admin,
    Analyst,
    Service,
}

impl Role {
    /// The claim's text, as it appears in a token.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Parent => "parent",
            Role::Teacher => "teacher",
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Service => "service",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The claims of a OneClass token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// The school id, or `*` for platform services.
    pub school: String,
    pub role: Role,
    /// Class ids the bearer belongs to; possibly empty, and absent means empty.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// The issuer; [`DEFAULT_ISSUER`] unless the hub is configured otherwise.
    pub iss: String,
    /// The audience; [`DEFAULT_AUDIENCE`] unless the hub is configured otherwise.
    pub aud: String,
    /// Token id, needed to revoke the token; tokens without one cannot be revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// The school claim of a platform service, which acts across schools (REST only).
pub const PLATFORM_SCHOOL: &str = "*";

/// Why a token's ids are unusable ([`Claims::check_ids`]). The messages never repeat a bad id:
/// it may be long or hold control characters, and the close reason of a WebSocket is short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("`sub` is not a valid user id (1-64 of A-Z a-z 0-9 _ - .)")]
    User,
    #[error("`sub` `{0}` is reserved for the hub")]
    ReservedUser(String),
    #[error("`school` is not a valid school id (1-64 of A-Z a-z 0-9 _ - .)")]
    School,
    #[error("`school` `*` is for service tokens only")]
    PlatformNotService,
    #[error("`classes` holds an invalid class id (1-64 of A-Z a-z 0-9 _ - .)")]
    Class,
}

impl Claims {
    /// Checks every id the token names against the channel-name id rule
    /// ([`crate::channel::is_valid_id`]), so each one fits into the channel names the hub builds
    /// from it (the user's inbox `user:{school}:{sub}`, DMs, classes), and refuses a `sub` the hub
    /// writes as itself. `school` may also be `*`, for a service token only.
    pub fn check_ids(&self) -> Result<(), IdError> {
        if !is_valid_id(&self.sub) {
            return Err(IdError::User);
        }
        if is_reserved_user_id(&self.sub) {
            return Err(IdError::ReservedUser(self.sub.clone()));
        }
        if self.school == PLATFORM_SCHOOL {
            if self.role != Role::Service {
                return Err(IdError::PlatformNotService);
            }
        } else if !is_valid_id(&self.school) {
            return Err(IdError::School);
        }
        if !self.classes.iter().all(|c| is_valid_id(c)) {
            return Err(IdError::Class);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> Claims {
        Claims {
            sub: "p1".into(),
            school: "s1".into(),
            role: Role::Parent,
            classes: vec!["c1".into(), "c2".into()],
            exp: 1_700_003_600,
            iat: 1_700_000_000,
            iss: DEFAULT_ISSUER.into(),
            aud: DEFAULT_AUDIENCE.into(),
            jti: None,
        }
    }

    #[test]
    fn claims_serialize_to_the_json_the_three_former_copies_wrote() {
        // The exact text the hub's, the tests' and the load generator's own `Claims` produced.
        assert_eq!(
            serde_json::to_string(&parent()).unwrap(),
            r#"{"sub":"p1","school":"s1","role":"parent","classes":["c1","c2"],"exp":1700003600,"iat":1700000000,"iss":"oneclass","aud":"oneclass-hub"}"#
        );
        let service = Claims {
            sub: "svc".into(),
            school: "*".into(),
            role: Role::Service,
            classes: vec![],
            jti: Some("0190f3a0-0000-7000-8000-000000000001".into()),
            ..parent()
        };
        assert_eq!(
            serde_json::to_string(&service).unwrap(),
            r#"{"sub":"svc","school":"*","role":"service","classes":[],"exp":1700003600,"iat":1700000000,"iss":"oneclass","aud":"oneclass-hub","jti":"0190f3a0-0000-7000-8000-000000000001"}"#
        );
    }

    #[test]
    fn missing_classes_read_as_empty_and_an_unknown_role_is_refused() {
        let c: Claims = serde_json::from_str(
            r#"{"sub":"a1","school":"s1","role":"admin","exp":2,"iat":1,"iss":"i","aud":"a"}"#,
        )
        .unwrap();
        assert_eq!((c.role, c.classes.len(), c.jti), (Role::Admin, 0, None));
        assert!(serde_json::from_str::<Claims>(
            r#"{"sub":"a1","school":"s1","role":"root","exp":2,"iat":1,"iss":"i","aud":"a"}"#,
        )
        .is_err());
    }

    #[test]
    fn ids_that_cannot_form_a_channel_name_or_pass_for_the_hub_are_refused() {
        assert_eq!(parent().check_ids(), Ok(()));
        let with = |f: fn(&mut Claims)| {
            let mut c = parent();
            f(&mut c);
            c.check_ids()
        };
        assert_eq!(with(|c| c.sub = String::new()), Err(IdError::User));
        assert_eq!(with(|c| c.sub = "x".repeat(600)), Err(IdError::User));
        assert_eq!(with(|c| c.sub = "a:b".into()), Err(IdError::User));
        assert_eq!(
            with(|c| c.sub = "System".into()),
            Err(IdError::ReservedUser("System".into()))
        );
        assert_eq!(with(|c| c.school = String::new()), Err(IdError::School));
        assert_eq!(with(|c| c.school = "s:1".into()), Err(IdError::School));
        assert_eq!(
            with(|c| c.school = PLATFORM_SCHOOL.into()),
            Err(IdError::PlatformNotService)
        );
        assert_eq!(
            with(|c| {
                c.school = PLATFORM_SCHOOL.into();
                c.role = Role::Service;
            }),
            Ok(())
        );
        assert_eq!(with(|c| c.classes.push("c 7".into())), Err(IdError::Class));
        assert_eq!(with(|c| c.classes.push(String::new())), Err(IdError::Class));
    }

    #[test]
    fn every_role_reads_back_from_the_text_it_writes() {
        for role in [
            Role::Parent,
            Role::Teacher,
            Role::Admin,
            Role::Analyst,
            Role::Service,
        ] {
            let json = serde_json::to_string(&role).unwrap();
            assert_eq!(json, format!("\"{role}\""));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), role);
        }
    }
}
