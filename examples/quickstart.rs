//! The main example: meter usage with typed dimensions and tags, submit it to a local
//! emulator of AWS Marketplace Metering through the real AWS SDK (no AWS account needed),
//! and print what became of every record.

use std::time::Duration;

use metering::aws_sdk::config::{Credentials, Region};
use metering::submit::Submitter;
use metering::{
    AwsTransport, Customer, CustomerAwsAccountId, Dimension, ProductCode, Quantity, Timestamp,
    ToTagValue, UsageRecord, UsageTags, aws_sdk,
};
use metering_emulator::{Emulator, Quota};

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
    team: String,
    #[metering(rename = "env")]
    environment: Env,
}

#[derive(ToTagValue)]
#[metering(rename_all = "lowercase")]
enum Env {
    Prod,
    Staging,
}

fn customer(account: &str) -> Result<Customer, metering::ValidationError> {
    Ok(Customer::Account {
        product: ProductCode::new("prod-example123")?,
        account: CustomerAwsAccountId::new(account.to_owned())?,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A local BatchMeterUsage endpoint with the service's quota; one customer has not
    // subscribed.
    let emulator = Emulator::builder()
        .quota(Some(Quota::SERVICE))
        .unsubscribed(["999999999999"])
        .start()
        .await?;
    let submitter = Submitter::new(AwsTransport::from_conf(
        aws_sdk::Config::builder()
            .behavior_version_latest()
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(
                "example",
                "example",
                None,
                None,
                "quickstart",
            ))
            .endpoint_url(emulator.endpoint_url())
            .build(),
    ));

    let records = usage()?;
    let report = submitter.submit(records.clone()).await;
    println!("{}\n{}\n", report.table(), report.summary());

    // Sending the same records again is safe: the same metering record IDs, billed once.
    let again = submitter.submit(records).await;
    println!("sent again: {}\n", again.summary());
    println!("billed by the emulator:");
    for row in emulator.summary() {
        println!(
            "  {:<16} {:<18} {:>6}",
            row.customer.account().map_or("", |a| a.as_str()),
            row.dimension,
            row.total
        );
    }

    show_refusals();
    Ok(())
}

/// An hour of usage: records built with the typed builder.
fn usage() -> Result<Vec<UsageRecord>, Box<dyn std::error::Error>> {
    let last_hour = Timestamp::now()
        .hour_start()
        .saturating_sub(Duration::from_hours(1));
    let (alice, bob, carol) = (
        customer("111122223333")?,
        customer("444455556666")?,
        customer("999999999999")?,
    );
    Ok(vec![
        Usage::ApiCalls
            .record()
            .customer(alice.clone())
            .at(last_hour)
            .quantity(Quantity::new(1_250)?)
            .build(),
        // Same customer, dimension and hour: merged into one record of 1,260.
        Usage::ApiCalls
            .record()
            .customer(alice.clone())
            .at(last_hour)
            .quantity(Quantity::new(10)?)
            .build(),
        Usage::Storage
            .record()
            .customer(alice.clone())
            .at(last_hour)
            .allocate(
                Quantity::new(30)?,
                &CostTags {
                    team: "search".into(),
                    environment: Env::Prod,
                },
            )
            .allocate(
                Quantity::new(12)?,
                &CostTags {
                    team: "ads".into(),
                    environment: Env::Staging,
                },
            )
            .build()?,
        // AWS asks for a record every hour, zero included.
        Usage::ApiCalls
            .record()
            .customer(bob)
            .at(last_hour)
            .quantity(Quantity::ZERO)
            .build(),
        Usage::ApiCalls
            .record()
            .customer(carol)
            .at(last_hour)
            .quantity(Quantity::new(5)?)
            .build(),
        // Too old to be accepted: kept back with its reason, never sent.
        Usage::ApiCalls
            .record()
            .customer(alice)
            .at(last_hour.saturating_sub(Duration::from_hours(24)))
            .quantity(Quantity::new(7)?)
            .build(),
    ])
}

/// Bad values are refused with the field, the rule and the value.
fn show_refusals() {
    println!("\nRefused before anything is sent:");
    let bad_tags = CostTags {
        team: "search?".into(),
        environment: Env::Prod,
    };
    if let Err(error) = bad_tags.tags() {
        println!("  {error}");
    }
    if let Err(error) = CustomerAwsAccountId::new("12-34") {
        println!("  {error}");
    }
    if let Err(error) = Quantity::new(10_000_000_000) {
        println!("  {error}");
    }
}
