//! `seed-journal`: writes N chat events straight into an embedded journal, so export and replay
//! benchmarks can start from a large journal without publishing through the hub first.
//!
//! `seed-journal --data-dir DIR --events 1000000 [--school s1] [--streams 100] [--body-bytes 100]`
//! The events are real `chat.message.posted` events (same payload encoding as the hub writes),
//! spread over `class:{school}:c1…cN`, appended in batches of 1000 with the usual durability.

use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use oneclass_protocol::command::Body;
use oneclass_protocol::journal::{encode_payload, kinds, ChatMessagePosted};
use oneclass_protocol::timestamp::now_ms;
use oneclass_storage::{AppendRequest, Journal, SqliteJournal};

/// Events per append batch.
const BATCH: usize = 1000;

#[derive(Debug, Parser)]
struct Args {
    /// The hub's data directory (the journal is `journal.db` inside it).
    #[arg(long)]
    data_dir: std::path::PathBuf,
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    #[arg(long, default_value = "s1")]
    school: String,
    /// Number of class channels the events are spread over.
    #[arg(long, default_value_t = 100)]
    streams: usize,
    /// Length of each message's text.
    #[arg(long, default_value_t = 100)]
    body_bytes: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.data_dir)?;
    let journal: Arc<dyn Journal> =
        Arc::new(SqliteJournal::open(args.data_dir.join("journal.db"))?);
    let mut body = Body::new();
    body.insert("text".into(), "x".repeat(args.body_bytes).into());
    let payload = encode_payload(&ChatMessagePosted {
        body,
        client_msg_id: None,
    });
    let started = Instant::now();
    let mut written = 0;
    while written < args.events {
        let n = BATCH.min(args.events - written);
        // Later batches get later times, like live traffic.
        let at = now_ms();
        let batch = (0..n)
            .map(|i| AppendRequest {
                school_id: args.school.clone(),
                stream: format!(
                    "class:{}:c{}",
                    args.school,
                    (written + i) % args.streams + 1
                ),
                kind: kinds::CHAT_MESSAGE_POSTED.into(),
                actor: "seed".into(),
                occurred_at: at,
                payload: payload.clone(),
                idempotency: None,
            })
            .collect();
        journal.append(batch).await?;
        written += n;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {written} events in {secs:.1} s ({:.0}/s)",
        written as f64 / secs
    );
    Ok(())
}
