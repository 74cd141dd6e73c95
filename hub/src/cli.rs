//! The command line: `serve` (the default), `sandbox`, `token` and `journal`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// OneClass hub: realtime chat, notifications and the event journal for schools.
#[derive(Debug, Parser)]
#[command(name = "oneclass-hub", version)]
pub struct Cli {
    /// A TOML configuration file (environment variables override it).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the hub (the default).
    Serve {
        /// Also run every provider simulator in this process (no credentials needed), print
        /// where they listen, and point every provider at them (`[providers.*]` in the file
        /// and the environment override their settings key by key). Needs a build with the
        /// `sandbox` feature.
        #[arg(long)]
        sandbox: bool,
        /// Where the in-process simulators listen (with `--sandbox`); a free loopback port
        /// when unset.
        #[arg(long, value_name = "ADDR", requires = "sandbox")]
        sandbox_listen: Option<String>,
        /// Point every provider at an already running `oneclass-hub sandbox` at this URL
        /// (`http://127.0.0.1:8090`), reading its credentials from its `/_sim/credentials`, so
        /// the simulators and their records outlive this hub. Needs the `sandbox` feature.
        #[arg(long, value_name = "URL", conflicts_with = "sandbox")]
        sandbox_at: Option<String>,
    },
    /// Run only the provider simulators (SMS, Paynow, e-mail, push, …), for trying clients.
    /// Needs a build with the `sandbox` feature.
    Sandbox {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: String,
    },
    /// Mint a development token with the configured HS256 secret.
    Token {
        #[arg(long)]
        user: String,
        #[arg(long)]
        school: String,
        /// parent, teacher, admin, analyst or service.
        #[arg(long)]
        role: String,
        /// Comma-separated class ids.
        #[arg(long, value_delimiter = ',')]
        classes: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
    },
    /// Journal maintenance.
    Journal {
        #[command(subcommand)]
        command: JournalCmd,
    },
}

#[derive(Debug, Subcommand)]
pub enum JournalCmd {
    /// Check the hash chains of every stream with events of a school in a time range. Exits 0
    /// when intact; otherwise names the first broken link and exits 1.
    Verify {
        #[arg(long)]
        school: String,
        /// RFC 3339 time or YYYY-MM-DD (inclusive).
        #[arg(long)]
        from: String,
        /// RFC 3339 time or YYYY-MM-DD (exclusive).
        #[arg(long)]
        to: String,
    },
}
