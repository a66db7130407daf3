//! Builders shared by the integration tests.
#![allow(dead_code, reason = "each test file uses a different subset")]

pub(crate) mod capture;
#[cfg(feature = "submit")]
pub(crate) mod metrics;
#[cfg(feature = "submit")]
pub(crate) mod service;

use metering_core::{
    Customer, CustomerAwsAccountId, DimensionKey, LicenseArn, ProductCode, Quantity, Tag, TagKey,
    TagValue, Tags, Timestamp, UsageAllocation, UsageRecord,
};

pub(crate) fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

pub(crate) fn account(product: &str, account: &str) -> Customer {
    Customer::Account {
        product: ProductCode::new(product.to_owned()).unwrap(),
        account: CustomerAwsAccountId::new(account.to_owned()).unwrap(),
    }
}

pub(crate) fn licensed(account: &str) -> Customer {
    Customer::Licensed {
        account: CustomerAwsAccountId::new(account.to_owned()).unwrap(),
        license: LicenseArn::new(format!(
            "arn:aws:license-manager::{account}:license:l-{account}"
        ))
        .unwrap(),
    }
}

pub(crate) fn record(
    customer: Customer,
    dimension: &str,
    timestamp: Timestamp,
    quantity: u64,
) -> UsageRecord {
    UsageRecord::new(
        customer,
        DimensionKey::new(dimension.to_owned()).unwrap(),
        timestamp,
        Quantity::new(quantity).unwrap(),
    )
}

pub(crate) fn tags(pairs: &[(&str, &str)]) -> Tags {
    Tags::new(
        pairs
            .iter()
            .map(|(k, v)| {
                Tag::new(
                    TagKey::new((*k).to_owned()).unwrap(),
                    TagValue::new((*v).to_owned()).unwrap(),
                )
            })
            .collect(),
    )
    .unwrap()
}

pub(crate) fn allocated(
    customer: Customer,
    dimension: &str,
    timestamp: Timestamp,
    allocations: &[(u64, Tags)],
) -> UsageRecord {
    UsageRecord::with_allocations(
        customer,
        DimensionKey::new(dimension.to_owned()).unwrap(),
        timestamp,
        allocations
            .iter()
            .map(|(q, t)| UsageAllocation::new(Quantity::new(*q).unwrap(), t.clone()))
            .collect(),
    )
    .unwrap()
}
