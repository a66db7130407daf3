//! The main example: the Meter end to end, with no AWS account. Usage is recorded as it
//! happens into a Meter on a temporary `SQLite` file; once its hour has closed (a manual clock
//! moves time on) the hour is sealed into one record per customer and dimension and sent
//! through the real AWS SDK to a local emulator of AWS Marketplace Metering.
//!
//! ```text
//! cargo run --example quickstart --features aws,sqlite
//! ```

use std::error::Error;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use marketplace_metering::ledger::{LedgerInspection, SqliteLedger};
use marketplace_metering::{
    Customer, CustomerAwsAccountId, Dimension, ManualClock, Meter, MeterConfig, ProductCode,
    Quantity, Submitter, Timestamp, ToTagValue, UsageTags,
};
use metering_emulator::Emulator;

/// The product's dimensions, as its Marketplace listing names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case")]
enum Usage {
    ApiCalls,
    #[metering(rename = "storage_gb_hours")]
    Storage,
}

/// The tags a share of usage is attributed to (cost allocation).
#[derive(UsageTags)]
struct CostTags {
    team: &'static str,
    #[metering(rename = "env")]
    environment: Env,
}

#[derive(ToTagValue)]
#[metering(rename_all = "lowercase")]
enum Env {
    Prod,
    Staging,
}

fn customer(account: &str) -> Result<Customer, marketplace_metering::ValidationError> {
    Ok(Customer::Account {
        product: ProductCode::new("prod-example123")?,
        account: CustomerAwsAccountId::new(account.to_owned())?,
    })
}

/// Records an hour of usage, seals it, sends it, and writes what happened to `out`.
///
/// # Errors
/// When the emulator, the ledger or the meter fails.
pub(crate) async fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    // One clock, given once: the emulator's, which the meter shares (and with it the
    // flusher and the submitter it starts). 10:05 on some day.
    let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-05-12T10:05:00Z")?);
    let emulator = Emulator::builder()
        .clock(clock.clone())
        .unsubscribed(["999999999999"])
        .start()
        .await?;
    let dir = tempfile::tempdir()?;
    let ledger = Arc::new(SqliteLedger::open(dir.path().join("meter.sqlite"))?);
    let meter = Meter::builder()
        // The example flushes when it shows the report; a service leaves the interval be.
        .config(
            MeterConfig::new()
                .with_clock(emulator.clock())
                .with_flush_interval(Duration::from_mins(30)),
        )
        .ledger(ledger.clone())
        // The real AWS SDK client, pointed at the emulator (in production:
        // `Submitter::new(AwsTransport::from_env().await)`).
        .submitter(Submitter::new(emulator.transport()))
        .build()?;

    // Usage as it happens, from any thread: added to the hour's total per key.
    let (alice, bob, carol) = (
        customer("111122223333")?,
        customer("444455556666")?,
        customer("999999999999")?,
    );
    meter.record(&alice, Usage::ApiCalls, Quantity::new(1_250)?)?;
    meter.record(&alice, Usage::ApiCalls, Quantity::new(10)?)?;
    let search = CostTags {
        team: "search",
        environment: Env::Prod,
    };
    let ads = CostTags {
        team: "ads",
        environment: Env::Staging,
    };
    meter
        .usage(&alice, Usage::Storage)
        .tags(&search)
        .add("30".parse()?)?;
    meter
        .usage(&alice, Usage::Storage)
        .tags(&ads)
        .add("12.5".parse()?)?;
    meter.record(&carol, Usage::ApiCalls, Quantity::new(5)?)?;
    // Resolves once the usage is committed to the SQLite file.
    meter
        .record_durable(&bob, Usage::ApiCalls, Quantity::new(3)?)
        .await?;

    // The hour closes; 15 minutes of grace later it is sealed and sent, each record once.
    clock.advance(Duration::from_mins(70));
    meter.commit().await?;
    let report = meter.flush().await?;
    meter.close().await?;
    writeln!(out, "{report}")?;
    writeln!(
        out,
        "\nthe ledger ({}):",
        dir.path().join("meter.sqlite").display()
    )?;
    for stored in ledger.records(None).await? {
        let record = &stored.record;
        writeln!(
            out,
            "  {:<15} {} {:<17} {:>6}  {}",
            stored.state.as_str(),
            record.customer().account().map_or("", |a| a.as_str()),
            record.dimension().as_str(),
            record.quantity(),
            record.timestamp()
        )?;
    }
    writeln!(out, "\nbilled by the emulator:")?;
    for row in emulator.summary() {
        writeln!(
            out,
            "  {} {:<17} {:>6}",
            row.customer.account().map_or("", |a| a.as_str()),
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
