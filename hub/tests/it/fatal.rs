//! A journal failure stops only the hub that saw it.

use std::time::Duration;

use bytes::Bytes;
use oneclass_storage::{AppendRequest, Journal as _};

use crate::support::Hub;

#[tokio::test]
async fn a_second_hub_in_the_same_process_runs_clean_after_the_first_saw_a_fatal_journal_error() {
    let first = Hub::start();
    // The supervisor reacts to a journal that fails while the hub is ready.
    wait_ready(&first).await;
    first.journal.fail_next_commits(1);
    let append = AppendRequest {
        school_id: "s1".into(),
        stream: "class:s1:c1".into(),
        kind: "chat.message.posted".into(),
        actor: "t1".into(),
        occurred_at: 1,
        payload: Bytes::from_static(b"\x80"),
        idempotency: None,
    };
    let failed = first.journal.append(vec![append]).await;
    assert!(failed.is_err(), "{failed:?}");
    let outcome = tokio::task::spawn_blocking(move || {
        first.result.recv_timeout(Duration::from_secs(20)).unwrap()
    })
    .await
    .unwrap();
    let err = outcome.expect_err("the first hub must stop with the journal failure");
    assert!(err.to_string().contains("journal failure"), "{err:#}");

    let second = Hub::start();
    let health = reqwest::get(second.url("/healthz")).await.unwrap();
    assert!(health.status().is_success());
    assert!(!second.handle.saw_fatal());
    second.handle.stop().await;
    let outcome = tokio::task::spawn_blocking(move || {
        second.result.recv_timeout(Duration::from_secs(20)).unwrap()
    })
    .await
    .unwrap();
    outcome.expect("the second hub saw no failure and stops cleanly");
}

async fn wait_ready(hub: &Hub) {
    for _ in 0..100 {
        let ready = reqwest::get(hub.url("/readyz")).await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the hub never became ready");
}
