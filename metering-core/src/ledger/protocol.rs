//! The protocol's decisions, written once for every store: where a commit puts a delta,
//! what a seal makes of an hour's usage, which records a claim may take, what a settlement
//! writes, and the reasons a person reads. The `SQLite` and `PostgreSQL` ledgers keep only
//! what their SQL dialects force; a store of your own calls these too, and then passes the
//! [conformance suite](crate::ledger::conformance) for the same reasons.

use crate::customer::Customer;
use crate::hour::Hour;
use crate::quantity::Quantity;
use crate::record::{Tags, UsageAllocation, UsageRecord};
use crate::strings::DimensionKey;
use crate::timestamp::Timestamp;

use super::{RecordState, Settlement, Usage};

/// The most records one claim leases: what one `BatchMeterUsage` request carries.
pub const CLAIM_SIZE: usize = 25;

/// Where a commit puts a delta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Added to this open hour: the delta's own, or (`late`) the oldest open hour of its
    /// month when its own was sealed.
    Open {
        /// The hour the usage counts in.
        hour: Hour,
        /// Whether it arrived after its own hour was sealed.
        late: bool,
    },
    /// Set aside for a person: its month has no open hour left.
    SetAside {
        /// Why, for a person to read.
        reason: String,
    },
}

/// Where a delta of `hour` goes, when every hour before `sealed_before` is sealed for its
/// customer (the later of the ledger's watermark and the customer's own seal; `None` when
/// nothing is sealed).
#[must_use]
pub fn place(hour: Hour, sealed_before: Option<Hour>) -> Placement {
    match sealed_before.filter(|&open| hour < open) {
        None => Placement::Open { hour, late: false },
        Some(open) if open.same_month(hour) => Placement::Open {
            hour: open,
            late: true,
        },
        Some(_) => Placement::SetAside {
            reason: month_closed_reason(hour),
        },
    }
}

/// The later of two watermarks ("every hour before this one is sealed").
#[must_use]
pub fn later(one: Option<Hour>, other: Option<Hour>) -> Option<Hour> {
    one.max(other)
}

/// What [`Ledger::seal`](super::Ledger::seal) makes the watermark: every hour that ended at
/// or before `until`, never less than it was.
#[must_use]
pub fn seal_watermark(until: Timestamp, sealed_before: Option<Hour>) -> Hour {
    let until = Hour::of(until);
    sealed_before.map_or(until, |sealed| sealed.max(until))
}

/// What [`Ledger::seal_customer`](super::Ledger::seal_customer) seals a customer's usage
/// before: the end of the hour `now` falls in.
#[must_use]
pub fn customer_seal(now: Timestamp) -> Hour {
    Hour::of(now).next()
}

/// The hour usage set aside is put back in: the hour `now` falls in, or the first open one
/// when it is sealed already.
#[must_use]
pub fn requeue_hour(now: Timestamp, sealed_before: Option<Hour>) -> Hour {
    let hour = Hour::of(now);
    sealed_before.map_or(hour, |sealed| sealed.max(hour))
}

/// Whether a record may be claimed at `now`: unsent once its backoff has passed, or leased
/// once its lease has expired.
#[must_use]
pub fn is_claimable(
    state: RecordState,
    next_attempt_at: Timestamp,
    lease_expires: Option<Timestamp>,
    now: Timestamp,
) -> bool {
    match state {
        RecordState::Unsent => next_attempt_at <= now,
        RecordState::Leased => lease_expires.is_some_and(|expires| expires <= now),
        _ => false,
    }
}

/// The record of one customer, dimension and hour, from the hour's usage per tag set
/// (`None`: untagged): the zero of a registered pair (`Meter::register`) is a record only
/// in an hour without other usage. An error says why no valid record can hold the usage
/// (too many tag sets, too large a sum).
///
/// # Errors
/// When the service's rules cannot hold the usage in one record.
pub fn seal_record(
    customer: Customer,
    dimension: DimensionKey,
    hour: Hour,
    usage: impl IntoIterator<Item = (Option<Tags>, Quantity)>,
) -> Result<UsageRecord, String> {
    let usage: Vec<(Option<Tags>, Quantity)> = usage.into_iter().collect();
    let used = usage.iter().any(|(_, quantity)| !quantity.is_zero());
    let allocations: Vec<UsageAllocation> = usage
        .into_iter()
        .filter(|(_, quantity)| !quantity.is_zero() || !used)
        .map(|(tags, quantity)| UsageAllocation { quantity, tags })
        .collect();
    let hour = hour.start();
    if let [
        UsageAllocation {
            quantity,
            tags: None,
        },
    ] = allocations[..]
    {
        return Ok(UsageRecord::new(customer, dimension, hour, quantity));
    }
    UsageRecord::with_allocations(customer, dimension, hour, allocations)
        .map_err(|error| error.to_string())
}

/// Whether two records of one hour bill one account twice: one under a product code (an
/// account-based customer), the other under a licence. Both are quarantined, with
/// [`double_billing_reason`].
#[must_use]
pub fn bills_twice(one: &Customer, other: &Customer) -> bool {
    let licensed = |customer: &Customer| matches!(customer, Customer::Licensed { .. });
    let by_product = |customer: &Customer| matches!(customer, Customer::Account { .. });
    one.account().is_some()
        && one.account() == other.account()
        && ((by_product(one) && licensed(other)) || (licensed(one) && by_product(other)))
}

/// What a settlement writes: the state, the service's record ID, the detail and, for a
/// retry, when the record is claimable again.
#[must_use]
pub fn settled(
    settlement: &Settlement,
) -> (RecordState, Option<&str>, Option<&str>, Option<Timestamp>) {
    match settlement {
        Settlement::Success { metering_record_id } => (
            RecordState::Success,
            Some(metering_record_id.as_str()),
            None,
            None,
        ),
        Settlement::NotSubscribed => (RecordState::NotSubscribed, None, None, None),
        Settlement::Duplicate => (RecordState::Duplicate, None, None, None),
        Settlement::Quarantined { reason } => {
            (RecordState::Quarantined, None, Some(reason.as_str()), None)
        }
        Settlement::Retry { error, retry_at } => (
            RecordState::Unsent,
            None,
            Some(error.as_str()),
            Some(*retry_at),
        ),
    }
}

/// Why both records of an account billed under a product and under a licence in one hour
/// are quarantined; says so through `tracing` too.
#[must_use]
pub fn double_billing_reason(account: &str, product: &str, license: &str, hour: Hour) -> String {
    tracing::error!(target: "metering::ledger", %account, %product, %license, %hour, "usage recorded under a product and a licence in one hour");
    format!(
        "account {account} has usage under product {product} and under licence {license} \
         in hour {hour}: the service would bill both; requeue the one to send"
    )
}

/// Why usage of a sealed hour could not move to an open one.
#[must_use]
pub fn month_closed_reason(hour: Hour) -> String {
    format!("hour {hour} was sealed and no hour of its month is open any more")
}

/// The quantity an entry set aside shows for `usage`: a sum or a maximum as it is, the
/// number of identifiers of a distinct count, the last level of level changes.
#[must_use]
pub fn set_aside_quantity(usage: &Usage) -> Quantity {
    match usage {
        Usage::Sum(quantity) | Usage::Max(quantity) => *quantity,
        Usage::Distinct(ids) => {
            Quantity::new(u64::try_from(ids.len()).unwrap_or(u64::MAX)).unwrap_or(Quantity::MAX)
        }
        Usage::Level(changes) => changes.last().map_or(Quantity::ZERO, |change| change.level),
    }
}

/// Why usage of a kind this store does not hold yet is set aside.
#[must_use]
pub fn kind_not_stored_reason(usage: &Usage) -> String {
    format!(
        "usage of kind {} is not stored by this ledger yet",
        usage.kind()
    )
}

/// Why usage would not fit its hour's total.
#[must_use]
pub fn overflow_reason() -> String {
    format!(
        "the hour's total would exceed the largest quantity, {}",
        Quantity::MAX
    )
}

/// Why usage found its record sealed already (`None`), or could not make a valid one.
#[must_use]
pub fn unsealable_reason(error: Option<&str>) -> String {
    error.map_or_else(
        || "a record for this customer, dimension and hour was sealed already".to_owned(),
        |error| format!("no valid record can hold this hour's usage: {error}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strings::{CustomerAwsAccountId, LicenseArn, ProductCode};

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    fn hour(text: &str) -> Hour {
        Hour::of(at(text))
    }

    fn quantity(text: &str) -> Quantity {
        text.parse().unwrap()
    }

    fn customer(account: &str) -> Customer {
        Customer::Account {
            product: ProductCode::new("prod-a").unwrap(),
            account: CustomerAwsAccountId::new(account.to_owned()).unwrap(),
        }
    }

    fn licensed(account: &str) -> Customer {
        Customer::Licensed {
            account: CustomerAwsAccountId::new(account.to_owned()).unwrap(),
            license: LicenseArn::new(format!(
                "arn:aws:license-manager::{account}:license:l-{account}"
            ))
            .unwrap(),
        }
    }

    #[test]
    fn usage_of_a_sealed_hour_moves_to_the_first_open_hour_of_its_month_or_aside() {
        let used = hour("2026-11-26T10:20:00Z");
        assert_eq!(
            place(used, None),
            Placement::Open {
                hour: hour("2026-11-26T10:00:00Z"),
                late: false
            }
        );
        assert_eq!(
            place(used, Some(hour("2026-11-26T10:00:00Z"))),
            Placement::Open {
                hour: hour("2026-11-26T10:00:00Z"),
                late: false
            },
            "its own hour is the first open one"
        );
        assert_eq!(
            place(used, Some(hour("2026-11-26T12:00:00Z"))),
            Placement::Open {
                hour: hour("2026-11-26T12:00:00Z"),
                late: true
            }
        );
        let Placement::SetAside { reason } = place(used, Some(hour("2026-12-01T00:00:00Z"))) else {
            panic!("the month has no open hour left");
        };
        assert_eq!(reason, month_closed_reason(hour("2026-11-26T10:00:00Z")));
    }

    #[test]
    fn watermarks_only_move_on_and_take_the_later_one() {
        let (ten, noon) = (hour("2026-11-26T10:00:00Z"), hour("2026-11-26T12:00:00Z"));
        assert_eq!(seal_watermark(at("2026-11-26T10:59:00Z"), None), ten);
        assert_eq!(seal_watermark(ten.start(), Some(noon)), noon);
        assert_eq!(seal_watermark(noon.start(), Some(ten)), noon);
        assert_eq!(later(Some(ten), Some(noon)), Some(noon));
        assert_eq!(later(None, Some(ten)), Some(ten));
        assert_eq!(
            customer_seal(at("2026-11-26T10:30:00Z")),
            hour("2026-11-26T11:00:00Z")
        );
        assert_eq!(requeue_hour(at("2026-11-26T10:30:00Z"), None), ten);
        assert_eq!(requeue_hour(at("2026-11-26T10:30:00Z"), Some(noon)), noon);
        assert_eq!(requeue_hour(at("2026-11-26T12:30:00Z"), Some(ten)), noon);
    }

    #[test]
    fn unsent_records_wait_for_their_backoff_and_leases_for_their_expiry() {
        let now = at("2026-11-26T10:00:00Z");
        let (before, after) = (at("2026-11-26T09:59:00Z"), at("2026-11-26T10:01:00Z"));
        assert!(is_claimable(RecordState::Unsent, now, None, now));
        assert!(!is_claimable(RecordState::Unsent, after, None, now));
        assert!(is_claimable(RecordState::Leased, after, Some(now), now));
        assert!(!is_claimable(RecordState::Leased, before, Some(after), now));
        assert!(!is_claimable(RecordState::Leased, before, None, now));
        for state in [RecordState::Success, RecordState::Quarantined] {
            assert!(!is_claimable(state, before, Some(before), now));
        }
    }

    #[test]
    fn an_account_under_a_product_and_a_licence_bills_twice() {
        let (by_product, by_licence) = (customer("111111111111"), licensed("111111111111"));
        assert!(bills_twice(&by_product, &by_licence));
        assert!(bills_twice(&by_licence, &by_product));
        assert!(!bills_twice(&by_product, &by_product));
        assert!(!bills_twice(&by_licence, &by_licence));
        assert!(!bills_twice(&by_product, &licensed("222222222222")));
    }

    #[test]
    fn a_zero_is_a_record_only_in_an_hour_without_other_usage() {
        let dimension = DimensionKey::new("calls".to_owned()).unwrap();
        let tags = Tags::new(vec![crate::record::Tag::new(
            crate::strings::TagKey::new("env").unwrap(),
            crate::strings::TagValue::new("prod").unwrap(),
        )])
        .unwrap();
        let ten = hour("2026-11-26T10:30:00Z");
        let seal = |usage: Vec<(Option<Tags>, Quantity)>| {
            seal_record(customer("111111111111"), dimension.clone(), ten, usage).unwrap()
        };
        let zero_and_usage = seal(vec![
            (None, Quantity::ZERO),
            (Some(tags.clone()), quantity("2")),
        ]);
        assert_eq!(zero_and_usage.quantity(), quantity("2"));
        assert_eq!(zero_and_usage.allocations().map(<[_]>::len), Some(1));
        assert_eq!(zero_and_usage.timestamp(), at("2026-11-26T10:00:00Z"));
        let zero = seal(vec![(None, Quantity::ZERO)]);
        assert!(zero.quantity().is_zero() && zero.allocations().is_none());
    }

    #[test]
    fn a_settlement_writes_its_state_id_detail_and_retry() {
        let at_noon = at("2026-11-26T12:00:00Z");
        let retry = Settlement::Retry {
            error: "throttled".into(),
            retry_at: at_noon,
        };
        assert_eq!(
            settled(&retry),
            (RecordState::Unsent, None, Some("throttled"), Some(at_noon))
        );
        let billed = Settlement::Success {
            metering_record_id: "r-1".into(),
        };
        assert_eq!(
            settled(&billed),
            (RecordState::Success, Some("r-1"), None, None)
        );
        let kept = Settlement::Quarantined {
            reason: "why".into(),
        };
        assert_eq!(
            settled(&kept),
            (RecordState::Quarantined, None, Some("why"), None)
        );
        assert_eq!(settled(&Settlement::Duplicate).0, RecordState::Duplicate);
        assert_eq!(
            settled(&Settlement::NotSubscribed).0,
            RecordState::NotSubscribed
        );
    }

    #[test]
    fn reasons_name_what_a_person_needs() {
        assert!(overflow_reason().contains(&Quantity::MAX.to_string()));
        assert!(unsealable_reason(None).contains("sealed already"));
        assert!(unsealable_reason(Some("too many")).ends_with(": too many"));
        let reason = double_billing_reason("1111", "prod-a", "arn:l", hour("2026-11-26T10:00:00Z"));
        assert!(
            reason.contains("1111") && reason.contains("prod-a") && reason.contains("arn:l"),
            "{reason}"
        );
    }
}
