//! Helpers for end-to-end tests: start a real hub on a random port (in this process, or as a
//! child process for kill -9 tests), mint tokens, and open protocol clients.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use oneclass_actors::Role;
use oneclass_hub::auth::{mint, now_s, JwtAuthenticator};
use oneclass_hub::config::Settings;
use oneclass_hub::startup::{Application, HubHandle, JOURNAL_FILE};
use oneclass_protocol::client::{Client, ClientError};
use oneclass_protocol::reply::Connected;
use oneclass_protocol::token::{Claims, DEFAULT_AUDIENCE, DEFAULT_ISSUER};
use oneclass_protocol::{ChannelName, Codec};
use oneclass_storage::{SqliteJournal, Storage};

mod peer;
pub use peer::peer;

/// The HS256 secret every test hub uses.
pub const SECRET: &str = "test-secret-0123456789abcdef";

/// Settings for a test hub: port 0, the given data dir, short timers.
pub fn test_settings(data_dir: &Path) -> Settings {
    let mut s = Settings::default();
    s.server.listen = "127.0.0.1:0".into();
    s.server.workers = 2;
    s.journal.data_dir = data_dir.to_owned();
    s.auth.jwt_secret = Some(SECRET.into());
    s.auth.leeway_s = 0;
    // Many tests publish hundreds of messages at once from one user (replay, slow consumers,
    // resume); the production publish quotas would refuse them. The tests of the quotas
    // themselves (abuse_limits) set their own.
    s.rate_limits.user.publish = bench_quota();
    s.rate_limits.school_writes = bench_quota();
    s
}

/// A quota no test reaches.
fn bench_quota() -> oneclass_actors::rate_limit::Quota {
    oneclass_actors::rate_limit::Quota::new(1_000_000, 1_000_000).expect("non-zero")
}

/// A hub running in this process on its own actix system thread.
pub struct TestHub {
    pub addr: std::net::SocketAddr,
    pub data_dir: PathBuf,
    /// Keeps the temporary data dir alive as long as the hub (and its restarts) need it.
    _tmp: Option<Arc<tempfile::TempDir>>,
    handle: HubHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The journal, when the test opened it itself (fault injection).
    pub journal: Option<Arc<SqliteJournal>>,
    /// The settings it was started with, reused by [`TestHub::restart`].
    settings: Settings,
}

impl std::fmt::Debug for TestHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHub").field("addr", &self.addr).finish()
    }
}

impl TestHub {
    /// A hub with default test settings and a fresh data dir.
    pub fn spawn() -> Self {
        Self::spawn_with(|_| {})
    }

    /// A hub with a fresh data dir and settings adjusted by `tweak`.
    pub fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        let tmp = Arc::new(tempfile::tempdir().expect("tempdir"));
        let mut settings = test_settings(tmp.path());
        tweak(&mut settings);
        Self::start(settings, Some(tmp), false)
    }

    /// A hub on a data dir the test prepared (e.g. a journal written before the hub starts).
    pub fn spawn_on(tmp: Arc<tempfile::TempDir>, tweak: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = test_settings(tmp.path());
        tweak(&mut settings);
        Self::start(settings, Some(tmp), false)
    }

    /// A hub whose journal the test holds, so it can inject faults.
    pub fn spawn_with_journal_handle() -> Self {
        let tmp = Arc::new(tempfile::tempdir().expect("tempdir"));
        Self::start(test_settings(tmp.path()), Some(tmp), true)
    }

    fn start(settings: Settings, tmp: Option<Arc<tempfile::TempDir>>, hold: bool) -> Self {
        oneclass_hub::telemetry::init_for_tests();
        let data_dir = settings.journal.data_dir.clone();
        let kept = settings.clone();
        let (app, journal) = if hold {
            let auth = Arc::new(JwtAuthenticator::new(&settings.auth, Some(SECRET)).unwrap());
            let journal = Arc::new(SqliteJournal::open(data_dir.join(JOURNAL_FILE)).unwrap());
            let dyn_journal: Arc<dyn Storage> = journal.clone();
            (
                Application::build_with_journal(settings, dyn_journal, auth).unwrap(),
                Some(journal),
            )
        } else {
            (Application::build(settings).expect("build hub"), None)
        };
        let addr = app.local_addr();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                if let Err(e) = app.run(Some(tx)).await {
                    eprintln!("hub stopped with error: {e:#}");
                }
            });
        });
        let handle = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("hub did not start");
        Self {
            addr,
            data_dir,
            _tmp: tmp,
            handle,
            thread: Some(thread),
            journal,
            settings: kept,
        }
    }

    /// Stops this hub and starts a new one on the same data dir (a restart).
    pub async fn restart(mut self) -> Self {
        let tmp = self._tmp.take();
        let settings = self.settings.clone();
        self.stop().await;
        Self::start(settings, tmp, false)
    }

    /// Stops the hub (closing sockets with 1001) and waits for its thread.
    pub async fn stop(&mut self) {
        self.handle.stop().await;
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }

    /// The school actors of the running hub (supervision tests).
    pub fn registry(&self) -> &oneclass_actors::SchoolRegistry {
        self.handle.registry()
    }

    /// The provider actors' routers of the running hub (delivery tests submit through them).
    pub fn delivery(&self) -> &oneclass_hub::delivery::DeliveryEngine {
        self.handle.delivery()
    }

    /// The body of `GET /metrics`.
    pub async fn metrics_text(&self) -> String {
        let resp = reqwest::get(self.http_url("/metrics"))
            .await
            .expect("GET /metrics");
        assert_eq!(resp.status(), 200);
        resp.text().await.expect("metrics body")
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Opens a client and connects with `token`.
    pub async fn connect(&self, codec: Codec, token: &str) -> (Client, Connected) {
        Client::connect(&self.ws_url(), codec, token, BTreeMap::new())
            .await
            .expect("connect")
    }

    /// Opens a client and connects with `token`, resuming `resume`.
    pub async fn resume(
        &self,
        codec: Codec,
        token: &str,
        resume: BTreeMap<String, u64>,
    ) -> Result<(Client, Connected), ClientError> {
        Client::connect(&self.ws_url(), codec, token, resume).await
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        if let Some(hub) = self.thread.take() {
            let handle = self.handle.clone();
            let _ = std::thread::spawn(move || {
                actix_rt::System::new().block_on(async move { handle.stop().await })
            })
            .join();
            // Let the hub close its journal before the data dir is removed.
            let _ = hub.join();
        }
    }
}

/// Claims for a test token valid for an hour.
pub fn claims(user: &str, school: &str, role: Role, classes: &[&str]) -> Claims {
    let now = now_s();
    Claims {
        sub: user.into(),
        school: school.into(),
        role,
        classes: classes.iter().map(|c| c.to_string()).collect(),
        exp: now + 3600,
        iat: now,
        iss: DEFAULT_ISSUER.into(),
        aud: DEFAULT_AUDIENCE.into(),
        jti: None,
    }
}

/// A token signed with the test secret.
pub fn token(user: &str, school: &str, role: Role, classes: &[&str]) -> String {
    mint(SECRET, &claims(user, school, role, classes))
}

/// Parses a channel name (test shorthand).
pub fn ch(name: &str) -> ChannelName {
    ChannelName::parse(name).expect("channel name")
}

/// Waits at most `secs` for a future.
pub async fn within<T>(secs: u64, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .expect("timed out")
}

/// The next journaled event or `synced` on `channel`, skipping presence, typing, read and other
/// channels' events (which may interleave freely).
pub async fn next_on(
    c: &mut Client,
    channel: &str,
) -> Result<oneclass_protocol::Event, ClientError> {
    use oneclass_protocol::Event;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), c.next_event())
            .await
            .map_err(|_| ClientError::Decode(format!("no event on {channel} within 10 s")))??;
        match &event {
            Event::Msg(_) | Event::Notification(_) | Event::Synced { .. }
                if event.channel() == Some(channel) =>
            {
                return Ok(event)
            }
            Event::Error { .. } => return Ok(event),
            _ => continue,
        }
    }
}

/// The value of the first sample of `name` (exact name including labels) in Prometheus text.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (n, v) = l.rsplit_once(' ')?;
        (n == name).then(|| v.parse().ok()).flatten()
    })
}

/// The real `oneclass-hub` binary running as a child process (for kill -9 tests).
pub struct ChildHub {
    pub addr: std::net::SocketAddr,
    child: std::process::Child,
}

impl std::fmt::Debug for ChildHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildHub")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Path of the `oneclass-hub` binary next to this test executable (`target/debug/oneclass-hub`).
/// `cargo test --workspace` builds it (hub/tests/cli.rs needs it); `cargo test -p oneclass-tests`
/// alone does not, so build it first with `cargo build -p oneclass-hub`.
pub fn hub_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/it-xxxx -> target/debug/oneclass-hub
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps")
        .join(format!("oneclass-hub{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p oneclass-hub` (or `cargo test --workspace`) first",
        path.display()
    );
    path
}

/// Runs the real `oneclass-hub journal verify` over the journal in `data_dir`, for school `s1`
/// and every time the tests write in; the caller reads its status and output.
pub fn journal_verify(data_dir: &Path) -> std::process::Output {
    std::process::Command::new(hub_binary())
        .args([
            "journal",
            "verify",
            "--school",
            "s1",
            "--from",
            "2020-01-01",
            "--to",
            "2100-01-01",
        ])
        .env("ONECLASS_DATA_DIR", data_dir)
        .env("ONECLASS_JWT_SECRET", SECRET)
        .output()
        .expect("running oneclass-hub journal verify")
}

impl ChildHub {
    /// Starts the binary on `data_dir` with port 0 and the test secret, and reads the address
    /// from its first stdout line `listening on ADDR`.
    pub async fn start(data_dir: &Path) -> Self {
        Self::start_with_env(data_dir, &[]).await
    }

    /// Like [`ChildHub::start`] with extra environment variables (e.g. `ONECLASS_JOURNAL`).
    pub async fn start_with_env(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(hub_binary())
            .envs(env.iter().copied())
            .env("ONECLASS_LISTEN", "127.0.0.1:0")
            .env("ONECLASS_DATA_DIR", data_dir)
            .env("ONECLASS_JWT_SECRET", SECRET)
            .env("ONECLASS_WORKERS", "2")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start oneclass-hub");
        let stdout = child.stdout.take().expect("piped stdout");
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .map(|_| line)
        });
        let line = within(30, line).await.expect("join").expect("read stdout");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("address");
        Self { addr, child }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for ChildHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A journal URL for a fresh keyspace on the CQL node named by `ONECLASS_TEST_CQL` (started by
/// scripts/cassandra.sh). `None` (with a printed notice) when the variable is unset; under CI a
/// missing node fails the test instead (see [`peer`]).
pub fn cql_journal_url(test: &str) -> Option<String> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let node = peer(
        "ONECLASS_TEST_CQL",
        &format!("a CQL node for {test} (scripts/cassandra.sh start)"),
    )?;
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let keyspace = format!("hub_e2e_{}_{n}", std::process::id());
    Some(format!(
        "scylla://{node}/{keyspace}?dialect=cassandra&consistency=one&replication=simple:1"
    ))
}
