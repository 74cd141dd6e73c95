//! `oneclass-hub journal verify`: opens the configured journal and checks the hash chains of a
//! school's streams in a time range ([`crate::verify`] does the checking, including whether each
//! stream's stored head is its last event). Reports on stdout when intact and on stderr when
//! broken, with the stream's stored head so a head that disagrees with the events is recognisable;
//! the caller turns [`Verdict::Broken`] into exit status 1. A journal too damaged to read (a
//! corrupt page) is an error, not a verdict.

use crate::config::Settings;
use crate::startup::open_journal;
use crate::verify::{verify, Verdict};

/// Verifies and prints the verdict.
pub fn run(settings: &Settings, school: &str, from: &str, to: &str) -> anyhow::Result<Verdict> {
    let journal = open_journal(settings)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let verdict = runtime.block_on(verify(journal.as_ref(), school, from, to))?;
    match &verdict {
        Verdict::Intact { streams } => println!("intact: {streams} streams of {school} checked"),
        Verdict::Broken { stream, seq } => {
            let head = runtime.block_on(journal.head(stream))?;
            eprintln!("broken: stream {stream} at seq {seq} (stored head {head})")
        }
    }
    Ok(verdict)
}
