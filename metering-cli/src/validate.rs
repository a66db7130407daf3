//! `metering validate`: a verdict for every bad record, a summary, an exit code.

use std::io::{self, Write};

use metering_core::submit::SubmitConfig;
use metering_core::{
    Clock, EntryError, Planner, QuarantineReason, Rule, SystemClock, Timestamp, UsageRecord,
};
use serde::Serialize;

use crate::args::{InputArgs, OutputFormat, ValidateArgs};
use crate::input::{self, BadEntry, FileError, Location};
use crate::report::{self, ERROR, Exit, GOOD, WARN};

/// One bad record, as `--format json` prints it.
#[derive(Debug, Serialize)]
struct Verdict<'a> {
    file: &'a str,
    record: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    /// `malformed`, `type`, `rule` or `unsendable`.
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    message: String,
}

/// The counts a run ends with.
#[derive(Debug, Default, Serialize)]
struct Summary {
    files: usize,
    records: usize,
    valid: usize,
    malformed: usize,
    wrong_type: usize,
    broken_rule: usize,
    unsendable: usize,
    unreadable_files: usize,
    now: String,
}

impl Summary {
    fn invalid(&self) -> usize {
        self.malformed + self.wrong_type + self.broken_rule + self.unsendable
    }
}

/// The time to judge at, to the second: `--now`, or the clock.
pub(crate) fn now(input: &InputArgs) -> Timestamp {
    report::to_the_second(input.now.unwrap_or_else(|| SystemClock.now()))
}

/// Whether `record` could be sent alone at `now`, as the planner judges it (its time window
/// and its size).
pub(crate) fn unsendable(
    planner: &Planner,
    record: UsageRecord,
    now: Timestamp,
) -> Option<QuarantineReason> {
    planner
        .plan(std::iter::once(record), now)
        .quarantined
        .pop()
        .map(|quarantined| quarantined.reason)
}

fn verdict<'a>(location: &Location<'a>, problem: &'a Problem) -> Verdict<'a> {
    let (kind, field, rule, value) = match problem {
        Problem::Bad(BadEntry::Entry(EntryError::Invalid(e))) => (
            if matches!(e.rule, Rule::JsonType(_)) {
                "type"
            } else {
                "rule"
            },
            Some(e.field.as_str()),
            e.rule.to_string(),
            Some(e.value.clone()),
        ),
        Problem::Bad(BadEntry::NotInCatalog { key, message }) => (
            "rule",
            Some("Dimension"),
            message.clone(),
            Some(key.clone()),
        ),
        Problem::Bad(BadEntry::Entry(EntryError::Json(e))) => {
            ("malformed", None, format!("malformed JSON: {e}"), None)
        }
        Problem::Bad(other) => ("malformed", None, other.to_string(), None),
        Problem::Unsendable(reason, timestamp) => {
            let field = matches!(reason, QuarantineReason::Time(_)).then_some("Timestamp");
            let rule = format!("cannot be sent at this time: {reason}");
            ("unsendable", field, rule, Some(timestamp.to_string()))
        }
    };
    let message = match (kind, field) {
        ("rule", Some("ProductCode")) if rule == Rule::Required.to_string() => {
            // The product of a file's records may come from the command line.
            let place = if location.line.is_some() {
                "on the line"
            } else {
                "in the request"
            };
            format!("{problem}; give it {place} or with --product-code")
        }
        ("rule" | "type", _) => problem.to_string(),
        (_, Some(field)) => format!("{field}: {rule}"),
        (_, None) => rule.clone(),
    };
    Verdict {
        file: location.file,
        record: location.record,
        line: location.line,
        kind,
        field,
        rule,
        value,
        message,
    }
}

/// What is wrong with one entry.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Problem {
    /// Not a record.
    #[error(transparent)]
    Bad(BadEntry),
    /// A record the service would not take now.
    #[error("{0}")]
    Unsendable(QuarantineReason, Timestamp),
}

/// Prints a verdict on one entry; returns its kind (`malformed`, `type`, `rule`,
/// `unsendable`).
///
/// # Errors
/// When the output cannot be written.
pub(crate) fn print_problem(
    out: &mut impl Write,
    format: OutputFormat,
    location: &Location<'_>,
    problem: &Problem,
) -> io::Result<&'static str> {
    let verdict = verdict(location, problem);
    match format {
        OutputFormat::Json => report::json_line(out, &verdict)?,
        OutputFormat::Text => writeln!(
            out,
            "{ERROR}invalid{ERROR:#} {location}: {}",
            verdict.message
        )?,
    }
    Ok(verdict.kind)
}

/// Reports a file that could not be read whole; returns the exit it calls for.
///
/// # Errors
/// When the output cannot be written.
pub(crate) fn print_file_error(
    out: &mut impl Write,
    format: OutputFormat,
    e: &FileError,
) -> io::Result<Exit> {
    match format {
        OutputFormat::Json => report::json_line(
            out,
            &serde_json::json!({"file": e.file(), "kind": "file", "message": e.to_string()}),
        )?,
        OutputFormat::Text => report::fail(e),
    }
    Ok(match e {
        FileError::Io { .. } => Exit::Failed,
        _ => Exit::Problems,
    })
}

/// Runs the command.
pub(crate) fn run(args: &ValidateArgs, out: &mut impl Write) -> io::Result<Exit> {
    let now = now(&args.input);
    // The planner `metering submit` uses: valid here means sendable there.
    let planner = SubmitConfig::default().planner();
    let mut summary = Summary {
        now: now.to_string(),
        ..Summary::default()
    };
    let mut exit = Exit::Ok;
    for path in &args.input.files {
        let mut write_error = Ok(());
        summary.files += 1;
        let valid_before = summary.valid;
        let read = input::read_file(path, &args.input, |location, entry| {
            summary.records += 1;
            let problem = match entry {
                Ok(record) => {
                    let timestamp = record.timestamp();
                    match unsendable(&planner, record, now) {
                        None => {
                            summary.valid += 1;
                            return;
                        }
                        Some(reason) => Problem::Unsendable(reason, timestamp),
                    }
                }
                Err(bad) => Problem::Bad(bad),
            };
            match print_problem(out, args.format, &location, &problem) {
                Ok("rule") => summary.broken_rule += 1,
                Ok("type") => summary.wrong_type += 1,
                Ok("unsendable") => summary.unsendable += 1,
                Ok(_) => summary.malformed += 1,
                Err(e) => write_error = Err(e),
            }
        });
        write_error?;
        if let Err(e) = read {
            // A file that is not one JSON document (a trailing comma) is not sent at all:
            // none of the records read before the fault is valid.
            summary.valid = valid_before;
            summary.unreadable_files += 1;
            exit = exit.max(print_file_error(out, args.format, &e)?);
        }
    }
    if summary.invalid() > 0 {
        exit = exit.max(Exit::Problems);
    }
    match args.format {
        OutputFormat::Json => {
            report::json_line(out, &serde_json::json!({ "summary": summary }))?;
        }
        OutputFormat::Text => print_summary(out, &summary)?,
    }
    out.flush()?;
    Ok(exit)
}

fn print_summary(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    let style = if s.invalid() > 0 || s.unreadable_files > 0 {
        ERROR
    } else {
        GOOD
    };
    write!(
        out,
        "{style}{} of {} records valid{style:#} in {} file(s) at {}",
        s.valid, s.records, s.files, s.now
    )?;
    if s.unreadable_files > 0 {
        write!(
            out,
            "; {} file(s) not read whole (malformed, empty or unreadable; said above): none of their records counts",
            s.unreadable_files
        )?;
    }
    if s.invalid() == 0 {
        return writeln!(out);
    }
    writeln!(
        out,
        "; {} malformed, {} of a wrong type, {} breaking a rule, {} too late or too early to send",
        s.malformed, s.wrong_type, s.broken_rule, s.unsendable
    )?;
    if s.malformed + s.wrong_type + s.broken_rule > 0 {
        writeln!(
            out,
            "{WARN}next{WARN:#}: fix the records named above (field, rule, value) and validate again"
        )?;
    }
    if s.unsendable > 0 {
        writeln!(
            out,
            "{WARN}next{WARN:#}: records past the 24-hour window or the month-end cut-off can no longer be billed; keep them for your records and send the rest"
        )?;
    }
    Ok(())
}
