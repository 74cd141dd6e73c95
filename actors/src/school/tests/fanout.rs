//! The ordered fan-out: commits that complete out of order, and seqs committed behind the
//! actor's back.

use std::sync::Arc;

use oneclass_storage::{Journal, MemoryJournal};

use super::support::*;
use crate::limits::Limits;

#[actix_rt::test]
async fn commits_that_complete_out_of_order_are_fanned_out_in_seq_order() {
    tokio::time::pause();
    let journal = Arc::new(Reordering::default());
    let school = start(journal.clone(), Limits::default());
    let q = join(&school, 1, "p1").await;
    subscribe_live(&school, 1, &q).await;
    let first = actix_rt::spawn(school.send(publish("t1", "first", None)));
    settle().await;
    let second = school
        .send(publish("t1", "second", None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.seq, 2);
    assert!(!first.is_finished(), "the first batch is still unanswered");
    assert!(
        frames(&q).await.is_empty(),
        "seq 2 waits in the reorder buffer for seq 1"
    );
    journal.answer_first();
    let first = first.await.unwrap().unwrap().unwrap();
    assert_eq!(first.seq, 1);
    assert_eq!(msg_seqs(&frames(&q).await), [1, 2]);
    assert_eq!(journal.inner.committed_batches(), [1, 1]);
}

#[actix_rt::test]
async fn a_gap_committed_behind_the_actors_back_is_refilled_from_the_journal() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    let school = start(journal.clone(), Limits::default());
    let q = join(&school, 1, "p1").await;
    assert_eq!(subscribe_live(&school, 1, &q).await, 0);
    // As if an append of the previous actor committed after this one read the head.
    assert_eq!(append_behind(journal.as_ref(), "behind").await, 1);
    let published = school
        .send(publish("t1", "mine", None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(published.seq, 2);
    let mut seqs = msg_seqs(&frames(&q).await);
    seqs.extend(msg_seqs(&frames(&q).await));
    assert_eq!(
        seqs,
        [1, 2],
        "the stalled gap was read back, then the commit"
    );
    assert_eq!(journal.head(CLASS).await.unwrap(), 2);
}
