//! The subscription handshake from the school's side: the range a subscriber must replay, live
//! commits buffered meanwhile, the buffer's overflow, and stale generations.

use std::sync::Arc;

use actix::Addr;
use oneclass_protocol::ErrorCode;
use oneclass_storage::MemoryJournal;

use super::support::*;
use crate::limits::Limits;
use crate::school::{CatchUp, CatchUpDone, SchoolActor, Subscribe};

async fn subscribe(school: &Addr<SchoolActor>, since: Option<u64>, generation: u64) -> CatchUp {
    let msg = Subscribe {
        session: 1,
        channel: class(),
        since,
        generation,
    };
    school.send(msg).await.unwrap().unwrap()
}

fn done(generation: u64, replayed_to: u64) -> CatchUpDone {
    CatchUpDone {
        session: 1,
        channel: CLASS.into(),
        generation,
        replayed_to,
    }
}

#[actix_rt::test]
async fn live_commits_above_until_wait_for_catch_up_done_and_follow_it_in_order() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    for text in ["a", "b", "c"] {
        append_behind(journal.as_ref(), text).await;
    }
    let school = start(journal.clone(), Limits::default());
    let q = join(&school, 1, "p1").await;
    let catch = subscribe(&school, Some(1), 1).await;
    assert_eq!((catch.from, catch.until, catch.head), (1, 3, 3));
    for text in ["d", "e"] {
        school
            .send(publish("t1", text, None))
            .await
            .unwrap()
            .unwrap();
    }
    let queued = frames(&q).await;
    assert!(
        msg_seqs(&queued).is_empty(),
        "live commits wait: {queued:?}"
    );
    // The session replayed (1, 3] itself; the school adds what it buffered, then `synced`.
    assert_eq!(school.send(done(1, 3)).await.unwrap().unwrap(), None);
    let frames = frames(&q).await;
    assert_eq!(msg_seqs(&frames), [4, 5]);
    assert_eq!(frames.last().unwrap()["ev"], "synced");
    assert_eq!(frames.last().unwrap()["head"], 5);
    school
        .send(publish("t1", "live", None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg_seqs(&super::support::frames(&q).await), [6]);
}

#[actix_rt::test]
async fn a_catch_up_done_short_of_until_is_told_to_replay_further() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    for text in ["a", "b"] {
        append_behind(journal.as_ref(), text).await;
    }
    let school = start(journal.clone(), Limits::default());
    join(&school, 1, "p1").await;
    let catch = subscribe(&school, Some(0), 1).await;
    assert_eq!((catch.from, catch.until), (0, 2));
    assert_eq!(school.send(done(1, 1)).await.unwrap().unwrap(), Some(2));
}

#[actix_rt::test]
async fn an_overflowing_catch_up_buffer_moves_until_up_so_the_replay_reads_those_seqs() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    let limits = Limits {
        catch_up_buffer: 2,
        ..Limits::default()
    };
    let school = start(journal.clone(), limits);
    let q = join(&school, 1, "p1").await;
    let catch = subscribe(&school, Some(0), 1).await;
    assert_eq!(catch.until, 0);
    for text in ["a", "b", "c"] {
        school
            .send(publish("t1", text, None))
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(
        school.send(done(1, 0)).await.unwrap().unwrap(),
        Some(3),
        "the buffer was dropped: replay up to the head instead"
    );
    assert!(msg_seqs(&frames(&q).await).is_empty());
    assert_eq!(school.send(done(1, 3)).await.unwrap().unwrap(), None);
    let frames = frames(&q).await;
    assert!(msg_seqs(&frames).is_empty(), "nothing buffered is left");
    assert_eq!(frames.last().unwrap()["ev"], "synced");
    assert_eq!(frames.last().unwrap()["head"], 3);
}

#[actix_rt::test]
async fn a_catch_up_done_of_a_replaced_generation_is_not_found() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    let school = start(journal.clone(), Limits::default());
    let q = join(&school, 1, "p1").await;
    subscribe(&school, None, 1).await;
    subscribe(&school, None, 2).await;
    let stale = school.send(done(1, 0)).await.unwrap().unwrap_err();
    assert_eq!(stale.code, ErrorCode::NotFound);
    assert_eq!(stale.message, "subscription replaced or removed");
    let queued = frames(&q).await;
    assert!(
        queued.iter().all(|f| f["ev"] == "presence"),
        "the stale end queued nothing: {queued:?}"
    );
    assert_eq!(school.send(done(2, 0)).await.unwrap().unwrap(), None);
    assert_eq!(frames(&q).await.last().unwrap()["ev"], "synced");
}

#[actix_rt::test]
async fn a_subscribe_from_a_session_that_never_joined_is_unavailable() {
    tokio::time::pause();
    let school = start(Arc::new(MemoryJournal::new()), Limits::default());
    let msg = Subscribe {
        session: 9,
        channel: class(),
        since: None,
        generation: 1,
    };
    let e = school.send(msg).await.unwrap().unwrap_err();
    assert_eq!(e.code, ErrorCode::Unavailable);
}
