//! [`Quota`]: a sustained rate and a burst, as configured, and its `governor` form.
//!
//! GCRA (the generic cell rate algorithm, what `governor` implements) lets `burst` requests
//! through at once and then one every `1 / per_second` seconds; a key that stays idle refills
//! to the full burst. Both numbers are non-zero integers, so a quota that lets nothing through
//! cannot be written (serde refuses a `0` at startup, naming the key).

use std::num::NonZeroU32;

use serde::Deserialize;

/// A rate limit: `per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Requests per second sustained.
    pub per_second: NonZeroU32,
    /// Requests let through at once by a key that was idle.
    pub burst: NonZeroU32,
}

impl Quota {
    /// A quota of `per_second` sustained and `burst` at once; `None` if either is zero.
    pub const fn new(per_second: u32, burst: u32) -> Option<Self> {
        match (NonZeroU32::new(per_second), NonZeroU32::new(burst)) {
            (Some(per_second), Some(burst)) => Some(Self { per_second, burst }),
            _ => None,
        }
    }

    /// The `governor` quota.
    pub fn to_governor(self) -> governor::Quota {
        governor::Quota::per_second(self.per_second).allow_burst(self.burst)
    }
}

/// A quota from constants, for the compiled-in defaults.
macro_rules! quota {
    ($per_second:expr, $burst:expr) => {
        match $crate::rate_limit::Quota::new($per_second, $burst) {
            Some(q) => q,
            None => panic!("a zero quota constant"),
        }
    };
}
pub(crate) use quota;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_rate_or_burst_is_refused() {
        assert!(Quota::new(0, 1).is_none());
        assert!(Quota::new(1, 0).is_none());
        let err = toml_like(r#"{"per_second": 0, "burst": 3}"#).unwrap_err();
        assert!(err.contains("nonzero") || err.contains("zero"), "{err}");
        assert_eq!(
            toml_like(r#"{"per_second": 2, "burst": 3}"#).unwrap(),
            Quota::new(2, 3).unwrap()
        );
    }

    fn toml_like(json: &str) -> Result<Quota, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }
}
