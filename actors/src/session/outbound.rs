//! A session's outbound queue: bounded in bytes, filled by the school actor (fan-out), the session
//! (replies, catch-up pages) and the heartbeat, drained by exactly one writer future per socket,
//! so frames leave in the order they were queued.
//!
//! "Slow" means the client is not taking bytes, not that the hub has not yet scheduled the
//! writer. The school actor pushes a whole journal batch, or a whole catch-up buffer, in one
//! turn, and the writer task cannot take any of it until it is scheduled (it may share the
//! school's thread, and under CPU contention its wake-up is late); bytes queued in that window
//! say nothing about the client. So the queue watches the writer as well as its own size: the
//! writer is *idle* while it waits in [`Outbound::next_batch`] with everything written, and
//! *busy* from taking a batch until it comes back for the next one; a busy writer makes progress
//! each time it takes a batch or the socket takes one of its frames ([`Outbound::wrote`]).
//!
//! The client is slow, and the queue is emptied (memory stays bounded), marked closed and the
//! socket closed with 4008 "slow consumer", when, at a push or at the heartbeat's check:
//!
//! | rule | condition | why |
//! |---|---|---|
//! | ceiling | a push would take the queue past [`CEILING_FACTOR`] × `outbound_max_bytes` | the memory bound: holds whatever the writer does |
//! | stall | the queue is over `outbound_max_bytes` and the writer is busy with no progress for `outbound_max_stall` | the socket stopped taking frames while traffic kept coming |
//! | lag | the oldest queued frame has waited longer than `outbound_max_lag` | the client is too far behind, however little it is sent |
//!
//! An idle writer is never stalled: over `outbound_max_bytes` with an idle writer means the hub
//! has not yet run it. The client recovers from a 4008 by resuming.
//!
//! Memory per connection, in accounted bytes (a frame's length plus [`FRAME_OVERHEAD`]): the
//! queue holds at most the ceiling (a push that would pass it is refused); the batch the writer
//! holds is what it took from the queue, so at most the ceiling too; actix-ws's channel between
//! the writer and the HTTP dispatcher holds at most 32 frames; the kernel's socket buffers come on
//! top. With the defaults (4 MiB, ceiling 8 MiB) that is at most 16 MiB plus 32 frames. Fan-out
//! frames are `Bytes` shared by every subscriber, so this bounds what one connection keeps alive,
//! not what it allocates alone. The session's own bulk producer, the catch-up replay, uses
//! [`Outbound::push_paced`] and keeps the queue at or below `outbound_max_bytes`; the school's
//! catch-up flush goes in only if it fits under `outbound_max_bytes` (see `school/subscribe.rs`).
//!
//! One concept (the queue and the rules that end it) in one file; the tests of those rules make
//! it longer than 500 lines.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use oneclass_protocol::{CloseCode, Codec};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::Limits;

/// One frame to write.
#[derive(Debug, Clone)]
pub enum OutFrame {
    /// An encoded protocol frame; text or binary per the codec.
    Data(Bytes),
    /// A WebSocket ping (heartbeat).
    Ping,
    /// The answer to a client's WebSocket ping.
    Pong(Bytes),
}

impl OutFrame {
    fn weight(&self) -> usize {
        match self {
            OutFrame::Data(b) => weight_of(b),
            OutFrame::Ping => FRAME_OVERHEAD,
            OutFrame::Pong(b) => weight_of(b),
        }
    }
}

/// The accounted size of a data frame of these bytes.
pub fn weight_of(bytes: &Bytes) -> usize {
    bytes.len() + FRAME_OVERHEAD
}

/// Bookkeeping cost counted per frame, so many tiny frames also hit the bound.
pub const FRAME_OVERHEAD: usize = 32;

/// The memory ceiling as a multiple of `outbound_max_bytes`. Twice leaves a writer that keeps
/// up room for a journal batch or a catch-up flush arriving on top of a full queue, and keeps the
/// bound a fixed multiple of the one configured size.
pub const CEILING_FACTOR: usize = 2;

/// How long a busy writer may go without progress, over the byte bound, when the queue is made
/// without [`Limits`] (unit tests of other modules).
const DEFAULT_MAX_STALL: Duration = Duration::from_secs(1);

/// When the client counts as slow (see the table in the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SlowRules {
    max_bytes: usize,
    ceiling: usize,
    max_stall: Duration,
    max_lag: Duration,
}

/// Which rule found the client slow; logged, never sent (the wire reason is "slow consumer").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slow {
    Ceiling,
    Stall,
    Lag,
}

/// What the writer was last seen doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// Waiting in `next_batch` with everything it took written: keeping up, whatever is queued.
    Idle,
    /// Writing a batch; `progress` is when it took the batch or the socket last took a frame.
    Busy { progress: Instant },
}

struct Inner {
    queue: VecDeque<(OutFrame, Instant)>,
    bytes: usize,
    close: Option<(CloseCode, String)>,
    /// Newest seq pushed per channel, so a session can resubscribe after its school restarts.
    delivered: HashMap<String, u64>,
    writer: Writer,
}

/// What the writer gets from [`Outbound::next_batch`].
#[derive(Debug)]
pub enum Drained {
    Frames(Vec<OutFrame>),
    Close(CloseCode, String),
}

/// The queue shared between a session's producers and its writer.
pub struct Outbound {
    codec: Codec,
    rules: SlowRules,
    inner: Mutex<Inner>,
    /// Wakes the writer when frames arrive or the queue closes.
    readable: Notify,
    /// Wakes producers waiting for room (catch-up replay).
    drained: Notify,
    /// Queued bytes, readable without the lock.
    queued: AtomicUsize,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("codec", &self.codec)
            .field("queued", &self.queued.load(Ordering::Relaxed))
            .finish()
    }
}

impl Outbound {
    /// A queue bounded at `max_bytes` and `max_lag`, with the default stall allowance.
    pub fn new(codec: Codec, max_bytes: usize, max_lag: Duration) -> Self {
        Self::with_rules(
            codec,
            SlowRules {
                max_bytes,
                ceiling: max_bytes.saturating_mul(CEILING_FACTOR),
                max_stall: DEFAULT_MAX_STALL,
                max_lag,
            },
        )
    }

    /// A session's queue, bounded by the `outbound_*` limits.
    pub fn from_limits(codec: Codec, limits: &Limits) -> Self {
        Self::with_rules(
            codec,
            SlowRules {
                max_bytes: limits.outbound_max_bytes,
                ceiling: limits.outbound_max_bytes.saturating_mul(CEILING_FACTOR),
                max_stall: limits.outbound_max_stall,
                max_lag: limits.outbound_max_lag,
            },
        )
    }

    fn with_rules(codec: Codec, rules: SlowRules) -> Self {
        Self {
            codec,
            rules,
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                bytes: 0,
                close: None,
                delivered: HashMap::new(),
                writer: Writer::Idle,
            }),
            readable: Notify::new(),
            drained: Notify::new(),
            queued: AtomicUsize::new(0),
        }
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The byte bound (`outbound_max_bytes`): what producers that can wait stay under.
    pub fn max_bytes(&self) -> usize {
        self.rules.max_bytes
    }

    /// Bytes waiting to be written.
    pub fn queued_bytes(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Whether the queue was closed (slow client, shutdown, session end).
    pub fn is_closed(&self) -> bool {
        self.inner.lock().close.is_some()
    }

    /// Queues one frame. Returns false if the queue is closed or the client just became slow.
    pub fn push(&self, frame: OutFrame) -> bool {
        self.push_at(Instant::now(), frame)
    }

    fn push_at(&self, now: Instant, frame: OutFrame) -> bool {
        self.push_many(now, None, frame.weight(), std::iter::once(frame))
    }

    /// Queues frames of `channel` up to `seq` as one delivery and records `seq` as delivered.
    pub fn push_events(&self, channel: &str, seq: u64, frames: &[Bytes]) -> bool {
        self.push_events_at(Instant::now(), channel, seq, frames)
    }

    fn push_events_at(&self, now: Instant, channel: &str, seq: u64, frames: &[Bytes]) -> bool {
        self.push_many(
            now,
            Some((channel, seq)),
            frames.iter().map(weight_of).sum(),
            frames.iter().cloned().map(OutFrame::Data),
        )
    }

    /// Queues a catch-up page of `channel` (each frame with its seq) a chunk at a time: a chunk
    /// is at most half the byte bound and goes in once the queue is at most half the bound, so
    /// this producer never takes the queue past `outbound_max_bytes` (a single frame larger than
    /// half the bound goes alone). Records `last` as delivered with the final chunk, even if
    /// `frames` is empty (the page's events may all be hidden from clients). Returns false if
    /// the queue closed.
    pub async fn push_paced(&self, channel: &str, last: u64, frames: &[(u64, Bytes)]) -> bool {
        let room = self.rules.max_bytes / 2;
        let mut rest = frames;
        loop {
            let mut take = 0;
            let mut bytes = 0;
            while let Some((_, b)) = rest.get(take) {
                if take > 0 && bytes + weight_of(b) > room {
                    break;
                }
                bytes += weight_of(b);
                take += 1;
            }
            let (chunk, after) = rest.split_at(take);
            let seq = if after.is_empty() {
                last
            } else {
                // unwrap: a chunk before the end holds at least one frame.
                chunk.last().unwrap().0
            };
            if !self.wait_below(room).await {
                return false;
            }
            let chunk: Vec<Bytes> = chunk.iter().map(|(_, b)| b.clone()).collect();
            if !self.push_events(channel, seq, &chunk) {
                return false;
            }
            if after.is_empty() {
                return true;
            }
            rest = after;
        }
    }

    fn push_many(
        &self,
        now: Instant,
        delivered: Option<(&str, u64)>,
        weight: usize,
        frames: impl Iterator<Item = OutFrame>,
    ) -> bool {
        let mut inner = self.inner.lock();
        if inner.close.is_some() {
            return false;
        }
        let slow = if inner.bytes + weight > self.rules.ceiling {
            Some(Slow::Ceiling)
        } else {
            for frame in frames {
                inner.queue.push_back((frame, now));
            }
            inner.bytes += weight;
            self.rules.verdict(&inner, now)
        };
        if let Some(slow) = slow {
            self.close_slow(inner, slow);
            return false;
        }
        if let Some((channel, seq)) = delivered {
            match inner.delivered.get_mut(channel) {
                Some(s) => *s = (*s).max(seq),
                None => {
                    inner.delivered.insert(channel.to_owned(), seq);
                }
            }
        }
        self.queued.store(inner.bytes, Ordering::Relaxed);
        drop(inner);
        self.readable.notify_one();
        true
    }

    /// Closes the queue for a slow client: frees what is queued and wakes everyone.
    fn close_slow(&self, mut inner: parking_lot::MutexGuard<'_, Inner>, slow: Slow) {
        let (queued, writer) = (inner.bytes, inner.writer);
        inner.queue.clear();
        inner.bytes = 0;
        inner.close = Some((CloseCode::SlowConsumer, "slow consumer".to_owned()));
        self.queued.store(0, Ordering::Relaxed);
        drop(inner);
        tracing::debug!(rule = ?slow, queued, writer = ?writer, "slow consumer");
        self.readable.notify_one();
        self.drained.notify_waiters();
    }

    /// Closes the queue: frames already queued are still written, then the socket closes with
    /// `code`. A second close keeps the first code.
    pub fn close(&self, code: CloseCode, reason: &str) {
        let mut inner = self.inner.lock();
        if inner.close.is_none() {
            inner.close = Some((code, reason.to_owned()));
        }
        drop(inner);
        self.readable.notify_one();
        self.drained.notify_waiters();
    }

    /// Applies the slow rules without a push (called by the heartbeat, so a writer stuck on a
    /// full socket is noticed even when nothing new is pushed). Returns false if the client is
    /// slow.
    pub fn check_slow(&self) -> bool {
        self.check_slow_at(Instant::now())
    }

    fn check_slow_at(&self, now: Instant) -> bool {
        let inner = self.inner.lock();
        if inner.close.is_some() {
            return true;
        }
        match self.rules.verdict(&inner, now) {
            Some(slow) => {
                self.close_slow(inner, slow);
                false
            }
            None => true,
        }
    }

    /// The newest seq pushed on each channel.
    pub fn delivered(&self) -> HashMap<String, u64> {
        self.inner.lock().delivered.clone()
    }

    /// Forgets a channel's delivered seq (after an unsubscribe).
    pub fn forget(&self, channel: &str) {
        self.inner.lock().delivered.remove(channel);
    }

    /// Waits until everything queued can be taken, or the close once the queue is empty.
    pub async fn next_batch(&self) -> Drained {
        loop {
            let notified = self.readable.notified();
            if let Some(drained) = self.take_at(Instant::now()) {
                return drained;
            }
            notified.await;
        }
    }

    /// Takes everything queued (the writer is busy from now), or the close; `None` when there is
    /// nothing to take (the writer is idle until the next push wakes it).
    fn take_at(&self, now: Instant) -> Option<Drained> {
        let mut inner = self.inner.lock();
        if !inner.queue.is_empty() {
            let frames: Vec<OutFrame> = inner.queue.drain(..).map(|(f, _)| f).collect();
            inner.bytes = 0;
            inner.writer = Writer::Busy { progress: now };
            self.queued.store(0, Ordering::Relaxed);
            drop(inner);
            self.drained.notify_waiters();
            return Some(Drained::Frames(frames));
        }
        if let Some((code, reason)) = &inner.close {
            return Some(Drained::Close(*code, reason.clone()));
        }
        inner.writer = Writer::Idle;
        None
    }

    /// The writer's report that the socket took one frame of its batch: progress.
    pub fn wrote(&self) {
        self.wrote_at(Instant::now());
    }

    fn wrote_at(&self, now: Instant) {
        let mut inner = self.inner.lock();
        if let Writer::Busy { progress } = &mut inner.writer {
            *progress = now;
        }
    }

    /// Waits until at most `bytes` are queued (or the queue closed). Returns false when closed.
    pub async fn wait_below(&self, bytes: usize) -> bool {
        loop {
            let notified = self.drained.notified();
            {
                let inner = self.inner.lock();
                if inner.close.is_some() {
                    return false;
                }
                if inner.bytes <= bytes {
                    return true;
                }
            }
            notified.await;
        }
    }
}

impl SlowRules {
    /// Which rule, if any, finds the client of `inner` slow at `now`.
    fn verdict(&self, inner: &Inner, now: Instant) -> Option<Slow> {
        if inner.bytes > self.ceiling {
            return Some(Slow::Ceiling);
        }
        if inner.bytes > self.max_bytes {
            if let Writer::Busy { progress } = inner.writer {
                if now.saturating_duration_since(progress) > self.max_stall {
                    return Some(Slow::Stall);
                }
            }
        }
        let lagging = inner
            .queue
            .front()
            .is_some_and(|(_, at)| now.saturating_duration_since(*at) > self.max_lag);
        lagging.then_some(Slow::Lag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANNEL: &str = "class:s1:c1";

    fn queue(max_bytes: usize, max_stall: Duration, max_lag: Duration) -> Outbound {
        Outbound::with_rules(
            Codec::Json,
            SlowRules {
                max_bytes,
                ceiling: max_bytes * CEILING_FACTOR,
                max_stall,
                max_lag,
            },
        )
    }

    /// A 1000-byte bound (ceiling 2000), 1 s stall allowance, 10 s lag.
    fn small() -> Outbound {
        queue(1000, Duration::from_secs(1), Duration::from_secs(10))
    }

    /// A data frame of `len` bytes (weight `len + 32`).
    fn frame(len: usize) -> Bytes {
        Bytes::from(vec![b'x'; len])
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_queue_over_its_bound_closes_with_slow_consumer_and_frees_its_memory() {
        let q = small();
        let t0 = Instant::now();
        // The writer took a frame and the socket has taken nothing since.
        assert!(q.push_at(t0, OutFrame::Ping));
        assert!(matches!(q.take_at(t0), Some(Drained::Frames(_))));
        let frame = frame(300);
        let later = t0 + ms(1500);
        assert!(q.push_events_at(later, CHANNEL, 1, std::slice::from_ref(&frame)));
        assert!(q.push_events_at(later, CHANNEL, 2, std::slice::from_ref(&frame)));
        assert!(q.push_events_at(later, CHANNEL, 3, std::slice::from_ref(&frame)));
        assert!(!q.push_events_at(later, CHANNEL, 4, &[frame]));
        assert_eq!(q.queued_bytes(), 0);
        assert!(q.is_closed());
        assert_eq!(q.delivered().get(CHANNEL), Some(&3));
    }

    #[test]
    fn a_burst_past_the_bound_into_an_idle_writer_does_not_close() {
        let q = small();
        let t0 = Instant::now();
        assert!(q.take_at(t0).is_none(), "the writer waits: idle");
        // One school turn: 5 × 332 = 1660 bytes, past the bound, under the ceiling; the writer
        // has not been scheduled for longer than the stall allowance.
        let burst = vec![frame(300); 5];
        assert!(q.push_events_at(t0, CHANNEL, 5, &burst));
        assert!(q.check_slow_at(t0 + ms(5000)));
        assert_eq!(q.queued_bytes(), 1660);
        match q.take_at(t0 + ms(5000)) {
            Some(Drained::Frames(f)) => assert_eq!(f.len(), 5),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_writer_that_keeps_taking_frames_may_be_past_the_bound_as_long_as_it_progresses() {
        let q = small();
        let t0 = Instant::now();
        assert!(q.push_events_at(t0, CHANNEL, 1, &[frame(300)]));
        assert!(matches!(q.take_at(t0), Some(Drained::Frames(_))));
        // The writer works through its batches slowly: the socket takes a frame every 900 ms,
        // and each push comes just before the next one, with the queue past the bound.
        for n in 1..=10u64 {
            let now = t0 + ms(900 * n);
            assert!(
                q.push_events_at(now, CHANNEL, 1 + n, &[frame(300), frame(300)]),
                "closed at step {n}"
            );
            q.wrote_at(now);
            if q.queued_bytes() > 1300 {
                assert!(matches!(q.take_at(now), Some(Drained::Frames(_))));
            }
        }
        assert!(!q.is_closed());
    }

    #[test]
    fn a_busy_writer_without_progress_past_the_stall_allowance_and_over_the_bound_closes() {
        let q = small();
        let t0 = Instant::now();
        assert!(q.push_at(t0, OutFrame::Ping));
        assert!(matches!(q.take_at(t0), Some(Drained::Frames(_))));
        // Over the bound, but within the allowance: not yet.
        assert!(q.push_events_at(t0 + ms(500), CHANNEL, 1, &vec![frame(300); 4]));
        assert!(q.check_slow_at(t0 + ms(1000)));
        // No push needed: the heartbeat's check finds the stall.
        assert!(!q.check_slow_at(t0 + ms(1001)));
        assert!(q.is_closed());
        assert_eq!(q.queued_bytes(), 0);
        assert!(matches!(
            q.take_at(t0 + ms(1001)),
            Some(Drained::Close(CloseCode::SlowConsumer, _))
        ));
    }

    #[test]
    fn a_stalled_writer_under_the_bound_is_left_to_the_lag_rule() {
        let q = small();
        let t0 = Instant::now();
        assert!(q.push_at(t0, OutFrame::Ping));
        assert!(matches!(q.take_at(t0), Some(Drained::Frames(_))));
        assert!(q.push_events_at(t0 + ms(100), CHANNEL, 1, &[frame(300)]));
        assert!(
            q.check_slow_at(t0 + ms(9000)),
            "under the bound, within the lag"
        );
        assert!(
            !q.check_slow_at(t0 + ms(10_101)),
            "the frame waited past the lag"
        );
    }

    #[test]
    fn a_push_past_the_ceiling_closes_at_once_and_is_not_queued() {
        let q = small();
        let t0 = Instant::now();
        assert!(q.take_at(t0).is_none(), "idle writer");
        assert!(q.push_events_at(t0, CHANNEL, 1, &vec![frame(300); 6]));
        assert_eq!(q.queued_bytes(), 1992);
        assert!(!q.push_events_at(t0, CHANNEL, 2, &[frame(1)]));
        assert!(q.is_closed());
        assert_eq!(q.queued_bytes(), 0);
        assert_eq!(q.delivered().get(CHANNEL), Some(&1));
    }

    #[test]
    fn the_oldest_frame_waiting_past_the_lag_closes_even_with_an_idle_writer() {
        let q = small();
        let t0 = Instant::now();
        assert!(q.take_at(t0).is_none(), "idle writer");
        assert!(q.push_at(t0, OutFrame::Ping));
        assert!(q.push_at(t0 + ms(10_000), OutFrame::Ping));
        assert!(!q.push_at(t0 + ms(10_001), OutFrame::Ping));
        assert!(q.is_closed());
    }

    #[tokio::test]
    async fn the_writer_gets_frames_in_order_then_the_close() {
        let q = Outbound::new(Codec::Json, 1 << 20, Duration::from_secs(10));
        q.push(OutFrame::Data(Bytes::from_static(b"1")));
        q.push(OutFrame::Data(Bytes::from_static(b"2")));
        q.close(CloseCode::GoingAway, "bye");
        match q.next_batch().await {
            Drained::Frames(f) => assert_eq!(f.len(), 2),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            q.next_batch().await,
            Drained::Close(CloseCode::GoingAway, _)
        ));
        assert!(!q.push(OutFrame::Ping));
    }

    #[tokio::test]
    async fn a_paced_page_never_takes_the_queue_past_its_bound_and_records_each_chunk() {
        let q = std::sync::Arc::new(small());
        // 20 frames of 168 bytes (200 with overhead): 4000 bytes, four times the bound.
        let page: Vec<(u64, Bytes)> = (1..=20).map(|seq| (seq, frame(168))).collect();
        let writer = {
            let q = q.clone();
            tokio::spawn(async move {
                let mut most = 0;
                let mut frames = 0;
                let mut seen = Vec::new();
                while frames < 20 {
                    most = most.max(q.queued_bytes());
                    if let Drained::Frames(f) = q.next_batch().await {
                        frames += f.len();
                        seen.push(q.delivered()[CHANNEL]);
                    }
                }
                (most, seen)
            })
        };
        assert!(q.push_paced(CHANNEL, 25, &page).await);
        let (most, seen) = writer.await.unwrap();
        assert!(most <= 1000, "queue reached {most} bytes");
        assert_eq!(seen.last(), Some(&25), "the page's last seq is recorded");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert!(!q.is_closed());
    }

    #[tokio::test]
    async fn a_paced_page_with_no_visible_frames_still_records_its_last_seq() {
        let q = small();
        assert!(q.push_paced(CHANNEL, 7, &[]).await);
        assert_eq!(q.delivered().get(CHANNEL), Some(&7));
    }
}
