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

use super::{LevelChange, RecordState, Settlement, Usage};
use crate::kind::{Identifier, Kind};

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

/// What a commit does with a delta, by its kind (see [`commit_usage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Commit<'a> {
    /// Add `quantity` to the open hour `hour` (`late`: its own hour was sealed).
    Sum {
        /// The open hour it counts in.
        hour: Hour,
        /// How much.
        quantity: Quantity,
        /// Whether it arrived after its own hour was sealed.
        late: bool,
    },
    /// Raise the open hour's maximum to `quantity`.
    Max {
        /// The delta's own hour (open).
        hour: Hour,
        /// The highest level observed.
        quantity: Quantity,
    },
    /// Add the identifiers to the open hour's set.
    Distinct {
        /// The delta's own hour (open).
        hour: Hour,
        /// The identifiers seen.
        ids: &'a [Identifier],
    },
    /// Store the level changes (at one instant, the larger level wins).
    Level {
        /// The changes, times in whole microseconds, in order.
        changes: Vec<LevelChange>,
        /// When some changes are of sealed hours: the oldest open hour, before which the
        /// key is never integrated (the key's hours are integrated from here on, if not
        /// from later). A late change is kept at its own instant, so that it holds from
        /// here on only if no later change came before it.
        integrate_from: Option<Hour>,
    },
    /// Set aside `quantity` (see [`set_aside_quantity`]) for a person, with the reason.
    SetAside {
        /// What the entry shows.
        quantity: Quantity,
        /// Why.
        reason: String,
    },
}

/// What a commit does with `usage` of a key of kind `stored` in `hour`, when every hour
/// before `sealed_before` is sealed for its customer: one step, or two when some level
/// changes came late (the changes, moved to the start of the oldest open hour, and an entry
/// set aside for what the sealed hours could not bill).
///
/// - A kind other than the key's is set aside ([`kind_mismatch_reason`]; level changes
///   listed in it, each level and instant).
/// - Sum: as [`place`] (late usage moves to the oldest open hour of its month).
/// - Max and Distinct of a sealed hour are set aside ([`late_reason`]): a maximum or an
///   identifier moved to another hour would mean something else there.
/// - Level: a change at an instant already sealed takes effect from the start of the
///   oldest open hour if no later change came before it (the sealed hours' integrals
///   stand).
#[must_use]
pub fn commit_usage(
    usage: &Usage,
    stored: Kind,
    hour: Hour,
    sealed_before: Option<Hour>,
) -> Vec<Commit<'_>> {
    let aside = |reason| Commit::SetAside {
        quantity: set_aside_quantity(usage),
        reason,
    };
    if usage.kind() != stored {
        let mut reason = kind_mismatch_reason(stored, usage.kind());
        if let Usage::Level(changes) = usage {
            // The quantity shown is the last level: the changes are what bills by hand.
            let set: Vec<String> = changes
                .iter()
                .map(|change| format!("{} at {}", change.level, change.at))
                .collect();
            reason = format!("{reason}; levels set: {}", set.join(", "));
        }
        return vec![aside(reason)];
    }
    let sealed = sealed_before.is_some_and(|open| hour < open);
    match usage {
        Usage::Sum(quantity) => vec![match place(hour, sealed_before) {
            Placement::Open { hour, late } => Commit::Sum {
                hour,
                quantity: *quantity,
                late,
            },
            Placement::SetAside { reason } => aside(reason),
        }],
        Usage::Max(_) | Usage::Distinct(_) if sealed => vec![aside(late_reason(usage, hour))],
        Usage::Max(quantity) => vec![Commit::Max {
            hour,
            quantity: *quantity,
        }],
        Usage::Distinct(ids) => vec![Commit::Distinct { hour, ids }],
        Usage::Level(changes) => level_commit(changes, sealed_before),
    }
}

/// Level changes in whole microseconds, and for the last of those of sealed hours an entry
/// set aside. They keep their instants: integrated from the oldest open hour on, the level
/// there is the last change before it, late or not (a late change moved to that hour would
/// undo a later one committed earlier).
fn level_commit(changes: &[LevelChange], sealed_before: Option<Hour>) -> Vec<Commit<'static>> {
    let kept: Vec<LevelChange> = changes
        .iter()
        .map(|change| LevelChange {
            at: whole_micros(change.at),
            level: change.level,
        })
        .collect();
    let late = sealed_before.and_then(|open| {
        let last = changes.iter().rfind(|change| change.at < open.start())?;
        Some((open, *last))
    });
    let mut steps = vec![Commit::Level {
        changes: kept,
        integrate_from: late.map(|(open, _)| open),
    }];
    if let Some((open, change)) = late {
        steps.push(Commit::SetAside {
            quantity: change.level,
            reason: late_level_reason(change.at, open),
        });
    }
    steps
}

/// `at` rounded down to a whole microsecond: level changes are stored so.
#[must_use]
pub fn whole_micros(at: Timestamp) -> Timestamp {
    Timestamp::from_unix_nanos(at.unix_nanos() - at.unix_nanos().rem_euclid(1000)).unwrap_or(at)
}

const NANOS_PER_HOUR: i128 = 3_600_000_000_000;

/// Each hour's integral of a level, in unit-hours, from `from` (or the hour of the first
/// change) up to `before`, the hours with an integral of zero left out. `changes` are the
/// key's stored changes before `before`'s start, in time order; the level before the first
/// one is zero, and each holds until the next, across hours with no change (a level set
/// and never changed bills every hour). Exact in millionths: each hour's integral is
/// rounded half-up once.
#[must_use]
pub fn level_hours(
    changes: &[LevelChange],
    from: Option<Hour>,
    before: Hour,
) -> Vec<(Hour, Quantity)> {
    let Some(first) = changes.first() else {
        return Vec::new();
    };
    let mut hour = from.unwrap_or_else(|| Hour::of(first.at));
    let mut hours = Vec::new();
    // The level at `hour`'s start, and the changes from then on.
    let split = changes.partition_point(|change| change.at <= hour.start());
    let mut level = split
        .checked_sub(1)
        .map_or(0, |i| i128::from(changes[i].level.micros()));
    let mut rest = &changes[split..];
    while hour < before {
        let (start, end) = (hour.start().unix_nanos(), hour.next().start().unix_nanos());
        let (mut at, mut area) = (start, 0_i128);
        while let Some(change) = rest.first().filter(|c| c.at.unix_nanos() < end) {
            area += level * (change.at.unix_nanos() - at);
            (at, level) = (change.at.unix_nanos(), i128::from(change.level.micros()));
            rest = &rest[1..];
        }
        area += level * (end - at);
        // Millionths of unit-hours, half-up.
        let micros = (area + NANOS_PER_HOUR / 2) / NANOS_PER_HOUR;
        if micros > 0 {
            let micros = u64::try_from(micros).unwrap_or(u64::MAX);
            hours.push((hour, Quantity::from_micros(micros).unwrap_or(Quantity::MAX)));
        }
        hour = hour.next();
    }
    hours
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

/// Whether a seal until `until` has nothing to do while the watermark is `sealed_before`:
/// it would not move, and nothing below it is left to seal. The seal that moved it there
/// sealed every hour before it, and commits (and requeues), reading it under its lock, put
/// usage only in hours at or after it (a late level change marks its key integrated up to
/// it). A store may then end the seal without taking that lock.
#[must_use]
pub fn nothing_to_seal(until: Timestamp, sealed_before: Option<Hour>) -> bool {
    sealed_before == Some(seal_watermark(until, sealed_before))
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

/// Why usage of a kind other than its key's is set aside (a dimension's kind was changed).
#[must_use]
pub fn kind_mismatch_reason(stored: Kind, given: Kind) -> String {
    format!(
        "usage of kind {given} for a key stored as kind {stored}: a dimension's kind was \
         changed; bill it by hand or keep the dimension's kind"
    )
}

/// Why a maximum or identifiers of a sealed hour are set aside.
#[must_use]
pub fn late_reason(usage: &Usage, hour: Hour) -> String {
    // The sealed hour's identifiers are not kept: whether these were counted is unknown.
    let (what, billed) = match usage {
        Usage::Distinct(_) => (
            "identifiers seen",
            "its record may count some of them already",
        ),
        _ => (
            "a maximum observed",
            "its record's maximum may be as high already",
        ),
    };
    format!(
        "late: {what} in hour {hour}, which was sealed (moved to another hour it would \
         mean something else there; {billed})"
    )
}

/// Why a level change of a sealed hour is set aside (its level shown): it takes effect
/// from the oldest open hour instead, unless a later change came before it.
#[must_use]
pub fn late_level_reason(at: Timestamp, open: Hour) -> String {
    format!(
        "late: a level set at {at}, in an hour already sealed, holds from {open} on unless \
         changed after {at}; the sealed hours were billed at the level they had"
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
        assert!(nothing_to_seal(at("2026-11-26T10:59:00Z"), Some(ten)));
        assert!(nothing_to_seal(ten.start(), Some(noon)));
        assert!(!nothing_to_seal(noon.start(), Some(ten)));
        assert!(!nothing_to_seal(ten.start(), None));
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

    fn change(text: &str, level: &str) -> LevelChange {
        LevelChange {
            at: at(text),
            level: quantity(level),
        }
    }

    #[test]
    fn a_level_bills_its_integral_hour_by_hour_until_it_changes() {
        // Set at 10:20, changed at 12:40: parts of three hours.
        let changes = [
            change("2026-11-26T10:20:00Z", "6"),
            change("2026-11-26T12:40:00Z", "0"),
        ];
        let before = hour("2026-11-26T15:00:00Z");
        assert_eq!(
            level_hours(&changes, None, before),
            [
                (hour("2026-11-26T10:00:00Z"), quantity("4")),
                (hour("2026-11-26T11:00:00Z"), quantity("6")),
                (hour("2026-11-26T12:00:00Z"), quantity("4")),
            ]
        );
        // Held with no change: every hour, from where the last seal left it.
        let held = [change("2026-11-26T10:30:00Z", "2")];
        assert_eq!(
            level_hours(&held, Some(hour("2026-11-26T13:00:00Z")), before),
            [
                (hour("2026-11-26T13:00:00Z"), quantity("2")),
                (hour("2026-11-26T14:00:00Z"), quantity("2")),
            ]
        );
        // One unit for one second: 1/3600 unit-hours, 277.7.. millionths, half-up.
        let second = [
            change("2026-11-26T10:00:00Z", "1"),
            change("2026-11-26T10:00:01Z", "0"),
        ];
        assert_eq!(
            level_hours(&second, None, hour("2026-11-26T11:00:00Z")),
            [(hour("2026-11-26T10:00:00Z"), quantity("0.000278"))]
        );
        assert!(level_hours(&[], None, before).is_empty());
    }

    #[test]
    fn each_kind_is_placed_by_its_own_rule() {
        let (ten, noon) = (hour("2026-11-26T10:00:00Z"), hour("2026-11-26T12:00:00Z"));
        let max = Usage::Max(quantity("3"));
        assert_eq!(
            commit_usage(&max, Kind::Max, noon, Some(noon)),
            [Commit::Max {
                hour: noon,
                quantity: quantity("3")
            }]
        );
        let [
            Commit::SetAside {
                quantity: shown,
                reason,
            },
        ] = &commit_usage(&max, Kind::Max, ten, Some(noon))[..]
        else {
            panic!("a late maximum is set aside");
        };
        assert_eq!((*shown, reason.starts_with("late")), (quantity("3"), true));
        let ids = Usage::Distinct(vec![Identifier::from(1_u64), Identifier::from(2_u64)]);
        let [
            Commit::SetAside {
                quantity: shown,
                reason,
            },
        ] = &commit_usage(&ids, Kind::Sum, noon, None)[..]
        else {
            panic!("a kind other than the key's is set aside");
        };
        assert_eq!(*shown, quantity("2"));
        assert!(
            reason.contains("distinct") && reason.contains("sum"),
            "{reason}"
        );
        assert!(matches!(
            commit_usage(&ids, Kind::Distinct, ten, Some(noon))[..],
            [Commit::SetAside { .. }]
        ));
        // A late level change keeps its instant, the key integrated from the oldest open
        // hour on; it is set aside too.
        let late = Usage::Level(vec![
            change("2026-11-26T10:15:00.0000019Z", "4"),
            change("2026-11-26T12:30:00.0000019Z", "5"),
        ]);
        let steps = commit_usage(&late, Kind::Level, ten, Some(noon));
        assert_eq!(
            steps[0],
            Commit::Level {
                changes: vec![
                    change("2026-11-26T10:15:00.000001Z", "4"),
                    change("2026-11-26T12:30:00.000001Z", "5")
                ],
                integrate_from: Some(noon),
            }
        );
        assert!(matches!(
            &commit_usage(&late, Kind::Level, noon, Some(ten))[..],
            [Commit::Level {
                integrate_from: None,
                ..
            }]
        ));
        assert!(
            matches!(&steps[1], Commit::SetAside { quantity: shown, reason }
                if *shown == quantity("4") && reason.contains("10:15")),
            "{steps:?}"
        );
    }

    #[test]
    fn a_late_level_change_holds_from_the_oldest_open_hour_unless_a_later_one_came_first() {
        let (ten, noon) = (hour("2026-11-26T10:00:00Z"), hour("2026-11-26T12:00:00Z"));
        let late = Usage::Level(vec![
            change("2026-11-26T10:15:00Z", "4"),
            change("2026-11-26T11:15:00Z", "2"),
            change("2026-11-26T12:30:00Z", "5"),
        ]);
        let steps = commit_usage(&late, Kind::Level, ten, Some(noon));
        assert_eq!(
            steps[1],
            Commit::SetAside {
                quantity: quantity("2"),
                reason: late_level_reason(at("2026-11-26T11:15:00Z"), noon)
            }
        );
        let Commit::Level {
            changes,
            integrate_from,
        } = &steps[0]
        else {
            panic!("{steps:?}");
        };
        let two = hour("2026-11-26T14:00:00Z");
        // Of the late ones the last holds from noon.
        assert_eq!(
            level_hours(changes, *integrate_from, two),
            [
                (noon, quantity("3.5")),
                (hour("2026-11-26T13:00:00Z"), quantity("5"))
            ]
        );
        // A change stored before, later than the late ones (another instance committed it
        // in time): it holds, not the late ones.
        let stored = [change("2026-11-26T11:50:00Z", "1")];
        let mut all: Vec<LevelChange> = changes.iter().chain(&stored).copied().collect();
        all.sort_unstable();
        assert_eq!(
            level_hours(&all, *integrate_from, two),
            [
                (noon, quantity("3")),
                (hour("2026-11-26T13:00:00Z"), quantity("5"))
            ]
        );
    }

    #[test]
    fn level_changes_of_another_kind_are_set_aside_every_one_named() {
        let changes = Usage::Level(vec![
            change("2026-11-26T10:20:00Z", "6"),
            change("2026-11-26T10:40:00.5Z", "0"),
        ]);
        let noon = hour("2026-11-26T12:00:00Z");
        let [
            Commit::SetAside {
                quantity: shown,
                reason,
            },
        ] = &commit_usage(
            &changes,
            Kind::Sum,
            hour("2026-11-26T10:00:00Z"),
            Some(noon),
        )[..]
        else {
            panic!("a kind other than the key's is set aside");
        };
        // The last level is the quantity shown; the reason keeps every change, so that a
        // person can bill the integral by hand.
        assert_eq!(*shown, quantity("0"));
        assert!(
            reason.contains("kind level")
                && reason.contains("kind sum")
                && reason.ends_with(
                    "levels set: 6 at 2026-11-26T10:20:00Z, 0 at 2026-11-26T10:40:00.5Z"
                ),
            "{reason}"
        );
    }

    #[test]
    fn a_level_held_to_the_second_bills_millionths_of_unit_hours_per_hour() {
        // 1 unit from 10:20:17.25 to 12:40:43: 2382.75 s, 3600 s and 2443 s of the three hours.
        let changes = [
            change("2026-11-26T10:20:17.25Z", "1"),
            change("2026-11-26T12:40:43Z", "0"),
        ];
        assert_eq!(
            level_hours(&changes, None, hour("2026-11-26T13:00:00Z")),
            [
                (hour("2026-11-26T10:00:00Z"), quantity("0.661875")),
                (hour("2026-11-26T11:00:00Z"), quantity("1")),
                // 0.6786111.. rounded half-up once, in this hour alone.
                (hour("2026-11-26T12:00:00Z"), quantity("0.678611")),
            ]
        );
    }

    #[test]
    fn a_level_set_on_an_hours_boundary_bills_from_that_hour() {
        let (eleven, noon) = (hour("2026-11-26T11:00:00Z"), hour("2026-11-26T12:00:00Z"));
        let changes = [
            change("2026-11-26T11:00:00Z", "3"),
            change("2026-11-26T12:00:00Z", "0"),
        ];
        let before = hour("2026-11-26T14:00:00Z");
        assert_eq!(
            level_hours(&changes, None, before),
            [(eleven, quantity("3"))]
        );
        assert_eq!(
            level_hours(&changes, Some(eleven), before),
            [(eleven, quantity("3"))]
        );
        assert!(level_hours(&changes, Some(noon), before).is_empty());
        // A change at the oldest open hour's very start is not late.
        let on_time = Usage::Level(vec![change("2026-11-26T12:00:00Z", "2")]);
        assert!(matches!(
            &commit_usage(&on_time, Kind::Level, noon, Some(noon))[..],
            [Commit::Level {
                integrate_from: None,
                ..
            }]
        ));
    }

    #[test]
    fn reasons_name_what_a_person_needs() {
        assert!(overflow_reason().contains(&Quantity::MAX.to_string()));
        // Requeued, late identifiers or a late maximum may bill twice: the reason says so.
        let ten = hour("2026-11-26T10:00:00Z");
        let ids = late_reason(&Usage::Distinct(vec![Identifier::from(1_u64)]), ten);
        assert!(ids.contains("may count some of them already"), "{ids}");
        let max = late_reason(&Usage::Max(quantity("2")), ten);
        assert!(max.contains("may be as high already"), "{max}");
        assert!(unsealable_reason(None).contains("sealed already"));
        assert!(unsealable_reason(Some("too many")).ends_with(": too many"));
        let reason = double_billing_reason("1111", "prod-a", "arn:l", hour("2026-11-26T10:00:00Z"));
        assert!(
            reason.contains("1111") && reason.contains("prod-a") && reason.contains("arn:l"),
            "{reason}"
        );
    }
}
