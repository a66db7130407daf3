//! `metering submit`: the library's submitter over the AWS SDK, with every record's outcome
//! appended to a file as it settles, so that `--resume` never sends a settled record again.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use metering_core::submit::{SubmitConfig, Submitter};
use metering_core::{
    AwsTransport, Clock, ManualClock, Outcome, Planner, RecordKey, RecordOutcome, SystemClock,
    UsageRecord,
};

use crate::args::{OutputFormat, SubmitArgs};
use crate::plan::read_records;
use crate::report::{self, ERROR, Exit, GOOD, WARN};

/// Requests sent between two writes of the outcomes file: what an interruption can leave
/// unrecorded (those records are resent identically on `--resume`, which the service
/// treats as the same record).
const REQUESTS_PER_CHUNK: usize = 10;

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

async fn transport(args: &SubmitArgs) -> AwsTransport {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = &args.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &args.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    AwsTransport::new(&loader.load().await)
}

/// The records cut into chunks along the lines of the requests the planner makes: records
/// of one key land in one chunk, so the submitter merges them exactly as it would at once.
/// Records the planner keeps back come first (the submitter records why).
fn chunks(records: Vec<UsageRecord>, now: metering_core::Timestamp) -> Vec<Vec<UsageRecord>> {
    let plan = Planner::default().plan(records, now);
    let kept_back: Vec<UsageRecord> = plan.quarantined.into_iter().map(|q| q.record).collect();
    let sendable = plan.requests.chunks(REQUESTS_PER_CHUNK).map(|requests| {
        requests
            .iter()
            .flat_map(|r| r.records().iter().cloned())
            .collect()
    });
    (!kept_back.is_empty())
        .then_some(kept_back)
        .into_iter()
        .chain(sendable)
        .collect()
}

/// Runs the command.
///
/// # Errors
/// What stopped it before records were sent, with what to do.
pub async fn run(args: &SubmitArgs) -> Result<Exit, String> {
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
        Some(now) => Arc::new(ManualClock::new(now)),
        None => Arc::new(SystemClock),
    };
    let chunks = chunks(records, clock.now());
    let config = SubmitConfig::default().with_clock(clock);
    let submitter = Submitter::with_config(transport(args).await, config);
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
    let total: usize = chunks.iter().map(Vec::len).sum();
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} records {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut summary = [0usize; 5];
    let mut stopped = None;
    for chunk in chunks {
        let size = chunk.len();
        let report = submitter.submit(chunk).await;
        for entry in &report.outcomes {
            summary[match entry.outcome {
                Outcome::Success { .. } => 0,
                Outcome::CustomerNotSubscribed => 1,
                Outcome::DuplicateRecord => 2,
                Outcome::Quarantined(_) => 3,
                _ => 4,
            }] += 1;
            report::json_line(&mut outcomes, entry)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        // On disk before the next request: an interruption loses at most one chunk.
        outcomes
            .flush()
            .and_then(|()| outcomes.get_ref().sync_data())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        bar.inc(size as u64);
        if let Some(failure) = report.stopped {
            stopped = Some(failure);
            break;
        }
    }
    bar.finish_and_clear();
    let [success, not_subscribed, duplicate, quarantined, pending] = summary;
    let unsent = total - summary.iter().sum::<usize>();
    let style = if success == total { GOOD } else { WARN };
    write_summary(&mut out, &path, skipped, style, summary, unsent).map_err(|e| e.to_string())?;
    if let Some(failure) = stopped {
        report::fail(format!(
            "the submission stopped: {failure}; fix the cause (credentials, region, product code), then run again with --resume"
        ));
        return Ok(Exit::Failed);
    }
    if not_subscribed + duplicate + quarantined + pending + unsent > 0 {
        exit = exit.max(Exit::Problems);
    }
    Ok(exit)
}

fn write_summary(
    out: &mut impl Write,
    path: &Path,
    skipped: usize,
    style: anstyle::Style,
    [success, not_subscribed, duplicate, quarantined, pending]: [usize; 5],
    unsent: usize,
) -> io::Result<()> {
    writeln!(
        out,
        "{style}{success} billed{style:#}, {not_subscribed} customer not subscribed, {duplicate} duplicate, {quarantined} quarantined, {pending} pending; {skipped} already settled before; outcomes in {}",
        path.display()
    )?;
    if pending + unsent > 0 {
        writeln!(
            out,
            "{ERROR}next{ERROR:#}: {} record(s) are not settled; run the same command with --resume to send them again (identically)",
            pending + unsent
        )?;
    }
    Ok(())
}
