//! [`AppendGate`]: lets a test hold appends of a [`super::MemoryJournal`] in flight, so it can
//! watch what the caller does meanwhile (for instance, how many publishes a school actor packs
//! into its next batch while one append is outstanding).
//!
//! The gate is open unless a test closes it. A closed gate makes every append wait (without
//! blocking a thread, and without touching the clock, so it works under
//! `tokio::time::pause()`) before anything of its batch is decided; opening it lets them commit,
//! in the order they were called.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

/// Open/closed state plus a count of appends between call and commit.
#[derive(Debug)]
pub(super) struct AppendGate {
    /// `true` while appends may commit.
    open: watch::Sender<bool>,
    /// Appends called and not yet answered (waiting at the gate or for their turn).
    in_flight: AtomicUsize,
}

impl Default for AppendGate {
    fn default() -> Self {
        AppendGate {
            open: watch::Sender::new(true),
            in_flight: AtomicUsize::new(0),
        }
    }
}

/// Counts one append as in flight until dropped (also when its future is cancelled).
pub(super) struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AppendGate {
    /// Registers an append as in flight.
    pub fn enter(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(&self.in_flight)
    }

    /// Waits until the gate is open.
    pub async fn pass(&self) {
        let mut rx = self.open.subscribe();
        // The sender lives as long as `self`, so `wait_for` cannot see it closed.
        let _ = rx.wait_for(|open| *open).await;
    }

    pub fn set_open(&self, open: bool) {
        self.open.send_replace(open);
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}
