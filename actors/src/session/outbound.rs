//! A session's outbound queue: bounded in bytes, filled by the school actor (fan-out), the session
//! (replies, catch-up pages) and the heartbeat, drained by exactly one writer future per socket,
//! so frames leave in the order they were queued.
//!
//! When a push would take the queue past its byte bound, or the oldest frame has waited longer
//! than the allowed lag, the client is slow: the queue is emptied (memory stays bounded), marked
//! closed, and the writer closes the socket with 4008. The client recovers by resuming.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use oneclass_protocol::{CloseCode, Codec};
use parking_lot::Mutex;
use tokio::sync::Notify;

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
            OutFrame::Data(b) => b.len() + FRAME_OVERHEAD,
            OutFrame::Ping => FRAME_OVERHEAD,
            OutFrame::Pong(b) => b.len() + FRAME_OVERHEAD,
        }
    }
}

/// Bookkeeping cost counted per frame, so many tiny frames also hit the bound.
const FRAME_OVERHEAD: usize = 32;

struct Inner {
    queue: VecDeque<(OutFrame, Instant)>,
    bytes: usize,
    close: Option<(CloseCode, String)>,
    /// Newest seq pushed per channel, so a session can resubscribe after its school restarts.
    delivered: HashMap<String, u64>,
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
    max_bytes: usize,
    max_lag: Duration,
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
    pub fn new(codec: Codec, max_bytes: usize, max_lag: Duration) -> Self {
        Self {
            codec,
            max_bytes,
            max_lag,
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                bytes: 0,
                close: None,
                delivered: HashMap::new(),
            }),
            readable: Notify::new(),
            drained: Notify::new(),
            queued: AtomicUsize::new(0),
        }
    }

    pub fn codec(&self) -> Codec {
        self.codec
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
        self.push_many(None, std::iter::once(frame))
    }

    /// Queues frames of `channel` up to `seq` as one delivery and records `seq` as delivered.
    pub fn push_events(&self, channel: &str, seq: u64, frames: &[Bytes]) -> bool {
        self.push_many(
            Some((channel, seq)),
            frames.iter().cloned().map(OutFrame::Data),
        )
    }

    fn push_many(
        &self,
        delivered: Option<(&str, u64)>,
        frames: impl Iterator<Item = OutFrame>,
    ) -> bool {
        let now = Instant::now();
        let mut inner = self.inner.lock();
        if inner.close.is_some() {
            return false;
        }
        for frame in frames {
            inner.bytes += frame.weight();
            inner.queue.push_back((frame, now));
        }
        let lagging = inner
            .queue
            .front()
            .is_some_and(|(_, at)| now.duration_since(*at) > self.max_lag);
        if inner.bytes > self.max_bytes || lagging {
            Self::close_locked(&mut inner, CloseCode::SlowConsumer, "slow consumer");
            self.queued.store(0, Ordering::Relaxed);
            drop(inner);
            self.readable.notify_one();
            self.drained.notify_waiters();
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

    fn close_locked(inner: &mut Inner, code: CloseCode, reason: &str) {
        inner.queue.clear();
        inner.bytes = 0;
        inner.close = Some((code, reason.to_owned()));
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

    /// Checks the lag of the oldest frame (called by the heartbeat, so a writer stuck on a full
    /// socket is noticed even when nothing new is pushed). Returns false if the client is slow.
    pub fn check_lag(&self) -> bool {
        let mut inner = self.inner.lock();
        let lagging = inner
            .queue
            .front()
            .is_some_and(|(_, at)| at.elapsed() > self.max_lag);
        if lagging && inner.close.is_none() {
            Self::close_locked(&mut inner, CloseCode::SlowConsumer, "slow consumer");
            self.queued.store(0, Ordering::Relaxed);
            drop(inner);
            self.readable.notify_one();
            self.drained.notify_waiters();
            return false;
        }
        true
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
            {
                let mut inner = self.inner.lock();
                if !inner.queue.is_empty() {
                    let frames: Vec<OutFrame> = inner.queue.drain(..).map(|(f, _)| f).collect();
                    inner.bytes = 0;
                    self.queued.store(0, Ordering::Relaxed);
                    drop(inner);
                    self.drained.notify_waiters();
                    return Drained::Frames(frames);
                }
                if let Some((code, reason)) = &inner.close {
                    return Drained::Close(*code, reason.clone());
                }
            }
            notified.await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_over_its_bound_closes_with_slow_consumer_and_frees_its_memory() {
        let q = Outbound::new(Codec::Json, 1000, Duration::from_secs(10));
        let frame = Bytes::from(vec![b'x'; 300]);
        assert!(q.push_events("class:s1:c1", 1, std::slice::from_ref(&frame)));
        assert!(q.push_events("class:s1:c1", 2, std::slice::from_ref(&frame)));
        assert!(q.push_events("class:s1:c1", 3, std::slice::from_ref(&frame)));
        assert!(!q.push_events("class:s1:c1", 4, &[frame]));
        assert_eq!(q.queued_bytes(), 0);
        assert!(q.is_closed());
        assert_eq!(q.delivered().get("class:s1:c1"), Some(&3));
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
}
