//! `oneclass-hub`: parses the command line, loads configuration, starts telemetry, and hands
//! over to the chosen command (`serve`, `sandbox`, or one of [`oneclass_hub::commands`]).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use oneclass_hub::cli::{Cli, Cmd, JournalCmd};
use oneclass_hub::commands::{self, token::TokenRequest};
use oneclass_hub::config::Settings;
use oneclass_hub::sandbox::SandboxMode;
use oneclass_hub::startup::{build_providers, Application};
use oneclass_hub::verify::Verdict;

fn main() -> anyhow::Result<()> {
    oneclass_hub::telemetry::init();
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    let serve_default = Cmd::Serve {
        sandbox: false,
        sandbox_listen: None,
        sandbox_at: None,
    };
    match cli.command.unwrap_or(serve_default) {
        Cmd::Serve {
            sandbox,
            sandbox_listen,
            sandbox_at,
        } => {
            let mode = match (sandbox, sandbox_at) {
                (_, Some(url)) => SandboxMode::At(url),
                (true, None) => SandboxMode::InProcess {
                    listen: sandbox_listen.unwrap_or_else(|| "127.0.0.1:0".to_owned()),
                },
                (false, None) => SandboxMode::Off,
            };
            serve(settings, cli.config, mode)
        }
        Cmd::Sandbox { listen } => {
            oneclass_hub::sandbox::require()?;
            let listener = std::net::TcpListener::bind(&listen)
                .with_context(|| format!("binding {listen}"))?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let sandbox =
                    oneclass_hub::sandbox::start(listener, &settings.journal.data_dir).await?;
                println!("listening on {}", sandbox.handle.addr());
                tokio::signal::ctrl_c().await?;
                sandbox.handle.shutdown().await?;
                Ok(())
            })
        }
        Cmd::Token {
            user,
            school,
            role,
            classes,
            ttl,
        } => {
            let request = TokenRequest {
                user,
                school,
                role,
                classes,
                ttl,
            };
            println!("{}", commands::token::run(&settings, request)?);
            Ok(())
        }
        Cmd::Journal {
            command: JournalCmd::Verify { school, from, to },
        } => match commands::journal_verify::run(&settings, &school, &from, &to)? {
            Verdict::Intact { .. } => Ok(()),
            Verdict::Broken { .. } => std::process::exit(1),
        },
    }
}

fn serve(settings: Settings, config: Option<PathBuf>, mode: SandboxMode) -> anyhow::Result<()> {
    if mode != SandboxMode::Off {
        oneclass_hub::sandbox::require()?;
    }
    actix_rt::System::new().block_on(async move {
        // The simulators (in-process mode) live as long as the hub; dropping them stops them.
        let (settings, _sandbox) =
            oneclass_hub::sandbox::settle(settings, config.as_deref(), &mode).await?;
        let data_dir = settings.journal.data_dir.clone();
        let mut app = Application::build(settings)?;
        // Built before the port is reported, so a broken provider fails the start.
        app.set_providers(Arc::new(build_providers(app.settings())?));
        let addr = app.local_addr();
        // The first line on stdout is machine-readable; tests and scripts read the port from it.
        println!("listening on {addr}");
        eprintln!(
            "OneClass hub on http://{addr}/ (journal in {dir})\n\
             get a token:  oneclass-hub token --user alice --school s1 --role teacher --classes c1\n\
             then open http://{addr}/ and paste it, or connect a client to ws://{addr}/ws",
            dir = data_dir.display()
        );
        app.run(None).await
    })
}
