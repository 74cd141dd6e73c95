//! The read guard: a stream between a WebSocket connection's HTTP payload and actix-ws that
//! refuses an oversized frame by its header and bounds what the connection's read side holds.
//!
//! Why it exists: actix-http's frame decoder checks a frame's length against the limit only once
//! the whole frame has arrived, and actix-ws reads every chunk the payload has into its buffer
//! before decoding. A header announcing 2^40 bytes followed by a stream of data therefore grew
//! the buffer until the socket closed, before `connect` as well as after (issue 9, C1). No
//! actix-ws or actix-http release checks the announced length early (0.4.0 and 3.20.0 are the
//! newest), and no maintained crate parses frame headers incrementally over an actix payload, so
//! the header reading is written here, in `frame_scan.rs`.
//!
//! What it does, as bytes pass from the payload to actix-ws:
//!
//! - **Headers.** Every frame header is checked by [`FrameScanner`] as its bytes arrive. A refused
//!   header ends the stream with a [`ReadRefused`] error (wrapped for actix-ws as
//!   `PayloadError::Io`; [`refusal`] finds it again), after everything before the refused byte was
//!   handed on and decoded: commands sent before an oversized one are still answered.
//! - **Budget.** What the guard has handed on and the session has not yet handled is *held*:
//!   every byte counts one, every frame [`FRAME_CHARGE`] more (actix-ws keeps a message value
//!   per frame, so many tiny frames cost more than their bytes). The guard hands on bytes only
//!   while the held amount stays within the budget, `max_message_bytes + read_ahead_bytes`;
//!   past it, it stops reading (the payload's own 32 KiB buffer fills and the HTTP layer stops
//!   reading the socket, so TCP pushes back on the client) until the session handles a message
//!   ([`ReadBudget::handled`]). Which bytes a handled message releases is known exactly: the
//!   guard records where each message ends in the byte stream, and actix-ws yields messages in
//!   that order, one per control frame and one per text or binary message.
//!
//! Invariants: the held amount never exceeds the budget; on top of it the guard keeps at most the
//! rest of one payload chunk (the HTTP layer's read buffer), so a connection's read side holds at
//! most `max_message_bytes + read_ahead_bytes` plus one read buffer, authenticated or not. A
//! refusal is final: the stream ends after reporting it.
//!
//! Failure modes, each reported once as the stream's last item, then `None`:
//!
//! | refusal | when | close (decided in `frames.rs`) |
//! |---|---|---|
//! | `TooLarge` | a header announces a message over `max_message_bytes` (fragments added up) | 1009 |
//! | `OverBudget` | the budget is full and no message has ended since the last one handled: one message's framing (hundreds of fragments) is over the budget | 1009 |
//! | `Protocol` | RSV bits, unknown opcode, unmasked frame, fragmented or over-125-byte control frame, misplaced continuation | 1002 |
//!
//! Errors of the payload itself pass through unchanged.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use actix_http::error::PayloadError;
use actix_ws::ProtocolError;
use bytes::Bytes;
use futures_util::Stream;
use parking_lot::Mutex;

use super::frame_scan::FrameScanner;
pub use super::frame_scan::ReadRefused;
use crate::metrics::Metrics;
use crate::Limits;

/// What each frame costs in the budget on top of its bytes: roughly the message value actix-ws
/// queues per decoded frame plus the guard's record of where a message ends.
pub const FRAME_CHARGE: usize = 64;

/// The session's half of the budget: shared by the guard (which hands bytes on) and the
/// session (which handles the messages they make).
#[derive(Debug)]
pub struct ReadBudget {
    budget: usize,
    state: Mutex<BudgetState>,
}

#[derive(Debug, Default)]
struct BudgetState {
    /// Cost handed on since the connection opened.
    handed: u64,
    /// Cost released: everything up to the end of the last message the session handled.
    released: u64,
    /// The cumulative cost at the end of each message handed on and not yet handled, oldest
    /// first. At most `budget / FRAME_CHARGE` entries, as each ends a frame.
    ends: VecDeque<u64>,
    /// The guard, waiting for room.
    waiting: Option<Waker>,
}

impl BudgetState {
    fn held(&self) -> u64 {
        self.handed - self.released
    }
}

impl ReadBudget {
    /// The budget of a connection under `limits`.
    pub fn from_limits(limits: &Limits) -> Self {
        Self::new(
            limits
                .max_message_bytes
                .saturating_add(limits.read_ahead_bytes),
        )
    }

    fn new(budget: usize) -> Self {
        Self {
            budget,
            state: Mutex::new(BudgetState::default()),
        }
    }

    /// The session handled one message (any message actix-ws yields, control frames included):
    /// its bytes, and those of the frames before it, are released.
    pub fn handled(&self) {
        let mut state = self.state.lock();
        if let Some(end) = state.ends.pop_front() {
            state.released = end;
        }
        let waiting = state.waiting.take();
        drop(state);
        if let Some(waker) = waiting {
            waker.wake();
        }
    }

    /// What the connection holds now: handed on and not yet handled.
    pub fn held(&self) -> usize {
        // The held amount never exceeds the budget, a usize.
        self.state.lock().held() as usize
    }
}

/// The guard stream; see the module doc.
pub struct ReadGuard<S> {
    payload: S,
    scanner: FrameScanner,
    budget: Arc<ReadBudget>,
    metrics: Arc<Metrics>,
    /// The rest of the payload's last chunk, not handed on yet.
    stash: Bytes,
    /// A refusal waiting to be reported; see [`ReadGuard::report`].
    refused: Option<ReadRefused>,
    /// Whether the poll before reporting `refused` returned `Pending`.
    deferred: bool,
    /// Whether the stream ended (refusal reported, or the payload ended).
    done: bool,
}

impl<S> std::fmt::Debug for ReadGuard<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadGuard")
            .field("budget", &self.budget)
            .field("stash", &self.stash.len())
            .field("refused", &self.refused)
            .finish()
    }
}

impl<S> ReadGuard<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    /// Guards `payload` with the message limit and budget of `limits`. The budget goes to the
    /// session, which reports each message it handles.
    pub fn new(payload: S, limits: &Limits, metrics: Arc<Metrics>) -> (Self, Arc<ReadBudget>) {
        let budget = Arc::new(ReadBudget::from_limits(limits));
        let guard = Self::with_budget(payload, limits.max_message_bytes, budget.clone(), metrics);
        (guard, budget)
    }

    fn with_budget(
        payload: S,
        max_message_bytes: usize,
        budget: Arc<ReadBudget>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            payload,
            scanner: FrameScanner::new(max_message_bytes),
            budget,
            metrics,
            stash: Bytes::new(),
            refused: None,
            deferred: false,
            done: false,
        }
    }

    /// Hands on as much of the stash as the scanner and the budget allow; 0 when nothing could
    /// be (then `refused` says whether it was the scanner).
    fn take_allowed(&mut self) -> usize {
        let mut state = self.budget.state.lock();
        let budget = self.budget.budget as u64;
        let mut taken = 0;
        let mut cost = 0u64;
        while taken < self.stash.len() {
            let charge = if self.scanner.at_frame_start() {
                FRAME_CHARGE as u64
            } else {
                0
            };
            let room = budget.saturating_sub(state.held() + cost);
            if room <= charge {
                break;
            }
            let most = (self.stash.len() - taken).min((room - charge) as usize);
            match self.scanner.scan(&self.stash[taken..taken + most]) {
                Err(refused) => {
                    self.refused = Some(refused);
                    break;
                }
                Ok(scanned) => {
                    taken += scanned.used;
                    cost += scanned.used as u64 + charge;
                    if scanned.message_ended {
                        let end = state.handed + cost;
                        state.ends.push_back(end);
                    }
                }
            }
        }
        state.handed += cost;
        let held = state.held();
        drop(state);
        // The gauge is an i64 and the held amount at most the budget, a usize.
        let held = i64::try_from(held).unwrap_or(i64::MAX);
        self.metrics
            .ws_read_peak_bytes
            .inner()
            .fetch_max(held, Ordering::Relaxed);
        taken
    }

    /// Reports the refusal: first one `Pending` (woken at once), so that actix-ws, which reads
    /// until the payload is pending or fails, decodes and yields the messages before it; then the
    /// error.
    fn report(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, PayloadError>>> {
        if !self.deferred {
            self.deferred = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.done = true;
        self.stash = Bytes::new();
        // unwrap: `report` is called only with a refusal set.
        let refused = self.refused.take().unwrap();
        tracing::debug!(%refused, "websocket read refused");
        Poll::Ready(Some(Err(PayloadError::Io(io::Error::other(refused)))))
    }
}

impl<S> Stream for ReadGuard<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if this.refused.is_some() {
            return this.report(cx);
        }
        loop {
            if this.stash.is_empty() {
                match Pin::new(&mut this.payload).poll_next(cx) {
                    Poll::Ready(Some(Ok(chunk))) => this.stash = chunk,
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                    Poll::Ready(None) => {
                        this.done = true;
                        return Poll::Ready(None);
                    }
                    Poll::Pending => return Poll::Pending,
                }
                continue;
            }
            let taken = this.take_allowed();
            if taken > 0 {
                return Poll::Ready(Some(Ok(this.stash.split_to(taken))));
            }
            if this.refused.is_some() {
                return this.report(cx);
            }
            // The budget is full. Wait for the session if it has a message to handle; if not,
            // the message in progress alone fills the budget and can never be handled.
            let mut state = this.budget.state.lock();
            if state.ends.is_empty() {
                drop(state);
                this.refused = Some(ReadRefused::OverBudget {
                    budget: this.budget.budget,
                });
                return this.report(cx);
            }
            state.waiting = Some(cx.waker().clone());
            drop(state);
            this.metrics.ws_read_paused.inc();
            return Poll::Pending;
        }
    }
}

/// The guard's refusal inside an error of actix-ws's message stream, if that is what it is:
/// actix-ws wraps a payload error as `ProtocolError::Io(io::Error::other(payload_error))`.
pub fn refusal(e: &ProtocolError) -> Option<&ReadRefused> {
    let ProtocolError::Io(e) = e else {
        return None;
    };
    match e.get_ref()?.downcast_ref::<PayloadError>()? {
        PayloadError::Io(inner) => inner.get_ref()?.downcast_ref::<ReadRefused>(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::task::Wake;

    use super::super::frame_scan::tests::{frame, header};
    use super::*;

    /// A payload of the given chunks, then pending forever.
    struct Chunks(VecDeque<Bytes>);

    impl Stream for Chunks {
        type Item = Result<Bytes, PayloadError>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            match self.0.pop_front() {
                Some(chunk) => Poll::Ready(Some(Ok(chunk))),
                None => Poll::Pending,
            }
        }
    }

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Counter(std::sync::atomic::AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    struct Harness {
        guard: ReadGuard<Chunks>,
        budget: Arc<ReadBudget>,
        metrics: Arc<Metrics>,
        wakes: Arc<Counter>,
    }

    impl Harness {
        /// A guard with message limit `limit`, budget `budget`, over `chunks`.
        fn new(limit: usize, budget: usize, chunks: Vec<Vec<u8>>) -> Self {
            let metrics = Arc::new(Metrics::new());
            let read_budget = Arc::new(ReadBudget::new(budget));
            let payload = Chunks(chunks.into_iter().map(Bytes::from).collect());
            let guard =
                ReadGuard::with_budget(payload, limit, read_budget.clone(), metrics.clone());
            Self {
                guard,
                budget: read_budget,
                metrics,
                wakes: Arc::new(Counter::default()),
            }
        }

        fn poll(&mut self) -> Poll<Option<Result<Bytes, PayloadError>>> {
            let waker = Waker::from(self.wakes.clone());
            let mut cx = Context::from_waker(&waker);
            Pin::new(&mut self.guard).poll_next(&mut cx)
        }

        /// Polls until pending or the end; the bytes handed on and how it stopped.
        fn drain(&mut self) -> (Vec<u8>, Poll<Option<Result<Bytes, PayloadError>>>) {
            let mut out = Vec::new();
            loop {
                match self.poll() {
                    Poll::Ready(Some(Ok(bytes))) => out.extend_from_slice(&bytes),
                    other => return (out, other),
                }
            }
        }

        fn wakes(&self) -> usize {
            self.wakes.0.load(Ordering::SeqCst)
        }
    }

    fn refused(poll: Poll<Option<Result<Bytes, PayloadError>>>) -> ReadRefused {
        match poll {
            Poll::Ready(Some(Err(e))) => {
                let e = ProtocolError::Io(io::Error::other(e));
                refusal(&e).expect("a refusal").clone()
            }
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn an_oversized_header_is_refused_after_the_frames_before_it_were_handed_on_and_decoded() {
        let ok = frame(true, 0x1, 10);
        let bad = [header(true, 0x2, 1 << 40), vec![0; 1000]].concat();
        let mut h = Harness::new(100, 1000, vec![[ok.clone(), bad].concat()]);
        let (out, stopped) = h.drain();
        // Up to the refused byte (the header's last length byte), not one byte more.
        assert_eq!(out.len(), ok.len() + 9);
        assert!(
            stopped.is_pending(),
            "pending once, so actix-ws decodes first"
        );
        assert_eq!(h.wakes(), 1, "and woken at once");
        assert_eq!(
            refused(h.poll()),
            ReadRefused::TooLarge {
                announced: 1 << 40,
                limit: 100
            }
        );
        assert!(
            matches!(h.poll(), Poll::Ready(None)),
            "the refusal is final"
        );
    }

    #[test]
    fn a_refused_header_split_across_chunks_is_still_refused_at_its_length() {
        let h_bytes = header(true, 0x2, 65_537);
        let chunks = h_bytes.iter().map(|b| vec![*b]).collect();
        let mut h = Harness::new(65_536, 70_000, chunks);
        let (out, stopped) = h.drain();
        assert_eq!(out.len(), 9);
        assert!(stopped.is_pending());
        assert!(matches!(
            refused(h.poll()),
            ReadRefused::TooLarge {
                announced: 65_537,
                ..
            }
        ));
    }

    #[test]
    fn the_guard_stops_at_the_budget_and_resumes_when_the_session_handles_a_message() {
        // Four messages of 100 payload bytes (106 on the wire, 170 with the charge) and a
        // budget of 400.
        let msg = frame(true, 0x2, 100);
        let input: Vec<u8> = std::iter::repeat_n(msg.clone(), 4).flatten().collect();
        let mut h = Harness::new(100, 400, vec![input.clone()]);
        let (out, stopped) = h.drain();
        assert!(stopped.is_pending());
        assert_eq!(h.wakes(), 0, "waiting for the session, not for itself");
        // Two messages (340); a third frame's charge does not fit in the 60 left.
        assert_eq!(out.len(), 2 * 106);
        assert_eq!(h.budget.held(), 340);
        assert_eq!(h.metrics.ws_read_paused.get(), 1);
        h.budget.handled();
        assert_eq!(h.wakes(), 1, "handling a message wakes the guard");
        assert_eq!(h.budget.held(), 170);
        let (more, _) = h.drain();
        h.budget.handled();
        h.budget.handled();
        let (rest, _) = h.drain();
        h.budget.handled();
        assert_eq!([out, more, rest].concat(), input, "every byte, in order");
        assert_eq!(h.budget.held(), 0);
        assert_eq!(h.metrics.ws_read_peak_bytes.get(), 340);
    }

    #[test]
    fn a_message_of_exactly_the_limit_fits_a_budget_of_the_limit_plus_its_framing() {
        let msg = frame(true, 0x2, 65_536);
        let budget = 65_536 + 14 + FRAME_CHARGE;
        let mut h = Harness::new(65_536, budget, vec![msg.clone()]);
        let (out, stopped) = h.drain();
        assert_eq!(out, msg);
        assert!(stopped.is_pending());
        assert_eq!(h.budget.held(), budget);
    }

    #[test]
    fn a_message_whose_fragments_fill_the_budget_before_it_ends_is_over_budget() {
        // 100 one-byte fragments cost 100 × (7 + 64) = 7100, over a budget of 5000.
        let mut input = frame(false, 0x1, 1);
        for _ in 0..99 {
            input.extend(frame(false, 0x0, 1));
        }
        input.extend(frame(true, 0x0, 1));
        let mut h = Harness::new(1000, 5000, vec![input]);
        let (out, stopped) = h.drain();
        assert!(out.len() < 5000);
        assert!(stopped.is_pending());
        assert_eq!(refused(h.poll()), ReadRefused::OverBudget { budget: 5000 });
    }

    #[test]
    fn a_protocol_refusal_is_reported_as_such() {
        let mut h = Harness::new(1000, 5000, vec![vec![0x80 | 0x40 | 0x1, 0x85]]);
        let (out, stopped) = h.drain();
        assert!(out.is_empty());
        assert!(stopped.is_pending());
        assert_eq!(
            refused(h.poll()),
            ReadRefused::Protocol("reserved bits set")
        );
    }

    #[test]
    fn errors_that_are_not_the_guards_are_not_taken_for_refusals() {
        let e = ProtocolError::Io(io::Error::other(PayloadError::Incomplete(None)));
        assert!(refusal(&e).is_none());
        assert!(refusal(&ProtocolError::Overflow).is_none());
        let e = ProtocolError::Io(io::Error::new(io::ErrorKind::InvalidData, "utf-8"));
        assert!(refusal(&e).is_none());
    }
}
