//! The e-mail capability actors hold and the provider-neutral shape of one e-mail.

use std::fmt::Debug;

use async_trait::async_trait;

use crate::outcome::Outcome;

/// The languages the hub writes to parents in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// English; every template has it, and it is the fallback.
    English,
    /// chiShona.
    Shona,
    /// isiNdebele (Northern Ndebele, as spoken in Zimbabwe).
    Ndebele,
}

impl Language {
    /// Every language, English first.
    pub const ALL: [Language; 3] = [Language::English, Language::Shona, Language::Ndebele];

    /// The ISO 639-1 code, also used in template names and `Content-Language`.
    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Shona => "sn",
            Language::Ndebele => "nd",
        }
    }

    /// Reads a code such as `sn` or `en-ZW`; unknown codes give `None`.
    pub fn from_code(code: &str) -> Option<Self> {
        let primary = code.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        Language::ALL.into_iter().find(|l| l.code() == primary)
    }
}

/// One e-mail to one recipient, before rendering.
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    /// Recipient address (`parent@example.org`).
    pub to: String,
    /// Recipient display name, if known.
    pub to_name: Option<String>,
    /// The hub's id of this attempt for this recipient. It becomes the Message-ID's local part,
    /// the VERP token and the tracking tokens, so keep it short and lower-case (a UUID is ideal).
    pub reference: String,
    /// Template name, e.g. `announcement`.
    pub template: String,
    /// The recipient's language; English is used when the template lacks it.
    pub language: Language,
    /// Values the template may use.
    pub context: serde_json::Value,
    /// The mailing list this message belongs to, for the unsubscribe headers and link;
    /// transactional mail (`None`) carries no unsubscribe headers.
    pub list: Option<String>,
}

/// Something that can send e-mail. `send` returns `Sent(message_id)` (the `Message-ID` without
/// angle brackets) once the next hop accepted the message; later failures come back as DSNs.
#[async_trait]
pub trait Mailer: Send + Sync + Debug {
    /// Short provider name for logs and metrics.
    fn provider(&self) -> &str;

    /// Renders and sends one e-mail.
    async fn send(&self, email: &Email) -> Outcome;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes_round_trip_and_accept_regions() {
        for language in Language::ALL {
            assert_eq!(Language::from_code(language.code()), Some(language));
        }
        assert_eq!(Language::from_code("sn-ZW"), Some(Language::Shona));
        assert_eq!(Language::from_code("ND"), Some(Language::Ndebele));
        assert_eq!(Language::from_code("fr"), None);
    }
}
