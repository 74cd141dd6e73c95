//! Just enough MIME to read bounces and to check what an SMTP server stored: header parsing
//! with unfolding, `Content-Type` parameters, multipart splitting, base64 and quoted-printable
//! bodies, and RFC 2047 encoded words in headers.
//!
//! This is not a general mail parser: it is lenient (bare `\n` line ends, missing closing
//! boundaries) because bounces come from every MTA ever written, and it never fails, returning
//! what it could read.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// One MIME entity: a whole message or one part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Header fields in order, names as written, values unfolded and trimmed.
    pub headers: Vec<(String, String)>,
    /// The body as transmitted (still transfer-encoded).
    pub body: Vec<u8>,
}

/// Splits raw header text into unfolded fields.
pub fn parse_fields(text: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    fields
}

/// Where the header block ends: the index of the blank line and the index after it.
fn header_end(raw: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\n' {
            if raw.get(i + 1) == Some(&b'\n') {
                return Some((i + 1, i + 2));
            }
            if raw.get(i + 1) == Some(&b'\r') && raw.get(i + 2) == Some(&b'\n') {
                return Some((i + 1, i + 3));
            }
        }
        i += 1;
    }
    None
}

impl Part {
    /// Parses a message or part. A blank first line means "no headers".
    pub fn parse(raw: &[u8]) -> Part {
        let starts_blank = raw.starts_with(b"\n") || raw.starts_with(b"\r\n");
        let (head, body) = if starts_blank {
            (&raw[..0], &raw[if raw[0] == b'\n' { 1 } else { 2 }..])
        } else {
            match header_end(raw) {
                Some((head_end, body_start)) => (&raw[..head_end], &raw[body_start..]),
                None => (raw, &raw[raw.len()..]),
            }
        };
        Part {
            headers: parse_fields(&String::from_utf8_lossy(head)),
            body: body.to_vec(),
        }
    }

    /// The first field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every field called `name`.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The media type, lower-cased (`text/plain` when absent, as MIME says).
    pub fn mime_type(&self) -> String {
        self.header("content-type")
            .and_then(|v| v.split(';').next())
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "text/plain".to_owned())
    }

    /// A `Content-Type` parameter, unquoted (`boundary`, `report-type`, `charset`).
    pub fn content_param(&self, name: &str) -> Option<String> {
        let value = self.header("content-type")?;
        content_params(value)
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The body with its `Content-Transfer-Encoding` undone.
    pub fn decoded_body(&self) -> Vec<u8> {
        decode_transfer(
            self.header("content-transfer-encoding").unwrap_or("7bit"),
            &self.body,
        )
    }

    /// The decoded body as text (UTF-8, lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.decoded_body()).into_owned()
    }

    /// The parts of a multipart body; empty for anything else.
    pub fn parts(&self) -> Vec<Part> {
        if !self.mime_type().starts_with("multipart/") {
            return Vec::new();
        }
        let Some(boundary) = self.content_param("boundary") else {
            return Vec::new();
        };
        split_multipart(&self.body, &boundary)
            .into_iter()
            .map(Part::parse)
            .collect()
    }

    /// This part and every part nested in it, depth first.
    pub fn walk(&self) -> Vec<Part> {
        let mut all = vec![self.clone()];
        for part in self.parts() {
            all.extend(part.walk());
        }
        all
    }
}

/// `type/subtype; a=1; b="x y"` → `[(a, 1), (b, x y)]`.
pub fn content_params(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for piece in value.split(';').skip(1) {
        if let Some((k, v)) = piece.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            out.push((k.trim().to_ascii_lowercase(), v.to_owned()));
        }
    }
    out
}

/// The bodies between `--boundary` lines, without the line breaks that belong to the
/// delimiters.
pub fn split_multipart<'a>(body: &'a [u8], boundary: &str) -> Vec<&'a [u8]> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut current: Option<usize> = None;
    let mut pos = 0;
    while pos < body.len() {
        let line_end = body[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(body.len(), |i| pos + i + 1);
        let line = &body[pos..line_end];
        let trimmed = trim_line_end(line);
        if trimmed.starts_with(delimiter.as_bytes()) {
            let rest = &trimmed[delimiter.len()..];
            let is_close = rest.starts_with(b"--");
            if rest.iter().all(u8::is_ascii_whitespace) || is_close {
                if let Some(start) = current.take() {
                    parts.push(trim_line_end(&body[start..pos]));
                }
                if is_close {
                    return parts;
                }
                current = Some(line_end);
            }
        }
        pos = line_end;
    }
    if let Some(start) = current {
        parts.push(&body[start..]);
    }
    parts
}

fn trim_line_end(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// Undoes a `Content-Transfer-Encoding`; unknown encodings pass through.
pub fn decode_transfer(encoding: &str, body: &[u8]) -> Vec<u8> {
    match encoding.trim().to_ascii_lowercase().as_str() {
        "base64" => {
            let clean: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            STANDARD
                .decode(&clean)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&clean))
                .unwrap_or_else(|_| body.to_vec())
        }
        "quoted-printable" => decode_quoted_printable(body, false),
        _ => body.to_vec(),
    }
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Quoted-printable (RFC 2045), or the `Q` encoding of RFC 2047 when `q_words` (`_` is a space).
fn decode_quoted_printable(input: &[u8], q_words: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'=' {
            // Soft line break.
            if input.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if input.get(i + 1) == Some(&b'\r') && input.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex_digit),
                input.get(i + 2).copied().and_then(hex_digit),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if q_words && b == b'_' { b' ' } else { b });
        i += 1;
    }
    out
}

/// Decodes RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?UTF-8?Q?…?=`) in a header value.
/// Whitespace between two adjacent encoded words is dropped, as the RFC asks.
pub fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, after) = rest.split_at(start);
        let word = parse_word(after);
        match word {
            Some((decoded, used)) => {
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&decoded);
                rest = &after[used..];
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &after[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One encoded word at the start of `s`: its text and the bytes it spans.
fn parse_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = &inner[..end];
    let used = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    let bytes = match encoding.to_ascii_lowercase().as_str() {
        "b" => STANDARD.decode(text).ok()?,
        "q" => decode_quoted_printable(text.as_bytes(), true),
        _ => return None,
    };
    // Every charset a modern MTA uses for these languages is UTF-8 or a subset of it.
    Some((String::from_utf8_lossy(&bytes).into_owned(), used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_headers_are_unfolded() {
        let part = Part::parse(b"Subject: a\r\n  b\r\nX-A: 1\r\n\r\nbody");
        assert_eq!(part.header("subject"), Some("a b"));
        assert_eq!(part.header("x-a"), Some("1"));
        assert_eq!(part.body, b"body");
    }

    #[test]
    fn multipart_bodies_split_on_their_boundary() {
        let raw = b"Content-Type: multipart/mixed; boundary=\"b1\"\n\npreamble\n--b1\nContent-Type: text/plain\n\none\n--b1\n\ntwo\n--b1--\nepilogue";
        let parts = Part::parse(raw).parts();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, b"one");
        assert_eq!(parts[1].mime_type(), "text/plain");
        assert_eq!(parts[1].body, b"two");
    }

    #[test]
    fn transfer_encodings_and_encoded_words_decode() {
        assert_eq!(
            decode_transfer("quoted-printable", b"Mhoro =E2=80=94 vabereki=\r\n!"),
            "Mhoro — vabereki!".as_bytes()
        );
        assert_eq!(decode_transfer("base64", b"TWhv\r\ncm8="), b"Mhoro");
        assert_eq!(
            decode_words("=?utf-8?b?U2F3dWJvbmEg4oCU?= =?UTF-8?Q?_baba?= x"),
            "Sawubona — baba x"
        );
        assert_eq!(decode_words("plain =? text"), "plain =? text");
    }
}
