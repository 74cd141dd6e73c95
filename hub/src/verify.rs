//! `oneclass-hub journal verify`: recomputes the hash chain of every stream that has events of a
//! school in a time range. A changed payload, a changed field or a missing event breaks the chain
//! at the first altered event, which is what gets reported; so does a stream whose stored head is
//! not its last event (the first seq above the lower of the two).

use std::collections::BTreeSet;

use oneclass_protocol::timestamp::parse_ms;
use oneclass_storage::{EventQuery, Storage};

/// Events read per page while collecting streams.
const PAGE: usize = 5000;

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every chain checked out; how many streams were checked.
    Intact { streams: usize },
    /// The first stream (in name order) whose chain breaks, and the seq where it breaks.
    Broken { stream: String, seq: u64 },
}

fn bound(value: &str) -> anyhow::Result<i64> {
    let text = if value.len() == 10 {
        format!("{value}T00:00:00Z")
    } else {
        value.to_owned()
    };
    parse_ms(&text).ok_or_else(|| anyhow::anyhow!("`{value}` is not RFC 3339 or YYYY-MM-DD"))
}

/// Verifies the school's streams with events in `[from, to)`.
pub async fn verify(
    journal: &dyn Storage,
    school: &str,
    from: &str,
    to: &str,
) -> anyhow::Result<Verdict> {
    let mut query = EventQuery {
        school_id: school.to_owned(),
        from_ms: bound(from)?,
        to_ms: bound(to)?,
        kind_prefix: None,
        limit: PAGE,
        page_token: None,
    };
    let mut streams = BTreeSet::new();
    loop {
        let page = journal.query(query.clone()).await?;
        streams.extend(page.events.into_iter().map(|e| e.stream));
        match page.next_page_token {
            Some(t) => query.page_token = Some(t),
            None => break,
        }
    }
    for stream in &streams {
        if let Some(seq) = journal.verify_stream(stream).await? {
            return Ok(Verdict::Broken {
                stream: stream.clone(),
                seq,
            });
        }
    }
    Ok(Verdict::Intact {
        streams: streams.len(),
    })
}
