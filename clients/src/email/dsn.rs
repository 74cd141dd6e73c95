//! Delivery Status Notifications (RFC 3464): the bounces an MTA mails back to the envelope
//! sender, which for the hub is the VERP address of one recipient.
//!
//! A DSN is a `multipart/report; report-type=delivery-status` message (RFC 6522) whose
//! `message/delivery-status` part holds one block of per-message fields and then one block per
//! recipient, separated by blank lines; a third part returns the original message or its headers.
//! The parser also finds that part when the report is wrapped in another multipart (some
//! gateways do this) and when it is transfer-encoded.

use std::fmt;

use super::mime::Part;
use super::smtp::classify_enhanced;
use crate::outcome::Outcome;

/// What the reporting MTA did for a recipient (`Action:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnAction {
    /// Could not be delivered and will not be retried.
    Failed,
    /// Not delivered yet; the MTA keeps trying.
    Delayed,
    /// Delivered to the recipient's mailbox.
    Delivered,
    /// Handed to a system that does not send DSNs.
    Relayed,
    /// Delivered and forwarded to several addresses.
    Expanded,
}

impl DsnAction {
    fn parse(value: &str) -> Option<Self> {
        // Comments after the keyword, e.g. `failed (bad mailbox)`, are allowed.
        let word = value.split_whitespace().next()?.to_ascii_lowercase();
        Some(match word.as_str() {
            "failed" => DsnAction::Failed,
            "delayed" => DsnAction::Delayed,
            "delivered" => DsnAction::Delivered,
            "relayed" => DsnAction::Relayed,
            "expanded" => DsnAction::Expanded,
            _ => return None,
        })
    }
}

/// An enhanced status code `class.subject.detail` (RFC 3463), e.g. `5.1.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DsnStatus {
    /// 2 success, 4 persistent transient failure, 5 permanent failure.
    pub class: u8,
    /// The area: 1 addressing, 2 mailbox, 3 mail system, 4 network, 5 protocol, 6 content,
    /// 7 security or policy.
    pub subject: u16,
    /// The specific condition.
    pub detail: u16,
}

impl DsnStatus {
    /// Reads `5.1.1`, ignoring a trailing comment (`5.1.1 (user unknown)`).
    pub fn parse(value: &str) -> Option<Self> {
        let code = value.split_whitespace().next()?;
        let mut it = code.split('.');
        let class = it.next()?.parse().ok()?;
        let subject = it.next()?.parse().ok()?;
        let detail = it.next()?.parse().ok()?;
        if it.next().is_some() || !matches!(class, 2 | 4 | 5) {
            return None;
        }
        Some(Self {
            class,
            subject,
            detail,
        })
    }

    /// Finds the first enhanced code in free text such as an SMTP reply
    /// (`550 5.1.1 <x@y>: Recipient address rejected`).
    pub fn find_in(text: &str) -> Option<Self> {
        text.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '#')
            .find_map(|word| {
                let word = word.trim_end_matches([',', ';', ':']);
                (word.matches('.').count() == 2)
                    .then(|| DsnStatus::parse(word))
                    .flatten()
            })
    }
}

impl fmt::Display for DsnStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// The report about one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    /// The address the report is about (type prefix such as `rfc822;` removed).
    pub final_recipient: String,
    /// The address as the sender originally gave it, if reported.
    pub original_recipient: Option<String>,
    /// What happened.
    pub action: DsnAction,
    /// The enhanced status code.
    pub status: DsnStatus,
    /// The remote server's reply, e.g. `smtp; 550 5.1.1 user unknown`.
    pub diagnostic_code: Option<String>,
    /// The server that gave it.
    pub remote_mta: Option<String>,
    /// When the last attempt was made.
    pub last_attempt_date: Option<String>,
    /// For `delayed`: when the MTA gives up.
    pub will_retry_until: Option<String>,
}

impl DsnRecipient {
    /// A permanent failure: stop mailing this address.
    pub fn is_hard_bounce(&self) -> bool {
        self.action == DsnAction::Failed && self.status.class == 5
    }

    /// A transient failure or delay: count it; enough of them in a row suppress the address.
    pub fn is_soft_bounce(&self) -> bool {
        self.action == DsnAction::Delayed
            || (self.action == DsnAction::Failed && self.status.class == 4)
    }

    /// The same classification an SMTP reply would get: `Sent` for delivery, a retry class
    /// for delays, and for failures drop-recipient, fix-message or fix-config by status
    /// subject (see [`super::classify_smtp_reply`]).
    pub fn outcome(&self) -> Outcome<()> {
        let detail = format!(
            "{} {} {}",
            self.final_recipient,
            self.status,
            self.diagnostic_code.as_deref().unwrap_or("")
        );
        match self.action {
            DsnAction::Delivered | DsnAction::Relayed | DsnAction::Expanded => Outcome::Sent(()),
            DsnAction::Delayed => Outcome::RetryBackoff(detail),
            DsnAction::Failed => {
                let class = if self.status.class == 2 {
                    5
                } else {
                    self.status.class
                };
                classify_enhanced(u16::from(class) * 100, Some(self.status), detail.trim())
                    .map(|_: String| ())
            }
        }
    }
}

/// A parsed DSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    /// The MTA that wrote the report (`dns; mx.example.org` → `mx.example.org`).
    pub reporting_mta: Option<String>,
    /// The ENVID the message was submitted with (RFC 3461), if any.
    pub original_envelope_id: Option<String>,
    /// When the reporting MTA received the message.
    pub arrival_date: Option<String>,
    /// One entry per recipient reported on.
    pub recipients: Vec<DsnRecipient>,
    /// `Message-ID` of the returned original, without angle brackets.
    pub original_message_id: Option<String>,
    /// Where the DSN was addressed (its `To:`), i.e. our VERP address.
    pub to: Vec<String>,
}

/// Why a message is not a usable DSN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsnError {
    /// No `message/delivery-status` part anywhere in the message.
    #[error("not a delivery status notification")]
    NotADsn,
    /// The status part has no per-recipient block with the required fields.
    #[error("delivery status has no usable recipient block")]
    NoRecipients,
}

/// `rfc822; a@b` → `a@b`; also strips angle brackets.
fn strip_type(value: &str) -> String {
    let value = value.split_once(';').map_or(value, |(_, v)| v);
    value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

fn field<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
    block
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// Parses a raw DSN message (as stored in a mailbox).
pub fn parse_dsn(raw: &[u8]) -> Result<Dsn, DsnError> {
    let message = Part::parse(raw);
    let all = message.walk();
    let status_part = all
        .iter()
        .find(|p| {
            matches!(
                p.mime_type().as_str(),
                "message/delivery-status" | "message/global-delivery-status"
            )
        })
        .ok_or(DsnError::NotADsn)?;
    let text = status_part.text();
    let blocks: Vec<Vec<(String, String)>> = text
        .replace("\r\n", "\n")
        .split("\n\n")
        .map(super::mime::parse_fields)
        .filter(|b| !b.is_empty())
        .collect();
    let (per_message, per_recipient) = blocks.split_first().ok_or(DsnError::NoRecipients)?;
    let recipients: Vec<DsnRecipient> = per_recipient
        .iter()
        .filter_map(|block| {
            Some(DsnRecipient {
                final_recipient: strip_type(field(block, "final-recipient")?),
                original_recipient: field(block, "original-recipient").map(strip_type),
                action: DsnAction::parse(field(block, "action")?)?,
                status: DsnStatus::parse(field(block, "status")?)?,
                diagnostic_code: field(block, "diagnostic-code").map(str::to_owned),
                remote_mta: field(block, "remote-mta").map(strip_type),
                last_attempt_date: field(block, "last-attempt-date").map(str::to_owned),
                will_retry_until: field(block, "will-retry-until").map(str::to_owned),
            })
        })
        .collect();
    if recipients.is_empty() {
        return Err(DsnError::NoRecipients);
    }
    let original_message_id = all
        .iter()
        .find(|p| {
            matches!(
                p.mime_type().as_str(),
                "message/rfc822" | "text/rfc822-headers" | "message/global-headers"
            )
        })
        .and_then(|p| {
            Part::parse(&p.decoded_body())
                .header("message-id")
                .map(|id| id.trim().trim_matches(['<', '>']).to_owned())
        });
    let to = message
        .headers_named("to")
        .flat_map(|v| v.split(','))
        .map(|a| {
            let a = a.trim();
            match (a.rfind('<'), a.rfind('>')) {
                (Some(s), Some(e)) if s < e => a[s + 1..e].to_owned(),
                _ => a.to_owned(),
            }
        })
        .filter(|a| !a.is_empty())
        .collect();
    Ok(Dsn {
        reporting_mta: field(per_message, "reporting-mta").map(strip_type),
        original_envelope_id: field(per_message, "original-envelope-id").map(str::to_owned),
        arrival_date: field(per_message, "arrival-date").map(str::to_owned),
        recipients,
        original_message_id,
        to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postfix_user_unknown_bounce_is_a_hard_bounce_for_that_recipient() {
        let dsn = parse_dsn(include_bytes!("testdata/postfix-user-unknown.eml")).unwrap();
        assert_eq!(dsn.reporting_mta.as_deref(), Some("mx1.mufakose.ac.zw"));
        assert_eq!(dsn.original_envelope_id.as_deref(), Some("0190f3a4-env"));
        assert_eq!(
            dsn.to,
            ["bounce+0190f3a4-5b6c-7d8e-9f00-112233445566.3f2a9b1c0d8e7f6a5b4c@bounces.oneclass.co.zw"]
        );
        assert_eq!(
            dsn.original_message_id.as_deref(),
            Some("0190f3a4-5b6c-7d8e-9f00-112233445566@oneclass.co.zw")
        );
        let [r] = dsn.recipients.as_slice() else {
            panic!("{:?}", dsn.recipients)
        };
        assert_eq!(r.final_recipient, "tendai.moyo@mufakose.ac.zw");
        assert_eq!(
            r.original_recipient.as_deref(),
            Some("Tendai.Moyo@mufakose.ac.zw")
        );
        assert_eq!(r.action, DsnAction::Failed);
        assert_eq!(r.status.to_string(), "5.1.1");
        assert_eq!(r.remote_mta.as_deref(), Some("mail.mufakose.ac.zw"));
        assert!(r
            .diagnostic_code
            .as_deref()
            .unwrap()
            .contains("Recipient address rejected: User unknown in local recipient table"));
        assert!(r.is_hard_bounce() && !r.is_soft_bounce());
        assert!(matches!(r.outcome(), Outcome::DropRecipient(_)));
    }

    #[test]
    fn an_exim_style_delay_report_is_a_soft_bounce() {
        let dsn = parse_dsn(include_bytes!("testdata/delayed-mailbox-full.eml")).unwrap();
        let r = &dsn.recipients[0];
        assert_eq!(r.action, DsnAction::Delayed);
        assert_eq!(r.status.to_string(), "4.2.2");
        assert_eq!(
            r.will_retry_until.as_deref(),
            Some("Fri, 14 Mar 2025 09:12:44 +0200")
        );
        assert!(r.is_soft_bounce() && !r.is_hard_bounce());
        assert!(r.outcome().is_retryable());
    }

    #[test]
    fn a_report_wrapped_in_multipart_mixed_with_several_recipients_is_read() {
        let dsn = parse_dsn(include_bytes!("testdata/wrapped-two-recipients.eml")).unwrap();
        assert_eq!(dsn.recipients.len(), 2);
        assert_eq!(dsn.recipients[0].final_recipient, "amai.dube@example.org");
        assert_eq!(dsn.recipients[0].action, DsnAction::Failed);
        assert!(matches!(
            dsn.recipients[0].outcome(),
            Outcome::FixMessage(_)
        ));
        assert_eq!(dsn.recipients[1].action, DsnAction::Delivered);
        assert_eq!(dsn.recipients[1].outcome(), Outcome::Sent(()));
        assert_eq!(
            dsn.original_message_id.as_deref(),
            Some("abc-123@oneclass.co.zw")
        );
    }

    #[test]
    fn a_base64_status_part_and_a_policy_rejection_are_understood() {
        let dsn = parse_dsn(include_bytes!("testdata/base64-policy.eml")).unwrap();
        let r = &dsn.recipients[0];
        assert_eq!(r.status.to_string(), "5.7.1");
        assert!(matches!(r.outcome(), Outcome::FixConfig(_)), "{r:?}");
    }

    #[test]
    fn ordinary_mail_and_reports_without_recipients_are_refused() {
        assert_eq!(
            parse_dsn(b"From: a@b\r\nSubject: hi\r\n\r\nhello"),
            Err(DsnError::NotADsn)
        );
        let raw = b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; a\r\n\r\nAction: failed\r\n--x--\r\n";
        assert_eq!(parse_dsn(raw), Err(DsnError::NoRecipients));
    }

    #[test]
    fn enhanced_codes_are_found_in_smtp_replies() {
        assert_eq!(
            DsnStatus::find_in("550 5.1.1 <a@b>: Recipient address rejected")
                .map(|s| s.to_string()),
            Some("5.1.1".into())
        );
        assert_eq!(DsnStatus::find_in("421 try later, v1.2"), None);
        assert_eq!(
            DsnStatus::find_in("#4.4.7 (timeout)").map(|s| s.class),
            Some(4)
        );
    }
}
