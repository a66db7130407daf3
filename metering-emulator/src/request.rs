//! Reading and checking a `BatchMeterUsage` request body, as the service would.
//!
//! The body is read loosely (every member optional, `null` as absent, unknown members
//! ignored, strings borrowed from the body where they have no escapes), then checked in the
//! service's order as this emulator reads it:
//! 1. JSON types (`SerializationException`);
//! 2. the model's constraints that have no exception of their own, all of them collected
//!    into one `ValidationException` (record count, required members, dimension length,
//!    quantity range and pattern);
//! 3. record by record: product, customer and licence, dimension, allocations and tags, each
//!    with its own exception;
//! 4. the timestamps of all records (`TimestampOutOfBoundsException`).
//!
//! Every field rule is the one `metering-core` and `metering-rules` define: nothing is
//! written twice.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use metering_core::limits::{MAX_ALLOCATIONS, MAX_RECORDS_PER_REQUEST, MIN_ALLOCATIONS};
use metering_core::{
    Customer, CustomerAwsAccountId, CustomerIdentifier, DimensionKey, LicenseArn, ProductCode,
    Quantity, Rule, Tag, TagKey, TagValue, Tags, TimePolicy, Timestamp, ValidationError, Violation,
};
use metering_rules::{DIMENSION, QUANTITY_DECIMAL};
use serde::{Deserialize, Deserializer};
use serde_json::Number;
use serde_json::value::RawValue;

use crate::error::{ErrorKind, ServiceError};
use crate::ledger::BilledAllocation;

/// What the seller's catalogue holds; `None` accepts anything well-formed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    pub(crate) products: Option<HashSet<String>>,
    pub(crate) dimensions: Option<HashSet<String>>,
    /// Licence ARN → the account it was granted to.
    pub(crate) licenses: Option<HashMap<String, String>>,
}

/// A record that passed every check.
pub(crate) struct Record<'v> {
    /// The entry as sent, echoed in the answer.
    pub(crate) raw: &'v RawValue,
    pub(crate) customer: Customer,
    pub(crate) dimension: DimensionKey,
    pub(crate) timestamp: Timestamp,
    pub(crate) quantity: Quantity,
    pub(crate) allocations: Option<Vec<BilledAllocation>>,
}

/// Where in the request a member sits, formatted only when an error needs it.
#[derive(Debug, Clone, Copy, Default)]
struct At {
    record: Option<usize>,
    allocation: Option<usize>,
}

impl At {
    fn record(index: usize) -> Self {
        Self {
            record: Some(index),
            allocation: None,
        }
    }

    fn allocation(self, index: usize) -> Self {
        Self {
            allocation: Some(index),
            ..self
        }
    }

    /// `name` inside this place: `UsageRecords[0].Dimension`.
    fn member(self, name: &str) -> String {
        if self.record.is_some() {
            format!("{self}.{name}")
        } else {
            name.to_owned()
        }
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(record) = self.record {
            write!(f, "UsageRecords[{record}]")?;
        }
        if let Some(allocation) = self.allocation {
            write!(f, ".UsageAllocations[{allocation}]")?;
        }
        Ok(())
    }
}

/// Integer or decimal quantities: a record and its allocations use one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Decimal,
}

/// A string member, borrowed from the body unless it has escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(Visitor(std::marker::PhantomData))
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// A JSON object read into `T`. Serde's derived structs also accept a JSON array of their
/// members in order, which AWS JSON does not: without this, `["prod-1", []]` would pass as a
/// request, and an array record would be echoed back where an SDK expects an object.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(Visitor(std::marker::PhantomData))
            .map(Object)
    }
}

impl<T> std::ops::Deref for Object<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The request's members.
#[derive(Deserialize)]
struct RequestIn<'a> {
    #[serde(rename = "ProductCode", borrow, default)]
    product_code: Option<Text<'a>>,
    #[serde(rename = "UsageRecords", borrow, default)]
    usage_records: Option<Vec<&'a RawValue>>,
}

/// A `UsageRecords` entry's members.
#[derive(Deserialize)]
struct RecordIn<'a> {
    #[serde(rename = "Timestamp", default)]
    timestamp: Option<Number>,
    #[serde(rename = "CustomerIdentifier", borrow, default)]
    customer_identifier: Option<Text<'a>>,
    #[serde(rename = "CustomerAWSAccountId", borrow, default)]
    customer_aws_account_id: Option<Text<'a>>,
    #[serde(rename = "LicenseArn", borrow, default)]
    license_arn: Option<Text<'a>>,
    #[serde(rename = "Dimension", borrow, default)]
    dimension: Option<Text<'a>>,
    #[serde(rename = "Quantity", default)]
    quantity: Option<Number>,
    #[serde(rename = "QuantityAsDecimal", borrow, default)]
    quantity_as_decimal: Option<Text<'a>>,
    #[serde(rename = "UsageAllocations", borrow, default)]
    usage_allocations: Option<Vec<Object<AllocationIn<'a>>>>,
}

/// A `UsageAllocations` entry's members.
#[derive(Deserialize)]
struct AllocationIn<'a> {
    #[serde(rename = "AllocatedUsageQuantity", default)]
    quantity: Option<Number>,
    #[serde(rename = "AllocatedUsageQuantityAsDecimal", borrow, default)]
    quantity_as_decimal: Option<Text<'a>>,
    #[serde(rename = "Tags", borrow, default)]
    tags: Option<Vec<Object<TagIn<'a>>>>,
}

/// A `Tags` entry's members.
#[derive(Deserialize)]
struct TagIn<'a> {
    #[serde(rename = "Key", borrow, default)]
    key: Option<Text<'a>>,
    #[serde(rename = "Value", borrow, default)]
    value: Option<Text<'a>>,
}

/// A record after the first two steps.
struct Shaped<'a> {
    entry: RecordIn<'a>,
    raw: &'a RawValue,
    timestamp: Timestamp,
    quantity: Quantity,
    kind: Option<Kind>,
}

/// Reads and checks a request body, returning its records or the exception.
pub(crate) fn check_request<'a>(
    body: &'a [u8],
    catalog: &Catalog,
    policy: &TimePolicy,
    now: Timestamp,
) -> Result<Vec<Record<'a>>, ServiceError> {
    let Object(request): Object<RequestIn<'a>> = serde_json::from_slice(body).map_err(|e| {
        ServiceError::new(ErrorKind::Serialization, format!("Malformed request: {e}"))
    })?;
    let mut problems = Vec::new();
    let entries = match request.usage_records {
        None => {
            problems.push(constraint(
                "null",
                "usageRecords",
                "Member must not be null",
            ));
            Vec::new()
        }
        Some(entries) => {
            if entries.len() > MAX_RECORDS_PER_REQUEST {
                problems.push(constraint(
                    &format!("'[{} usage records]'", entries.len()),
                    "usageRecords",
                    &format!(
                        "Member must have length less than or equal to {MAX_RECORDS_PER_REQUEST}"
                    ),
                ));
            }
            entries
        }
    };
    let mut shaped = Vec::with_capacity(entries.len());
    for (index, raw) in entries.into_iter().enumerate() {
        let Object(entry): Object<RecordIn<'a>> = serde_json::from_str(raw.get()).map_err(|e| {
            ServiceError::new(
                ErrorKind::Serialization,
                format!("{}: {e}", At::record(index)),
            )
        })?;
        if let Some(record) = shape(entry, raw, index, &mut problems)? {
            shaped.push(record);
        }
    }
    if !problems.is_empty() {
        return Err(validation_exception(&problems));
    }
    let product = request_product(request.product_code.as_deref(), catalog)?;
    let records = shaped
        .into_iter()
        .enumerate()
        .map(|(index, record)| check(&record, product.as_ref(), catalog, index))
        .collect::<Result<Vec<_>, _>>()?;
    check_times(&records, policy, now)?;
    Ok(records)
}

/// A `ValidationException` for a body of `len` bytes, 1 MB or more.
pub(crate) fn too_large(len: usize) -> ServiceError {
    validation_exception(&[format!(
        "Request body of {len} bytes failed to satisfy constraint: Request must be less than 1 MB ({} bytes)",
        metering_core::limits::MAX_REQUEST_BYTES
    )])
}

fn validation_exception(problems: &[String]) -> ServiceError {
    let count = problems.len();
    let plural = if count == 1 { "error" } else { "errors" };
    ServiceError::new(
        ErrorKind::Validation,
        format!(
            "{count} validation {plural} detected: {}",
            problems.join("; ")
        ),
    )
}

/// One AWS-style constraint message.
fn constraint(value: &str, path: &str, rule: &str) -> String {
    format!("Value {value} at '{path}' failed to satisfy constraint: {rule}")
}

/// A [`Violation`] as AWS words it.
fn constraint_rule(violation: &Violation) -> String {
    match violation {
        Violation::TooShort { min, .. } => {
            format!("Member must have length greater than or equal to {min}")
        }
        Violation::TooLong { max, .. } => {
            format!("Member must have length less than or equal to {max}")
        }
        Violation::Pattern { pattern, .. } => {
            format!("Member must satisfy regular expression pattern: {pattern}")
        }
    }
}

fn serialization(what: impl std::fmt::Display, expected: &str) -> ServiceError {
    ServiceError::new(
        ErrorKind::Serialization,
        format!("{what}: expected {expected}"),
    )
}

/// An integer member; integers beyond `i64` (up to `u64::MAX`) saturate, as they break the
/// range rule anyway. Beyond `u64::MAX` `serde_json` reads a float, so that is a
/// `SerializationException`.
fn integer(number: Option<&Number>, name: &str, at: At) -> Result<Option<i64>, ServiceError> {
    match number {
        None => Ok(None),
        Some(number) if number.is_i64() || number.is_u64() => {
            Ok(Some(number.as_i64().unwrap_or(i64::MAX)))
        }
        Some(_) => Err(serialization(at.member(name), "an integer")),
    }
}

/// The request's `ProductCode`; empty counts as absent.
fn request_product(
    code: Option<&str>,
    catalog: &Catalog,
) -> Result<Option<ProductCode>, ServiceError> {
    let Some(code) = code.filter(|code| !code.is_empty()) else {
        return Ok(None);
    };
    let product = ProductCode::new(code.to_owned())
        .map_err(|e| invalid(ErrorKind::InvalidProductCode, &e))?;
    if let Some(products) = &catalog.products
        && !products.contains(code)
    {
        return Err(ServiceError::new(
            ErrorKind::InvalidProductCode,
            format!("ProductCode {code:?} is not a product of this seller"),
        ));
    }
    Ok(Some(product))
}

fn invalid(kind: ErrorKind, error: &ValidationError) -> ServiceError {
    ServiceError::new(kind, error.to_string())
}

/// Step 2 for one record: collects the constraint problems, returns the record when it has
/// none.
fn shape<'a>(
    entry: RecordIn<'a>,
    raw: &'a RawValue,
    index: usize,
    problems: &mut Vec<String>,
) -> Result<Option<Shaped<'a>>, ServiceError> {
    let at = At::record(index);
    let path = |member: &str| format!("usageRecords.{}.member.{member}", index + 1);
    let before = problems.len();

    let timestamp = match &entry.timestamp {
        None => {
            problems.push(constraint(
                "null",
                &path("timestamp"),
                "Member must not be null",
            ));
            None
        }
        Some(seconds) => Some(Timestamp::deserialize(seconds.clone()).map_err(|e| {
            ServiceError::new(
                ErrorKind::Serialization,
                format!("{}: {e}", at.member("Timestamp")),
            )
        })?),
    };

    match entry.dimension.as_deref() {
        None => problems.push(constraint(
            "null",
            &path("dimension"),
            "Member must not be null",
        )),
        Some(text) => {
            if let Err(violation) = DIMENSION.check(text) {
                problems.push(constraint(
                    &format!("'{text}'"),
                    &path("dimension"),
                    &constraint_rule(&violation),
                ));
            }
        }
    }

    let integer_quantity = integer(entry.quantity.as_ref(), "Quantity", at)?;
    let decimal_quantity = entry.quantity_as_decimal.as_deref();
    let mut quantity = (Quantity::ZERO, None);
    match (integer_quantity, decimal_quantity) {
        (Some(_), Some(text)) => problems.push(constraint(
            &format!("'{text}'"),
            &path("quantityAsDecimal"),
            "Member must not be specified together with quantity",
        )),
        (Some(units), None) => {
            if let Ok(value) = Quantity::try_from(units) {
                quantity = (value, Some(Kind::Integer));
            } else {
                let rule = if units < 0 {
                    "Member must have value greater than or equal to 0".to_owned()
                } else {
                    format!(
                        "Member must have value less than or equal to {}",
                        metering_core::limits::MAX_INTEGER_QUANTITY
                    )
                };
                problems.push(constraint(&units.to_string(), &path("quantity"), &rule));
            }
        }
        (None, Some(text)) => match QUANTITY_DECIMAL.check(text) {
            Ok(()) => {
                let value = text
                    .parse()
                    .map_err(|e| invalid(ErrorKind::Validation, &e))?;
                quantity = (value, Some(Kind::Decimal));
            }
            Err(violation) => problems.push(constraint(
                &format!("'{text}'"),
                &path("quantityAsDecimal"),
                &constraint_rule(&violation),
            )),
        },
        // The model: "Defaults to 0 if neither Quantity nor QuantityAsDecimal is specified".
        (None, None) => {}
    }

    Ok(match timestamp {
        Some(timestamp) if problems.len() == before => Some(Shaped {
            entry,
            raw,
            timestamp,
            quantity: quantity.0,
            kind: quantity.1,
        }),
        _ => None,
    })
}

/// Step 3 for one record.
fn check<'a>(
    shaped: &Shaped<'a>,
    product: Option<&ProductCode>,
    catalog: &Catalog,
    index: usize,
) -> Result<Record<'a>, ServiceError> {
    let at = At::record(index);
    let customer = customer(&shaped.entry, product, catalog, at)?;
    let dimension = shaped.entry.dimension.as_deref().unwrap_or_default();
    let dimension = DimensionKey::new(dimension.to_owned())
        .map_err(|e| invalid(ErrorKind::Validation, &e.within(at)))?;
    if let Some(dimensions) = &catalog.dimensions
        && !dimensions.contains(dimension.as_str())
    {
        return Err(ServiceError::new(
            ErrorKind::InvalidUsageDimension,
            format!(
                "{at}.Dimension: {:?} is not a usage dimension of this product",
                dimension.as_str()
            ),
        ));
    }
    let allocations = match &shaped.entry.usage_allocations {
        None => None,
        Some(list) => Some(allocations(list, shaped, at)?),
    };
    Ok(Record {
        raw: shaped.raw,
        customer,
        dimension,
        timestamp: shaped.timestamp,
        quantity: shaped.quantity,
        allocations,
    })
}

/// The customer mode of one record; an empty `CustomerIdentifier` counts as absent (the
/// Rust SDK 1.124 sends `""` on every record).
fn customer(
    entry: &RecordIn<'_>,
    product: Option<&ProductCode>,
    catalog: &Catalog,
    at: At,
) -> Result<Customer, ServiceError> {
    let identifier = entry
        .customer_identifier
        .as_deref()
        .filter(|id| !id.is_empty());
    let account = entry.customer_aws_account_id.as_deref();
    let license = entry.license_arn.as_deref();
    let fail = |kind, error: ValidationError| invalid(kind, &error.within(at));
    let customer_error = |error| fail(ErrorKind::InvalidCustomerIdentifier, error);
    let account = account
        .map(|account| CustomerAwsAccountId::new(account.to_owned()))
        .transpose()
        .map_err(customer_error)?;

    let Some(license) = license else {
        let Some(product) = product else {
            return Err(fail(
                ErrorKind::InvalidProductCode,
                ValidationError::new("ProductCode", Rule::Required, "")
                    .within("a request whose records have no LicenseArn"),
            ));
        };
        let product = product.clone();
        return match (identifier, account) {
            (Some(identifier), Some(_)) => Err(customer_error(ValidationError::new(
                "CustomerIdentifier",
                Rule::Exclusive("CustomerAWSAccountId"),
                identifier,
            ))),
            (Some(identifier), None) => Ok(Customer::Legacy {
                product,
                identifier: CustomerIdentifier::new(identifier.to_owned())
                    .map_err(customer_error)?,
            }),
            (None, Some(account)) => Ok(Customer::Account { product, account }),
            (None, None) => Err(customer_error(ValidationError::new(
                "CustomerAWSAccountId",
                Rule::Required,
                "",
            ))),
        };
    };
    if let Some(identifier) = identifier {
        return Err(customer_error(ValidationError::new(
            "CustomerIdentifier",
            Rule::Exclusive("LicenseArn"),
            identifier,
        )));
    }
    if let Some(product) = product {
        return Err(ServiceError::new(
            ErrorKind::InvalidProductCode,
            format!(
                "ProductCode: must not be sent with LicenseArn records (Concurrent Agreements), {at} has a LicenseArn (value: {:?})",
                product.as_str()
            ),
        ));
    }
    let Some(account) = account else {
        return Err(customer_error(ValidationError::new(
            "CustomerAWSAccountId",
            Rule::Required,
            "",
        )));
    };
    let license = LicenseArn::new(license.to_owned())
        .map_err(|error| fail(ErrorKind::InvalidLicense, error))?;
    if let Some(licenses) = &catalog.licenses {
        let problem = match licenses.get(license.as_str()) {
            None => Some("is not a licence of this seller's products"),
            Some(owner) if owner != account.as_str() => {
                Some("was not granted to this CustomerAWSAccountId")
            }
            Some(_) => None,
        };
        if let Some(problem) = problem {
            return Err(ServiceError::new(
                ErrorKind::InvalidLicense,
                format!("{at}.LicenseArn: {problem} (value: {:?})", license.as_str()),
            ));
        }
    }
    Ok(Customer::Licensed { account, license })
}

/// The allocations of one record: 1..=2500, each with exactly one quantity of the record's
/// kind, valid tags, and a sum equal to the record's quantity.
fn allocations(
    list: &[Object<AllocationIn<'_>>],
    record: &Shaped<'_>,
    at: At,
) -> Result<Vec<BilledAllocation>, ServiceError> {
    let allocation_error =
        |error: ValidationError| invalid(ErrorKind::InvalidUsageAllocations, &error.within(at));
    if !(MIN_ALLOCATIONS..=MAX_ALLOCATIONS).contains(&list.len()) {
        return Err(allocation_error(ValidationError::new(
            "UsageAllocations",
            Rule::Count {
                min: MIN_ALLOCATIONS,
                max: MAX_ALLOCATIONS,
                actual: list.len(),
            },
            format_args!("{} allocations", list.len()),
        )));
    }
    let mut kind = record.kind;
    let mut allocations = Vec::with_capacity(list.len());
    for (index, allocation) in list.iter().enumerate() {
        let within = at.allocation(index);
        let fail = |error: ValidationError| {
            invalid(ErrorKind::InvalidUsageAllocations, &error.within(within))
        };
        let integer = integer(
            allocation.quantity.as_ref(),
            "AllocatedUsageQuantity",
            within,
        )?;
        let decimal = allocation.quantity_as_decimal.as_deref();
        let (field, this_kind, quantity) = match (integer, decimal) {
            (Some(_), Some(text)) => {
                return Err(fail(ValidationError::new(
                    "AllocatedUsageQuantityAsDecimal",
                    Rule::Exclusive("AllocatedUsageQuantity"),
                    text,
                )));
            }
            (None, None) => {
                return Err(fail(ValidationError::new(
                    "AllocatedUsageQuantityAsDecimal",
                    Rule::Required,
                    "",
                )));
            }
            (Some(units), None) => (
                "AllocatedUsageQuantity",
                Kind::Integer,
                Quantity::try_from(units),
            ),
            (None, Some(text)) => (
                "AllocatedUsageQuantityAsDecimal",
                Kind::Decimal,
                text.parse::<Quantity>(),
            ),
        };
        let quantity = quantity.map_err(|e| {
            fail(ValidationError {
                field: field.into(),
                ..e
            })
        })?;
        if *kind.get_or_insert(this_kind) != this_kind {
            return Err(fail(ValidationError::new(
                field,
                Rule::MixedQuantityKinds,
                quantity,
            )));
        }
        let tags = match &allocation.tags {
            None => None,
            Some(tags) => Some(
                self::tags(tags)
                    .map_err(|error| invalid(ErrorKind::InvalidTag, &error.within(within)))?,
            ),
        };
        allocations.push(BilledAllocation { quantity, tags });
    }
    let sum = Quantity::checked_sum(allocations.iter().map(|a| a.quantity)).ok_or_else(|| {
        allocation_error(ValidationError::new(
            "UsageAllocations",
            Rule::Quantity,
            "sum above 9999999999.999999",
        ))
    })?;
    if sum != record.quantity {
        return Err(allocation_error(ValidationError::new(
            "UsageAllocations",
            Rule::AllocationSum {
                expected: record.quantity.to_string(),
                actual: sum.to_string(),
            },
            sum,
        )));
    }
    Ok(allocations)
}

/// The tags of one allocation: 1..=5, valid keys and values, keys unique.
fn tags(list: &[Object<TagIn<'_>>]) -> Result<Tags, ValidationError> {
    let mut tags = Vec::with_capacity(list.len());
    for (index, tag) in list.iter().enumerate() {
        let text = |name: &'static str, text: &Option<Text<'_>>| {
            text.as_deref()
                .map(str::to_owned)
                .ok_or_else(|| ValidationError::new(name, Rule::Required, ""))
        };
        let tag = text("Key", &tag.key)
            .and_then(TagKey::new)
            .and_then(|key| {
                let value = text("Value", &tag.value).and_then(TagValue::new)?;
                Ok(Tag::new(key, value))
            })
            .map_err(|e| e.within(format_args!("Tags[{index}]")))?;
        tags.push(tag);
    }
    Tags::new(tags)
}

/// Step 4: one timestamp out of bounds rejects the whole request.
fn check_times(
    records: &[Record<'_>],
    policy: &TimePolicy,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let mut bad = records.iter().enumerate().filter_map(|(index, record)| {
        policy
            .check(record.timestamp, now)
            .err()
            .map(|violation| (index, violation))
    });
    let Some((index, violation)) = bad.next() else {
        return Ok(());
    };
    let others = bad.count();
    let more = if others == 0 {
        String::new()
    } else {
        format!(" ({others} more records out of bounds)")
    };
    Err(ServiceError::new(
        ErrorKind::TimestampOutOfBounds,
        format!("UsageRecords[{index}].Timestamp: {violation}{more}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_694_400; // 2026-11-26T12:00:00Z

    fn run(body: &str) -> Result<usize, ServiceError> {
        let now = Timestamp::from_unix_seconds(NOW).unwrap();
        check_request(
            body.as_bytes(),
            &Catalog::default(),
            &TimePolicy::new(),
            now,
        )
        .map(|records| records.len())
    }

    fn record(members: &str) -> String {
        format!(
            r#"{{"ProductCode":"prod-1","UsageRecords":[{{"Timestamp":{},"CustomerAWSAccountId":"123456789012","Dimension":"api"{members}}}]}}"#,
            NOW - 60
        )
    }

    #[test]
    fn json_arrays_are_not_objects() {
        assert_eq!(run(&record(r#","Quantity":1"#)), Ok(1));
        let ts = NOW - 60;
        for body in [
            r#"["prod-1", []]"#.to_owned(),
            format!(
                r#"{{"ProductCode":"prod-1","UsageRecords":[[{ts},null,"123456789012",null,"api",1]]}}"#
            ),
            record(r#","Quantity":1,"UsageAllocations":[[1]]"#),
            record(
                r#","Quantity":1,"UsageAllocations":[{"AllocatedUsageQuantity":1,"Tags":[["k","v"]]}]"#,
            ),
        ] {
            let error = run(&body).unwrap_err();
            assert_eq!(error.kind, ErrorKind::Serialization, "{body}: {error}");
            assert!(error.message.contains("a JSON object"), "{error}");
        }
    }

    #[test]
    fn mixed_quantity_kinds_name_the_allocations_own_member() {
        let error = run(&record(
            r#","Quantity":1,"UsageAllocations":[{"AllocatedUsageQuantityAsDecimal":"1"}]"#,
        ))
        .unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidUsageAllocations);
        assert!(
            error.message.starts_with(
                "UsageRecords[0].UsageAllocations[0].AllocatedUsageQuantityAsDecimal:"
            ),
            "{error}"
        );
        let error = run(&record(
            r#","QuantityAsDecimal":"1","UsageAllocations":[{"AllocatedUsageQuantity":1}]"#,
        ))
        .unwrap_err();
        assert!(
            error
                .message
                .starts_with("UsageRecords[0].UsageAllocations[0].AllocatedUsageQuantity:"),
            "{error}"
        );
    }

    /// No body panics: every prefix of a rich body, and every byte of it replaced by each of
    /// a few JSON-significant bytes, gets an answer.
    #[test]
    fn no_body_panics() {
        let body = record(
            r#","QuantityAsDecimal":"1.5","CustomerIdentifier":"","LicenseArn":null,"UsageAllocations":[{"AllocatedUsageQuantityAsDecimal":"1.25","Tags":[{"Key":"k\"\/","Value":"v"}]},{"AllocatedUsageQuantityAsDecimal":"0.25"}]"#,
        );
        assert_eq!(run(&body), Ok(1));
        let bytes = body.as_bytes();
        let now = Timestamp::from_unix_seconds(NOW).unwrap();
        let answer = |candidate: &[u8]| {
            let _ = check_request(candidate, &Catalog::default(), &TimePolicy::new(), now);
        };
        for end in 0..bytes.len() {
            answer(&bytes[..end]);
        }
        let mut mutated = bytes.to_vec();
        for at in 0..bytes.len() {
            for &byte in b"{}[]\",:-.e0\\\xff " {
                mutated[at] = byte;
                answer(&mutated);
            }
            mutated[at] = bytes[at];
        }
    }
}
