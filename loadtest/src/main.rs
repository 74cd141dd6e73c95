//! `oneclass-loadtest`: the command-line entry point. Raises the open-file limit, runs one
//! scenario, prints the human summary, writes the JSON report, and sets the exit code (2 on any
//! ordering fault, 3 on errors, 1 when the run could not start).

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use oneclass_loadtest::{cli::Args, limits, scenarios};

fn main() -> ExitCode {
    let args = Args::parse();
    let nofile = limits::raise_nofile();
    eprintln!("open-file limit: {nofile}");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let json = args.json.clone();
    let result = runtime.block_on(scenarios::run(args)).and_then(|report| {
        if let Some(path) = &json {
            let text = serde_json::to_string_pretty(&report)?;
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(report)
    });
    // Connection tasks may still be parked on sockets; do not wait for them.
    runtime.shutdown_background();
    match result {
        Ok(report) => {
            print!("{}", report.summary());
            if report.ordering_faults() {
                ExitCode::from(2)
            } else if report.errors > 0 {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
