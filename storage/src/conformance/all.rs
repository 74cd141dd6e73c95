//! [`run_all`]: every conformance module against one backend, in one go.

use std::sync::Arc;

use super::fixtures::FailNextBatches;
use super::{cursors, idempotency, journal, queries};
use crate::capabilities::Storage;

/// Runs every check of every capability against one backend, each under its own
/// sub-namespace of `ns` (the same names as the per-module `run_all`s use, so the checks can
/// share one database). Pruning runs last (see [`idempotency`]). `fail` is the backend's
/// `fail_next_batches` when it has the feature `fault-injection`; without it the failed-batch
/// check is skipped.
pub async fn run_all(s: Arc<dyn Storage>, ns: &str, fail: Option<FailNextBatches>) {
    journal::run_all(s.clone(), ns, fail).await;
    queries::run_all(&*s, ns).await;
    cursors::run_all(&*s, ns).await;
    idempotency::run_all(s, ns).await;
}
