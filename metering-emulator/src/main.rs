//! `metering-emulator`: serves `BatchMeterUsage` on loopback until interrupted.
//!
//! It takes the flags of `metering emulator` ([`ServeArgs`]; `--help` lists them), prints
//! the endpoint URL as its first line of standard output (and on standard error the
//! `metering submit` command that sends to it), then serves until interrupted
//! (Ctrl-C). What it billed is at `GET {endpoint}/_emulator/ledger` and
//! `/_emulator/summary`.

use std::process::ExitCode;

use clap::Parser;
use metering_emulator::ServeArgs;

/// A local, faithful AWS Marketplace Metering endpoint (`BatchMeterUsage`,
/// `ResolveCustomer`) for tests: it prints its endpoint URL, then serves until Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "metering-emulator", version)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| {
            runtime
                .block_on(cli.serve.serve(|emulator| {
                    // For people; the URL alone on standard output is for scripts.
                    eprintln!(
                        "metering-emulator: send usage with `metering submit --endpoint-url {} FILE` (no AWS settings needed)",
                        emulator.endpoint_url()
                    );
                }))
                .map_err(|e| e.to_string())
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("metering-emulator: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    /// The README's synopsis names every flag the parser takes, in its order.
    #[test]
    fn the_readme_names_every_flag() {
        let command = Cli::command();
        let parsed: Vec<String> = command
            .get_arguments()
            .filter_map(|arg| arg.get_long())
            .filter(|long| !matches!(*long, "help" | "version"))
            .map(|long| format!("--{long}"))
            .collect();
        let readme = include_str!("../README.md");
        let synopsis = &readme[readme.find("metering-emulator [").unwrap()..];
        let synopsis = &synopsis[..synopsis.find("```").unwrap()];
        let documented: Vec<String> = synopsis
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|word| word.starts_with("--"))
            .map(str::to_owned)
            .collect();
        assert_eq!(parsed, documented);
        command.debug_assert();
    }
}
