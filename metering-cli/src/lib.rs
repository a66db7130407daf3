//! The `metering` command line: validate, plan and submit AWS Marketplace usage files, run
//! the emulator, inspect the Meter's ledger. Every rule it applies is the `marketplace-metering`
//! library's.
//!
//! The binary calls [`main`]; [`validate`] runs `metering validate` in this process, writing
//! its report where it is told (what the benchmark measures).
//!
//! Run `metering --help`, or `metering COMMAND --help` for a command's options and an
//! example. Exit codes: 0 all good, 1 invalid or unsettled records, 2 a wrong command line,
//! 3 a file, the network or the emulator failed, 4 records still to send within `--margin`
//! of the service's deadline (`ledger status`).

mod args;
mod emulator;
mod input;
mod ledger;
mod plan;
mod report;
mod submit;
mod validate;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};

use crate::args::{Cli, Command};
use crate::report::Exit;

/// Runs the command line the process was given, and says how it ended.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let exit = match cli.command {
        Command::Validate(args) => io_exit(validate::run(&args, &mut report::stdout())),
        Command::Plan(args) => io_exit(plan::run(&args)),
        Command::Submit(args) => block_on(submit::run(&args)),
        Command::Emulator(args) => {
            block_on(async { emulator::run(&args).await.map(|()| Exit::Ok) })
        }
        Command::Ledger(command) => block_on(ledger::run(&command)),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "metering",
                &mut std::io::stdout(),
            );
            Exit::Ok
        }
    };
    exit.into()
}

/// Runs `metering validate ARGS...` in this process, writing its verdicts and summary to
/// `out` (without colour), and says how it ended (see the exit codes).
///
/// ```no_run
/// let exit = metering_cli::validate(["--now", "2026-11-26T12:00:00Z", "usage.jsonl"], &mut std::io::sink())?;
/// assert_eq!(exit, std::process::ExitCode::SUCCESS);
/// # Ok::<(), clap::Error>(())
/// ```
///
/// # Errors
/// The arguments are not `metering validate`'s.
pub fn validate<T: Into<OsString> + Clone>(
    args: impl IntoIterator<Item = T>,
    out: &mut impl Write,
) -> Result<ExitCode, clap::Error> {
    let command_line = ["metering".into(), "validate".into()]
        .into_iter()
        .chain(args.into_iter().map(Into::into));
    let Command::Validate(parsed) = Cli::try_parse_from(command_line)?.command else {
        unreachable!("the second argument is `validate`")
    };
    Ok(io_exit(validate::run(&parsed, &mut report::Plain::new(out))).into())
}

/// A command's result: an error writing the output (a closed pipe) fails the run.
fn io_exit(result: std::io::Result<Exit>) -> Exit {
    result.unwrap_or_else(|e| {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            report::fail(format!("cannot write the output: {e}"));
        }
        Exit::Failed
    })
}

/// Runs an async command; what stopped it is reported and fails the run.
fn block_on(command: impl Future<Output = Result<Exit, String>>) -> Exit {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
        .and_then(|runtime| runtime.block_on(command))
        .unwrap_or_else(|message| {
            report::fail(message);
            Exit::Failed
        })
}
