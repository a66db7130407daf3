//! The service's JSON form of records: serde with the wire field names, validating on the
//! way in.
//!
//! A record serializes as a `UsageRecords` entry plus, in the product modes, the
//! `ProductCode` that a request carries once for all its records. It deserializes from such
//! an entry; an entry taken from a real request, whose product code sits on the request,
//! reads with [`UsageRecord::from_request_entry`] or [`RequestRecords`].

mod read;

use serde::{Serialize, Serializer};

use crate::customer::RequestScope;
use crate::quantity::Quantity;
use crate::record::UsageRecord;
use crate::strings::{
    CustomerAwsAccountId, CustomerIdentifier, DimensionKey, LicenseArn, ProductCode,
};
use crate::timestamp::Timestamp;

pub use read::{EntryError, RequestRecords, Strictness};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WireRecordOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    product_code: Option<&'a ProductCode>,
    timestamp: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_identifier: Option<&'a CustomerIdentifier>,
    #[serde(
        rename = "CustomerAWSAccountId",
        skip_serializing_if = "Option::is_none"
    )]
    customer_aws_account_id: Option<&'a CustomerAwsAccountId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    license_arn: Option<&'a LicenseArn>,
    dimension: &'a DimensionKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    quantity: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quantity_as_decimal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_allocations: Option<Vec<WireAllocationOut<'a>>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct WireAllocationOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    allocated_usage_quantity: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allocated_usage_quantity_as_decimal: Option<String>,
    #[serde(rename = "Tags", skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<WireTag<'a>>>,
}

#[derive(Serialize)]
struct WireTag<'a> {
    #[serde(rename = "Key")]
    key: &'a str,
    #[serde(rename = "Value")]
    value: &'a str,
}

/// A quantity in the record's one form: the integer field, or else the decimal one.
fn wire_quantity(value: Quantity, decimal: bool) -> (Option<i32>, Option<String>) {
    match value.as_integer().filter(|_| !decimal) {
        Some(units) => (Some(units), None),
        None => (None, Some(value.to_string())),
    }
}

impl UsageRecord {
    fn wire(&self, with_product: bool) -> WireRecordOut<'_> {
        let decimal = self.needs_decimal();
        let (quantity, quantity_as_decimal) = wire_quantity(self.quantity(), decimal);
        let customer = self.customer().wire_fields();
        WireRecordOut {
            product_code: customer.product_code.filter(|_| with_product),
            timestamp: self.timestamp(),
            customer_identifier: customer.customer_identifier,
            customer_aws_account_id: customer.customer_aws_account_id,
            license_arn: customer.license_arn,
            dimension: self.dimension(),
            quantity,
            quantity_as_decimal,
            usage_allocations: self.allocations().map(|allocations| {
                allocations
                    .iter()
                    .map(|allocation| {
                        let (integer, decimal) = wire_quantity(allocation.quantity, decimal);
                        WireAllocationOut {
                            allocated_usage_quantity: integer,
                            allocated_usage_quantity_as_decimal: decimal,
                            tags: allocation.tags.as_ref().map(|tags| {
                                tags.as_slice()
                                    .iter()
                                    .map(|tag| WireTag {
                                        key: tag.key.as_str(),
                                        value: tag.value.as_str(),
                                    })
                                    .collect()
                            }),
                        }
                    })
                    .collect()
            }),
        }
    }

    /// This record exactly as a `UsageRecords` entry of a request carries it (the product
    /// code belongs to the request, so it is left out).
    #[must_use]
    pub fn as_request_entry(&self) -> impl Serialize + '_ {
        self.wire(false)
    }
}

impl Serialize for UsageRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.wire(true).serialize(serializer)
    }
}

/// The `BatchMeterUsage` request body carrying `records` in `scope`: what is sent, byte
/// for byte.
pub(crate) fn request_body(scope: &RequestScope, records: &[UsageRecord]) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Body<'a, E> {
        #[serde(skip_serializing_if = "Option::is_none")]
        product_code: Option<&'a ProductCode>,
        usage_records: Vec<E>,
    }
    let product_code = match scope {
        RequestScope::Product(product) => Some(product),
        RequestScope::Licensed => None,
    };
    let usage_records = records.iter().map(UsageRecord::as_request_entry).collect();
    // Serializing our own types into a string cannot fail.
    serde_json::to_string(&Body {
        product_code,
        usage_records,
    })
    .unwrap_or_default()
}

/// The bytes of a request body around its records, less one: with [`entry_bytes`], which
/// counts a separator for every record, a body of at least one record adds up exactly.
pub(crate) fn envelope_bytes(scope: &RequestScope) -> usize {
    request_body(scope, &[]).len() - 1
}

/// The size of [`request_body`]: exact when every record has allocations, an upper bound
/// otherwise.
pub(crate) fn request_bytes(scope: &RequestScope, records: &[UsageRecord]) -> usize {
    envelope_bytes(scope) + records.iter().map(entry_bytes).sum::<usize>()
}

/// The bytes a record adds to a request body, its separator included: exact for a record
/// with allocations, where the 1 MB limit binds; for one without, a cheaper upper bound.
pub(crate) fn entry_bytes(record: &UsageRecord) -> usize {
    if record.allocations().is_none() {
        // No JSON escape is longer than six bytes (`\u001f`), and the field names, numbers
        // and punctuation take less than 200: 25 such records stay far below 1 MB, so only
        // allocations need the exact count.
        let customer: usize = record
            .customer()
            .wire_fields()
            .record_fields()
            .map(|(_, value)| value.len())
            .sum();
        return 200 + 6 * (customer + record.dimension().as_str().len());
    }
    let mut counter = ByteCounter(0);
    // Serializing our own types into a counter cannot fail.
    let _ = serde_json::to_writer(&mut counter, &record.as_request_entry());
    counter.0 + 1
}

struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
