//! `metering ledger` on a real ledger that the library's Meter filled and flushed to the
//! emulator (in this process, on 127.0.0.1), on a manual clock around a month's end:
//! records billed, rejected, kept back as double billing, waiting after a failed send, and
//! usage set aside after the month closed. Every subcommand's output is checked; records
//! requeued with the binary are then sent by the library's next flush. The same runs on
//! PostgreSQL when `METERING_TEST_POSTGRES_URL` is set.

mod common;

use std::sync::Arc;

use common::{Files, json_lines, metering};
use marketplace_metering::ledger::{
    FlushReport, Flusher, LedgerInspection, RecordState, StoredRecord,
};
use marketplace_metering::submit::{SubmitConfig, Submitter};
use marketplace_metering::{
    Customer, CustomerAwsAccountId, Dimension, LicenseArn, ManualClock, Meter, MeterConfig,
    ProductCode, Quantity, Timestamp,
};
use metering_emulator::{Emulator, RunningEmulator};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case")]
enum Usage {
    ApiCalls,
    Storage,
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn account(id: &str) -> Customer {
    Customer::Account {
        product: ProductCode::new("prod-ledger").unwrap(),
        account: CustomerAwsAccountId::new(id.to_owned()).unwrap(),
    }
}

const ALICE: &str = "111111111111";
const BOB: &str = "222222222222";
const CAROL: &str = "333333333333";
const ERIN: &str = "555555555555";

fn carol_licensed() -> Customer {
    Customer::Licensed {
        account: CustomerAwsAccountId::new(CAROL.to_owned()).unwrap(),
        license: LicenseArn::new(format!(
            "arn:aws:license-manager::{CAROL}:license:l-0123456789abcdef0123456789abcdef"
        ))
        .unwrap(),
    }
}

/// Sets the clock to `when`, starts the emulator `emulator` describes on it, and flushes
/// `ledger` to it through the real AWS SDK; the emulator stays up for the caller to read.
async fn flush_at<L: LedgerInspection>(
    ledger: &Arc<L>,
    clock: &ManualClock,
    when: &str,
    emulator: metering_emulator::Builder,
) -> (FlushReport, RunningEmulator) {
    clock.set(at(when));
    let emulator = emulator.clock(clock.clone()).start().await.unwrap();
    let submitter = Submitter::with_config(
        emulator.transport(),
        SubmitConfig::default().with_clock(clock.clone()),
    );
    // May's last hour is sealed once its grace ends (not held open until 05:00), so that
    // May closes at 00:15 and the late usage of 00:20 is set aside.
    let config = MeterConfig::new()
        .with_clock(clock.clone())
        .with_month_close_margin(std::time::Duration::from_hours(6));
    let report = Flusher::new(Arc::clone(ledger), submitter, config)
        .flush()
        .await
        .unwrap();
    (report, emulator)
}

/// Fills `ledger` through a Meter, flushing twice:
/// - 22:00 on May 31st: Alice's and Bob's API calls (billed), Alice's storage (rejected by a
///   service that does not know the dimension: quarantined), Carol under the product and,
///   by another instance, under a licence (both quarantined: she would be billed twice);
/// - 23:00: Erin's API calls, sent while the API is disabled: waiting to be sent again;
/// - Alice's API calls of 23:30, recorded once May is sealed: set aside.
async fn fill<L: LedgerInspection>(ledger: Arc<L>, clock: &ManualClock) {
    let meter = Meter::builder()
        .config(MeterConfig::new().with_clock(clock.clone()))
        .ledger(Arc::clone(&ledger))
        .build()
        .unwrap();
    let record = |customer: &Customer, usage, quantity: u16, when: &str| {
        meter
            .usage(customer, usage)
            .at(at(when))
            .add(Quantity::from(quantity))
            .unwrap();
    };
    record(&account(ALICE), Usage::ApiCalls, 10, "2026-05-31T22:05:00Z");
    record(&account(BOB), Usage::ApiCalls, 3, "2026-05-31T22:10:00Z");
    record(&account(ALICE), Usage::Storage, 5, "2026-05-31T22:15:00Z");
    record(&account(CAROL), Usage::ApiCalls, 1, "2026-05-31T22:20:00Z");
    meter.commit().await.unwrap();
    // Another instance records Carol under her licence (one Meter would refuse it).
    let other = Meter::builder()
        .config(MeterConfig::new().with_clock(clock.clone()))
        .ledger(Arc::clone(&ledger))
        .build()
        .unwrap();
    other
        .usage(&carol_licensed(), Usage::ApiCalls)
        .at(at("2026-05-31T22:25:00Z"))
        .add(Quantity::from(2u16))
        .unwrap();
    other.shutdown().await.unwrap();

    let knows_api_calls = Emulator::builder().known_dimensions(["api_calls"]);
    let (report, emulator) =
        flush_at(&ledger, clock, "2026-05-31T23:20:00Z", knows_api_calls).await;
    assert_eq!(
        (report.outcomes.success, report.outcomes.quarantined),
        (2, 1),
        "{report:?}"
    );
    assert_eq!(report.sealed.quarantined, 2, "Carol, twice");
    emulator.shutdown().await;
    record(&account(ERIN), Usage::ApiCalls, 4, "2026-05-31T23:20:00Z");
    meter.commit().await.unwrap();

    let disabled = Emulator::builder().disabled_api(true);
    let (report, emulator) = flush_at(&ledger, clock, "2026-06-01T00:20:00Z", disabled).await;
    assert_eq!(report.outcomes.pending, 1, "{report:?}");
    emulator.shutdown().await;
    record(&account(ALICE), Usage::ApiCalls, 7, "2026-05-31T23:30:00Z");
    meter.shutdown().await.unwrap();
    assert_eq!(ledger.set_aside().await.unwrap().len(), 1);
}

/// The id of the one record of `customer` and `dimension`.
fn id_of(records: &[StoredRecord], customer: &Customer, dimension: &str) -> i64 {
    let found: Vec<_> = records
        .iter()
        .filter(|r| r.record.customer() == customer && r.record.dimension().as_str() == dimension)
        .collect();
    assert_eq!(found.len(), 1, "{customer} {dimension}");
    found[0].id.0
}

/// Runs `metering ledger ARGS... STORE...`, expecting `code`; returns standard output.
fn ledger_command(store: &[String], args: &[&str], code: i32) -> String {
    let output = metering()
        .arg("ledger")
        .args(args)
        .args(store)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "metering ledger {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

/// The words of the table row that starts with `first`.
fn row<'a>(text: &'a str, first: &str) -> Vec<&'a str> {
    let line = text
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{first} ")))
        .unwrap_or_else(|| panic!("no row {first:?} in\n{text}"));
    line.split_whitespace().collect()
}

/// The ids of the records (and the entry set aside) the checks look for.
#[derive(Clone, Copy)]
struct Ids {
    alice_calls: i64,
    storage: i64,
    carol: i64,
    carol_licence: i64,
    erin: i64,
    aside: i64,
    records: usize,
}

impl Ids {
    async fn of(ledger: &impl LedgerInspection) -> Self {
        let records = ledger.records(None).await.unwrap();
        Self {
            alice_calls: id_of(&records, &account(ALICE), "api_calls"),
            storage: id_of(&records, &account(ALICE), "storage"),
            carol: id_of(&records, &account(CAROL), "api_calls"),
            carol_licence: id_of(&records, &carol_licensed(), "api_calls"),
            erin: id_of(&records, &account(ERIN), "api_calls"),
            aside: ledger.set_aside().await.unwrap()[0].id.0,
            records: records.len(),
        }
    }
}

/// Every subcommand on the filled ledger `store` names, then a requeue that the next flush
/// sends.
async fn inspect_requeue_and_send<L: LedgerInspection>(
    ledger: Arc<L>,
    clock: &ManualClock,
    store: &[String],
    files: &Files,
) {
    let ids = Ids::of(&*ledger).await;
    status(store);
    deadline(store);
    pending(store, &ids);
    quarantined(store, &ids);
    export_json_lines(store, &ids);
    requeue(store, &ids);
    let state = ledger
        .record(marketplace_metering::ledger::RecordId(ids.storage))
        .await
        .unwrap()
        .unwrap()
        .state;
    assert_eq!(state, RecordState::Unsent);
    send_what_was_requeued(ledger, clock).await;
    after_sending(store, files);
}

/// 30 minutes into June, Erin's record of May's last hour has until 06:00: 5h 30m, more than
/// an hour's margin.
const AN_HOURS_MARGIN: [&str; 4] = ["--now", "2026-06-01T00:30:00Z", "--margin", "1h"];

/// `status`: per hour and state, in a table and in JSON; exit 1 while something waits.
fn status(store: &[String]) {
    let since = [
        &["status", "--since", "2026-05-31T22:00:00Z"][..],
        &AN_HOURS_MARGIN,
    ]
    .concat();
    let text = ledger_command(store, &since, 1);
    assert_eq!(
        row(&text, "hour"),
        [
            "hour",
            "unsent",
            "leased",
            "success",
            "not_subscribed",
            "duplicate",
            "quarantined"
        ]
    );
    assert_eq!(
        row(&text, "2026-05-31T22:00:00Z"),
        ["2026-05-31T22:00:00Z", "0", "0", "2", "0", "0", "3"]
    );
    assert_eq!(
        row(&text, "2026-05-31T23:00:00Z"),
        ["2026-05-31T23:00:00Z", "1", "0", "0", "0", "0", "0"]
    );
    assert_eq!(
        row(&text, "all hours"),
        ["all", "hours", "1", "0", "2", "0", "0", "3"]
    );
    assert!(
        text.contains("oldest hour not settled: 2026-05-31T22:00:00Z")
            && text.contains("usage set aside: 1")
            && text.contains("3 record(s) quarantined and 1 entry(ies) set aside wait"),
        "{text}"
    );
    let json = &json_lines(
        ledger_command(store, &[&since[..], &["--format", "json"]].concat(), 1).as_bytes(),
    )[0];
    assert_eq!(json["records"]["success"], 2);
    assert_eq!(json["records"]["quarantined"], 3);
    assert_eq!(json["hours"].as_array().unwrap().len(), 2);
    assert_eq!(json["hours"][1]["hour"], "2026-05-31T23:00:00Z");
    assert_eq!(json["hours"][1]["records"]["unsent"], 1);
    assert_eq!(json["set_aside"], 1);
    assert_eq!(json["oldest_unsent_hour"], "2026-05-31T22:00:00Z");
    assert_eq!(json["sealed_before"], "2026-06-01T00:00:00Z");
    assert_eq!(json["most_urgent"]["within_margin"], false);
    // Later hours only: the hours still to settle come all the same, the billed ones not.
    let later = ledger_command(
        store,
        &[
            &[
                "status",
                "--since",
                "2026-06-01T00:00:00Z",
                "--format",
                "json",
            ][..],
            &AN_HOURS_MARGIN,
        ]
        .concat(),
        1,
    );
    assert_eq!(
        json_lines(later.as_bytes())[0]["hours"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// `status` as a cron job: Erin's record of May's last hour is still to send, and the
/// service takes it only until 06:00 on June 1st. Within the margin (6 hours by default,
/// inclusive) or past the deadline, exit 4, saying so.
fn deadline(store: &[String]) {
    let at = |now: &'static str, more: &[&'static str]| -> Vec<&'static str> {
        [&["status", "--now", now][..], more].concat()
    };
    let text = ledger_command(store, &at("2026-06-01T00:30:00Z", &[]), 4);
    assert!(
        text.contains("most urgent: 1 record(s) of hour 2026-05-31T23:00:00Z still to send, accepted until 2026-06-01T06:00:00Z (5h 30m 0s left)")
            && text.contains("deadline: within the margin of 6h 0m 0s"),
        "{text}"
    );
    let json = &json_lines(
        ledger_command(store, &at("2026-06-01T00:30:00Z", &["--format", "json"]), 4).as_bytes(),
    )[0];
    let urgent = &json["most_urgent"];
    assert_eq!(urgent["hour"], "2026-05-31T23:00:00Z");
    assert_eq!(urgent["deadline"], "2026-06-01T06:00:00Z");
    assert_eq!(
        (urgent["records"].as_u64(), urgent["left_seconds"].as_f64()),
        (Some(1), Some(19_800.0))
    );
    assert_eq!(
        (
            json["margin_seconds"].as_u64(),
            urgent["within_margin"].as_bool()
        ),
        (Some(21_600), Some(true))
    );
    // The margin is inclusive: 5h 30m is due, a second less is not (exit 1: what waits).
    ledger_command(
        store,
        &at("2026-06-01T00:30:00Z", &["--margin", "5h30m"]),
        4,
    );
    ledger_command(
        store,
        &at("2026-06-01T00:30:00Z", &["--margin", "5h29m59s"]),
        1,
    );
    // On the cut-off itself the service no longer takes it; a second before, it does.
    let cut_off = ledger_command(store, &at("2026-06-01T06:00:00Z", &["--margin", "0s"]), 4);
    assert!(
        cut_off.contains("(0h 0m 0s left)") && cut_off.contains("deadline: past it"),
        "{cut_off}"
    );
    ledger_command(store, &at("2026-06-01T05:59:59Z", &["--margin", "0s"]), 1);
    let past = ledger_command(store, &at("2026-06-01T07:00:00Z", &["--margin", "0s"]), 4);
    assert!(
        past.contains("(-1h 0m 0s left)") && past.contains("deadline: past it"),
        "{past}"
    );
    // A margin is read strictly.
    for margin in ["6", "6d", "30m1h"] {
        let output = metering()
            .args(["ledger", "status", "--margin", margin])
            .args(store)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{margin}: {stderr}");
        assert!(
            stderr.contains(&format!("{margin:?} is not a duration"))
                && stderr.contains("--margin"),
            "{stderr}"
        );
    }
}

/// `pending`: Erin's record, with the error it waits on.
fn pending(store: &[String], ids: &Ids) {
    let erin = ids.erin;
    let text = ledger_command(store, &["pending"], 0);
    let erin_row = row(&text, &erin.to_string());
    assert_eq!(erin_row[1..3], ["unsent", "2026-05-31T23:00:00Z"]);
    assert!(text.contains("DisabledApiException"), "{text}");
    assert!(text.contains("1 record(s) pending"), "{text}");
    let pending = json_lines(ledger_command(store, &["pending", "--format", "json"], 0).as_bytes());
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["id"], erin);
    assert_eq!(pending[0]["state"], "unsent");
    assert_eq!(pending[0]["customer_aws_account_id"], ERIN);
    assert_eq!(pending[0]["quantity"], "4");
    assert_eq!(pending[0]["attempt"], 1);
}

/// `quarantined`: three records and the entry set aside, each with its reason.
fn quarantined(store: &[String], ids: &Ids) {
    let Ids {
        storage,
        carol,
        carol_licence,
        aside,
        ..
    } = *ids;
    let text = ledger_command(store, &["quarantined"], 0);
    assert!(
        row(&text, &storage.to_string()).contains(&"quarantined"),
        "{text}"
    );
    assert!(text.contains("InvalidUsageDimensionException"), "{text}");
    assert!(text.contains("under licence"), "{text}");
    assert!(
        row(&text, &format!("aside {aside}")).contains(&"set_aside"),
        "{text}"
    );
    assert!(
        text.contains("no hour of its month is open any more"),
        "{text}"
    );
    assert!(
        text.contains("3 record(s) quarantined, 1 entry(ies) of usage set aside"),
        "{text}"
    );
    let kept =
        json_lines(ledger_command(store, &["quarantined", "--format", "json"], 0).as_bytes());
    let ids: Vec<(&str, i64)> = kept
        .iter()
        .map(|line| (line["kind"].as_str().unwrap(), line["id"].as_i64().unwrap()))
        .collect();
    let mut expected = vec![
        ("record", storage),
        ("record", carol),
        ("record", carol_licence),
    ];
    expected.sort_by_key(|(_, id)| *id);
    expected.push(("set_aside", aside));
    assert_eq!(ids, expected);
    let set_aside = &kept[3];
    assert_eq!(set_aside["hour"], "2026-05-31T23:00:00Z");
    assert_eq!(set_aside["quantity"], "7");
    assert_eq!(set_aside["set_aside_at"], "2026-06-01T00:20:00Z");
    let licensed = kept
        .iter()
        .find(|line| line["id"] == carol_licence)
        .unwrap();
    assert_eq!(licensed["product_code"], Value::Null);
    assert!(
        licensed["license_arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:license-manager")
    );
}

/// `export --format jsonl` to standard output: every record, and the entry set aside.
fn export_json_lines(store: &[String], ids: &Ids) {
    let exported =
        json_lines(ledger_command(store, &["export", "--format", "jsonl"], 0).as_bytes());
    assert_eq!(exported.len(), ids.records + 1);
    let billed = exported
        .iter()
        .find(|line| line["id"] == ids.alice_calls)
        .unwrap();
    assert_eq!(billed["state"], "success");
    assert_eq!(billed["quantity"], "10");
    assert!(billed["metering_record_id"].is_string(), "{billed}");
}

/// `requeue`: refused for a record in another state, or none; then the fixed ones back.
fn requeue(store: &[String], ids: &Ids) {
    let Ids {
        alice_calls,
        storage,
        carol,
        aside,
        ..
    } = *ids;
    let text = ledger_command(store, &["requeue", &alice_calls.to_string(), "999999"], 1);
    assert!(
        text.contains(&format!(
            "refused record {alice_calls}: it is success, not quarantined"
        )),
        "{text}"
    );
    assert!(
        text.contains("refused record 999999: there is no such record"),
        "{text}"
    );
    let now = ["--now", "2026-06-01T00:30:00Z"];
    let back = [
        &storage.to_string()[..],
        &format!("#{carol}"),
        "--set-aside",
        &aside.to_string(),
    ];
    let text = ledger_command(store, &[&["requeue"][..], &now, &back].concat(), 0);
    assert!(
        text.contains(&format!("requeued record {storage}")),
        "{text}"
    );
    assert!(text.contains(&format!("requeued record {carol}")), "{text}");
    assert!(
        text.contains(&format!(
            "requeued set-aside entry {aside}: its usage counts, late, in hour 2026-06-01T00:00:00Z"
        )),
        "{text}"
    );
    let text = ledger_command(store, &["requeue", "--set-aside", &aside.to_string()], 1);
    assert!(text.contains("there is no such entry"), "{text}");
}

/// The person fixed the causes (the service knows the dimension, the API is enabled): the
/// next flush sends what was requeued, and Erin's record, whose wait is over.
async fn send_what_was_requeued(ledger: Arc<impl LedgerInspection>, clock: &ManualClock) {
    let (report, fixed) =
        flush_at(&ledger, clock, "2026-06-01T01:30:00Z", Emulator::builder()).await;
    assert_eq!(report.outcomes.success, 4, "{report:?}");
    let mut billed: Vec<(String, String, Timestamp, String)> = fixed
        .ledger()
        .into_iter()
        .map(|entry| {
            let who = entry.customer.account().unwrap().to_string();
            (
                who,
                entry.dimension.to_string(),
                entry.hour,
                entry.quantity.to_string(),
            )
        })
        .collect();
    billed.sort();
    let line = |who: &str, what: &str, hour, quantity: &str| {
        (
            who.to_owned(),
            what.to_owned(),
            at(hour),
            quantity.to_owned(),
        )
    };
    assert_eq!(
        billed,
        [
            line(ALICE, "api_calls", "2026-06-01T00:00:00Z", "7"),
            line(ALICE, "storage", "2026-05-31T22:00:00Z", "5"),
            line(CAROL, "api_calls", "2026-05-31T22:00:00Z", "1"),
            line(ERIN, "api_calls", "2026-05-31T23:00:00Z", "4"),
        ]
    );
    fixed.shutdown().await;
}

/// Only Carol's licence record still waits; `export` writes a CSV file, a row a record.
fn after_sending(store: &[String], files: &Files) {
    let status = ledger_command(store, &["status", "--format", "json"], 1);
    let status = &json_lines(status.as_bytes())[0];
    assert_eq!(status["records"]["success"], 6);
    assert_eq!(status["records"]["quarantined"], 1);
    assert_eq!(status["records"]["unsent"], 0);
    assert_eq!(status["set_aside"], 0);

    // export as CSV to a file: a header, then one row per record.
    let csv_path = files.path("audit.csv");
    let csv_arg = csv_path.to_string_lossy().into_owned();
    let printed = ledger_command(store, &["export", "-o", &csv_arg], 0);
    assert!(printed.is_empty(), "{printed}");
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "kind,id,state,hour,product_code,customer_identifier,customer_aws_account_id,\
             license_arn,dimension,dimension_kind,quantity,allocations,late,attempt,\
             metering_record_id,detail,set_aside_at"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    assert_eq!(rows.len(), 7, "{csv}");
    let late = rows
        .iter()
        .find(|row| row[3] == "2026-06-01T00:00:00Z")
        .unwrap_or_else(|| panic!("{csv}"));
    assert_eq!(
        [
            late[0], late[2], late[4], late[6], late[8], late[9], late[10], late[12]
        ],
        [
            "record",
            "success",
            "prod-ledger",
            ALICE,
            "api_calls",
            "sum",
            "7",
            "7"
        ]
    );
    assert!(late[14].len() > 10, "the service's record id: {csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_ledger_inspected_requeued_and_sent() {
    let files = Files::new();
    let path = files.path("meter.sqlite");
    let clock = ManualClock::new(at("2026-05-31T22:30:00Z"));
    let ledger = Arc::new(marketplace_metering::ledger::SqliteLedger::open(&path).unwrap());
    fill(Arc::clone(&ledger), &clock).await;
    let store = ["--ledger".to_owned(), path.to_string_lossy().into_owned()];
    inspect_requeue_and_send(ledger, &clock, &store, &files).await;
}

/// A wrong path is an error that says what to give, and leaves no new ledger behind.
#[test]
fn a_missing_or_foreign_ledger_file_is_refused() {
    let files = Files::new();
    let missing = files.path("nowhere.sqlite");
    let output = metering()
        .args(["ledger", "status", "--ledger"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("nowhere.sqlite") && stderr.contains("--ledger"),
        "{stderr}"
    );
    assert!(!missing.exists());
    let foreign = files.write("notes.sqlite", "");
    let output = metering()
        .args(["ledger", "pending", "--ledger"])
        .arg(&foreign)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a ledger"));
    let output = metering().args(["ledger", "status"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "a ledger must be named");
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ledger_inspected_requeued_and_sent() {
    let Some(url) = std::env::var("METERING_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        eprintln!(
            "skipped: set METERING_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run it"
        );
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!("cli_ledger_test_{}_{nanos}", std::process::id());
    let ledger = marketplace_metering::ledger::PostgresLedger::builder(&url)
        .unwrap()
        .schema(&schema)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let files = Files::new();
    let clock = ManualClock::new(at("2026-05-31T22:30:00Z"));
    let ledger = Arc::new(ledger);
    fill(Arc::clone(&ledger), &clock).await;
    let store = [
        "--postgres".to_owned(),
        url.clone(),
        "--schema".to_owned(),
        schema.clone(),
    ];
    inspect_requeue_and_send(ledger, &clock, &store, &files).await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

/// Alice's usage of every kind in 10:00's hour, committed by two instances straight through
/// the ledger API, sealed; then a late maximum, set aside.
async fn fill_every_kind(path: &std::path::Path) {
    use marketplace_metering::DimensionKey;
    use marketplace_metering::kind::Identifier;
    use marketplace_metering::ledger::{
        Checkpoint, Delta, InstanceId, Ledger, LevelChange, SqliteLedger, Usage, UsageKey,
    };

    let ledger = SqliteLedger::open(path).unwrap();
    let delta = |dimension: &str, when: &str, usage: Usage| Delta {
        key: Arc::new(UsageKey::new(
            account(ALICE),
            DimensionKey::new(dimension.to_owned()).unwrap(),
            None,
        )),
        hour: marketplace_metering::Hour::of(at(when)),
        usage,
    };
    let users = |ids: &[u64]| Usage::Distinct(ids.iter().map(|&id| Identifier::from(id)).collect());
    let now = at("2026-11-26T10:50:00Z");
    let (one, two) = (InstanceId::random(), InstanceId::random());
    let first = Checkpoint {
        instance: one,
        number: 1,
        deltas: vec![
            delta(
                "requests",
                "2026-11-26T10:05:00Z",
                Usage::Sum(Quantity::from(3u16)),
            ),
            delta("active_users", "2026-11-26T10:10:00Z", users(&[1, 2, 3])),
            delta(
                "hosts",
                "2026-11-26T10:15:00Z",
                Usage::Max(Quantity::from(5u16)),
            ),
            delta(
                "gb_stored",
                "2026-11-26T10:30:00Z",
                Usage::Level(vec![LevelChange {
                    at: at("2026-11-26T10:30:00Z"),
                    level: Quantity::from(2u16),
                }]),
            ),
        ],
    };
    let second = Checkpoint {
        instance: two,
        number: 1,
        deltas: vec![delta(
            "active_users",
            "2026-11-26T10:40:00Z",
            users(&[2, 4]),
        )],
    };
    ledger.commit(&first, now).await.unwrap();
    ledger.commit(&second, now).await.unwrap();
    let eleven = at("2026-11-26T11:00:00Z");
    ledger.seal(eleven, eleven).await.unwrap();
    let late = Checkpoint {
        instance: two,
        number: 2,
        deltas: vec![delta(
            "hosts",
            "2026-11-26T10:55:00Z",
            Usage::Max(Quantity::from(9u16)),
        )],
    };
    assert_eq!(ledger.commit(&late, now).await.unwrap().set_aside, 1);
}

/// Each key's kind, where keys appear: a record of each kind and a late maximum set aside,
/// in the listings (a `kind` column, a `dimension_kind` field) and the export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_key_shows_its_kind() {
    let files = Files::new();
    let path = files.path("kinds.sqlite");
    fill_every_kind(&path).await;
    let store = ["--ledger".to_owned(), path.to_string_lossy().into_owned()];

    // The level set at 10:30 still holds, whatever hours were sealed.
    let now = ["--now", "2026-11-26T11:30:00Z"];
    let text = ledger_command(&store, &[&["status"][..], &now].concat(), 1);
    assert!(
        text.contains(&format!(
            "levels held, billed every hour until changed: 1\n  gb_stored of account {ALICE} of product prod-ledger: 2 since 2026-11-26T10:30:00Z\n"
        )),
        "{text}"
    );
    let status = ledger_command(
        &store,
        &[&["status", "--format", "json"][..], &now].concat(),
        1,
    );
    let held = &json_lines(status.as_bytes())[0]["levels_held"];
    assert_eq!(held[0]["dimension"], "gb_stored");
    assert_eq!(
        (&held[0]["level"], &held[0]["since"]),
        (&Value::from("2"), &Value::from("2026-11-26T10:30:00Z"))
    );

    let text = ledger_command(&store, &["pending"], 0);
    assert_eq!(
        row(&text, "id"),
        [
            "id",
            "state",
            "hour",
            "customer",
            "dimension",
            "kind",
            "quantity",
            "detail"
        ]
    );
    // A row: id, state, hour, "account 111111111111 of product prod-ledger", dimension,
    // kind, quantity.
    let mut shown: Vec<[&str; 3]> = text
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            (words.get(1) == Some(&"unsent")).then(|| [words[8], words[9], words[10]])
        })
        .collect();
    shown.sort_unstable();
    assert_eq!(
        shown,
        [
            ["active_users", "distinct", "4"],
            ["gb_stored", "level", "1"],
            ["hosts", "max", "5"],
            ["requests", "sum", "3"],
        ],
        "{text}"
    );

    let listed = json_lines(ledger_command(&store, &["pending", "--format", "json"], 0).as_bytes());
    let mut kinds: Vec<(&str, &str)> = listed
        .iter()
        .map(|line| {
            (
                line["dimension"].as_str().unwrap(),
                line["dimension_kind"].as_str().unwrap(),
            )
        })
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            ("active_users", "distinct"),
            ("gb_stored", "level"),
            ("hosts", "max"),
            ("requests", "sum")
        ]
    );

    let text = ledger_command(&store, &["quarantined"], 0);
    let aside = row(&text, "aside");
    assert_eq!(aside[2..4], ["set_aside", "2026-11-26T10:00:00Z"], "{text}");
    assert_eq!(aside[9..12], ["hosts", "max", "9"], "{text}");
    let exported =
        json_lines(ledger_command(&store, &["export", "--format", "jsonl"], 0).as_bytes());
    let entry = exported
        .iter()
        .find(|line| line["kind"] == "set_aside")
        .unwrap();
    assert_eq!(entry["dimension_kind"], "max");
}
