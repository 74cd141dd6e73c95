//! Error tracking through Sentry (or any service that speaks its protocol), off unless
//! `telemetry.sentry_dsn` (`ONECLASS_SENTRY_DSN`) is set.
//!
//! Each [`crate::startup::Application`] owns its own Sentry client and hub rather than the
//! process-wide one `sentry::init` would install, so two hubs in one process report to their own
//! DSNs and a test hub reports nowhere. `sentry-actix` runs every request under a hub forked from
//! that one, so what reaches the service carries the request (method, URL, headers): a handler
//! that answers 5xx with an error is reported as that error, and a handler that panics is
//! reported by the panic hook while the request's hub is current.
//!
//! What may carry a secret never leaves: `send_default_pii` stays off (no bodies, cookies or
//! addresses), and [`scrub`] removes credential headers and every query string before sending.
//! Events go out over HTTPS with rustls (ring), from the transport's own thread; [`ErrorTracking::flush`]
//! waits for them (the hub calls it when it stops).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::ExposeSecret as _;
use sentry::protocol::Event;

use crate::config::TelemetrySettings;

/// How long stopping waits for queued events to be sent.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// Request headers that carry credentials, dropped from every event.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "sec-websocket-protocol",
];

/// The Sentry client of one running hub.
#[derive(Clone)]
pub struct ErrorTracking {
    client: Arc<sentry::Client>,
    hub: Arc<sentry::Hub>,
}

impl std::fmt::Debug for ErrorTracking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The DSN holds the project key: never print it.
        f.debug_struct("ErrorTracking").finish_non_exhaustive()
    }
}

impl ErrorTracking {
    /// A client for the configured DSN, or `None` when none is configured.
    pub fn from_settings(settings: &TelemetrySettings) -> anyhow::Result<Option<Self>> {
        let Some(dsn) = &settings.sentry_dsn else {
            return Ok(None);
        };
        let dsn = dsn
            .expose_secret()
            .parse()
            .context("telemetry.sentry_dsn is not a DSN")?;
        // Sentry's transport is built on rustls without a provider of its own; ring is the one
        // the rest of the hub's TLS already uses. Installing fails only when one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let options = sentry::apply_defaults(sentry::ClientOptions {
            dsn: Some(dsn),
            release: sentry::release_name!(),
            environment: settings.environment.clone().map(Into::into),
            send_default_pii: false,
            before_send: Some(Arc::new(|event| Some(scrub(event)))),
            shutdown_timeout: FLUSH_TIMEOUT,
            ..Default::default()
        });
        let client = Arc::new(sentry::Client::from(options));
        let hub = Arc::new(sentry::Hub::new(
            Some(client.clone()),
            Arc::new(sentry::Scope::default()),
        ));
        Ok(Some(Self { client, hub }))
    }

    /// The hub requests fork their own from.
    pub fn hub(&self) -> Arc<sentry::Hub> {
        self.hub.clone()
    }

    /// The `sentry-actix` middleware reporting into this client.
    pub fn middleware(&self) -> sentry_actix::Sentry {
        sentry_actix::Sentry::builder()
            .with_hub(self.hub())
            .finish()
    }

    /// Waits (boundedly) until queued events are sent; true when the queue drained.
    pub fn flush(&self) -> bool {
        self.client.flush(Some(FLUSH_TIMEOUT))
    }
}

/// Removes what could carry a credential from an event's request data.
pub fn scrub(mut event: Event<'static>) -> Event<'static> {
    if let Some(request) = event.request.as_mut() {
        request
            .headers
            .retain(|name, _| !CREDENTIAL_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
        request.query_string = None;
        request.cookies = None;
        request.data = None;
        if let Some(url) = request.url.as_mut() {
            url.set_query(None);
        }
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubbing_drops_credential_headers_and_query_strings_but_keeps_the_rest() {
        let mut request = sentry::protocol::Request {
            url: "http://hub/ws?token=secret-jwt".parse().ok(),
            query_string: Some("token=secret-jwt".into()),
            ..Default::default()
        };
        request
            .headers
            .insert("Authorization".into(), "Bearer secret-jwt".into());
        request.headers.insert("user-agent".into(), "t".into());
        let event = scrub(Event {
            request: Some(request),
            ..Default::default()
        });
        let text = serde_json::to_string(&event).unwrap();
        assert!(!text.contains("secret-jwt"), "{text}");
        assert!(text.contains("user-agent"), "{text}");
    }

    #[test]
    fn without_a_dsn_there_is_no_client() {
        assert!(ErrorTracking::from_settings(&TelemetrySettings::default())
            .unwrap()
            .is_none());
    }
}
