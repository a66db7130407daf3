//! The Meter's hourly rules end to end, on a `SQLite` file and the emulator through the real
//! AWS SDK, with a manual clock: registered pairs get a record every hour (0 when they had
//! no usage), a month's last hour stays open for late usage until shortly before the
//! month's cut-off, and the meter's clock is the one everything it starts reads.

use std::sync::Arc;
use std::time::Duration;

use marketplace_metering::ledger::{Flusher, Ledger, LedgerInspection, SqliteLedger};
use marketplace_metering::submit::{SubmitConfig, Submitter};
use marketplace_metering::{
    AwsTransport, Customer, CustomerAwsAccountId, Dimension, Hour, ManualClock, Meter, MeterConfig,
    MeterError, ProductCode, Quantity, SystemClock, Timestamp, UsageTags,
};
use metering_emulator::{Emulator, RunningEmulator};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case")]
enum Usage {
    ApiCalls,
    Storage,
}

#[derive(UsageTags)]
struct Team {
    team: &'static str,
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn customer(account: &str) -> Customer {
    Customer::Account {
        product: ProductCode::new("prod-hours").unwrap(),
        account: CustomerAwsAccountId::new(account.to_owned()).unwrap(),
    }
}

fn q(units: u64) -> Quantity {
    Quantity::new(units).unwrap()
}

/// The emulator, on `clock`.
async fn emulator_on(clock: &ManualClock) -> RunningEmulator {
    Emulator::builder()
        .clock(clock.clone())
        .start()
        .await
        .unwrap()
}

/// A meter and a flusher on one `SQLite` file, the emulator, and one manual clock for all.
struct Fixture {
    clock: ManualClock,
    emulator: RunningEmulator,
    ledger: Arc<SqliteLedger>,
    meter: Meter,
    flusher: Flusher<AwsTransport>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start(now: &str) -> Self {
        let clock = ManualClock::new(at(now));
        let emulator = emulator_on(&clock).await;
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(SqliteLedger::open(dir.path().join("meter.sqlite")).unwrap());
        let config = MeterConfig::new().with_clock(clock.clone());
        let meter = Meter::builder()
            .config(config.clone())
            .ledger(ledger.clone())
            .build()
            .unwrap();
        let transport = emulator.transport();
        let submit = SubmitConfig::default()
            .with_requests_per_second(None)
            .with_clock(clock.clone());
        let flusher = Flusher::new(
            ledger.clone(),
            Submitter::with_config(transport, submit),
            config,
        );
        Self {
            clock,
            emulator,
            ledger,
            meter,
            flusher,
            _dir: dir,
        }
    }

    /// Moves the clock on by `minutes` and commits: the meter's hour follows the clock.
    async fn advance(&self, minutes: u64) {
        self.clock.advance(Duration::from_mins(minutes));
        self.meter.commit().await.unwrap();
    }
}

/// What the emulator billed: account, dimension, hour, quantity and the allocations'
/// quantities (empty without allocations), in order.
fn billed(emulator: &RunningEmulator) -> Vec<(String, String, String, String, Vec<String>)> {
    let mut billed: Vec<_> = emulator
        .ledger()
        .into_iter()
        .map(|entry| {
            (
                entry.customer.account().unwrap().as_str().to_owned(),
                entry.dimension.as_str().to_owned(),
                entry.hour.to_string(),
                entry.quantity.to_string(),
                entry
                    .allocations
                    .unwrap_or_default()
                    .iter()
                    .map(|allocation| allocation.quantity.to_string())
                    .collect(),
            )
        })
        .collect();
    billed.sort();
    billed
}

fn row(
    account: &str,
    dimension: &str,
    hour: &str,
    quantity: &str,
    allocations: &[&str],
) -> (String, String, String, String, Vec<String>) {
    (
        account.to_owned(),
        dimension.to_owned(),
        hour.to_owned(),
        quantity.to_owned(),
        allocations.iter().map(|a| (*a).to_owned()).collect(),
    )
}

#[tokio::test]
async fn registered_pairs_are_billed_every_hour_zero_without_usage() {
    let f = Fixture::start("2026-05-12T10:05:00Z").await;
    let (alice, bob, carol) = (
        customer("111111111111"),
        customer("222222222222"),
        customer("333333333333"),
    );
    f.meter.register(&alice, Usage::ApiCalls);
    f.meter.register(&alice, Usage::ApiCalls); // again: nothing changes
    f.meter.register(&bob, Usage::ApiCalls);
    f.meter.register(&carol, Usage::Storage);
    // 10:00: alice has usage, carol only tagged usage, bob none.
    f.meter.record(&alice, Usage::ApiCalls, q(5)).unwrap();
    f.meter
        .usage(&carol, Usage::Storage)
        .tags(&Team { team: "red" })
        .add(q(3))
        .unwrap();
    f.advance(60).await;
    // 11:05: bob leaves; his 11:00 hour still gets its record, later hours none.
    f.meter.unregister(&bob, Usage::ApiCalls);
    f.meter.unregister(&bob, Usage::Storage); // never registered: nothing changes
    f.advance(60).await;
    // 12:05: the meter stops; its hour gets its zeros as it shuts down.
    f.meter.shutdown().await.unwrap();
    f.clock.advance(Duration::from_mins(85)); // 13:30: 10:00 to 12:00 are sealed
    let report = f.flusher.flush().await.unwrap();
    assert_eq!(report.sealed.sealed, 8, "{report:?}");
    assert_eq!(report.outcomes.success, 8, "{report:?}");
    let (a, b, c) = ("111111111111", "222222222222", "333333333333");
    assert_eq!(
        billed(&f.emulator),
        vec![
            row(a, "api_calls", "2026-05-12T10:00:00Z", "5", &[]),
            row(a, "api_calls", "2026-05-12T11:00:00Z", "0", &[]),
            row(a, "api_calls", "2026-05-12T12:00:00Z", "0", &[]),
            row(b, "api_calls", "2026-05-12T10:00:00Z", "0", &[]),
            row(b, "api_calls", "2026-05-12T11:00:00Z", "0", &[]),
            // Tagged usage: its allocations, with no zero allocation beside them.
            row(c, "storage", "2026-05-12T10:00:00Z", "3", &["3"]),
            row(c, "storage", "2026-05-12T11:00:00Z", "0", &[]),
            row(c, "storage", "2026-05-12T12:00:00Z", "0", &[]),
        ]
    );
    assert_eq!(f.emulator.duplicates(), 0);
}

#[tokio::test]
async fn a_months_last_hour_takes_late_usage_until_an_hour_before_the_cut_off() {
    let f = Fixture::start("2026-05-31T23:10:00Z").await;
    let alice = customer("111111111111");
    f.meter.record(&alice, Usage::ApiCalls, q(1)).unwrap();
    f.advance(80).await; // 00:30 on the 1st
    f.meter.record(&alice, Usage::ApiCalls, q(2)).unwrap();
    f.meter.commit().await.unwrap();
    let report = f.flusher.flush().await.unwrap();
    assert_eq!(report.sealed.sealed, 0, "23:00 is held open: {report:?}");

    // 03:00 on the 1st: late usage for May still goes into May's last hour, billed.
    f.advance(150).await;
    for (minute, units) in [("22:40", 4), ("23:20", 8)] {
        f.meter
            .usage(&alice, Usage::ApiCalls)
            .at(at(&format!("2026-05-31T{minute}:00Z")))
            .add(q(units))
            .unwrap();
    }
    f.meter.commit().await.unwrap();
    assert_eq!(f.flusher.flush().await.unwrap().sealed.sealed, 0);
    let status = f.ledger.status().await.unwrap();
    assert_eq!(
        status.sealed_before,
        Some(Hour::of(at("2026-05-31T23:00:00Z")))
    );
    assert_eq!(status.set_aside, 0);

    // 05:01: May's last hour is sealed with an hour left to send it, and June's first
    // hours with it.
    f.advance(121).await;
    let report = f.flusher.flush().await.unwrap();
    assert_eq!(
        (report.sealed.sealed, report.outcomes.success),
        (2, 2),
        "{report:?}"
    );
    let a = "111111111111";
    assert_eq!(
        billed(&f.emulator),
        vec![
            row(a, "api_calls", "2026-05-31T23:00:00Z", "13", &[]),
            row(a, "api_calls", "2026-06-01T00:00:00Z", "2", &[]),
        ]
    );
    let may = &f.ledger.records(None).await.unwrap()[0];
    assert_eq!(
        may.late,
        q(4),
        "the 22:40 event came after its hour was sealed"
    );

    // From then on, May's late usage is set aside for a person, never billed.
    f.meter
        .usage(&alice, Usage::ApiCalls)
        .at(at("2026-05-31T23:30:00Z"))
        .add(q(16))
        .unwrap();
    f.meter.commit().await.unwrap();
    let aside = f.ledger.set_aside().await.unwrap();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(aside[0].quantity, q(16));
    f.meter.shutdown().await.unwrap();
    f.clock.advance(Duration::from_hours(2));
    f.flusher.flush().await.unwrap();
    assert_eq!(billed(&f.emulator).len(), 2, "nothing more for May");
}

/// One clock, given once: a new user gave the manual clock to the meter and the emulator but
/// not to the submitter, and `flush` once quarantined every record as thousands of hours old
/// (the submitter checked them by the system's clock). The meter's clock decides what it
/// sends: they are billed. A submitter given another clock is refused, naming both.
#[tokio::test]
async fn a_meters_submitter_sends_by_the_meters_clock() {
    let clock = ManualClock::new(at("2026-05-12T10:05:00Z"));
    let emulator = emulator_on(&clock).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = || SqliteLedger::open(dir.path().join("meter.sqlite")).unwrap();
    let config = MeterConfig::new().with_clock(clock.clone());
    let refused = Meter::builder()
        .config(config.clone())
        .ledger(ledger())
        .submitter(Submitter::with_config(
            emulator.transport(),
            SubmitConfig::default().with_clock(SystemClock),
        ))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            refused,
            MeterError::Config {
                setting: "clock",
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(
        refused
            .to_string()
            .contains("the meter's reads 2026-05-12T10:05:00Z"),
        "{refused}"
    );
    let meter = Meter::builder()
        .config(config)
        .ledger(ledger())
        .submitter(Submitter::new(emulator.transport()))
        .build()
        .unwrap();
    meter
        .record_durable(&customer("111122223333"), Usage::ApiCalls, q(3))
        .await
        .unwrap();
    // The hour closes; 15 minutes of grace later it is sealed and sent.
    clock.advance(Duration::from_mins(70));
    let report = meter.flush().await.unwrap();
    assert_eq!(
        (report.outcomes.success, report.outcomes.quarantined),
        (1, 0),
        "{report}"
    );
    assert_eq!(
        billed(&emulator),
        [row(
            "111122223333",
            "api_calls",
            "2026-05-12T10:00:00Z",
            "3",
            &[]
        )]
    );
    meter.close().await.unwrap();
}
