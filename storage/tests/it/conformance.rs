//! The backend-independent conformance suite, one check per test, against a fresh SQLite
//! journal and a fresh in-memory journal per check; then the whole suite on one shared
//! instance of each, as the CQL backend runs it (module `cql`).

/// One `#[tokio::test]` per conformance check, against the backend `$fresh()` returns (a
/// guard to keep alive and an `Arc` of the backend, which must have `fail_next_batches`).
macro_rules! conformance_tests {
    ($fresh:path) => {
        use std::sync::Arc;

        use oneclass_storage::conformance::{
            self as c, cursors, idempotency, journal, queries, FailNextBatches,
        };
        use oneclass_storage::Storage;

        const NS: &str = "it";

        #[tokio::test]
        async fn seqs_start_at_one_and_are_gap_free() {
            let (_d, j) = $fresh();
            journal::seqs_start_at_one_and_are_gap_free(&*j, NS).await;
        }

        #[tokio::test]
        async fn a_batch_is_atomic() {
            let (_d, j) = $fresh();
            journal::a_batch_is_atomic(&*j, NS).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_failed_batch_consumes_no_seq() {
            let (_d, j) = $fresh();
            let hook = j.clone();
            let fail: FailNextBatches = Arc::new(move |n| hook.fail_next_batches(n));
            journal::failed_batch_consumes_no_seq(j, NS, fail).await;
        }

        #[tokio::test]
        async fn a_duplicate_returns_the_first_result() {
            let (_d, j) = $fresh();
            idempotency::a_duplicate_returns_the_first_result(&*j, NS).await;
        }

        #[tokio::test]
        async fn a_reused_key_with_other_content_conflicts() {
            let (_d, j) = $fresh();
            idempotency::a_reused_key_with_other_content_conflicts(&*j, NS).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn duplicates_within_one_batch_or_group_are_detected() {
            let (_d, j) = $fresh();
            idempotency::duplicates_within_one_batch_or_group_are_detected(j, NS).await;
        }

        #[tokio::test]
        async fn read_stream_pages_forward() {
            let (_d, j) = $fresh();
            journal::read_stream_pages_forward(&*j, NS).await;
        }

        #[tokio::test]
        async fn read_stream_before_pages_backward() {
            let (_d, j) = $fresh();
            journal::read_stream_before_pages_backward(&*j, NS).await;
        }

        #[tokio::test]
        async fn heads_report_each_stream() {
            let (_d, j) = $fresh();
            journal::heads_report_each_stream(&*j, NS).await;
        }

        #[tokio::test]
        async fn streams_with_prefix_lists_matching_streams() {
            let (_d, j) = $fresh();
            journal::streams_with_prefix_lists_matching_streams(&*j, NS).await;
        }

        #[tokio::test]
        async fn query_pages_by_school_time_and_kind() {
            let (_d, j) = $fresh();
            queries::query_pages_by_school_time_and_kind(&*j, NS).await;
        }

        #[tokio::test]
        async fn read_cursors_only_move_forward() {
            let (_d, j) = $fresh();
            cursors::read_cursors_only_move_forward(&*j, NS).await;
        }

        #[tokio::test]
        async fn prune_forgets_keys_older_than_the_cutoff() {
            let (_d, j) = $fresh();
            idempotency::prune_forgets_keys_older_than_the_cutoff(&*j, NS).await;
        }

        #[tokio::test]
        async fn the_hash_chain_links_every_event() {
            let (_d, j) = $fresh();
            journal::the_hash_chain_links_every_event(&*j, NS).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_appends_stay_gap_free_and_ordered() {
            let (_d, j) = $fresh();
            journal::concurrent_appends_stay_gap_free_and_ordered(j, NS).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_whole_suite_passes_on_one_shared_instance() {
            let (_d, j) = $fresh();
            let hook = j.clone();
            let fail: FailNextBatches = Arc::new(move |n| hook.fail_next_batches(n));
            let storage: Arc<dyn Storage> = j;
            c::run_all(storage, "shared", Some(fail)).await;
        }
    };
}

mod sqlite {
    conformance_tests!(crate::fresh);
}

mod memory {
    use oneclass_storage::MemoryJournal;

    /// A fresh in-memory journal; the unit guard mirrors SQLite's temporary directory.
    fn fresh() -> ((), std::sync::Arc<MemoryJournal>) {
        ((), std::sync::Arc::new(MemoryJournal::new()))
    }

    conformance_tests!(fresh);
}
