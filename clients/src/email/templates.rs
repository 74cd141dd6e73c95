//! Named e-mail templates in English, Shona and Ndebele, rendered with MiniJinja.
//!
//! A template is three sources per language: a subject line, a plain-text body and an optional
//! HTML body. They are registered under `<name>.<lang>.subject`, `<name>.<lang>.txt` and
//! `<name>.<lang>.html`, so MiniJinja escapes HTML only in the HTML body. A language a template
//! lacks falls back to English; a variable the context lacks is an error (a message with a hole
//! in it must not go out).

use minijinja::{Environment, UndefinedBehavior};

use super::mailer::Language;

/// A template could not be registered or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// No variant of this template exists, not even the English one.
    #[error("no template named {0:?}")]
    Unknown(String),
    /// MiniJinja refused the source or the rendering failed (syntax, missing variable).
    #[error("template {name:?}: {reason}")]
    Engine {
        /// The template's full name.
        name: String,
        /// The engine's complaint.
        reason: String,
    },
}

/// What a template produced for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The language actually used (English after a fallback).
    pub language: Language,
    /// Subject line, on one line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body, when the template has one.
    pub html: Option<String>,
}

/// The set of templates a mailer renders from.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

fn full_name(name: &str, language: Language, part: &str) -> String {
    format!("{name}.{}.{part}", language.code())
}

impl Templates {
    /// An empty set.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        Self { env }
    }

    /// Registers one language variant of a template.
    pub fn add(
        &mut self,
        name: &str,
        language: Language,
        subject: &str,
        text: &str,
        html: Option<&str>,
    ) -> Result<(), TemplateError> {
        let mut parts = vec![("subject", subject), ("txt", text)];
        if let Some(html) = html {
            parts.push(("html", html));
        }
        for (part, source) in parts {
            let full = full_name(name, language, part);
            self.env
                .add_template_owned(full.clone(), source.to_owned())
                .map_err(|e| TemplateError::Engine {
                    name: full,
                    reason: e.to_string(),
                })?;
        }
        Ok(())
    }

    /// True when `name` exists in `language` itself (no fallback).
    pub fn has(&self, name: &str, language: Language) -> bool {
        self.env
            .get_template(&full_name(name, language, "txt"))
            .is_ok()
    }

    /// Renders `name` in `language`, or in English when that variant does not exist.
    pub fn render(
        &self,
        name: &str,
        language: Language,
        context: &serde_json::Value,
    ) -> Result<Rendered, TemplateError> {
        let language = if self.has(name, language) {
            language
        } else if self.has(name, Language::English) {
            Language::English
        } else {
            return Err(TemplateError::Unknown(name.to_owned()));
        };
        let ctx = minijinja::Value::from(minijinja::value::Serde(context));
        let render = |part: &str| -> Result<Option<String>, TemplateError> {
            let full = full_name(name, language, part);
            let Ok(template) = self.env.get_template(&full) else {
                return Ok(None);
            };
            template
                .render(ctx.clone())
                .map(Some)
                .map_err(|e| TemplateError::Engine {
                    name: full,
                    reason: format!("{e:#}"),
                })
        };
        let subject = render("subject")?.unwrap_or_default();
        // A subject is one header line: fold any newline a template let through.
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(Rendered {
            language,
            subject,
            text: render("txt")?.unwrap_or_default(),
            html: render("html")?,
        })
    }

    /// The templates the hub ships: `announcement` (a school notice to parents) in all three
    /// languages. Context: `school`, `name`, `title`, `body`, `unsubscribe_url` (may be null).
    pub fn builtin() -> Self {
        let mut templates = Self::new();
        for (language, greeting, footer) in [
            (
                Language::English,
                "Dear",
                "You receive this because your child is enrolled at",
            ),
            (
                Language::Shona,
                "Mhoro",
                "Munogamuchira tsamba iyi nekuti mwana wenyu anodzidza ku",
            ),
            (
                Language::Ndebele,
                "Sawubona",
                "Uthola lincwadi le ngoba umntwana wakho ufunda e",
            ),
        ] {
            let stop = match language {
                Language::English => "Stop these e-mails",
                Language::Shona => "Regai kutumirwa tsamba idzi",
                Language::Ndebele => "Yekela ukuthola lezi incwadi",
            };
            let subject = "{{ school }}: {{ title }}".to_owned();
            let text = format!(
                "{greeting} {{{{ name }}}},\n\n{{{{ body }}}}\n\n{{{{ school }}}}\n\
                 {{% if unsubscribe_url %}}\n{footer} {{{{ school }}}}. {stop}: {{{{ unsubscribe_url }}}}\n{{% endif %}}"
            );
            let html = format!(
                "<!doctype html>\n<html lang=\"{code}\"><body>\n<p>{greeting} {{{{ name }}}},</p>\n\
                 <p>{{{{ body }}}}</p>\n<p>{{{{ school }}}}</p>\n\
                 {{% if unsubscribe_url %}}<p><small>{footer} {{{{ school }}}}. \
                 <a href=\"{{{{ unsubscribe_url }}}}\">{stop}</a></small></p>{{% endif %}}\n\
                 </body></html>\n",
                code = language.code()
            );
            // unwrap: the built-in sources are fixed and covered by tests.
            templates
                .add("announcement", language, &subject, &text, Some(&html))
                .unwrap();
        }
        templates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> serde_json::Value {
        json!({"school": "Mufakose High", "name": "Mai Chiedza", "title": "Zuva revabereki",
               "body": "Musangano <mangwana> & masikati.", "unsubscribe_url": null})
    }

    #[test]
    fn each_builtin_language_renders_its_own_greeting() {
        let t = Templates::builtin();
        let en = t.render("announcement", Language::English, &ctx()).unwrap();
        let sn = t.render("announcement", Language::Shona, &ctx()).unwrap();
        let nd = t.render("announcement", Language::Ndebele, &ctx()).unwrap();
        assert!(en.text.starts_with("Dear Mai Chiedza,"));
        assert!(sn.text.starts_with("Mhoro Mai Chiedza,"));
        assert!(nd.text.starts_with("Sawubona Mai Chiedza,"));
        assert_eq!(sn.subject, "Mufakose High: Zuva revabereki");
        assert_eq!(sn.language, Language::Shona);
    }

    #[test]
    fn html_is_escaped_but_text_is_not() {
        let r = Templates::builtin()
            .render("announcement", Language::English, &ctx())
            .unwrap();
        assert!(r.text.contains("Musangano <mangwana> & masikati."));
        let html = r.html.unwrap();
        assert!(html.contains("Musangano &lt;mangwana&gt; &amp; masikati."));
        assert!(
            !html.contains("<a href"),
            "no unsubscribe link without a url"
        );
    }

    #[test]
    fn a_missing_language_falls_back_to_english() {
        let mut t = Templates::new();
        t.add(
            "fees",
            Language::English,
            "Fees due",
            "Pay {{ amount }}",
            None,
        )
        .unwrap();
        let r = t
            .render("fees", Language::Ndebele, &json!({"amount": "USD 10"}))
            .unwrap();
        assert_eq!(r.language, Language::English);
        assert_eq!(r.text, "Pay USD 10");
        assert_eq!(r.html, None);
    }

    #[test]
    fn unknown_templates_and_missing_variables_are_errors() {
        let t = Templates::builtin();
        assert_eq!(
            t.render("nope", Language::English, &ctx()),
            Err(TemplateError::Unknown("nope".into()))
        );
        let err = t
            .render("announcement", Language::Shona, &json!({"school": "x"}))
            .unwrap_err();
        assert!(matches!(err, TemplateError::Engine { .. }), "{err:?}");
    }
}
