//! Who may read and publish on which channel (the channel table of the protocol). Pure functions
//! of the principal and the channel; the school's policy is passed in.

use oneclass_protocol::{ChannelName, ErrorCode};

use crate::principal::{Principal, Role};

/// Checks that apply before anything else: the channel's school must be the caller's school.
fn same_school(p: &Principal, channel: &ChannelName) -> Result<(), ErrorCode> {
    if p.school == channel.school() {
        Ok(())
    } else {
        Err(ErrorCode::Forbidden)
    }
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
    let allowed = match channel {
        ChannelName::Announcements { .. } => true,
        ChannelName::Class { class, .. } => in_class(p, class),
        ChannelName::Dm { a, b, .. } => p.user == *a || p.user == *b,
        ChannelName::Inbox { user, .. } => p.user == *user,
    };
    allowed.then_some(()).ok_or(ErrorCode::Forbidden)
}

/// Whether `p` may publish on `channel`. `parents_read_only` is the school's policy for classes.
pub fn can_publish(
    p: &Principal,
    channel: &ChannelName,
    parents_read_only: bool,
) -> Result<(), ErrorCode> {
    same_school(p, channel)?;
    let allowed = match channel {
        ChannelName::Announcements { .. } => {
            matches!(p.role, Role::Teacher | Role::Admin | Role::Service)
        }
        ChannelName::Class { class, .. } => {
            in_class(p, class) && !(parents_read_only && p.role == Role::Parent)
        }
        ChannelName::Dm { a, b, .. } => p.user == *a || p.user == *b,
        // Inboxes are written by the hub only (notifications).
        ChannelName::Inbox { .. } => false,
    };
    allowed.then_some(()).ok_or(ErrorCode::Forbidden)
}

/// Whether presence and typing are offered on `channel` (classes and DMs only).
pub fn has_presence(channel: &ChannelName) -> bool {
    matches!(channel, ChannelName::Class { .. } | ChannelName::Dm { .. })
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
                assert_eq!(can_publish(&p, &ch(name), false), Err(ErrorCode::Forbidden));
            }
        }
    }

    #[test]
    fn parents_use_only_the_classes_in_their_token() {
        let p = principal("p1", "s1", Role::Parent, &["c1"]);
        assert!(can_read(&p, &ch("class:s1:c1")).is_ok());
        assert!(can_publish(&p, &ch("class:s1:c1"), false).is_ok());
        assert_eq!(
            can_publish(&p, &ch("class:s1:c1"), true),
            Err(ErrorCode::Forbidden)
        );
        assert_eq!(can_read(&p, &ch("class:s1:c2")), Err(ErrorCode::Forbidden));
        assert_eq!(
            can_publish(&p, &ch("school:s1:announcements"), false),
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
            can_publish(&admin, &ch("user:s1:u1"), false),
            Err(ErrorCode::Forbidden)
        );
        assert_eq!(
            can_publish(&u1, &ch("user:s1:u1"), false),
            Err(ErrorCode::Forbidden)
        );
    }
}
