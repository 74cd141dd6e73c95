//! Limits and timings of sessions and schools, set from the hub's configuration.
//!
//! The hub's `[limits]` section deserialises straight into [`Limits`]: sizes are plain integers,
//! durations human-readable strings (`"20s"`, `"500ms"`, through `humantime-serde`), and a
//! missing key keeps its default. Unknown keys are refused, so a misspelt limit fails at startup
//! instead of silently keeping the default. Checking that the limits fit together is the hub's
//! job (its `config` validation).

use std::time::Duration;

use serde::Deserialize;

/// Per-connection and per-school limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest WebSocket message accepted (continuations counted together).
    pub max_message_bytes: usize,
    /// Bytes a connection may read beyond `max_message_bytes` and not yet have handled: the
    /// framing of a fragmented message and the messages queued behind the one being handled
    /// (each frame counts 64 bytes more, see `session/read_guard.rs`). Past it the hub stops
    /// reading the socket until the session catches up; a message whose framing alone fills it
    /// closes 1009.
    pub read_ahead_bytes: usize,
    /// Largest `body` of a publish, as encoded JSON.
    pub max_body_bytes: usize,
    /// Bytes a session's outbound queue may hold while its writer is stuck before the client
    /// counts as slow (4008); producers that can wait (catch-up) stay under it, and twice it is
    /// the queue's hard ceiling (see `session/outbound.rs`).
    pub outbound_max_bytes: usize,
    /// How long the writer may be stuck on the socket, with the queue over `outbound_max_bytes`,
    /// before the client counts as slow (4008). Over the bound with a writer that keeps taking
    /// frames, or that has not been scheduled yet, is no sign of a slow client.
    #[serde(with = "humantime_serde")]
    pub outbound_max_stall: Duration,
    /// How long the oldest queued frame may wait before the client counts as slow (4008).
    #[serde(with = "humantime_serde")]
    pub outbound_max_lag: Duration,
    /// Interval between WebSocket pings; two silent intervals close the connection.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// Time allowed between upgrade and `connect`.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Open connections one user may have.
    pub max_connections_per_user: usize,
    /// Events read from the journal per catch-up page.
    pub replay_page: usize,
    /// Live events a catching-up subscriber may have buffered before its catch-up is extended.
    pub catch_up_buffer: usize,
    /// A school actor with no sessions for this long stops (its state lives in the journal).
    #[serde(with = "humantime_serde")]
    pub school_idle: Duration,
    /// Push tokens one roster member may hold (one per device the person uses).
    pub max_push_tokens_per_member: usize,
    /// Most members in one page of `GET …/members`; also the page size when none is asked for.
    pub member_page_max: usize,
    /// Most no-disturb periods in one school calendar (`PUT …/calendar`): a school year's
    /// terms, holidays and exam sittings fit many times over, and the bound keeps the journaled
    /// calendar small.
    pub calendar_periods_max: usize,
    /// Deliveries the delivery-report index keeps (`delivery::ReportIndex`), oldest dropped
    /// first; a report for a dropped delivery is acknowledged as unknown. Sized for the
    /// deliveries sent within the longest report delay (72 h of SMS at contracted rates, many
    /// times over), at a few hundred bytes each.
    pub report_index_max: usize,
    /// Channels one connection may be subscribed to at once (its inbox included); a subscribe
    /// past it is answered `forbidden` and the socket stays open.
    pub max_subscriptions_per_connection: usize,
    /// Subscriptions one user may hold at once over all their connections in a school; a
    /// subscribe past it is answered `forbidden`.
    pub max_subscriptions_per_user: usize,
    /// Presence changes of one user on one channel are announced at most once per interval;
    /// changes inside it are coalesced and the user's state at its end is announced (if it
    /// differs from the last one announced), so members always converge on the truth.
    #[serde(with = "humantime_serde")]
    pub presence_interval: Duration,
    /// Largest `data` of a notification, as encoded JSON (`POST /v1/notifications` answers 400
    /// above it). The whole notification must also fit in one `max_message_bytes` frame.
    pub notify_data_bytes: usize,
    /// Deepest nesting of a notification's `data` (the object itself is level 1); at most
    /// `oneclass_protocol::MAX_BODY_DEPTH`.
    pub notify_data_depth: usize,
    /// Inbox events per journal transaction of a notification's fan-out: a notification to more
    /// recipients is written in several transactions, so other schools' writes go in between.
    pub notify_chunk: usize,
    /// Notification contents kept in memory to answer replays and history of inbox events
    /// (which reference the content instead of holding it).
    pub notification_cache: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 64 * 1024,
            read_ahead_bytes: 16 * 1024,
            max_body_bytes: 16 * 1024,
            outbound_max_bytes: 4 * 1024 * 1024,
            outbound_max_stall: Duration::from_secs(1),
            outbound_max_lag: Duration::from_secs(10),
            heartbeat: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            max_connections_per_user: 16,
            replay_page: 256,
            catch_up_buffer: 4096,
            school_idle: Duration::from_secs(300),
            max_push_tokens_per_member: 10,
            member_page_max: 500,
            calendar_periods_max: 100,
            report_index_max: crate::delivery::DEFAULT_REPORT_INDEX_CAPACITY,
            max_subscriptions_per_connection: 1024,
            max_subscriptions_per_user: 4096,
            presence_interval: Duration::from_secs(1),
            notify_data_bytes: 8 * 1024,
            notify_data_depth: 16,
            notify_chunk: 500,
            notification_cache: 1024,
        }
    }
}
