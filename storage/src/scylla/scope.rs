//! Where a stream name is listed for `streams_with_prefix`.
//!
//! CQL cannot range-scan partition keys, so names are grouped into partitions ("scopes") that a
//! prefix query can name: a stream's scope is its name up to and including the second ':'
//! (`dm:school:` for `dm:school:u1:u2`), else up to the first (`payment:` for `payment:42`), else
//! the empty scope. Each non-empty scope is itself listed under its parent (`dm:school:` under
//! `dm:`, `dm:` under ``), so a prefix too short to name a scope walks down that tree.

/// The scope a stream (or a prefix that reaches that far) belongs to.
pub(crate) fn scope_of(name: &str) -> &str {
    let mut colons = name.match_indices(':').map(|(i, _)| i);
    match (colons.next(), colons.next()) {
        (_, Some(second)) => &name[..=second],
        (Some(first), None) => &name[..=first],
        (None, None) => "",
    }
}

/// The scope a non-empty scope is listed under.
pub(crate) fn parent_of(scope: &str) -> &str {
    let trimmed = scope.strip_suffix(':').unwrap_or(scope);
    match trimmed.find(':') {
        Some(first) => &scope[..=first],
        None => "",
    }
}

/// The partition key of a scope: CQL refuses an empty partition key, so the empty scope is
/// stored as `*` (no real scope can be `*`: every non-empty one ends with ':').
pub(crate) fn partition(scope: &str) -> &str {
    if scope.is_empty() {
        "*"
    } else {
        scope
    }
}

/// How many ':' a prefix holds, capped at 2 (deeper names share their level-2 scope).
pub(crate) fn depth(prefix: &str) -> usize {
    prefix.matches(':').count().min(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_parents() {
        assert_eq!(scope_of("dm:s1:u1:u2"), "dm:s1:");
        assert_eq!(scope_of("dm:s1:"), "dm:s1:");
        assert_eq!(scope_of("payment:42"), "payment:");
        assert_eq!(scope_of("roster"), "");
        assert_eq!(parent_of("dm:s1:"), "dm:");
        assert_eq!(parent_of("dm:"), "");
        assert_eq!(depth("dm:s1:u"), 2);
        assert_eq!(depth("dm:s"), 1);
        assert_eq!(depth("d"), 0);
    }
}
