//! Step 2: the model's constraints that have no exception of their own.

use metering_core::{Quantity, Timestamp};
use metering_rules::{DIMENSION, QUANTITY_DECIMAL};
use serde::Deserialize;
use serde_json::Number;
use serde_json::value::RawValue;

use super::json::RecordIn;
use super::message::{At, constraint, constraint_rule, invalid, serialization};
use crate::error::{ErrorKind, ServiceError};

/// Integer or decimal quantities: a record and its allocations use one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Integer,
    Decimal,
}

/// A record after the first two steps.
pub(super) struct Shaped<'a> {
    pub(super) entry: RecordIn<'a>,
    pub(super) raw: &'a RawValue,
    pub(super) timestamp: Timestamp,
    pub(super) quantity: Quantity,
    pub(super) kind: Option<Kind>,
}

/// An integer member; integers beyond `i64` (up to `u64::MAX`) saturate, as they break the
/// range rule anyway. Beyond `u64::MAX` `serde_json` reads a float, so that is a
/// `SerializationException`.
pub(super) fn integer(
    number: Option<&Number>,
    name: &str,
    at: At,
) -> Result<Option<i64>, ServiceError> {
    match number {
        None => Ok(None),
        Some(number) if number.is_i64() || number.is_u64() => {
            Ok(Some(number.as_i64().unwrap_or(i64::MAX)))
        }
        Some(_) => Err(serialization(at.member(name), "an integer")),
    }
}

/// Step 2 for one record: collects the constraint problems, returns the record when it has
/// none.
pub(super) fn shape<'a>(
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
            if let Ok(value) = Quantity::from_integer_field(units) {
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
