//! `metering submit`: the library's submitter over the AWS SDK, with every record's outcome
//! appended to a file as it settles, so that `--resume` never sends a settled record again.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use metering_core::submit::{SubmitConfig, Submitter};
use metering_core::{
    AwsTransport, Clock, ManualClock, Outcome, RecordKey, RecordOutcome, Summary, UsageRecord,
};
use serde::Serialize;

use crate::args::{OutputFormat, SubmitArgs};
use crate::plan::read_records;
use crate::report::{self, ERROR, Exit, GOOD, WARN};

/// Requests sent between two writes of the outcomes file: what an interruption can leave
/// unrecorded (those records are resent identically on `--resume`, which the service
/// treats as the same record).
const REQUESTS_PER_BATCH: usize = 10;

/// The outcomes file: given, or beside the first input.
fn outcomes_path(args: &SubmitArgs) -> PathBuf {
    args.outcomes.clone().unwrap_or_else(|| {
        let first = &args.input.files[0];
        let name = first.file_name().map_or_else(
            || "stdin".into(),
            |name| name.to_string_lossy().into_owned(),
        );
        first.with_file_name(format!("{name}.outcomes.jsonl"))
    })
}

/// The keys already settled in an outcomes file (anything but `Pending`).
fn settled_keys(path: &Path) -> Result<HashSet<RecordKey>, String> {
    let file = File::open(path).map_err(|e| {
        format!("{}: cannot read the outcomes to resume from: {e}; run without --resume to start afresh", path.display())
    })?;
    let mut settled = HashSet::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        // A line cut short by an interruption is the last one: its records are resent.
        let Ok(entry) = serde_json::from_str::<RecordOutcome>(&line) else {
            continue;
        };
        if !matches!(entry.outcome, Outcome::Pending { .. }) {
            settled.insert(entry.record.key());
        }
    }
    Ok(settled)
}

/// The region of a loopback endpoint when none is given: the emulator serves any.
const LOCAL_REGION: &str = "us-east-1";

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, `[::1]`): an emulator, which
/// checks no credentials and serves every region.
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn transport(args: &SubmitArgs) -> AwsTransport {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = &args.endpoint_url {
        loader = loader.endpoint_url(url);
        // Nothing to look up for a local emulator: not the instance's role (IMDS), and no
        // region from a configuration this machine may not have.
        if is_loopback(url) && args.profile.is_none() {
            loader = loader
                .test_credentials()
                .region(aws_config::Region::from_static(LOCAL_REGION));
        }
    }
    if let Some(region) = &args.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    AwsTransport::new(&loader.load().await)
}

/// Runs the command.
///
/// # Errors
/// What stopped it before records were sent, with what to do.
pub(crate) async fn run(args: &SubmitArgs) -> Result<Exit, String> {
    let path = outcomes_path(args);
    let settled = if args.resume {
        settled_keys(&path)?
    } else if path.exists() {
        return Err(format!(
            "{}: outcomes of an earlier submission are there; continue it with --resume (settled records are not sent again), or move the file away",
            path.display()
        ));
    } else {
        HashSet::new()
    };
    let mut out = report::stdout();
    let (records, mut exit) =
        read_records(&args.input, OutputFormat::Text, &mut out).map_err(|e| e.to_string())?;
    let read = records.len();
    let records: Vec<UsageRecord> = records
        .into_iter()
        .filter(|record| !settled.contains(&record.key()))
        .collect();
    let skipped = read - records.len();
    let clock: Arc<dyn Clock> = match args.input.now {
        Some(now) => Arc::new(ManualClock::new(report::to_the_second(now))),
        None => Arc::new(report::WholeSeconds),
    };
    let config = SubmitConfig::default().with_clock(clock);
    let submitter = Submitter::with_config(transport(args).await, config);
    // Plan, inspect, then send: the plan is the library's, as `metering plan` shows it.
    let plan = submitter.plan(records);
    let (to_send, kept_back) = (plan.records_to_send(), plan.quarantined.len());
    let total = to_send + kept_back;
    writeln!(
        out,
        "{} request(s) to send carrying {to_send} record(s), {kept_back} kept back",
        plan.requests.len()
    )
    .map_err(|e| e.to_string())?;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| {
            format!(
                "{}: cannot write outcomes: {e}; choose another file with --outcomes",
                path.display()
            )
        })?;
    let mut outcomes = BufWriter::new(file);
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} records {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut summary = Summary::default();
    let mut stopped = None;
    for batch in plan.into_batches(REQUESTS_PER_BATCH) {
        let report = submitter.send(batch).await;
        for entry in &report.outcomes {
            let line = OutcomeLine {
                entry,
                message: entry.outcome.to_string(),
            };
            report::json_line(&mut outcomes, &line)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            bar.suspend(|| print_not_billed(&mut out, entry))
                .map_err(|e| e.to_string())?;
        }
        // On disk before the next request: an interruption loses at most one batch.
        outcomes
            .flush()
            .and_then(|()| outcomes.get_ref().sync_data())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        bar.inc(report.outcomes.len() as u64);
        summary += report.summary();
        if let Some(failure) = report.stopped {
            stopped = Some(failure);
            break;
        }
    }
    bar.finish_and_clear();
    let settled =
        summary.success + summary.not_subscribed + summary.duplicate + summary.quarantined;
    let unsettled = total - settled;
    write_summary(&mut out, &path, skipped, summary, unsettled).map_err(|e| e.to_string())?;
    if let Some(failure) = stopped {
        report::fail(format!(
            "the submission stopped: {failure}; fix the cause (credentials, region, product code), then run again with --resume"
        ));
        return Ok(Exit::Failed);
    }
    if summary.success != total {
        exit = exit.max(Exit::Problems);
    }
    Ok(exit)
}

/// A line of the outcomes file: the outcome as the library serializes it (what `--resume`
/// reads), and in words.
#[derive(Serialize)]
struct OutcomeLine<'a> {
    #[serde(flatten)]
    entry: &'a RecordOutcome,
    message: String,
}

/// A record settled without being billed, with why; nothing for one billed or pending
/// (the summary counts those).
fn print_not_billed(out: &mut impl Write, entry: &RecordOutcome) -> io::Result<()> {
    let (label, why) = match &entry.outcome {
        Outcome::Quarantined(reason) => ("kept back", reason.to_string()),
        Outcome::CustomerNotSubscribed => (
            "not billed",
            "CustomerNotSubscribed: the customer is not subscribed to the product".to_owned(),
        ),
        Outcome::DuplicateRecord => (
            "not billed",
            "DuplicateRecord: the service already had another quantity for this customer, dimension and hour".to_owned(),
        ),
        _ => return Ok(()),
    };
    report::not_billed(out, label, &entry.record, why)
}

fn write_summary(
    out: &mut impl Write,
    path: &Path,
    skipped: usize,
    summary: Summary,
    unsettled: usize,
) -> io::Result<()> {
    let style = if unsettled + summary.not_subscribed + summary.duplicate + summary.quarantined == 0
    {
        GOOD
    } else {
        WARN
    };
    writeln!(
        out,
        "{style}{summary}{style:#}; {skipped} already settled before; outcomes in {}",
        path.display()
    )?;
    if unsettled > 0 {
        writeln!(
            out,
            "{ERROR}next{ERROR:#}: {unsettled} record(s) are not settled; run the same command with --resume to send them again (identically)"
        )?;
    }
    Ok(())
}
