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
//! Steps 1 to 3 have a module each (`json`, `shape`, `record`); step 4 is here, and
//! `message` words the exceptions.
//!
//! Every field rule is the one `metering-core` and `metering-rules` define: nothing is
//! written twice.

use std::collections::{HashMap, HashSet};

use metering_core::limits::MAX_RECORDS_PER_REQUEST;
use metering_core::{ErrorCode, TimePolicy, Timestamp, UsageRecord};

use crate::error::{ErrorKind, ServiceError};

mod json;
mod message;
mod record;
mod shape;

use json::{Object, RecordIn, RequestIn};
pub(crate) use message::too_large;
use message::{At, constraint, invalid, validation_exception};
use record::{Checked, check, request_product};
use shape::{Shaped, shape};

/// What the seller's catalogue holds; `None` accepts anything well-formed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    pub(crate) products: Option<HashSet<String>>,
    pub(crate) dimensions: Option<HashSet<String>>,
    /// Licence ARN → the account it was granted to.
    pub(crate) licenses: Option<HashMap<String, String>>,
}

/// Reads and checks a request body, returning its records or the exception.
pub(crate) fn check_request(
    body: &[u8],
    catalog: &Catalog,
    policy: &TimePolicy,
    now: Timestamp,
) -> Result<Vec<UsageRecord>, ServiceError> {
    let Object(request): Object<RequestIn<'_>> = serde_json::from_slice(body).map_err(|e| {
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
        let Object(entry): Object<RecordIn<'_>> = serde_json::from_str(raw.get()).map_err(|e| {
            ServiceError::new(
                ErrorKind::Serialization,
                format!("{}: {e}", At::record(index)),
            )
        })?;
        if let Some(record) = shape(entry, index, &mut problems)? {
            shaped.push(record);
        }
    }
    if !problems.is_empty() {
        return Err(validation_exception(&problems));
    }
    let product = request_product(request.product_code.as_deref(), catalog)?;
    let checked = shaped
        .iter()
        .enumerate()
        .map(|(index, record)| check(record, product.as_ref(), catalog, index))
        .collect::<Result<Vec<_>, _>>()?;
    let times = check_times(&shaped, policy, now)?;
    checked
        .into_iter()
        .zip(shaped)
        .zip(times)
        .map(|((checked, shaped), timestamp)| {
            let Checked {
                customer,
                dimension,
                allocations,
            } = checked;
            match allocations {
                None => Ok(UsageRecord::new(
                    customer,
                    dimension,
                    timestamp,
                    shaped.quantity,
                )),
                // Step 3 checked the count and the sum already.
                Some(allocations) => {
                    UsageRecord::with_allocations(customer, dimension, timestamp, allocations)
                        .map_err(|e| invalid(ErrorCode::InvalidUsageAllocations, &e))
                }
            }
        })
        .collect()
}

/// Step 4: one timestamp out of bounds rejects the whole request; a number no timestamp can
/// hold is out of bounds too. Returns the records' timestamps.
fn check_times(
    records: &[Shaped<'_>],
    policy: &TimePolicy,
    now: Timestamp,
) -> Result<Vec<Timestamp>, ServiceError> {
    let mut bad = records
        .iter()
        .enumerate()
        .filter_map(|(index, record)| match record.timestamp {
            Ok(timestamp) => policy
                .check(timestamp, now)
                .err()
                .map(|violation| (index, violation.to_string())),
            Err(text) => Some((
                index,
                format!("{text:.40} is not a time (epoch seconds) this service accepts"),
            )),
        });
    let Some((index, violation)) = bad.next() else {
        return Ok(records
            .iter()
            .filter_map(|record| record.timestamp.ok())
            .collect());
    };
    let others = bad.count();
    let more = if others == 0 {
        String::new()
    } else {
        format!(" ({others} more records out of bounds)")
    };
    Err(ServiceError::new(
        ErrorCode::TimestampOutOfBounds,
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
        assert_eq!(
            error.kind,
            ErrorKind::Metering(ErrorCode::InvalidUsageAllocations)
        );
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

    #[test]
    fn quantities_beyond_64_bits_are_out_of_range_as_sent() {
        for (members, kind, quoted) in [
            (
                r#","Quantity":99999999999999999999999"#,
                ErrorKind::Validation,
                "99999999999999999999999",
            ),
            (
                r#","Quantity":-99999999999999999999"#,
                ErrorKind::Validation,
                "-99999999999999999999",
            ),
            (
                r#","Quantity":9223372036854775808"#,
                ErrorKind::Validation,
                "9223372036854775808",
            ),
            (
                r#","Quantity":1,"UsageAllocations":[{"AllocatedUsageQuantity":18446744073709551616}]"#,
                ErrorKind::Metering(ErrorCode::InvalidUsageAllocations),
                "18446744073709551616",
            ),
        ] {
            let error = run(&record(members)).unwrap_err();
            assert_eq!(error.kind, kind, "{members}: {error}");
            assert!(error.message.contains(quoted), "{error}");
        }
        let error = run(&record(r#","Quantity":-99999999999999999999"#)).unwrap_err();
        assert!(
            error.message.contains("greater than or equal to 0"),
            "{error}"
        );
        let error = run(&record(r#","Quantity":1.5"#)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::Serialization, "{error}");
    }

    #[test]
    fn timestamps_no_time_can_hold_are_out_of_bounds() {
        for timestamp in ["99999999999999999999", "1e300", "-1e300", "-9999999999999"] {
            let body = format!(
                r#"{{"ProductCode":"prod-1","UsageRecords":[{{"Timestamp":{timestamp},"CustomerAWSAccountId":"123456789012","Dimension":"api"}}]}}"#
            );
            let error = run(&body).unwrap_err();
            assert_eq!(
                error.kind,
                ErrorKind::Metering(ErrorCode::TimestampOutOfBounds),
                "{timestamp}: {error}"
            );
            assert!(error.message.contains(timestamp), "{error}");
        }
        let body = record("").replace(&format!("{}", NOW - 60), r#""yesterday""#);
        assert_eq!(run(&body).unwrap_err().kind, ErrorKind::Serialization);
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
