//! Applying `storage/schema.cql` to a keyspace, idempotently, for one CQL dialect.
//!
//! The file is compiled into the binary. At connect (when migrating) the keyspace is created if
//! asked to, every `CREATE … IF NOT EXISTS` runs, the driver waits for schema agreement, and the
//! `schema_version` row is written once; a keyspace whose row names a newer version is refused,
//! and the row's `bucket_size` (fixed at creation) is what the journal uses from then on.

use std::time::Duration;

use scylla::client::session::Session;

use crate::error::StorageError;
use crate::idempotency::IDEMPOTENCY_TTL;
use crate::scylla::errors::map_execution;
use crate::scylla::Dialect;

/// The schema file, applied statement by statement.
const SCHEMA_CQL: &str = include_str!("../../schema.cql");

/// The layout version this code writes and understands.
pub(crate) const SCHEMA_VERSION: i32 = 1;

/// The `component` of this crate's row in `schema_version`.
const COMPONENT: &str = "journal";

/// How long DDL may take before the driver gives up; schema changes are slow on Cassandra.
const DDL_TIMEOUT: Duration = Duration::from_secs(60);

/// Keyspace names CQL accepts unquoted: letters, digits and `_`, at most 48 characters.
pub(crate) fn check_keyspace_name(name: &str) -> Result<(), StorageError> {
    let ok = !name.is_empty()
        && name.len() <= 48
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if ok {
        Ok(())
    } else {
        Err(StorageError::Invalid(format!(
            "keyspace name {name:?} must be a letter followed by up to 47 letters, digits or _"
        )))
    }
}

/// The statements of the schema file for `dialect`, with markers resolved and comments dropped.
pub(crate) fn statements(dialect: Dialect) -> Vec<String> {
    let keep = match dialect {
        Dialect::Scylla => "/*scylla:",
        Dialect::Cassandra => "/*cassandra:",
    };
    let mut text = String::new();
    for line in SCHEMA_CQL.lines() {
        let line = match line.find("--") {
            Some(at) => &line[..at],
            None => line,
        };
        text.push_str(line);
        text.push('\n');
    }
    // Resolve `/*dialect: … */` blocks: keep the body of ours, drop the others.
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("*/") else {
            break;
        };
        let block = &rest[start..start + len];
        if let Some(body) = block.strip_prefix(keep) {
            out.push_str(body);
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    let out = out.replace(
        "{{IDEMPOTENCY_TTL}}",
        &IDEMPOTENCY_TTL.as_secs().to_string(),
    );
    out.split(';')
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect()
}

async fn ddl(session: &Session, cql: &str) -> Result<(), StorageError> {
    let mut st = scylla::statement::unprepared::Statement::new(cql);
    st.set_request_timeout(Some(DDL_TIMEOUT));
    session
        .query_unpaged(st, ())
        .await
        .map_err(|e| map_execution(&format!("apply schema: {cql}"), e))?;
    Ok(())
}

/// Creates `keyspace` with `replication` (a CQL map) unless it exists.
pub(crate) async fn create_keyspace(
    session: &Session,
    keyspace: &str,
    replication: &str,
    dialect: Dialect,
    tablets: Option<bool>,
) -> Result<(), StorageError> {
    let tablets = match (dialect, tablets) {
        (Dialect::Scylla, Some(on)) => format!(" AND tablets = {{'enabled': {on}}}"),
        _ => String::new(),
    };
    ddl(
        session,
        &format!(
            "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication}{tablets}"
        ),
    )
    .await
}

/// Applies the schema to the session's keyspace and returns the keyspace's bucket size.
pub(crate) async fn migrate(
    session: &Session,
    dialect: Dialect,
    bucket_size: u64,
) -> Result<u64, StorageError> {
    if let Some((version, bucket)) = read_version(session).await? {
        check_version(version)?;
        return Ok(bucket);
    }
    for cql in statements(dialect) {
        ddl(session, &cql).await?;
    }
    session
        .await_schema_agreement()
        .await
        .map_err(|e| StorageError::backend("wait for schema agreement", e))?;
    // Two processes migrating at once both get here; `IF NOT EXISTS` lets the first row stand.
    let mut st = scylla::statement::unprepared::Statement::new(
        "INSERT INTO schema_version (component, version, bucket_size, applied_at) \
         VALUES (?, ?, ?, toTimestamp(now())) IF NOT EXISTS",
    );
    st.set_request_timeout(Some(DDL_TIMEOUT));
    session
        .query_unpaged(st, (COMPONENT, SCHEMA_VERSION, bucket_size as i64))
        .await
        .map_err(|e| map_execution("record the schema version", e))?;
    match read_version(session).await? {
        Some((version, bucket)) => {
            check_version(version)?;
            Ok(bucket)
        }
        None => Err(StorageError::Unavailable(
            "schema_version row missing right after writing it".into(),
        )),
    }
}

/// Reads the version row without migrating; a missing schema is an error.
pub(crate) async fn expect_schema(session: &Session) -> Result<u64, StorageError> {
    match read_version(session).await? {
        Some((version, bucket)) => {
            check_version(version)?;
            Ok(bucket)
        }
        None => Err(StorageError::Unavailable(
            "the keyspace has no journal schema; connect once with migrate enabled".into(),
        )),
    }
}

fn check_version(version: i32) -> Result<(), StorageError> {
    if version == SCHEMA_VERSION {
        Ok(())
    } else {
        Err(StorageError::Unavailable(format!(
            "keyspace has journal schema version {version}, this build understands \
             {SCHEMA_VERSION}"
        )))
    }
}

async fn read_version(session: &Session) -> Result<Option<(i32, u64)>, StorageError> {
    let exists = session
        .query_unpaged(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? \
             AND table_name = 'schema_version'",
            (current_keyspace(session)?,),
        )
        .await
        .map_err(|e| map_execution("look for the schema_version table", e))?
        .into_rows_result()
        .map_err(|e| StorageError::backend("read system_schema.tables", e))?
        .rows_num()
        > 0;
    if !exists {
        return Ok(None);
    }
    let mut st = scylla::statement::unprepared::Statement::new(
        "SELECT version, bucket_size FROM schema_version WHERE component = ?",
    );
    st.set_consistency(scylla::statement::Consistency::Quorum);
    let rows = session
        .query_unpaged(st, (COMPONENT,))
        .await
        .map_err(|e| map_execution("read the schema version", e))?
        .into_rows_result()
        .map_err(|e| StorageError::backend("read the schema version", e))?;
    let row = rows
        .maybe_first_row::<(i32, i64)>()
        .map_err(|e| StorageError::backend("read the schema version", e))?;
    Ok(row.map(|(v, b)| (v, b.max(1) as u64)))
}

fn current_keyspace(session: &Session) -> Result<String, StorageError> {
    session
        .get_keyspace()
        .map(|k| k.to_string())
        .ok_or_else(|| StorageError::Invalid("no keyspace selected".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_keep_only_the_chosen_dialect() {
        let scylla = statements(Dialect::Scylla).join("\n");
        let cassandra = statements(Dialect::Cassandra).join("\n");
        assert!(scylla.contains("IncrementalCompactionStrategy"));
        assert!(!scylla.contains("UnifiedCompactionStrategy"));
        assert!(cassandra.contains("UnifiedCompactionStrategy"));
        assert!(!cassandra.contains("IncrementalCompactionStrategy"));
        for s in [&scylla, &cassandra] {
            assert!(!s.contains("/*") && !s.contains("--") && !s.contains("{{"));
            assert!(s.contains("default_time_to_live = 86400"));
        }
        assert_eq!(
            statements(Dialect::Cassandra).len(),
            11,
            "one statement per table"
        );
    }

    #[test]
    fn keyspace_names_are_checked() {
        assert!(check_keyspace_name("oneclass_ci_123").is_ok());
        for bad in ["", "1abc", "a-b", "a;drop", &"a".repeat(49)] {
            assert!(check_keyspace_name(bad).is_err(), "{bad}");
        }
    }
}
