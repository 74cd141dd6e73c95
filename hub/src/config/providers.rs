//! `[providers.<name>]`: the outside services the delivery engine sends through (SMS gateways,
//! WhatsApp, e-mail, FCM and APNs push), one entry per account. `crate::providers` turns the
//! entries into live clients at startup; a hub with none delivers in-app only.
//!
//! Each entry says what kind of channel it serves, where it lives, its credentials (secrets),
//! how fast it may be used (`rate_per_hour` with a `burst`), its `priority` among providers of
//! the same kind (lower is tried first; two providers of one kind may not share a priority), its
//! timeouts and what a message costs.
//!
//! **Defaults for `telone` and `econet`.** An entry named `telone` defaults to `kind = "sms"`,
//! priority 1 and 1,000 messages an hour (the primary gateway's contract); `econet` to `sms`,
//! priority 2 and 500 an hour. The defaults fill only what the entry leaves out, and only for an
//! entry that exists: the hub never invents a provider, a base URL, credentials or prices (there
//! is no public A2P rate card, so the cost table is always the operator's). An operator therefore
//! writes the URL, the credentials and the prices, and gets the contracted rates and order.
//! ([`DEFAULTS`], applied by `config::load`.)
//!
//! **Which client.** The kind picks the client, except for SMS, where `gateway` (`telone`,
//! `econet` or `kannel`) does; it defaults to the entry's name, so `[providers.econet]` needs no
//! `gateway` but `[providers.backup_kannel]` does. The credentials each client wants, by name:
//!
//! | client | `base_url` | credentials | other keys |
//! |---|---|---|---|
//! | TelOne | API root | `username`, `password` | `sender` (sender id, required) |
//! | Econet | API root | `api_key` | `sender` (required) |
//! | Kannel | smsbox HTTP root | `username`, `password`; `callback_token` for its DLRs and inbound SMS | `sender` (optional), `dlr_url` |
//! | WhatsApp Cloud API | Graph root | `access_token`, `phone_number_id`; `app_secret` and `verify_token` for its webhooks | `api_version` (`v23.0`) |
//! | SMTP (`email`) | `smtp://host:port` (STARTTLS required), `smtps://` (TLS), `smtp+insecure://` (plaintext, local sinks only) | `username` with `password`, or neither; `callback_token` for the MTA's DSN POSTs | `sender` (the `From:` mailbox, required) |
//! | FCM (`push_fcm`) | FCM root | `service_account` (the key file's JSON) | |
//! | APNs (`push_apns`) | APNs root | `key_id`, `team_id`, `private_key` (the `.p8`) | `topic` (bundle id, required) |
//!
//! Prices are decimal strings in the entry's `currency` (`"0.0075"`), kept exactly as integer
//! millionths ([`Price`]), never as floats. The cost table must price the provider's own kind:
//! `sms_segment` for SMS (with optional per-network and per-route overrides), one price per
//! conversation category for WhatsApp, `email` for e-mail and `push` for both push kinds.
//!
//! ```toml
//! [providers.telone]            # kind, priority 1 and 1,000/h by default
//! base_url = "https://sms.example.net/api"
//! sender = "SCHOOL"
//! burst = 50
//! credentials = { username = "school", password = "…" }
//! timeouts = { connect = "2s", request = "10s" }
//! cost = { currency = "USD", sms_segment = "0.02", sms_networks = { econet = "0.025" } }
//! delivery = { queue_capacity = 10000, max_in_flight = 4 }
//! retry = { base = "1s", cap = "60s", max_attempts = 4, max_retry_after = "5m" }
//! circuit = { consecutive_failures = 5, window = 20, failure_ratio = 0.5, cool_down = "30s" }
//! ```
//!
//! **The provider actor's keys** (all optional, defaults as above): `delivery` bounds the
//! actor's queue (a full one fails the delivery over) and its calls in flight; `retry` is how
//! often and how long a retryable error is retried here before failing over; `circuit` is when
//! the breaker opens and how long it stays open. The actor prices a delivery with one figure per
//! unit: `sms_segment` for SMS, `email`, `push`, and for WhatsApp the `utility` price (what
//! school notices are), else the cheapest category; per-network and per-route SMS prices are
//! kept for the cost estimate but not yet charged per attempt.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use oneclass_actors::delivery::{
    CircuitPolicy, RetryPolicy, DEFAULT_MAX_IN_FLIGHT, DEFAULT_QUEUE_CAPACITY,
};
use secrecy::SecretString;
use serde::Deserialize;

/// Millionths of a currency unit in one [`Price`].
const MICROS_PER_UNIT: u64 = 1_000_000;

/// The longest request timeout accepted: a provider call that may hang longer than this would
/// hold a delivery (and its place in the provider's queue) for no good reason.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// What an entry of a well-known name gets for the keys it leaves out: (name, kind, priority,
/// rate_per_hour). Only entries that exist get them.
pub const DEFAULTS: &[(&str, ProviderKind, u32, u32)] = &[
    ("telone", ProviderKind::Sms, 1, 1_000),
    ("econet", ProviderKind::Sms, 2, 500),
];

/// One provider account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// The channel this provider delivers on.
    pub kind: ProviderKind,
    /// Root of the provider's API (a simulator's address in tests and the sandbox).
    pub base_url: String,
    /// Whatever the provider authenticates with (API keys, usernames, passwords, key files'
    /// contents), by the provider client's own names. Never printed.
    #[serde(default)]
    pub credentials: BTreeMap<String, SecretString>,
    /// Sustained sending rate the account allows; 0 means no limit of ours.
    #[serde(default)]
    pub rate_per_hour: u32,
    /// Messages that may go at once above the sustained rate.
    #[serde(default = "default_burst")]
    pub burst: u32,
    /// Order among providers of the same kind: lower is tried first, higher ones are fallbacks.
    #[serde(default)]
    pub priority: u32,
    #[serde(default)]
    pub timeouts: ProviderTimeouts,
    /// SMS only: which gateway API this account speaks; the entry's name when unset.
    #[serde(default)]
    pub gateway: Option<SmsApi>,
    /// The SMS sender id, or the e-mail `From:` mailbox.
    #[serde(default)]
    pub sender: Option<String>,
    /// APNs: the default `apns-topic` (the app's bundle id).
    #[serde(default)]
    pub topic: Option<String>,
    /// WhatsApp: the Graph API version segment.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// Kannel: our delivery-report endpoint; no reports are asked for when unset.
    #[serde(default)]
    pub dlr_url: Option<String>,
    /// What sending costs; must price this provider's kind.
    pub cost: CostTable,
    /// The provider actor's queue and in-flight bounds (`[providers.<name>.delivery]`).
    #[serde(default)]
    pub delivery: DeliveryBounds,
    /// Retries at this provider before the delivery fails over (`[providers.<name>.retry]`).
    #[serde(default)]
    pub retry: RetryPolicy,
    /// When this provider's circuit opens (`[providers.<name>.circuit]`).
    #[serde(default)]
    pub circuit: CircuitPolicy,
}

/// How much one provider actor holds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryBounds {
    /// Deliveries queued (waiting for the rate or a retry) before submissions are refused and
    /// fail over to the next provider of the kind.
    pub queue_capacity: usize,
    /// Provider calls in flight at once.
    pub max_in_flight: usize,
}

impl Default for DeliveryBounds {
    fn default() -> Self {
        Self {
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// The delivery channels a provider can serve, in the order the registry lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Sms,
    Whatsapp,
    Email,
    PushFcm,
    PushApns,
}

/// The SMS gateway APIs the hub has a client for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsApi {
    Telone,
    Econet,
    Kannel,
}

/// How an e-mail provider's connection is protected, from its `base_url` scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpScheme {
    /// `smtp://`: STARTTLS, mandatory.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Tls,
    /// `smtp+insecure://`: no encryption (local sinks and the simulator).
    Plaintext,
}

/// How long calls to a provider may take.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderTimeouts {
    /// Establishing the connection (TCP and TLS).
    #[serde(with = "humantime_serde")]
    pub connect: Duration,
    /// The whole request, connection included.
    #[serde(with = "humantime_serde")]
    pub request: Duration,
}

/// Prices of one provider, in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostTable {
    /// ISO 4217 code (`USD`, `ZWG`).
    pub currency: String,
    /// One SMS segment (160 GSM-7 or 70 UCS-2 characters).
    #[serde(default)]
    pub sms_segment: Option<Price>,
    /// A segment to a subscriber of this mobile network, instead of `sms_segment`.
    #[serde(default)]
    pub sms_networks: BTreeMap<String, Price>,
    /// A segment sent over this route of the provider (e.g. `premium`), instead of
    /// `sms_segment`; a route price wins over a network price.
    #[serde(default)]
    pub sms_routes: BTreeMap<String, Price>,
    /// One WhatsApp conversation, per category.
    #[serde(default)]
    pub whatsapp: BTreeMap<WhatsAppCategory, Price>,
    /// One e-mail.
    #[serde(default)]
    pub email: Option<Price>,
    /// One push notification.
    #[serde(default)]
    pub push: Option<Price>,
}

/// WhatsApp Business conversation categories, which are priced separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhatsAppCategory {
    Marketing,
    Utility,
    Authentication,
    Service,
}

/// An exact amount of money: millionths of the table's currency unit.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "PriceText")]
pub struct Price(u64);

/// What a price may be written as: a decimal string, or a whole number of units.
#[derive(Deserialize)]
#[serde(untagged)]
enum PriceText {
    Text(String),
    Units(u64),
    /// Environment values like `0.02` arrive as floats; their shortest form is what was typed.
    Float(f64),
}

fn default_burst() -> u32 {
    1
}

fn default_api_version() -> String {
    "v23.0".to_owned()
}

impl ProviderKind {
    /// The name used in the configuration (`push_fcm`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Whatsapp => "whatsapp",
            Self::Email => "email",
            Self::PushFcm => "push_fcm",
            Self::PushApns => "push_apns",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SmsApi {
    /// The gateway a name stands for, when it is one of theirs.
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "telone" => Some(Self::Telone),
            "econet" => Some(Self::Econet),
            "kannel" => Some(Self::Kannel),
            _ => None,
        }
    }

    /// The credentials this gateway's client cannot do without.
    fn required_credentials(self) -> &'static [&'static str] {
        match self {
            Self::Telone | Self::Kannel => &["username", "password"],
            Self::Econet => &["api_key"],
        }
    }
}

/// Splits an e-mail provider's `smtp[s|+insecure]://host:port` into its parts.
pub fn parse_smtp_url(url: &str) -> anyhow::Result<(SmtpScheme, String, u16)> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow::anyhow!("`{url}` is not a URL"))?;
    let (scheme, default_port) = match scheme {
        "smtp" => (SmtpScheme::StartTls, 587),
        "smtps" => (SmtpScheme::Tls, 465),
        "smtp+insecure" => (SmtpScheme::Plaintext, 25),
        other => anyhow::bail!(
            "an email provider's base_url is smtp://, smtps:// or smtp+insecure://, not {other}://"
        ),
    };
    let authority = rest.trim_end_matches('/');
    anyhow::ensure!(
        !authority.is_empty() && !authority.contains('/'),
        "`{url}` must be scheme://host[:port] with no path"
    );
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| anyhow::anyhow!("`{url}` has an unclosed [IPv6] host"))?;
            anyhow::ensure!(
                after.is_empty() || after.starts_with(':'),
                "`{url}` has text after its [IPv6] host"
            );
            (host, after.strip_prefix(':'))
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        Some(port) => port
            .parse()
            .map_err(|_| anyhow::anyhow!("`{url}` has a bad port `{port}`"))?,
        None => default_port,
    };
    anyhow::ensure!(!host.is_empty(), "`{url}` has no host");
    Ok((scheme, host.to_owned(), port))
}

impl Default for ProviderTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            request: Duration::from_secs(30),
        }
    }
}

impl Price {
    /// The amount in millionths of a unit.
    pub fn micros(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (units, micros) = (self.0 / MICROS_PER_UNIT, self.0 % MICROS_PER_UNIT);
        let frac = format!("{micros:06}");
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            write!(f, "{units}")
        } else {
            write!(f, "{units}.{frac}")
        }
    }
}

impl std::str::FromStr for Price {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a price (a decimal like \"0.0075\")");
        let (units, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
        if units.is_empty() || !units.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "`{text}` has more than six decimals or is not a price"
            ));
        }
        let units: u64 = units.parse().map_err(|_| bad())?;
        let frac: u64 = format!("{frac:0<6}").parse().map_err(|_| bad())?;
        units
            .checked_mul(MICROS_PER_UNIT)
            .and_then(|u| u.checked_add(frac))
            .map(Price)
            .ok_or_else(bad)
    }
}

impl TryFrom<PriceText> for Price {
    type Error = String;

    fn try_from(value: PriceText) -> Result<Self, String> {
        match value {
            PriceText::Text(t) => t.parse(),
            PriceText::Units(u) => u
                .checked_mul(MICROS_PER_UNIT)
                .map(Price)
                .ok_or_else(|| format!("{u} is too large a price")),
            PriceText::Float(f) => f.to_string().parse(),
        }
    }
}

impl CostTable {
    /// The price of one SMS segment to `network` over `route`: the route's price, else the
    /// network's, else the base segment price.
    pub fn sms_segment_price(&self, network: Option<&str>, route: Option<&str>) -> Option<Price> {
        route
            .and_then(|r| self.sms_routes.get(r))
            .or_else(|| network.and_then(|n| self.sms_networks.get(n)))
            .copied()
            .or(self.sms_segment)
    }
}

impl ProviderSettings {
    /// The SMS gateway API of the entry called `name`: its `gateway`, else the one its name
    /// stands for. `None` for other kinds, or when neither says.
    pub fn sms_api(&self, name: &str) -> Option<SmsApi> {
        (self.kind == ProviderKind::Sms)
            .then(|| self.gateway.or_else(|| SmsApi::from_name(name)))
            .flatten()
    }

    /// Checks the entry called `name` on its own (the caller prefixes the name to errors).
    pub fn validate(&self, name: &str) -> anyhow::Result<()> {
        if self.kind == ProviderKind::Email {
            parse_smtp_url(&self.base_url).map_err(|e| anyhow::anyhow!("base_url: {e}"))?;
        } else {
            anyhow::ensure!(
                self.base_url.starts_with("http://") || self.base_url.starts_with("https://"),
                "base_url must be an http:// or https:// URL, got `{}`",
                self.base_url
            );
        }
        anyhow::ensure!(
            self.gateway.is_none() || self.kind == ProviderKind::Sms,
            "gateway applies to sms providers only"
        );
        anyhow::ensure!(self.burst >= 1, "burst must be at least 1");
        anyhow::ensure!(
            !self.timeouts.connect.is_zero() && !self.timeouts.request.is_zero(),
            "timeouts must not be zero"
        );
        anyhow::ensure!(
            self.timeouts.connect <= self.timeouts.request,
            "timeouts.connect must not exceed timeouts.request"
        );
        anyhow::ensure!(
            self.timeouts.request <= MAX_REQUEST_TIMEOUT,
            "timeouts.request must be at most {MAX_REQUEST_TIMEOUT:?}"
        );
        anyhow::ensure!(
            self.delivery.queue_capacity >= 1 && self.delivery.max_in_flight >= 1,
            "delivery.queue_capacity and delivery.max_in_flight must be at least 1"
        );
        let r = &self.retry;
        anyhow::ensure!(r.max_attempts >= 1, "retry.max_attempts must be at least 1");
        anyhow::ensure!(
            !r.base.is_zero() && r.base <= r.cap,
            "retry.base must be above zero and at most retry.cap"
        );
        let k = &self.circuit;
        anyhow::ensure!(
            k.consecutive_failures >= 1 && k.window >= 1,
            "circuit.consecutive_failures and circuit.window must be at least 1"
        );
        anyhow::ensure!(
            k.failure_ratio > 0.0 && k.failure_ratio <= 1.0,
            "circuit.failure_ratio must be above 0 and at most 1, got {}",
            k.failure_ratio
        );
        anyhow::ensure!(!k.cool_down.is_zero(), "circuit.cool_down must not be zero");
        let c = &self.cost;
        anyhow::ensure!(
            c.currency.len() == 3 && c.currency.bytes().all(|b| b.is_ascii_uppercase()),
            "cost.currency must be an ISO 4217 code like USD, got `{}`",
            c.currency
        );
        let sms = c.sms_segment.is_some() || !c.sms_networks.is_empty() || !c.sms_routes.is_empty();
        let priced = match self.kind {
            ProviderKind::Sms => c.sms_segment.is_some(),
            ProviderKind::Whatsapp => !c.whatsapp.is_empty(),
            ProviderKind::Email => c.email.is_some(),
            ProviderKind::PushFcm | ProviderKind::PushApns => c.push.is_some(),
        };
        anyhow::ensure!(
            priced,
            "cost must price a {:?} provider ({})",
            self.kind,
            match self.kind {
                ProviderKind::Sms => "cost.sms_segment",
                ProviderKind::Whatsapp => "cost.whatsapp.<category>",
                ProviderKind::Email => "cost.email",
                ProviderKind::PushFcm | ProviderKind::PushApns => "cost.push",
            }
        );
        let foreign = match self.kind {
            ProviderKind::Sms => !c.whatsapp.is_empty() || c.email.is_some() || c.push.is_some(),
            ProviderKind::Whatsapp => sms || c.email.is_some() || c.push.is_some(),
            ProviderKind::Email => sms || !c.whatsapp.is_empty() || c.push.is_some(),
            ProviderKind::PushFcm | ProviderKind::PushApns => {
                sms || !c.whatsapp.is_empty() || c.email.is_some()
            }
        };
        anyhow::ensure!(
            !foreign,
            "cost prices another kind than {:?}: a provider serves one kind",
            self.kind
        );
        self.validate_client(name)
    }

    /// Checks that the client this entry selects gets what its constructor needs.
    fn validate_client(&self, name: &str) -> anyhow::Result<()> {
        let required: &[&str] = match self.kind {
            ProviderKind::Sms => {
                let api = self.sms_api(name).ok_or_else(|| {
                    anyhow::anyhow!(
                        "gateway must say which SMS API this is (telone, econet or kannel);                          only entries named after one may leave it out"
                    )
                })?;
                if api != SmsApi::Kannel {
                    anyhow::ensure!(
                        self.sender.is_some(),
                        "sender (the registered sender id) is required for {api:?}"
                    );
                }
                api.required_credentials()
            }
            ProviderKind::Whatsapp => &["access_token", "phone_number_id"],
            ProviderKind::Email => {
                anyhow::ensure!(
                    self.sender.is_some(),
                    "sender (the From: mailbox) is required"
                );
                let user = self.credentials.contains_key("username");
                anyhow::ensure!(
                    user == self.credentials.contains_key("password"),
                    "credentials.username and credentials.password go together"
                );
                &[]
            }
            ProviderKind::PushFcm => &["service_account"],
            ProviderKind::PushApns => {
                anyhow::ensure!(
                    self.topic.is_some(),
                    "topic (the app's bundle id) is required"
                );
                &["key_id", "team_id", "private_key"]
            }
        };
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|key| !self.credentials.contains_key(*key))
            .collect();
        anyhow::ensure!(
            missing.is_empty(),
            "credentials.{} missing",
            missing.join(", credentials.")
        );
        Ok(())
    }
}

/// Checks the entries together: within a kind, no two providers share a priority (the
/// failover order must be the operator's, not the alphabet's).
pub fn validate_all(providers: &BTreeMap<String, ProviderSettings>) -> anyhow::Result<()> {
    for (name, provider) in providers {
        provider
            .validate(name)
            .map_err(|e| anyhow::anyhow!("providers.{name}: {e}"))?;
    }
    let mut seen: BTreeMap<(ProviderKind, u32), &str> = BTreeMap::new();
    for (name, provider) in providers {
        if let Some(other) = seen.insert((provider.kind, provider.priority), name) {
            anyhow::bail!(
                "providers.{other} and providers.{name} are both {} providers of priority {}: \
                 give each provider of a kind its own priority",
                provider.kind,
                provider.priority
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry named `telone` (so an SMS entry needs no `gateway`), parsed and checked.
    fn provider(toml: &str) -> anyhow::Result<ProviderSettings> {
        provider_named("telone", toml)
    }

    fn provider_named(name: &str, toml: &str) -> anyhow::Result<ProviderSettings> {
        let p: ProviderSettings = toml::from_str(toml)?;
        p.validate(name)?;
        Ok(p)
    }

    /// What each kind's client needs besides its price, as TOML lines.
    fn client_keys(kind: &str) -> &'static str {
        match kind {
            "sms" => "sender = \"SCHOOL\"\ncredentials = { username = \"u\", password = \"p\" }\n",
            "whatsapp" => "credentials = { access_token = \"t\", phone_number_id = \"1\" }\n",
            "email" => "sender = \"School <noreply@school.example>\"\n",
            "push_fcm" => "credentials = { service_account = \"{}\" }\n",
            "push_apns" => {
                "topic = \"zw.school.app\"\n\
                 credentials = { key_id = \"K\", team_id = \"T\", private_key = \"pem\" }\n"
            }
            _ => "",
        }
    }

    const TELONE: &str = r#"
        kind = "sms"
        base_url = "https://sms.example.net"
        sender = "SCHOOL"
        credentials = { username = "u", password = "p" }
        cost = { currency = "USD", sms_segment = "0.02" }
    "#;

    #[test]
    fn the_provider_actor_keys_default_to_the_actors_own_defaults() {
        let p = provider(TELONE).unwrap();
        assert_eq!(p.delivery, DeliveryBounds::default());
        assert_eq!(p.delivery.queue_capacity, DEFAULT_QUEUE_CAPACITY);
        assert_eq!(p.retry, RetryPolicy::default());
        assert_eq!(p.circuit, CircuitPolicy::default());
    }

    #[test]
    fn delivery_retry_and_circuit_sub_tables_set_the_provider_actor() {
        let p = provider(&format!(
            "{TELONE}
            delivery = {{ queue_capacity = 50, max_in_flight = 2 }}
            retry = {{ max_attempts = 2, base = \"500ms\", cap = \"5s\" }}
            circuit = {{ consecutive_failures = 3, cool_down = \"1m\" }}
            "
        ))
        .unwrap();
        assert_eq!(
            (p.delivery.queue_capacity, p.delivery.max_in_flight),
            (50, 2)
        );
        assert_eq!(p.retry.max_attempts, 2);
        assert_eq!(p.retry.base, Duration::from_millis(500));
        assert_eq!(
            p.retry.max_retry_after,
            RetryPolicy::default().max_retry_after,
            "keys left out keep their default"
        );
        assert_eq!(p.circuit.consecutive_failures, 3);
        assert_eq!(p.circuit.cool_down, Duration::from_secs(60));
        assert_eq!(p.circuit.window, CircuitPolicy::default().window);
    }

    #[test]
    fn provider_actor_keys_out_of_range_are_refused_by_name() {
        for (extra, named) in [
            (
                "delivery = { queue_capacity = 0 }",
                "delivery.queue_capacity",
            ),
            ("retry = { max_attempts = 0 }", "retry.max_attempts"),
            ("circuit = { failure_ratio = 1.5 }", "circuit.failure_ratio"),
            ("circuit = { window = 0 }", "circuit.window"),
            ("circuit = { cool_down = \"0s\" }", "circuit.cool_down"),
        ] {
            let err = provider(&format!("{TELONE}\n{extra}\n")).unwrap_err();
            assert!(err.to_string().contains(named), "{extra}: {err}");
        }
        let err = provider(&format!("{TELONE}\ndelivery = {{ queue = 1 }}\n")).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn an_sms_provider_prices_segments_by_route_then_network_then_base() {
        let p = provider(
            r#"
            kind = "sms"
            base_url = "https://sms.example.net"
            rate_per_hour = 36000
            burst = 50
            priority = 2
            sender = "SCHOOL"
            credentials = { username = "u", password = "p" }
            timeouts = { connect = "500ms", request = "10s" }
            [cost]
            currency = "USD"
            sms_segment = "0.02"
            sms_networks = { econet = "0.025" }
            sms_routes = { premium = 1 }
            "#,
        )
        .unwrap();
        assert_eq!(p.kind, ProviderKind::Sms);
        assert_eq!((p.rate_per_hour, p.burst, p.priority), (36000, 50, 2));
        assert_eq!(p.timeouts.connect, Duration::from_millis(500));
        let c = &p.cost;
        assert_eq!(c.sms_segment_price(None, None).unwrap().micros(), 20_000);
        assert_eq!(
            c.sms_segment_price(Some("econet"), None).unwrap().micros(),
            25_000
        );
        assert_eq!(
            c.sms_segment_price(Some("netone"), None).unwrap().micros(),
            20_000
        );
        let premium = c
            .sms_segment_price(Some("econet"), Some("premium"))
            .unwrap();
        assert_eq!(premium.micros(), 1_000_000);
        assert_eq!(premium.to_string(), "1");
    }

    #[test]
    fn whatsapp_email_and_push_providers_price_their_own_unit() {
        let wa = provider(
            r#"
            kind = "whatsapp"
            base_url = "https://graph.example.net"
            credentials = { access_token = "t", phone_number_id = "1" }
            cost = { currency = "USD", whatsapp = { marketing = "0.0625", utility = "0.0075" } }
            "#,
        )
        .unwrap();
        assert_eq!(
            wa.cost.whatsapp[&WhatsAppCategory::Utility].to_string(),
            "0.0075"
        );
        assert_eq!(wa.burst, 1, "default burst");
        assert_eq!(wa.timeouts, ProviderTimeouts::default());
        assert_eq!(wa.api_version, "v23.0", "default Graph version");
        for (kind, key, url) in [
            ("email", "email", "smtp+insecure://127.0.0.1:2525"),
            ("push_fcm", "push", "http://127.0.0.1:1"),
            ("push_apns", "push", "http://127.0.0.1:1"),
        ] {
            let p = provider(&format!(
                "kind = \"{kind}\"\nbase_url = \"{url}\"\n{}\
                 cost = {{ currency = \"EUR\", {key} = \"0.0001\" }}\n",
                client_keys(kind)
            ))
            .unwrap();
            assert_eq!(p.cost.email.or(p.cost.push).unwrap().micros(), 100);
        }
    }

    #[test]
    fn a_provider_without_a_price_for_its_kind_or_with_bad_values_is_refused() {
        let no_price = provider(
            "kind = \"sms\"\nbase_url = \"http://x\"\ncost = { currency = \"USD\", email = \"1\" }",
        )
        .unwrap_err()
        .to_string();
        assert!(no_price.contains("cost.sms_segment"), "{no_price}");
        let mixed = provider(
            "kind = \"email\"\nbase_url = \"smtp://x\"\n\
             cost = { currency = \"USD\", email = \"1\", push = \"1\" }",
        )
        .unwrap_err()
        .to_string();
        assert!(mixed.contains("one kind"), "{mixed}");
        let bad_url = provider(
            "kind = \"email\"\nbase_url = \"x\"\ncost = { currency = \"USD\", email = \"1\" }",
        )
        .unwrap_err()
        .to_string();
        assert!(bad_url.contains("base_url"), "{bad_url}");
        let bad_kind =
            provider("kind = \"pigeon\"\nbase_url = \"http://x\"\ncost = { currency = \"USD\" }")
                .unwrap_err()
                .to_string();
        assert!(bad_kind.contains("pigeon"), "{bad_kind}");
        let bad_price = provider(
            "kind = \"email\"\nbase_url = \"smtp://x\"\ncost = { currency = \"USD\", email = \"0.1234567\" }",
        )
        .unwrap_err()
        .to_string();
        assert!(bad_price.contains("six decimals"), "{bad_price}");
    }

    #[test]
    fn prices_parse_exactly_and_print_without_trailing_zeros() {
        for (text, micros) in [
            ("0", 0),
            ("0.02", 20_000),
            ("12.5", 12_500_000),
            ("0.000001", 1),
        ] {
            let p: Price = text.parse().unwrap();
            assert_eq!(p.micros(), micros, "{text}");
            assert_eq!(p.to_string(), text);
        }
        for bad in ["", ".5", "-1", "1.2.3", "abc", "1e3"] {
            assert!(bad.parse::<Price>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn each_client_refuses_an_entry_without_what_its_constructor_needs() {
        let sms = "kind = \"sms\"\nbase_url = \"http://x\"\n\
                   cost = { currency = \"USD\", sms_segment = \"0.01\" }\n";
        let err = provider_named("bulk", sms).unwrap_err().to_string();
        assert!(err.contains("gateway must say"), "{err}");
        let err = provider_named("econet", sms).unwrap_err().to_string();
        assert!(err.contains("sender"), "{err}");
        let err = provider_named("econet", &format!("{sms}sender = \"S\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("credentials.api_key missing"), "{err}");
        let kannel = format!("{sms}gateway = \"kannel\"\ncredentials = {{ username = \"u\" }}\n");
        let err = provider_named("bulk", &kannel).unwrap_err().to_string();
        assert!(err.contains("credentials.password missing"), "{err}");
        let ok = format!(
            "{sms}gateway = \"kannel\"\ncredentials = {{ username = \"u\", password = \"p\" }}\n"
        );
        let p = provider_named("bulk", &ok).unwrap();
        assert_eq!(
            p.sms_api("bulk"),
            Some(SmsApi::Kannel),
            "kannel needs no sender"
        );
        let apns = "kind = \"push_apns\"\nbase_url = \"http://x\"\n\
                    cost = { currency = \"USD\", push = \"0\" }\ntopic = \"t\"\n\
                    credentials = { key_id = \"K\" }\n";
        let err = provider(apns).unwrap_err().to_string();
        assert!(
            err.contains("credentials.team_id, credentials.private_key missing"),
            "{err}"
        );
        let wa_gateway = "kind = \"whatsapp\"\nbase_url = \"http://x\"\ngateway = \"telone\"\n\
                          cost = { currency = \"USD\", whatsapp = { utility = \"0\" } }\n";
        let err = provider(wa_gateway).unwrap_err().to_string();
        assert!(err.contains("sms providers only"), "{err}");
    }

    #[test]
    fn timeouts_must_be_ordered_and_bounded() {
        let base = format!(
            "kind = \"sms\"\nbase_url = \"http://x\"\n{}\
             cost = {{ currency = \"USD\", sms_segment = \"0.01\" }}\n",
            client_keys("sms")
        );
        for (timeouts, says) in [
            ("{ connect = \"0s\", request = \"1s\" }", "not be zero"),
            ("{ connect = \"5s\", request = \"1s\" }", "must not exceed"),
            ("{ connect = \"1s\", request = \"10m\" }", "at most 300s"),
        ] {
            let err = provider(&format!("{base}timeouts = {timeouts}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{timeouts}: {err}");
        }
    }

    #[test]
    fn email_urls_say_how_the_connection_is_protected() {
        for (url, scheme, host, port) in [
            (
                "smtp://mail.example.net",
                SmtpScheme::StartTls,
                "mail.example.net",
                587,
            ),
            (
                "smtps://mail.example.net:2465",
                SmtpScheme::Tls,
                "mail.example.net",
                2465,
            ),
            (
                "smtp+insecure://127.0.0.1:2525/",
                SmtpScheme::Plaintext,
                "127.0.0.1",
                2525,
            ),
            ("smtp://[::1]:25", SmtpScheme::StartTls, "::1", 25),
            ("smtps://[::1]", SmtpScheme::Tls, "::1", 465),
        ] {
            assert_eq!(
                parse_smtp_url(url).unwrap(),
                (scheme, host.to_owned(), port),
                "{url}"
            );
        }
        for bad in [
            "http://x",
            "smtp://",
            "smtp://x:port",
            "smtp://x/path",
            "x",
            "smtp://[::1",
        ] {
            assert!(parse_smtp_url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn two_providers_of_one_kind_may_not_share_a_priority() {
        let entry = |priority: u32| {
            provider(&format!(
                "kind = \"sms\"\nbase_url = \"http://x\"\npriority = {priority}\n{}\
                 cost = {{ currency = \"USD\", sms_segment = \"0.01\" }}\n",
                client_keys("sms")
            ))
            .unwrap()
        };
        let mut all = BTreeMap::from([
            ("telone".to_owned(), entry(1)),
            ("kannel".to_owned(), entry(1)),
        ]);
        let err = validate_all(&all).unwrap_err().to_string();
        assert!(
            err.contains("providers.kannel and providers.telone") && err.contains("priority 1"),
            "{err}"
        );
        all.insert("kannel".to_owned(), entry(3));
        validate_all(&all).unwrap();
        let mail = provider(&format!(
            "kind = \"email\"\nbase_url = \"smtp://x\"\npriority = 1\n{}\
             cost = {{ currency = \"USD\", email = \"0\" }}\n",
            client_keys("email")
        ))
        .unwrap();
        all.insert("mail".to_owned(), mail);
        validate_all(&all).expect("priorities are per kind");
    }
}
