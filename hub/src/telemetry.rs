//! Logging: key/value tracing, filtered by `RUST_LOG` (default `info`).
//!
//! The binary logs to stderr ([`init`]). Test processes start many hubs and would drown their
//! own output in access logs, so [`init_for_tests`] sends everything to a sink unless `TEST_LOG`
//! is set (`TEST_LOG=1 cargo test …` shows the logs on stderr again). Either installs the global
//! subscriber once; later calls do nothing.

/// The variable that turns test logging on.
pub const TEST_LOG: &str = "TEST_LOG";

/// Installs the subscriber for the binary: stderr.
pub fn init() {
    install(std::io::stderr);
}

/// Installs the subscriber for tests: a sink, or stderr when `TEST_LOG` is set.
pub fn init_for_tests() {
    if std::env::var_os(TEST_LOG).is_some() {
        install(std::io::stderr);
    } else {
        install(std::io::sink);
    }
}

fn install<W>(writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .try_init();
}
