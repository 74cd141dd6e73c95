//! The data directory's record of which journal it holds: `journal.id` beside `journal.db`.
//!
//! SQLite opens a missing or zero-length file as a new, empty database, so a journal file that
//! was deleted, emptied or replaced by an operator's mistake (or a bad restore) would start as a
//! fresh journal: every stream's history resets to seq 1, and clients that hold seq 400 of a
//! channel drop the new seqs 1–400 as already seen. The marker makes that refused instead.
//!
//! The journal keeps its own identity (a random id drawn at creation, inside the file:
//! `oneclass_storage::JournalIdentity`). The first time a data directory opens a journal, the
//! identity is copied into `journal.id`. From then on:
//!
//! - marker present, journal file missing or empty: refused before SQLite could create anything;
//! - marker present, journal with another identity: refused (the file was swapped);
//! - no marker: the journal is opened or created and the marker written. A fresh data directory
//!   therefore just starts, and so does one from before the marker existed.
//!
//! The operator who really wants a new, empty journal deletes `journal.id`; every refusal says so
//! and names both files. The marker is written to a temporary file, fsynced and renamed into
//! place, so a crash leaves either no marker or a whole one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use oneclass_protocol::timestamp::format_ms;
use oneclass_storage::JournalIdentity;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// File name of the marker inside the data directory.
pub const MARKER_FILE: &str = "journal.id";

/// What `journal.id` holds (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Marker {
    /// The journal's id, hyphenated.
    journal_id: String,
    /// When the journal was created, RFC 3339, for the operator reading the file.
    created_at: String,
}

/// The data directory's marker, read before the journal is opened.
#[derive(Debug)]
pub struct JournalMarker {
    path: PathBuf,
    recorded: Option<(Uuid, String)>,
}

impl JournalMarker {
    /// Reads `data_dir/journal.id`, if there is one.
    pub fn read(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(MARKER_FILE);
        let recorded = match std::fs::read(&path) {
            Ok(bytes) => {
                let marker: Marker = serde_json::from_slice(&bytes)
                    .with_context(|| format!("reading journal marker {}", path.display()))?;
                let id = Uuid::parse_str(&marker.journal_id).with_context(|| {
                    format!("journal marker {}: bad journal_id", path.display())
                })?;
                Some((id, marker.created_at))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(e).with_context(|| format!("reading journal marker {}", path.display()))
            }
        };
        Ok(Self { path, recorded })
    }

    /// Refuses a missing or empty journal file when this directory once held a journal.
    pub fn check_file(&self, journal: &Path) -> anyhow::Result<()> {
        let Some((id, created)) = &self.recorded else {
            return Ok(());
        };
        let state = match std::fs::metadata(journal) {
            Ok(m) if m.len() > 0 => return Ok(()),
            Ok(_) => "empty (zero bytes)",
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "missing",
            Err(e) => {
                return Err(e).with_context(|| format!("inspecting journal {}", journal.display()))
            }
        };
        anyhow::bail!(
            "journal {} is {state}, but this data directory held journal {id} (created {created}, \
             recorded in {}). Starting would reset every stream's history to seq 1. Restore the \
             journal file from a backup; to start a new, empty journal here on purpose, delete {}.",
            journal.display(),
            self.path.display(),
            self.path.display(),
        )
    }

    /// After opening: refuses a journal with another identity than the recorded one, or records
    /// this journal's identity when nothing was recorded yet.
    pub fn check_identity(&self, journal: &Path, found: JournalIdentity) -> anyhow::Result<()> {
        match &self.recorded {
            Some((id, _)) if *id == found.id => Ok(()),
            Some((id, created)) => anyhow::bail!(
                "journal {} is journal {} (created {}), but this data directory held journal {id} \
                 (created {created}, recorded in {}): the file was replaced. Put the right journal \
                 file back; to use this one on purpose, delete {}.",
                journal.display(),
                found.id,
                format_ms(found.created_at_ms),
                self.path.display(),
                self.path.display(),
            ),
            None => self.record(found),
        }
    }

    fn record(&self, found: JournalIdentity) -> anyhow::Result<()> {
        let marker = Marker {
            journal_id: found.id.hyphenated().to_string(),
            created_at: format_ms(found.created_at_ms),
        };
        // unwrap: a struct of two strings always serialises.
        let body = serde_json::to_vec_pretty(&marker).unwrap();
        let tmp = self.path.with_extension("id.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            if let Some(dir) = self.path.parent() {
                // The rename is durable only once the directory is.
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().with_context(|| format!("writing journal marker {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> JournalIdentity {
        JournalIdentity {
            id: Uuid::new_v4(),
            created_at_ms: 1_767_312_000_000,
        }
    }

    #[test]
    fn a_fresh_directory_records_its_journal_and_then_refuses_an_empty_or_other_one() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("journal.db");
        let marker = JournalMarker::read(dir.path()).unwrap();
        marker.check_file(&journal).expect("nothing recorded yet");
        let first = identity();
        marker.check_identity(&journal, first).unwrap();

        let marker = JournalMarker::read(dir.path()).unwrap();
        let missing = marker.check_file(&journal).unwrap_err().to_string();
        assert!(
            missing.contains("is missing") && missing.contains("delete"),
            "{missing}"
        );
        std::fs::write(&journal, b"").unwrap();
        let empty = marker.check_file(&journal).unwrap_err().to_string();
        assert!(empty.contains("empty"), "{empty}");
        std::fs::write(&journal, b"x").unwrap();
        marker.check_file(&journal).unwrap();
        marker.check_identity(&journal, first).unwrap();
        let swapped = marker.check_identity(&journal, identity()).unwrap_err();
        assert!(swapped.to_string().contains("replaced"), "{swapped}");
    }
}
