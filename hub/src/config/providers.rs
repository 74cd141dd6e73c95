//! `[providers.<name>]`: the outside services the delivery engine will send through (SMS
//! gateways, WhatsApp, e-mail, FCM and APNs push), one entry per account.
//!
//! Each entry says what kind of channel it serves, where it lives, its credentials (secrets),
//! how fast it may be used (`rate_per_hour` with a `burst`), its `priority` among providers of
//! the same kind (lower is tried first), its timeouts and what a message costs. Nothing reads
//! these entries yet; they are typed and validated now so the engine gets a settled shape.
//!
//! Prices are decimal strings in the entry's `currency` (`"0.0075"`), kept exactly as integer
//! millionths ([`Price`]), never as floats. The cost table must price the provider's own kind:
//! `sms_segment` for SMS (with optional per-network and per-route overrides), one price per
//! conversation category for WhatsApp, `email` for e-mail and `push` for both push kinds.
//!
//! ```toml
//! [providers.telone]
//! kind = "sms"
//! base_url = "https://sms.example.net/api"
//! rate_per_hour = 36000
//! burst = 50
//! priority = 1
//! credentials = { username = "school", password = "…" }
//! timeouts = { connect = "2s", request = "10s" }
//! cost = { currency = "USD", sms_segment = "0.02", sms_networks = { econet = "0.025" } }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// Millionths of a currency unit in one [`Price`].
const MICROS_PER_UNIT: u64 = 1_000_000;

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
    /// What sending costs; must price this provider's kind.
    pub cost: CostTable,
}

/// The delivery channels a provider can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Sms,
    Whatsapp,
    Email,
    PushFcm,
    PushApns,
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
    /// Checks the entry on its own (the caller prefixes the provider's name).
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.base_url.starts_with("http://") || self.base_url.starts_with("https://"),
            "base_url must be an http:// or https:// URL, got `{}`",
            self.base_url
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(toml: &str) -> anyhow::Result<ProviderSettings> {
        let p: ProviderSettings = toml::from_str(toml)?;
        p.validate()?;
        Ok(p)
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
        for (kind, key) in [
            ("email", "email"),
            ("push_fcm", "push"),
            ("push_apns", "push"),
        ] {
            let p = provider(&format!(
                "kind = \"{kind}\"\nbase_url = \"http://127.0.0.1:1\"\n\
                 cost = {{ currency = \"EUR\", {key} = \"0.0001\" }}\n"
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
            "kind = \"email\"\nbase_url = \"http://x\"\n\
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
            "kind = \"email\"\nbase_url = \"http://x\"\ncost = { currency = \"USD\", email = \"0.1234567\" }",
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
}
