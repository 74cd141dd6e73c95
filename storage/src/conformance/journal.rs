//! Conformance of [`Journal`]: seqs, atomic batches, failed batches, reads forward and
//! backward, heads, prefix listings, the hash chain and concurrent appends.

use std::collections::HashMap;
use std::sync::Arc;

use super::fixtures::{append_ok, appended, request, school, seqs, stream, FailNextBatches};
use crate::hash::{envelope_hash, GENESIS_HASH};
use crate::journal::Journal;

/// Seqs of a new stream start at 1 and grow by one per event, across batches.
pub async fn seqs_start_at_one_and_are_gap_free<J: Journal + ?Sized>(j: &J, ns: &str) {
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
pub async fn a_batch_is_atomic<J: Journal + ?Sized>(j: &J, ns: &str) {
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
pub async fn failed_batch_consumes_no_seq<J: Journal + ?Sized>(
    j: Arc<J>,
    ns: &str,
    fail: FailNextBatches,
) {
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

/// Forward paging with `read_stream` visits every event once, in order.
pub async fn read_stream_pages_forward<J: Journal + ?Sized>(j: &J, ns: &str) {
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
pub async fn read_stream_before_pages_backward<J: Journal + ?Sized>(j: &J, ns: &str) {
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
pub async fn heads_report_each_stream<J: Journal + ?Sized>(j: &J, ns: &str) {
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
pub async fn streams_with_prefix_lists_matching_streams<J: Journal + ?Sized>(j: &J, ns: &str) {
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

/// Every event chains to its predecessor by [`envelope_hash`], and the stream verifies.
pub async fn the_hash_chain_links_every_event<J: Journal + ?Sized>(j: &J, ns: &str) {
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
pub async fn concurrent_appends_stay_gap_free_and_ordered<J: Journal + ?Sized>(
    j: Arc<J>,
    ns: &str,
) {
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

/// Runs every [`Journal`] check, each under its own sub-namespace of `ns`. The failure hook is
/// optional because only backends with the feature `fault-injection` have one.
pub async fn run_all<J: Journal + ?Sized>(j: Arc<J>, ns: &str, fail: Option<FailNextBatches>) {
    let sub = |name: &str| format!("{ns}-{name}");
    seqs_start_at_one_and_are_gap_free(&*j, &sub("gapfree")).await;
    a_batch_is_atomic(&*j, &sub("atomic")).await;
    if let Some(fail) = fail {
        failed_batch_consumes_no_seq(j.clone(), &sub("noseq"), fail).await;
    }
    read_stream_pages_forward(&*j, &sub("fwd")).await;
    read_stream_before_pages_backward(&*j, &sub("back")).await;
    heads_report_each_stream(&*j, &sub("heads")).await;
    streams_with_prefix_lists_matching_streams(&*j, &sub("prefix")).await;
    the_hash_chain_links_every_event(&*j, &sub("chain")).await;
    concurrent_appends_stay_gap_free_and_ordered(j, &sub("concurrent")).await;
}
