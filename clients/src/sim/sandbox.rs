//! [`run_sandbox`]: every simulator on one listener, each under its provider's prefix, plus a
//! small control API under `/_sim` for tests and operators.
//!
//! `GET /_sim/credentials` answers [`SandboxCredentials`]: everything a client needs to use this
//! sandbox, including the throwaway FCM and APNs keys the process generated at start. A hub in
//! another process (`serve --sandbox-at URL`) configures its providers from it, which is why the
//! keys are served in the clear: they exist only in this sandbox and sign nothing real.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::apns::{ApnsSim, ApnsSimConfig};
use super::control::{Fault, Faults, Recorder, SimSms};
use super::ecocash::{EcocashSim, EcocashSimConfig};
use super::fcm::{FcmSim, FcmSimConfig};
use super::paynow::{PaynowSim, PaynowSimConfig};
use super::push_keys::{
    sandbox_apns_key, sandbox_service_account, TestServiceAccount, SANDBOX_APNS_KEY_ID,
    SANDBOX_APNS_TEAM_ID,
};
use super::smtp::{SmtpSim, SmtpSimConfig};
use super::tap::{tap, Tap};
use super::whatsapp::{WhatsAppSim, WhatsAppSimConfig};
use super::{apns, ecocash, fcm, kannel, paynow, sms_http};

/// Credentials and limits of the simulated SMS gateways.
#[derive(Debug, Clone)]
pub struct SmsSimConfig {
    /// Kannel `sendsms-user` username.
    pub kannel_username: String,
    /// Kannel `sendsms-user` password.
    pub kannel_password: String,
    /// TelOne account username.
    pub telone_username: String,
    /// TelOne account password.
    pub telone_password: String,
    /// TelOne messages allowed per rolling hour before 429.
    pub telone_rate_limit: u32,
    /// Econet API key.
    pub econet_api_key: String,
    /// Econet messages allowed per rolling hour before 429.
    pub econet_rate_limit: u32,
    /// Pause between a submission and each delivery report it causes.
    pub dlr_delay: Duration,
}

impl Default for SmsSimConfig {
    fn default() -> Self {
        Self {
            kannel_username: "sandbox".to_owned(),
            kannel_password: "sandbox".to_owned(),
            telone_username: "sandbox".to_owned(),
            telone_password: "sandbox".to_owned(),
            telone_rate_limit: 1000,
            econet_api_key: "sandbox-econet-key".to_owned(),
            econet_rate_limit: 500,
            dlr_delay: Duration::from_millis(50),
        }
    }
}

/// Everything the simulators can be told at start.
#[derive(Debug, Clone, Default)]
pub struct SandboxConfig {
    /// Extra delay before every request is handled (all simulators).
    pub latency: Duration,
    /// SMS gateways.
    pub sms: SmsSimConfig,
    /// Paynow.
    pub paynow: PaynowSimConfig,
    /// The SMTP server (its own port, not a prefix).
    pub smtp: SmtpSimConfig,
    /// WhatsApp Cloud API.
    pub whatsapp: WhatsAppSimConfig,
    /// FCM and its OAuth2 token endpoint.
    pub fcm: FcmSimConfig,
    /// APNs.
    pub apns: ApnsSimConfig,
    /// EcoCash Open API.
    pub ecocash: EcocashSimConfig,
}

/// Everything a client needs to send through this sandbox's simulators, as served by
/// `GET /_sim/credentials`. Base URLs of the HTTP simulators are `base_url` plus their prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxCredentials {
    /// `http://ADDR` of the sandbox.
    pub base_url: String,
    /// `host:port` of the SMTP simulator (plaintext, no STARTTLS).
    pub smtp_addr: String,
    pub smtp_username: String,
    pub smtp_password: String,
    pub kannel_username: String,
    pub kannel_password: String,
    pub telone_username: String,
    pub telone_password: String,
    /// Messages per hour the TelOne simulator takes before it answers 429.
    pub telone_rate_limit: u32,
    pub econet_api_key: String,
    /// Messages per hour the Econet simulator takes before it answers 429.
    pub econet_rate_limit: u32,
    pub whatsapp_access_token: String,
    pub whatsapp_phone_number_id: String,
    /// The FCM service-account key file (JSON), `token_uri` pointing at this sandbox.
    pub fcm_service_account: String,
    pub apns_key_id: String,
    pub apns_team_id: String,
    /// The APNs `.p8` contents (PKCS#8 PEM, P-256).
    pub apns_private_key_pem: String,
}

/// Shared state of all simulators.
#[derive(Debug)]
pub(crate) struct Sim {
    pub config: SandboxConfig,
    pub recorder: Recorder,
    pub faults: Faults,
    pub outbox: Mutex<Vec<SimSms>>,
    /// Client for the callbacks simulators make (DLRs, status updates).
    pub callbacks: reqwest::Client,
    pub rate: sms_http::RateWindows,
    pub paynow: PaynowSim,
    pub smtp: SmtpSim,
    pub whatsapp: WhatsAppSim,
    pub fcm: FcmSim,
    pub apns: ApnsSim,
    pub ecocash: EcocashSim,
    /// Base URL the simulators put into URLs they hand out (poll URLs, browser URLs).
    pub public_url: String,
}

/// A running sandbox. Dropping it stops the server.
#[derive(Debug)]
pub struct SandboxHandle {
    addr: SocketAddr,
    sim: Arc<Sim>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SandboxHandle {
    /// The address the sandbox listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/<prefix>`: the base URL to give a client instead of the real provider's.
    pub fn url(&self, prefix: &str) -> String {
        format!("{}/{}", self.sim.public_url, prefix.trim_matches('/'))
    }

    /// Everything the simulators received.
    pub fn recorder(&self) -> &Recorder {
        &self.sim.recorder
    }

    /// Fault injection.
    pub fn faults(&self) -> &Faults {
        &self.sim.faults
    }

    /// The SMTP simulator: its address, the mail it accepted, the bounces it wrote.
    pub fn smtp(&self) -> &SmtpSim {
        &self.sim.smtp
    }

    /// The WhatsApp simulator: webhook URL, users' windows, accepted messages.
    pub fn whatsapp(&self) -> &WhatsAppSim {
        &self.sim.whatsapp
    }

    /// The service account the FCM simulator accepts, with `token_uri` pointing at this
    /// sandbox's `/oauth2/token`; write `.json` to a file for a client or an SDK.
    pub fn fcm_service_account(&self) -> TestServiceAccount {
        sandbox_service_account(&format!("{}/token", self.url("oauth2")))
    }

    /// What a client needs to use these simulators (also `GET /_sim/credentials`).
    pub fn credentials(&self) -> SandboxCredentials {
        credentials(&self.sim)
    }

    /// Every SMS the simulated gateways accepted, in order.
    pub fn sms_outbox(&self) -> Vec<SimSms> {
        self.sim.outbox.lock().clone()
    }

    /// Stops accepting connections and waits for the server task to end.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves every simulator on `listener` until the returned handle is shut down or dropped.
///
/// Must be called inside a Tokio runtime (actix-rt's is one); the server runs on a spawned task.
/// The listener may be bound to port 0; [`SandboxHandle::addr`] tells the chosen port. Prefixes:
/// `/kannel`, `/telone`, `/econet`, `/paynow`, `/fcm`, `/oauth2`, `/apns`, `/ecocash` and the
/// others listed in SIMULATORS.md; control API under `/_sim` (see SIMULATORS.md).
/// HTTP/1.1 and HTTP/2 with prior knowledge are both accepted on the same port.
pub async fn run_sandbox(
    listener: std::net::TcpListener,
    config: SandboxConfig,
) -> std::io::Result<SandboxHandle> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let addr = listener.local_addr()?;
    let callbacks = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(std::io::Error::other)?;
    let (smtp_listener, smtp) = super::smtp::bind(&config.smtp, addr.ip()).await?;
    let sim = Arc::new(Sim {
        paynow: PaynowSim::new(&config.paynow),
        smtp,
        whatsapp: WhatsAppSim::new(&config.whatsapp),
        fcm: FcmSim::new(&config.fcm),
        apns: ApnsSim::new(&config.apns),
        ecocash: EcocashSim::default(),
        config,
        recorder: Recorder::default(),
        faults: Faults::default(),
        outbox: Mutex::new(Vec::new()),
        callbacks,
        rate: sms_http::RateWindows::default(),
        public_url: format!("http://{addr}"),
    });
    let app = router(sim.clone());
    super::smtp::spawn(sim.clone(), smtp_listener);
    let stopper = sim.clone();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
                stopper.smtp.stop();
            })
            .await
    });
    tracing::info!(%addr, "provider simulators listening");
    Ok(SandboxHandle {
        addr,
        sim,
        shutdown: Some(tx),
        task: Some(task),
    })
}

fn tapped(sim: &Arc<Sim>, provider: &'static str, routes: Router<Arc<Sim>>) -> Router<Arc<Sim>> {
    routes.layer(middleware::from_fn_with_state(
        Tap {
            sim: sim.clone(),
            provider,
        },
        tap,
    ))
}

fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .nest("/kannel", tapped(&sim, "kannel", kannel::routes()))
        .nest("/telone", tapped(&sim, "telone", sms_http::telone_routes()))
        .nest("/econet", tapped(&sim, "econet", sms_http::econet_routes()))
        .nest("/paynow", tapped(&sim, "paynow", paynow::routes()))
        .nest(
            "/whatsapp",
            tapped(&sim, "whatsapp", super::whatsapp::routes()),
        )
        .route("/_sim/whatsapp/inbound", post(super::whatsapp::inbound))
        .nest("/fcm", tapped(&sim, "fcm", fcm::fcm_routes()))
        .nest("/oauth2", tapped(&sim, "oauth2", fcm::oauth_routes()))
        .nest("/apns", tapped(&sim, "apns", apns::routes()))
        .nest("/ecocash", tapped(&sim, "ecocash", ecocash::routes()))
        .route("/_sim/requests/{provider}", get(requests))
        .route("/_sim/faults/{provider}", post(push_fault))
        .route("/_sim/sms", get(outbox))
        .route("/_sim/credentials", get(serve_credentials))
        .with_state(sim)
}

async fn requests(State(sim): State<Arc<Sim>>, Path(provider): Path<String>) -> impl IntoResponse {
    Json(sim.recorder.requests(&provider))
}

async fn push_fault(
    State(sim): State<Arc<Sim>>,
    Path(provider): Path<String>,
    Json(fault): Json<Fault>,
) -> StatusCode {
    sim.faults.push(&provider, fault);
    StatusCode::NO_CONTENT
}

async fn outbox(State(sim): State<Arc<Sim>>) -> impl IntoResponse {
    Json(sim.outbox.lock().clone())
}

fn credentials(sim: &Sim) -> SandboxCredentials {
    let c = &sim.config;
    let apns = sandbox_apns_key();
    debug_assert_eq!(
        (apns.key_id.as_str(), apns.team_id.as_str()),
        (SANDBOX_APNS_KEY_ID, SANDBOX_APNS_TEAM_ID)
    );
    SandboxCredentials {
        base_url: sim.public_url.clone(),
        smtp_addr: sim.smtp.addr().to_string(),
        smtp_username: c.smtp.username.clone(),
        smtp_password: c.smtp.password.clone(),
        kannel_username: c.sms.kannel_username.clone(),
        kannel_password: c.sms.kannel_password.clone(),
        telone_username: c.sms.telone_username.clone(),
        telone_password: c.sms.telone_password.clone(),
        telone_rate_limit: c.sms.telone_rate_limit,
        econet_api_key: c.sms.econet_api_key.clone(),
        econet_rate_limit: c.sms.econet_rate_limit,
        whatsapp_access_token: c.whatsapp.access_token.clone(),
        // A sandbox configured with no phone number id hands out an empty one, which the
        // WhatsApp client refuses by name.
        whatsapp_phone_number_id: c
            .whatsapp
            .phone_number_ids
            .first()
            .cloned()
            .unwrap_or_default(),
        fcm_service_account: sandbox_service_account(&format!("{}/oauth2/token", sim.public_url))
            .json,
        apns_key_id: apns.key_id,
        apns_team_id: apns.team_id,
        apns_private_key_pem: apns.private_key_pem,
    }
}

async fn serve_credentials(State(sim): State<Arc<Sim>>) -> impl IntoResponse {
    Json(credentials(&sim))
}
