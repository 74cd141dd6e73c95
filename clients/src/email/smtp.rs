//! The SMTP [`Mailer`]: renders a template, adds the list, tracking and VERP details, and sends
//! through a pooled `lettre` transport; SMTP replies become an [`Outcome`].
//!
//! Each e-mail is its own transaction with one recipient, so a 5xx reply is about that recipient
//! (or that message) only. Reply classes: 2xx sent; 4xx retry with backoff; authentication
//! failures (530, 534, 535, 538, enhanced 5.7.8) fix-config; permanent content problems (5.3.4,
//! 5.6.x, 552 about size) fix-message; policy refusals of the sender (other 5.7.x) fix-config;
//! every other 5xx drops the recipient. Timeouts and broken connections retry with backoff; TLS
//! failures (a server without STARTTLS, a bad certificate) are configuration.

use secrecy::{ExposeSecret as _, SecretString};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lettre::address::Envelope;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::PoolConfig;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::dsn::DsnStatus;
use super::mailer::{Email, Mailer};
use super::signing::{LinkSigner, VerpConfig};
use super::templates::Templates;
use crate::http::ConfigError;
use crate::outcome::Outcome;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which is mandatory: no credentials or mail go
    /// out if the upgrade fails (submission port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    ImplicitTls,
    /// No encryption at all; only for local sinks and the simulator.
    Plaintext,
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Server host name (also the name checked in its certificate).
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection protection.
    pub security: SmtpSecurity,
    /// Login (user name and password), if the server wants one.
    pub credentials: Option<(String, SecretString)>,
    /// The `From:` mailbox, e.g. `OneClass <noreply@oneclass.co.zw>`.
    pub from: String,
    /// Domain of generated `Message-ID`s and of `List-Id`; also our EHLO name.
    pub domain: String,
    /// Connections kept open at most.
    pub pool_max_size: u32,
    /// Deadline for each SMTP command and reply.
    pub timeout: Duration,
    /// Per-recipient return paths; the `From:` address is the envelope sender when `None`.
    pub verp: Option<VerpConfig>,
    /// Tracking and unsubscribe links; list mail cannot be sent without it.
    pub links: Option<LinkSigner>,
    /// Mailbox that also takes unsubscribe requests (`mailto:` in `List-Unsubscribe`).
    pub unsubscribe_mailbox: Option<String>,
}

/// An SMTP mailer with a connection pool.
#[derive(Debug)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    config: SmtpConfig,
    from: Mailbox,
    templates: Arc<Templates>,
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

impl SmtpMailer {
    /// Builds the mailer; no connection is made until the first send.
    pub fn new(config: SmtpConfig, templates: Arc<Templates>) -> Result<Self, ConfigError> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| ConfigError::Credential(format!("from address {:?}: {e}", config.from)))?;
        let relay_error = |e: lettre::transport::smtp::Error| ConfigError::Http(e.to_string());
        let builder = match config.security {
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                    .map_err(relay_error)?
            }
            SmtpSecurity::ImplicitTls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(relay_error)?
            }
            SmtpSecurity::Plaintext => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            }
        };
        let mut builder = builder
            .port(config.port)
            .timeout(Some(config.timeout))
            .hello_name(ClientId::Domain(config.domain.clone()))
            .pool_config(PoolConfig::new().max_size(config.pool_max_size.max(1)));
        if let Some((user, password)) = &config.credentials {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
            config,
            templates,
        })
    }

    /// The `Message-ID` (without brackets) an e-mail with this reference gets.
    pub fn message_id(&self, reference: &str) -> String {
        format!("{reference}@{}", self.config.domain)
    }

    /// Renders `email` into the message that would be sent; an `Err` is already classified.
    pub fn compose(&self, email: &Email) -> Result<Message, Outcome> {
        let address: Address =
            email.to.trim().parse().map_err(|e| {
                Outcome::DropRecipient(format!("invalid address {:?}: {e}", email.to))
            })?;
        let unsubscribe_url = match (&email.list, &self.config.links) {
            (Some(list), Some(links)) => Some(links.unsubscribe_url(list, &email.to)),
            (Some(_), None) => {
                return Err(Outcome::FixConfig(
                    "list mail needs a link signer for its unsubscribe URL".to_owned(),
                ))
            }
            (None, _) => None,
        };
        let mut context = match &email.context {
            serde_json::Value::Object(map) => map.clone(),
            serde_json::Value::Null => serde_json::Map::new(),
            other => {
                return Err(Outcome::FixMessage(format!(
                    "template context must be an object, not {other}"
                )))
            }
        };
        context.insert("unsubscribe_url".to_owned(), unsubscribe_url.clone().into());
        let rendered = self
            .templates
            .render(&email.template, email.language, &context.into())
            .map_err(|e| Outcome::FixMessage(e.to_string()))?;
        let message_id = self.message_id(&email.reference);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(email.to_name.clone(), address.clone()))
            .subject(rendered.subject)
            .message_id(Some(format!("<{message_id}>")))
            .date_now()
            .raw_header(header(
                "Content-Language",
                rendered.language.code().to_owned(),
            ));
        if let (Some(list), Some(url)) = (&email.list, &unsubscribe_url) {
            let mut targets = format!("<{url}>");
            if let Some(mailbox) = &self.config.unsubscribe_mailbox {
                let token = url.rsplit('/').next().unwrap_or_default();
                targets.push_str(&format!(
                    ", <mailto:{mailbox}?subject=unsubscribe%20{token}>"
                ));
            }
            builder = builder
                .raw_header(header("List-Unsubscribe", targets))
                .raw_header(header(
                    "List-Unsubscribe-Post",
                    "List-Unsubscribe=One-Click".to_owned(),
                ))
                .raw_header(header(
                    "List-Id",
                    format!("<{list}.{}>", self.config.domain),
                ))
                .raw_header(header("Precedence", "bulk".to_owned()));
        }
        let sender = match &self.config.verp {
            Some(verp) => verp
                .address(&email.reference)
                .parse::<Address>()
                .map_err(|e| Outcome::FixMessage(format!("reference unfit for VERP: {e}")))?,
            None => self.from.email.clone(),
        };
        let envelope = Envelope::new(Some(sender), vec![address])
            .map_err(|e| Outcome::FixMessage(e.to_string()))?;
        builder = builder.envelope(envelope);
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(rendered.text);
        let message = match rendered.html {
            Some(html) => {
                let html = match &self.config.links {
                    Some(links) => {
                        links.instrument_html(&email.reference, &html, unsubscribe_url.as_deref())
                    }
                    None => html,
                };
                builder.multipart(
                    MultiPart::alternative().singlepart(text).singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html),
                    ),
                )
            }
            None => builder.singlepart(text),
        };
        message.map_err(|e| Outcome::FixMessage(e.to_string()))
    }
}

/// Classifies an SMTP reply by its basic code and the enhanced code in its text, if any.
pub fn classify_smtp_reply(code: u16, text: &str) -> Outcome {
    classify_enhanced(code, DsnStatus::find_in(text), text)
}

/// The shared SMTP/DSN classification (see the module docs).
pub(crate) fn classify_enhanced(code: u16, enhanced: Option<DsnStatus>, text: &str) -> Outcome {
    let detail = format!("{code} {}", text.trim()).trim().to_owned();
    let subject_detail = enhanced.map(|s| (s.subject, s.detail));
    if (200..300).contains(&code) {
        return Outcome::Sent(detail);
    }
    let auth = matches!(code, 530 | 534 | 535 | 538)
        || matches!(subject_detail, Some((7, 8 | 9 | 11 | 12 | 13)));
    if (400..500).contains(&code) {
        return Outcome::RetryBackoff(detail);
    }
    if auth {
        return Outcome::FixConfig(detail);
    }
    let lower = text.to_ascii_lowercase();
    match subject_detail {
        Some((3, 4)) | Some((6, _)) => Outcome::FixMessage(detail),
        Some((7, _)) => Outcome::FixConfig(detail),
        Some((1 | 2, _)) => Outcome::DropRecipient(detail),
        None if code == 552 && lower.contains("size") => Outcome::FixMessage(detail),
        None if (500..=504).contains(&code) => Outcome::FixMessage(detail),
        _ => Outcome::DropRecipient(detail),
    }
}

fn classify_lettre(err: &lettre::transport::smtp::Error) -> Outcome {
    let text = err.to_string();
    if let Some(code) = err.status() {
        let code = code.to_string().parse::<u16>().unwrap_or(500);
        return classify_smtp_reply(code, &text);
    }
    if err.is_timeout() {
        Outcome::RetryBackoff(format!("timeout: {text}"))
    } else if err.is_tls() || err.is_client() {
        Outcome::FixConfig(text)
    } else {
        Outcome::RetryBackoff(text)
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    fn provider(&self) -> &str {
        "smtp"
    }

    #[tracing::instrument(skip_all, fields(provider = "smtp", reference = %email.reference))]
    async fn send(&self, email: &Email) -> Outcome {
        let message = match self.compose(email) {
            Ok(message) => message,
            Err(outcome) => return outcome,
        };
        // lettre's timeout bounds each command; this bounds the whole transaction.
        let deadline = self.config.timeout.saturating_mul(4);
        let outcome = match tokio::time::timeout(deadline, self.transport.send(message)).await {
            Ok(Ok(_response)) => Outcome::Sent(self.message_id(&email.reference)),
            Ok(Err(err)) => classify_lettre(&err),
            Err(_) => Outcome::RetryBackoff("timeout: smtp transaction".to_owned()),
        };
        tracing::debug!(class = outcome.class(), "email sent");
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_replies_fall_into_the_documented_classes() {
        let class = |code, text| classify_smtp_reply(code, text).class();
        assert_eq!(class(250, "2.0.0 Ok: queued"), "sent");
        assert_eq!(class(451, "4.7.1 greylisted, try again"), "retry_backoff");
        assert_eq!(class(421, "service closing"), "retry_backoff");
        assert_eq!(
            class(535, "5.7.8 Authentication credentials invalid"),
            "fix_config"
        );
        assert_eq!(class(530, "5.7.0 Authentication required"), "fix_config");
        assert_eq!(class(550, "5.1.1 <a@b>: User unknown"), "drop_recipient");
        assert_eq!(class(552, "5.2.2 Mailbox full"), "drop_recipient");
        assert_eq!(class(553, "mailbox name not allowed"), "drop_recipient");
        assert_eq!(
            class(552, "5.3.4 Message size exceeds limit"),
            "fix_message"
        );
        assert_eq!(class(552, "message size exceeds limit"), "fix_message");
        assert_eq!(class(554, "5.6.0 bad content"), "fix_message");
        assert_eq!(class(550, "5.7.1 DMARC policy"), "fix_config");
        assert_eq!(class(501, "syntax error in parameters"), "fix_message");
        assert_eq!(class(554, "transaction failed"), "drop_recipient");
    }
}
