//! How ledger values are stored as SQL columns: plain text a person can read, the same in
//! every SQL implementation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::customer::{Customer, CustomerFields, RequestScope};
use crate::error::ValidationError;
use crate::hour::Hour;
use crate::quantity::Quantity;
use crate::record::{Tag, Tags, UsageAllocation, UsageRecord};
use crate::strings::{
    CustomerAwsAccountId, CustomerIdentifier, DimensionKey, LicenseArn, ProductCode, TagKey,
    TagValue,
};
use crate::timestamp::Timestamp;

use super::protocol::seal_record;
use super::{
    LedgerError, LevelChange, LevelHeld, RecordId, RecordState, SetAside, SetAsideId, StoredRecord,
    UsageKey,
};
use crate::kind::{Identifier, Kind};

/// A customer as four text columns, `''` where its mode has no such part:
/// `product`, `customer_identifier`, `account`, `license`.
pub(crate) type CustomerColumns = [String; 4];

pub(crate) fn customer_columns(customer: &Customer) -> CustomerColumns {
    let fields = customer.wire_fields();
    fields
        .named()
        .map(|(_, value)| value.unwrap_or_default().to_owned())
}

/// The customer the columns hold, by the same rules as the wire fields they mirror.
pub(crate) fn customer_from_columns(
    [product, identifier, account, license]: CustomerColumns,
) -> Result<Customer, ValidationError> {
    fn present<T>(
        text: String,
        new: impl FnOnce(String) -> Result<T, ValidationError>,
    ) -> Result<Option<T>, ValidationError> {
        (!text.is_empty()).then(|| new(text)).transpose()
    }
    let product = present(product, ProductCode::new)?;
    let identifier = present(identifier, CustomerIdentifier::new)?;
    let account = present(account, CustomerAwsAccountId::new)?;
    let license = present(license, LicenseArn::new)?;
    let fields = CustomerFields {
        product_code: product.as_ref(),
        customer_identifier: identifier.as_ref(),
        customer_aws_account_id: account.as_ref(),
        license_arn: license.as_ref(),
    };
    Customer::from_wire_fields(fields).map_err(|error| error.to_validation_error(&fields))
}

/// Tags as a JSON object sorted by key (`{"env":"prod"}`); `''` for the untagged bucket.
pub(crate) fn tags_column(tags: Option<&Tags>) -> String {
    tags.map_or_else(String::new, |tags| {
        let object: BTreeMap<&str, &str> = tags
            .as_slice()
            .iter()
            .map(|tag| (tag.key.as_str(), tag.value.as_str()))
            .collect();
        serde_json::to_string(&object).unwrap_or_default()
    })
}

pub(crate) fn tags_from_column(text: &str) -> Result<Option<Tags>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let object: BTreeMap<String, String> =
        serde_json::from_str(text).map_err(|error| format!("tags {text:?}: {error}"))?;
    tags_from_object(object).map(Some)
}

fn tags_from_object(object: BTreeMap<String, String>) -> Result<Tags, String> {
    let tags = object
        .into_iter()
        .map(|(key, value)| Ok(Tag::new(TagKey::new(key)?, TagValue::new(value)?)))
        .collect::<Result<Vec<_>, ValidationError>>()
        .and_then(Tags::new);
    tags.map_err(|error| error.to_string())
}

/// One allocation of a sealed record, as its `allocations` column lists them.
#[derive(Serialize, Deserialize)]
struct StoredAllocation {
    quantity: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tags: Option<BTreeMap<String, String>>,
}

/// A record's allocations as JSON (`[{"quantity":3,"tags":{"env":"prod"}}]`), or `None` for a
/// record of untagged usage only.
pub(crate) fn allocations_column(record: &UsageRecord) -> Option<String> {
    let stored: Vec<StoredAllocation> = record
        .allocations()?
        .iter()
        .map(|allocation| StoredAllocation {
            quantity: allocation.quantity,
            tags: allocation.tags.as_ref().map(|tags| {
                tags.as_slice()
                    .iter()
                    .map(|tag| (tag.key.to_string(), tag.value.to_string()))
                    .collect()
            }),
        })
        .collect();
    serde_json::to_string(&stored).ok()
}

/// The record whose parts the ledger stored.
pub(crate) fn record_from_columns(
    customer: Customer,
    dimension: &str,
    hour: Hour,
    quantity: &str,
    allocations: Option<&str>,
) -> Result<UsageRecord, String> {
    let dimension = DimensionKey::new(dimension.to_owned()).map_err(|e| e.to_string())?;
    let Some(allocations) = allocations else {
        let quantity: Quantity = quantity
            .parse()
            .map_err(|e: ValidationError| e.to_string())?;
        return Ok(UsageRecord::new(
            customer,
            dimension,
            hour.start(),
            quantity,
        ));
    };
    let stored: Vec<StoredAllocation> = serde_json::from_str(allocations)
        .map_err(|error| format!("allocations {allocations:?}: {error}"))?;
    let allocations = stored
        .into_iter()
        .map(|allocation| {
            Ok(UsageAllocation {
                quantity: allocation.quantity,
                tags: allocation.tags.map(tags_from_object).transpose()?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    UsageRecord::with_allocations(customer, dimension, hour.start(), allocations)
        .map_err(|error| error.to_string())
}

/// One open row being sealed.
pub(crate) struct OpenRow {
    pub key_id: i64,
    pub customer: CustomerColumns,
    pub dimension: String,
    pub tags: String,
    pub hour: i64,
    pub micros: i64,
    pub late_micros: i64,
}

/// The record of one customer, dimension and hour; the outer error is a corrupt row, the
/// inner one a record the service's rules cannot hold (too many tag sets, too large a sum).
pub(crate) fn build_record(group: &[OpenRow]) -> Result<Result<UsageRecord, String>, String> {
    let first = &group[0];
    let customer = customer_from_columns(first.customer.clone()).map_err(|e| e.to_string())?;
    let dimension = DimensionKey::new(first.dimension.clone()).map_err(|e| e.to_string())?;
    let hour = Timestamp::from_unix_seconds(first.hour).map_err(|e| e.to_string())?;
    let hour = Hour::of(hour);
    let usage = group
        .iter()
        .map(|row| {
            let micros = u64::try_from(row.micros).map_err(|e| e.to_string())?;
            let quantity = Quantity::from_micros(micros).map_err(|e| e.to_string())?;
            Ok((tags_from_column(&row.tags)?, quantity))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(seal_record(customer, dimension, hour, usage))
}

/// A `records` row as read, before it is checked.
pub(crate) struct RecordRow {
    pub id: i64,
    pub customer: CustomerColumns,
    pub dimension: String,
    pub hour: i64,
    pub quantity: String,
    pub allocations: Option<String>,
    pub late: String,
    pub state: String,
    pub attempt: i64,
    pub metering_record_id: Option<String>,
    pub detail: Option<String>,
    pub kind: String,
}

impl RecordRow {
    pub(crate) fn into_stored(self) -> Result<StoredRecord, LedgerError> {
        let id = self.id;
        let customer = customer_from_columns(self.customer).map_err(|e| e.to_string());
        let hour = hour("records", id, self.hour)?;
        let record = customer
            .and_then(|c| {
                record_from_columns(
                    c,
                    &self.dimension,
                    hour,
                    &self.quantity,
                    self.allocations.as_deref(),
                )
            })
            .map_err(corrupt("records", id))?;
        let state = RecordState::from_name(&self.state)
            .ok_or_else(|| format!("unknown state {:?}", self.state))
            .map_err(corrupt("records", id))?;
        let late = self
            .late
            .parse::<Quantity>()
            .map_err(|e| e.to_string())
            .map_err(corrupt("records", id))?;
        let attempt = u32::try_from(self.attempt)
            .map_err(|e| e.to_string())
            .map_err(corrupt("records", id))?;
        Ok(StoredRecord {
            id: RecordId(id),
            record,
            state,
            attempt,
            late,
            metering_record_id: self.metering_record_id,
            detail: self.detail,
            kind: kind_column("records", id, &self.kind)?,
        })
    }
}

/// The usage key of a `usage_keys` row's columns.
fn key_from_columns(
    customer: CustomerColumns,
    dimension: String,
    tags: &str,
) -> Result<UsageKey, String> {
    let customer = customer_from_columns(customer).map_err(|e| e.to_string())?;
    let dimension = DimensionKey::new(dimension).map_err(|e| e.to_string())?;
    Ok(UsageKey::new(customer, dimension, tags_from_column(tags)?))
}

/// A `set_aside` row joined with its key, as read.
pub(crate) struct SetAsideRow {
    pub id: i64,
    pub customer: CustomerColumns,
    pub dimension: String,
    pub tags: String,
    pub hour: i64,
    pub micros: i64,
    pub reason: String,
    pub at: i64,
    pub kind: String,
}

impl SetAsideRow {
    pub(crate) fn into_set_aside(self) -> Result<SetAside, LedgerError> {
        let id = self.id;
        let key = key_from_columns(self.customer, self.dimension, &self.tags)
            .map_err(corrupt("set_aside", id))?;
        Ok(SetAside {
            id: SetAsideId(id),
            key,
            hour: hour("set_aside", id, self.hour)?,
            quantity: quantity_from_micros("set_aside", id, self.micros)?,
            reason: self.reason,
            at: timestamp("set_aside", id, self.at)?,
            kind: kind_column("set_aside", id, &self.kind)?,
        })
    }
}

/// A row of `LEVELS_HELD`: a level change joined with its key, as read.
pub(crate) struct LevelRow {
    pub key_id: i64,
    pub customer: CustomerColumns,
    pub dimension: String,
    pub tags: String,
    pub at: i64,
    pub level: i64,
}

impl LevelRow {
    pub(crate) fn into_held(self) -> Result<LevelHeld, LedgerError> {
        let id = self.key_id;
        let key = key_from_columns(self.customer, self.dimension, &self.tags)
            .map_err(corrupt("usage_keys", id))?;
        let change = level_change(id, self.at, self.level)?;
        Ok(LevelHeld::new(key, change.level, change.at))
    }
}

/// The request scope a `records.product` column names (`''`: licence-based).
pub(crate) fn scope_column(product: &str) -> Result<RequestScope, LedgerError> {
    if product.is_empty() {
        return Ok(RequestScope::Licensed);
    }
    ProductCode::new(product.to_owned())
        .map(RequestScope::Product)
        .map_err(|e| e.to_string())
        .map_err(corrupt("records", 0))
}

pub(crate) fn corrupt(table: &'static str, row: i64) -> impl FnOnce(String) -> LedgerError {
    move |detail| LedgerError::Corrupt { table, row, detail }
}

/// An instant as the ledger stores it: Unix seconds.
pub(crate) fn seconds(timestamp: Timestamp) -> i64 {
    timestamp.unix_seconds()
}

/// An hour as the ledger stores it: its start in Unix seconds.
pub(crate) fn hour_seconds(hour: Hour) -> i64 {
    hour.start().unix_seconds()
}

/// The hour stored as its start in Unix seconds (the hour `seconds` falls in).
pub(crate) fn hour(table: &'static str, row: i64, seconds: i64) -> Result<Hour, LedgerError> {
    timestamp(table, row, seconds).map(Hour::of)
}

pub(crate) fn timestamp(
    table: &'static str,
    row: i64,
    seconds: i64,
) -> Result<Timestamp, LedgerError> {
    Timestamp::from_unix_seconds(seconds).map_err(|error| LedgerError::Corrupt {
        table,
        row,
        detail: error.to_string(),
    })
}

pub(crate) fn quantity_from_micros(
    table: &'static str,
    row: i64,
    micros: i64,
) -> Result<Quantity, LedgerError> {
    u64::try_from(micros)
        .map_err(|_| format!("negative quantity {micros}"))
        .and_then(|micros| Quantity::from_micros(micros).map_err(|e| e.to_string()))
        .map_err(|detail| LedgerError::Corrupt { table, row, detail })
}

/// An identifier as two 64-bit columns: its high and low halves' bits.
pub(crate) fn identifier_columns(id: Identifier) -> (i64, i64) {
    let bits = id.as_u128();
    let half =
        |bits: u128| i64::from_ne_bytes(u64::try_from(bits).unwrap_or_default().to_ne_bytes());
    (half(bits >> 64), half(bits & u128::from(u64::MAX)))
}

/// An instant as a level change's `at` column: whole microseconds since the epoch.
pub(crate) fn at_micros(at: Timestamp) -> i64 {
    i64::try_from(at.unix_nanos().div_euclid(1000)).unwrap_or_default()
}

/// A `level_changes` row of key `key_id`.
pub(crate) fn level_change(key_id: i64, at: i64, level: i64) -> Result<LevelChange, LedgerError> {
    Ok(LevelChange {
        at: Timestamp::from_unix_nanos(i128::from(at) * 1000).map_err(|error| {
            LedgerError::Corrupt {
                table: "level_changes",
                row: key_id,
                detail: error.to_string(),
            }
        })?,
        level: quantity_from_micros("level_changes", key_id, level)?,
    })
}

/// A `usage_keys.kind` column, as read with a row of `table`.
pub(crate) fn kind_column(table: &'static str, id: i64, kind: &str) -> Result<Kind, LedgerError> {
    kind.parse()
        .map_err(|error: crate::kind::UnknownKind| error.to_string())
        .map_err(corrupt(table, id))
}

pub(crate) fn micros(quantity: Quantity) -> i64 {
    // Quantity::MAX is about 1e16, far below i64::MAX.
    i64::try_from(quantity.micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two identifiers are one when both halves are: each half must be its own bits.
    #[test]
    fn an_identifier_is_stored_as_its_high_and_low_halves() {
        let columns = |bits: u128| identifier_columns(Identifier::from_u128_bits(bits));
        assert_eq!(columns(7), (0, 7));
        assert_eq!(columns(2 << 64), (2, 0));
        assert_eq!(columns((1 << 64) | 2), (1, 2));
        assert_eq!(columns(u128::MAX), (-1, -1));
    }

    #[test]
    fn customers_round_trip_through_their_columns() {
        let product = ProductCode::new("prod-1").unwrap();
        let account = CustomerAwsAccountId::new("123456789012").unwrap();
        let customers = [
            Customer::Legacy {
                product: product.clone(),
                identifier: CustomerIdentifier::new("cust-9").unwrap(),
            },
            Customer::Account {
                product,
                account: account.clone(),
            },
            Customer::Licensed {
                account,
                license: LicenseArn::new(
                    "arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef",
                )
                .unwrap(),
            },
        ];
        for customer in customers {
            let columns = customer_columns(&customer);
            assert_eq!(customer_from_columns(columns).unwrap(), customer);
        }
    }

    #[test]
    fn tags_are_a_sorted_json_object() {
        let tags = Tags::new(vec![
            Tag::new(TagKey::new("z").unwrap(), TagValue::new("1, =2").unwrap()),
            Tag::new(TagKey::new("a").unwrap(), TagValue::new("x").unwrap()),
        ])
        .unwrap();
        let text = tags_column(Some(&tags));
        assert_eq!(text, r#"{"a":"x","z":"1, =2"}"#);
        assert_eq!(tags_from_column(&text).unwrap(), Some(tags.normalized()));
        assert_eq!(tags_column(None), "");
        assert_eq!(tags_from_column("").unwrap(), None);
    }
}
