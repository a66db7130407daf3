//! `metering`: validate, plan and submit AWS Marketplace usage files, run the emulator,
//! inspect the Meter's ledger. Every rule it applies is the `marketplace-metering` library's.
//!
//! Run `metering --help`, or `metering COMMAND --help` for a command's options and an
//! example. Exit codes: 0 all good, 1 invalid or unsettled records, 2 a wrong command line,
//! 3 a file, the network or the emulator failed.

fn main() -> std::process::ExitCode {
    metering_cli::main()
}
