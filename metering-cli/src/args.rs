//! The command line, as clap derives it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use metering_core::{ProductCode, Timestamp};
use metering_rules::catalog::Catalog;

/// Exit codes, listed in `--help` and the README.
pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  everything was valid, planned or settled
  1  some records are invalid, quarantined or not settled (see the verdicts), or a requeue
     was refused
  2  the command line is wrong (see the usage)
  3  a file, the network or the emulator failed before the work was done
  4  records still to send are within --margin of the service's deadline, or past it
     (`ledger status`)";

/// Validate, plan and submit AWS Marketplace usage, run the emulator, inspect the ledger.
#[derive(Debug, Parser)]
#[command(name = "metering", version, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check every record of usage files against every rule of the service, including
    /// whether it can still be sent now.
    #[command(after_help = "\
Files hold a BatchMeterUsage request ({\"ProductCode\": ..., \"UsageRecords\": [...]}) or JSON
Lines of UsageRecords entries, one a line (each line's ProductCode, or --product-code's). A
request file may hold more than 25 records: they are planned into requests. Timestamp is
epoch seconds or RFC 3339 text. Members are spelt as the service model spells them: another
member is an error naming the one meant, and so is a record without Quantity or
QuantityAsDecimal (--lenient reads as the service does: ignored, and 0).

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
~/.aws/config, instance or container role); the flags override them. An --endpoint-url on
this machine (localhost, 127.0.0.0/8, [::1]: the emulator, which checks no signature) needs
neither: it is sent with fixed local credentials and region us-east-1 unless --region or
--profile is given. Records are planned,
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
    Emulator(metering_emulator::ServeArgs),
    /// Inspect the Meter's ledger: counts, records waiting or kept back, requeue, export.
    #[command(subcommand)]
    Ledger(LedgerCommand),
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
pub(crate) struct InputArgs {
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
    /// The product's dimension list, as the derive's `catalog = "..."` reads it (a list of
    /// keys, the catalog's `Dimensions`, or a `DescribeEntity` answer): a record of a
    /// dimension it does not meter is refused, with the key probably meant.
    #[arg(long, value_name = "FILE", value_parser = parse_catalog)]
    pub catalog: Option<CatalogFile>,
    /// Read the files as the service reads a request, for files a program made: members
    /// the service model does not define are ignored, and a record without a quantity
    /// counts 0. Without it, those are errors: a typo such as `Quantiy` would bill 0.
    #[arg(long)]
    pub lenient: bool,
}

/// `metering validate`.
#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// The input.
    #[command(flatten)]
    pub input: InputArgs,
    /// How to print verdicts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `metering plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The input.
    #[command(flatten)]
    pub input: InputArgs,
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `metering submit`.
#[derive(Debug, Args)]
pub(crate) struct SubmitArgs {
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

/// `metering ledger`'s subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {
    /// Records per state in total and per hour, the oldest hour not settled, usage set
    /// aside.
    #[command(after_help = "\
Lists every hour from --since on, and every earlier hour that still has a record to settle.

Example:
  metering ledger status --ledger /var/lib/myapp/meter.sqlite
  metering ledger status --postgres postgres://metering@db:5432/billing --format json

Shows the most urgent record still to send (unsent or leased): the service accepts a record
for 24 hours after its hour, and a previous month's only until 06:00 UTC on the 1st.
As a cron job or health check, it fails (4) when that deadline is within --margin.

Example:
  metering ledger status --ledger /var/lib/myapp/meter.sqlite --margin 6h

Exit codes: 0 nothing waits for a person, 1 records are quarantined or usage is set aside
(see `metering ledger quarantined`), 3 the ledger cannot be read, 4 records still to send
are within --margin of the service's deadline, or past it.")]
    Status(StatusArgs),
    /// Records sealed and not settled yet (unsent or leased), with their last error.
    #[command(after_help = "\
Example:
  metering ledger pending --ledger /var/lib/myapp/meter.sqlite

Exit codes: 0 listed, 3 the ledger cannot be read.")]
    Pending(ListArgs),
    /// Records quarantined and usage set aside, with the reasons: they wait for a person.
    #[command(after_help = "\
Fix the cause a reason names, then put the record back with `metering ledger requeue ID`
(or `--set-aside ID` for usage set aside, to bill it in the current hour).

Example:
  metering ledger quarantined --ledger /var/lib/myapp/meter.sqlite --format json

Exit codes: 0 listed, 3 the ledger cannot be read.")]
    Quarantined(ListArgs),
    /// Put quarantined records (or usage set aside) back, once their cause is fixed: the
    /// Meter's next flush sends them.
    #[command(after_help = "\
A quarantined record is sent again as it was sealed; usage set aside is added, as late
usage, to the current hour and sent with it. Records in any other state are refused.

Example:
  metering ledger requeue --ledger /var/lib/myapp/meter.sqlite 42 43
  metering ledger requeue --ledger /var/lib/myapp/meter.sqlite --set-aside 7

Exit codes: 0 all put back, 1 some were refused (the message says why), 3 the ledger cannot
be read or written.")]
    Requeue(RequeueArgs),
    /// Every sealed record and every entry set aside, for audit: CSV or JSON Lines.
    #[command(after_help = "\
Example:
  metering ledger export --ledger /var/lib/myapp/meter.sqlite -o ledger-2026-11.csv
  metering ledger export --postgres \"$DATABASE_URL\" --format jsonl | gzip > ledger.jsonl.gz

Exit codes: 0 written, 3 the ledger cannot be read or the output cannot be written.")]
    Export(ExportArgs),
}

/// Which ledger to open: the Meter's SQLite file or the fleet's PostgreSQL database.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// The Meter's SQLite ledger file (it must exist).
    #[arg(long, value_name = "PATH")]
    #[cfg_attr(
        feature = "postgres",
        arg(required_unless_present = "postgres", conflicts_with = "postgres")
    )]
    #[cfg_attr(not(feature = "postgres"), arg(required = true))]
    pub ledger: Option<PathBuf>,
    /// The fleet's PostgreSQL ledger: `postgres://user:password@host:5432/database`.
    #[cfg(feature = "postgres")]
    #[arg(
        long,
        value_name = "URL",
        env = "METERING_POSTGRES_URL",
        hide_env_values = true
    )]
    pub postgres: Option<String>,
    /// The PostgreSQL schema holding the ledger's tables (default: the URL's
    /// `search_path`).
    #[cfg(feature = "postgres")]
    #[arg(long, value_name = "NAME", requires = "postgres")]
    pub schema: Option<String>,
}

/// `metering ledger status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The ledger.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The first hour to list (RFC 3339; default: 24 hours before --now).
    #[arg(long, value_parser = parse_timestamp, value_name = "RFC3339")]
    pub since: Option<Timestamp>,
    /// How to print it.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Fail (exit 4) when a record still to send has this little time left before the
    /// service's deadline, or less: hours, minutes, seconds, like `6h`, `90m`, `1h30m`.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", default_value = "6h")]
    pub margin: Duration,
    /// The time to judge deadlines at (RFC 3339; default: now).
    #[arg(long, value_parser = parse_timestamp, value_name = "RFC3339")]
    pub now: Option<Timestamp>,
}

/// `metering ledger pending` and `quarantined`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The ledger.
    #[command(flatten)]
    pub store: StoreArgs,
    /// How to print them: a table, or JSON Lines, one object a record.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `metering ledger requeue`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("ids").required(true).multiple(true))]
pub(crate) struct RequeueArgs {
    /// The ledger.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Quarantined records, by the id `metering ledger quarantined` shows.
    #[arg(value_name = "ID", value_parser = parse_id, group = "ids")]
    pub records: Vec<i64>,
    /// Entries of usage set aside, by the id `metering ledger quarantined` shows.
    #[arg(long = "set-aside", value_name = "ID", value_parser = parse_id, group = "ids")]
    pub set_aside: Vec<i64>,
    /// The time to put them back at (RFC 3339; default: now): records are sendable from
    /// then on, and usage set aside counts in that hour.
    #[arg(long, value_parser = parse_timestamp, value_name = "RFC3339")]
    pub now: Option<Timestamp>,
}

/// `metering ledger export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// The ledger.
    #[command(flatten)]
    pub store: StoreArgs,
    /// CSV (one header line, allocations as JSON in one column) or JSON Lines (each record
    /// in the service's wire form).
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
    /// The file to write (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// How `metering ledger export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// Comma-separated values.
    Csv,
    /// JSON Lines.
    Jsonl,
}

/// How usage files are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum InputFormat {
    /// A request if the first line is not a whole JSON object without `UsageRecords`.
    Auto,
    /// One `BatchMeterUsage` request body.
    Request,
    /// One `UsageRecords` entry a line.
    Lines,
}

/// How to print results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// For people.
    Text,
    /// JSON Lines, one object a verdict and a summary last.
    Json,
}

fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text).map_err(|e| format!("{e}; write it like 2026-11-26T12:00:00Z"))
}

/// A duration as whole hours, minutes and seconds, each at most once and in that order:
/// `6h`, `90m`, `1h30m`, `45s`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let wrong = |why: String| {
        format!("{text:?} is not a duration: {why}; write it like 6h, 90m or 1h30m (units h, m, s)")
    };
    let units = [('h', 3600), ('m', 60), ('s', 1)];
    let mut seconds: u64 = 0;
    let mut next = 0; // the first unit still allowed
    let mut rest = text;
    if rest.is_empty() {
        return Err(wrong("it is empty".into()));
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, after) = rest.split_at(digits);
        let unit = after.chars().next();
        let Some(unit) = unit else {
            return Err(wrong(format!("{number} has no unit")));
        };
        if number.is_empty() {
            return Err(wrong(format!("{unit:?} has no number before it")));
        }
        let Some(place) = units.iter().position(|&(name, _)| name == unit) else {
            return Err(wrong(format!("{unit:?} is not a unit")));
        };
        if place < next {
            return Err(wrong(format!("{unit:?} comes twice or out of order")));
        }
        let value: u64 = number
            .parse()
            .map_err(|_| wrong(format!("{number} is too large")))?;
        seconds = value
            .checked_mul(units[place].1)
            .and_then(|part| seconds.checked_add(part))
            .ok_or_else(|| wrong("it is too long".into()))?;
        next = place + 1;
        rest = &after[unit.len_utf8()..];
    }
    Ok(Duration::from_secs(seconds))
}

/// An id as the ledger's listings show it (`42`, or `#42` as the library prints it).
fn parse_id(text: &str) -> Result<i64, String> {
    text.trim_start_matches('#').parse().map_err(|e| {
        format!("{text:?} is not an id ({e}); use the id `metering ledger quarantined` shows")
    })
}

/// A catalog file, read whole when the command line is.
#[derive(Debug, Clone)]
pub(crate) struct CatalogFile {
    /// Its path, as given.
    pub name: String,
    /// What it lists.
    pub catalog: Catalog,
}

fn parse_catalog(path: &str) -> Result<CatalogFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the catalog file `{path}`: {e}"))?;
    Ok(CatalogFile {
        name: path.to_owned(),
        catalog: Catalog::parse_file(&text, path)?,
    })
}

fn parse_product_code(text: &str) -> Result<ProductCode, String> {
    ProductCode::new(text.to_owned()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::parse_duration;

    #[test]
    fn durations_are_hours_minutes_and_seconds_in_order_and_nothing_else() {
        for (text, seconds) in [("6h", 21_600), ("90m", 5_400), ("1h30m", 5_400), ("0s", 0)] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(seconds)),
                "{text}"
            );
        }
        assert_eq!(parse_duration("1h2m3s"), Ok(Duration::from_secs(3_723)));
        for (text, why) in [
            ("", "it is empty"),
            ("6", "6 has no unit"),
            ("h", "'h' has no number before it"),
            ("6d", "'d' is not a unit"),
            ("6 h", "' ' is not a unit"),
            ("30m1h", "'h' comes twice or out of order"),
            ("1h1h", "'h' comes twice or out of order"),
            ("-1h", "'-' has no number before it"),
            ("99999999999999999999h", "99999999999999999999 is too large"),
            ("9999999999999999h", "it is too long"),
        ] {
            let error = parse_duration(text).unwrap_err();
            assert!(
                error.starts_with(&format!("{text:?} is not a duration: {why};")),
                "{text}: {error}"
            );
        }
    }
}
