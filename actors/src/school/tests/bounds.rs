//! What one user can make the school actor hold or send: channel states live only while in use
//! (and come back with the journal's head), the per-user subscription cap, coalesced presence,
//! and a `read` of 0 that stores nothing.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use oneclass_protocol::{ChannelName, ErrorCode};
use oneclass_storage::{MemoryJournal, ReadCursors};

use super::support::*;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::school::{Leave, MarkRead, SchoolActor, Subscribe, Unsubscribe};

fn dm(other: &str) -> ChannelName {
    // unwrap: the test never names p1 itself.
    ChannelName::dm(SCHOOL, "p1", other).unwrap()
}

async fn subscribe(
    school: &Addr<SchoolActor>,
    session: u64,
    channel: ChannelName,
) -> Result<crate::school::CatchUp, oneclass_protocol::reply::ErrorBody> {
    let msg = Subscribe {
        session,
        channel,
        since: None,
        generation: 1,
    };
    // unwrap: the test's actor is alive.
    school.send(msg).await.unwrap()
}

fn states(metrics: &Metrics) -> i64 {
    metrics.channel_states.get()
}

#[actix_rt::test]
async fn a_channel_state_is_released_with_its_last_subscriber_and_rebuilt_at_the_journals_head() {
    tokio::time::pause();
    let metrics = Arc::new(Metrics::new());
    let journal = Arc::new(MemoryJournal::new());
    let school = start_with_metrics(journal, Limits::default(), metrics.clone());
    let q = join(&school, 1, "p1").await;
    subscribe_live(&school, 1, &q).await;
    let _q2 = join(&school, 2, "p2").await;
    subscribe(&school, 2, class()).await.unwrap();
    for text in ["one", "two"] {
        school
            .send(publish("t1", text, None))
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(states(&metrics), 1);
    school
        .send(Unsubscribe {
            session: 1,
            channel: CLASS.into(),
        })
        .await
        .unwrap();
    assert_eq!(states(&metrics), 1, "p2 is still subscribed");
    school
        .send(Unsubscribe {
            session: 2,
            channel: CLASS.into(),
        })
        .await
        .unwrap();
    assert_eq!(states(&metrics), 0, "released with its last subscriber");
    let again = subscribe(&school, 1, class()).await.unwrap();
    assert_eq!(again.head, 2, "the head comes back from the journal");
    assert_eq!(states(&metrics), 1);
}

#[actix_rt::test]
async fn a_write_by_someone_not_subscribed_leaves_no_state_once_answered() {
    tokio::time::pause();
    let metrics = Arc::new(Metrics::new());
    let school = start_with_metrics(
        Arc::new(MemoryJournal::new()),
        Limits::default(),
        metrics.clone(),
    );
    let published = school
        .send(publish("t1", "hi", None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(published.seq, 1);
    assert_eq!(states(&metrics), 0);
    let published = school
        .send(publish("t1", "again", None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(published.seq, 2, "the next write reads the head again");
}

#[actix_rt::test]
async fn a_state_with_an_append_in_flight_is_kept_until_the_journal_answers() {
    tokio::time::pause();
    let metrics = Arc::new(Metrics::new());
    let journal = Arc::new(Reordering::default());
    let school = start_with_metrics(journal.clone(), Limits::default(), metrics.clone());
    let q = join(&school, 1, "p1").await;
    subscribe_live(&school, 1, &q).await;
    let held = actix_rt::spawn(school.send(publish("t1", "held", None)));
    settle().await;
    school
        .send(Unsubscribe {
            session: 1,
            channel: CLASS.into(),
        })
        .await
        .unwrap();
    assert_eq!(states(&metrics), 1, "kept while its append is in flight");
    journal.answer_first();
    held.await.unwrap().unwrap().unwrap();
    settle().await;
    assert_eq!(states(&metrics), 0, "released once answered");
}

#[actix_rt::test]
async fn a_state_is_not_released_while_a_head_load_for_it_runs() {
    tokio::time::pause();
    let metrics = Arc::new(Metrics::new());
    let journal = Arc::new(Reordering::default());
    journal.answer_first();
    let school = start_with_metrics(journal.clone(), Limits::default(), metrics.clone());
    join(&school, 1, "p1").await;
    journal.hold_heads();
    // The subscribe reads head 0, and its answer is held...
    let subscribing = actix_rt::spawn(school.send(Subscribe {
        session: 1,
        channel: class(),
        since: None,
        generation: 1,
    }));
    settle().await;
    // ... while a publish by someone not subscribed commits seq 1 (the batch reads heads with
    // `heads`, which is not held).
    let published = school
        .send(publish("t1", "meanwhile", None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(published.seq, 1);
    assert_eq!(states(&metrics), 1, "kept: a head load for it is in flight");
    journal.answer_heads();
    let catch = subscribing.await.unwrap().unwrap().unwrap();
    assert_eq!(
        catch.head, 1,
        "the state that saw seq 1, not one rebuilt from the older read"
    );
}

#[actix_rt::test]
async fn a_leave_releases_every_channel_the_session_had() {
    tokio::time::pause();
    let metrics = Arc::new(Metrics::new());
    let school = start_with_metrics(
        Arc::new(MemoryJournal::new()),
        Limits::default(),
        metrics.clone(),
    );
    join(&school, 1, "p1").await;
    join(&school, 2, "p1").await;
    for other in ["nobody1", "nobody2", "nobody3"] {
        subscribe(&school, 1, dm(other)).await.unwrap();
    }
    subscribe(&school, 2, dm("nobody4")).await.unwrap();
    assert_eq!(states(&metrics), 4);
    school.send(Leave { session: 1 }).await.unwrap();
    assert_eq!(states(&metrics), 1);
    school.send(Leave { session: 2 }).await.unwrap();
    assert_eq!(states(&metrics), 0);
}

#[actix_rt::test]
async fn the_user_cap_counts_subscriptions_over_every_session_and_refuses_with_forbidden() {
    tokio::time::pause();
    let metrics = Arc::new(Metrics::new());
    let limits = Limits {
        max_subscriptions_per_user: 2,
        ..Limits::default()
    };
    let school = start_with_metrics(Arc::new(MemoryJournal::new()), limits, metrics.clone());
    join(&school, 1, "p1").await;
    join(&school, 2, "p1").await;
    join(&school, 3, "p2").await;
    subscribe(&school, 1, dm("a")).await.unwrap();
    subscribe(&school, 2, dm("b")).await.unwrap();
    let refused = subscribe(&school, 2, dm("c")).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::Forbidden);
    assert!(
        refused.message.contains("2 per user"),
        "{}",
        refused.message
    );
    assert_eq!(states(&metrics), 2, "a refused subscribe makes no state");
    subscribe(&school, 2, dm("b"))
        .await
        .expect("a resubscribe is no new subscription");
    subscribe(&school, 3, class())
        .await
        .expect("another user has their own cap");
    school
        .send(Unsubscribe {
            session: 1,
            channel: dm("a").to_string(),
        })
        .await
        .unwrap();
    subscribe(&school, 1, dm("c"))
        .await
        .expect("room again after an unsubscribe");
}

/// The presence events among `frames` as (joined, left).
fn presence(frames: &[serde_json::Value]) -> Vec<(Vec<String>, Vec<String>)> {
    let users = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u.as_str().map(str::to_owned))
            .collect()
    };
    frames
        .iter()
        .filter(|f| f["ev"] == "presence")
        .map(|f| (users(&f["joined"]), users(&f["left"])))
        .collect()
}

#[actix_rt::test]
async fn presence_toggles_inside_the_interval_are_coalesced_and_the_final_state_goes_out() {
    tokio::time::pause();
    let limits = Limits {
        presence_interval: Duration::from_secs(1),
        ..Limits::default()
    };
    let school = start(Arc::new(MemoryJournal::new()), limits);
    let observer = join(&school, 1, "p1").await;
    subscribe_live(&school, 1, &observer).await;
    join(&school, 2, "p2").await;
    for _ in 0..20 {
        subscribe(&school, 2, class()).await.unwrap();
        school
            .send(Unsubscribe {
                session: 2,
                channel: CLASS.into(),
            })
            .await
            .unwrap();
    }
    let (p2, none) = (vec!["p2".to_string()], Vec::<String>::new());
    assert_eq!(
        presence(&frames(&observer).await),
        [(p2.clone(), none.clone())],
        "the first change at once, the other 39 held"
    );
    // `frames` waited a paused second: the tick announced the state at the interval's end.
    let mut later = presence(&frames(&observer).await);
    later.extend(presence(&frames(&observer).await));
    assert_eq!(later, [(none, p2)], "p2 is gone, and members are told once");
}

#[actix_rt::test]
async fn a_read_of_seq_0_stores_no_cursor() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    let school = start(journal.clone(), Limits::default());
    join(&school, 1, "p1").await;
    for other in ["nobody1", "nobody2"] {
        let read = MarkRead {
            session: 1,
            user: "p1".into(),
            channel: dm(other),
            seq: 0,
        };
        assert_eq!(school.send(read).await.unwrap().unwrap(), 0);
    }
    let beyond = MarkRead {
        session: 1,
        user: "p1".into(),
        channel: dm("nobody1"),
        seq: 1,
    };
    let refused = school.send(beyond).await.unwrap().unwrap_err();
    assert_eq!(refused.code, ErrorCode::BadRequest);
    assert!(journal.read_cursors(SCHOOL, "p1").await.unwrap().is_empty());
}
