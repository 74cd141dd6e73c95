//! [`ReadCursors`]: how far each user has read in each chat channel.
//!
//! Unlike the journal this is MUTABLE state: a cursor is overwritten in place (the CQL backend
//! also expires untouched ones after a TTL), so it does not belong to the append-only log and
//! has no hash chain. The one invariant is that a cursor never moves backwards, so a late write
//! from a second device cannot mark read messages unread again. Cursor writes go through the
//! same writer as appends on SQLite, so a journal that went unavailable refuses them too.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::error::StorageError;

/// Per-user read positions, by school and channel. Object safe.
#[async_trait]
pub trait ReadCursors: Send + Sync + 'static {
    /// Moves `user`'s read cursor on `channel` forward to `seq` (never backwards) and returns the
    /// value stored afterwards.
    async fn set_read_cursor(
        &self,
        school_id: &str,
        user_id: &str,
        channel: &str,
        seq: u64,
    ) -> Result<u64, StorageError>;

    /// All of `user`'s read cursors in `school`, by channel.
    async fn read_cursors(
        &self,
        school_id: &str,
        user_id: &str,
    ) -> Result<HashMap<String, u64>, StorageError>;
}
