//! Every CQL statement the backend runs, prepared once at connect.
//!
//! Each statement carries the configured consistency; writes that are safe to repeat are marked
//! idempotent (so the driver may retry them on another node), counter updates are not.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;

use crate::error::StorageError;
use crate::scylla::rows::EVENT_COLUMNS;

/// The prepared statements, shared by every request of one journal.
#[derive(Debug)]
pub(crate) struct Statements {
    pub insert_event_by_stream: PreparedStatement,
    pub insert_event_by_school: PreparedStatement,
    pub upsert_head: PreparedStatement,
    pub insert_stream_scope: PreparedStatement,
    pub insert_scope_parent: PreparedStatement,
    pub insert_day: PreparedStatement,
    pub insert_key: PreparedStatement,
    pub insert_key_by_minute: PreparedStatement,
    pub select_key: PreparedStatement,
    pub select_head: PreparedStatement,
    pub select_stream_from: PreparedStatement,
    pub select_stream_before: PreparedStatement,
    pub select_event_at: PreparedStatement,
    pub select_scope_streams: PreparedStatement,
    pub select_child_scopes: PreparedStatement,
    pub select_days: PreparedStatement,
    pub select_school_from: PreparedStatement,
    pub select_school_after: PreparedStatement,
    pub select_school_day: PreparedStatement,
    pub count_add: PreparedStatement,
    pub select_counts: PreparedStatement,
    pub set_cursor: PreparedStatement,
    pub select_cursor: PreparedStatement,
    pub select_cursors: PreparedStatement,
    pub select_keys_by_minute: PreparedStatement,
    pub delete_key: PreparedStatement,
    pub delete_key_by_minute: PreparedStatement,
}

impl Statements {
    pub(crate) async fn prepare(
        session: &Session,
        consistency: Consistency,
        page_size: i32,
    ) -> Result<Self, StorageError> {
        let p = |cql: String, idempotent: bool| async move {
            let mut st = session
                .prepare(cql.clone())
                .await
                .map_err(|e| StorageError::backend(format!("prepare `{cql}`"), e))?;
            st.set_consistency(consistency);
            st.set_is_idempotent(idempotent);
            st.set_page_size(page_size);
            Ok::<_, StorageError>(st)
        };
        let cols = EVENT_COLUMNS;
        Ok(Statements {
            insert_event_by_stream: p(
                "INSERT INTO events_by_stream (stream, bucket, seq, school_id, day, event_id, \
                 kind, actor, occurred_at, payload, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    .into(),
                true,
            )
            .await?,
            insert_event_by_school: p(
                "INSERT INTO events_by_school_day (school_id, day, occurred_at, event_id, stream, \
                 seq, kind, actor, payload, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    .into(),
                true,
            )
            .await?,
            upsert_head: p(
                "INSERT INTO stream_heads (stream, head, hash) VALUES (?, ?, ?)".into(),
                true,
            )
            .await?,
            insert_stream_scope: p(
                "INSERT INTO streams_by_scope (scope, stream) VALUES (?, ?)".into(),
                true,
            )
            .await?,
            insert_scope_parent: p(
                "INSERT INTO stream_scopes (parent, scope) VALUES (?, ?)".into(),
                true,
            )
            .await?,
            insert_day: p(
                "INSERT INTO days_by_school (school_id, day) VALUES (?, ?)".into(),
                true,
            )
            .await?,
            insert_key: p(
                "INSERT INTO idempotency (key, fingerprint, stream, seq, created_at) \
                 VALUES (?, ?, ?, ?, ?) USING TTL ?"
                    .into(),
                true,
            )
            .await?,
            insert_key_by_minute: p(
                "INSERT INTO idempotency_by_minute (minute, created_at, key) VALUES (?, ?, ?) \
                 USING TTL ?"
                    .into(),
                true,
            )
            .await?,
            select_key: p(
                "SELECT fingerprint, stream, seq FROM idempotency WHERE key = ?".into(),
                true,
            )
            .await?,
            select_head: p(
                "SELECT head, hash FROM stream_heads WHERE stream = ?".into(),
                true,
            )
            .await?,
            select_stream_from: p(
                format!(
                    "SELECT {cols} FROM events_by_stream WHERE stream = ? AND bucket = ? \
                     AND seq >= ? LIMIT ?"
                ),
                true,
            )
            .await?,
            select_stream_before: p(
                format!(
                    "SELECT {cols} FROM events_by_stream WHERE stream = ? AND bucket = ? \
                     AND seq < ? ORDER BY seq DESC LIMIT ?"
                ),
                true,
            )
            .await?,
            select_event_at: p(
                format!(
                    "SELECT {cols} FROM events_by_stream WHERE stream = ? AND bucket = ? \
                     AND seq = ?"
                ),
                true,
            )
            .await?,
            select_scope_streams: p(
                "SELECT stream FROM streams_by_scope WHERE scope = ? AND stream >= ?".into(),
                true,
            )
            .await?,
            select_child_scopes: p(
                "SELECT scope FROM stream_scopes WHERE parent = ? AND scope >= ?".into(),
                true,
            )
            .await?,
            select_days: p(
                "SELECT day FROM days_by_school WHERE school_id = ? AND day >= ? AND day <= ?"
                    .into(),
                true,
            )
            .await?,
            select_school_from: p(
                format!(
                    "SELECT {cols} FROM events_by_school_day WHERE school_id = ? AND day = ? \
                     AND occurred_at >= ? AND occurred_at < ?"
                ),
                true,
            )
            .await?,
            // Both bounds as tuples: CQL refuses to mix a multi-column slice with a
            // single-column one on the same clustering columns.
            select_school_after: p(
                format!(
                    "SELECT {cols} FROM events_by_school_day WHERE school_id = ? AND day = ? \
                     AND (occurred_at, event_id) > (?, ?) AND (occurred_at) < (?)"
                ),
                true,
            )
            .await?,
            select_school_day: p(
                "SELECT kind FROM events_by_school_day WHERE school_id = ? AND day = ?".into(),
                true,
            )
            .await?,
            count_add: p(
                "UPDATE event_counts SET n = n + ? WHERE school_id = ? AND day = ? AND kind = ?"
                    .into(),
                false,
            )
            .await?,
            select_counts: p(
                "SELECT kind, n FROM event_counts WHERE school_id = ? AND day = ?".into(),
                true,
            )
            .await?,
            set_cursor: p(
                "INSERT INTO read_cursors (school_id, user_id, channel, seq) VALUES (?, ?, ?, ?) \
                 USING TIMESTAMP ? AND TTL ?"
                    .into(),
                true,
            )
            .await?,
            select_cursor: p(
                "SELECT seq FROM read_cursors WHERE school_id = ? AND user_id = ? AND channel = ?"
                    .into(),
                true,
            )
            .await?,
            select_cursors: p(
                "SELECT channel, seq FROM read_cursors WHERE school_id = ? AND user_id = ?".into(),
                true,
            )
            .await?,
            select_keys_by_minute: p(
                "SELECT created_at, key FROM idempotency_by_minute WHERE minute = ? \
                 AND created_at < ?"
                    .into(),
                true,
            )
            .await?,
            delete_key: p(
                "DELETE FROM idempotency USING TIMESTAMP ? WHERE key = ?".into(),
                true,
            )
            .await?,
            delete_key_by_minute: p(
                "DELETE FROM idempotency_by_minute WHERE minute = ? AND created_at = ? AND key = ?"
                    .into(),
                true,
            )
            .await?,
        })
    }
}
