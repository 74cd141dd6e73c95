//! A damaged journal is refused, not served (issue 9, M5 and L10): a journal is written through a
//! real hub, damaged while the hub is down (with rusqlite, or by overwriting bytes), and a hub is
//! started on it again. Once the damage is touched the hub must report unready and acknowledge no
//! further publish; a journal file that was emptied or removed must not start at all; and
//! `oneclass-hub journal verify` must name a head that disagrees with its events.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use oneclass_actors::Role;
use oneclass_hub::startup::{Application, JOURNAL_FILE};
use oneclass_protocol::client::{Client, ClientError};
use oneclass_protocol::command::Command;
use oneclass_protocol::reply::History;
use oneclass_protocol::{ChannelName, Codec};
use oneclass_tests::{ch, journal_verify, test_settings, token, TestHub};

fn class() -> ChannelName {
    ch("class:s1:c1")
}

fn teacher() -> String {
    token("t1", "s1", Role::Teacher, &["c1"])
}

/// A data dir whose journal holds `n` messages of `text_bytes` characters in class c1, written by
/// a hub that has stopped again.
async fn seeded(n: u64, text_bytes: usize) -> Arc<tempfile::TempDir> {
    let tmp = Arc::new(tempfile::tempdir().unwrap());
    let mut hub = TestHub::spawn_on(tmp.clone(), |_| {});
    let (mut c, _) = hub.connect(Codec::MsgPack, &teacher()).await;
    for i in 1..=n {
        let text = format!("{i:>text_bytes$}");
        let ack = c.publish(&class(), &text, Some(&format!("m{i}"))).await;
        assert_eq!(ack.unwrap().seq, i);
    }
    drop(c);
    hub.stop().await;
    drop(hub);
    // Fold the WAL into the main file so byte damage lands where it is aimed.
    let db = rusqlite::Connection::open(tmp.path().join(JOURNAL_FILE)).unwrap();
    db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    tmp
}

fn damage(dir: &Path, sql: &str) {
    rusqlite::Connection::open(dir.join(JOURNAL_FILE))
        .unwrap()
        .execute_batch(sql)
        .unwrap();
}

/// Whether `/readyz` answers 200; a hub that already stopped because of the damage counts as not
/// ready.
async fn ready(hub: &TestHub) -> bool {
    match reqwest::get(hub.http_url("/readyz")).await {
        Ok(r) => r.status().is_success(),
        Err(_) => false,
    }
}

/// After the damage was touched: unready, and a publish (on a new connection, if the hub still
/// takes one) is not acknowledged.
async fn assert_refused(hub: &TestHub) {
    assert!(!ready(hub).await, "the hub must be unready after damage");
    let connected =
        Client::connect(&hub.ws_url(), Codec::Json, &teacher(), Default::default()).await;
    if let Ok((mut c, _)) = connected {
        let ack = c.publish(&class(), "after the damage", Some("late")).await;
        assert!(
            ack.is_err(),
            "a publish was acknowledged into a damaged journal: {ack:?}"
        );
    }
}

/// Connects and asks for the latest page of c1's history; a refused connection (the school
/// actor could not load its state from the damaged file) is an error too.
async fn history(hub: &TestHub) -> Result<History, ClientError> {
    let (mut c, _) =
        Client::connect(&hub.ws_url(), Codec::Json, &teacher(), Default::default()).await?;
    c.request_ok(Command::History {
        channel: class(),
        before: None,
        limit: Some(10),
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_payload_is_not_served_and_makes_the_hub_unready() {
    let tmp = seeded(5, 20).await;
    damage(
        tmp.path(),
        "UPDATE events SET payload = CAST(x'00' || substr(payload, 2) AS BLOB)
         WHERE stream = 'class:s1:c1' AND seq = 3",
    );
    let hub = TestHub::spawn_on(tmp, |_| {});
    assert!(ready(&hub).await, "nothing touched the damage yet");
    let page = history(&hub).await;
    assert!(page.is_err(), "the tampered page was served: {page:?}");
    assert_refused(&hub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_event_is_not_served_as_a_gap_and_makes_the_hub_unready() {
    let tmp = seeded(5, 20).await;
    damage(
        tmp.path(),
        "DELETE FROM events WHERE stream = 'class:s1:c1' AND seq = 3",
    );
    let hub = TestHub::spawn_on(tmp, |_| {});
    let page = history(&hub).await;
    assert!(page.is_err(), "a page with a gap was served: {page:?}");
    assert_refused(&hub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_page_makes_the_hub_unready_instead_of_taking_appends() {
    // ~3 KB messages, so c1's events fill most of the file, oldest first. The middle fifth of
    // the file is overwritten: pages only history reads reach, not the writer (which touches
    // the newest pages) nor a connecting session.
    let tmp = seeded(120, 3000).await;
    let path = tmp.path().join(JOURNAL_FILE);
    let len = std::fs::metadata(&path).unwrap().len();
    let (start, end) = (len * 2 / 5 / 4096 * 4096, len * 3 / 5 / 4096 * 4096);
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(start)).unwrap();
    file.write_all(&vec![0xA5; (end - start) as usize]).unwrap();
    file.sync_all().unwrap();
    drop(file);

    let hub = TestHub::spawn_on(tmp, |_| {});
    let (mut c, _) = hub.connect(Codec::Json, &teacher()).await;
    let page: Result<History, _> = c
        .request_ok(Command::History {
            channel: class(),
            before: Some(66),
            limit: Some(10),
        })
        .await;
    assert!(
        page.is_err(),
        "a page from corrupt storage was served: {page:?}"
    );
    assert_refused(&hub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lowered_head_fails_the_first_publish_for_good_and_journal_verify_names_it() {
    let tmp = seeded(5, 20).await;
    damage(
        tmp.path(),
        "UPDATE streams SET head = 3 WHERE stream = 'class:s1:c1'",
    );
    let verify = journal_verify(tmp.path());
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert_eq!(verify.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("class:s1:c1") && stderr.contains("seq 4") && stderr.contains("head 3"),
        "{stderr}"
    );

    let hub = TestHub::spawn_on(tmp, |_| {});
    let (mut c, _) = hub.connect(Codec::MsgPack, &teacher()).await;
    let ack = c.publish(&class(), "after the damage", Some("m6")).await;
    assert!(ack.is_err(), "{ack:?}");
    assert_refused(&hub).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_that_held_a_journal_refuses_an_emptied_or_missing_one() {
    let tmp = seeded(3, 20).await;
    let path = tmp.path().join(JOURNAL_FILE);
    for wal in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{wal}", path.display()));
    }
    std::fs::File::create(&path).unwrap(); // truncates to zero bytes
    let err = Application::build(test_settings(tmp.path()))
        .expect_err("an emptied journal must not start as a new one");
    let text = format!("{err:#}");
    assert!(
        text.contains("empty") && text.contains("journal.id") && text.contains("backup"),
        "{text}"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        0,
        "nothing was created"
    );

    std::fs::remove_file(&path).unwrap();
    let err = Application::build(test_settings(tmp.path()))
        .expect_err("a missing journal must not start as a new one");
    assert!(format!("{err:#}").contains("missing"), "{err:#}");
    assert!(!path.exists(), "nothing was created");

    // The operator's way out, as the message says: delete the marker to start afresh.
    std::fs::remove_file(tmp.path().join("journal.id")).unwrap();
    let hub = TestHub::spawn_on(tmp, |_| {});
    let (mut c, _) = hub.connect(Codec::MsgPack, &teacher()).await;
    assert_eq!(c.publish(&class(), "fresh", None).await.unwrap().seq, 1);
}
