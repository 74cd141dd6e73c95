//! Who may do what: every access rule of the hub, for the WebSocket (the channel table of the
//! protocol) and for REST (notifications, roster, journal, revocation), as pure functions of the
//! principal and the target. Each answers `Ok(())` or the error code to refuse with; the caller
//! words the message. Tenant isolation comes first everywhere: a principal acts only in its own
//! school, except a platform service (`school: "*"`, role `service`) where a rule says so.
//!
//! | function | allowed |
//! |---|---|
//! | [`can_connect`] | a WebSocket session: every role of a school except analysts (4003); platform tokens never (4001) |
//! | [`can_read`] | a channel of the caller's school it may see (see the channel table); analysts none |
//! | [`can_publish`] | announcements: staff and services; class: its members; DM: its two users; inbox: nobody; analysts nothing |
//! | [`can_notify`] | admins and services of the school; teachers only to a class of theirs |
//! | [`can_manage_roster`] | admins and services of the school, platform services |
//! | [`can_manage_calendar`] | admins and services of the school, platform services |
//! | [`can_read_journal`] | analysts, admins and services of the school, platform services |
//! | [`can_read_bodies`] | admins of the school only (and the access is audited) |
//! | [`can_revoke`] | admins and services of the token's school, platform services |
//! | [`can_read_delivery`] | admins and services of the delivery's school, platform services (teachers and parents once deliveries name their recipient) |
//!
//! Analysts are metadata-only (README, "Roles"): they read the journal's metadata and analytics
//! over REST. Every WebSocket op either carries message bodies (subscribe, history, channels,
//! publish) or takes part in conversations (read cursors, presence, typing), so an analyst
//! token opens no session at all, and the channel rules refuse analysts too, so a rule that
//! forgets to call [`can_connect`] still leaks nothing.

use oneclass_protocol::{ChannelName, ErrorCode};

use crate::notify::Audience;
use crate::principal::{Principal, Role};

/// Checks that apply before anything else: the channel's school must be the caller's school.
fn same_school(p: &Principal, channel: &ChannelName) -> Result<(), ErrorCode> {
    if p.school == channel.school() {
        Ok(())
    } else {
        Err(ErrorCode::Forbidden)
    }
}

/// Whether `p` takes part in conversations: every role but the metadata-only analyst.
fn takes_part(p: &Principal) -> Result<(), ErrorCode> {
    allow(p.role != Role::Analyst)
}

/// Whether `p` may open a WebSocket session. `Unauthorized` (close 4001) for a platform token,
/// which acts across schools on the REST API only; `Forbidden` (close 4003) for an analyst.
pub fn can_connect(p: &Principal) -> Result<(), ErrorCode> {
    if p.school == oneclass_protocol::token::PLATFORM_SCHOOL {
        return Err(ErrorCode::Unauthorized);
    }
    takes_part(p)
}

fn in_class(p: &Principal, class: &str) -> bool {
    match p.role {
        Role::Admin | Role::Service => true,
        Role::Teacher | Role::Parent => p.classes.iter().any(|c| c == class),
        Role::Analyst => false,
    }
}

/// Whether `p` may subscribe to and read the history of `channel`.
pub fn can_read(p: &Principal, channel: &ChannelName) -> Result<(), ErrorCode> {
    same_school(p, channel)?;
    takes_part(p)?;
    let allowed = match channel {
        ChannelName::Announcements { .. } => true,
        ChannelName::Class { class, .. } => in_class(p, class),
        ChannelName::Dm { a, b, .. } => p.user == *a || p.user == *b,
        ChannelName::Inbox { user, .. } => p.user == *user,
    };
    allowed.then_some(()).ok_or(ErrorCode::Forbidden)
}

/// Whether `p` may publish on `channel`.
pub fn can_publish(p: &Principal, channel: &ChannelName) -> Result<(), ErrorCode> {
    same_school(p, channel)?;
    takes_part(p)?;
    let allowed = match channel {
        ChannelName::Announcements { .. } => {
            matches!(p.role, Role::Teacher | Role::Admin | Role::Service)
        }
        ChannelName::Class { class, .. } => in_class(p, class),
        ChannelName::Dm { a, b, .. } => p.user == *a || p.user == *b,
        // Inboxes are written by the hub only (notifications).
        ChannelName::Inbox { .. } => false,
    };
    allowed.then_some(()).ok_or(ErrorCode::Forbidden)
}

/// Whether presence and typing are offered on `channel` (classes and DMs only). The one place
/// this is decided; the school actor caches it per channel.
pub fn has_presence(channel: &ChannelName) -> bool {
    matches!(channel, ChannelName::Class { .. } | ChannelName::Dm { .. })
}

fn allow(allowed: bool) -> Result<(), ErrorCode> {
    allowed.then_some(()).ok_or(ErrorCode::Forbidden)
}

/// Whether `p` may send a notification to `to` in `school`.
pub fn can_notify(p: &Principal, school: &str, to: &Audience) -> Result<(), ErrorCode> {
    allow(
        p.in_school(school)
            && match p.role {
                Role::Admin | Role::Service => true,
                Role::Teacher => matches!(to, Audience::Class(c) if p.classes.contains(c)),
                _ => false,
            },
    )
}

/// Whether `p` may read and change `school`'s roster.
pub fn can_manage_roster(p: &Principal, school: &str) -> Result<(), ErrorCode> {
    allow(p.in_school(school) && matches!(p.role, Role::Admin | Role::Service))
}

/// Whether `p` may read and set `school`'s calendar (time zone, quiet hours, no-disturb
/// periods): who manages the roster, since both are the school's own settings.
pub fn can_manage_calendar(p: &Principal, school: &str) -> Result<(), ErrorCode> {
    allow(p.in_school(school) && matches!(p.role, Role::Admin | Role::Service))
}

/// Whether `p` may read `school`'s journal (metadata, analytics).
pub fn can_read_journal(p: &Principal, school: &str) -> Result<(), ErrorCode> {
    allow(
        p.is_platform()
            || (p.school == school
                && matches!(p.role, Role::Analyst | Role::Admin | Role::Service)),
    )
}

/// Whether `p` may read the payloads (message bodies, personal data) of `school`'s journal.
pub fn can_read_bodies(p: &Principal, school: &str) -> Result<(), ErrorCode> {
    allow(p.role == Role::Admin && p.school == school)
}

/// Whether `p` may revoke a token issued for `token_school`.
pub fn can_revoke(p: &Principal, token_school: &str) -> Result<(), ErrorCode> {
    allow(matches!(p.role, Role::Admin | Role::Service) && p.in_school(token_school))
}

/// Whether `p` may read the report of a delivery of `school` (`GET /v1/deliveries/{id}`).
/// Teachers (own classes) and parents (own deliveries) will be allowed once a delivery's
/// journal entries name its recipient, which the dispatcher will write; until then they are
/// refused rather than guessed at.
pub fn can_read_delivery(p: &Principal, school: &str) -> Result<(), ErrorCode> {
    allow(matches!(p.role, Role::Admin | Role::Service) && p.in_school(school))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(user: &str, school: &str, role: Role, classes: &[&str]) -> Principal {
        Principal {
            user: user.into(),
            school: school.into(),
            role,
            classes: classes.iter().map(|c| c.to_string()).collect(),
            exp: u64::MAX,
            jti: None,
        }
    }

    fn ch(name: &str) -> ChannelName {
        ChannelName::parse(name).unwrap()
    }

    #[test]
    fn another_schools_channel_is_forbidden_for_every_role() {
        for role in [Role::Parent, Role::Teacher, Role::Admin, Role::Service] {
            let p = principal("u1", "s2", role, &["c1"]);
            for name in [
                "class:s1:c1",
                "school:s1:announcements",
                "dm:s1:u1:u2",
                "user:s1:u1",
            ] {
                assert_eq!(can_read(&p, &ch(name)), Err(ErrorCode::Forbidden));
                assert_eq!(can_publish(&p, &ch(name)), Err(ErrorCode::Forbidden));
            }
        }
    }

    #[test]
    fn parents_use_only_the_classes_in_their_token() {
        let p = principal("p1", "s1", Role::Parent, &["c1"]);
        assert!(can_read(&p, &ch("class:s1:c1")).is_ok());
        assert!(can_publish(&p, &ch("class:s1:c1")).is_ok());
        assert_eq!(can_read(&p, &ch("class:s1:c2")), Err(ErrorCode::Forbidden));
        assert_eq!(
            can_publish(&p, &ch("school:s1:announcements")),
            Err(ErrorCode::Forbidden)
        );
        assert!(can_read(&p, &ch("school:s1:announcements")).is_ok());
    }

    #[test]
    fn only_the_two_users_of_a_dm_use_it_and_nobody_publishes_into_an_inbox() {
        let third = principal("u3", "s1", Role::Teacher, &[]);
        assert_eq!(
            can_read(&third, &ch("dm:s1:u1:u2")),
            Err(ErrorCode::Forbidden)
        );
        let u1 = principal("u1", "s1", Role::Parent, &[]);
        assert!(can_read(&u1, &ch("dm:s1:u1:u2")).is_ok());
        assert!(can_read(&u1, &ch("user:s1:u1")).is_ok());
        assert_eq!(can_read(&u1, &ch("user:s1:u2")), Err(ErrorCode::Forbidden));
        let admin = principal("a1", "s1", Role::Admin, &[]);
        assert_eq!(
            can_publish(&admin, &ch("user:s1:u1")),
            Err(ErrorCode::Forbidden)
        );
        assert_eq!(
            can_publish(&u1, &ch("user:s1:u1")),
            Err(ErrorCode::Forbidden)
        );
    }

    const DENIED: Result<(), ErrorCode> = Err(ErrorCode::Forbidden);

    #[test]
    fn the_websocket_is_for_people_of_a_school_not_analysts_or_platform_services() {
        for role in [Role::Parent, Role::Teacher, Role::Admin, Role::Service] {
            assert!(
                can_connect(&principal("u", "s1", role, &[])).is_ok(),
                "{role}"
            );
        }
        assert_eq!(
            can_connect(&principal("x", "s1", Role::Analyst, &[])),
            DENIED
        );
        assert_eq!(
            can_connect(&principal("svc", "*", Role::Service, &[])),
            Err(ErrorCode::Unauthorized)
        );
    }

    /// The analyst's whole WebSocket row of the rule table: every channel kind, read and write,
    /// even channels that name the analyst or list a class in its token.
    #[test]
    fn an_analyst_reads_and_writes_no_channel_even_its_own() {
        let analyst = principal("an1", "s1", Role::Analyst, &["c1"]);
        for name in [
            "school:s1:announcements",
            "class:s1:c1",
            "dm:s1:an1:t1",
            "user:s1:an1",
        ] {
            assert_eq!(can_read(&analyst, &ch(name)), DENIED, "read {name}");
            assert_eq!(can_publish(&analyst, &ch(name)), DENIED, "publish {name}");
        }
    }

    #[test]
    fn teachers_notify_only_their_own_classes_and_parents_never() {
        let t = principal("t1", "s1", Role::Teacher, &["c1"]);
        assert!(can_notify(&t, "s1", &Audience::Class("c1".into())).is_ok());
        assert_eq!(can_notify(&t, "s1", &Audience::Class("c2".into())), DENIED);
        assert_eq!(can_notify(&t, "s1", &Audience::School), DENIED);
        assert_eq!(
            can_notify(&t, "s1", &Audience::Users(vec!["u".into()])),
            DENIED
        );
        let parent = principal("p1", "s1", Role::Parent, &["c1"]);
        assert_eq!(
            can_notify(&parent, "s1", &Audience::Class("c1".into())),
            DENIED
        );
        let admin = principal("a1", "s1", Role::Admin, &[]);
        assert!(can_notify(&admin, "s1", &Audience::School).is_ok());
        assert_eq!(can_notify(&admin, "s2", &Audience::School), DENIED);
        let platform = principal("svc", "*", Role::Service, &[]);
        assert!(can_notify(&platform, "s2", &Audience::School).is_ok());
    }

    #[test]
    fn the_roster_is_for_the_schools_admins_and_services() {
        assert!(can_manage_roster(&principal("a", "s1", Role::Admin, &[]), "s1").is_ok());
        assert!(can_manage_roster(&principal("s", "s1", Role::Service, &[]), "s1").is_ok());
        assert!(can_manage_roster(&principal("s", "*", Role::Service, &[]), "s1").is_ok());
        assert_eq!(
            can_manage_roster(&principal("a", "s2", Role::Admin, &[]), "s1"),
            DENIED
        );
        for role in [Role::Teacher, Role::Parent, Role::Analyst] {
            assert_eq!(
                can_manage_roster(&principal("u", "s1", role, &[]), "s1"),
                DENIED
            );
        }
    }

    #[test]
    fn the_journal_is_for_analysts_admins_and_services_but_bodies_only_for_admins() {
        for role in [Role::Analyst, Role::Admin, Role::Service] {
            assert!(can_read_journal(&principal("u", "s1", role, &[]), "s1").is_ok());
            assert_eq!(
                can_read_journal(&principal("u", "s2", role, &[]), "s1"),
                DENIED
            );
        }
        for role in [Role::Teacher, Role::Parent] {
            assert_eq!(
                can_read_journal(&principal("u", "s1", role, &[]), "s1"),
                DENIED
            );
        }
        let platform = principal("svc", "*", Role::Service, &[]);
        assert!(can_read_journal(&platform, "s1").is_ok());
        assert!(can_read_bodies(&principal("a", "s1", Role::Admin, &[]), "s1").is_ok());
        assert_eq!(
            can_read_bodies(&principal("a", "s2", Role::Admin, &[]), "s1"),
            DENIED
        );
        assert_eq!(
            can_read_bodies(&principal("x", "s1", Role::Analyst, &[]), "s1"),
            DENIED
        );
        assert_eq!(can_read_bodies(&platform, "s1"), DENIED);
    }

    #[test]
    fn tokens_are_revoked_by_admins_and_services_of_their_school_or_the_platform() {
        assert!(can_revoke(&principal("a", "s1", Role::Admin, &[]), "s1").is_ok());
        assert!(can_revoke(&principal("s", "s1", Role::Service, &[]), "s1").is_ok());
        assert!(can_revoke(&principal("s", "*", Role::Service, &[]), "s9").is_ok());
        assert_eq!(
            can_revoke(&principal("a", "s1", Role::Admin, &[]), "s2"),
            DENIED
        );
        assert_eq!(
            can_revoke(&principal("t", "s1", Role::Teacher, &[]), "s1"),
            DENIED
        );
    }

    #[test]
    fn a_calendar_is_managed_by_admins_and_services_of_its_school_only() {
        assert!(can_manage_calendar(&principal("a", "s1", Role::Admin, &[]), "s1").is_ok());
        assert!(can_manage_calendar(&principal("s", "s1", Role::Service, &[]), "s1").is_ok());
        assert!(can_manage_calendar(&principal("s", "*", Role::Service, &[]), "s1").is_ok());
        assert_eq!(
            can_manage_calendar(&principal("a", "s2", Role::Admin, &[]), "s1"),
            DENIED
        );
        for role in [Role::Teacher, Role::Parent, Role::Analyst] {
            assert_eq!(
                can_manage_calendar(&principal("u", "s1", role, &["c1"]), "s1"),
                DENIED,
                "{role:?}"
            );
        }
    }

    #[test]
    fn a_delivery_report_is_read_by_admins_and_services_of_its_school_only() {
        assert!(can_read_delivery(&principal("a", "s1", Role::Admin, &[]), "s1").is_ok());
        assert!(can_read_delivery(&principal("s", "*", Role::Service, &[]), "s1").is_ok());
        assert_eq!(
            can_read_delivery(&principal("a", "s2", Role::Admin, &[]), "s1"),
            DENIED
        );
        for role in [Role::Teacher, Role::Parent, Role::Analyst] {
            assert_eq!(
                can_read_delivery(&principal("u", "s1", role, &["c1"]), "s1"),
                DENIED,
                "{role:?}"
            );
        }
    }
}
