//! E-mail: the [`Mailer`] capability, the SMTP client over `lettre`, multilingual templates,
//! signed tracking, unsubscribe and VERP addresses, and the RFC 3464 bounce (DSN) parser.
//!
//! One e-mail goes to one recipient in its own SMTP transaction, so that its envelope sender can
//! be a per-recipient VERP address and every SMTP reply concerns that recipient alone. The
//! message is rendered from a named template in the recipient's language (English, Shona or
//! Ndebele, falling back to English), carries RFC 8058 one-click unsubscribe headers, and its HTML
//! part gets an open pixel and click-tracking links whose tokens are HMAC-signed by
//! [`LinkSigner`], which also checks them when the hub's tracking endpoints are hit.

mod dsn;
mod mailer;
pub mod mime;
mod signing;
mod smtp;
mod templates;

pub use dsn::{parse_dsn, Dsn, DsnAction, DsnError, DsnRecipient, DsnStatus};
pub use mailer::{Email, Language, Mailer};
pub use signing::{ClickTarget, LinkSigner, SigningError, Unsubscribe, VerpConfig};
pub use smtp::{classify_smtp_reply, SmtpConfig, SmtpMailer, SmtpSecurity};
pub use templates::{Rendered, TemplateError, Templates};
