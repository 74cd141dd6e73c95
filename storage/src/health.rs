//! [`Health`]: whether a backend still takes writes, as reported by [`crate::Journal::health`]
//! to the supervisor and the hub's readiness probe.

/// Whether the journal can take writes, for the hub's readiness probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Appends are being accepted.
    Ok,
    /// Appends fail until the process restarts; `reason` says why (e.g. a failed fsync).
    Failed {
        /// Human-readable cause, for logs and the readiness endpoint.
        reason: String,
    },
}

impl Health {
    /// True while appends are accepted.
    pub fn is_ok(&self) -> bool {
        matches!(self, Health::Ok)
    }
}
