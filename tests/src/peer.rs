//! "Run against a real peer, or skip, or fail under CI": the one rule for every test that needs
//! something outside the process (a CQL node, Kannel, an SMTP server, the providers' Python
//! SDKs, Chromium).
//!
//! A peer is named by an environment variable that the scripts under `scripts/` print when they
//! start it (`eval "$(scripts/cassandra.sh start)"`). Unset or blank, the test is skipped with a
//! `SKIPPED: …` line and passes, so `cargo test` works on a bare machine. Under CI the same
//! absence is a failure: `.ci/run` starts every peer, so a missing one means the run would prove
//! less than it claims.
//!
//! **What counts as CI.** `CI` set to anything except `""`, `"false"` or `"0"` (compared without
//! case). `.ci/run` exports `CI=true`, hosted CI services set `CI=true` or `CI=1`, and a developer
//! can say `CI=0` to opt out explicitly.
//!
//! This file has no dependency beyond `std`, so crates that the `oneclass-tests` package depends
//! on (storage, clients) include it by path into their own test binaries
//! (`#[path = "../../../tests/src/peer.rs"] mod peer;`) instead of depending on this package,
//! which would be a cycle.

/// The value of the environment variable `var`, which locates a real peer: `what` names it in
/// the notices ("a CQL node (scripts/cassandra.sh start)"). Unset or blank: prints
/// `SKIPPED: needs <what> (set <var>)` and returns `None`, except under CI (see the module doc),
/// where it panics.
pub fn peer(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ => {
            assert!(
                !under_ci(),
                "{var} is not set under CI: {what} must be started by .ci/run (scripts/test.sh)"
            );
            println!("SKIPPED: needs {what} (set {var})");
            None
        }
    }
}

/// Whether this run is CI, where a missing peer is a failure.
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| means_ci(&v))
}

/// The reading of a `CI` value: anything but blank, `0` or `false` means CI.
fn means_ci(value: &str) -> bool {
    let v = value.trim();
    !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
}

#[cfg(test)]
mod tests {
    use super::means_ci;

    #[test]
    fn ci_is_any_value_but_blank_zero_or_false() {
        for on in ["true", "1", "yes", "TRUE", "github"] {
            assert!(means_ci(on), "{on:?} should mean CI");
        }
        for off in ["", " ", "0", "false", "False"] {
            assert!(!means_ci(off), "{off:?} should not mean CI");
        }
    }
}
