//! Starting a real hub (or an app wrapped in the hub's middleware) on port 0 in its own actix
//! system thread.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use oneclass_hub::auth::JwtAuthenticator;
use oneclass_hub::config::Settings;
use oneclass_hub::startup::{Application, HubHandle, JOURNAL_FILE};
use oneclass_storage::{SqliteJournal, Storage};

/// The HS256 secret of test hubs.
pub const SECRET: &str = "hub-test-secret-0123456789";

/// A hub whose journal the test holds; `run`'s result arrives on the returned channel.
pub struct Hub {
    pub addr: SocketAddr,
    pub handle: HubHandle,
    pub journal: Arc<SqliteJournal>,
    pub result: std::sync::mpsc::Receiver<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Hub {
    pub fn start() -> Self {
        oneclass_hub::telemetry::init_for_tests();
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        settings.server.listen = "127.0.0.1:0".into();
        settings.server.workers = 1;
        settings.journal.data_dir = dir.path().to_owned();
        settings.auth.jwt_secret = Some(SECRET.into());
        let auth = Arc::new(JwtAuthenticator::new(&settings.auth, Some(SECRET)).unwrap());
        let journal = Arc::new(SqliteJournal::open(dir.path().join(JOURNAL_FILE)).unwrap());
        let dyn_journal: Arc<dyn Storage> = journal.clone();
        let app = Application::build_with_journal(settings, dyn_journal, auth).unwrap();
        let addr = app.local_addr();
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (result_tx, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let outcome = actix_rt::System::new().block_on(app.run(Some(handle_tx)));
            let _ = result_tx.send(outcome);
        });
        let handle = handle_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("hub did not start");
        Self {
            addr,
            handle,
            journal,
            result,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// Serves the app that `$factory` (an `HttpServer` factory closure) builds on a fresh port from
/// its own thread; evaluates to the address. A macro because the app's type cannot be named.
macro_rules! serve {
    ($factory:expr) => {{
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let factory = $factory;
        std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                actix_web::HttpServer::new(factory)
                    .workers(1)
                    .disable_signals()
                    .listen(listener)
                    .unwrap()
                    .run()
                    .await
            })
        });
        addr
    }};
}
