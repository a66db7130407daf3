//! One database, two instances, one bill: two instances of a service meter the same customer
//! into one `PostgreSQL` ledger, and either of them sends the hour once, as one record.
//!
//! ```text
//! METERING_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo run --example fleet --features postgres,aws
//! ```
//!
//! The bill goes to the embedded emulator (no AWS account), and a manual clock moves the
//! hour on; the ledger's tables are left in a schema of their own, to read with `psql`.

use std::time::Duration;

use marketplace_metering::ledger::{Flusher, PostgresLedger};
use marketplace_metering::{
    Customer, CustomerAwsAccountId, Dimension, ManualClock, Meter, MeterConfig, ProductCode,
    Quantity, Submitter, Timestamp,
};
use metering_emulator::Emulator;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case")]
enum Usage {
    ApiCalls,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("METERING_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("metering_example_{}", std::process::id());
    let clock = ManualClock::new(Timestamp::parse_rfc3339("2026-11-26T10:05:00Z")?);
    let config = MeterConfig::new().with_clock(clock.clone());
    let ledger = || async {
        PostgresLedger::builder(&url)?
            .schema(&schema)?
            .connect()
            .await
    };

    // Two instances, each with its own meter, on one database.
    let first = Meter::builder()
        .config(config.clone())
        .ledger(ledger().await?)
        .build()?;
    let second = Meter::builder()
        .config(config.clone())
        .ledger(ledger().await?)
        .build()?;
    let buyer = Customer::Account {
        product: ProductCode::new("prod-example123")?,
        account: CustomerAwsAccountId::new("111122223333")?,
    };
    first.record(&buyer, Usage::ApiCalls, Quantity::from(3))?;
    second.record(&buyer, Usage::ApiCalls, "1.5".parse()?)?;
    first.close().await?;
    second.close().await?;

    // Once the hour and its grace are over, any instance seals and sends: AWS keeps only
    // the first record per customer, dimension and hour, so the fleet sends one, summed.
    clock.advance(Duration::from_mins(75));
    let emulator = Emulator::builder().clock(clock.clone()).start().await?;
    let flusher = Flusher::new(
        ledger().await?,
        Submitter::new(emulator.transport()),
        config,
    );
    let report = flusher.flush().await?;
    println!("{report}");
    for row in emulator.summary() {
        println!(
            "billed: {} {} {} in {} record(s)",
            row.customer.account().map_or("", |a| a.as_str()),
            row.dimension,
            row.total,
            row.records
        );
    }
    println!("the ledger's tables: schema {schema} (psql: SET search_path TO {schema})");
    Ok(())
}
