//! What the school actor tests share: an actor on a journal, stand-in sessions (an outbound
//! queue joined directly), frame reading with a paused-clock timeout, and [`Reordering`], a
//! journal that holds the answer of its first append until the test lets it go, so later commits
//! reach the actor first.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use async_trait::async_trait;
use oneclass_protocol::command::Body;
use oneclass_protocol::journal::EventEnvelope;
use oneclass_protocol::{ChannelName, Codec};
use oneclass_storage::{
    AppendOutcome, AppendRequest, EventPage, EventQueries, EventQuery, Health, IdempotencyStore,
    Journal, MemoryJournal, ReadCursors, Storage, StorageError,
};
use serde_json::Value;

use crate::events;
use crate::limits::Limits;
use crate::school::{Join, Publish, SchoolActor};
use crate::session::{Drained, OutFrame, Outbound};

/// The school every test uses.
pub const SCHOOL: &str = "s1";
/// The channel every test uses.
pub const CLASS: &str = "class:s1:c1";

pub fn class() -> ChannelName {
    // unwrap: a constant, valid name.
    ChannelName::parse(CLASS).unwrap()
}

/// Starts a school actor for [`SCHOOL`] on `journal`.
pub fn start(journal: Arc<dyn Storage>, limits: Limits) -> Addr<SchoolActor> {
    start_with_metrics(journal, limits, Arc::new(crate::metrics::Metrics::new()))
}

/// Starts a school actor recording into `metrics`, for tests that read them.
pub fn start_with_metrics(
    journal: Arc<dyn Storage>,
    limits: Limits,
    metrics: Arc<crate::metrics::Metrics>,
) -> Addr<SchoolActor> {
    let notifications = Arc::new(crate::notify::NotificationContents::new(
        journal.clone(),
        limits.notification_cache,
    ));
    SchoolActor::new(SCHOOL.into(), journal, limits, metrics, notifications).start()
}

/// Joins a stand-in session of `user` and returns the queue the school pushes into.
pub async fn join(school: &Addr<SchoolActor>, session: u64, user: &str) -> Arc<Outbound> {
    let outbound = Arc::new(Outbound::new(
        Codec::Json,
        1 << 20,
        Duration::from_secs(3600),
    ));
    let join = Join {
        session,
        user: user.into(),
        outbound: outbound.clone(),
    };
    // unwrap: a test's actor is alive and the cap is far away.
    school.send(join).await.unwrap().unwrap();
    outbound
}

/// A chat publish of `text` by `user` on [`CLASS`].
pub fn publish(user: &str, text: &str, client_msg_id: Option<&str>) -> Publish {
    let mut body = Body::new();
    body.insert("text".into(), text.into());
    Publish {
        user: user.into(),
        channel: class(),
        body,
        client_msg_id: client_msg_id.map(str::to_owned),
    }
}

/// Appends a chat message straight to the journal, behind the school actor's back.
pub async fn append_behind(journal: &dyn Journal, text: &str) -> u64 {
    let append = publish("t1", text, None).append(SCHOOL);
    // unwrap: the in-memory journal takes a valid append.
    match events::write(journal, vec![append])
        .await
        .unwrap()
        .remove(0)
    {
        AppendOutcome::Appended(e) => e.seq,
        other => panic!("not appended: {other:?}"),
    }
}

/// The frames queued so far as JSON (waits a paused-clock second for the first ones).
pub async fn frames(q: &Outbound) -> Vec<Value> {
    match tokio::time::timeout(Duration::from_secs(1), q.next_batch()).await {
        Err(_) => Vec::new(),
        Ok(Drained::Close(code, _)) => panic!("queue closed with {code:?}"),
        Ok(Drained::Frames(frames)) => frames
            .into_iter()
            .filter_map(|f| match f {
                // unwrap: the school encodes JSON for a JSON queue.
                OutFrame::Data(b) => Some(serde_json::from_slice(&b).unwrap()),
                _ => None,
            })
            .collect(),
    }
}

/// The seqs of the `msg` events among `frames`, in order.
pub fn msg_seqs(frames: &[Value]) -> Vec<u64> {
    frames
        .iter()
        .filter(|f| f["ev"] == "msg")
        .filter_map(|f| f["seq"].as_u64())
        .collect()
}

/// Lets spawned work (the actor, its flushes) run without moving the paused clock far.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// A journal over [`MemoryJournal`] that commits its first append at once but holds its answer
/// until [`Reordering::answer_first`]: the school sees later commits first. With
/// [`Reordering::hold_heads`] it also reads a stream's head at once but holds the answer of
/// `head` until [`Reordering::answer_heads`], so the answer can be older than a later commit.
#[derive(Debug)]
pub struct Reordering {
    pub inner: MemoryJournal,
    calls: AtomicUsize,
    /// One permit lets the first append's answer go.
    first_answer: tokio::sync::Semaphore,
    /// Whether `head` answers wait for [`Reordering::answer_heads`].
    heads_held: std::sync::atomic::AtomicBool,
    heads_answer: tokio::sync::Semaphore,
}

impl Reordering {
    /// Lets the held answer of the first append reach the caller.
    pub fn answer_first(&self) {
        self.first_answer.add_permits(1);
    }

    /// From now on `head` reads at once and answers only after [`Reordering::answer_heads`].
    pub fn hold_heads(&self) {
        self.heads_held.store(true, Ordering::SeqCst);
    }

    /// Lets every held `head` answer go (and the ones after it).
    pub fn answer_heads(&self) {
        self.heads_held.store(false, Ordering::SeqCst);
        self.heads_answer
            .add_permits(tokio::sync::Semaphore::MAX_PERMITS / 2);
    }
}

impl Default for Reordering {
    fn default() -> Self {
        Reordering {
            inner: MemoryJournal::new(),
            calls: AtomicUsize::new(0),
            first_answer: tokio::sync::Semaphore::new(0),
            heads_held: std::sync::atomic::AtomicBool::new(false),
            heads_answer: tokio::sync::Semaphore::new(0),
        }
    }
}

#[async_trait]
impl Journal for Reordering {
    async fn append(&self, batch: Vec<AppendRequest>) -> Result<Vec<AppendOutcome>, StorageError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let result = self.inner.append(batch).await;
        if call == 0 {
            // unwrap: the semaphore is never closed.
            self.first_answer.acquire().await.unwrap().forget();
        }
        result
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, StorageError> {
        self.inner.read_stream(stream, from_seq, limit).await
    }

    async fn read_stream_before(
        &self,
        stream: &str,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<EventEnvelope>, StorageError> {
        self.inner
            .read_stream_before(stream, before_seq, limit)
            .await
    }

    async fn head(&self, stream: &str) -> Result<u64, StorageError> {
        let head = self.inner.head(stream).await;
        if self.heads_held.load(Ordering::SeqCst) {
            // unwrap: the semaphore is never closed.
            drop(self.heads_answer.acquire().await.unwrap());
        }
        head
    }

    async fn heads(&self, streams: &[String]) -> Result<Vec<u64>, StorageError> {
        self.inner.heads(streams).await
    }

    async fn streams_with_prefix(&self, prefix: &str) -> Result<Vec<(String, u64)>, StorageError> {
        self.inner.streams_with_prefix(prefix).await
    }

    async fn verify_stream(&self, stream: &str) -> Result<Option<u64>, StorageError> {
        self.inner.verify_stream(stream).await
    }

    fn health(&self) -> Health {
        self.inner.health()
    }
}

#[async_trait]
impl EventQueries for Reordering {
    async fn query(&self, q: EventQuery) -> Result<EventPage, StorageError> {
        self.inner.query(q).await
    }
}

#[async_trait]
impl ReadCursors for Reordering {
    async fn set_read_cursor(
        &self,
        school_id: &str,
        user_id: &str,
        channel: &str,
        seq: u64,
    ) -> Result<u64, StorageError> {
        self.inner
            .set_read_cursor(school_id, user_id, channel, seq)
            .await
    }

    async fn read_cursors(
        &self,
        school_id: &str,
        user_id: &str,
    ) -> Result<std::collections::HashMap<String, u64>, StorageError> {
        self.inner.read_cursors(school_id, user_id).await
    }
}

#[async_trait]
impl IdempotencyStore for Reordering {
    async fn prune_idempotency(&self, older_than_ms: i64) -> Result<u64, StorageError> {
        self.inner.prune_idempotency(older_than_ms).await
    }
}

/// Subscribes a joined stand-in session to [`CLASS`] and makes it live at once (as a session
/// with nothing to replay would); returns the channel's head.
pub async fn subscribe_live(school: &Addr<SchoolActor>, session: u64, q: &Outbound) -> u64 {
    use crate::school::{CatchUpDone, Subscribe};
    let subscribe = Subscribe {
        session,
        channel: class(),
        since: None,
        generation: 1,
    };
    // unwrap: a joined session on a healthy journal.
    let catch = school.send(subscribe).await.unwrap().unwrap();
    let done = CatchUpDone {
        session,
        channel: CLASS.into(),
        generation: 1,
        replayed_to: catch.until,
    };
    assert_eq!(school.send(done).await.unwrap().unwrap(), None);
    let synced = frames(q).await;
    assert_eq!(synced.last().unwrap()["ev"], "synced", "{synced:?}");
    catch.head
}
