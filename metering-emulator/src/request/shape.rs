//! Step 2: the model's constraints that have no exception of their own.

use metering_core::{Quantity, Timestamp};
use metering_rules::{DIMENSION, QUANTITY_DECIMAL};
use serde::Deserialize;

use super::json::{NumberText, RecordIn};
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
    /// `Err` with the number as sent when no `Timestamp` can hold it: step 4 reports it.
    pub(super) timestamp: Result<Timestamp, &'a str>,
    pub(super) quantity: Quantity,
    pub(super) kind: Option<Kind>,
}

/// An integer member as sent: `value` is `None` when it is out of the quantity's range
/// (beyond 64 bits too).
pub(super) struct Integer<'a> {
    pub(super) text: &'a str,
    pub(super) value: Option<Quantity>,
}

/// An integer member; a fraction or an exponent is a `SerializationException`.
pub(super) fn integer<'a>(
    number: Option<NumberText<'a>>,
    name: &str,
    at: At,
) -> Result<Option<Integer<'a>>, ServiceError> {
    let Some(number) = number else {
        return Ok(None);
    };
    if !number.is_integer() {
        return Err(serialization(at.member(name), "an integer"));
    }
    let value = number
        .0
        .parse::<i64>()
        .ok()
        .and_then(|units| Quantity::from_integer_field(units).ok());
    Ok(Some(Integer {
        text: number.0,
        value,
    }))
}

/// The range rule an out-of-range integer `text` breaks, as AWS words it.
fn range_rule(text: &str) -> String {
    if text.starts_with('-') {
        "Member must have value greater than or equal to 0".to_owned()
    } else {
        format!(
            "Member must have value less than or equal to {}",
            metering_core::limits::MAX_INTEGER_QUANTITY
        )
    }
}

/// Step 2 for one record: collects the constraint problems, returns the record when it has
/// none.
pub(super) fn shape<'a>(
    entry: RecordIn<'a>,
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
        Some(seconds) => Some(
            Timestamp::deserialize(&mut serde_json::Deserializer::from_str(seconds.0))
                .map_err(|_| seconds.0),
        ),
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

    let integer_quantity = integer(entry.quantity, "Quantity", at)?;
    let decimal_quantity = entry.quantity_as_decimal.as_deref();
    let mut quantity = (Quantity::ZERO, None);
    match (integer_quantity, decimal_quantity) {
        (Some(_), Some(text)) => problems.push(constraint(
            &format!("'{text}'"),
            &path("quantityAsDecimal"),
            "Member must not be specified together with quantity",
        )),
        (Some(Integer { text, value }), None) => match value {
            Some(value) => quantity = (value, Some(Kind::Integer)),
            None => problems.push(constraint(text, &path("quantity"), &range_rule(text))),
        },
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
            timestamp,
            quantity: quantity.0,
            kind: quantity.1,
        }),
        _ => None,
    })
}
