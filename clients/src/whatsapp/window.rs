//! The 24-hour customer-service window: after a user's message the business may send anything
//! for 24 hours; otherwise only approved templates go through (error 131047).
//!
//! The hub keeps `last_inbound_at` per (business number, user) from inbound webhooks and asks
//! [`SendMode::for_user`] before choosing between a free-form message and a template.

use std::time::{Duration, SystemTime};

/// How long a user's message keeps the window open.
pub const CUSTOMER_SERVICE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// What may be sent to a user right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendMode {
    /// The window is open: any message type, until `closes_at`.
    FreeForm {
        /// When the window closes unless the user writes again.
        closes_at: SystemTime,
    },
    /// No open window: only an approved template.
    TemplateOnly,
}

impl SendMode {
    /// The mode for a user whose last message arrived at `last_inbound_at` (`None`: never).
    /// `margin` closes the window early, so a message queued near the end does not arrive late.
    pub fn for_user(
        last_inbound_at: Option<SystemTime>,
        now: SystemTime,
        margin: Duration,
    ) -> Self {
        let Some(last) = last_inbound_at else {
            return SendMode::TemplateOnly;
        };
        let closes_at = last + CUSTOMER_SERVICE_WINDOW.saturating_sub(margin);
        if now < closes_at {
            SendMode::FreeForm { closes_at }
        } else {
            SendMode::TemplateOnly
        }
    }

    /// True when free-form messages are allowed.
    pub fn allows_free_form(self) -> bool {
        matches!(self, SendMode::FreeForm { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_open_for_24_hours_after_the_users_last_message() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let hour = Duration::from_secs(3600);
        assert_eq!(
            SendMode::for_user(Some(t0), t0 + 23 * hour, Duration::ZERO),
            SendMode::FreeForm {
                closes_at: t0 + 24 * hour
            }
        );
        assert_eq!(
            SendMode::for_user(Some(t0), t0 + 24 * hour, Duration::ZERO),
            SendMode::TemplateOnly
        );
        assert!(!SendMode::for_user(Some(t0), t0 + 23 * hour, 2 * hour).allows_free_form());
        assert_eq!(
            SendMode::for_user(None, t0, Duration::ZERO),
            SendMode::TemplateOnly
        );
    }
}
