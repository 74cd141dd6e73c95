//! Presence announcements, coalesced per user and channel.
//!
//! A channel counts each user's subscriptions ([`super::channel::ChannelState::present`]); the
//! truth is "present while at least one". Announcing every change let one client toggling
//! subscribe/unsubscribe push hundreds of `presence` events a second to every member. Now each
//! user's changes on a channel go out at most once per [`crate::Limits::presence_interval`]:
//!
//! - a change when the last announcement of that user is older than the interval goes out at
//!   once (the common case: someone arrives or leaves);
//! - a change inside the interval is held; when the interval has passed, the user's state *then*
//!   is announced if it differs from the last one announced, and nothing if it does not (a quick
//!   leave-and-return is no news).
//!
//! So a final change is never lost and members converge on the true state at most one interval
//! (plus the flush tick) late. Held changes are flushed by the actor's presence tick
//! ([`super::SchoolActor::flush_presence`]); the announcer is pure and keeps no timers.
//!
//! Memory: one entry per user announced on the channel, dropped with the channel's state (the
//! users who may read a class or a DM are bounded by the roster and the tokens).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use oneclass_protocol::Event;
use tokio::time::Instant;

use super::SchoolActor;

/// The last announcement of one user.
#[derive(Debug, Clone, Copy)]
struct Announced {
    present: bool,
    at: Instant,
}

/// What has been announced on one channel, and which users have changes held.
#[derive(Debug, Default)]
pub struct PresenceAnnouncer {
    last: HashMap<String, Announced>,
    held: HashSet<String>,
}

/// Users to announce as joined and as left, in one `presence` event.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Announcement {
    pub joined: Vec<String>,
    pub left: Vec<String>,
}

impl Announcement {
    pub fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.left.is_empty()
    }

    fn push(&mut self, user: String, present: bool) {
        match present {
            true => self.joined.push(user),
            false => self.left.push(user),
        }
    }

    /// The event on `channel`, if there is anything to say.
    pub fn event(self, channel: &str) -> Option<Event> {
        (!self.is_empty()).then(|| Event::Presence {
            channel: channel.to_owned(),
            joined: self.joined,
            left: self.left,
        })
    }
}

impl PresenceAnnouncer {
    /// `user` is now `present` (or not): whether to announce it now (`Some`), or nothing to say
    /// yet (`None`: held, or no change from the last announcement).
    pub fn changed(
        &mut self,
        user: &str,
        present: bool,
        now: Instant,
        interval: Duration,
    ) -> Option<bool> {
        match self.last.get_mut(user) {
            // Never announced: absent is what everybody assumes already.
            None if !present => None,
            None => {
                self.last
                    .insert(user.to_owned(), Announced { present, at: now });
                Some(present)
            }
            Some(last) if last.present == present => {
                self.held.remove(user);
                None
            }
            Some(last) if now.duration_since(last.at) >= interval => {
                *last = Announced { present, at: now };
                self.held.remove(user);
                Some(present)
            }
            Some(_) => {
                self.held.insert(user.to_owned());
                None
            }
        }
    }

    /// The held changes whose interval has passed, as they stand now (`present` says the truth
    /// of each user); the others stay held.
    pub fn due(
        &mut self,
        now: Instant,
        interval: Duration,
        present: impl Fn(&str) -> bool,
    ) -> Announcement {
        let mut out = Announcement::default();
        let mut still_held = HashSet::new();
        for user in self.held.drain() {
            let Some(last) = self.last.get_mut(&user) else {
                continue;
            };
            if now.duration_since(last.at) < interval {
                still_held.insert(user);
                continue;
            }
            let truth = present(&user);
            if truth != last.present {
                *last = Announced {
                    present: truth,
                    at: now,
                };
                out.push(user, truth);
            }
        }
        self.held = still_held;
        out.joined.sort();
        out.left.sort();
        out
    }

    /// Whether changes are waiting for their interval to pass.
    pub fn has_held(&self) -> bool {
        !self.held.is_empty()
    }
}

impl SchoolActor {
    /// `user`'s subscriptions on `channel` went from none to some or back: announces it, or
    /// holds it for the presence tick.
    pub(super) fn presence_changed(&mut self, channel: &str, user: &str) {
        let interval = self.limits.presence_interval;
        let Some(ch) = self.channels.get_mut(channel) else {
            return;
        };
        let present = ch.present.contains_key(user);
        match ch
            .announcer
            .changed(user, present, Instant::now(), interval)
        {
            Some(present) => {
                let mut a = Announcement::default();
                a.push(user.to_owned(), present);
                if let Some(event) = a.event(channel) {
                    ch.broadcast(&event, None);
                }
            }
            None if ch.announcer.has_held() => {
                self.presence_held.insert(channel.to_owned());
            }
            None => {}
        }
    }

    /// The presence tick: announces the held changes whose interval has passed.
    pub(super) fn flush_presence(&mut self) {
        if self.presence_held.is_empty() {
            return;
        }
        let (now, interval) = (Instant::now(), self.limits.presence_interval);
        let names: Vec<String> = self.presence_held.iter().cloned().collect();
        for name in names {
            let Some(ch) = self.channels.get_mut(&name) else {
                // Released: nobody left to tell.
                self.presence_held.remove(&name);
                continue;
            };
            let present = &ch.present;
            let announcement = ch.announcer.due(now, interval, |u| present.contains_key(u));
            if let Some(event) = announcement.event(&name) {
                ch.broadcast(&event, None);
            }
            if !ch.announcer.has_held() {
                self.presence_held.remove(&name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_first_change_goes_out_at_once_and_changes_inside_the_interval_are_held() {
        let mut a = PresenceAnnouncer::default();
        let t0 = Instant::now();
        assert_eq!(a.changed("u1", true, t0, SECOND), Some(true));
        assert_eq!(a.changed("u1", false, t0, SECOND), None);
        assert!(a.has_held());
        assert_eq!(a.changed("u1", true, t0, SECOND), None, "back as announced");
        assert_eq!(a.changed("u1", false, t0, SECOND), None);
        // Not due yet.
        assert!(a.due(t0 + SECOND / 2, SECOND, |_| false).is_empty());
        assert!(a.has_held());
        let due = a.due(t0 + SECOND, SECOND, |_| false);
        assert_eq!(due.left, ["u1"]);
        assert!(due.joined.is_empty());
        assert!(!a.has_held());
    }

    #[test]
    fn a_held_change_that_was_undone_says_nothing() {
        let mut a = PresenceAnnouncer::default();
        let t0 = Instant::now();
        a.changed("u1", true, t0, SECOND);
        a.changed("u1", false, t0, SECOND);
        assert!(a.due(t0 + SECOND, SECOND, |_| true).is_empty());
        assert!(!a.has_held());
    }

    #[test]
    fn a_change_after_the_interval_goes_out_at_once() {
        let mut a = PresenceAnnouncer::default();
        let t0 = Instant::now();
        a.changed("u1", true, t0, SECOND);
        assert_eq!(a.changed("u1", false, t0 + SECOND, SECOND), Some(false));
        assert_eq!(a.changed("u2", false, t0, SECOND), None, "never announced");
        assert!(!a.has_held());
    }
}
