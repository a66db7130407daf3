//! The command line, as clap derives it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use metering_core::{ProductCode, Timestamp};

/// Exit codes, listed in `--help` and the README.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  everything was valid, planned or settled
  1  some records are invalid, quarantined or not settled (see the verdicts)
  2  the command line is wrong (see the usage)
  3  a file, the network or the emulator failed before the work was done";

/// Validate, plan and submit AWS Marketplace usage, run the emulator, inspect the ledger.
#[derive(Debug, Parser)]
#[command(name = "metering", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check every record of usage files against every rule of the service, including
    /// whether it can still be sent now.
    #[command(after_help = "\
Files hold a BatchMeterUsage request ({\"ProductCode\": ..., \"UsageRecords\": [...]}) or JSON
Lines of UsageRecords entries, one a line (the product from --product-code or each line's
ProductCode). A request file may hold more than 25 records: they are planned into requests.

Example:
  metering validate --now 2026-11-26T12:00:00Z usage-2026-11-26.jsonl
  cat usage.json | metering validate --format json -")]
    Validate(ValidateArgs),
    /// Show the requests a submission would send: how many, records and bytes in each,
    /// duplicates merged, records kept back and why.
    #[command(after_help = "\
Example:
  metering plan --now 2026-11-26T12:00:00Z usage-2026-11-26.jsonl")]
    Plan(PlanArgs),
    /// Send usage files through the library's submitter, writing every record's outcome to
    /// a file that `--resume` continues from.
    #[command(after_help = "\
Credentials, region and profile come from the AWS SDK's usual configuration (environment,
~/.aws/config, instance or container role); the flags override them. Records are planned,
rate-limited to the account's 10 requests a second and retried; every outcome is appended
to the outcomes file as soon as it is known. If the run is interrupted or leaves records
pending, run the same command with --resume: settled records are not sent again.

Example:
  metering submit --region us-east-1 usage-2026-11-26.jsonl
  metering submit --endpoint-url http://127.0.0.1:8787 --resume usage-2026-11-26.jsonl")]
    Submit(SubmitArgs),
    /// Run the local emulator of the metering service until Ctrl-C.
    #[command(after_help = "\
Prints its endpoint URL on the first line of standard output; what it billed is at
{URL}/_emulator/ledger and {URL}/_emulator/summary.

Example:
  metering emulator --bind 127.0.0.1:8787 --fault throttle=0.1 --fault slow=0.5 --fault slow_ms=200
  metering submit --endpoint-url http://127.0.0.1:8787 usage.jsonl")]
    Emulator(EmulatorArgs),
    /// Print shell completions for bash, zsh, fish, elvish or PowerShell.
    #[command(after_help = "\
Example:
  metering completions bash > /etc/bash_completion.d/metering")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Where records come from and how to read them.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Usage files; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The product code of JSON Lines entries that carry none.
    #[arg(long, value_parser = parse_product_code)]
    pub product_code: Option<ProductCode>,
    /// How the files are laid out (auto: by the first line).
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    pub input_format: InputFormat,
    /// The time to judge the records at (RFC 3339; default: now).
    #[arg(long, value_parser = parse_timestamp, value_name = "RFC3339")]
    pub now: Option<Timestamp>,
}

/// `metering validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The input.
    #[command(flatten)]
    pub input: InputArgs,
    /// How to print verdicts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `metering plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The input.
    #[command(flatten)]
    pub input: InputArgs,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `metering submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The input.
    #[command(flatten)]
    pub input: InputArgs,
    /// Send to this endpoint instead of AWS's (the emulator's URL).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The AWS region.
    #[arg(long)]
    pub region: Option<String>,
    /// The profile in the AWS configuration files.
    #[arg(long)]
    pub profile: Option<String>,
    /// Where outcomes go, one JSON line per record (default: FILE.outcomes.jsonl beside the
    /// first file).
    #[arg(long, value_name = "FILE")]
    pub outcomes: Option<PathBuf>,
    /// Continue the submission recorded in the outcomes file: settled records are skipped.
    #[arg(long)]
    pub resume: bool,
}

/// `metering emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub bind: SocketAddr,
    /// Listen on an address other than loopback (the emulator checks no credentials).
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// The emulator's JSON configuration (subscriptions, dimensions, quota, time rules,
    /// faults).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A fault to inject, named as in the configuration's faults: KIND=SHARE of requests
    /// (throttle, `internal_error`, `drop_connection`, unprocessed, slow),
    /// `slow_ms`=MILLISECONDS or seed=N. Overrides the configuration; repeat for several.
    #[arg(long = "fault", value_name = "KIND=VALUE", value_parser = parse_fault)]
    pub faults: Vec<String>,
    /// The emulator's clock, standing still at this time (RFC 3339; default: the system
    /// clock).
    #[arg(long, value_parser = parse_timestamp, value_name = "RFC3339")]
    pub now: Option<Timestamp>,
}

/// How usage files are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// A request if the first line is not a whole JSON object without `UsageRecords`.
    Auto,
    /// One `BatchMeterUsage` request body.
    Request,
    /// One `UsageRecords` entry a line.
    Lines,
}

/// How to print results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// JSON Lines, one object a verdict and a summary last.
    Json,
}

fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text).map_err(|e| format!("{e}; write it like 2026-11-26T12:00:00Z"))
}

fn parse_product_code(text: &str) -> Result<ProductCode, String> {
    ProductCode::new(text.to_owned()).map_err(|e| e.to_string())
}

fn parse_fault(text: &str) -> Result<String, String> {
    let mut faults = metering_emulator::Faults::default();
    crate::emulator::apply_fault(&mut faults, text)?;
    faults.validate().map_err(|e| e.to_string())?;
    Ok(text.to_owned())
}
