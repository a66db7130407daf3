//! Step 3, record by record: product, customer and licence, dimension, allocations and tags.

use metering_core::limits::{MAX_ALLOCATIONS, MIN_ALLOCATIONS};
use metering_core::{
    Customer, CustomerAwsAccountId, CustomerFields, CustomerFieldsError, CustomerIdentifier,
    DimensionKey, ErrorCode, LicenseArn, ProductCode, Quantity, Rule, Tag, TagKey, TagValue, Tags,
    UsageAllocation, ValidationError,
};

use super::Catalog;
use super::json::{AllocationIn, Object, RecordIn, TagIn, Text};
use super::message::{At, invalid};
use super::shape::{Integer, Kind, Shaped, integer};
use crate::error::{ErrorKind, ServiceError};

/// The request's `ProductCode`; empty counts as absent.
pub(super) fn request_product(
    code: Option<&str>,
    catalog: &Catalog,
) -> Result<Option<ProductCode>, ServiceError> {
    let Some(code) = code.filter(|code| !code.is_empty()) else {
        return Ok(None);
    };
    let product = ProductCode::new(code.to_owned())
        .map_err(|e| invalid(ErrorCode::InvalidProductCode, &e))?;
    if let Some(products) = &catalog.products
        && !products.contains(code)
    {
        return Err(ServiceError::new(
            ErrorCode::InvalidProductCode,
            format!("ProductCode {code:?} is not a product of this seller"),
        ));
    }
    Ok(Some(product))
}

/// A record's parts after step 3; the time is step 4's.
pub(super) struct Checked {
    pub(super) customer: Customer,
    pub(super) dimension: DimensionKey,
    pub(super) allocations: Option<Vec<UsageAllocation>>,
}

/// Step 3 for one record.
pub(super) fn check(
    shaped: &Shaped<'_>,
    product: Option<&ProductCode>,
    catalog: &Catalog,
    index: usize,
) -> Result<Checked, ServiceError> {
    let at = At::record(index);
    let customer = customer(&shaped.entry, product, catalog, at)?;
    let dimension = shaped.entry.dimension.as_deref().unwrap_or_default();
    let dimension = DimensionKey::new(dimension.to_owned())
        .map_err(|e| invalid(ErrorKind::Validation, &e.within(at)))?;
    if let Some(dimensions) = &catalog.dimensions
        && !dimensions.contains(dimension.as_str())
    {
        return Err(ServiceError::new(
            ErrorCode::InvalidUsageDimension,
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
    Ok(Checked {
        customer,
        dimension,
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
    let fail = |kind, error: ValidationError| invalid(kind, &error.within(at));
    let customer_error = |error| fail(ErrorCode::InvalidCustomerIdentifier, error);
    let text = |member: &Option<Text<'_>>| member.as_deref().map(str::to_owned);
    let identifier = text(&entry.customer_identifier)
        .filter(|id| !id.is_empty())
        .map(CustomerIdentifier::new)
        .transpose()
        .map_err(customer_error)?;
    let account = text(&entry.customer_aws_account_id)
        .map(CustomerAwsAccountId::new)
        .transpose()
        .map_err(customer_error)?;
    let license = text(&entry.license_arn)
        .map(LicenseArn::new)
        .transpose()
        .map_err(|error| fail(ErrorCode::InvalidLicense, error))?;
    let fields = CustomerFields {
        product_code: product,
        customer_identifier: identifier.as_ref(),
        customer_aws_account_id: account.as_ref(),
        license_arn: license.as_ref(),
    };
    let customer = Customer::from_wire_fields(fields).map_err(|error| {
        let kind = match error {
            CustomerFieldsError::MissingProduct | CustomerFieldsError::ProductWithLicense => {
                ErrorCode::InvalidProductCode
            }
            _ => ErrorCode::InvalidCustomerIdentifier,
        };
        fail(kind, error.to_validation_error(&fields))
    })?;
    if let (Some(licenses), Customer::Licensed { account, license }) =
        (&catalog.licenses, &customer)
    {
        let problem = match licenses.get(license.as_str()) {
            None => Some("is not a licence of this seller's products"),
            Some(owner) if owner != account.as_str() => {
                Some("was not granted to this CustomerAWSAccountId")
            }
            Some(_) => None,
        };
        if let Some(problem) = problem {
            return Err(ServiceError::new(
                ErrorCode::InvalidLicense,
                format!("{at}.LicenseArn: {problem} (value: {:?})", license.as_str()),
            ));
        }
    }
    Ok(customer)
}

/// The allocations of one record: 1..=2500, each with exactly one quantity of the record's
/// kind, valid tags, and a sum equal to the record's quantity.
fn allocations(
    list: &[Object<AllocationIn<'_>>],
    record: &Shaped<'_>,
    at: At,
) -> Result<Vec<UsageAllocation>, ServiceError> {
    let allocation_error =
        |error: ValidationError| invalid(ErrorCode::InvalidUsageAllocations, &error.within(at));
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
            invalid(ErrorCode::InvalidUsageAllocations, &error.within(within))
        };
        let integer = integer(allocation.quantity, "AllocatedUsageQuantity", within)?;
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
            (Some(Integer { text, value }), None) => (
                "AllocatedUsageQuantity",
                Kind::Integer,
                value.ok_or_else(|| ValidationError::new("Quantity", Rule::IntegerQuantity, text)),
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
                    .map_err(|error| invalid(ErrorCode::InvalidTag, &error.within(within)))?,
            ),
        };
        allocations.push(UsageAllocation { quantity, tags });
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
                expected: record.quantity,
                actual: sum,
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
