//! Every transition of the session's subscription table (see the table in `sub_table.rs`).

use std::collections::HashMap;

use actix::SpawnHandle;

use super::*;

const CH: &str = "class:s1:c1";

/// A distinct replay handle per `n` (handles are plain counters; no actor needed).
fn handle(n: usize) -> SpawnHandle {
    (0..n).fold(SpawnHandle::default(), |h, _| h.next())
}

fn state(t: &SubTable) -> Option<SubState> {
    t.get(CH).map(|i| i.state)
}

/// A table with `CH` granted at `head` from `since` and its replay running as `handle(1)`.
fn replaying(since: Option<u64>, head: u64) -> (SubTable, u64) {
    let mut t = SubTable::default();
    let (g, _) = t.request(CH, since);
    assert_eq!(t.granted(CH, g, head, |_| handle(1)), Granted::Started);
    (t, g)
}

#[test]
fn a_request_from_absent_is_requested_with_a_fresh_generation() {
    let mut t = SubTable::default();
    let (g1, cancel) = t.request(CH, Some(3));
    assert_eq!(cancel, None);
    assert_eq!(state(&t), Some(SubState::Requested { since: Some(3) }));
    let (g2, _) = t.request("class:s1:c2", None);
    assert_ne!(g1, g2);
}

#[test]
fn granted_while_requested_starts_the_replay_from_since_capped_at_the_head() {
    let mut t = SubTable::default();
    let (g, _) = t.request(CH, Some(9));
    let mut started_at = None;
    let outcome = t.granted(CH, g, 5, |base| {
        started_at = Some(base);
        handle(1)
    });
    assert_eq!(outcome, Granted::Started);
    assert_eq!(started_at, Some(5));
    let want = SubState::Replaying {
        base: 5,
        replay: handle(1),
    };
    assert_eq!(state(&t), Some(want));
    let (t, _) = replaying(None, 7);
    assert!(matches!(
        state(&t),
        Some(SubState::Replaying { base: 7, .. })
    ));
}

#[test]
fn refused_while_requested_removes_the_entry() {
    let mut t = SubTable::default();
    let (g, _) = t.request(CH, None);
    assert!(t.refused(CH, g));
    assert_eq!(state(&t), None);
}

#[test]
fn an_unsubscribe_while_requested_cancels_and_the_grant_then_says_unsubscribe() {
    let mut t = SubTable::default();
    let (g, _) = t.request(CH, None);
    assert_eq!(t.unsubscribe(CH), Unsubscribed::Deferred);
    assert_eq!(state(&t), Some(SubState::Cancelled));
    assert_eq!(
        t.unsubscribe(CH),
        Unsubscribed::Deferred,
        "twice is harmless"
    );
    let outcome = t.granted(CH, g, 4, |_| panic!("a cancelled request starts no replay"));
    assert_eq!(outcome, Granted::Cancelled);
    assert_eq!(state(&t), None);
    assert_eq!(t.unsubscribe(CH), Unsubscribed::NotSubscribed);
}

#[test]
fn a_refusal_of_a_cancelled_request_just_removes_it() {
    let mut t = SubTable::default();
    let (g, _) = t.request(CH, None);
    t.unsubscribe(CH);
    assert!(t.refused(CH, g));
    assert_eq!(state(&t), None);
}

#[test]
fn a_replay_that_ends_live_makes_the_entry_live_and_any_other_end_interrupted() {
    let (mut t, g) = replaying(Some(2), 5);
    assert!(t.replay_ended(CH, g, true));
    assert_eq!(state(&t), Some(SubState::Live { base: 2 }));
    let (mut t, g) = replaying(Some(2), 5);
    assert!(t.replay_ended(CH, g, false));
    assert_eq!(state(&t), Some(SubState::Interrupted { base: 2 }));
}

#[test]
fn unsubscribing_an_answered_subscription_removes_it_and_hands_back_a_running_replay() {
    let (mut t, _) = replaying(None, 1);
    let want = Unsubscribed::Removed {
        replay: Some(handle(1)),
    };
    assert_eq!(t.unsubscribe(CH), want);
    assert_eq!(state(&t), None);
    for live in [true, false] {
        let (mut t, g) = replaying(None, 1);
        t.replay_ended(CH, g, live);
        assert_eq!(t.unsubscribe(CH), Unsubscribed::Removed { replay: None });
        assert_eq!(state(&t), None);
    }
    assert_eq!(
        SubTable::default().unsubscribe(CH),
        Unsubscribed::NotSubscribed
    );
}

#[test]
fn a_resubscribe_takes_a_new_generation_and_cancels_the_old_replay() {
    let (mut t, g1) = replaying(None, 1);
    let (g2, cancel) = t.request(CH, Some(0));
    assert!(g2 > g1);
    assert_eq!(cancel, Some(handle(1)));
    assert_eq!(state(&t), Some(SubState::Requested { since: Some(0) }));
    let (g3, cancel) = t.request(CH, None);
    assert!(g3 > g2);
    assert_eq!(cancel, None, "a Requested entry has no replay");
}

#[test]
fn answers_and_replay_ends_of_an_older_generation_change_nothing() {
    let (mut t, g1) = replaying(None, 1);
    let (g2, _) = t.request(CH, None);
    assert_eq!(t.granted(CH, g1, 1, |_| panic!("stale")), Granted::Stale);
    assert!(!t.refused(CH, g1));
    assert!(!t.replay_ended(CH, g1, true));
    assert_eq!(state(&t), Some(SubState::Requested { since: None }));
    // A superseded request's answer does not resurrect a cancelled newer one either.
    t.unsubscribe(CH);
    assert_eq!(t.granted(CH, g1, 1, |_| handle(2)), Granted::Stale);
    assert_eq!(state(&t), Some(SubState::Cancelled));
    assert_eq!(t.granted(CH, g2, 1, |_| handle(2)), Granted::Cancelled);
    // And nothing at all for a channel without an entry.
    assert_eq!(t.granted(CH, g2, 1, |_| handle(2)), Granted::Stale);
    assert!(!t.replay_ended(CH, g2, true));
}

#[test]
fn a_second_grant_of_one_request_leaves_the_entry_alone() {
    let (mut t, g) = replaying(None, 3);
    assert_eq!(t.granted(CH, g, 3, |_| handle(5)), Granted::Stale);
    assert!(
        !t.refused(CH, g),
        "an answered request is not refused later"
    );
    assert!(matches!(state(&t), Some(SubState::Replaying { .. })));
}

#[test]
fn recovery_requests_every_answered_subscription_again_from_what_was_delivered() {
    let mut t = SubTable::default();
    // Replaying from base 2, 6 already queued: resumes after 6.
    let (g, _) = t.request("a", Some(2));
    t.granted("a", g, 9, |_| handle(1));
    // Live from base 5, nothing queued: never below its base.
    let (g, _) = t.request("b", None);
    t.granted("b", g, 5, |_| handle(2));
    t.replay_ended("b", g, true);
    // Interrupted.
    let (g, _) = t.request("c", Some(0));
    t.granted("c", g, 1, |_| handle(3));
    t.replay_ended("c", g, false);
    // Still waiting for the old actor's answer: left alone.
    let (waiting, _) = t.request("d", None);
    let delivered = HashMap::from([("a".to_owned(), 6), ("c".to_owned(), 1)]);
    let (cancel, requests) = t.recover(&delivered);
    assert_eq!(cancel, [handle(1)]);
    let got: Vec<(&str, u64)> = requests
        .iter()
        .map(|r| (r.channel.as_str(), r.since))
        .collect();
    assert_eq!(got, [("a", 6), ("b", 5), ("c", 1)]);
    for r in &requests {
        let info = t.get(&r.channel).unwrap();
        assert_eq!(info.generation, r.generation);
        assert_eq!(
            info.state,
            SubState::Requested {
                since: Some(r.since)
            }
        );
    }
    assert_eq!(t.get("d").unwrap().generation, waiting);
    assert_eq!(
        t.get("d").unwrap().state,
        SubState::Requested { since: None }
    );
    // The new actor's answers go through the same transitions.
    let a = &requests[0];
    assert_eq!(
        t.granted("a", a.generation, 9, |_| handle(4)),
        Granted::Started
    );
    assert!(matches!(
        t.get("a").unwrap().state,
        SubState::Replaying { base: 6, .. }
    ));
    assert!(t.refused("b", requests[1].generation));
    assert!(t.get("b").is_none());
}

#[test]
fn a_refresh_ends_only_the_subscriptions_it_no_longer_allows_whatever_their_state() {
    let mut t = SubTable::default();
    let (live, _) = t.request("class:s1:c1", None);
    t.granted("class:s1:c1", live, 3, |_| handle(1));
    assert!(t.replay_ended("class:s1:c1", live, true));
    let (replaying, _) = t.request("class:s1:c2", Some(0));
    t.granted("class:s1:c2", replaying, 3, |_| handle(2));
    let (requested, _) = t.request("class:s1:c3", None);
    t.request("class:s1:c4", None);
    assert_eq!(t.unsubscribe("class:s1:c4"), Unsubscribed::Deferred);
    let (kept, _) = t.request("user:s1:p1", None);
    t.granted("user:s1:p1", kept, 0, |_| handle(3));

    let ended = t.revoke(|name| name.starts_with("user:"));
    let want = vec![
        Revoked {
            channel: "class:s1:c1".into(),
            outcome: Unsubscribed::Removed { replay: None },
        },
        Revoked {
            channel: "class:s1:c2".into(),
            outcome: Unsubscribed::Removed {
                replay: Some(handle(2)),
            },
        },
        Revoked {
            channel: "class:s1:c3".into(),
            outcome: Unsubscribed::Deferred,
        },
    ];
    assert_eq!(ended, want, "the unsubscribed c4 gets no second notice");
    assert!(t.get("class:s1:c1").is_none() && t.get("class:s1:c2").is_none());
    assert!(t.is_revoked("class:s1:c3", requested));
    assert_eq!(
        t.get("class:s1:c4").map(|i| i.state),
        Some(SubState::Cancelled)
    );
    assert!(t.get("user:s1:p1").is_some());
    assert!(
        t.revoke(|name| name.starts_with("user:")).is_empty(),
        "once"
    );
}

#[test]
fn a_request_a_refresh_ended_is_unsubscribed_when_granted_and_gone_when_refused() {
    let mut t = SubTable::default();
    let (g, _) = t.request(CH, Some(0));
    t.revoke(|_| false);
    assert_eq!(state(&t), Some(SubState::Revoked));
    assert_eq!(t.unsubscribe(CH), Unsubscribed::Deferred);
    assert!(
        t.is_revoked(CH, g),
        "an unsubscribe does not turn it into a success"
    );
    let outcome = t.granted(CH, g, 4, |_| panic!("an ended request starts no replay"));
    assert_eq!(outcome, Granted::Cancelled);
    assert_eq!(state(&t), None);

    let (g, _) = t.request(CH, None);
    t.revoke(|_| false);
    assert!(t.refused(CH, g));
    assert_eq!(state(&t), None);
    assert!(!t.is_revoked(CH, g));
}
