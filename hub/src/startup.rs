//! Building and running the hub: open the journal, resolve keys, bind the listener, start the
//! supervisor and the HTTP server. [`Application::build`] binds before anything runs so callers
//! (tests) can bind port 0 and read the port.
//!
//! Nothing here is process-global: the fatal flag (set when the journal fails, so `run` ends with
//! an error and the process restarts) lives in each run's [`HubHandle`], the metrics registry
//! belongs to the [`Application`], and error tracking uses the application's own Sentry client,
//! so several hubs in one process do not see each other.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;
use oneclass_actors::delivery::{DeliveryReports, ReportDesk};
use oneclass_actors::events::RouteWrites;
use oneclass_actors::metrics::Metrics;
use oneclass_actors::rate_limit::RateLimiters;
use oneclass_actors::session::{LiveSessions, SessionDeps};
use oneclass_actors::{HubSupervisor, Limits, SchoolRegistry};
use oneclass_protocol::CloseCode;
use oneclass_storage::{EventQueries, Journal, Storage};

use crate::auth::{resolve_secret, JwtAuthenticator};
use crate::config::Settings;
use crate::delivery::DeliveryEngine;
use crate::error_tracking::ErrorTracking;
use crate::providers::ProviderRegistry;

pub use crate::journal_backend::{open_journal, JOURNAL_FILE};
/// How long shutdown waits for sessions to send their 1001 close.
const DRAIN: Duration = Duration::from_millis(500);

/// What every HTTP handler can reach.
pub struct AppState {
    pub registry: SchoolRegistry,
    /// The read-only query path of the journal, for the analyst routes (events, export,
    /// analytics): they can read a school's events but not write any.
    pub queries: Arc<dyn EventQueries>,
    /// The only journal writes a route can cause (the body-access audit, revocations).
    pub writes: RouteWrites,
    pub auth: Arc<JwtAuthenticator>,
    pub session_deps: Arc<SessionDeps>,
    pub ready: Arc<AtomicBool>,
    /// This hub's metrics: `/metrics` renders them, the error middleware counts into them.
    pub metrics: Arc<Metrics>,
    /// A live client per configured provider, for the delivery engine; empty when the hub
    /// delivers in-app only.
    pub providers: Arc<ProviderRegistry>,
    /// The running provider actors' routers, one per configured kind, for the dispatcher.
    pub delivery: DeliveryEngine,
    /// Where provider callbacks go (`routes::callbacks`); `None` until `run` starts it (and in
    /// route tests that build the state by hand), when callbacks are answered `404`.
    pub reports: Option<Addr<DeliveryReports>>,
}

impl AppState {
    /// The state of a hub over `journal`: a school registry, an empty live-session index, and
    /// ready until the supervisor says otherwise.
    pub fn new(
        journal: Arc<dyn Storage>,
        auth: Arc<JwtAuthenticator>,
        limits: Limits,
        limiters: Arc<RateLimiters>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let registry = SchoolRegistry::new(journal.clone(), limits.clone(), metrics.clone());
        let session_deps = Arc::new(SessionDeps {
            registry: registry.clone(),
            auth: auth.clone(),
            limits,
            sessions: Arc::new(LiveSessions::default()),
            metrics: metrics.clone(),
            limiters,
        });
        Self {
            registry,
            queries: journal.clone(),
            writes: RouteWrites::new(journal),
            auth,
            session_deps,
            ready: Arc::new(AtomicBool::new(true)),
            metrics,
            providers: Arc::new(ProviderRegistry::empty()),
            delivery: DeliveryEngine::none(),
            reports: None,
        }
    }
}

/// The hub's HTTP app over `state`: its middleware, the REST error shape for actix-web's own
/// errors (JSON bodies up to `max_request_bytes`) and every route. The server builds one per
/// worker; tests build one in-process (`actix_web::test::init_service`).
pub fn app(
    state: web::Data<AppState>,
    max_request_bytes: usize,
    tracking: Option<&ErrorTracking>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    crate::middleware::wrap(App::new(), tracking)
        .app_data(state)
        .configure(|cfg| crate::error::configure(cfg, max_request_bytes))
        .configure(crate::routes::configure)
}

/// A hub that is bound and ready to run.
pub struct Application {
    listener: TcpListener,
    settings: Settings,
    journal: Arc<dyn Storage>,
    auth: Arc<JwtAuthenticator>,
    /// Where errors are reported; `None` without a DSN.
    tracking: Option<ErrorTracking>,
    /// The registry every part of this hub records into, and `/metrics` renders.
    metrics: Arc<Metrics>,
    /// The provider clients, when the caller built them ([`Application::set_providers`]);
    /// otherwise `run` builds them from the settings.
    providers: Option<Arc<ProviderRegistry>>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("listener", &self.listener)
            .finish()
    }
}

impl Application {
    /// Opens the journal and binds the listener.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let data_dir = &settings.journal.data_dir;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let secret = resolve_secret(&settings.auth, data_dir)?;
        let auth = Arc::new(JwtAuthenticator::new(&settings.auth, secret.as_deref())?);
        let journal = open_journal(&settings)?;
        Self::build_with_journal(settings, journal, auth)
    }

    /// Like [`Application::build`] with a journal the caller opened (tests use this to inject
    /// faults into the journal).
    pub fn build_with_journal(
        settings: Settings,
        journal: Arc<dyn Storage>,
        auth: Arc<JwtAuthenticator>,
    ) -> anyhow::Result<Self> {
        let tracking = ErrorTracking::from_settings(&settings.telemetry)?;
        let listener = TcpListener::bind(&settings.server.listen)
            .with_context(|| format!("binding {}", settings.server.listen))?;
        Ok(Self {
            listener,
            settings,
            journal,
            auth,
            tracking,
            metrics: Arc::new(Metrics::new()),
            providers: None,
        })
    }

    /// Uses `providers` instead of building clients from the settings in `run` (so `serve` can
    /// fail on a broken provider before it reports the port).
    pub fn set_providers(&mut self, providers: Arc<ProviderRegistry>) {
        self.providers = Some(providers);
    }

    /// The settings this hub runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        // unwrap: a bound listener has a local address.
        self.listener.local_addr().unwrap()
    }

    /// Runs until the server stops (a signal, or `stop` through the handle sent on `handle_tx`).
    /// Must run inside an actix system.
    pub async fn run(
        self,
        handle_tx: Option<std::sync::mpsc::Sender<HubHandle>>,
    ) -> anyhow::Result<()> {
        let revoked = self.auth.revocations().load(self.journal.as_ref()).await?;
        tracing::info!(revoked, "revocation list loaded");
        let limiters = Arc::new(RateLimiters::new(
            self.settings.rate_limits.clone(),
            self.metrics.clone(),
        ));
        let providers = match self.providers.clone() {
            Some(providers) => providers,
            None => Arc::new(build_providers(&self.settings)?),
        };
        providers.log_startup();
        let delivery = DeliveryEngine::start(
            &providers,
            self.journal.clone() as Arc<dyn Journal>,
            self.metrics.clone(),
        );
        let desk = ReportDesk::load(
            self.journal.clone(),
            providers.callback_secrets(),
            self.settings.limits.report_index_max,
        )
        .await
        .context("rebuilding the delivery report index from the journal")?;
        let reports_metrics = self.metrics.clone();
        let reports =
            actix::Supervisor::start(move |_| DeliveryReports::new(desk, reports_metrics));
        let state = web::Data::new(AppState {
            providers: providers.clone(),
            delivery: delivery.clone(),
            reports: Some(reports),
            ..AppState::new(
                self.journal.clone(),
                self.auth.clone(),
                self.settings.actor_limits(),
                limiters.clone(),
                self.metrics.clone(),
            )
        });
        let registry = state.registry.clone();
        let sessions = state.session_deps.sessions.clone();
        let ready = state.ready.clone();
        let max_request = self.settings.server.max_request_bytes;
        let tracking = self.tracking.clone();
        let mut server =
            HttpServer::new(move || app(state.clone(), max_request, tracking.as_ref()))
                .disable_signals()
                .backlog(self.settings.server.backlog)
                .max_connections(self.settings.server.max_connections)
                .on_connect(|conn, _| {
                    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                        let _ = tcp.set_nodelay(true);
                    }
                });
        if self.settings.server.workers > 0 {
            server = server.workers(self.settings.server.workers);
        }
        let server = server.listen(self.listener)?.run();
        let handle = HubHandle {
            server: server.handle(),
            sessions,
            registry: registry.clone(),
            providers,
            delivery,
            fatal: Arc::new(AtomicBool::new(false)),
        };
        let fatal_handle = handle.clone();
        HubSupervisor::new(
            registry,
            limiters,
            ready,
            Box::new(move |_reason| {
                fatal_handle.fatal.store(true, Ordering::SeqCst);
                let h = fatal_handle.clone();
                actix_rt::spawn(async move { h.stop().await });
            }),
        )
        .start();
        if let Some(tx) = handle_tx {
            let _ = tx.send(handle.clone());
        }
        let signals = handle.clone();
        actix_rt::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            signals.stop().await;
        });
        let served = server.await;
        if let Some(tracking) = &self.tracking {
            tracking.flush();
        }
        served?;
        if handle.saw_fatal() {
            anyhow::bail!("journal failure: restart to recover");
        }
        Ok(())
    }
}

/// Stops a running hub.
#[derive(Clone)]
pub struct HubHandle {
    server: actix_web::dev::ServerHandle,
    sessions: Arc<LiveSessions>,
    registry: SchoolRegistry,
    providers: Arc<ProviderRegistry>,
    delivery: DeliveryEngine,
    /// Set by the supervisor's fatal hook (the journal failed); this run then ends with an error.
    fatal: Arc<AtomicBool>,
}

impl std::fmt::Debug for HubHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubHandle").finish_non_exhaustive()
    }
}

impl HubHandle {
    /// The school actors of the running hub (operations and supervision tests).
    pub fn registry(&self) -> &SchoolRegistry {
        &self.registry
    }

    /// The provider clients of the running hub.
    pub fn providers(&self) -> &Arc<ProviderRegistry> {
        &self.providers
    }

    /// The provider actors' routers of the running hub.
    pub fn delivery(&self) -> &DeliveryEngine {
        &self.delivery
    }

    /// Whether this hub stopped, or is stopping, because its journal failed.
    pub fn saw_fatal(&self) -> bool {
        self.fatal.load(Ordering::SeqCst)
    }

    /// Closes every WebSocket with 1001, gives the closes a moment to leave, then stops.
    pub async fn stop(&self) {
        self.sessions
            .close_all(CloseCode::GoingAway, "hub shutting down");
        if !self.sessions.is_empty() {
            tokio::time::sleep(DRAIN).await;
        }
        self.server.stop(true).await;
    }
}

/// One client per `[providers.*]` entry of `settings`, on the system clock. Must run inside a
/// Tokio runtime (the SMTP mailer's pool starts a task).
pub fn build_providers(settings: &Settings) -> anyhow::Result<ProviderRegistry> {
    Ok(ProviderRegistry::build(
        &settings.providers,
        oneclass_clients::SystemClock::shared(),
        Arc::new(oneclass_clients::email::Templates::new()),
    )?)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
