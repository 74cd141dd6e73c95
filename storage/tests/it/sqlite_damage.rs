//! A damaged SQLite journal is refused, not served: each kind of damage is made to a closed file
//! (with rusqlite, or by overwriting bytes), the file is reopened, and the journal must fail
//! (health bad, no further append acknowledged) as soon as the damage is touched. Plus the WAL's
//! size bound and the journal's identity.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use oneclass_storage::{AppendRequest, Health, Journal, SqliteJournal, SqliteOptions};

const T0: i64 = 1_767_225_600_000;
const STREAM: &str = "class:s1:c1";

fn request(n: u64, payload_bytes: usize) -> AppendRequest {
    AppendRequest {
        school_id: "s1".into(),
        stream: STREAM.into(),
        kind: "chat.message.posted".into(),
        actor: "u1".into(),
        occurred_at: T0 + n as i64,
        payload: Bytes::from(format!("{n:>width$}", width = payload_bytes)),
        idempotency: None,
    }
}

/// A closed journal holding `n` events of `STREAM`, each with a payload of `payload_bytes`.
async fn written(n: u64, payload_bytes: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let j = SqliteJournal::open(&path).unwrap();
    for i in 1..=n {
        j.append(vec![request(i, payload_bytes)]).await.unwrap();
    }
    drop(j);
    // Everything in the main file, no WAL left, so byte damage lands where it is aimed.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    (dir, path)
}

fn damage(path: &Path, sql: &str) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
}

/// After damage was touched: the journal reports itself failed and acknowledges no append.
async fn assert_failed(j: &SqliteJournal) {
    assert!(
        matches!(j.health(), Health::Failed { ref reason } if reason.contains("damaged")),
        "{:?}",
        j.health()
    );
    let refused = j.append(vec![request(1000, 10)]).await.unwrap_err();
    assert!(refused.is_unavailable(), "{refused}");
    let other = AppendRequest {
        stream: "class:s1:other".into(),
        ..request(1001, 10)
    };
    let refused = j.append(vec![other]).await.unwrap_err();
    assert!(refused.is_unavailable(), "other streams too: {refused}");
}

#[tokio::test]
async fn a_changed_payload_fails_the_read_that_serves_it_and_then_the_journal() {
    let (_dir, path) = written(10, 50).await;
    damage(
        &path,
        &format!("UPDATE events SET payload = CAST(x'00' || substr(payload, 2) AS BLOB) WHERE stream = '{STREAM}' AND seq = 4"),
    );
    let j = SqliteJournal::open(&path).unwrap();
    assert!(j.health().is_ok(), "nothing read yet");
    let later = j.read_stream(STREAM, 5, 10).await.unwrap();
    assert_eq!(
        later.len(),
        6,
        "pages after the damage still chain to seq 4's stored hash"
    );
    let err = j.read_stream(STREAM, 1, 10).await.unwrap_err();
    assert!(
        err.is_damaged() && err.to_string().contains("seq 4"),
        "{err}"
    );
    assert_failed(&j).await;
}

#[tokio::test]
async fn a_deleted_event_is_a_gap_that_fails_reads_before_and_after_it() {
    let (_dir, path) = written(10, 50).await;
    damage(
        &path,
        &format!("DELETE FROM events WHERE stream = '{STREAM}' AND seq = 5"),
    );
    let j = SqliteJournal::open(&path).unwrap();
    let err = j.read_stream(STREAM, 6, 10).await.unwrap_err();
    assert!(
        err.is_damaged() && err.to_string().contains("seq 5"),
        "{err}"
    );
    assert_failed(&j).await;

    let j = SqliteJournal::open(&path).unwrap();
    let err = j.read_stream_before(STREAM, None, 10).await.unwrap_err();
    assert!(err.is_damaged(), "{err}");
    assert_failed(&j).await;
}

#[tokio::test]
async fn a_lowered_head_is_found_by_the_first_append_and_by_verify() {
    let (_dir, path) = written(10, 50).await;
    damage(
        &path,
        &format!("UPDATE streams SET head = 5 WHERE stream = '{STREAM}'"),
    );
    let j = SqliteJournal::open(&path).unwrap();
    assert_eq!(j.verify_stream(STREAM).await.unwrap(), Some(6));
    assert!(
        j.health().is_ok(),
        "the offline check reports, it does not fail the journal"
    );
    let err = j.append(vec![request(11, 50)]).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert_failed(&j).await;
}

#[tokio::test]
async fn a_raised_head_and_a_deleted_last_event_are_found_by_the_first_append() {
    for (sql, broken_at) in [
        (
            format!("UPDATE streams SET head = 12 WHERE stream = '{STREAM}'"),
            11,
        ),
        (
            format!("DELETE FROM events WHERE stream = '{STREAM}' AND seq = 10"),
            10,
        ),
    ] {
        let (_dir, path) = written(10, 50).await;
        damage(&path, &sql);
        let j = SqliteJournal::open(&path).unwrap();
        assert_eq!(
            j.verify_stream(STREAM).await.unwrap(),
            Some(broken_at),
            "{sql}"
        );
        let err = j.append(vec![request(11, 50)]).await.unwrap_err();
        assert!(err.is_unavailable(), "{sql}: {err}");
        assert_failed(&j).await;
    }
}

#[tokio::test]
async fn a_rewritten_last_event_is_found_when_the_writer_loads_the_head() {
    let (_dir, path) = written(3, 50).await;
    damage(
        &path,
        &format!("UPDATE events SET actor = 'mallory' WHERE stream = '{STREAM}' AND seq = 3"),
    );
    let j = SqliteJournal::open(&path).unwrap();
    assert!(j.append(vec![request(4, 50)]).await.is_err());
    assert_failed(&j).await;
}

#[tokio::test]
async fn a_corrupt_page_fails_the_read_and_stops_appends() {
    // ~3 KiB payloads: the events table fills most of the file's pages.
    let (_dir, path) = written(300, 3000).await;
    let len = std::fs::metadata(&path).unwrap().len();
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    // Overwrite the middle fifth of the file (whole pages of events) with garbage.
    let (start, end) = (len * 2 / 5 / 4096 * 4096, len * 3 / 5 / 4096 * 4096);
    file.seek(SeekFrom::Start(start)).unwrap();
    file.write_all(&vec![0xA5; (end - start) as usize]).unwrap();
    file.sync_all().unwrap();
    drop(file);

    let j = SqliteJournal::open(&path).unwrap();
    let err = j.read_stream(STREAM, 1, 1000).await.unwrap_err();
    assert!(err.is_damaged(), "{err}");
    assert_failed(&j).await;
}

#[tokio::test]
async fn the_wal_stays_bounded_under_writes_far_beyond_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    const MAX: u64 = 1 << 20;
    let options = SqliteOptions {
        // No help from the checkpoint thread: the writer's own bound must hold alone.
        checkpoint_interval: Duration::from_secs(3600),
        wal_checkpoint_bytes: MAX / 4,
        wal_max_bytes: MAX,
        ..SqliteOptions::default()
    };
    let j = SqliteJournal::open_with(&path, options).unwrap();
    let wal = dir.path().join("journal.db-wal");
    // One append adds at most a few dozen 4 KiB pages (the event, its overflow pages, the
    // index, the head) to the WAL.
    const ONE_GROUP: u64 = 256 << 10;
    let mut largest = 0;
    // 24 MiB of payload: 24 times the bound.
    for n in 1..=768u64 {
        j.append(vec![request(n, 32 << 10)]).await.unwrap();
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    assert!(
        largest <= MAX + ONE_GROUP,
        "the WAL reached {largest} bytes with a bound of {MAX}"
    );
    assert_eq!(j.verify_stream(STREAM).await.unwrap(), None);
    assert_eq!(j.head(STREAM).await.unwrap(), 768);
}

#[tokio::test]
async fn a_journal_keeps_its_identity_across_reopen_and_a_new_file_gets_another() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let first = SqliteJournal::open(&path).unwrap().identity();
    assert_eq!(SqliteJournal::open(&path).unwrap().identity(), first);
    let other = SqliteJournal::open(dir.path().join("other.db"))
        .unwrap()
        .identity();
    assert_ne!(other.id, first.id);
}
