//! Choosing and opening the journal backend.
//!
//! The embedded SQLite journal under the data directory is the default; the directory's
//! `journal.id` ([`crate::journal_marker`]) keeps a missing, emptied or swapped journal file from
//! starting as a new journal. Its WAL bounds come from `journal.wal_checkpoint_bytes` and
//! `journal.wal_max_bytes`. A journal URL
//! (`ONECLASS_JOURNAL` or `journal.url`) switches to ScyllaDB (or Apache Cassandra) and takes
//! precedence over the data directory:
//!
//! ```text
//! scylla://host1:9042,host2:9042/keyspace?dialect=scylla&consistency=local_quorum&replication=nts:dc1=3
//! ```
//!
//! | parameter | values | default |
//! |---|---|---|
//! | `dialect` | `scylla`, `cassandra` | `scylla` |
//! | `consistency` | `one`, `quorum`, `local_quorum`, `all`, `local_one` | `local_quorum` |
//! | `replication` | `simple:N` or `nts:dc1=N,dc2=M`: create the keyspace if missing | keyspace must exist |
//! | `migrate` | `true`, `false`: apply the schema at start | `true` |
//!
//! The CQL driver runs on a small runtime of its own, started once per process, so the hub's
//! actix workers (and synchronous callers such as the CLI) can use the journal from anywhere.

use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use oneclass_storage::scylla::{Consistency, Dialect, ScyllaJournal, ScyllaOptions};
use oneclass_storage::{SqliteJournal, SqliteOptions, Storage};

use crate::config::Settings;
use crate::journal_marker::JournalMarker;

/// File name of the embedded journal inside the data directory.
pub const JOURNAL_FILE: &str = "journal.db";
/// Threads of the CQL driver's runtime.
const DRIVER_THREADS: usize = 2;

/// A parsed `scylla://` URL.
#[derive(Debug, Clone)]
pub struct CqlTarget {
    pub nodes: Vec<String>,
    pub keyspace: String,
    pub options: ScyllaOptions,
}

/// Parses a `scylla://` journal URL.
pub fn parse_cql_url(url: &str) -> anyhow::Result<CqlTarget> {
    let rest = url
        .strip_prefix("scylla://")
        .or_else(|| url.strip_prefix("cassandra://"))
        .with_context(|| format!("journal URL `{url}` must start with scylla://"))?;
    let (hosts_and_keyspace, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (hosts, keyspace) = hosts_and_keyspace
        .split_once('/')
        .with_context(|| format!("journal URL `{url}` needs a /keyspace"))?;
    let nodes: Vec<String> = hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    anyhow::ensure!(!nodes.is_empty(), "journal URL `{url}` names no host");
    anyhow::ensure!(
        !keyspace.is_empty(),
        "journal URL `{url}` names no keyspace"
    );
    let mut options = ScyllaOptions::default();
    if url.starts_with("cassandra://") {
        options.dialect = Dialect::Cassandra;
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "dialect" => {
                options.dialect = match value {
                    "scylla" => Dialect::Scylla,
                    "cassandra" => Dialect::Cassandra,
                    other => anyhow::bail!("unknown dialect `{other}` (scylla, cassandra)"),
                }
            }
            "consistency" => {
                options.consistency = match value {
                    "one" => Consistency::One,
                    "local_one" => Consistency::LocalOne,
                    "quorum" => Consistency::Quorum,
                    "local_quorum" => Consistency::LocalQuorum,
                    "all" => Consistency::All,
                    other => anyhow::bail!("unknown consistency `{other}`"),
                }
            }
            "replication" => options.create_keyspace = Some(replication(value)?),
            "migrate" => options.migrate = value != "false",
            other => anyhow::bail!("unknown journal URL parameter `{other}`"),
        }
    }
    Ok(CqlTarget {
        nodes,
        keyspace: keyspace.to_owned(),
        options,
    })
}

fn replication(value: &str) -> anyhow::Result<String> {
    if let Some(n) = value.strip_prefix("simple:") {
        let n: u32 = n.parse().context("simple:N needs a number")?;
        return Ok(format!(
            "{{'class': 'SimpleStrategy', 'replication_factor': {n}}}"
        ));
    }
    if let Some(dcs) = value.strip_prefix("nts:") {
        let mut parts = vec!["'class': 'NetworkTopologyStrategy'".to_owned()];
        for dc in dcs.split(',') {
            let (name, n) = dc.split_once('=').context("nts:dc=N[,dc=N]")?;
            let n: u32 = n.parse().context("nts:dc=N needs a number")?;
            anyhow::ensure!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                "invalid data centre name `{name}`"
            );
            parts.push(format!("'{name}': {n}"));
        }
        return Ok(format!("{{{}}}", parts.join(", ")));
    }
    anyhow::bail!("replication must be simple:N or nts:dc=N[,dc=N]")
}

fn driver_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(DRIVER_THREADS)
            .thread_name("cql-driver")
            .enable_all()
            .build()
            // unwrap: building a runtime only fails when threads cannot be spawned at start.
            .unwrap()
    })
}

/// Connects to a CQL cluster on the driver's runtime.
pub fn connect_cql(target: CqlTarget) -> anyhow::Result<Arc<dyn Storage>> {
    let nodes = target.nodes.join(",");
    // A thread of its own: this may be called from inside another runtime.
    let journal = std::thread::spawn(move || {
        driver_runtime().block_on(ScyllaJournal::connect(
            &target.nodes,
            &target.keyspace,
            target.options,
        ))
    })
    .join()
    .map_err(|_| anyhow::anyhow!("CQL connect thread panicked"))?
    .with_context(|| format!("connecting to the journal at {nodes}"))?;
    Ok(Arc::new(journal))
}

/// Opens the configured journal: the CQL URL if one is set, else SQLite under the data dir.
pub fn open_journal(settings: &Settings) -> anyhow::Result<Arc<dyn Storage>> {
    if let Some(url) = &settings.journal.url {
        return connect_cql(parse_cql_url(url)?);
    }
    let data_dir = &settings.journal.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let path = data_dir.join(JOURNAL_FILE);
    let marker = JournalMarker::read(data_dir)?;
    marker.check_file(&path)?;
    let options = SqliteOptions {
        wal_checkpoint_bytes: settings.journal.wal_checkpoint_bytes,
        wal_max_bytes: settings.journal.wal_max_bytes,
        ..SqliteOptions::default()
    };
    let journal = SqliteJournal::open_with(&path, options)
        .with_context(|| format!("opening journal {}", path.display()))?;
    marker.check_identity(&path, journal.identity())?;
    Ok(Arc::new(journal))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_url_names_nodes_keyspace_and_options() {
        let t = parse_cql_url(
            "scylla://a:9042,b:9042/hub?dialect=cassandra&consistency=one&replication=simple:1",
        )
        .unwrap();
        assert_eq!(t.nodes, vec!["a:9042", "b:9042"]);
        assert_eq!(t.keyspace, "hub");
        assert_eq!(t.options.dialect, Dialect::Cassandra);
        assert_eq!(t.options.consistency, Consistency::One);
        assert!(t
            .options
            .create_keyspace
            .unwrap()
            .contains("SimpleStrategy"));
        let nts = parse_cql_url("scylla://a:9042/hub?replication=nts:dc1=3,dc2=2").unwrap();
        assert!(nts.options.create_keyspace.unwrap().contains("'dc2': 2"));
    }

    #[test]
    fn bad_journal_urls_fail_with_a_reason() {
        for bad in [
            "postgres://x/y",
            "scylla://a:9042",
            "scylla:///ks",
            "scylla://a/ks?dialect=mysql",
            "scylla://a/ks?replication=nts:dc'=3",
            "scylla://a/ks?color=red",
        ] {
            assert!(parse_cql_url(bad).is_err(), "{bad}");
        }
    }
}
