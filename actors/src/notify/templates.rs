//! The words of a notification per kind and language: a title and body (in-app, push, e-mail)
//! and a short SMS text, in English, Shona and Ndebele, rendered with MiniJinja through the
//! e-mail templates' engine ([`oneclass_clients::email::Templates`]), so both share one
//! fallback rule and one strictness: a missing language falls back to English, a kind with no
//! template falls back to the generic `notice` (the request's own title and body), and a variable
//! the context lacks is an error (a message with a hole in it must not go out).
//!
//! SMS text is measured as it will be billed ([`oneclass_clients::sms::analyse`]): its encoding,
//! units and segments, and a [`SmsWarning`] naming the characters that force UCS-2 (a curly
//! quote from a word processor turns a 1-part message into a 3-part one); the notification API
//! will return that warning (later work). The built-in texts are plain ASCII and stay GSM-7 unless
//! a variable brings in other characters. Non-emergency SMS end with the opt-out keyword line
//! POTRAZ requires on bulk SMS; emergencies do not offer it.
//!
//! Context variables, beyond `school` and `name` (the recipient's display name), every kind has:
//!
//! | kind | variables |
//! |---|---|
//! | `fees.reminder` | `student`, `amount` (formatted, e.g. `USD 120`), `due_date` |
//! | `exam.results` | `student`, `exam` |
//! | `attendance` | `student`, `date` |
//! | `event` | `event`, `date`, `place` |
//! | `emergency`, `notice` | `title`, `body` (the sender's own words) |
//!
//! The Shona and Ndebele texts were written to be short and plain, with the names of things in
//! colon-separated fields rather than in inflected sentences; they still want a native speaker's
//! review (docs/decisions.md lists them). Consumers: the dispatcher (later work) renders each
//! recipient's words from its plan's channel and the member's locale.

use oneclass_clients::email::{Language, TemplateError, Templates};
use oneclass_clients::sms::{analyse, non_gsm7_chars, SmsEncoding};
use serde::Serialize;

use crate::roster::Locale;

/// The template of kinds with none of their own.
pub const NOTICE: &str = "notice";

/// The words of one notification for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedNotice {
    /// The language used (English after a fallback).
    pub language: Language,
    /// The kind whose template was used (`notice` after a fallback).
    pub template: String,
    /// One line: a push title, an inbox title, an e-mail subject.
    pub title: String,
    pub body: String,
    pub sms: SmsText,
}

/// An SMS text and what it costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsText {
    pub text: String,
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 units (UCS-2).
    pub units: usize,
    /// Billed parts.
    pub segments: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<SmsWarning>,
}

/// The SMS data coding, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// Characters that forced an SMS to UCS-2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmsWarning {
    /// Each offending character once, in order of appearance.
    pub characters: Vec<char>,
    pub message: String,
}

/// Measures `text` as an SMS.
pub fn sms_text(text: String) -> SmsText {
    let s = analyse(&text);
    let encoding = match s.encoding {
        SmsEncoding::Gsm7 => Encoding::Gsm7,
        SmsEncoding::Ucs2 => Encoding::Ucs2,
    };
    let warning = (encoding == Encoding::Ucs2).then(|| {
        let characters = non_gsm7_chars(&text);
        let list: String = characters.iter().map(|c| format!("{c:?} ")).collect();
        SmsWarning {
            message: format!(
                "{list}forces UCS-2: 70 characters per SMS instead of 160, {} segments",
                s.segments
            ),
            characters,
        }
    });
    SmsText {
        text,
        encoding,
        units: s.units,
        segments: s.segments,
        warning,
    }
}

/// The language of a roster locale.
pub fn language(locale: Locale) -> Language {
    match locale {
        Locale::En => Language::English,
        Locale::Sn => Language::Shona,
        Locale::Nd => Language::Ndebele,
    }
}

/// One kind in one language: title, body, SMS text (MiniJinja sources).
struct Source {
    kind: &'static str,
    language: Language,
    title: &'static str,
    body: &'static str,
    sms: &'static str,
}

/// The opt-out line of non-emergency SMS, per language.
fn stop_line(language: Language) -> &'static str {
    match language {
        Language::English => " Reply STOP to opt out.",
        Language::Shona => " Tumirai STOP kuti murege kutumirwa.",
        Language::Ndebele => " Thumela STOP ukuze ungaphindi uthole.",
    }
}

#[rustfmt::skip]
const SOURCES: &[Source] = &[
    // --- English ---
    Source { kind: "fees.reminder", language: Language::English,
        title: "Fees reminder: {{ student }}",
        body: "Dear {{ name }}, this is a reminder that the school fees for {{ student }} ({{ amount }}) are due on {{ due_date }}. Thank you. {{ school }}",
        sms: "{{ school }}: Fees for {{ student }} ({{ amount }}) are due on {{ due_date }}. Thank you." },
    Source { kind: "exam.results", language: Language::English,
        title: "Exam results: {{ student }}",
        body: "Dear {{ name }}, the {{ exam }} results for {{ student }} are now available in the OneClass app. {{ school }}",
        sms: "{{ school }}: The {{ exam }} results for {{ student }} are out. Open the OneClass app to see them." },
    Source { kind: "attendance", language: Language::English,
        title: "Attendance: {{ student }}",
        body: "Dear {{ name }}, {{ student }} was marked absent ({{ date }}). If you did not expect this, please contact the school. {{ school }}",
        sms: "{{ school }}: {{ student }} was absent ({{ date }}). If this is unexpected, please contact the school." },
    Source { kind: "event", language: Language::English,
        title: "{{ event }}",
        body: "Dear {{ name }}, you are invited to {{ event }}. Date: {{ date }}. Place: {{ place }}. {{ school }}",
        sms: "{{ school }}: {{ event }}. Date: {{ date }}. Place: {{ place }}." },
    Source { kind: "emergency", language: Language::English,
        title: "URGENT: {{ title }}",
        body: "{{ body }} {{ school }}",
        sms: "URGENT {{ school }}: {{ title }}. {{ body }}" },
    Source { kind: NOTICE, language: Language::English,
        title: "{{ title }}",
        body: "{{ body }}",
        sms: "{{ school }}: {{ title }}. {{ body }}" },
    // --- chiShona ---
    Source { kind: "fees.reminder", language: Language::Shona,
        title: "Chiyeuchidzo chemari yechikoro: {{ student }}",
        body: "Mhoroi {{ name }}, tinokuyeuchidzai nezvemari yechikoro ya{{ student }}: {{ amount }}. Zuva rekupedzisira kubhadhara: {{ due_date }}. Tinotenda. {{ school }}",
        sms: "{{ school }}: Mari yechikoro ya{{ student }}: {{ amount }}. Bhadharai kusvika {{ due_date }}. Tinotenda." },
    Source { kind: "exam.results", language: Language::Shona,
        title: "Mibairo yebvunzo: {{ student }}",
        body: "Mhoroi {{ name }}, mibairo ya{{ student }} ({{ exam }}) yave kuwanikwa muOneClass app. {{ school }}",
        sms: "{{ school }}: Mibairo ya{{ student }} ({{ exam }}) yabuda. Vhurai OneClass app kuti muione." },
    Source { kind: "attendance", language: Language::Shona,
        title: "Kuuya kuchikoro: {{ student }}",
        body: "Mhoroi {{ name }}, {{ student }} haana kuuya kuchikoro ({{ date }}). Kana musingazvizivi, taurai nechikoro. {{ school }}",
        sms: "{{ school }}: {{ student }} haana kuuya kuchikoro ({{ date }}). Kana musingazvizivi, taurai nechikoro." },
    Source { kind: "event", language: Language::Shona,
        title: "{{ event }}",
        body: "Mhoroi {{ name }}, munokokwa ku{{ event }}. Zuva: {{ date }}. Nzvimbo: {{ place }}. {{ school }}",
        sms: "{{ school }}: {{ event }}. Zuva: {{ date }}. Nzvimbo: {{ place }}." },
    Source { kind: "emergency", language: Language::Shona,
        title: "NYAYA YEKUKURUMIDZA: {{ title }}",
        body: "{{ body }} {{ school }}",
        sms: "KUKURUMIDZA {{ school }}: {{ title }}. {{ body }}" },
    // --- isiNdebele ---
    Source { kind: "fees.reminder", language: Language::Ndebele,
        title: "Isikhumbuzo semali yesikolo: {{ student }}",
        body: "Sawubona {{ name }}, siyakukhumbuza ngemali yesikolo ka{{ student }}: {{ amount }}. Usuku lokucina lokubhadala: {{ due_date }}. Siyabonga. {{ school }}",
        sms: "{{ school }}: Imali yesikolo ka{{ student }}: {{ amount }}. Usuku lokubhadala: {{ due_date }}. Siyabonga." },
    Source { kind: "exam.results", language: Language::Ndebele,
        title: "Imiphumela yezivivinyo: {{ student }}",
        body: "Sawubona {{ name }}, imiphumela ka{{ student }} ({{ exam }}) isitholakala ku-OneClass app. {{ school }}",
        sms: "{{ school }}: Imiphumela ka{{ student }} ({{ exam }}) isiphumile. Vula i-OneClass app ukuze uyibone." },
    Source { kind: "attendance", language: Language::Ndebele,
        title: "Ukuza esikolo: {{ student }}",
        body: "Sawubona {{ name }}, {{ student }} kazange eze esikolo ({{ date }}). Nxa ubungakwazi lokhu, xhumana lesikolo. {{ school }}",
        sms: "{{ school }}: {{ student }} kazange eze esikolo ({{ date }}). Nxa ubungakwazi, xhumana lesikolo." },
    Source { kind: "event", language: Language::Ndebele,
        title: "{{ event }}",
        body: "Sawubona {{ name }}, uyamenywa ku-{{ event }}. Usuku: {{ date }}. Indawo: {{ place }}. {{ school }}",
        sms: "{{ school }}: {{ event }}. Usuku: {{ date }}. Indawo: {{ place }}." },
    Source { kind: "emergency", language: Language::Ndebele,
        title: "OKUPHUTHUMAYO: {{ title }}",
        body: "{{ body }} {{ school }}",
        sms: "KUYAPHUTHUMA {{ school }}: {{ title }}. {{ body }}" },
];

/// The SMS template's name for a kind (the title/body one is the kind itself).
fn sms_name(kind: &str) -> String {
    format!("{kind}#sms")
}

/// The notification templates the hub renders from.
#[derive(Debug)]
pub struct NotificationTemplates {
    templates: Templates,
}

impl NotificationTemplates {
    /// The built-in templates of every kind above.
    pub fn builtin() -> Self {
        let mut templates = Templates::new();
        for s in SOURCES {
            let sms = if s.kind == "emergency" {
                s.sms.to_owned()
            } else {
                format!("{}{}", s.sms, stop_line(s.language))
            };
            // unwrap: the built-in sources are fixed and every one is rendered by the tests.
            templates
                .add(s.kind, s.language, s.title, s.body, None)
                .unwrap();
            templates
                .add(&sms_name(s.kind), s.language, "", &sms, None)
                .unwrap();
        }
        Self { templates }
    }

    /// The words of a `kind` notification in `locale`'s language, from `context` (an object
    /// with the kind's variables).
    pub fn render(
        &self,
        kind: &str,
        locale: Locale,
        context: &serde_json::Value,
    ) -> Result<RenderedNotice, TemplateError> {
        let language = language(locale);
        let template = if self.templates.has(kind, Language::English) {
            kind
        } else {
            NOTICE
        };
        let words = self.templates.render(template, language, context)?;
        let sms = self
            .templates
            .render(&sms_name(template), language, context)?;
        Ok(RenderedNotice {
            language: words.language,
            template: template.to_owned(),
            title: words.subject,
            body: words.text,
            sms: sms_text(sms.text),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> serde_json::Value {
        json!({
            "school": "Mufakose High", "name": "Mai Chiedza", "student": "Tendai",
            "amount": "USD 120", "due_date": "2026-01-31", "exam": "Term 1",
            "date": "2026-03-10", "event": "Sports Day", "place": "the main field",
            "title": "School closed", "body": "Floods on Harare Drive: collect your children by 12:00.",
        })
    }

    #[test]
    fn every_kind_renders_in_all_three_languages_as_one_gsm7_sms() {
        let t = NotificationTemplates::builtin();
        for kind in [
            "fees.reminder",
            "exam.results",
            "attendance",
            "event",
            "emergency",
        ] {
            for locale in [Locale::En, Locale::Sn, Locale::Nd] {
                let r = t.render(kind, locale, &ctx()).unwrap();
                assert_eq!(r.language, language(locale), "{kind} {locale:?}");
                assert_eq!(r.template, kind);
                assert!(!r.title.is_empty() && !r.body.is_empty());
                assert_eq!(
                    r.sms.encoding,
                    Encoding::Gsm7,
                    "{kind} {locale:?}: {}",
                    r.sms.text
                );
                assert_eq!(r.sms.warning, None);
                assert!(r.sms.segments <= 2, "{kind} {locale:?}: {}", r.sms.text);
            }
        }
        let sn = t.render("fees.reminder", Locale::Sn, &ctx()).unwrap();
        assert!(sn.body.starts_with("Mhoroi Mai Chiedza,"), "{}", sn.body);
        assert!(sn.sms.text.contains("yaTendai: USD 120"), "{}", sn.sms.text);
        let nd = t.render("attendance", Locale::Nd, &ctx()).unwrap();
        assert!(
            nd.body.starts_with("Sawubona Mai Chiedza, Tendai kazange"),
            "{}",
            nd.body
        );
        let en = t.render("exam.results", Locale::En, &ctx()).unwrap();
        assert_eq!(en.title, "Exam results: Tendai");
    }

    #[test]
    fn routine_sms_carry_the_opt_out_line_and_emergencies_do_not() {
        let t = NotificationTemplates::builtin();
        let fees = t.render("fees.reminder", Locale::En, &ctx()).unwrap();
        assert!(fees.sms.text.ends_with("Reply STOP to opt out."));
        let sn = t.render("event", Locale::Sn, &ctx()).unwrap();
        assert!(sn.sms.text.contains("STOP"));
        let urgent = t.render("emergency", Locale::En, &ctx()).unwrap();
        assert!(urgent
            .sms
            .text
            .starts_with("URGENT Mufakose High: School closed."));
        assert!(!urgent.sms.text.contains("STOP"));
    }

    #[test]
    fn an_unknown_kind_uses_the_notice_and_a_missing_language_english() {
        let t = NotificationTemplates::builtin();
        let r = t.render("club.news", Locale::Nd, &ctx()).unwrap();
        assert_eq!(r.template, NOTICE);
        assert_eq!(r.language, Language::English, "notice has English only");
        assert_eq!(r.title, "School closed");
        assert!(r
            .sms
            .text
            .starts_with("Mufakose High: School closed. Floods"));
    }

    #[test]
    fn a_missing_variable_is_an_error_not_a_hole() {
        let t = NotificationTemplates::builtin();
        let e = t
            .render(
                "fees.reminder",
                Locale::Sn,
                &json!({"school": "x", "name": "y"}),
            )
            .unwrap_err();
        assert!(matches!(e, TemplateError::Engine { .. }), "{e:?}");
    }

    #[test]
    fn a_character_outside_gsm7_forces_ucs2_and_is_named_in_the_warning() {
        let t = NotificationTemplates::builtin();
        let mut c = ctx();
        c["student"] = json!("Tendai’s brother");
        let r = t.render("attendance", Locale::En, &c).unwrap();
        assert_eq!(r.sms.encoding, Encoding::Ucs2);
        let w = r.sms.warning.unwrap();
        assert_eq!(w.characters, ['’']);
        assert!(w.message.contains("forces UCS-2"), "{}", w.message);
        assert_eq!(r.sms.segments, r.sms.units.div_ceil(67));
    }

    #[test]
    fn segments_follow_the_gsm7_and_ucs2_part_sizes() {
        assert_eq!(sms_text("a".repeat(160)).segments, 1);
        assert_eq!(sms_text("a".repeat(161)).segments, 2);
        let curly = format!("{}’", "a".repeat(159));
        let s = sms_text(curly);
        assert_eq!((s.encoding, s.units, s.segments), (Encoding::Ucs2, 160, 3));
        assert_eq!(sms_text("ŋ".repeat(70)).segments, 1);
        assert_eq!(sms_text(String::new()).segments, 0);
    }
}
