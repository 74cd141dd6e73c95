//! Loading [`Settings`]: defaults, then a TOML file, then the environment, merged by `figment`.
//!
//! The environment gives two layers, read in this order so the second wins:
//!
//! 1. the flat names documented before nesting existed ([`FLAT_ALIASES`]: `ONECLASS_LISTEN`,
//!    `ONECLASS_HEARTBEAT_S`, …), each standing for one key of the tree;
//! 2. nested names, `ONECLASS_<SECTION>__<KEY>[__<KEY>…]` for every key of the tree
//!    (`ONECLASS_LIMITS__OUTBOUND_MAX_LAG=2s`, `ONECLASS_PROVIDERS__TELONE__BURST=20`).
//!
//! Other `ONECLASS_` variables (the test suite's `ONECLASS_TEST_…`, scripts' own) are not
//! configuration and are ignored; a nested name under a known section that matches no key fails.
//! Values are read as figment reads them (`20` is a number, `[1, 2]` an array), except keys that
//! are text by nature ([`TEXT_KEYS`], credentials), which stay the exact string given: a secret
//! of digits must not turn into a number.
//!
//! Before merging, each layer's integer keys of the old style ([`LEGACY_UNITS`]: `heartbeat_s`,
//! `connect_timeout_ms`, …) become the duration keys they stand for, in the old unit; a layer that
//! sets both spellings of one duration fails. Errors are figment's, naming the key and the file
//! or variable it came from.
//!
//! Two more layers concern `[providers]`. Beneath the file, a caller may put a base layer
//! ([`Settings::load_over`]): sandbox mode puts the simulators' providers there, so the file and
//! the environment override any of their keys (a rate, a priority). Beneath everything, an entry
//! named in [`providers::DEFAULTS`] (`telone`, `econet`) that exists in some layer gets its
//! compiled-in kind, priority and rate for whatever no layer set; an entry no layer names is not
//! created.

use std::path::Path;

use anyhow::Context as _;
use figment::providers::{Format as _, Toml};
use figment::value::{Dict, Map, Tag, Value};
use figment::{Figment, Metadata, Profile, Provider};

use crate::config::providers;
use crate::config::Settings;

/// The prefix of every configuration variable.
pub const ENV_PREFIX: &str = "ONECLASS_";

/// Separator of nesting levels in a variable name.
const NEST: &str = "__";

/// Sections of the tree that nested variables may address.
const SECTIONS: &[&str] = &[
    "server",
    "journal",
    "auth",
    "limits",
    "rate_limits",
    "telemetry",
    "providers",
    "delivery",
];

/// The documented flat variables (without the prefix) and the key each one sets.
pub const FLAT_ALIASES: &[(&str, &str)] = &[
    ("LISTEN", "server.listen"),
    ("WORKERS", "server.workers"),
    ("DATA_DIR", "journal.data_dir"),
    ("JOURNAL", "journal.url"),
    ("JWT_SECRET", "auth.jwt_secret"),
    ("JWT_ISSUER", "auth.issuer"),
    ("HEARTBEAT_S", "limits.heartbeat_s"),
    ("CONNECT_TIMEOUT_MS", "limits.connect_timeout_ms"),
    ("OUTBOUND_MAX_BYTES", "limits.outbound_max_bytes"),
    ("OUTBOUND_MAX_LAG_MS", "limits.outbound_max_lag_ms"),
    ("MAX_MESSAGE_BYTES", "limits.max_message_bytes"),
    ("MAX_BODY_BYTES", "limits.max_body_bytes"),
    ("SENTRY_DSN", "telemetry.sentry_dsn"),
];

/// Old integer keys of `[limits]`, the duration key each stands for, and its unit.
pub const LEGACY_UNITS: &[(&str, &str, &str)] = &[
    ("heartbeat_s", "heartbeat", "s"),
    ("school_idle_s", "school_idle", "s"),
    ("connect_timeout_ms", "connect_timeout", "ms"),
    ("outbound_max_lag_ms", "outbound_max_lag", "ms"),
];

/// Keys whose environment value is always taken as the literal string.
pub const TEXT_KEYS: &[&str] = &[
    "server.listen",
    "journal.data_dir",
    "journal.url",
    "auth.jwt_secret",
    "auth.issuer",
    "auth.audience",
    "auth.jwks_file",
    "telemetry.sentry_dsn",
    "telemetry.environment",
];

impl Settings {
    /// Defaults, then the file (if any), then the process environment; validated.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_over(Dict::new(), file)
    }

    /// Like [`Settings::load`] with `base` beneath the file and the environment (sandbox mode's
    /// providers), so both override its keys.
    pub fn load_over(base: Dict, file: Option<&Path>) -> anyhow::Result<Self> {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        let settings = Self::figment_over(base, file, vars)?
            .extract::<Settings>()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?
            .normalised();
        settings.validate().context("invalid configuration")?;
        Ok(settings)
    }

    /// The merged layers, before extraction (`vars` stands for the environment).
    pub fn figment(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Figment> {
        Self::figment_over(Dict::new(), file, vars)
    }

    /// The merged layers over `base`, before extraction.
    pub fn figment_over(
        base: Dict,
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Figment> {
        let mut figment = Figment::new().merge(Layer::new(Metadata::named("sandbox"), base)?);
        if let Some(path) = file {
            anyhow::ensure!(
                path.is_file(),
                "reading config file {}: no such file",
                path.display()
            );
            let toml = Toml::file(path);
            let dict = default_profile(toml.data())
                .with_context(|| format!("parsing config file {}", path.display()))?;
            figment = figment.merge(Layer::new(toml.metadata(), dict)?);
        }
        let (flat, nested) = env_layers(vars);
        let flat_md = Metadata::named("environment variable").interpolater(|_, keys| {
            let key = keys.join(".");
            flat_name(&key).unwrap_or_else(|| nested_name(keys))
        });
        let nested_md =
            Metadata::named("environment variable").interpolater(|_, keys| nested_name(keys));
        let figment = figment
            .merge(Layer::new(flat_md, flat)?)
            .merge(Layer::new(nested_md, nested)?);
        Ok(with_provider_defaults(figment))
    }

    /// Settles values whose spelling has several meanings (an empty journal URL is none).
    fn normalised(mut self) -> Self {
        self.journal.url = self.journal.url.filter(|u| !u.is_empty());
        self
    }
}

/// One layer's values, with old-style keys already turned into durations.
struct Layer {
    metadata: Metadata,
    dict: Dict,
}

impl Layer {
    fn new(metadata: Metadata, mut dict: Dict) -> anyhow::Result<Self> {
        rewrite_legacy_units(&mut dict).with_context(|| format!("in {}", metadata.name))?;
        Ok(Self { metadata, dict })
    }
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        self.metadata.clone()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// `figment` with the compiled-in defaults of the well-known providers it names joined in
/// beneath every layer (so any layer's value wins).
fn with_provider_defaults(figment: Figment) -> Figment {
    let named: Vec<String> = figment
        .extract_inner::<Dict>("providers")
        .map(|entries| entries.into_keys().collect())
        .unwrap_or_default();
    let mut defaults = Dict::new();
    for (name, kind, priority, rate) in providers::DEFAULTS {
        if named.iter().any(|n| n == name) {
            let at = |key: &str| format!("providers.{name}.{key}");
            insert(&mut defaults, &at("kind"), Value::from(kind.as_str()));
            insert(&mut defaults, &at("priority"), Value::from(*priority));
            insert(&mut defaults, &at("rate_per_hour"), Value::from(*rate));
        }
    }
    figment.join(Layer {
        metadata: Metadata::named("compiled-in provider defaults"),
        dict: defaults,
    })
}

fn default_profile(data: Result<Map<Profile, Dict>, figment::Error>) -> anyhow::Result<Dict> {
    Ok(data?.remove(&Profile::Default).unwrap_or_default())
}

/// The flat and the nested layer from the environment's `ONECLASS_` variables.
fn env_layers(vars: impl IntoIterator<Item = (String, String)>) -> (Dict, Dict) {
    let (mut flat, mut nested) = (Dict::new(), Dict::new());
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if let Some((_, path)) = FLAT_ALIASES.iter().find(|(alias, _)| *alias == rest) {
            insert(&mut flat, path, value(path, raw));
            continue;
        }
        let path = rest.to_ascii_lowercase().replace(NEST, ".");
        let section = path.split('.').next().unwrap_or_default();
        if rest.contains(NEST) && SECTIONS.contains(&section) {
            let v = value(&path, raw);
            insert(&mut nested, &path, v);
        }
    }
    (flat, nested)
}

/// The environment value for `path`: literal text for text keys, else figment's reading.
fn value(path: &str, raw: String) -> Value {
    let text = TEXT_KEYS.contains(&path) || path.split('.').any(|k| k == "credentials");
    if text {
        Value::from(raw)
    } else {
        // unwrap: figment's parse of a string into a value is infallible.
        raw.parse().unwrap()
    }
}

/// Sets `value` at the dotted `path`, creating tables on the way.
fn insert(dict: &mut Dict, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            dict.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = dict
                .entry(head.to_owned())
                .or_insert_with(|| Value::Dict(Tag::Default, Dict::new()));
            if !matches!(entry, Value::Dict(..)) {
                *entry = Value::Dict(Tag::Default, Dict::new());
            }
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

/// Replaces `[limits]`' old integer keys by the durations they meant.
fn rewrite_legacy_units(dict: &mut Dict) -> anyhow::Result<()> {
    let Some(Value::Dict(_, limits)) = dict.get_mut("limits") else {
        return Ok(());
    };
    for (old, new, unit) in LEGACY_UNITS {
        let Some(v) = limits.remove(*old) else {
            continue;
        };
        anyhow::ensure!(
            !limits.contains_key(*new),
            "limits.{old} and limits.{new} are the same setting: give only one"
        );
        let n: u64 = v
            .deserialize()
            .map_err(|e| anyhow::anyhow!("limits.{old} must be a whole number: {e}"))?;
        limits.insert((*new).to_owned(), Value::from(format!("{n}{unit}")));
    }
    Ok(())
}

/// The documented flat variable that sets `key` (or its legacy spelling), if any.
fn flat_name(key: &str) -> Option<String> {
    let legacy = |path: &str| {
        LEGACY_UNITS
            .iter()
            .any(|(old, new, _)| path == format!("limits.{old}") && key == format!("limits.{new}"))
    };
    FLAT_ALIASES
        .iter()
        .find(|(_, path)| *path == key || legacy(path))
        .map(|(alias, _)| format!("{ENV_PREFIX}{alias}"))
}

/// The nested variable for the key path `keys`.
fn nested_name(keys: &[&str]) -> String {
    format!("{ENV_PREFIX}{}", keys.join(NEST).to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use figment::Jail;
    use secrecy::ExposeSecret as _;

    use super::*;

    /// Loads from the jail's `hub.toml` (when `file`) and its environment.
    fn load(file: bool) -> anyhow::Result<Settings> {
        Settings::load(file.then(|| Path::new("hub.toml")))
    }

    // figment's Jail fixes the closure's error type; its size is not ours to choose.
    #[allow(clippy::result_large_err)]
    fn in_jail(f: impl FnOnce(&mut Jail) -> anyhow::Result<()>) {
        Jail::expect_with(|jail| {
            // The suite's own variables (ONECLASS_TEST_…) must not matter; clear real config.
            for (name, _) in FLAT_ALIASES {
                std::env::remove_var(format!("{ENV_PREFIX}{name}"));
            }
            f(jail).map_err(|e| format!("{e:#}").into())
        });
    }

    #[test]
    fn with_nothing_configured_the_compiled_in_defaults_hold() {
        in_jail(|_| {
            let s = load(false)?;
            assert_eq!(s.server.listen, "127.0.0.1:8080");
            assert_eq!(s.journal.data_dir, PathBuf::from("./data"));
            assert_eq!(s.limits, oneclass_actors::Limits::default());
            assert!(s.auth.jwt_secret.is_none() && s.telemetry.sentry_dsn.is_none());
            assert!(s.providers.is_empty());
            Ok(())
        });
    }

    #[test]
    fn the_toml_file_sets_durations_as_text_and_accepts_the_old_integer_keys() {
        in_jail(|jail| {
            jail.create_file(
                "hub.toml",
                r#"
                [server]
                listen = "0.0.0.0:1"
                [limits]
                outbound_max_lag = "2500ms"
                heartbeat_s = 7
                connect_timeout_ms = 300
                replay_page = 32
                "#,
            )?;
            let s = load(true)?;
            assert_eq!(s.server.listen, "0.0.0.0:1");
            assert_eq!(s.limits.outbound_max_lag, Duration::from_millis(2500));
            assert_eq!(s.limits.heartbeat, Duration::from_secs(7));
            assert_eq!(s.limits.connect_timeout, Duration::from_millis(300));
            assert_eq!(s.limits.replay_page, 32);
            Ok(())
        });
    }

    #[test]
    fn delivery_policies_come_from_the_file_over_the_defaults() {
        use oneclass_actors::notify::policy::{Channel, DeliveryPolicies, Mode};
        in_jail(|jail| {
            jail.create_file(
                "hub.toml",
                r#"
                [delivery.policies."fees.reminder"]
                mode = "cheapest_first"
                steps = [
                    { channel = "in_app", wait = "2h" },
                    { channel = "sms", wait = "1d" },
                ]
                "#,
            )?;
            let s = load(true)?;
            let fees = s.delivery.policies.for_kind("fees.reminder");
            assert_eq!(fees.mode, Mode::CheapestFirst);
            assert_eq!(fees.steps[1].channel, Channel::Sms);
            assert_eq!(fees.steps[1].wait, Duration::from_secs(86_400));
            let defaults = DeliveryPolicies::default();
            assert_eq!(
                s.delivery.policies.for_kind("emergency"),
                defaults.for_kind("emergency")
            );
            jail.create_file(
                "hub.toml",
                "[delivery.policies.event]\nmode = \"all_at_once\"\nsteps = []\n",
            )?;
            let e = format!("{:#}", load(true).unwrap_err());
            assert!(e.contains("has no steps"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn nested_variables_reach_every_section_including_providers() {
        in_jail(|jail| {
            jail.set_env("ONECLASS_LIMITS__MAX_MESSAGE_BYTES", "131072");
            jail.set_env("ONECLASS_LIMITS__SCHOOL_IDLE", "1m");
            jail.set_env("ONECLASS_SERVER__BACKLOG", "16");
            jail.set_env("ONECLASS_AUTH__AUDIENCE", "other-hub");
            jail.set_env("ONECLASS_TELEMETRY__ENVIRONMENT", "staging");
            jail.set_env("ONECLASS_PROVIDERS__TELONE__BASE_URL", "http://127.0.0.1:9");
            jail.set_env("ONECLASS_PROVIDERS__TELONE__SENDER", "SCHOOL");
            jail.set_env(
                "ONECLASS_PROVIDERS__TELONE__CREDENTIALS__USERNAME",
                "school",
            );
            jail.set_env("ONECLASS_PROVIDERS__TELONE__CREDENTIALS__PASSWORD", "0042");
            jail.set_env("ONECLASS_PROVIDERS__TELONE__COST__CURRENCY", "USD");
            jail.set_env("ONECLASS_PROVIDERS__TELONE__COST__SMS_SEGMENT", "0.02");
            jail.set_env("ONECLASS_TEST_SOMETHING", "ignored: not configuration");
            let s = load(false)?;
            assert_eq!(s.limits.max_message_bytes, 131_072);
            assert_eq!(s.limits.school_idle, Duration::from_secs(60));
            assert_eq!(s.server.backlog, 16);
            assert_eq!(s.auth.audience, "other-hub");
            assert_eq!(s.telemetry.environment.as_deref(), Some("staging"));
            let telone = &s.providers["telone"];
            assert_eq!(telone.credentials["password"].expose_secret(), "0042");
            assert_eq!(telone.cost.sms_segment.unwrap().micros(), 20_000);
            assert_eq!(
                telone.kind,
                crate::config::ProviderKind::Sms,
                "telone's default"
            );
            Ok(())
        });
    }

    /// A TelOne or Econet entry as an operator writes it: URL, sender, credentials, prices.
    fn sms_entry(name: &str, credentials: &str) -> String {
        format!(
            "[providers.{name}]\nbase_url = \"https://{name}.example.net\"\nsender = \"SCHOOL\"\n\
             credentials = {credentials}\ncost = {{ currency = \"USD\", sms_segment = \"0.0108\" }}\n"
        )
    }

    #[test]
    fn telone_and_econet_get_their_contracted_rate_and_order_when_configured() {
        in_jail(|jail| {
            jail.create_file(
                "hub.toml",
                &(sms_entry("telone", "{ username = \"u\", password = \"p\" }")
                    + &sms_entry("econet", "{ api_key = \"k\" }")),
            )?;
            let s = load(true)?;
            let (telone, econet) = (&s.providers["telone"], &s.providers["econet"]);
            assert_eq!((telone.priority, telone.rate_per_hour), (1, 1_000));
            assert_eq!((econet.priority, econet.rate_per_hour), (2, 500));
            assert_eq!(econet.kind, crate::config::ProviderKind::Sms);
            assert_eq!(s.providers.len(), 2);

            // Any layer beats the defaults: the environment halves Econet's rate.
            jail.set_env("ONECLASS_PROVIDERS__ECONET__RATE_PER_HOUR", "250");
            let s = load(true)?;
            assert_eq!(s.providers["econet"].rate_per_hour, 250);
            assert_eq!(s.providers["econet"].priority, 2);
            Ok(())
        });
    }

    #[test]
    fn the_provider_actor_sub_tables_are_reachable_from_the_environment() {
        in_jail(|jail| {
            jail.create_file(
                "hub.toml",
                &(sms_entry("telone", "{ username = \"u\", password = \"p\" }")
                    + "retry = { max_attempts = 2 }\n"),
            )?;
            jail.set_env("ONECLASS_PROVIDERS__TELONE__RETRY__BASE", "250ms");
            jail.set_env(
                "ONECLASS_PROVIDERS__TELONE__CIRCUIT__CONSECUTIVE_FAILURES",
                "9",
            );
            jail.set_env(
                "ONECLASS_PROVIDERS__TELONE__DELIVERY__QUEUE_CAPACITY",
                "300",
            );
            let s = load(true)?;
            let telone = &s.providers["telone"];
            assert_eq!(telone.retry.max_attempts, 2, "from the file");
            assert_eq!(telone.retry.base, std::time::Duration::from_millis(250));
            assert_eq!(telone.circuit.consecutive_failures, 9);
            assert_eq!(telone.delivery.queue_capacity, 300);
            Ok(())
        });
    }

    #[test]
    fn the_defaults_never_create_a_provider_nobody_configured() {
        in_jail(|jail| {
            jail.create_file(
                "hub.toml",
                &sms_entry("telone", "{ username = \"u\", password = \"p\" }"),
            )?;
            let s = load(true)?;
            assert_eq!(s.providers.keys().collect::<Vec<_>>(), ["telone"]);
            Ok(())
        });
        in_jail(|jail| {
            // Without its URL, credentials and prices a default provider is an error, not a guess.
            jail.set_env("ONECLASS_PROVIDERS__ECONET__BURST", "5");
            let err = format!("{:#}", load(false).unwrap_err());
            assert!(err.contains("base_url") || err.contains("cost"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn the_file_and_the_environment_override_a_base_layer_key_by_key() {
        in_jail(|jail| {
            let base: Dict = toml::from_str::<figment::value::Value>(&sms_entry(
                "telone",
                "{ username = \"sandbox\", password = \"sandbox\" }",
            ))
            .map(|v| v.into_dict().unwrap())?;
            jail.create_file("hub.toml", "[providers.telone]\nrate_per_hour = 60\n")?;
            jail.set_env("ONECLASS_PROVIDERS__TELONE__BURST", "3");
            let s = Settings::load_over(base, Some(Path::new("hub.toml")))?;
            let telone = &s.providers["telone"];
            assert_eq!(telone.rate_per_hour, 60, "the file's rate over the base");
            assert_eq!(telone.burst, 3, "the environment over both");
            assert_eq!(
                telone.base_url, "https://telone.example.net",
                "the rest from the base"
            );
            assert_eq!(telone.priority, 1, "the compiled-in default beneath all");
            Ok(())
        });
    }

    #[test]
    fn a_broken_provider_entry_fails_naming_the_entry() {
        in_jail(|jail| {
            jail.create_file("hub.toml", &(sms_entry("telone", "{ username = \"u\" }")))?;
            let err = format!("{:#}", load(true).unwrap_err());
            assert!(
                err.contains("providers.telone") && err.contains("credentials.password"),
                "{err}"
            );
            Ok(())
        });
        in_jail(|jail| {
            jail.set_env("ONECLASS_PROVIDERS__TELONE__KIND", "fax");
            let err = format!("{:#}", load(false).unwrap_err());
            assert!(err.contains("fax"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn rate_limits_are_reachable_from_the_environment() {
        in_jail(|jail| {
            jail.set_env("ONECLASS_RATE_LIMITS__STRIKES", "7");
            jail.set_env("ONECLASS_RATE_LIMITS__STRIKE_WINDOW", "3s");
            jail.set_env(
                "ONECLASS_RATE_LIMITS__USER__PUBLISH",
                "{per_second=2,burst=9}",
            );
            // A quota's fields one variable each, as the benchmark scripts set them (a quota
            // always names both).
            jail.set_env("ONECLASS_RATE_LIMITS__SCHOOL_WRITES__PER_SECOND", "1000000");
            jail.set_env("ONECLASS_RATE_LIMITS__SCHOOL_WRITES__BURST", "2000000");
            let s = load(false)?;
            assert_eq!(s.rate_limits.strikes, 7);
            assert_eq!(s.rate_limits.strike_window, Duration::from_secs(3));
            assert_eq!(s.rate_limits.user.publish.burst.get(), 9);
            assert_eq!(s.rate_limits.school_writes.per_second.get(), 1_000_000);
            assert_eq!(s.rate_limits.school_writes.burst.get(), 2_000_000);
            Ok(())
        });
    }

    #[test]
    fn the_documented_flat_variables_still_work_with_their_old_meaning() {
        in_jail(|jail| {
            jail.set_env("ONECLASS_LISTEN", "127.0.0.1:9");
            jail.set_env("ONECLASS_DATA_DIR", "/tmp/x");
            jail.set_env("ONECLASS_JOURNAL", "");
            jail.set_env("ONECLASS_JWT_SECRET", "01234567890123456789");
            jail.set_env("ONECLASS_JWT_ISSUER", "iss");
            jail.set_env("ONECLASS_WORKERS", "3");
            jail.set_env("ONECLASS_HEARTBEAT_S", "20");
            jail.set_env("ONECLASS_CONNECT_TIMEOUT_MS", "250");
            jail.set_env("ONECLASS_OUTBOUND_MAX_BYTES", "8388608");
            jail.set_env("ONECLASS_OUTBOUND_MAX_LAG_MS", "1500");
            jail.set_env("ONECLASS_MAX_MESSAGE_BYTES", "65536");
            jail.set_env("ONECLASS_MAX_BODY_BYTES", "1024");
            jail.set_env("ONECLASS_SENTRY_DSN", "http://key@127.0.0.1:1/1");
            let s = load(false)?;
            assert_eq!(s.server.listen, "127.0.0.1:9");
            assert_eq!(s.journal.data_dir, PathBuf::from("/tmp/x"));
            assert_eq!(s.journal.url, None, "an empty ONECLASS_JOURNAL means none");
            let secret = s.auth.jwt_secret.as_ref().unwrap().expose_secret();
            assert_eq!(secret, "01234567890123456789", "digits stay text");
            assert_eq!((s.auth.issuer.as_str(), s.server.workers), ("iss", 3));
            assert_eq!(s.limits.heartbeat, Duration::from_secs(20));
            assert_eq!(s.limits.connect_timeout, Duration::from_millis(250));
            assert_eq!(s.limits.outbound_max_bytes, 8 << 20);
            assert_eq!(s.limits.outbound_max_lag, Duration::from_millis(1500));
            assert_eq!(s.limits.max_message_bytes, 65_536);
            assert_eq!(s.limits.max_body_bytes, 1024);
            assert!(s.telemetry.sentry_dsn.is_some());
            Ok(())
        });
    }

    #[test]
    fn the_environment_overrides_the_file_and_nested_names_override_flat_ones() {
        in_jail(|jail| {
            jail.create_file(
                "hub.toml",
                "[server]\nlisten = \"0.0.0.0:1\"\nworkers = 5\n[limits]\nheartbeat = \"5s\"\n",
            )?;
            jail.set_env("ONECLASS_LISTEN", "127.0.0.1:2");
            jail.set_env("ONECLASS_HEARTBEAT_S", "9");
            jail.set_env("ONECLASS_WORKERS", "6");
            jail.set_env("ONECLASS_SERVER__WORKERS", "7");
            let s = load(true)?;
            assert_eq!(s.server.listen, "127.0.0.1:2", "env over file");
            assert_eq!(
                s.limits.heartbeat,
                Duration::from_secs(9),
                "old env key over file"
            );
            assert_eq!(s.server.workers, 7, "nested over flat");
            Ok(())
        });
    }

    #[test]
    fn bad_values_fail_naming_the_key_and_where_it_came_from() {
        in_jail(|jail| {
            jail.set_env("ONECLASS_WORKERS", "two");
            let err = format!("{:#}", load(false).unwrap_err());
            assert!(err.contains("ONECLASS_WORKERS"), "{err}");
            Ok(())
        });
        in_jail(|jail| {
            jail.set_env("ONECLASS_LIMITS__HEARTBEAT", "soon");
            let err = format!("{:#}", load(false).unwrap_err());
            assert!(err.contains("ONECLASS_LIMITS__HEARTBEAT"), "{err}");
            Ok(())
        });
        in_jail(|jail| {
            jail.set_env("ONECLASS_LIMITS__HEARTBAET", "5s");
            let err = format!("{:#}", load(false).unwrap_err());
            assert!(err.contains("heartbaet"), "{err}");
            Ok(())
        });
        in_jail(|jail| {
            jail.create_file("hub.toml", "[server]\nlisten2 = \"x\"\n")?;
            let err = format!("{:#}", load(true).unwrap_err());
            assert!(err.contains("listen2") && err.contains("hub.toml"), "{err}");
            Ok(())
        });
        in_jail(|jail| {
            jail.create_file(
                "hub.toml",
                "[limits]\nheartbeat = \"5s\"\nheartbeat_s = 5\n",
            )?;
            let err = format!("{:#}", load(true).unwrap_err());
            assert!(err.contains("heartbeat_s"), "{err}");
            Ok(())
        });
        in_jail(|_| {
            let err = format!("{:#}", load(true).unwrap_err());
            assert!(
                err.contains("hub.toml"),
                "a missing file is an error: {err}"
            );
            Ok(())
        });
    }
}
