//! The main example: builds validated usage records, shows what the service would receive,
//! and shows a bad value being refused with the field, the rule and the value.

use metering::{
    Customer, CustomerAwsAccountId, DimensionKey, ProductCode, Quantity, Tag, TagKey, TagValue,
    Tags, TimePolicy, Timestamp, UsageAllocation, UsageRecord,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let customer = Customer::Account {
        product: ProductCode::new("prod-example123")?,
        account: CustomerAwsAccountId::new("123456789012")?,
    };
    let now = Timestamp::now();
    let hour = now.hour_start();

    let api_calls = UsageRecord::new(
        customer.clone(),
        DimensionKey::new("api_calls")?,
        hour,
        Quantity::new(1_250)?,
    );
    let tag = |key: &'static str, value: &'static str| -> Result<Tag, metering::ValidationError> {
        Ok(Tag::new(TagKey::new(key)?, TagValue::new(value)?))
    };
    let storage = UsageRecord::with_allocations(
        customer,
        DimensionKey::new("storage_gb_hours")?,
        hour,
        vec![
            UsageAllocation::new(Quantity::new(30)?, Tags::new(vec![tag("team", "search")?])?),
            UsageAllocation::new(Quantity::new(12)?, Tags::new(vec![tag("team", "ads")?])?),
        ],
    )?;

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

    println!("\nRefused before anything is sent:");
    for bad in [
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
