//! Values the conformance cases (and other ledger tests) build on.

use std::sync::Arc;
use std::time::Duration;

use crate::customer::Customer;
use crate::hour::Hour;
use crate::ledger::{
    Checkpoint, Claim, Delta, InstanceId, Ledger, LedgerInspection, RecordId, Settlement, Usage,
    UsageKey,
};
use crate::quantity::Quantity;
use crate::record::{Tag, Tags};
use crate::strings::{
    CustomerAwsAccountId, DimensionKey, LicenseArn, ProductCode, TagKey, TagValue,
};
use crate::timestamp::Timestamp;

/// An instant given in RFC 3339.
#[must_use]
pub fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("a valid RFC 3339 instant")
}

/// The hour an instant given in RFC 3339 falls in.
#[must_use]
pub fn hour(text: &str) -> Hour {
    Hour::of(at(text))
}

/// An account-based customer of product `prod-a`.
#[must_use]
pub fn customer(account: &str) -> Customer {
    Customer::Account {
        product: ProductCode::new("prod-a").unwrap(),
        account: CustomerAwsAccountId::new(account.to_owned()).unwrap(),
    }
}

/// A licence-based customer.
#[must_use]
pub fn licensed(account: &str) -> Customer {
    Customer::Licensed {
        account: CustomerAwsAccountId::new(account.to_owned()).unwrap(),
        license: LicenseArn::new(format!(
            "arn:aws:license-manager::{account}:license:l-{account}"
        ))
        .unwrap(),
    }
}

/// A key of `customer` and `dimension`, with tags given as `key=value` pairs.
#[must_use]
pub fn key(customer: &Customer, dimension: &str, tags: &[(&str, &str)]) -> Arc<UsageKey> {
    let tags = (!tags.is_empty()).then(|| {
        Tags::new(
            tags.iter()
                .map(|(k, v)| {
                    Tag::new(
                        TagKey::new((*k).to_owned()).unwrap(),
                        TagValue::new((*v).to_owned()).unwrap(),
                    )
                })
                .collect(),
        )
        .unwrap()
    });
    Arc::new(UsageKey::new(
        customer.clone(),
        DimensionKey::new(dimension.to_owned()).unwrap(),
        tags,
    ))
}

/// A quantity in the service's decimal form.
#[must_use]
pub fn quantity(text: &str) -> Quantity {
    text.parse().unwrap()
}

/// A delta of `key` at `instant` (RFC 3339).
#[must_use]
pub fn delta(key: &Arc<UsageKey>, instant: &str, amount: &str) -> Delta {
    Delta {
        key: Arc::clone(key),
        hour: Hour::of(at(instant)),
        usage: Usage::Sum(quantity(amount)),
    }
}

/// A checkpoint.
#[must_use]
pub fn checkpoint(instance: InstanceId, number: u64, deltas: Vec<Delta>) -> Checkpoint {
    Checkpoint {
        instance,
        number,
        deltas,
    }
}

/// The quantities of every sealed record, as (customer, dimension, hour, quantity).
pub(super) async fn sealed(
    ledger: &impl LedgerInspection,
) -> Vec<(Customer, String, Timestamp, Quantity)> {
    ledger
        .records(None)
        .await
        .unwrap()
        .into_iter()
        .map(|stored| {
            let record = stored.record;
            (
                record.customer().clone(),
                record.dimension().to_string(),
                record.timestamp(),
                record.quantity(),
            )
        })
        .collect()
}

/// Seals one record of `n` units per hour from `first` on, for `customer`.
pub(super) async fn seal_hours(
    ledger: &impl Ledger,
    customer: &Customer,
    first: Timestamp,
    hours: u32,
) {
    let key = key(customer, "calls", &[]);
    let deltas = (0..hours)
        .map(|h| Delta {
            key: Arc::clone(&key),
            hour: Hour::of(first.saturating_add(Duration::from_hours(h.into()))),
            usage: Usage::Sum(Quantity::from(1)),
        })
        .collect();
    let now = first.saturating_add(Duration::from_hours(hours.into()));
    ledger
        .commit(&checkpoint(InstanceId::random(), 1, deltas), now)
        .await
        .unwrap();
    ledger.seal(now, now).await.unwrap();
}

/// Seals one record (08:00) and claims it as `a`.
pub(super) async fn one_claimed_record(
    ledger: &impl Ledger,
    now: Timestamp,
    lease: Duration,
) -> Claim {
    seal_hours(
        ledger,
        &customer("111111111111"),
        at("2026-11-26T08:00:00Z"),
        1,
    )
    .await;
    ledger.claim("a", now, lease).await.unwrap().unwrap()
}

pub(super) fn all(claim: &Claim, settlement: &Settlement) -> Vec<(RecordId, Settlement)> {
    claim
        .records
        .iter()
        .map(|r| (r.id, settlement.clone()))
        .collect()
}
