//! What a roster member may hold: the one check every member passes before it is journaled
//! ([`check`]), run by whoever accepts a member from outside (today `PUT …/members/{user}`),
//! which maps its [`InvalidMember`] to its wire (a REST 400).
//!
//! A member that passes is bounded and clean: every id is a protocol id; lists are capped
//! ([`MAX_IDS`] classes or guardianships, [`Limits::max_push_tokens_per_member`] push tokens,
//! one entry per delivery channel in `preferences`); every text field has a length bound and no
//! control or bidirectional-override character (so a name cannot reorder what an admin reads
//! beside it, nor break a CSV export or a log line). Contacts are normalised so that one person
//! has one spelling:
//!
//! - `phone`: a Zimbabwean mobile in any common form (`0771 234 567`, `263771234567`, `+263…`;
//!   digits, spaces and `+ - ( ) .` only), stored as E.164 (`+263771234567`); parsed by
//!   [`ZwMobile`], the number type every outbound channel (SMS, WhatsApp, payments) takes, so a
//!   stored number is one they can reach. Other countries' numbers and Zimbabwean landlines are
//!   refused.
//! - `email`: an addr-spec (no display name, no IP-literal domain, a dotted domain) per the
//!   `email_address` crate, at most [`MAX_EMAIL_BYTES`], surrounding spaces trimmed.
//! - `push_tokens`: FCM registration tokens or APNs device tokens (hex): ASCII letters, digits,
//!   `-`, `_`, `:`; at most [`MAX_PUSH_TOKEN_BYTES`]; duplicates dropped, order kept.
//! - `display_name`: trimmed, 1 to [`MAX_DISPLAY_NAME_CHARS`] characters.
//!
//! The check refuses on the first fault, naming the member and the field (`contacts.phone`,
//! `classes[3]`), and never echoes more than a short prefix of the offending value.
//! Members already in the journal from before these rules are replayed as they are: the check
//! guards what comes in, it does not rewrite history.

use email_address::{EmailAddress, Options};
use oneclass_clients::ZwMobile;
use oneclass_protocol::channel::is_valid_id;

use crate::roster::{Contacts, Member};
use crate::Limits;

/// Most classes, or students guarded, one member may list.
pub const MAX_IDS: usize = 256;
/// The delivery channels a member may prefer, each at most once.
pub const CHANNELS: [&str; 4] = ["push", "whatsapp", "sms", "email"];
/// Longest phone number accepted before parsing: a Zimbabwean mobile in its longest common
/// spelling (`00263 77 123 4567` with separators) is 18 characters; the bound keeps parsing
/// cheap whatever is sent.
pub const MAX_PHONE_INPUT_BYTES: usize = 32;
/// Longest e-mail address: RFC 5321 limits a forward path to 256 octets including the angle
/// brackets.
pub const MAX_EMAIL_BYTES: usize = 254;
/// Longest push token. FCM registration tokens are about 150-200 characters and APNs device
/// tokens 64 hex characters today (Apple says their length may grow); 512 leaves room for both
/// without letting a token carry a payload.
pub const MAX_PUSH_TOKEN_BYTES: usize = 512;
/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;
/// Bytes of an offending value quoted in an error.
const QUOTE_BYTES: usize = 40;

/// Why a member was refused: which member, which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("member `{user}`: `{field}` {reason}")]
pub struct InvalidMember {
    /// The member's user id (as given; quoted short if it is itself the fault).
    pub user: String,
    /// The field at fault, as the request names it: `contacts.phone`, `classes[3]`.
    pub field: String,
    /// What is wrong, for the person who sent it.
    pub reason: String,
}

/// Checks `member` and returns it normalised (phone in E.164, trimmed text, duplicate push
/// tokens dropped), or the first fault.
pub fn check(member: Member, limits: &Limits) -> Result<Member, InvalidMember> {
    let user = member.user.clone();
    let fault = |field: &str, reason: String| InvalidMember {
        user: quote(&user),
        field: field.to_owned(),
        reason,
    };
    if !is_valid_id(&member.user) {
        return Err(fault("user", "must be 1-64 of A-Z a-z 0-9 _ - .".into()));
    }
    check_ids("classes", &member.classes).map_err(|(f, r)| fault(&f, r))?;
    check_ids("guardian_of", &member.guardian_of).map_err(|(f, r)| fault(&f, r))?;
    check_preferences(&member.preferences).map_err(|(f, r)| fault(&f, r))?;
    let display_name = member
        .display_name
        .as_deref()
        .map(display_name)
        .transpose()
        .map_err(|r| fault("display_name", r))?;
    let contacts = check_contacts(member.contacts, limits).map_err(|(f, r)| fault(&f, r))?;
    Ok(Member {
        display_name,
        contacts,
        ..member
    })
}

/// A field name and what is wrong with it.
type Fault = (String, String);

fn check_ids(field: &str, ids: &[String]) -> Result<(), Fault> {
    if ids.len() > MAX_IDS {
        return Err((field.into(), format!("lists more than {MAX_IDS} ids")));
    }
    match ids.iter().position(|id| !is_valid_id(id)) {
        Some(i) => Err((
            format!("{field}[{i}]"),
            format!(
                "`{}` is not an id (1-64 of A-Z a-z 0-9 _ - .)",
                quote(&ids[i])
            ),
        )),
        None => Ok(()),
    }
}

fn check_preferences(preferences: &[String]) -> Result<(), Fault> {
    for (i, p) in preferences.iter().enumerate() {
        let field = || format!("preferences[{i}]");
        if !CHANNELS.contains(&p.as_str()) {
            return Err((
                field(),
                format!(
                    "`{}` is not a channel (push, whatsapp, sms, email)",
                    quote(p)
                ),
            ));
        }
        if preferences[..i].contains(p) {
            return Err((field(), format!("repeats `{p}`")));
        }
    }
    Ok(())
}

fn check_contacts(contacts: Contacts, limits: &Limits) -> Result<Contacts, Fault> {
    let phone = contacts
        .phone
        .as_deref()
        .map(phone)
        .transpose()
        .map_err(|r| ("contacts.phone".to_owned(), r))?;
    let email = contacts
        .email
        .as_deref()
        .map(email)
        .transpose()
        .map_err(|r| ("contacts.email".to_owned(), r))?;
    let max = limits.max_push_tokens_per_member;
    if contacts.push_tokens.len() > max {
        return Err((
            "contacts.push_tokens".into(),
            format!("lists more than {max} tokens"),
        ));
    }
    let mut push_tokens: Vec<String> = Vec::with_capacity(contacts.push_tokens.len());
    for (i, token) in contacts.push_tokens.into_iter().enumerate() {
        push_token(&token).map_err(|r| (format!("contacts.push_tokens[{i}]"), r))?;
        if !push_tokens.contains(&token) {
            push_tokens.push(token);
        }
    }
    Ok(Contacts {
        phone,
        email,
        push_tokens,
    })
}

/// A Zimbabwean mobile in E.164.
fn phone(input: &str) -> Result<String, String> {
    if input.len() > MAX_PHONE_INPUT_BYTES {
        return Err(format!(
            "is longer than {MAX_PHONE_INPUT_BYTES} bytes: not a phone number"
        ));
    }
    if let Some(c) = input
        .chars()
        .find(|c| !c.is_ascii_digit() && !matches!(c, '+' | ' ' | '-' | '(' | ')' | '.'))
    {
        return Err(format!(
            "holds `{}`: only digits, spaces and + - ( ) . are allowed",
            c.escape_default()
        ));
    }
    ZwMobile::parse(input)
        .map(|n| n.e164())
        .map_err(|e| format!("must be a Zimbabwean mobile number such as +263771234567 ({e})"))
}

fn email(input: &str) -> Result<String, String> {
    let input = input.trim();
    if input.len() > MAX_EMAIL_BYTES {
        return Err(format!("is longer than {MAX_EMAIL_BYTES} bytes"));
    }
    clean_text(input)?;
    let options = Options::default()
        .with_required_tld()
        .without_domain_literal()
        .without_display_text();
    EmailAddress::parse_with_options(input, options)
        .map(|_| input.to_owned())
        .map_err(|e| format!("is not an e-mail address ({e})"))
}

fn push_token(token: &str) -> Result<(), String> {
    if token.is_empty() || token.len() > MAX_PUSH_TOKEN_BYTES {
        return Err(format!("must be 1-{MAX_PUSH_TOKEN_BYTES} bytes"));
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'))
    {
        return Err(format!(
            "`{}` holds characters no FCM or APNs token has (A-Z a-z 0-9 - _ :)",
            quote(token)
        ));
    }
    Ok(())
}

fn display_name(input: &str) -> Result<String, String> {
    let name = input.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_DISPLAY_NAME_CHARS {
        return Err(format!("must be 1-{MAX_DISPLAY_NAME_CHARS} characters"));
    }
    clean_text(name)?;
    Ok(name.to_owned())
}

/// Refuses control characters (C0, DEL, C1), line and paragraph separators, and the Unicode
/// bidirectional controls (UAX #9: embeddings, overrides, isolates and the implicit marks),
/// which can make text display in another order than it is stored. Written out because the set
/// is small and fixed by the standard; no crate offers just this test.
fn clean_text(text: &str) -> Result<(), String> {
    match text.chars().find(|&c| {
        c.is_control()
            || matches!(c,
                '\u{2028}' | '\u{2029}'
                | '\u{061C}' | '\u{200E}' | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}')
    }) {
        Some(c) => Err(format!(
            "holds the control or bidirectional character U+{:04X}",
            c as u32
        )),
        None => Ok(()),
    }
}

/// At most [`QUOTE_BYTES`] of `s` (on a character boundary), with `…` when cut, and control and
/// bidirectional characters escaped, for error messages.
fn quote(s: &str) -> String {
    let mut end = s.len().min(QUOTE_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut out: String = s[..end]
        .chars()
        .flat_map(|c| {
            if clean_text(c.encode_utf8(&mut [0; 4])).is_err() {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if end < s.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::Locale;
    use crate::Role;

    fn member() -> Member {
        Member {
            user: "p1".into(),
            role: Role::Parent,
            classes: vec!["c1".into()],
            guardian_of: vec!["s1".into()],
            locale: Locale::En,
            contacts: Contacts::default(),
            preferences: vec!["push".into(), "sms".into()],
            display_name: Some("Tendai Moyo".into()),
        }
    }

    fn with_contacts(f: impl FnOnce(&mut Contacts)) -> Member {
        let mut m = member();
        f(&mut m.contacts);
        m
    }

    fn refused(m: Member) -> InvalidMember {
        check(m, &Limits::default()).unwrap_err()
    }

    #[test]
    fn a_clean_member_passes_unchanged() {
        let m = with_contacts(|c| {
            c.phone = Some("+263771234567".into());
            c.email = Some("tendai@example.co.zw".into());
            c.push_tokens = vec!["fcm:APA91b-x_y".into(), "ab12cd34".into()];
        });
        assert_eq!(check(m.clone(), &Limits::default()).unwrap(), m);
    }

    #[test]
    fn local_and_international_spellings_of_a_mobile_become_e164() {
        for input in [
            "0771234567",
            "0771 234 567",
            "077-123-4567",
            "263771234567",
            "00263771234567",
            "+263 77 123 4567",
        ] {
            let m = check(
                with_contacts(|c| c.phone = Some(input.into())),
                &Limits::default(),
            )
            .unwrap();
            assert_eq!(
                m.contacts.phone.as_deref(),
                Some("+263771234567"),
                "{input}"
            );
        }
    }

    #[test]
    fn a_phone_that_is_not_a_zimbabwean_mobile_is_refused_naming_the_field() {
        for input in [
            "",
            "hello",
            "+27821234567",
            "+263242123456",
            "0771234567\0",
            "\u{202E}0771234567",
            "7".repeat(200_000).as_str(),
        ] {
            let e = refused(with_contacts(|c| c.phone = Some(input.into())));
            assert_eq!(
                (e.user.as_str(), e.field.as_str()),
                ("p1", "contacts.phone")
            );
            assert!(e.to_string().len() < 300, "short message: {e}");
        }
    }

    #[test]
    fn emails_are_checked_bounded_and_trimmed() {
        let m = check(
            with_contacts(|c| c.email = Some("  a.b@school.ac.zw ".into())),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(m.contacts.email.as_deref(), Some("a.b@school.ac.zw"));
        let long = format!("{}@example.org", "a".repeat(250));
        for bad in [
            "not-an-email",
            "a@localhost",
            "a@[127.0.0.1]",
            "Tendai <t@example.org>",
            "t\u{0000}@example.org",
            "t\u{202E}@example.org",
            long.as_str(),
        ] {
            let e = refused(with_contacts(|c| c.email = Some(bad.into())));
            assert_eq!(e.field, "contacts.email", "{bad}");
        }
    }

    #[test]
    fn push_tokens_have_a_charset_a_length_and_a_count() {
        let m = check(
            with_contacts(|c| c.push_tokens = vec!["t1".into(), "t2".into(), "t1".into()]),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(m.contacts.push_tokens, ["t1", "t2"], "duplicates dropped");
        for (tokens, field) in [
            (vec!["ok".into(), String::new()], "contacts.push_tokens[1]"),
            (vec!["a b".into()], "contacts.push_tokens[0]"),
            (vec!["x".repeat(513)], "contacts.push_tokens[0]"),
            (vec!["tok\u{202E}".into()], "contacts.push_tokens[0]"),
            (
                (0..11).map(|i| format!("t{i}")).collect(),
                "contacts.push_tokens",
            ),
        ] {
            assert_eq!(
                refused(with_contacts(|c| c.push_tokens = tokens)).field,
                field
            );
        }
    }

    #[test]
    fn display_names_refuse_control_and_bidi_characters_and_are_bounded() {
        let mut m = member();
        m.display_name = Some("  Nyasha Chiweshe ".into());
        assert_eq!(
            check(m, &Limits::default())
                .unwrap()
                .display_name
                .as_deref(),
            Some("Nyasha Chiweshe")
        );
        for bad in [
            "",
            "   ",
            "evil\u{202E}txt.exe",
            "a\u{2066}b",
            "line\nbreak",
            "nul\0",
            "n".repeat(101).as_str(),
        ] {
            let mut m = member();
            m.display_name = Some(bad.into());
            assert_eq!(refused(m).field, "display_name", "{bad:?}");
        }
        // Scripts and emoji are fine, including the joiners they need.
        let mut m = member();
        m.display_name = Some("Ṱhandiwe 👩‍👧 محمد".into());
        assert!(check(m, &Limits::default()).is_ok());
    }

    #[test]
    fn ids_lists_and_preferences_are_checked_with_their_index() {
        let mut m = member();
        m.classes = vec!["c1".into(), "bad id".into()];
        assert_eq!(refused(m).field, "classes[1]");
        let mut m = member();
        m.guardian_of = (0..=MAX_IDS).map(|i| format!("s{i}")).collect();
        assert_eq!(refused(m).field, "guardian_of");
        let mut m = member();
        m.preferences = vec!["sms".into(), "pigeon".into()];
        assert_eq!(refused(m).field, "preferences[1]");
        let mut m = member();
        m.preferences = vec!["sms".into(), "sms".into()];
        assert_eq!(refused(m).field, "preferences[1]");
        let mut m = member();
        m.user = "a:b".into();
        assert_eq!(refused(m).field, "user");
    }

    #[test]
    fn an_error_quotes_a_short_escaped_prefix_of_the_value() {
        let mut m = member();
        m.classes = vec![format!("\u{202E}{}", "x".repeat(1000))];
        let e = refused(m).to_string();
        assert!(e.contains("\\u{202e}"), "{e}");
        assert!(e.contains('…') && e.len() < 200, "{e}");
    }
}
