//! The hub's configuration: one [`Settings`] tree, layered by `figment`.
//!
//! Layers, each overriding the one before: the compiled-in defaults (the `Default` impls), a TOML
//! file (`--config hub.toml`), the documented flat environment variables (`ONECLASS_LISTEN`, …,
//! see [`load::FLAT_ALIASES`]) and then nested ones (`ONECLASS_<SECTION>__<KEY>`, e.g.
//! `ONECLASS_LIMITS__MAX_MESSAGE_BYTES`), so every key of the tree is reachable from the
//! environment. Durations are human-readable strings (`"20s"`, `"500ms"`); the integer keys that
//! were documented before (`heartbeat_s`, `connect_timeout_ms`, …) are still accepted with their
//! old unit. Unknown keys fail, and [`Settings::validate`] refuses settings that cannot work, both
//! at startup with the offending key named. Secrets are `SecretString`s, so no `Debug` of the
//! tree prints one.
//!
//! `[providers.<name>]` ([`providers`]) has two more layers: sandbox mode's providers beneath the
//! file ([`Settings::load_over`]), and compiled-in defaults for `telone` and `econet` beneath
//! everything, applied only to entries some layer names.

pub mod load;
pub mod providers;
pub mod settings;

pub use providers::{CostTable, Price, ProviderKind, ProviderSettings, ProviderTimeouts};
pub use settings::{
    AuthSettings, JournalSettings, PublicKey, ServerSettings, Settings, TelemetrySettings,
};
