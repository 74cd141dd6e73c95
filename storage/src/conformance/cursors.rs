//! Conformance of [`ReadCursors`]: a cursor only moves forward and is listed per user.

use std::collections::HashMap;

use super::fixtures::{school, stream};
use crate::cursors::ReadCursors;

/// Read cursors move forward only and are listed per user.
pub async fn read_cursors_only_move_forward<C: ReadCursors + ?Sized>(j: &C, ns: &str) {
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

/// Runs every [`ReadCursors`] check under a sub-namespace of `ns`.
pub async fn run_all<C: ReadCursors + ?Sized>(j: &C, ns: &str) {
    read_cursors_only_move_forward(j, &format!("{ns}-cursors")).await;
}
