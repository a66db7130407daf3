//! The service's JSON form of records: serde with the wire field names, validating on the
//! way in.
//!
//! A record serializes as a `UsageRecords` entry plus, in the product modes, the
//! `ProductCode` that a request carries once for all its records. It deserializes from such
//! an entry; an entry taken from a real request, whose product code sits on the request,
//! reads with [`UsageRecord::from_request_entry`] or [`RequestRecords`].

use serde::de::{DeserializeSeed, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::customer::{Customer, CustomerFields, RequestScope};
use crate::error::{Rule, ValidationError};
use crate::quantity::Quantity;
use crate::record::{Tag, Tags, UsageAllocation, UsageRecord};
use crate::strings::{
    CustomerAwsAccountId, CustomerIdentifier, DimensionKey, LicenseArn, ProductCode, TagKey,
    TagValue,
};
use crate::timestamp::Timestamp;

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

    /// Reads one `UsageRecords` entry of a request whose `ProductCode` is `product`.
    ///
    /// # Errors
    /// The first rule the entry breaks, as a deserializer error.
    pub fn from_request_entry<'de, D: Deserializer<'de>>(
        deserializer: D,
        product: Option<&ProductCode>,
    ) -> Result<Self, D::Error> {
        InRequest(product).deserialize(deserializer)
    }
}

/// Why one `UsageRecords` entry, given as JSON text, is not a record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Not JSON, or JSON of the wrong shape (a string where a number belongs).
    #[error("{0}")]
    Json(#[source] serde_json::Error),
    /// A record that breaks a rule.
    #[error(transparent)]
    Invalid(ValidationError),
}

impl UsageRecord {
    /// Reads one `UsageRecords` entry from JSON text, for a request whose `ProductCode` is
    /// `product` (`None`: the entry's own `ProductCode`, if any). Unlike
    /// [`UsageRecord::from_request_entry`], the error keeps the field, rule and value apart,
    /// so a file of entries can be judged one entry at a time.
    ///
    /// # Errors
    /// Malformed JSON or a wrong type, or the first rule the entry breaks.
    pub fn from_entry_json(json: &str, product: Option<&ProductCode>) -> Result<Self, EntryError> {
        let wire: WireRecordIn = serde_json::from_str(json).map_err(EntryError::Json)?;
        wire.into_record(product).map_err(EntryError::Invalid)
    }
}

impl Serialize for UsageRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.wire(true).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for UsageRecord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        InRequest(None).deserialize(deserializer)
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

/// Deserializes a record inside a request whose product code is known.
struct InRequest<'p>(Option<&'p ProductCode>);

impl<'de> DeserializeSeed<'de> for InRequest<'_> {
    type Value = UsageRecord;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<UsageRecord, D::Error> {
        WireRecordIn::deserialize(deserializer)?
            .into_record(self.0)
            .map_err(D::Error::custom)
    }
}

/// The records of a whole `BatchMeterUsage` request body: its `ProductCode` applies to
/// each `UsageRecords` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecords {
    /// The request's product code, if it has one.
    pub product_code: Option<ProductCode>,
    /// The records, in order.
    pub records: Vec<UsageRecord>,
}

impl<'de> Deserialize<'de> for RequestRecords {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Body {
            product_code: Option<ProductCode>,
            usage_records: Option<Vec<serde_json::Value>>,
        }
        let body = Body::deserialize(deserializer)?;
        let entries = body
            .usage_records
            .ok_or_else(|| D::Error::custom("UsageRecords: is required"))?;
        let records = entries
            .into_iter()
            .enumerate()
            .map(|(index, entry)| {
                WireRecordIn::deserialize(entry)
                    .map_err(|e| format!("UsageRecords[{index}]: {e}"))
                    .and_then(|wire| {
                        wire.into_record(body.product_code.as_ref()).map_err(|e| {
                            e.within(format_args!("UsageRecords[{index}]")).to_string()
                        })
                    })
            })
            .collect::<Result<_, _>>()
            .map_err(D::Error::custom)?;
        Ok(Self {
            product_code: body.product_code,
            records,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireRecordIn {
    product_code: Option<String>,
    timestamp: Option<Timestamp>,
    customer_identifier: Option<String>,
    #[serde(rename = "CustomerAWSAccountId")]
    customer_aws_account_id: Option<String>,
    license_arn: Option<String>,
    dimension: Option<String>,
    quantity: Option<i64>,
    quantity_as_decimal: Option<String>,
    usage_allocations: Option<Vec<WireAllocationIn>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireAllocationIn {
    allocated_usage_quantity: Option<i64>,
    allocated_usage_quantity_as_decimal: Option<String>,
    tags: Option<Vec<WireTagIn>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WireTagIn {
    key: String,
    value: String,
}

/// Which of the two quantity forms a record or allocation used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Integer,
    Decimal,
}

/// Reads one quantity given in at most one of its two fields; absent means zero, as the
/// service treats a record without a quantity.
fn read_quantity(
    integer: Option<i64>,
    decimal: Option<String>,
    integer_field: &'static str,
    decimal_field: &'static str,
) -> Result<(Quantity, Option<Form>), ValidationError> {
    match (integer, decimal) {
        (Some(_), Some(text)) => Err(ValidationError::new(
            decimal_field,
            Rule::Exclusive(integer_field),
            text,
        )),
        (Some(units), None) => Quantity::from_integer_field(units)
            .map(|q| (q, Some(Form::Integer)))
            .map_err(|e| ValidationError {
                field: integer_field.into(),
                ..e
            }),
        (None, Some(text)) => {
            text.parse()
                .map(|q| (q, Some(Form::Decimal)))
                .map_err(|e: ValidationError| ValidationError {
                    field: decimal_field.into(),
                    ..e
                })
        }
        (None, None) => Ok((Quantity::ZERO, None)),
    }
}

fn required(field: &'static str) -> ValidationError {
    ValidationError::new(field, Rule::Required, "")
}

impl WireRecordIn {
    fn into_record(
        self,
        request_product: Option<&ProductCode>,
    ) -> Result<UsageRecord, ValidationError> {
        let product = match (self.product_code, request_product) {
            (Some(code), _) => Some(ProductCode::new(code)?),
            (None, product) => product.cloned(),
        };
        let customer = customer(
            product.as_ref(),
            // The Rust SDK 1.124 sends an empty identifier on every record.
            self.customer_identifier.filter(|id| !id.is_empty()),
            self.customer_aws_account_id,
            self.license_arn,
        )?;
        let dimension = DimensionKey::new(self.dimension.ok_or_else(|| required("Dimension"))?)?;
        let timestamp = self.timestamp.ok_or_else(|| required("Timestamp"))?;
        let (quantity, form) = read_quantity(
            self.quantity,
            self.quantity_as_decimal,
            "Quantity",
            "QuantityAsDecimal",
        )?;
        let Some(wire_allocations) = self.usage_allocations else {
            return Ok(UsageRecord::new(customer, dimension, timestamp, quantity));
        };
        let mut forms = Vec::from_iter(form);
        let mut allocations = Vec::with_capacity(wire_allocations.len());
        for (index, wire) in wire_allocations.into_iter().enumerate() {
            let allocation = read_allocation(wire, &mut forms)
                .map_err(|e| e.within(format_args!("UsageAllocations[{index}]")))?;
            allocations.push(allocation);
        }
        if forms.windows(2).any(|pair| pair[0] != pair[1]) {
            return Err(ValidationError::new(
                "UsageAllocations",
                Rule::MixedQuantityKinds,
                "",
            ));
        }
        let record = UsageRecord::with_allocations(customer, dimension, timestamp, allocations)?;
        if record.quantity() != quantity {
            return Err(ValidationError::new(
                "UsageAllocations",
                Rule::AllocationSum {
                    expected: quantity,
                    actual: record.quantity(),
                },
                record.quantity(),
            ));
        }
        Ok(record)
    }
}

fn read_allocation(
    wire: WireAllocationIn,
    forms: &mut Vec<Form>,
) -> Result<UsageAllocation, ValidationError> {
    let (quantity, form) = read_quantity(
        wire.allocated_usage_quantity,
        wire.allocated_usage_quantity_as_decimal,
        "AllocatedUsageQuantity",
        "AllocatedUsageQuantityAsDecimal",
    )?;
    // Unlike a record's, an allocation's quantity has no default: exactly one is required.
    forms.push(form.ok_or_else(|| required("AllocatedUsageQuantity"))?);
    let Some(wire_tags) = wire.tags else {
        return Ok(UsageAllocation::untagged(quantity));
    };
    let mut tags = Vec::new();
    for (index, tag) in wire_tags.into_iter().enumerate() {
        let tag = TagKey::new(tag.key)
            .and_then(|key| Ok(Tag::new(key, TagValue::new(tag.value)?)))
            .map_err(|e| e.within(format_args!("Tags[{index}]")))?;
        tags.push(tag);
    }
    Ok(UsageAllocation::new(quantity, Tags::new(tags)?))
}

/// Validates each customer field, then resolves the mode they name.
fn customer(
    product: Option<&ProductCode>,
    identifier: Option<String>,
    account: Option<String>,
    license: Option<String>,
) -> Result<Customer, ValidationError> {
    let identifier = identifier.map(CustomerIdentifier::new).transpose()?;
    let account = account.map(CustomerAwsAccountId::new).transpose()?;
    let license = license.map(LicenseArn::new).transpose()?;
    let fields = CustomerFields {
        product_code: product,
        customer_identifier: identifier.as_ref(),
        customer_aws_account_id: account.as_ref(),
        license_arn: license.as_ref(),
    };
    Customer::from_wire_fields(fields).map_err(|e| e.to_validation_error(&fields))
}
