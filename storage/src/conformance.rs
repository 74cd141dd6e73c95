//! Checks every [`Journal`] backend must pass, written against the trait alone.
//!
//! Each check is an async function taking the journal and a namespace string unique to the call
//! (e.g. a random or per-test prefix); every school and stream it touches is derived from that
//! namespace, so checks can share one database (as a CQL keyspace per test run would). A check
//! panics, with a message, on the first violation. Backends run them from their own test
//! binaries; [`run_all`] runs the lot in sequence.
//!
//! The one check that needs a backend-specific hook is [`failed_batch_consumes_no_seq`]: it takes
//! a [`FailNextBatches`] that makes the backend fail the next batches after assigning seqs (for
//! SQLite, [`crate::SqliteJournal::fail_next_batches`]).
//!
//! [`prune_forgets_keys_older_than_the_cutoff`] prunes every key older than the moment it runs;
//! on a shared database run it where no other check relies on a key recorded before then.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use crate::hash::{envelope_hash, GENESIS_HASH};
use crate::journal::{AppendOutcome, AppendRequest, EventQuery, IdempotencyKey, Journal};
use oneclass_protocol::journal::EventEnvelope;
use oneclass_protocol::timestamp::now_ms;

/// Makes the backend fail its next `n` append batches after seqs were assigned.
pub type FailNextBatches = Arc<dyn Fn(u64) + Send + Sync>;

/// 2026-01-01T00:00:00Z, the base of the checks' timestamps.
const T0: i64 = 1_767_225_600_000;

fn school(ns: &str) -> String {
    format!("{ns}-s1")
}

fn stream(ns: &str, name: &str) -> String {
    format!("class:{ns}-s1:{name}")
}

/// A plain request on `stream` with a ~100-byte payload naming `tag`.
fn request(ns: &str, stream: &str, tag: &str) -> AppendRequest {
    request_at(ns, stream, "chat.message.posted", T0, tag)
}

fn request_at(ns: &str, stream: &str, kind: &str, at: i64, tag: &str) -> AppendRequest {
    AppendRequest {
        school_id: school(ns),
        stream: stream.to_owned(),
        kind: kind.to_owned(),
        actor: "u1".to_owned(),
        occurred_at: at,
        payload: Bytes::from(format!("{tag:>100}")),
        idempotency: None,
    }
}

fn keyed(mut r: AppendRequest, key: &str, fingerprint: u8) -> AppendRequest {
    r.idempotency = Some(IdempotencyKey {
        key: key.to_owned(),
        fingerprint: [fingerprint; 32],
    });
    r
}

fn appended(outcomes: &[AppendOutcome]) -> Vec<EventEnvelope> {
    outcomes
        .iter()
        .map(|o| match o {
            AppendOutcome::Appended(e) => e.clone(),
            other => panic!("expected Appended, got {other:?}"),
        })
        .collect()
}

fn seqs(events: &[EventEnvelope]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

async fn append_ok(j: &dyn Journal, batch: Vec<AppendRequest>) -> Vec<EventEnvelope> {
    appended(&j.append(batch).await.expect("append failed"))
}

/// Seqs of a new stream start at 1 and grow by one per event, across batches.
pub async fn seqs_start_at_one_and_are_gap_free(j: &dyn Journal, ns: &str) {
    let s = stream(ns, "gapfree");
    assert_eq!(j.head(&s).await.unwrap(), 0, "unknown stream has head 0");
    let a = append_ok(j, vec![request(ns, &s, "a")]).await;
    let b = append_ok(
        j,
        (0..3).map(|i| request(ns, &s, &format!("b{i}"))).collect(),
    )
    .await;
    assert_eq!(seqs(&a), vec![1]);
    assert_eq!(seqs(&b), vec![2, 3, 4]);
    assert_eq!(j.head(&s).await.unwrap(), 4);
    let stored = j.read_stream(&s, 1, 100).await.unwrap();
    assert_eq!(
        stored,
        [a, b].concat(),
        "reads return exactly what append acknowledged"
    );
    let e = &stored[0];
    assert_eq!(e.school_id, school(ns));
    assert_eq!(e.day, "2026-01-01");
    assert_eq!(e.event_id.get_version_num(), 7, "event ids are UUID v7");
    assert!(j.health().is_ok());
}

/// A batch with one invalid request stores nothing at all and takes no seq.
pub async fn a_batch_is_atomic(j: &dyn Journal, ns: &str) {
    let s = stream(ns, "atomic");
    let other = stream(ns, "atomic-other");
    append_ok(j, vec![request(ns, &s, "first")]).await;
    let mut bad = request(ns, &s, "bad");
    bad.kind = String::new();
    let batch = vec![request(ns, &s, "x"), request(ns, &other, "y"), bad];
    let err = j
        .append(batch)
        .await
        .expect_err("a batch with an invalid request must fail");
    assert!(
        !err.is_unavailable(),
        "a bad batch is not a journal outage: {err}"
    );
    assert_eq!(
        j.head(&s).await.unwrap(),
        1,
        "nothing of the failed batch is stored"
    );
    assert_eq!(j.head(&other).await.unwrap(), 0);
    let next = append_ok(j, vec![request(ns, &s, "next"), request(ns, &other, "o")]).await;
    assert_eq!(seqs(&next), vec![2, 1]);
    assert!(
        j.health().is_ok(),
        "a rejected batch leaves the journal healthy"
    );
}

/// A batch that fails after its seqs were assigned gives them back: the next batch reuses them,
/// alone or while other batches commit around it.
pub async fn failed_batch_consumes_no_seq(j: Arc<dyn Journal>, ns: &str, fail: FailNextBatches) {
    let s = stream(ns, "noseq");
    append_ok(&*j, vec![request(ns, &s, "1"), request(ns, &s, "2")]).await;
    fail(1);
    let err = j
        .append(vec![request(ns, &s, "doomed"), request(ns, &s, "doomed")])
        .await
        .expect_err("the injected failure must fail the batch");
    assert!(
        !err.is_unavailable(),
        "one failed batch is not an outage: {err}"
    );
    assert_eq!(j.head(&s).await.unwrap(), 2);
    let next = append_ok(&*j, vec![request(ns, &s, "3")]).await;
    assert_eq!(seqs(&next), vec![3], "the failed batch's seqs are reused");

    // Several batches in flight at once, one of which fails: the rest stay gap-free.
    fail(1);
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let j = j.clone();
            let r = vec![
                request(ns, &s, &format!("c{i}a")),
                request(ns, &s, &format!("c{i}b")),
            ];
            tokio::spawn(async move { j.append(r).await })
        })
        .collect();
    let mut ok = 0;
    let mut failed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(o) => ok += appended(&o).len(),
            Err(_) => failed += 1,
        }
    }
    assert_eq!((failed, ok), (1, 10), "exactly one batch fails");
    let all = j.read_stream(&s, 1, 100).await.unwrap();
    assert_eq!(seqs(&all), (1..=13).collect::<Vec<_>>());
    assert!(all.iter().all(|e| !e.payload.ends_with(b"doomed")));
    assert_eq!(j.verify_stream(&s).await.unwrap(), None);
}

/// Repeating a keyed request returns the first stored event and writes nothing.
pub async fn a_duplicate_returns_the_first_result(j: &dyn Journal, ns: &str) {
    let s = stream(ns, "dup");
    let key = format!("{ns}|s1|c1|u1|m1");
    let first = append_ok(j, vec![keyed(request(ns, &s, "hello"), &key, 1)]).await;
    let again = j
        .append(vec![
            keyed(request(ns, &s, "hello"), &key, 1),
            request(ns, &s, "plain"),
        ])
        .await
        .unwrap();
    assert_eq!(again[0], AppendOutcome::Duplicate(first[0].clone()));
    match &again[1] {
        AppendOutcome::Appended(e) => assert_eq!(e.seq, 2, "the duplicate took no seq"),
        other => panic!("expected Appended, got {other:?}"),
    }
    assert_eq!(j.head(&s).await.unwrap(), 2);
}

/// The same key with another fingerprint is a conflict and takes no seq.
pub async fn a_reused_key_with_other_content_conflicts(j: &dyn Journal, ns: &str) {
    let s = stream(ns, "conflict");
    let key = format!("{ns}|s1|c1|u1|m2");
    append_ok(j, vec![keyed(request(ns, &s, "one"), &key, 1)]).await;
    let out = j
        .append(vec![keyed(request(ns, &s, "two"), &key, 2)])
        .await
        .unwrap();
    assert_eq!(out, vec![AppendOutcome::Conflict]);
    assert_eq!(j.head(&s).await.unwrap(), 1);
    let next = append_ok(j, vec![request(ns, &s, "three")]).await;
    assert_eq!(seqs(&next), vec![2]);
}

/// Keys repeated inside one batch, and across batches committed in the same group, resolve
/// against the first occurrence.
pub async fn duplicates_within_one_batch_or_group_are_detected(j: Arc<dyn Journal>, ns: &str) {
    let s = stream(ns, "dupbatch");
    let k1 = format!("{ns}|k1");
    let k2 = format!("{ns}|k2");
    let out = j
        .append(vec![
            keyed(request(ns, &s, "a"), &k1, 1),
            keyed(request(ns, &s, "a"), &k1, 1),
            keyed(request(ns, &s, "b"), &k2, 1),
            keyed(request(ns, &s, "b'"), &k2, 9),
        ])
        .await
        .unwrap();
    let first = match &out[0] {
        AppendOutcome::Appended(e) => e.clone(),
        other => panic!("expected Appended, got {other:?}"),
    };
    assert_eq!(first.seq, 1);
    assert_eq!(out[1], AppendOutcome::Duplicate(first));
    assert!(matches!(&out[2], AppendOutcome::Appended(e) if e.seq == 2));
    assert_eq!(out[3], AppendOutcome::Conflict);
    assert_eq!(j.head(&s).await.unwrap(), 2);

    // Many concurrent retries of one request: exactly one is stored.
    let k3 = format!("{ns}|k3");
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let j = j.clone();
            let r = vec![keyed(request(ns, &s, "retry"), &k3, 3)];
            tokio::spawn(async move { j.append(r).await.unwrap().remove(0) })
        })
        .collect();
    let mut ids = BTreeSet::new();
    let mut stored = 0;
    for t in tasks {
        match t.await.unwrap() {
            AppendOutcome::Appended(e) => {
                stored += 1;
                ids.insert(e.event_id);
            }
            AppendOutcome::Duplicate(e) => {
                ids.insert(e.event_id);
            }
            AppendOutcome::Conflict => panic!("same fingerprint must not conflict"),
        }
    }
    assert_eq!((stored, ids.len()), (1, 1));
    assert_eq!(j.head(&s).await.unwrap(), 3);
}

/// Forward paging with `read_stream` visits every event once, in order.
pub async fn read_stream_pages_forward(j: &dyn Journal, ns: &str) {
    let s = stream(ns, "fwd");
    append_ok(
        j,
        (1..=25).map(|i| request(ns, &s, &i.to_string())).collect(),
    )
    .await;
    let mut from = 1;
    let mut seen = Vec::new();
    loop {
        let page = j.read_stream(&s, from, 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        from = page.last().unwrap().seq + 1;
        seen.extend(seqs(&page));
    }
    assert_eq!(seen, (1..=25).collect::<Vec<_>>());
    assert_eq!(
        seqs(&j.read_stream(&s, 24, 10).await.unwrap()),
        vec![24, 25]
    );
    assert!(j.read_stream(&s, 26, 10).await.unwrap().is_empty());
    assert!(j.read_stream(&s, 1, 0).await.unwrap().is_empty());
    assert!(j
        .read_stream(&stream(ns, "nope"), 1, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Backward paging with `read_stream_before` returns pages oldest-first, ending just before
/// the cursor, down to seq 1.
pub async fn read_stream_before_pages_backward(j: &dyn Journal, ns: &str) {
    let s = stream(ns, "back");
    append_ok(
        j,
        (1..=25).map(|i| request(ns, &s, &i.to_string())).collect(),
    )
    .await;
    let newest = j.read_stream_before(&s, None, 10).await.unwrap();
    assert_eq!(seqs(&newest), (16..=25).collect::<Vec<_>>());
    let mut before = Some(newest[0].seq);
    let mut pages = vec![newest];
    loop {
        let page = j.read_stream_before(&s, before, 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        before = Some(page[0].seq);
        pages.push(page);
    }
    assert_eq!(seqs(&pages[1]), (6..=15).collect::<Vec<_>>());
    assert_eq!(seqs(&pages[2]), (1..=5).collect::<Vec<_>>());
    assert_eq!(pages.len(), 3);
    assert_eq!(
        seqs(&j.read_stream_before(&s, Some(3), 10).await.unwrap()),
        vec![1, 2]
    );
    assert!(j
        .read_stream_before(&s, Some(1), 10)
        .await
        .unwrap()
        .is_empty());
}

/// `heads` answers per stream, in order, with 0 for unknown streams.
pub async fn heads_report_each_stream(j: &dyn Journal, ns: &str) {
    let a = stream(ns, "ha");
    let b = stream(ns, "hb");
    append_ok(
        j,
        vec![
            request(ns, &a, "1"),
            request(ns, &b, "1"),
            request(ns, &a, "2"),
        ],
    )
    .await;
    let names = vec![b.clone(), stream(ns, "hnone"), a.clone()];
    assert_eq!(j.heads(&names).await.unwrap(), vec![1, 0, 2]);
    assert_eq!(j.heads(&[]).await.unwrap(), Vec::<u64>::new());
}

/// `streams_with_prefix` lists exactly the streams under a prefix, with their heads.
pub async fn streams_with_prefix_lists_matching_streams(j: &dyn Journal, ns: &str) {
    let dm = |x: &str| format!("dm:{ns}-s1:{x}");
    append_ok(
        j,
        vec![
            request(ns, &dm("u1:u2"), "1"),
            request(ns, &dm("u1:u3"), "1"),
            request(ns, &dm("u1:u3"), "2"),
            request(ns, &format!("dm:{ns}-s10:u1:u2"), "other school"),
            request(ns, &format!("class:{ns}-s1:c1"), "class"),
        ],
    )
    .await;
    let found = j
        .streams_with_prefix(&format!("dm:{ns}-s1:"))
        .await
        .unwrap();
    assert_eq!(found, vec![(dm("u1:u2"), 1), (dm("u1:u3"), 2)]);
    assert!(j
        .streams_with_prefix(&format!("zz:{ns}"))
        .await
        .unwrap()
        .is_empty());
}

/// Querying a school's events by time range and kind prefix pages through every match exactly
/// once, in `(occurred_at, event_id)` order, with the last page carrying no token.
pub async fn query_pages_by_school_time_and_kind(j: &dyn Journal, ns: &str) {
    let chat = stream(ns, "q-chat");
    let pay = format!("payment:{ns}-p1");
    let mut batch = Vec::new();
    for i in 0..40i64 {
        // Several events share a millisecond, so ordering must fall back to the event id.
        let at = T0 + (i / 3) * 1_000;
        batch.push(request_at(
            ns,
            &chat,
            "chat.message.posted",
            at,
            &format!("m{i}"),
        ));
        if i % 4 == 0 {
            batch.push(request_at(
                ns,
                &pay,
                "payment.initiated",
                at,
                &format!("p{i}"),
            ));
        }
    }
    // Outside the range, or another school: never returned.
    batch.push(request_at(
        ns,
        &chat,
        "chat.message.posted",
        T0 - 1,
        "early",
    ));
    batch.push(request_at(
        ns,
        &chat,
        "chat.message.posted",
        T0 + 20_000,
        "late",
    ));
    let mut foreign = request_at(ns, &chat, "chat.message.posted", T0, "foreign");
    foreign.school_id = format!("{ns}-s2");
    foreign.stream = format!("class:{ns}-s2:c1");
    batch.push(foreign);
    let stored = append_ok(j, batch).await;

    let in_range = |e: &&EventEnvelope| {
        e.school_id == school(ns) && e.occurred_at >= T0 && e.occurred_at < T0 + 20_000
    };
    for (prefix, page_size) in [(None, 7), (Some("chat."), 5), (Some("payment."), 100)] {
        let mut expected: Vec<_> = stored
            .iter()
            .filter(in_range)
            .filter(|e| prefix.is_none_or(|p| e.kind.starts_with(p)))
            .cloned()
            .collect();
        expected.sort_by_key(|e| (e.occurred_at, e.event_id));
        let mut got = Vec::new();
        let mut token = None;
        let mut pages = 0;
        loop {
            let page = j
                .query(EventQuery {
                    school_id: school(ns),
                    from_ms: T0,
                    to_ms: T0 + 20_000,
                    kind_prefix: prefix.map(str::to_owned),
                    limit: page_size,
                    page_token: token.take(),
                })
                .await
                .unwrap();
            pages += 1;
            assert!(page.events.len() <= page_size);
            got.extend(page.events);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
            assert!(pages < 100, "paging does not terminate");
        }
        assert_eq!(got, expected, "prefix {prefix:?}");
        assert_eq!(
            pages,
            expected.len().div_ceil(page_size).max(1),
            "prefix {prefix:?}"
        );
    }
    let bad = j
        .query(EventQuery {
            school_id: school(ns),
            from_ms: T0,
            to_ms: T0 + 1,
            kind_prefix: None,
            limit: 10,
            page_token: Some("not a token".into()),
        })
        .await;
    assert!(bad.is_err(), "a malformed page token is rejected");
}

/// Read cursors move forward only and are listed per user.
pub async fn read_cursors_only_move_forward(j: &dyn Journal, ns: &str) {
    let sc = school(ns);
    let c1 = stream(ns, "c1");
    let c2 = stream(ns, "c2");
    assert!(j.read_cursors(&sc, "u1").await.unwrap().is_empty());
    assert_eq!(j.set_read_cursor(&sc, "u1", &c1, 5).await.unwrap(), 5);
    assert_eq!(
        j.set_read_cursor(&sc, "u1", &c1, 3).await.unwrap(),
        5,
        "never backwards"
    );
    assert_eq!(j.set_read_cursor(&sc, "u1", &c1, 9).await.unwrap(), 9);
    assert_eq!(j.set_read_cursor(&sc, "u1", &c2, 1).await.unwrap(), 1);
    assert_eq!(j.set_read_cursor(&sc, "u2", &c1, 2).await.unwrap(), 2);
    let expected: HashMap<String, u64> = [(c1.clone(), 9), (c2, 1)].into_iter().collect();
    assert_eq!(j.read_cursors(&sc, "u1").await.unwrap(), expected);
    assert_eq!(j.read_cursors(&sc, "u2").await.unwrap().get(&c1), Some(&2));
}

/// Pruning forgets keys recorded before the cutoff (a repeat is then stored anew) and keeps the
/// newer ones; events are untouched.
pub async fn prune_forgets_keys_older_than_the_cutoff(j: &dyn Journal, ns: &str) {
    let s = stream(ns, "prune");
    let key = format!("{ns}|prune");
    let before = now_ms() - 1;
    append_ok(j, vec![keyed(request(ns, &s, "x"), &key, 1)]).await;
    j.prune_idempotency(before - 60_000).await.unwrap();
    let again = j
        .append(vec![keyed(request(ns, &s, "x"), &key, 1)])
        .await
        .unwrap();
    assert!(
        matches!(&again[0], AppendOutcome::Duplicate(e) if e.seq == 1),
        "{again:?}"
    );

    // Keys are stamped with the writer's clock; wait until it has moved past them.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let removed = j.prune_idempotency(now_ms()).await.unwrap();
    assert!(removed >= 1, "the key was pruned");
    let after = append_ok(j, vec![keyed(request(ns, &s, "x"), &key, 1)]).await;
    assert_eq!(seqs(&after), vec![2], "a pruned key no longer deduplicates");
    assert_eq!(
        j.read_stream(&s, 1, 10).await.unwrap().len(),
        2,
        "events are untouched"
    );
}

/// Every event chains to its predecessor by [`envelope_hash`], and the stream verifies.
pub async fn the_hash_chain_links_every_event(j: &dyn Journal, ns: &str) {
    let s = stream(ns, "chain");
    for b in 0..3 {
        append_ok(
            j,
            (0..4)
                .map(|i| request(ns, &s, &format!("{b}-{i}")))
                .collect(),
        )
        .await;
    }
    let all = j.read_stream(&s, 1, 100).await.unwrap();
    let mut prev = GENESIS_HASH;
    for e in &all {
        assert_eq!(e.hash, envelope_hash(&prev, e), "seq {}", e.seq);
        prev = e.hash;
    }
    assert_eq!(j.verify_stream(&s).await.unwrap(), None);
    assert_eq!(
        j.verify_stream(&stream(ns, "chain-none")).await.unwrap(),
        None
    );
}

/// Many tasks appending to shared and private streams at once: every stream ends gap-free,
/// each task's events keep their order, and every chain verifies.
pub async fn concurrent_appends_stay_gap_free_and_ordered(j: Arc<dyn Journal>, ns: &str) {
    const TASKS: usize = 12;
    const ROUNDS: usize = 25;
    let shared: Vec<String> = (0..2).map(|i| stream(ns, &format!("busy{i}"))).collect();
    let handles: Vec<_> = (0..TASKS)
        .map(|t| {
            let j = j.clone();
            let ns = ns.to_owned();
            let shared = shared.clone();
            tokio::spawn(async move {
                let own = stream(&ns, &format!("own{t}"));
                for r in 0..ROUNDS {
                    let target = &shared[(t + r) % shared.len()];
                    let batch = vec![
                        request(&ns, target, &format!("t{t}:{r:04}")),
                        request(&ns, &own, &format!("t{t}:{r:04}")),
                    ];
                    j.append(batch).await.expect("concurrent append failed");
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    let mut total = 0;
    for s in shared
        .iter()
        .cloned()
        .chain((0..TASKS).map(|t| stream(ns, &format!("own{t}"))))
    {
        let events = j.read_stream(&s, 1, 10_000).await.unwrap();
        assert_eq!(
            seqs(&events),
            (1..=events.len() as u64).collect::<Vec<_>>(),
            "{s}"
        );
        assert_eq!(j.head(&s).await.unwrap(), events.len() as u64);
        assert_eq!(j.verify_stream(&s).await.unwrap(), None, "{s}");
        let mut last: HashMap<String, String> = HashMap::new();
        for e in &events {
            let tag = String::from_utf8(e.payload.to_vec()).unwrap();
            let (task, round) = tag.trim_start().split_once(':').unwrap();
            if let Some(prev) = last.insert(task.to_owned(), round.to_owned()) {
                assert!(prev.as_str() < round, "{s}: {task} out of order");
            }
        }
        total += events.len();
    }
    assert_eq!(total, TASKS * ROUNDS * 2);
}

/// Runs every check against one journal, each under its own sub-namespace of `ns`.
pub async fn run_all(j: Arc<dyn Journal>, ns: &str, fail: Option<FailNextBatches>) {
    let sub = |name: &str| format!("{ns}-{name}");
    seqs_start_at_one_and_are_gap_free(&*j, &sub("gapfree")).await;
    a_batch_is_atomic(&*j, &sub("atomic")).await;
    if let Some(fail) = fail {
        failed_batch_consumes_no_seq(j.clone(), &sub("noseq"), fail).await;
    }
    a_duplicate_returns_the_first_result(&*j, &sub("dup")).await;
    a_reused_key_with_other_content_conflicts(&*j, &sub("conflict")).await;
    duplicates_within_one_batch_or_group_are_detected(j.clone(), &sub("dupbatch")).await;
    read_stream_pages_forward(&*j, &sub("fwd")).await;
    read_stream_before_pages_backward(&*j, &sub("back")).await;
    heads_report_each_stream(&*j, &sub("heads")).await;
    streams_with_prefix_lists_matching_streams(&*j, &sub("prefix")).await;
    query_pages_by_school_time_and_kind(&*j, &sub("query")).await;
    read_cursors_only_move_forward(&*j, &sub("cursors")).await;
    prune_forgets_keys_older_than_the_cutoff(&*j, &sub("prune")).await;
    the_hash_chain_links_every_event(&*j, &sub("chain")).await;
    concurrent_appends_stay_gap_free_and_ordered(j, &sub("concurrent")).await;
}
