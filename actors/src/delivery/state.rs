//! A delivery's state and the one rule for changing it on a provider's report: states only move
//! forward. [`advance`] is that rule, pure, so the report handler, the journal replay and any
//! later reader agree on it.
//!
//! The order: `queued`/`deferred` < `sending` < `sent` < `delivered` < `read`, with the final
//! failures `failed`, `undelivered` and `expired` beside `delivered`. A failure report is taken
//! only before any success was seen (the first final state is kept), and a success over a
//! failure wins: a handset that was off reports `delivered` late, after the SMSC already said
//! `expired` (delivery spec §3), and the handset is the better witness. `skipped` and
//! `cancelled` mean nothing was sent, so no report moves them. Anything [`advance`] refuses (a
//! duplicate, a backward step) is acknowledged to the provider and journals nothing.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where one delivery stands, as `GET /v1/notifications/{id}` names it (issue 10 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Queued,
    Deferred,
    Sending,
    Sent,
    Delivered,
    Read,
    Failed,
    Undelivered,
    Expired,
    Skipped,
    Cancelled,
}

impl DeliveryStatus {
    /// Every state, for tables and parsing.
    pub const ALL: [DeliveryStatus; 11] = [
        Self::Queued,
        Self::Deferred,
        Self::Sending,
        Self::Sent,
        Self::Delivered,
        Self::Read,
        Self::Failed,
        Self::Undelivered,
        Self::Expired,
        Self::Skipped,
        Self::Cancelled,
    ];

    /// The wire name (`snake_case`), also the journal's.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Deferred => "deferred",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Undelivered => "undelivered",
            Self::Expired => "expired",
            Self::Skipped => "skipped",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// A final failure at the provider.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Undelivered | Self::Expired)
    }

    /// Rank along the success path; failures and the never-sent states have none.
    fn progress(self) -> Option<u8> {
        Some(match self {
            Self::Queued | Self::Deferred => 0,
            Self::Sending => 1,
            Self::Sent => 2,
            Self::Delivered => 3,
            Self::Read => 4,
            _ => return None,
        })
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state after `reported` arrives for a delivery in `current`, or `None` when the report
/// changes nothing (duplicate, backward, or on a delivery that was never sent).
pub fn advance(current: DeliveryStatus, reported: DeliveryStatus) -> Option<DeliveryStatus> {
    use DeliveryStatus::*;
    if current == reported || matches!(current, Skipped | Cancelled) {
        return None;
    }
    let moves = match (current.progress(), reported.progress()) {
        // Along the success path: only forward.
        (Some(from), Some(to)) => to > from,
        // A failure is final unless the handset later says it arrived.
        (None, Some(_)) => current.is_failure() && matches!(reported, Delivered | Read),
        // A failure report counts only before any success was reported.
        (Some(from), None) => reported.is_failure() && from < 3,
        // Failure after failure: the first final state stays.
        (None, None) => false,
    };
    moves.then_some(reported)
}

#[cfg(test)]
mod tests {
    use super::DeliveryStatus::*;
    use super::*;

    #[test]
    fn states_move_only_forward_and_a_late_delivered_beats_a_failure() {
        // (current, reported, result)
        let table = [
            (Queued, Sent, Some(Sent)),
            (Deferred, Sending, Some(Sending)),
            (Sending, Sent, Some(Sent)),
            (Sent, Delivered, Some(Delivered)),
            (Sent, Read, Some(Read)),
            (Delivered, Read, Some(Read)),
            (Delivered, Sent, None),
            (Read, Delivered, None),
            (Delivered, Delivered, None),
            (Sent, Sent, None),
            (Sent, Expired, Some(Expired)),
            (Sending, Failed, Some(Failed)),
            (Sent, Undelivered, Some(Undelivered)),
            (Expired, Delivered, Some(Delivered)),
            (Undelivered, Read, Some(Read)),
            (Failed, Delivered, Some(Delivered)),
            (Expired, Sent, None),
            (Expired, Undelivered, None),
            (Undelivered, Expired, None),
            (Delivered, Expired, None),
            (Read, Failed, None),
            (Skipped, Delivered, None),
            (Cancelled, Sent, None),
            (Sent, Queued, None),
        ];
        for (current, reported, want) in table {
            assert_eq!(advance(current, reported), want, "{current} + {reported}");
        }
    }

    #[test]
    fn every_name_round_trips() {
        for s in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(DeliveryStatus::parse("lost"), None);
    }
}
