//! The `from`/`to` range of the analyst routes (`journal/events`, `journal/export`,
//! `analytics/summary`). Each bound is a full RFC 3339 time or a `YYYY-MM-DD` UTC date (the start
//! of that day); `from` is inclusive, `to` exclusive and must be later than `from`. All three
//! routes parse their range here, so they accept and refuse the same ranges with the same words.

use oneclass_protocol::timestamp::parse_ms;

use crate::error::ApiError;

/// A checked, non-empty time range, in ms since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive.
    pub from_ms: i64,
    /// Exclusive; always after `from_ms`.
    pub to_ms: i64,
}

impl TimeRange {
    /// Parses the `from` and `to` query parameters; a bad bound is named, and an empty or
    /// inverted range is refused.
    pub fn parse(from: &str, to: &str) -> Result<Self, ApiError> {
        let from_ms = parse_bound("from", from)?;
        let to_ms = parse_bound("to", to)?;
        if to_ms <= from_ms {
            return Err(ApiError::bad_request("`to` must be after `from`"));
        }
        Ok(Self { from_ms, to_ms })
    }
}

/// One bound: a full RFC 3339 timestamp or a UTC date.
fn parse_bound(name: &str, value: &str) -> Result<i64, ApiError> {
    let parsed = if value.len() == 10 {
        parse_ms(&format!("{value}T00:00:00Z"))
    } else {
        parse_ms(value)
    };
    parsed.ok_or_else(|| ApiError::bad_request(format!("`{name}` must be RFC 3339 or YYYY-MM-DD")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_both_parse_to_a_range() {
        let r = TimeRange::parse("2026-01-01", "2026-01-01T00:00:01Z").unwrap();
        assert_eq!(r.to_ms - r.from_ms, 1000);
    }

    #[test]
    fn an_inverted_or_empty_range_is_refused() {
        for (from, to) in [("2026-01-02", "2026-01-01"), ("2026-01-01", "2026-01-01")] {
            let e = TimeRange::parse(from, to).unwrap_err();
            assert!(e.message.contains("`to` must be after `from`"), "{e}");
        }
    }

    #[test]
    fn a_bad_bound_is_named() {
        assert!(TimeRange::parse("yesterday", "2026-01-01")
            .unwrap_err()
            .message
            .contains("`from`"));
        assert!(TimeRange::parse("2026-01-01", "2026-13-45")
            .unwrap_err()
            .message
            .contains("`to`"));
    }
}
