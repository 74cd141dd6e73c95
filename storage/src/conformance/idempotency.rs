//! Conformance of idempotency: key resolution inside [`Journal::append`] (duplicates, conflicts,
//! repeats within one batch and across concurrent batches) and [`IdempotencyStore`] pruning.
//!
//! [`prune_forgets_keys_older_than_the_cutoff`] prunes every key older than the moment it runs;
//! on a shared database run it where no other check relies on a key recorded before then
//! ([`super::run_all`] runs it last).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::fixtures::{append_ok, keyed, request, seqs, stream};
use crate::idempotency::IdempotencyStore;
use crate::journal::{AppendOutcome, Journal};
use oneclass_protocol::timestamp::now_ms;

/// Repeating a keyed request returns the first stored event and writes nothing.
pub async fn a_duplicate_returns_the_first_result<J: Journal + ?Sized>(j: &J, ns: &str) {
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
pub async fn a_reused_key_with_other_content_conflicts<J: Journal + ?Sized>(j: &J, ns: &str) {
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
pub async fn duplicates_within_one_batch_or_group_are_detected<J: Journal + ?Sized>(
    j: Arc<J>,
    ns: &str,
) {
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

/// Pruning forgets keys recorded before the cutoff (a repeat is then stored anew) and keeps the
/// newer ones; events are untouched.
pub async fn prune_forgets_keys_older_than_the_cutoff<S>(j: &S, ns: &str)
where
    S: Journal + IdempotencyStore + ?Sized,
{
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

/// Runs every idempotency check, each under its own sub-namespace of `ns`; pruning last.
pub async fn run_all<S>(j: Arc<S>, ns: &str)
where
    S: Journal + IdempotencyStore + ?Sized,
{
    let sub = |name: &str| format!("{ns}-{name}");
    a_duplicate_returns_the_first_result(&*j, &sub("dup")).await;
    a_reused_key_with_other_content_conflicts(&*j, &sub("conflict")).await;
    duplicates_within_one_batch_or_group_are_detected(j.clone(), &sub("dupbatch")).await;
    prune_forgets_keys_older_than_the_cutoff(&*j, &sub("prune")).await;
}
