//! The same flow as the quickstart, against the real AWS Marketplace Metering service.
//!
//! Credentials and region come from the environment as for any AWS SDK program
//! (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, an instance role, ...;
//! `AWS_REGION`, e.g. `us-east-1`). The product and customer come from:
//!
//! ```sh
//! METERING_PRODUCT_CODE=prod-abc123 METERING_CUSTOMER_ACCOUNT=123456789012 \
//!     cargo run --example aws --features aws
//! ```
//!
//! It sends one record of zero usage for the current hour, which bills nothing: AWS's own
//! guidance is to send a record every hour for every customer and dimension.

use marketplace_metering::{
    AwsTransport, Customer, CustomerAwsAccountId, Dimension, ProductCode, Quantity, Submitter,
    Timestamp,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Dimension)]
#[metering(rename_all = "snake_case")]
enum Usage {
    ApiCalls,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (Ok(product), Ok(account)) = (
        std::env::var("METERING_PRODUCT_CODE"),
        std::env::var("METERING_CUSTOMER_ACCOUNT"),
    ) else {
        eprintln!(
            "set METERING_PRODUCT_CODE and METERING_CUSTOMER_ACCOUNT (see the example's docs)"
        );
        std::process::exit(2);
    };
    let customer = Customer::Account {
        product: ProductCode::new(product)?,
        account: CustomerAwsAccountId::new(account)?,
    };
    let record = Usage::ApiCalls
        .record()
        .customer(customer)
        .at(Timestamp::now().hour_start())
        .quantity(Quantity::ZERO)
        .build();

    let submitter = Submitter::new(AwsTransport::from_env().await);
    let report = submitter.submit([record]).await;
    println!("{}\n{}", report.table(), report.summary());
    if let Some(stopped) = &report.stopped {
        eprintln!("stopped: {stopped}");
        std::process::exit(1);
    }
    if report.summary().pending > 0 {
        std::process::exit(1);
    }
    Ok(())
}
