//! `oneclass-hub`: parses the command line, loads configuration, starts telemetry, and hands
//! over to the chosen command (`serve`, `sandbox`, or one of [`oneclass_hub::commands`]).

use anyhow::Context as _;
use clap::Parser;
use oneclass_hub::cli::{Cli, Cmd, JournalCmd};
use oneclass_hub::commands::{self, token::TokenRequest};
use oneclass_hub::config::Settings;
use oneclass_hub::startup::Application;
use oneclass_hub::verify::Verdict;

fn main() -> anyhow::Result<()> {
    oneclass_hub::telemetry::init();
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command.unwrap_or(Cmd::Serve { sandbox: false }) {
        Cmd::Serve { sandbox } => serve(settings, sandbox),
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

fn serve(settings: Settings, sandbox: bool) -> anyhow::Result<()> {
    if sandbox {
        oneclass_hub::sandbox::require()?;
    }
    let data_dir = settings.journal.data_dir.clone();
    let app = Application::build(settings)?;
    let addr = app.local_addr();
    // The first line on stdout is machine-readable; tests and scripts read the port from it.
    println!("listening on {addr}");
    eprintln!(
        "OneClass hub on http://{addr}/ (journal in {dir})\n\
         get a token:  oneclass-hub token --user alice --school s1 --role teacher --classes c1\n\
         then open http://{addr}/ and paste it, or connect a client to ws://{addr}/ws",
        dir = data_dir.display()
    );
    actix_rt::System::new().block_on(async move {
        // The simulators live as long as the hub; dropping the handle stops them.
        let _sandbox = if sandbox {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            Some(oneclass_hub::sandbox::start(listener, &data_dir).await?)
        } else {
            None
        };
        app.run(None).await
    })
}
