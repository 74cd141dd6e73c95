//! Timestamps on the wire: RFC 3339 in UTC with millisecond precision (`2026-11-27T05:19:00.123Z`).
//! Inside the hub and the journal a timestamp is milliseconds since the Unix epoch.

use time::{format_description::FormatItem, macros::format_description, OffsetDateTime};

const RFC3339_MS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Formats milliseconds since the epoch as RFC 3339 UTC with milliseconds.
pub fn format_ms(ms: i64) -> String {
    let dt = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // unwrap: the format description only uses fields every date has.
    dt.format(RFC3339_MS).unwrap()
}

/// Parses an RFC 3339 timestamp (any offset, any precision) into milliseconds since the epoch.
pub fn parse_ms(s: &str) -> Option<i64> {
    let dt = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some((dt.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// The UTC date (`YYYY-MM-DD`) of a timestamp, the journal's `day`.
pub fn day_of_ms(ms: i64) -> String {
    format_ms(ms)[..10].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_in_utc_and_parses_back() {
        let ms = 1_795_000_000_123;
        let s = format_ms(ms);
        assert!(s.ends_with(".123Z"), "{s}");
        assert_eq!(parse_ms(&s), Some(ms));
        assert_eq!(day_of_ms(ms), &s[..10]);
    }
}
