//! `metering`: validate, plan and submit AWS Marketplace usage files, run the emulator,
//! inspect the Meter's ledger. Every rule it applies is the `metering` library's.
//!
//! Run `metering --help`, or `metering COMMAND --help` for a command's options and an
//! example. Exit codes: 0 all good, 1 invalid or unsettled records, 2 a wrong command line,
//! 3 a file, the network or the emulator failed.

mod args;
mod emulator;
mod input;
mod ledger;
mod plan;
mod report;
mod submit;
mod validate;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};

use crate::args::{Cli, Command};
use crate::report::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let exit = match cli.command {
        Command::Validate(args) => io_exit(validate::run(&args)),
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
