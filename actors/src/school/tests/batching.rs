//! Group commit: what a burst of publishes costs the journal and what each caller hears back.

use std::sync::Arc;

use oneclass_protocol::ErrorCode;
use oneclass_storage::MemoryJournal;

use super::support::*;
use crate::limits::Limits;

#[actix_rt::test]
async fn publishes_that_arrive_together_are_committed_as_one_journal_batch() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    let school = start(journal.clone(), Limits::default());
    // `send` queues at once, so all three are in the mailbox before the first flush.
    let a = school.send(publish("t1", "a", None));
    let b = school.send(publish("t1", "b", None));
    let c = school.send(publish("t2", "c", None));
    let seqs = [a.await, b.await, c.await].map(|r| r.unwrap().unwrap().seq);
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(journal.committed_batches(), [3]);
}

#[actix_rt::test]
async fn a_publish_is_answered_and_fanned_out_only_after_its_batch_committed() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    let school = start(journal.clone(), Limits::default());
    let q = join(&school, 1, "p1").await;
    subscribe_live(&school, 1, &q).await;
    journal.hold_appends();
    let reply = actix_rt::spawn(school.send(publish("t1", "held", None)));
    settle().await;
    assert_eq!(journal.appends_in_flight(), 1);
    assert!(!reply.is_finished(), "answered before the commit");
    assert!(frames(&q).await.is_empty(), "fanned out before the commit");
    assert!(journal.committed_batches().is_empty());
    journal.release_appends();
    let published = reply.await.unwrap().unwrap().unwrap();
    assert_eq!(published.seq, 1);
    assert_eq!(msg_seqs(&frames(&q).await), [1]);
}

#[actix_rt::test]
async fn a_failed_batch_answers_every_caller_unavailable_and_consumes_no_seq() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    let school = start(journal.clone(), Limits::default());
    let q = join(&school, 1, "p1").await;
    subscribe_live(&school, 1, &q).await;
    journal.fail_next_batches(1);
    let a = school.send(publish("t1", "a", None));
    let b = school.send(publish("t1", "b", None));
    for r in [a.await, b.await] {
        let e = r.unwrap().unwrap_err();
        assert_eq!(e.code, ErrorCode::Unavailable, "{}", e.message);
    }
    assert!(
        frames(&q).await.is_empty(),
        "nothing of a failed batch goes out"
    );
    let next = school
        .send(publish("t1", "c", None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.seq, 1, "the failed batch consumed no seq");
    assert_eq!(msg_seqs(&frames(&q).await), [1]);
}

#[actix_rt::test]
async fn a_retry_with_the_same_client_msg_id_answers_the_first_seq_and_another_body_conflicts() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    let school = start(journal.clone(), Limits::default());
    let q = join(&school, 1, "p1").await;
    subscribe_live(&school, 1, &q).await;
    let first = school.send(publish("t1", "hi", Some("m1"))).await.unwrap();
    let first = first.unwrap();
    school
        .send(publish("t1", "other", None))
        .await
        .unwrap()
        .unwrap();
    let retry = school.send(publish("t1", "hi", Some("m1"))).await.unwrap();
    let retry = retry.unwrap();
    assert_eq!((retry.seq, &retry.event_id), (first.seq, &first.event_id));
    let conflict = school
        .send(publish("t1", "changed", Some("m1")))
        .await
        .unwrap();
    assert_eq!(conflict.unwrap_err().code, ErrorCode::Conflict);
    assert_eq!(
        msg_seqs(&frames(&q).await),
        [1, 2],
        "a duplicate is not fanned out again"
    );
}
