//! Conversion into the `aws-sdk-marketplacemetering` types.

use aws_sdk_marketplacemetering::primitives::DateTime;
use aws_sdk_marketplacemetering::types as sdk;

use crate::error::{Rule, ValidationError};
use crate::quantity::Quantity;
use crate::record::{UsageAllocation, UsageRecord};
use crate::timestamp::Timestamp;

impl From<Timestamp> for DateTime {
    fn from(value: Timestamp) -> Self {
        Self::from_nanos(value.unix_nanos())
            .unwrap_or_else(|_| Self::from_secs(value.unix_seconds()))
    }
}

/// The integer form the SDK can carry: 1.124 has no decimal quantity fields yet.
fn sdk_quantity(quantity: Quantity, field: &'static str) -> Result<i32, ValidationError> {
    quantity.as_integer().ok_or_else(|| {
        ValidationError::new(
            field,
            Rule::Unsupported("aws-sdk-marketplacemetering has no decimal quantity field yet"),
            quantity,
        )
    })
}

fn built<T>(
    result: Result<T, aws_sdk_marketplacemetering::error::BuildError>,
    field: &'static str,
) -> Result<T, ValidationError> {
    result.map_err(|e| {
        ValidationError::new(field, Rule::Unsupported("rejected by the SDK's builder"), e)
    })
}

fn sdk_allocation(allocation: &UsageAllocation) -> Result<sdk::UsageAllocation, ValidationError> {
    let tags = allocation
        .tags
        .as_ref()
        .map(|tags| {
            tags.as_slice()
                .iter()
                .map(|tag| {
                    built(
                        sdk::Tag::builder()
                            .key(tag.key.as_str())
                            .value(tag.value.as_str())
                            .build(),
                        "Tags",
                    )
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    built(
        sdk::UsageAllocation::builder()
            .allocated_usage_quantity(sdk_quantity(allocation.quantity, "AllocatedUsageQuantity")?)
            .set_tags(tags)
            .build(),
        "UsageAllocations",
    )
}

impl TryFrom<&UsageRecord> for sdk::UsageRecord {
    type Error = ValidationError;

    /// The SDK's record. The product code is the request's, not the record's: see
    /// [`Customer::product`](crate::Customer::product).
    ///
    /// # Errors
    /// When a quantity needs the decimal form, which the SDK cannot carry yet.
    fn try_from(record: &UsageRecord) -> Result<Self, Self::Error> {
        let mut builder = sdk::UsageRecord::builder()
            .timestamp(record.timestamp().into())
            .dimension(record.dimension().as_str())
            .quantity(sdk_quantity(record.quantity(), "Quantity")?);
        let customer = record.customer().wire_fields();
        builder = builder
            .set_customer_identifier(customer.customer_identifier.map(|id| id.as_str().into()))
            .set_customer_aws_account_id(
                customer
                    .customer_aws_account_id
                    .map(|account| account.as_str().into()),
            )
            .set_license_arn(customer.license_arn.map(|license| license.as_str().into()));
        if let Some(allocations) = record.allocations() {
            let allocations = allocations
                .iter()
                .enumerate()
                .map(|(index, allocation)| {
                    sdk_allocation(allocation)
                        .map_err(|e| e.within(format_args!("UsageAllocations[{index}]")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            builder = builder.set_usage_allocations(Some(allocations));
        }
        built(builder.build(), "UsageRecord")
    }
}
