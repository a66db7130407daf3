//! The main example: typed dimensions and tags, records built with the checked builder,
//! what the service would receive, and a bad value refused with the field, the rule and
//! the value.

use metering::{
    Customer, CustomerAwsAccountId, Dimension, DimensionKey, ProductCode, Quantity, TagKey,
    TagValue, TimePolicy, Timestamp, UsageTags,
};

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

#[derive(TagValue)]
#[metering(rename_all = "lowercase")]
enum Env {
    Prod,
    Staging,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let customer = Customer::Account {
        product: ProductCode::new("prod-example123")?,
        account: CustomerAwsAccountId::new("123456789012")?,
    };
    let now = Timestamp::now();
    let hour = now.hour_start();

    let api_calls = Usage::ApiCalls
        .record()
        .customer(customer.clone())
        .at(hour)
        .quantity(Quantity::new(1_250)?)
        .build();
    let storage = Usage::Storage
        .record()
        .customer(customer)
        .at(hour)
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
        .build()?;

    let policy = TimePolicy::new();
    for record in [&api_calls, &storage] {
        policy.check(record.timestamp(), now)?;
        println!(
            "{:<18} {:>6} units at {}  ->  {}",
            record.dimension(),
            record.quantity(),
            record.timestamp(),
            serde_json::to_string(&record.as_request_entry())?
        );
    }
    println!(
        "every dimension: {:?}",
        Usage::ALL.iter().map(|d| d.key()).collect::<Vec<_>>()
    );

    println!("\nRefused before anything is sent:");
    let bad_tag = CostTags {
        team: "search?".into(),
        environment: Env::Prod,
    };
    for bad in [
        bad_tag.tags().map(drop),
        TagKey::new("cost-center?").map(drop),
        CustomerAwsAccountId::new("12-34").map(drop),
        DimensionKey::new("").map(drop),
        Quantity::new(3_000_000_000).map(drop),
    ] {
        if let Err(error) = bad {
            println!("  {error}");
        }
    }
    let day_old = hour.saturating_sub(std::time::Duration::from_hours(25));
    if let Err(error) = policy.check(day_old, now) {
        println!("  {error}");
    }
    Ok(())
}
