//! Per-subscriber, per-channel ordering check: every seq of a channel must arrive exactly once
//! and in increasing order. What it counts:
//! - a **duplicate**: a seq that already arrived;
//! - a **reorder**: a seq that arrives after a higher one did (it is still counted as received);
//! - a **gap**: a seq at or below the channel's final head that never arrived.
//!
//! The common case (the next seq, in order) touches two integers; seqs that arrive early are
//! parked in a small set until the hole below them fills or the run ends.

use std::collections::BTreeSet;

/// What one arrival was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The next expected seq.
    InOrder,
    /// Higher than expected: a hole opened below it (a gap unless the hole fills).
    Ahead,
    /// Lower than a seq that already arrived, and new.
    Reorder,
    /// Already seen.
    Duplicate,
}

impl Arrival {
    /// Whether this arrival delivered a message not seen before.
    pub fn is_new(self) -> bool {
        !matches!(self, Arrival::Duplicate)
    }
}

/// The ordering state of one subscriber on one channel.
#[derive(Debug, Clone, Default)]
pub struct SeqTracker {
    /// First seq this subscriber must receive; `None` until anchored.
    first: Option<u64>,
    /// Lowest seq not yet received (every seq in `first..next` arrived).
    next: u64,
    /// Seqs above `next` that arrived early.
    ahead: BTreeSet<u64>,
    /// Highest seq seen.
    max_seen: u64,
    /// New seqs received (duplicates excluded).
    pub received: u64,
    pub duplicates: u64,
    pub reorders: u64,
}

/// The tally of one tracker, or of many added together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub received: u64,
    pub gaps: u64,
    pub duplicates: u64,
    pub reorders: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.received += o.received;
        self.gaps += o.gaps;
        self.duplicates += o.duplicates;
        self.reorders += o.reorders;
    }
}

impl SeqTracker {
    /// A subscriber that subscribed when the channel's head was `head`: it expects `head + 1`
    /// first.
    pub fn after_head(head: u64) -> Self {
        Self {
            first: Some(head + 1),
            next: head + 1,
            ..Self::default()
        }
    }

    /// A subscriber that does not know the head (e.g. an inbox subscribed by `connect`): the
    /// first seq to arrive anchors it.
    pub fn unanchored() -> Self {
        Self::default()
    }

    /// Records one arrival.
    pub fn observe(&mut self, seq: u64) -> Arrival {
        if self.first.is_none() {
            self.first = Some(seq);
            self.next = seq;
        }
        let arrival = if seq < self.next || self.ahead.contains(&seq) {
            Arrival::Duplicate
        } else if seq < self.max_seen {
            Arrival::Reorder
        } else if seq == self.next {
            Arrival::InOrder
        } else {
            Arrival::Ahead
        };
        match arrival {
            Arrival::Duplicate => self.duplicates += 1,
            _ => {
                if arrival == Arrival::Reorder {
                    self.reorders += 1;
                }
                self.received += 1;
                self.max_seen = self.max_seen.max(seq);
                if seq == self.next {
                    self.next += 1;
                    while self.ahead.remove(&self.next) {
                        self.next += 1;
                    }
                } else {
                    self.ahead.insert(seq);
                }
            }
        }
        arrival
    }

    /// The tally once the channel's final head is known: every seq from the first expected up to
    /// `max(final_head, highest seen)` that never arrived is a gap.
    pub fn tally(&self, final_head: u64) -> Tally {
        let gaps = match self.first {
            Some(first) => {
                let last = final_head.max(self.max_seen);
                (last + 1)
                    .saturating_sub(first)
                    .saturating_sub(self.received)
            }
            None => 0,
        };
        Tally {
            received: self.received,
            gaps,
            duplicates: self.duplicates,
            reorders: self.reorders,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(head: u64, seqs: &[u64], final_head: u64) -> Tally {
        let mut t = SeqTracker::after_head(head);
        for &s in seqs {
            t.observe(s);
        }
        t.tally(final_head)
    }

    #[test]
    fn an_in_order_stream_is_clean() {
        let t = run(10, &[11, 12, 13, 14], 14);
        assert_eq!(
            t,
            Tally {
                received: 4,
                gaps: 0,
                duplicates: 0,
                reorders: 0
            }
        );
    }

    #[test]
    fn a_missing_seq_in_the_middle_is_one_gap() {
        assert_eq!(run(0, &[1, 2, 4, 5], 5).gaps, 1);
    }

    #[test]
    fn messages_acked_but_never_delivered_at_the_end_are_gaps() {
        assert_eq!(run(0, &[1, 2, 3], 6).gaps, 3);
    }

    #[test]
    fn a_missing_first_message_is_a_gap() {
        assert_eq!(run(7, &[9, 10], 10).gaps, 1);
    }

    #[test]
    fn a_repeated_seq_is_a_duplicate_and_not_received_twice() {
        let t = run(0, &[1, 2, 2, 3, 1], 3);
        assert_eq!(
            t,
            Tally {
                received: 3,
                gaps: 0,
                duplicates: 2,
                reorders: 0
            }
        );
    }

    #[test]
    fn a_duplicate_of_an_early_seq_is_caught_while_it_is_parked() {
        let mut t = SeqTracker::after_head(0);
        assert_eq!(t.observe(3), Arrival::Ahead);
        assert_eq!(t.observe(3), Arrival::Duplicate);
        assert_eq!(t.tally(3).gaps, 2);
    }

    #[test]
    fn a_late_seq_is_a_reorder_and_fills_its_gap() {
        let mut t = SeqTracker::after_head(0);
        assert_eq!(t.observe(1), Arrival::InOrder);
        assert_eq!(t.observe(3), Arrival::Ahead);
        assert_eq!(t.observe(2), Arrival::Reorder);
        assert_eq!(t.observe(4), Arrival::InOrder);
        let tally = t.tally(4);
        assert_eq!(
            tally,
            Tally {
                received: 4,
                gaps: 0,
                duplicates: 0,
                reorders: 1
            }
        );
    }

    #[test]
    fn swapped_neighbours_count_one_reorder_each_time() {
        let t = run(0, &[2, 1, 4, 3, 5], 5);
        assert_eq!(
            t,
            Tally {
                received: 5,
                gaps: 0,
                duplicates: 0,
                reorders: 2
            }
        );
    }

    #[test]
    fn an_unanchored_tracker_starts_at_the_first_arrival() {
        let mut t = SeqTracker::unanchored();
        for s in [40, 41, 43] {
            t.observe(s);
        }
        assert_eq!(
            t.tally(43),
            Tally {
                received: 3,
                gaps: 1,
                duplicates: 0,
                reorders: 0
            }
        );
        assert_eq!(SeqTracker::unanchored().tally(0), Tally::default());
    }

    #[test]
    fn tallies_add_up() {
        let mut sum = Tally::default();
        sum += run(0, &[1, 1], 2);
        sum += run(0, &[2, 1], 2);
        assert_eq!(
            sum,
            Tally {
                received: 3,
                gaps: 1,
                duplicates: 1,
                reorders: 1
            }
        );
    }
}
