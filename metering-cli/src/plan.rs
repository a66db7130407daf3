//! `metering plan`: the requests a submission would send, and what it would keep back.

use std::io::{self, Write};

use metering_core::submit::SubmitConfig;
use metering_core::{Plan, RequestScope, UsageRecord};
use serde::Serialize;

use crate::args::{InputArgs, OutputFormat, PlanArgs};
use crate::input;
use crate::report::{self, BOLD, Exit, GOOD, WARN};
use crate::validate::{self, Problem};

/// The records of every file that read as records; bad entries are printed on the way.
///
/// # Errors
/// When the output cannot be written.
pub(crate) fn read_records(
    input: &InputArgs,
    format: OutputFormat,
    out: &mut impl Write,
) -> io::Result<(Vec<UsageRecord>, Exit)> {
    let mut records = Vec::new();
    let mut exit = Exit::Ok;
    for path in &input.files {
        let mut write_error = Ok(());
        let before = records.len();
        let read = input::read_file(path, input, |location, entry| match entry {
            Ok(record) => records.push(record),
            Err(bad) => {
                exit = Exit::Problems;
                if let Err(e) = validate::print_problem(out, format, &location, &Problem::Bad(bad))
                {
                    write_error = Err(e);
                }
            }
        });
        write_error?;
        if let Err(e) = read {
            // Nothing of a file that is not one JSON document is sent.
            records.truncate(before);
            exit = exit.max(validate::print_file_error(out, format, &e)?);
        }
    }
    Ok((records, exit))
}

#[derive(Serialize)]
struct RequestLine<'a> {
    request: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    product_code: Option<&'a str>,
    records: usize,
    bytes: usize,
    oldest: String,
    newest: String,
}

#[derive(Serialize)]
struct Totals {
    records_read: usize,
    requests: usize,
    records_to_send: usize,
    merged: usize,
    quarantined: usize,
    now: String,
}

/// Runs the command.
///
/// # Errors
/// When the output cannot be written.
pub(crate) fn run(args: &PlanArgs) -> io::Result<Exit> {
    let now = validate::now(&args.input);
    let mut out = report::stdout();
    let (records, mut exit) = read_records(&args.input, args.format, &mut out)?;
    let read = records.len();
    // The planner `metering submit` uses: the plan shown is the plan sent.
    let plan = SubmitConfig::default().planner().plan(records, now);
    let to_send = plan.records_to_send();
    let totals = Totals {
        records_read: read,
        requests: plan.requests.len(),
        records_to_send: to_send,
        merged: read - to_send - plan.quarantined.len(),
        quarantined: plan.quarantined.len(),
        now: now.to_string(),
    };
    if !plan.quarantined.is_empty() {
        exit = exit.max(Exit::Problems);
    }
    match args.format {
        OutputFormat::Json => print_json(&mut out, &plan, &totals)?,
        OutputFormat::Text => print_text(&mut out, &plan, &totals)?,
    }
    out.flush()?;
    Ok(exit)
}

fn lines(plan: &Plan) -> impl Iterator<Item = RequestLine<'_>> {
    plan.requests.iter().enumerate().map(|(index, request)| {
        let times = request.records().iter().map(UsageRecord::timestamp);
        RequestLine {
            request: index + 1,
            product_code: match request.scope() {
                RequestScope::Product(code) => Some(code.as_str()),
                RequestScope::Licensed => None,
            },
            records: request.records().len(),
            bytes: request.body_bytes(),
            oldest: times
                .clone()
                .min()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            newest: times.max().map(|t| t.to_string()).unwrap_or_default(),
        }
    })
}

fn print_json(out: &mut impl Write, plan: &Plan, totals: &Totals) -> io::Result<()> {
    for line in lines(plan) {
        report::json_line(out, &line)?;
    }
    for kept in &plan.quarantined {
        let line =
            serde_json::json!({"quarantined": kept.record, "reason": kept.reason.to_string()});
        report::json_line(out, &line)?;
    }
    report::json_line(out, &serde_json::json!({ "summary": totals }))
}

fn print_text(out: &mut impl Write, plan: &Plan, totals: &Totals) -> io::Result<()> {
    writeln!(
        out,
        "{BOLD}request  product code                records    bytes  oldest record{BOLD:#}"
    )?;
    for line in lines(plan) {
        writeln!(
            out,
            "{:>7}  {:<26}  {:>7}  {:>7}  {}",
            line.request,
            line.product_code.unwrap_or("(licensed)"),
            line.records,
            line.bytes,
            line.oldest
        )?;
    }
    for kept in &plan.quarantined {
        report::not_billed(out, "kept back", &kept.record, &kept.reason)?;
    }
    let style = if totals.quarantined > 0 { WARN } else { GOOD };
    writeln!(
        out,
        "{style}{} request(s) carrying {} record(s){style:#} from {} read at {}: {} merged into records of the same customer, dimension and hour, {} kept back",
        totals.requests,
        totals.records_to_send,
        totals.records_read,
        totals.now,
        totals.merged,
        totals.quarantined
    )?;
    if totals.quarantined > 0 {
        writeln!(
            out,
            "{WARN}next{WARN:#}: records kept back are not sent; fix their cause (the reason above) or keep them for your records"
        )?;
    }
    Ok(())
}
