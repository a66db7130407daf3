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
mod tests;
