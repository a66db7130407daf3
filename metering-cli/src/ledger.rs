//! `metering ledger`: the Meter's ledger (a SQLite file, or PostgreSQL) as an operator
//! sees it. Every count, state and rule is the library's [`Ledger`]'s.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::time::Duration;

use metering_core::ledger::{
    DeadlineLevel, HourStatus, LedgerError, LedgerInspection, LedgerStatus, LevelHeld, RecordId,
    RecordState, SetAside, SetAsideId, SetAsideRequeue, SqliteLedger, StoredRecord, TimeLeft,
    Watched,
};
use metering_core::{Clock, Customer, Hour, MeterConfig, SystemClock};
use serde::Serialize;
use serde_json::Value;

use crate::args::{
    ExportArgs, ExportFormat, LedgerCommand, ListArgs, OutputFormat, RequeueArgs, StatusArgs,
    StoreArgs,
};
use crate::report::{self, BOLD, ERROR, Exit, GOOD, WARN};

/// Runs a `metering ledger` subcommand on the ledger its arguments name.
///
/// # Errors
/// What stopped it (the ledger cannot be opened, read or written, the output cannot be
/// written), with what to do.
pub(crate) async fn run(command: &LedgerCommand) -> Result<Exit, String> {
    let store = match command {
        LedgerCommand::Status(StatusArgs { store, .. })
        | LedgerCommand::Pending(ListArgs { store, .. })
        | LedgerCommand::Quarantined(ListArgs { store, .. })
        | LedgerCommand::Requeue(RequeueArgs { store, .. })
        | LedgerCommand::Export(ExportArgs { store, .. }) => store,
    };
    #[cfg(feature = "postgres")]
    if let Some(url) = &store.postgres {
        return run_on(&postgres(url, store.schema.as_deref()).await?, command).await;
    }
    run_on(&sqlite(store)?, command).await
}

fn sqlite(store: &StoreArgs) -> Result<SqliteLedger, String> {
    let path = store
        .ledger
        .as_ref()
        .ok_or("no ledger given: name the Meter's file with --ledger PATH")?;
    SqliteLedger::open_existing(path).map_err(|e| {
        format!("{e}; give --ledger the path the Meter opens (Meter::open or SqliteLedger::open)")
    })
}

#[cfg(feature = "postgres")]
async fn postgres(
    url: &str,
    schema: Option<&str>,
) -> Result<metering_core::ledger::PostgresLedger, String> {
    let hint = "check --postgres (postgres://user:password@host:5432/database) and --schema";
    let mut builder = metering_core::ledger::PostgresLedger::builder(url)
        .map_err(|e| format!("{e}; {hint}"))?
        .max_connections(2)
        .wait_timeout(Duration::from_secs(10));
    if let Some(schema) = schema {
        builder = builder.schema(schema).map_err(|e| format!("{e}; {hint}"))?;
    }
    builder
        .connect()
        .await
        .map_err(|e| format!("cannot reach the ledger: {e}; {hint}"))
}

async fn run_on(ledger: &impl LedgerInspection, command: &LedgerCommand) -> Result<Exit, String> {
    match command {
        LedgerCommand::Status(args) => status(ledger, args).await,
        LedgerCommand::Pending(args) => {
            let mut records = read(ledger.records(Some(RecordState::Unsent)).await)?;
            records.extend(read(ledger.records(Some(RecordState::Leased)).await)?);
            records.sort_by_key(|stored| (stored.record.timestamp(), stored.id));
            list(&records, &[], args.format, "pending").map_err(|e| output_error(&e))?;
            Ok(Exit::Ok)
        }
        LedgerCommand::Quarantined(args) => {
            let records = read(ledger.records(Some(RecordState::Quarantined)).await)?;
            let set_aside = read(ledger.set_aside().await)?;
            list(&records, &set_aside, args.format, "quarantined").map_err(|e| output_error(&e))?;
            Ok(Exit::Ok)
        }
        LedgerCommand::Requeue(args) => requeue(ledger, args).await,
        LedgerCommand::Export(args) => {
            let records = read(ledger.records(None).await)?;
            let set_aside = read(ledger.set_aside().await)?;
            export(&records, &set_aside, args)?;
            Ok(Exit::Ok)
        }
    }
}

fn read<T>(result: Result<T, LedgerError>) -> Result<T, String> {
    result.map_err(|e| format!("cannot read the ledger: {e}; check it is reachable and try again"))
}

fn output_error(e: &io::Error) -> String {
    format!("cannot write the output: {e}")
}

/// Counts per state as a JSON object, `{"unsent": 0, ...}`.
fn counts(records: &[(RecordState, u64)]) -> Value {
    records
        .iter()
        .map(|(state, count)| (state.as_str().to_owned(), Value::from(*count)))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

async fn status(ledger: &impl LedgerInspection, args: &StatusArgs) -> Result<Exit, String> {
    let now = args.now.unwrap_or_else(|| SystemClock.now());
    // The hour --since falls in, or the hour 24 hours before --now.
    let since = Hour::of(
        args.since
            .unwrap_or_else(|| now.saturating_sub(Duration::from_hours(24))),
    );
    let status = read(ledger.status().await)?;
    let hours = read(ledger.hours(since).await)?;
    let levels = read(ledger.levels().await)?;
    // The flusher's own reading of deadlines, with --margin as its warning margin.
    let rules = MeterConfig::new()
        .with_deadline_warning(args.margin)
        .with_deadline_error(Duration::ZERO);
    let watched = Watched::new(read(ledger.unsettled().await)?, now, &rules);
    let urgent = watched.most_urgent();
    let due = urgent.is_some_and(|urgent| urgent.level != DeadlineLevel::Far);
    let waiting = status.count(RecordState::Quarantined) + status.set_aside;
    let mut out = report::stdout();
    let written = match args.format {
        OutputFormat::Json => {
            let hours: Vec<Value> = hours
                .iter()
                .map(|hour| {
                    serde_json::json!({"hour": hour.hour.to_string(), "records": counts(&hour.records)})
                })
                .collect();
            let line = serde_json::json!({
                "records": counts(&status.records),
                "hours": hours,
                "since": since.to_string(),
                "set_aside": status.set_aside,
                "open_keys": status.open_keys,
                "levels_held": levels.iter().map(|held| serde_json::json!({
                    "customer": held.key.customer().to_string(),
                    "dimension": held.key.dimension().as_str(),
                    "level": held.level.to_string(),
                    "since": held.since.to_string(),
                })).collect::<Vec<_>>(),
                "oldest_unsent_hour": status.oldest_unsent_hour.map(|t| t.to_string()),
                "sealed_before": status.sealed_before.map(|t| t.to_string()),
                "now": now.to_string(),
                "margin_seconds": args.margin.as_secs(),
                "most_urgent": urgent.map(|urgent| serde_json::json!({
                    "hour": urgent.hour.to_string(),
                    "records": urgent.records,
                    "deadline": urgent.deadline.to_string(),
                    "left_seconds": urgent.left_seconds(now),
                    "within_margin": due,
                })),
            });
            report::json_line(&mut out, &line)
        }
        OutputFormat::Text => print_status(&mut out, &status, &hours, since)
            .and_then(|()| print_levels(&mut out, &levels))
            .and_then(|()| print_deadline(&mut out, &watched, args.margin)),
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| output_error(&e))?;
    Ok(if due {
        Exit::Deadline
    } else if waiting > 0 {
        Exit::Problems
    } else {
        Exit::Ok
    })
}

/// The most urgent record still to send, and whether its deadline is within `margin`.
fn print_deadline(out: &mut impl Write, watched: &Watched, margin: Duration) -> io::Result<()> {
    let Some(urgent) = watched.most_urgent() else {
        return writeln!(out, "most urgent: nothing left to send");
    };
    let left = urgent.left_seconds(watched.at);
    writeln!(
        out,
        "most urgent: {} record(s) of hour {} still to send, accepted until {} ({} left)",
        urgent.records,
        urgent.hour,
        urgent.deadline,
        TimeLeft(left)
    )?;
    match urgent.level {
        DeadlineLevel::Far => Ok(()),
        _ if left <= 0.0 => writeln!(
            out,
            "{ERROR}deadline{ERROR:#}: past it, the service no longer accepts them: they can no longer be billed (see `metering ledger pending`)"
        ),
        _ => writeln!(
            out,
            "{ERROR}deadline{ERROR:#}: within the margin of {}: check the flusher sends (see `metering ledger pending` for the last error)",
            TimeLeft(margin.as_secs_f64())
        ),
    }
}

fn print_status(
    out: &mut impl Write,
    status: &LedgerStatus,
    hours: &[HourStatus],
    since: Hour,
) -> io::Result<()> {
    let header: Vec<&str> = std::iter::once("hour")
        .chain(RecordState::ALL.iter().map(|state| state.as_str()))
        .collect();
    let row = |label: String, records: &[(RecordState, u64)]| {
        std::iter::once(label)
            .chain(records.iter().map(|(_, count)| count.to_string()))
            .collect::<Vec<_>>()
    };
    let mut rows: Vec<Vec<String>> = hours
        .iter()
        .map(|hour| row(hour.hour.to_string(), &hour.records))
        .collect();
    rows.push(row("all hours".to_owned(), &status.records));
    print_table(out, &header, &rows, |column| column > 0)?;
    if hours.is_empty() {
        writeln!(out, "(no records since {since}, and none older to settle)")?;
    }
    let oldest = status
        .oldest_unsent_hour
        .map_or_else(|| "none".to_owned(), |t| t.to_string());
    let sealed = status.sealed_before.map_or_else(
        || "none yet".to_owned(),
        |t| format!("every hour before {t}"),
    );
    writeln!(out, "oldest hour not settled: {oldest}")?;
    writeln!(out, "sealed: {sealed}")?;
    writeln!(
        out,
        "keys with usage in hours not sealed yet: {}",
        status.open_keys
    )?;
    writeln!(out, "usage set aside: {}", status.set_aside)?;
    let quarantined = status.count(RecordState::Quarantined);
    if quarantined + status.set_aside > 0 {
        writeln!(
            out,
            "{WARN}next{WARN:#}: {quarantined} record(s) quarantined and {} entry(ies) set aside wait for a person: see `metering ledger quarantined`",
            status.set_aside
        )?;
    } else {
        writeln!(out, "{GOOD}nothing waits for a person{GOOD:#}")?;
    }
    Ok(())
}

/// The levels held: each bills every hour until it changes, with or without a process.
fn print_levels(out: &mut impl Write, levels: &[LevelHeld]) -> io::Result<()> {
    if levels.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "levels held, billed every hour until changed: {}",
        levels.len()
    )?;
    for held in levels {
        writeln!(
            out,
            "  {} of {}: {} since {}",
            held.key.dimension(),
            held.key.customer(),
            held.level,
            held.since
        )?;
    }
    Ok(())
}

/// A table: the header in bold, columns two spaces apart, the `numeric` ones aligned right,
/// a last one of text unpadded (it holds long reasons).
fn print_table(
    out: &mut impl Write,
    header: &[&str],
    rows: &[Vec<String>],
    numeric: impl Fn(usize) -> bool,
) -> io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|name| name.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let last = header.len() - 1;
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut line = String::new();
        for (column, (cell, &width)) in cells.zip(&widths).enumerate() {
            if column > 0 {
                line.push_str("  ");
            }
            let cell = if numeric(column) {
                format!("{cell:>width$}")
            } else if column == last {
                cell.to_owned()
            } else {
                format!("{cell:<width$}")
            };
            line.push_str(&cell);
        }
        line.trim_end().to_owned()
    };
    writeln!(out, "{BOLD}{}{BOLD:#}", line(&mut header.iter().copied()))?;
    for row in rows {
        writeln!(out, "{}", line(&mut row.iter().map(String::as_str)))?;
    }
    Ok(())
}

/// A sealed record or an entry set aside, as listings and exports show it.
#[derive(Debug, Serialize)]
struct Line<'a> {
    /// `record` or `set_aside`.
    kind: &'static str,
    id: i64,
    /// The record's state; `set_aside` for an entry.
    state: &'static str,
    hour: String,
    product_code: Option<&'a str>,
    customer_identifier: Option<&'a str>,
    customer_aws_account_id: Option<&'a str>,
    license_arn: Option<&'a str>,
    dimension: &'a str,
    /// The kind of the dimension's usage (`sum`, `max`, `distinct`, `level`): what the
    /// quantity is.
    dimension_kind: &'static str,
    quantity: String,
    /// The record's allocations, or the entry's tags.
    allocations: Option<Value>,
    /// How much of a record's quantity came late.
    late: Option<String>,
    attempt: Option<u32>,
    metering_record_id: Option<&'a str>,
    /// Why it is quarantined or set aside, or a pending record's last error.
    detail: Option<&'a str>,
    /// When an entry was set aside.
    set_aside_at: Option<String>,
}

/// The customer's wire fields: product code, customer identifier, account, licence.
fn customer_fields(customer: &Customer) -> [Option<&str>; 4] {
    customer.wire_fields().named().map(|(_, value)| value)
}

fn record_line(stored: &StoredRecord) -> Line<'_> {
    let record = &stored.record;
    let [
        product_code,
        customer_identifier,
        customer_aws_account_id,
        license_arn,
    ] = customer_fields(record.customer());
    // The allocations exactly as the service receives them.
    let allocations = record
        .allocations()
        .and_then(|_| serde_json::to_value(record).ok())
        .and_then(|mut wire| wire.get_mut("UsageAllocations").map(Value::take));
    Line {
        kind: "record",
        id: stored.id.0,
        state: stored.state.as_str(),
        hour: record.timestamp().to_string(),
        product_code,
        customer_identifier,
        customer_aws_account_id,
        license_arn,
        dimension: record.dimension().as_str(),
        dimension_kind: stored.kind.as_str(),
        quantity: record.quantity().to_string(),
        allocations,
        late: Some(stored.late.to_string()),
        attempt: Some(stored.attempt),
        metering_record_id: stored.metering_record_id.as_deref(),
        detail: stored.detail.as_deref(),
        set_aside_at: None,
    }
}

fn set_aside_line(entry: &SetAside) -> Line<'_> {
    let [
        product_code,
        customer_identifier,
        customer_aws_account_id,
        license_arn,
    ] = customer_fields(entry.key.customer());
    let tags = entry.key.tags().map(|tags| {
        tags.as_slice()
            .iter()
            .map(|tag| (tag.key.to_string(), Value::from(tag.value.as_str())))
            .collect::<serde_json::Map<_, _>>()
            .into()
    });
    Line {
        kind: "set_aside",
        id: entry.id.0,
        state: "set_aside",
        hour: entry.hour.to_string(),
        product_code,
        customer_identifier,
        customer_aws_account_id,
        license_arn,
        dimension: entry.key.dimension().as_str(),
        dimension_kind: entry.kind.as_str(),
        quantity: entry.quantity.to_string(),
        allocations: tags,
        late: None,
        attempt: None,
        metering_record_id: None,
        detail: Some(&entry.reason),
        set_aside_at: Some(entry.at.to_string()),
    }
}

/// Records (and entries set aside) as a table, or as JSON Lines.
fn list(
    records: &[StoredRecord],
    set_aside: &[SetAside],
    format: OutputFormat,
    what: &str,
) -> io::Result<()> {
    let mut out = report::stdout();
    if format == OutputFormat::Json {
        for line in records.iter().map(record_line) {
            report::json_line(&mut out, &line)?;
        }
        for line in set_aside.iter().map(set_aside_line) {
            report::json_line(&mut out, &line)?;
        }
        return out.flush();
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|stored| {
            let record = &stored.record;
            vec![
                stored.id.0.to_string(),
                stored.state.as_str().to_owned(),
                record.timestamp().to_string(),
                record.customer().to_string(),
                record.dimension().to_string(),
                stored.kind.to_string(),
                record.quantity().to_string(),
                stored.detail.clone().unwrap_or_default(),
            ]
        })
        .chain(set_aside.iter().map(|entry| {
            vec![
                format!("aside {}", entry.id.0),
                "set_aside".to_owned(),
                entry.hour.to_string(),
                entry.key.customer().to_string(),
                entry.key.dimension().to_string(),
                entry.kind.to_string(),
                entry.quantity.to_string(),
                entry.reason.clone(),
            ]
        }))
        .collect();
    let header = [
        "id",
        "state",
        "hour",
        "customer",
        "dimension",
        "kind",
        "quantity",
        "detail",
    ];
    print_table(&mut out, &header, &rows, |column| matches!(column, 0 | 6))?;
    let summary = format!(
        "{} record(s) {what}{}",
        records.len(),
        if what == "quarantined" {
            format!(", {} entry(ies) of usage set aside", set_aside.len())
        } else {
            String::new()
        }
    );
    if rows.is_empty() {
        writeln!(out, "{GOOD}{summary}{GOOD:#}")?;
    } else if what == "quarantined" {
        writeln!(out, "{WARN}{summary}{WARN:#}")?;
        writeln!(
            out,
            "{WARN}next{WARN:#}: fix the cause each detail names, then `metering ledger requeue ID` (or `--set-aside ID` for usage set aside)"
        )?;
    } else {
        writeln!(out, "{summary}")?;
    }
    out.flush()
}

async fn requeue(ledger: &impl LedgerInspection, args: &RequeueArgs) -> Result<Exit, String> {
    let now = args.now.unwrap_or_else(|| SystemClock.now());
    let mut out = report::stdout();
    let mut exit = Exit::Ok;
    for &id in &args.records {
        let id = RecordId(id);
        let message = if read(ledger.requeue(id, now).await)? {
            format!(
                "{GOOD}requeued{GOOD:#} record {}: the Meter's next flush sends it",
                id.0
            )
        } else {
            exit = Exit::Problems;
            match read(ledger.record(id).await)? {
                None => format!(
                    "{ERROR}refused{ERROR:#} record {}: there is no such record; see `metering ledger quarantined` for the ids",
                    id.0
                ),
                Some(stored) => format!(
                    "{ERROR}refused{ERROR:#} record {}: it is {}, not quarantined; only quarantined records are put back",
                    id.0, stored.state
                ),
            }
        };
        writeln!(out, "{message}").map_err(|e| output_error(&e))?;
    }
    for &id in &args.set_aside {
        let message = match read(ledger.requeue_set_aside(SetAsideId(id), now).await)? {
            SetAsideRequeue::Requeued { hour } => format!(
                "{GOOD}requeued{GOOD:#} set-aside entry {id}: its usage counts, late, in hour {hour}, sent once that hour is sealed"
            ),
            SetAsideRequeue::NotFound => {
                exit = Exit::Problems;
                format!(
                    "{ERROR}refused{ERROR:#} set-aside entry {id}: there is no such entry (requeued already?); see `metering ledger quarantined`"
                )
            }
            SetAsideRequeue::TooLarge => {
                exit = Exit::Problems;
                format!(
                    "{ERROR}refused{ERROR:#} set-aside entry {id}: the hour's total would exceed the largest quantity; it stays set aside"
                )
            }
            other => {
                exit = Exit::Problems;
                format!("{ERROR}refused{ERROR:#} set-aside entry {id}: {other:?}")
            }
        };
        writeln!(out, "{message}").map_err(|e| output_error(&e))?;
    }
    out.flush().map_err(|e| output_error(&e))?;
    Ok(exit)
}

/// The columns of a CSV export, in order: the fields of [`Line`].
const CSV_HEADER: [&str; 17] = [
    "kind",
    "id",
    "state",
    "hour",
    "product_code",
    "customer_identifier",
    "customer_aws_account_id",
    "license_arn",
    "dimension",
    "dimension_kind",
    "quantity",
    "allocations",
    "late",
    "attempt",
    "metering_record_id",
    "detail",
    "set_aside_at",
];

fn export(
    records: &[StoredRecord],
    set_aside: &[SetAside],
    args: &ExportArgs,
) -> Result<(), String> {
    let target = args.output.as_ref().map_or_else(
        || "standard output".to_owned(),
        |path| path.display().to_string(),
    );
    let failed = |e: &dyn std::fmt::Display| format!("{target}: cannot write the export: {e}");
    let sink: Box<dyn Write> =
        match &args.output {
            Some(path) => Box::new(File::create(path).map_err(|e| {
                format!("{}; check the directory exists and is writable", failed(&e))
            })?),
            None => Box::new(io::stdout().lock()),
        };
    let mut out = BufWriter::new(sink);
    let lines = records
        .iter()
        .map(record_line)
        .chain(set_aside.iter().map(set_aside_line));
    match args.format {
        ExportFormat::Jsonl => {
            for line in lines {
                report::json_line(&mut out, &line).map_err(|e| failed(&e))?;
            }
        }
        ExportFormat::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(CSV_HEADER).map_err(|e| failed(&e))?;
            for line in lines {
                let fields = serde_json::to_value(&line).map_err(|e| failed(&e))?;
                // Text as it is, allocations as JSON text (a cell holds no list), null empty.
                let cells = CSV_HEADER.map(|column| match &fields[column] {
                    Value::Null => String::new(),
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                });
                csv.write_record(cells).map_err(|e| failed(&e))?;
            }
            csv.flush().map_err(|e| failed(&e))?;
        }
    }
    out.flush().map_err(|e| failed(&e))
}
