//! The provider registry: one live client from `oneclass-clients` for each configured
//! `[providers.<name>]` entry, built once at startup and listed by kind, then priority.
//!
//! This is where configuration ends and delivery begins. [`ProviderRegistry::build`] turns each
//! entry into the client its kind (and, for SMS, its `gateway`) selects: TelOne, Econet or Kannel
//! for SMS, the WhatsApp Cloud API, an SMTP mailer, FCM or APNs. Each HTTP client owns one pooled
//! keep-alive `reqwest` client built with the entry's connect and request timeouts (the SMTP
//! mailer keeps a pool of SMTP connections with the request timeout per command), and keeps its
//! secrets in `secrecy` types; nothing here prints one. Building makes no network call: a wrong
//! password shows at the first send, a malformed key or URL at startup.
//!
//! The registry holds clients, not senders: pacing at `rate_per_hour`/`burst`, retries, circuit
//! breaking and failover belong to the delivery engine's provider actors, which take their
//! client and settings from here ([`ConfiguredProvider`], [`actor_settings`]) when
//! `crate::delivery` starts them. The startup log names every provider (or says the hub
//! delivers in-app only).
//!
//! The hub has no e-mail templates of its own yet (they come with the dispatcher), so startup
//! hands mailers an empty set; [`ProviderRegistry::build`] takes the set to render with.
//!
//! Failure: an entry whose client cannot be built stops startup with the entry's name and the
//! client's reason ([`ProviderSetupError`]); no hub runs with half its providers.

use std::collections::BTreeMap;
use std::sync::Arc;

use oneclass_actors::delivery::CallbackSecrets;
use oneclass_clients::email::{SmtpConfig, SmtpMailer, SmtpSecurity, Templates};
use oneclass_clients::push::apns::{ApnsClient, ApnsConfig};
use oneclass_clients::push::fcm::{FcmClient, FcmConfig, ServiceAccount};
use oneclass_clients::sms::{econet, kannel, telone};
use oneclass_clients::whatsapp::{CloudApiClient, WhatsAppConfig};
use oneclass_clients::{
    ConfigError, HttpSettings, Mailer, PushSender, SharedClock, SmsGateway, WhatsApp,
};
use secrecy::{ExposeSecret as _, SecretString};

use crate::config::providers::SmsApi;
use crate::config::providers::WhatsAppCategory;
use crate::config::providers::{parse_smtp_url, SmtpScheme};
use crate::config::{CostTable, ProviderKind, ProviderSettings};
use oneclass_actors::delivery::{ProviderActorSettings, ProviderRate};

/// SMTP connections one mailer keeps open at most.
const SMTP_POOL_MAX: u32 = 8;

/// A live client of one of the delivery kinds.
#[derive(Debug, Clone)]
pub enum ProviderClient {
    Sms(Arc<dyn SmsGateway>),
    WhatsApp(Arc<dyn WhatsApp>),
    Email(Arc<dyn Mailer>),
    /// FCM or APNs.
    Push(Arc<dyn PushSender>),
}

/// One configured provider: its name, what the delivery engine needs of its settings, and its
/// client.
#[derive(Debug, Clone)]
pub struct ConfiguredProvider {
    /// The entry's name (`telone`).
    pub name: String,
    pub kind: ProviderKind,
    /// Lower is tried first within the kind.
    pub priority: u32,
    /// Contracted sustained rate; 0 means no limit of ours.
    pub rate_per_hour: u32,
    pub burst: u32,
    pub cost: CostTable,
    /// What its provider actor is started with: rate, bounds, retry, circuit, unit price.
    pub actor: ProviderActorSettings,
    pub client: ProviderClient,
    /// What authenticates this provider's callbacks (`callback_token`, `app_secret`,
    /// `verify_token` credentials; see `routes::callbacks`).
    pub callbacks: CallbackSecrets,
}

/// Every configured provider, ordered by kind, then priority.
#[derive(Debug, Clone, Default)]
pub struct ProviderRegistry {
    providers: Vec<ConfiguredProvider>,
}

/// A provider entry whose client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("providers.{name}: {reason}")]
pub struct ProviderSetupError {
    pub name: String,
    pub reason: String,
}

impl ProviderRegistry {
    /// A registry with no provider: the hub delivers in-app only.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Builds one client per entry (already validated by `Settings::validate`), with `clock` as
    /// every client's notion of now and `templates` as the e-mail templates mailers render.
    pub fn build(
        entries: &BTreeMap<String, ProviderSettings>,
        clock: SharedClock,
        templates: Arc<Templates>,
    ) -> Result<Self, ProviderSetupError> {
        let mut providers = entries
            .iter()
            .map(|(name, settings)| {
                let fail = |reason: String| ProviderSetupError {
                    name: name.clone(),
                    reason,
                };
                let client =
                    build_client(name, settings, clock.clone(), templates.clone()).map_err(fail)?;
                Ok(ConfiguredProvider {
                    name: name.clone(),
                    kind: settings.kind,
                    priority: settings.priority,
                    rate_per_hour: settings.rate_per_hour,
                    burst: settings.burst,
                    cost: settings.cost.clone(),
                    actor: actor_settings(settings),
                    client,
                    callbacks: callback_secrets(settings),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        providers.sort_by(|a, b| (a.kind, a.priority, &a.name).cmp(&(b.kind, b.priority, &b.name)));
        Ok(Self { providers })
    }

    /// Whether no provider is configured (in-app delivery only).
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Every provider, by kind, then priority.
    pub fn all(&self) -> &[ConfiguredProvider] {
        &self.providers
    }

    /// The providers of `kind`, highest priority (lowest number) first.
    pub fn of_kind(&self, kind: ProviderKind) -> impl Iterator<Item = &ConfiguredProvider> {
        self.providers.iter().filter(move |p| p.kind == kind)
    }

    /// The provider called `name`.
    pub fn get(&self, name: &str) -> Option<&ConfiguredProvider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// Each provider's callback secrets, by name, for the `DeliveryReports` actor.
    pub fn callback_secrets(&self) -> std::collections::HashMap<String, CallbackSecrets> {
        self.providers
            .iter()
            .map(|p| (p.name.clone(), p.callbacks.clone()))
            .collect()
    }

    /// One line for the startup log: `sms: telone(1), econet(2); email: mail(0)`.
    pub fn summary(&self) -> String {
        let mut by_kind: BTreeMap<ProviderKind, Vec<String>> = BTreeMap::new();
        for p in &self.providers {
            by_kind
                .entry(p.kind)
                .or_default()
                .push(format!("{}({})", p.name, p.priority));
        }
        by_kind
            .into_iter()
            .map(|(kind, names)| format!("{kind}: {}", names.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Says at startup what this hub can deliver on.
    pub fn log_startup(&self) {
        if self.is_empty() {
            tracing::warn!(
                "no [providers.*] configured: {IN_APP_ONLY} (no push, WhatsApp, SMS or e-mail)"
            );
        } else {
            tracing::info!(providers = %self.summary(), "delivery providers configured");
        }
    }
}

/// The provider actor's settings of one entry (validated: its kind is priced).
pub fn actor_settings(settings: &ProviderSettings) -> ProviderActorSettings {
    let c = &settings.cost;
    let price = match settings.kind {
        ProviderKind::Sms => c.sms_segment,
        // School notices are utility templates; an account priced otherwise pays its cheapest.
        ProviderKind::Whatsapp => c
            .whatsapp
            .get(&WhatsAppCategory::Utility)
            .or_else(|| c.whatsapp.values().min())
            .copied(),
        ProviderKind::Email => c.email,
        ProviderKind::PushFcm | ProviderKind::PushApns => c.push,
    };
    ProviderActorSettings {
        queue_capacity: settings.delivery.queue_capacity,
        max_in_flight: settings.delivery.max_in_flight,
        retry: settings.retry,
        circuit: settings.circuit,
        cost_per_segment_micros: price.map_or(0, |p| p.micros()),
        currency: c.currency.clone(),
        // `rate_per_hour = 0` is "no limit of ours".
        ..ProviderActorSettings::at_rate(ProviderRate::new(settings.rate_per_hour, settings.burst))
    }
}

/// The startup notice of a hub without providers (logs and tests match on it).
pub const IN_APP_ONLY: &str = "delivering in-app only";

fn http_settings(settings: &ProviderSettings) -> HttpSettings {
    HttpSettings {
        timeout: settings.timeouts.request,
        connect_timeout: settings.timeouts.connect,
        ..HttpSettings::default()
    }
}

/// The optional credentials that authenticate a provider's callbacks.
fn callback_secrets(settings: &ProviderSettings) -> CallbackSecrets {
    let get = |key: &str| {
        settings
            .credentials
            .get(key)
            .map(|s| s.expose_secret().to_owned())
            .filter(|s| !s.is_empty())
    };
    CallbackSecrets {
        token: get("callback_token"),
        app_secret: get("app_secret"),
        verify_token: get("verify_token"),
    }
}

/// The credential `key` (validation made sure the required ones exist).
fn secret(settings: &ProviderSettings, key: &str) -> Result<SecretString, String> {
    settings
        .credentials
        .get(key)
        .cloned()
        .ok_or_else(|| format!("credentials.{key} missing"))
}

/// A credential that is an identifier rather than a secret (a username, a key id).
fn plain(settings: &ProviderSettings, key: &str) -> Result<String, String> {
    secret(settings, key).map(|s| s.expose_secret().to_owned())
}

fn build_client(
    name: &str,
    settings: &ProviderSettings,
    clock: SharedClock,
    templates: Arc<Templates>,
) -> Result<ProviderClient, String> {
    let http = http_settings(settings);
    let rate = (settings.rate_per_hour > 0).then_some(settings.rate_per_hour);
    let sender = || {
        settings
            .sender
            .clone()
            .ok_or_else(|| "sender missing".to_owned())
    };
    let built: Result<ProviderClient, ConfigError> = match settings.kind {
        ProviderKind::Sms => {
            let api = settings
                .sms_api(name)
                .ok_or_else(|| "gateway missing".to_owned())?;
            let client = match api {
                SmsApi::Telone => telone::client(
                    telone::TeloneConfig {
                        api_url: settings.base_url.clone(),
                        username: plain(settings, "username")?,
                        password: secret(settings, "password")?,
                        sender_id: sender()?,
                        rate_limit: rate,
                    },
                    &http,
                    clock,
                ),
                SmsApi::Econet => econet::client(
                    econet::EconetConfig {
                        api_url: settings.base_url.clone(),
                        api_key: secret(settings, "api_key")?,
                        sender_id: sender()?,
                        rate_limit: rate,
                    },
                    &http,
                    clock,
                ),
                SmsApi::Kannel => kannel::client(
                    kannel::KannelConfig {
                        base_url: settings.base_url.clone(),
                        username: plain(settings, "username")?,
                        password: secret(settings, "password")?,
                        sender: settings.sender.clone(),
                        dlr_url: settings.dlr_url.clone(),
                        dlr_mask: kannel::DEFAULT_DLR_MASK,
                        smsc: None,
                        hourly_rate_limit: rate,
                    },
                    &http,
                    clock,
                ),
            };
            client.map(|c| ProviderClient::Sms(Arc::new(c)))
        }
        ProviderKind::Whatsapp => CloudApiClient::new(
            WhatsAppConfig {
                base_url: settings.base_url.clone(),
                api_version: settings.api_version.clone(),
                phone_number_id: plain(settings, "phone_number_id")?,
                access_token: secret(settings, "access_token")?,
            },
            &http,
            clock,
        )
        .map(|c| ProviderClient::WhatsApp(Arc::new(c))),
        ProviderKind::Email => {
            let (scheme, host, port) =
                parse_smtp_url(&settings.base_url).map_err(|e| e.to_string())?;
            let from = sender()?;
            let domain = from
                .trim_end_matches('>')
                .rsplit_once('@')
                .map(|(_, d)| d.to_owned())
                .ok_or_else(|| format!("sender {from:?} has no domain"))?;
            let credentials = match settings.credentials.get("username") {
                Some(user) => Some((
                    user.expose_secret().to_owned(),
                    secret(settings, "password")?,
                )),
                None => None,
            };
            SmtpMailer::new(
                SmtpConfig {
                    host,
                    port,
                    security: match scheme {
                        SmtpScheme::StartTls => SmtpSecurity::StartTls,
                        SmtpScheme::Tls => SmtpSecurity::ImplicitTls,
                        SmtpScheme::Plaintext => SmtpSecurity::Plaintext,
                    },
                    credentials,
                    from,
                    domain,
                    pool_max_size: SMTP_POOL_MAX,
                    timeout: settings.timeouts.request,
                    verp: None,
                    links: None,
                    unsubscribe_mailbox: None,
                },
                templates,
            )
            .map(|m| ProviderClient::Email(Arc::new(m)))
        }
        ProviderKind::PushFcm => {
            let account = secret(settings, "service_account")?;
            ServiceAccount::from_json(account.expose_secret().as_bytes()).and_then(|account| {
                let config = FcmConfig {
                    base_url: settings.base_url.clone(),
                    ..FcmConfig::new(account)
                };
                FcmClient::new(config, &http, clock).map(|c| ProviderClient::Push(Arc::new(c)))
            })
        }
        ProviderKind::PushApns => {
            let topic = settings
                .topic
                .clone()
                .ok_or_else(|| "topic missing".to_owned())?;
            let config = ApnsConfig {
                base_url: settings.base_url.clone(),
                ..ApnsConfig::new(
                    &plain(settings, "key_id")?,
                    &plain(settings, "team_id")?,
                    secret(settings, "private_key")?.expose_secret(),
                    &topic,
                )
            };
            ApnsClient::new(config, &http, clock).map(|c| ProviderClient::Push(Arc::new(c)))
        }
    };
    built.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(toml: &str) -> BTreeMap<String, ProviderSettings> {
        let settings: crate::config::Settings = toml::from_str(toml).unwrap();
        settings.validate().unwrap();
        settings.providers
    }

    fn build(toml: &str) -> Result<ProviderRegistry, ProviderSetupError> {
        ProviderRegistry::build(
            &entries(toml),
            oneclass_clients::SystemClock::shared(),
            Arc::new(Templates::new()),
        )
    }

    const SMS: &str = r#"
        [providers.zz_backup]
        kind = "sms"
        gateway = "kannel"
        priority = 3
        base_url = "http://127.0.0.1:1"
        credentials = { username = "u", password = "p" }
        cost = { currency = "USD", sms_segment = "0.01" }
        [providers.econet]
        kind = "sms"
        priority = 2
        rate_per_hour = 500
        base_url = "http://127.0.0.1:1"
        sender = "SCHOOL"
        credentials = { api_key = "k" }
        cost = { currency = "USD", sms_segment = "0.01" }
        [providers.telone]
        kind = "sms"
        priority = 1
        rate_per_hour = 1000
        base_url = "http://127.0.0.1:1"
        sender = "SCHOOL"
        credentials = { username = "u", password = "p" }
        cost = { currency = "USD", sms_segment = "0.01" }
    "#;

    #[test]
    fn each_entry_gives_its_actor_its_rate_bounds_policies_and_unit_price() {
        let entries = entries(
            r#"
            [providers.telone]
            kind = "sms"
            rate_per_hour = 1000
            base_url = "http://127.0.0.1:1"
            sender = "S"
            burst = 20
            credentials = { username = "u", password = "p" }
            cost = { currency = "USD", sms_segment = "0.0108" }
            delivery = { queue_capacity = 7 }
            retry = { max_attempts = 2 }
            [providers.wa]
            kind = "whatsapp"
            base_url = "http://127.0.0.1:1"
            rate_per_hour = 0
            credentials = { access_token = "t", phone_number_id = "1" }
            cost = { currency = "USD", whatsapp = { marketing = "0.06", utility = "0.004" } }
            "#,
        );
        let telone = actor_settings(&entries["telone"]);
        assert_eq!(telone.rate, ProviderRate::new(1_000, 20));
        assert_eq!(telone.queue_capacity, 7);
        assert_eq!(telone.retry.max_attempts, 2);
        assert_eq!(
            (telone.cost_per_segment_micros, telone.currency.as_str()),
            (10_800, "USD")
        );
        let wa = actor_settings(&entries["wa"]);
        assert_eq!(wa.rate, None, "0 = no limit of ours");
        assert_eq!(wa.cost_per_segment_micros, 4_000, "the utility price");
    }

    #[test]
    fn providers_are_listed_by_kind_then_priority_with_their_contracted_rate() {
        let registry = build(SMS).unwrap();
        let order: Vec<(&str, u32)> = registry
            .of_kind(ProviderKind::Sms)
            .map(|p| (p.name.as_str(), p.priority))
            .collect();
        assert_eq!(order, [("telone", 1), ("econet", 2), ("zz_backup", 3)]);
        assert_eq!(
            registry.summary(),
            "sms: telone(1), econet(2), zz_backup(3)"
        );
        let rate = |name: &str| match &registry.get(name).unwrap().client {
            ProviderClient::Sms(gateway) => gateway.hourly_rate_limit(),
            other => panic!("{name} is {other:?}"),
        };
        assert_eq!(rate("telone"), Some(1000));
        assert_eq!(rate("econet"), Some(500));
        assert_eq!(rate("zz_backup"), None, "rate_per_hour 0 is no limit");
        assert!(registry.of_kind(ProviderKind::Email).next().is_none());
        assert!(ProviderRegistry::empty().is_empty());
    }

    #[test]
    fn an_entry_whose_client_cannot_be_built_fails_the_build_by_name() {
        let err = build(
            r#"
            [providers.push]
            kind = "push_fcm"
            base_url = "http://127.0.0.1:1"
            credentials = { service_account = "{\"type\": \"service_account\"}" }
            cost = { currency = "USD", push = "0" }
            "#,
        )
        .unwrap_err();
        assert_eq!(err.name, "push");
        assert!(err.to_string().starts_with("providers.push: "), "{err}");
        let err = build(
            r#"
            [providers.ios]
            kind = "push_apns"
            base_url = "http://127.0.0.1:1"
            topic = "zw.school.app"
            credentials = { key_id = "K", team_id = "T", private_key = "not a key" }
            cost = { currency = "USD", push = "0" }
            "#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("P-256"), "{err}");
    }
}
