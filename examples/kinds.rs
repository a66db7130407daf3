//! Every kind of usage for one product: API requests (a sum), active users (distinct
//! identifiers), hosts (the hour's peak) and gigabytes stored (a level, billed as its
//! integral: GB-hours). Two hours of one customer's usage are recorded into a Meter on a
//! temporary `SQLite` file, sealed, and sent through the real AWS SDK to a local emulator of
//! AWS Marketplace Metering; what is billed per hour is printed.
//!
//! ```text
//! cargo run --example kinds --features aws,sqlite
//! ```

use std::collections::BTreeMap;
use std::error::Error;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use marketplace_metering::ledger::{LedgerInspection, SqliteLedger};
use marketplace_metering::{
    Clock, Customer, CustomerAwsAccountId, Dimension, ManualClock, Meter, MeterConfig, ProductCode,
    Quantity, Submitter, Timestamp,
};
use metering_emulator::Emulator;

/// One enum per kind; the first checks, at compile time, that together they name each
/// metered dimension of the product's catalog once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(
    rename_all = "snake_case",
    catalog = "examples/catalog/kinds.json",
    with(Users, Hosts, Storage)
)]
enum Requests {
    Requests,
}

/// Billed per distinct user in the hour, however many requests each made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case", kind = "distinct")]
enum Users {
    ActiveUsers,
}

/// Billed by the most hosts running at once in the hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case", kind = "max")]
enum Hosts {
    Hosts,
}

/// Billed by the gigabytes stored, held until they change: GB-hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case", kind = "level")]
enum Storage {
    GbStored,
}

fn at(text: &str) -> Result<Timestamp, marketplace_metering::ValidationError> {
    Timestamp::parse_rfc3339(text)
}

/// Records two hours of usage, seals and sends them, and writes what was billed per hour
/// to `out`.
///
/// # Errors
/// When the emulator, the ledger or the meter fails.
pub(crate) async fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let clock = ManualClock::new(at("2026-05-12T10:05:00Z")?);
    let emulator = Emulator::builder().clock(clock.clone()).start().await?;
    let dir = tempfile::tempdir()?;
    let ledger = Arc::new(SqliteLedger::open(dir.path().join("meter.sqlite"))?);
    let meter = Meter::builder()
        .config(
            MeterConfig::new()
                .with_clock(emulator.clock())
                .with_flush_interval(Duration::from_mins(30)),
        )
        .ledger(ledger.clone())
        .submitter(Submitter::new(emulator.transport()))
        .build()?;
    let customer = Customer::Account {
        product: ProductCode::new("prod-example123")?,
        account: CustomerAwsAccountId::new("111122223333")?,
    };
    // Each event at its moment: the clock is moved to it, and each call names it (the
    // meter reads a real clock often enough; this one jumps).
    let request = |user: &str| -> Result<(), Box<dyn Error>> {
        let now = clock.now();
        let calls = meter.usage(&customer, Requests::Requests).at(now);
        calls.add(Quantity::new(1)?)?;
        meter
            .usage(&customer, Users::ActiveUsers)
            .at(now)
            .mark(user)?;
        Ok(())
    };
    let hosts = |running: u64| {
        let peak = meter.usage(&customer, Hosts::Hosts).at(clock.now());
        peak.observe(Quantity::new(running)?)
    };
    let stored = |gigabytes: u64| {
        let level = meter.usage(&customer, Storage::GbStored).at(clock.now());
        level.set(Quantity::new(gigabytes)?)
    };
    // 10:00's hour: 3 requests by 2 users, up to 5 hosts, 10 GB from 10:30.
    clock.set(at("2026-05-12T10:05:00Z")?);
    hosts(3)?;
    request("alice")?;
    request("bob")?;
    clock.set(at("2026-05-12T10:20:00Z")?);
    hosts(5)?;
    request("alice")?;
    clock.set(at("2026-05-12T10:30:00Z")?);
    stored(10)?;
    hosts(4)?;
    // A real clock gives the meter its commit interval (1 s) long before an hour's grace
    // ends; this one jumps, so each hour is committed before the clock leaves it.
    meter.commit().await?;
    // 11:00's hour: 2 requests by 2 users (one of them seen at 10:00 too), 2 hosts, 10 GB
    // then 20 GB from 11:45.
    clock.set(at("2026-05-12T11:10:00Z")?);
    hosts(2)?;
    request("carol")?;
    request("alice")?;
    clock.set(at("2026-05-12T11:45:00Z")?);
    stored(20)?;
    meter.commit().await?;

    // Both hours closed, 15 minutes of grace later they are sealed and sent.
    clock.set(at("2026-05-12T12:20:00Z")?);
    let report = meter.flush().await?;
    meter.close().await?;
    writeln!(out, "{report}")?;
    writeln!(out, "\nbilled per hour:")?;
    let mut hours: BTreeMap<Timestamp, Vec<String>> = BTreeMap::new();
    for stored in ledger.records(None).await? {
        let record = &stored.record;
        hours.entry(record.timestamp()).or_default().push(format!(
            "{} {} ({})",
            record.dimension().as_str(),
            record.quantity(),
            stored.kind
        ));
    }
    for (hour, billed) in hours {
        writeln!(out, "  {hour}  {}", billed.join(", "))?;
    }
    writeln!(out, "\nbilled by the emulator:")?;
    for row in emulator.summary() {
        writeln!(
            out,
            "  {:<13} {:>4}",
            row.dimension.as_str(),
            row.total.to_string()
        )?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout()).await
}
