//! HMAC-SHA256 tokens for the URLs and addresses an e-mail carries: the open pixel, click
//! redirects, the one-click unsubscribe link, and the per-recipient VERP return path.
//!
//! URL tokens are `base64url(payload) "." base64url(tag)` where the payload is a small JSON array
//! whose first element names the kind (`o`, `c`, `u`), so a token minted for one purpose never
//! verifies for another. Tags are compared in constant time. A click token signs the target URL
//! itself, so the redirect endpoint can never be used as an open redirect.
//!
//! VERP local parts must survive MTAs that fold case and stay within 64 octets, so they carry the
//! reference as is plus a lower-case hex tag truncated to 80 bits:
//! `<prefix>+<reference>.<20 hex digits>@<domain>`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret as _, SecretSlice};
use sha2::Sha256;

use crate::http::{base_url, ConfigError};

type HmacSha256 = Hmac<Sha256>;

/// Bytes of the HMAC kept in a VERP address (80 bits).
const VERP_TAG_BYTES: usize = 10;

/// A token or address that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// Not in the expected shape at all.
    #[error("malformed token")]
    Malformed,
    /// Well formed, but the tag is wrong (forged, altered, or signed with another key).
    #[error("bad signature")]
    BadSignature,
    /// Signed, but for another purpose (e.g. an open token presented as a click).
    #[error("token is for another purpose")]
    WrongKind,
}

/// A verified click: which message, and where to send the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickTarget {
    /// The e-mail's reference.
    pub reference: String,
    /// The original link.
    pub url: String,
}

/// A verified unsubscribe request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// The list to leave.
    pub list: String,
    /// The address leaving it.
    pub recipient: String,
}

fn mac(key: &[u8]) -> HmacSha256 {
    // unwrap: HMAC accepts keys of any length.
    HmacSha256::new_from_slice(key).unwrap()
}

/// Mints and verifies tracking and unsubscribe URLs under one base URL.
#[derive(Debug, Clone)]
pub struct LinkSigner {
    /// The HMAC key; redacted in `Debug` and zeroed on drop.
    key: SecretSlice<u8>,
    /// Where the hub serves the links, without a trailing slash.
    base: String,
}

impl LinkSigner {
    /// `secret` should be at least 32 random bytes; `base` is where the hub serves `/o/…`,
    /// `/c/…` and `/u/…` (e.g. `https://t.oneclass.co.zw`).
    pub fn new(secret: &[u8], base: &str) -> Result<Self, ConfigError> {
        if secret.len() < 16 {
            return Err(ConfigError::Credential(
                "link signing secret must be at least 16 bytes".to_owned(),
            ));
        }
        Ok(Self {
            key: secret.to_vec().into(),
            base: base_url(base)?,
        })
    }

    fn sign(&self, fields: &[&str]) -> String {
        // unwrap: serialising a list of strings cannot fail.
        let payload = serde_json::to_vec(fields).unwrap();
        let mut m = mac(self.key.expose_secret());
        m.update(&payload);
        let tag = m.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    fn verify(&self, token: &str, kind: &str, arity: usize) -> Result<Vec<String>, SigningError> {
        let (payload, tag) = token.split_once('.').ok_or(SigningError::Malformed)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| SigningError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| SigningError::Malformed)?;
        let mut m = mac(self.key.expose_secret());
        m.update(&payload);
        m.verify_slice(&tag)
            .map_err(|_| SigningError::BadSignature)?;
        let fields: Vec<String> =
            serde_json::from_slice(&payload).map_err(|_| SigningError::Malformed)?;
        if fields.first().map(String::as_str) != Some(kind) {
            return Err(SigningError::WrongKind);
        }
        if fields.len() != arity + 1 {
            return Err(SigningError::Malformed);
        }
        Ok(fields.into_iter().skip(1).collect())
    }

    /// The 1×1 image URL for one e-mail: `<base>/o/<token>.gif`.
    pub fn open_pixel_url(&self, reference: &str) -> String {
        format!("{}/o/{}.gif", self.base, self.sign(&["o", reference]))
    }

    /// The tracked form of `target` for one e-mail: `<base>/c/<token>`.
    pub fn click_url(&self, reference: &str, target: &str) -> String {
        format!("{}/c/{}", self.base, self.sign(&["c", reference, target]))
    }

    /// The one-click unsubscribe URL for `recipient` on `list`: `<base>/u/<token>`.
    pub fn unsubscribe_url(&self, list: &str, recipient: &str) -> String {
        format!(
            "{}/u/{}",
            self.base,
            self.sign(&["u", list, &recipient.to_ascii_lowercase()])
        )
    }

    /// Checks the token of an open-pixel hit (with or without the `.gif`) and returns the
    /// e-mail's reference.
    pub fn verify_open(&self, token: &str) -> Result<String, SigningError> {
        let token = token.strip_suffix(".gif").unwrap_or(token);
        let mut fields = self.verify(token, "o", 1)?;
        Ok(fields.remove(0))
    }

    /// Checks a click token and returns where to redirect.
    pub fn verify_click(&self, token: &str) -> Result<ClickTarget, SigningError> {
        let mut fields = self.verify(token, "c", 2)?;
        let url = fields.remove(1);
        Ok(ClickTarget {
            reference: fields.remove(0),
            url,
        })
    }

    /// Checks an unsubscribe token.
    pub fn verify_unsubscribe(&self, token: &str) -> Result<Unsubscribe, SigningError> {
        let mut fields = self.verify(token, "u", 2)?;
        let recipient = fields.remove(1);
        Ok(Unsubscribe {
            list: fields.remove(0),
            recipient,
        })
    }

    /// Rewrites every `href="http…"` in `html` to its click URL (except `keep`, the unsubscribe
    /// link, which must stay as it is) and adds the open pixel before `</body>`.
    pub fn instrument_html(&self, reference: &str, html: &str, keep: Option<&str>) -> String {
        let mut out = String::with_capacity(html.len() + 512);
        let mut rest = html;
        const HREF: &str = "href=\"";
        while let Some(at) = rest.find(HREF) {
            let start = at + HREF.len();
            out.push_str(&rest[..start]);
            rest = &rest[start..];
            let end = rest.find('"').unwrap_or(rest.len());
            let raw = &rest[..end];
            let target = unescape_attribute(raw);
            let trackable = (target.starts_with("https://") || target.starts_with("http://"))
                && Some(target.as_str()) != keep;
            if trackable {
                out.push_str(&self.click_url(reference, &target));
            } else {
                out.push_str(raw);
            }
            rest = &rest[end..];
        }
        out.push_str(rest);
        let pixel = format!(
            "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">",
            self.open_pixel_url(reference)
        );
        match out.rfind("</body>") {
            Some(at) => out.insert_str(at, &pixel),
            None => out.push_str(&pixel),
        }
        out
    }
}

/// Undoes the character references a template engine writes into an attribute
/// (`&amp;`, `&#x2f;`, `&#47;`, …), so the link is compared and signed as the browser sees it.
fn unescape_attribute(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Builds and reads per-recipient VERP envelope senders.
#[derive(Debug, Clone)]
pub struct VerpConfig {
    /// Local-part prefix, e.g. `bounce`.
    pub prefix: String,
    /// The domain whose mail the hub reads bounces from, e.g. `bounces.oneclass.co.zw`.
    pub domain: String,
    /// HMAC key, so nobody can make the hub suppress an address with a forged bounce.
    pub secret: SecretSlice<u8>,
}

impl VerpConfig {
    fn mac(&self, reference: &str) -> HmacSha256 {
        let mut m = mac(self.secret.expose_secret());
        m.update(b"verp\0");
        m.update(reference.to_ascii_lowercase().as_bytes());
        m
    }

    fn tag(&self, reference: &str) -> String {
        hex::encode(&self.mac(reference).finalize().into_bytes()[..VERP_TAG_BYTES])
    }

    /// The return path for the e-mail with this reference.
    pub fn address(&self, reference: &str) -> String {
        format!(
            "{}+{}.{}@{}",
            self.prefix,
            reference,
            self.tag(reference),
            self.domain
        )
    }

    /// The reference inside a VERP address a bounce was sent to (angle brackets allowed),
    /// lower-cased: MTAs may fold the case of a local part, so the tag ignores case.
    pub fn reference(&self, address: &str) -> Result<String, SigningError> {
        let address = address.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, domain) = address.rsplit_once('@').ok_or(SigningError::Malformed)?;
        if !domain.eq_ignore_ascii_case(&self.domain) {
            return Err(SigningError::Malformed);
        }
        let token = local
            .strip_prefix(&format!("{}+", self.prefix))
            .or_else(|| {
                // Some MTAs fold the whole local part to lower case.
                let lower = format!("{}+", self.prefix.to_ascii_lowercase());
                local
                    .to_ascii_lowercase()
                    .starts_with(&lower)
                    .then(|| &local[lower.len()..])
            })
            .ok_or(SigningError::Malformed)?;
        let (reference, tag) = token.rsplit_once('.').ok_or(SigningError::Malformed)?;
        let given = hex::decode(tag.to_ascii_lowercase()).map_err(|_| SigningError::Malformed)?;
        self.mac(reference)
            .verify_truncated_left(&given)
            .ok()
            .filter(|_| given.len() == VERP_TAG_BYTES)
            .ok_or(SigningError::BadSignature)?;
        Ok(reference.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> LinkSigner {
        LinkSigner::new(b"0123456789abcdef0123456789abcdef", "https://t.example/").unwrap()
    }

    #[test]
    fn open_and_click_tokens_verify_and_carry_their_data() {
        let s = signer();
        let open = s.open_pixel_url("0190a1b2-msg");
        let token = open.strip_prefix("https://t.example/o/").unwrap();
        assert_eq!(s.verify_open(token).unwrap(), "0190a1b2-msg");
        let click = s.click_url("0190a1b2-msg", "https://school.example/fees?term=2&y=2025");
        let token = click.strip_prefix("https://t.example/c/").unwrap();
        assert_eq!(
            s.verify_click(token).unwrap(),
            ClickTarget {
                reference: "0190a1b2-msg".into(),
                url: "https://school.example/fees?term=2&y=2025".into()
            }
        );
    }

    #[test]
    fn tampered_foreign_and_cross_purpose_tokens_are_refused() {
        let s = signer();
        let click = s.click_url("m1", "https://school.example/");
        let token = click.rsplit('/').next().unwrap();
        let (payload, tag) = token.split_once('.').unwrap();
        let evil = URL_SAFE_NO_PAD.encode(br#"["c","m1","https://evil.example/"]"#);
        assert_eq!(
            s.verify_click(&format!("{evil}.{tag}")),
            Err(SigningError::BadSignature)
        );
        let other =
            LinkSigner::new(b"another secret of 32 bytes......", "https://t.example").unwrap();
        assert_eq!(other.verify_click(token), Err(SigningError::BadSignature));
        assert_eq!(s.verify_open(token), Err(SigningError::WrongKind));
        assert_eq!(s.verify_click(payload), Err(SigningError::Malformed));
        assert_eq!(s.verify_click("%%%.###"), Err(SigningError::Malformed));
    }

    #[test]
    fn unsubscribe_tokens_round_trip() {
        let s = signer();
        let url = s.unsubscribe_url("school-7-news", "Parent@Example.org");
        let token = url.rsplit('/').next().unwrap();
        assert_eq!(
            s.verify_unsubscribe(token).unwrap(),
            Unsubscribe {
                list: "school-7-news".into(),
                recipient: "parent@example.org".into()
            }
        );
    }

    #[test]
    fn html_links_are_rewritten_except_the_unsubscribe_link_and_a_pixel_is_added() {
        let s = signer();
        let html = "<body><a href=\"https:&#x2f;&#x2f;school.example&#x2f;a?x=1&amp;y=2\">a</a>\
                    <a href=\"mailto:head@school.example\">m</a>\
                    <a href=\"https://t.example/u/keep\">u</a></body>";
        let out = s.instrument_html("m9", html, Some("https://t.example/u/keep"));
        assert!(out.contains("href=\"mailto:head@school.example\""));
        assert!(out.contains("href=\"https://t.example/u/keep\""));
        let click = out
            .split("href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let token = click.strip_prefix("https://t.example/c/").unwrap();
        assert_eq!(
            s.verify_click(token).unwrap().url,
            "https://school.example/a?x=1&y=2"
        );
        assert!(out.contains("/o/") && out.ends_with("</body>"));
    }

    #[test]
    fn verp_addresses_fit_smtp_limits_and_verify_even_after_case_folding() {
        let verp = VerpConfig {
            prefix: "bounce".into(),
            domain: "bounces.example.org".into(),
            secret: b"verp-secret".to_vec().into(),
        };
        let reference = "0190f3a4-5b6c-7d8e-9f00-112233445566";
        let address = verp.address(reference);
        let local = address.split('@').next().unwrap();
        assert!(local.len() <= 64, "{local} is {} octets", local.len());
        assert_eq!(verp.reference(&address).unwrap(), reference);
        assert_eq!(
            verp.reference(&format!("<{}>", address.to_ascii_uppercase()))
                .unwrap(),
            reference
        );
        let forged = address.replacen("0190f3a4", "0190f3a5", 1);
        assert_eq!(verp.reference(&forged), Err(SigningError::BadSignature));
        assert_eq!(
            verp.reference("bounce+x.00@elsewhere.org"),
            Err(SigningError::Malformed)
        );
    }
}
