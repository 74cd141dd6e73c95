//! Shared helpers: a sandbox on port 0 with fast timings, a callback sink, real-peer lookup.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::Router;
use oneclass_clients::sim::{run_sandbox, PaynowTimings, SandboxConfig, SandboxHandle};
use tokio::sync::mpsc;

/// Simulator settings that keep tests fast.
pub fn fast_config() -> SandboxConfig {
    let mut config = SandboxConfig::default();
    config.sms.dlr_delay = Duration::from_millis(10);
    config.paynow.timings = PaynowTimings {
        success: Duration::from_millis(50),
        delayed_success: Duration::from_millis(300),
        cancelled: Duration::from_millis(100),
        callback_retry: Duration::from_millis(20),
    };
    config
}

pub async fn sandbox() -> SandboxHandle {
    sandbox_with(fast_config()).await
}

pub async fn sandbox_with(config: SandboxConfig) -> SandboxHandle {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    run_sandbox(listener, config).await.unwrap()
}

/// One request the sink received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    pub uri: Uri,
    pub body: Bytes,
}

/// A local HTTP endpoint that records callbacks, failing the first `fail_first` with 500.
pub struct Sink {
    pub url: String,
    rx: mpsc::UnboundedReceiver<Hit>,
}

#[derive(Clone)]
struct SinkState {
    tx: mpsc::UnboundedSender<Hit>,
    fail_first: Arc<AtomicUsize>,
}

async fn record(
    State(state): State<SinkState>,
    method: axum::http::Method,
    uri: Uri,
    body: Bytes,
) -> StatusCode {
    let _ = state.tx.send(Hit {
        method: method.to_string(),
        uri,
        body,
    });
    let failing = state
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

impl Sink {
    pub async fn start() -> Self {
        Self::failing_first(0).await
    }

    pub async fn failing_first(n: usize) -> Self {
        Self::bind("127.0.0.1:0", n).await
    }

    pub async fn bind(addr: &str, fail_first: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = SinkState {
            tx,
            fail_first: Arc::new(AtomicUsize::new(fail_first)),
        };
        let app = Router::new().fallback(record).with_state(state);
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let url = format!("http://{}/cb", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, rx }
    }

    /// The next hit, or a panic after `within`.
    pub async fn next(&mut self, within: Duration) -> Hit {
        tokio::time::timeout(within, self.rx.recv())
            .await
            .expect("callback did not arrive in time")
            .expect("sink closed")
    }

    /// Asserts nothing more arrives within `within`.
    pub async fn quiet(&mut self, within: Duration) {
        if let Ok(Some(hit)) = tokio::time::timeout(within, self.rx.recv()).await {
            panic!("unexpected callback {hit:?}");
        }
    }
}

/// A real peer, or skip, or fail under CI: the workspace's one rule (`tests/src/peer.rs`).
pub use crate::peer::peer;

/// Request timeout of the clients under test. Generous on purpose: CI runs these tests while
/// other test binaries and a Cassandra node compete for two cores, and a request to a simulator
/// must not time out then. Tests of the timeout path use `Fault::Hang`, which never answers, so
/// they still end (after this long).
pub const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Timeout of clients in the tests of the timeout path itself: far below the simulated hang or
/// delay, so the only way the request can end is the client giving up.
pub const SHORT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(300);
