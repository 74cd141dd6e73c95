//! What only the SQLite backend can show: durability across reopen and a killed process, tamper
//! detection on the file itself, fatal commit errors, schema versioning, backpressure and the
//! writer's own idempotency pruning.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use oneclass_storage::{
    AppendOutcome, AppendRequest, Health, IdempotencyKey, Journal, ReadCursors, SqliteJournal,
    SqliteOptions,
};

use crate::fresh;

const T0: i64 = 1_767_225_600_000;

fn request(stream: &str, n: u64, key: Option<&str>) -> AppendRequest {
    AppendRequest {
        school_id: "s1".into(),
        stream: stream.into(),
        kind: "chat.message.posted".into(),
        actor: "u1".into(),
        occurred_at: T0 + n as i64,
        payload: Bytes::from(format!("{n:>100}")),
        idempotency: key.map(|k| IdempotencyKey {
            key: k.into(),
            fingerprint: [7; 32],
        }),
    }
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[tokio::test]
async fn committed_events_keys_and_heads_survive_close_and_reopen() {
    let (dir, j) = fresh();
    let path = j.path().to_owned();
    let first = j
        .append(vec![request("c1", 1, Some("k1")), request("c1", 2, None)])
        .await
        .unwrap();
    j.set_read_cursor("s1", "u1", "c1", 2).await.unwrap();
    drop(j);

    let j = SqliteJournal::open(&path).unwrap();
    let stored = j.read_stream("c1", 1, 10).await.unwrap();
    let expected: Vec<_> = first
        .iter()
        .map(|o| o.envelope().unwrap().clone())
        .collect();
    assert_eq!(stored, expected);
    let again = j
        .append(vec![request("c1", 1, Some("k1")), request("c1", 3, None)])
        .await
        .unwrap();
    assert_eq!(again[0], AppendOutcome::Duplicate(expected[0].clone()));
    assert_eq!(
        again[1].envelope().unwrap().seq,
        3,
        "seqs continue from the stored head"
    );
    assert_eq!(
        j.verify_stream("c1").await.unwrap(),
        None,
        "the chain continues across reopen"
    );
    assert_eq!(j.read_cursors("s1", "u1").await.unwrap()["c1"], 2);
    drop(dir);
}

/// Not a test on its own: the child process of
/// `acknowledged_appends_survive_a_killed_process`, which runs it with `--ignored`.
#[tokio::test]
#[ignore = "child process of acknowledged_appends_survive_a_killed_process"]
async fn crash_child_appends_then_aborts() {
    let path = std::env::var("ONECLASS_CRASH_JOURNAL").expect("run by the crash test only");
    let j = SqliteJournal::open(path).unwrap();
    for n in 1..=40u64 {
        j.append(vec![request("crash", n, None)]).await.unwrap();
        println!("ACKED {n}");
    }
    // Keep appending without waiting, then die like `kill -9`: no drop, no clean shutdown.
    let j = Arc::new(j);
    for n in 41..=60u64 {
        let j = j.clone();
        tokio::spawn(async move { j.append(vec![request("crash", n, None)]).await });
    }
    std::process::abort();
}

#[test]
fn acknowledged_appends_survive_a_killed_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sqlite::crash_child_appends_then_aborts",
            "--ignored",
        ])
        .args(["--nocapture", "--test-threads", "1"])
        .env("ONECLASS_CRASH_JOURNAL", &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let acked = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        // libtest may print the test's name on the same line as the first marker.
        .map(|l| l.matches("ACKED ").count() as u64)
        .sum::<u64>();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child must die, not exit cleanly");
    assert_eq!(acked, 40, "the child acknowledged every awaited append");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let j = SqliteJournal::open(&path).unwrap();
        let head = j.head("crash").await.unwrap();
        assert!(head >= acked, "head {head} lost acknowledged appends");
        let events = j.read_stream("crash", 1, 1000).await.unwrap();
        assert_eq!(events.len() as u64, head);
        assert_eq!(j.verify_stream("crash").await.unwrap(), None);
        let next = j.append(vec![request("crash", 99, None)]).await.unwrap();
        assert_eq!(next[0].envelope().unwrap().seq, head + 1);
    });
}

#[tokio::test]
async fn tampering_with_a_stored_event_is_detected() {
    let (_dir, j) = fresh();
    let batch = (1..=5).map(|n| request("t", n, None)).collect();
    j.append(batch).await.unwrap();
    let path = j.path().to_owned();
    drop(j);
    raw(&path)
        .execute(
            "UPDATE events SET payload = x'00' WHERE stream = 't' AND seq = 3",
            [],
        )
        .unwrap();
    let j = SqliteJournal::open(&path).unwrap();
    assert_eq!(j.verify_stream("t").await.unwrap(), Some(3));
    raw(&path)
        .execute("DELETE FROM events WHERE stream = 't' AND seq >= 3", [])
        .unwrap();
    assert_eq!(
        j.verify_stream("t").await.unwrap(),
        Some(3),
        "a truncated stream is broken"
    );
}

#[tokio::test]
async fn a_failed_commit_makes_the_journal_unavailable_until_reopened() {
    let (_dir, j) = fresh();
    j.append(vec![request("f", 1, None)]).await.unwrap();
    assert!(j.health().is_ok());
    j.fail_next_commits(1);
    let err = j.append(vec![request("f", 2, None)]).await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(matches!(j.health(), Health::Failed { .. }));
    let later = j.append(vec![request("f", 3, None)]).await.unwrap_err();
    assert!(
        later.is_unavailable(),
        "every later append fails too: {later}"
    );
    assert!(j
        .set_read_cursor("s1", "u1", "f", 1)
        .await
        .unwrap_err()
        .is_unavailable());

    let path = j.path().to_owned();
    drop(j);
    let j = SqliteJournal::open(&path).unwrap();
    assert!(j.health().is_ok(), "a restart recovers");
    assert_eq!(
        j.head("f").await.unwrap(),
        1,
        "the failed group left nothing behind"
    );
    let next = j.append(vec![request("f", 4, None)]).await.unwrap();
    assert_eq!(next[0].envelope().unwrap().seq, 2);
}

#[tokio::test]
async fn the_file_is_in_wal_mode_and_a_newer_schema_is_refused() {
    let (_dir, j) = fresh();
    let path = j.path().to_owned();
    drop(j);
    let conn = raw(&path);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    conn.execute("UPDATE schema_version SET version = 99", [])
        .unwrap();
    drop(conn);
    let err = SqliteJournal::open(&path).unwrap_err();
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_queue_and_group_limit_still_commit_everything_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        queue_capacity: 2,
        max_group_events: 8,
        ..SqliteOptions::default()
    };
    let j = Arc::new(SqliteJournal::open_with(dir.path().join("j.db"), options).unwrap());
    let tasks: Vec<_> = (0..40u64)
        .map(|n| {
            let j = j.clone();
            tokio::spawn(async move { j.append(vec![request("bp", n, None); 3]).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    // A single batch larger than the group limit commits alone.
    let big = j.append(vec![request("bp", 0, None); 20]).await.unwrap();
    assert_eq!(big.last().unwrap().envelope().unwrap().seq, 140);
    let all = j.read_stream("bp", 1, 1000).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=140).collect::<Vec<_>>()
    );
    assert_eq!(j.verify_stream("bp").await.unwrap(), None);
}

#[tokio::test]
async fn the_writer_prunes_expired_keys_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        prune_interval: Duration::from_millis(50),
        ..SqliteOptions::default()
    };
    let path = dir.path().join("j.db");
    let j = SqliteJournal::open_with(&path, options).unwrap();
    j.append(vec![request("p", 1, Some("fresh"))])
        .await
        .unwrap();
    // A key stamped long ago, as if it had been written two days back.
    raw(&path)
        .execute(
            "INSERT INTO idempotency (key, fingerprint, stream, seq, created_at)
             VALUES ('stale', x'00', 'p', 1, 0)",
            [],
        )
        .unwrap();
    let count = |key: &str| -> i64 {
        raw(&path)
            .query_row(
                "SELECT count(*) FROM idempotency WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while count("stale") > 0 {
        assert!(Instant::now() < deadline, "the stale key was never pruned");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(count("fresh"), 1, "keys younger than the TTL stay");
}

#[tokio::test]
async fn checkpoints_move_the_wal_into_the_database_file_off_the_commit_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let options = SqliteOptions {
        checkpoint_interval: Duration::from_millis(50),
        ..SqliteOptions::default()
    };
    let j = SqliteJournal::open_with(&path, options).unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    // Far below SQLite's automatic threshold (1000 pages): no commit would checkpoint this,
    // so only the checkpoint thread can move these pages into the main file.
    j.append(vec![request("ckpt", 0, None); 300]).await.unwrap();
    let mut grown = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if std::fs::metadata(&path).unwrap().len() > before + 16_384 {
            grown = true;
            break;
        }
    }
    assert!(grown, "the database file never received the WAL's pages");
    assert_eq!(j.read_stream("ckpt", 1, 1000).await.unwrap().len(), 300);
}
