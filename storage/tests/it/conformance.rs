//! The backend-independent conformance suite, run against a fresh SQLite journal per check.

use std::sync::Arc;

use oneclass_storage::conformance::{self as c, FailNextBatches};
use oneclass_storage::Journal;

use crate::fresh;

const NS: &str = "it";

#[tokio::test]
async fn seqs_start_at_one_and_are_gap_free() {
    let (_d, j) = fresh();
    c::seqs_start_at_one_and_are_gap_free(&*j, NS).await;
}

#[tokio::test]
async fn a_batch_is_atomic() {
    let (_d, j) = fresh();
    c::a_batch_is_atomic(&*j, NS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_consumes_no_seq() {
    let (_d, j) = fresh();
    let hook = j.clone();
    let fail: FailNextBatches = Arc::new(move |n| hook.fail_next_batches(n));
    c::failed_batch_consumes_no_seq(j, NS, fail).await;
}

#[tokio::test]
async fn a_duplicate_returns_the_first_result() {
    let (_d, j) = fresh();
    c::a_duplicate_returns_the_first_result(&*j, NS).await;
}

#[tokio::test]
async fn a_reused_key_with_other_content_conflicts() {
    let (_d, j) = fresh();
    c::a_reused_key_with_other_content_conflicts(&*j, NS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_within_one_batch_or_group_are_detected() {
    let (_d, j) = fresh();
    c::duplicates_within_one_batch_or_group_are_detected(j, NS).await;
}

#[tokio::test]
async fn read_stream_pages_forward() {
    let (_d, j) = fresh();
    c::read_stream_pages_forward(&*j, NS).await;
}

#[tokio::test]
async fn read_stream_before_pages_backward() {
    let (_d, j) = fresh();
    c::read_stream_before_pages_backward(&*j, NS).await;
}

#[tokio::test]
async fn heads_report_each_stream() {
    let (_d, j) = fresh();
    c::heads_report_each_stream(&*j, NS).await;
}

#[tokio::test]
async fn streams_with_prefix_lists_matching_streams() {
    let (_d, j) = fresh();
    c::streams_with_prefix_lists_matching_streams(&*j, NS).await;
}

#[tokio::test]
async fn query_pages_by_school_time_and_kind() {
    let (_d, j) = fresh();
    c::query_pages_by_school_time_and_kind(&*j, NS).await;
}

#[tokio::test]
async fn read_cursors_only_move_forward() {
    let (_d, j) = fresh();
    c::read_cursors_only_move_forward(&*j, NS).await;
}

#[tokio::test]
async fn prune_forgets_keys_older_than_the_cutoff() {
    let (_d, j) = fresh();
    c::prune_forgets_keys_older_than_the_cutoff(&*j, NS).await;
}

#[tokio::test]
async fn the_hash_chain_links_every_event() {
    let (_d, j) = fresh();
    c::the_hash_chain_links_every_event(&*j, NS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_stay_gap_free_and_ordered() {
    let (_d, j) = fresh();
    c::concurrent_appends_stay_gap_free_and_ordered(j, NS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_suite_passes_on_one_shared_journal() {
    let (_d, j) = fresh();
    let hook = j.clone();
    let fail: FailNextBatches = Arc::new(move |n| hook.fail_next_batches(n));
    let journal: Arc<dyn Journal> = j;
    c::run_all(journal, "shared", Some(fail)).await;
}
