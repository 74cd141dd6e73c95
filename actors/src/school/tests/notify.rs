//! Notifications through the school actor: the key resolved before any inbox event, the fan-out
//! in chunks of their own journal writes, completion of an interrupted fan-out by a retry, and
//! the live content of referenced inbox events.

use std::sync::Arc;

use oneclass_protocol::journal::kinds;
use oneclass_protocol::{ChannelName, ErrorCode};
use oneclass_storage::{Journal, MemoryJournal};

use super::support::*;
use crate::events;
use crate::limits::Limits;
use crate::notify::{Audience, Notify};
use crate::school::{CatchUpDone, Subscribe};

fn notify(sender: &str, key: &str, users: &[&str], title: &str) -> Notify {
    Notify {
        actor: sender.into(),
        idempotency_key: key.into(),
        to: Audience::Users(users.iter().map(|u| u.to_string()).collect()),
        kind: "fees.reminder".into(),
        title: title.into(),
        body: "due Friday".into(),
        data: serde_json::from_str(r#"{"amount":120}"#).unwrap(),
    }
}

async fn inbox_heads(journal: &MemoryJournal, users: &[&str]) -> Vec<u64> {
    let names: Vec<String> = users
        .iter()
        .map(|u| ChannelName::inbox(SCHOOL, u).to_string())
        .collect();
    journal.heads(&names).await.unwrap()
}

#[actix_rt::test]
async fn a_conflicting_key_appends_nothing_even_for_recipients_the_first_request_lacked() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    let school = start(journal.clone(), Limits::default());
    let first = school
        .send(notify("a1", "k1", &["p1"], "Fees"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.recipients, 1);
    let e = school
        .send(notify("a1", "k1", &["p1", "bystander"], "EVACUATE"))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict);
    assert_eq!(inbox_heads(&journal, &["p1", "bystander"]).await, [1, 0]);
    let notifications = journal.streams_with_prefix("notification:").await.unwrap();
    assert_eq!(notifications.len(), 1, "no second notification was stored");
}

#[actix_rt::test]
async fn the_same_key_of_another_sender_is_another_notification() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    let school = start(journal.clone(), Limits::default());
    let admin = school.send(notify("a1", "k1", &["p1"], "A")).await.unwrap();
    let teacher = school.send(notify("t1", "k1", &["p1"], "B")).await.unwrap();
    assert_ne!(
        admin.unwrap().notification_id,
        teacher.unwrap().notification_id
    );
    assert_eq!(inbox_heads(&journal, &["p1"]).await, [2]);
}

#[actix_rt::test]
async fn a_large_fan_out_is_written_in_chunks_after_the_notification_itself() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    let limits = Limits {
        notify_chunk: 2,
        ..Limits::default()
    };
    let school = start(journal.clone(), limits);
    let users = ["u1", "u2", "u3", "u4", "u5"];
    let done = school
        .send(notify("a1", "k1", &users, "Fees"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.recipients, 5);
    assert_eq!(journal.committed_batches(), [1, 2, 2, 1]);
    assert_eq!(inbox_heads(&journal, &users).await, [1; 5]);
}

#[actix_rt::test]
async fn a_retry_completes_a_fan_out_interrupted_after_the_notification_was_stored() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    // The crash: the created event is durable, no inbox event is.
    let created =
        notify("a1", "k1", &["u1", "u2"], "Fees").created(SCHOOL, vec!["u1".into(), "u2".into()]);
    events::write(journal.as_ref(), vec![created])
        .await
        .unwrap();
    let school = start(journal.clone(), Limits::default());
    let retry = school
        .send(notify("a1", "k1", &["u1", "u2"], "Fees"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retry.recipients, 2);
    assert_eq!(inbox_heads(&journal, &["u1", "u2"]).await, [1, 1]);
    // A second retry finds everything written and writes nothing.
    let batches = journal.committed_batches().len();
    school
        .send(notify("a1", "k1", &["u1", "u2"], "Fees"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(inbox_heads(&journal, &["u1", "u2"]).await, [1, 1]);
    let stored = journal.read_stream("user:s1:u1", 1, 10).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].kind, kinds::NOTIFICATION_POSTED);
    assert!(
        journal.committed_batches().len() > batches,
        "retries re-resolve the key"
    );
}

#[actix_rt::test]
async fn a_referenced_inbox_event_goes_out_live_with_its_full_content() {
    tokio::time::pause();
    let journal = Arc::new(MemoryJournal::new());
    let school = start(journal.clone(), Limits::default());
    let q = join(&school, 1, "u1").await;
    let inbox = ChannelName::inbox(SCHOOL, "u1");
    let catch = school
        .send(Subscribe {
            session: 1,
            channel: inbox.clone(),
            since: None,
            generation: 1,
        })
        .await
        .unwrap()
        .unwrap();
    let done = CatchUpDone {
        session: 1,
        channel: inbox.to_string(),
        generation: 1,
        replayed_to: catch.until,
    };
    assert_eq!(school.send(done).await.unwrap().unwrap(), None);
    assert_eq!(frames(&q).await.last().unwrap()["ev"], "synced");
    school
        .send(notify("a1", "k1", &["u1"], "Fees"))
        .await
        .unwrap()
        .unwrap();
    let live = frames(&q).await;
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["ev"], "notification");
    assert_eq!(live[0]["title"], "Fees");
    assert_eq!(live[0]["data"]["amount"], 120);
}
