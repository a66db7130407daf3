//! The conformance suite every [`Ledger`] implementation passes (feature `conformance`).
//!
//! Implement [`Harness`] for a fresh store (its ledger implements [`Ledger`], what the Meter
//! needs, and [`LedgerInspection`], the queries the suite checks it with), then generate one
//! test per case with [`ledger_conformance_tests!`](crate::ledger_conformance_tests):
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # mod sqlite {
//! use metering_core::ledger::SqliteLedger;
//! use metering_core::ledger::conformance::{self, Harness};
//!
//! /// Each case on a new file; each handle its own connection, as a process's would be.
//! struct SqliteFile(tempfile::TempDir);
//!
//! impl Harness for SqliteFile {
//!     type Ledger = SqliteLedger;
//!     fn open(&self) -> SqliteLedger {
//!         SqliteLedger::open(self.0.path().join("ledger.sqlite")).expect("the ledger opens")
//!     }
//! }
//!
//! // In a test file: one `#[tokio::test]` per case.
//! metering_core::ledger_conformance_tests!(SqliteFile(tempfile::tempdir().expect("a directory")));
//!
//! # pub(crate) async fn run() {
//! // Or a case by hand: it panics, saying what, when the ledger breaks the protocol.
//! conformance::idempotent_commit(&SqliteFile(tempfile::tempdir().expect("a directory"))).await;
//! # }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! #     #[cfg(feature = "sqlite")]
//! #     sqlite::run().await;
//! # }
//! ```
//!
//! Several cases open two handles on one store: they must behave like two processes. The
//! workspace's `metering-ledger-memory` crate is a store written outside this crate, against
//! its public API only, that passes the suite: a model for a store of your own.

#![allow(
    clippy::missing_panics_doc,
    reason = "these are tests: a panic is a failure"
)]

use std::time::Duration;

use super::{
    InstanceId, Ledger, LedgerInspection, RecordId, RecordState, SetAsideRequeue, Settlement,
};
use crate::quantity::Quantity;
use crate::record::{UsageAllocation, UsageRecord};
use crate::strings::DimensionKey;

mod fixtures;
mod sending;
pub use fixtures::{at, checkpoint, customer, delta, hour, key, licensed, quantity};
use fixtures::{seal_hours, sealed};
mod kinds;
pub use kinds::{
    a_kind_other_than_the_keys_is_set_aside, distinct_counts_the_union,
    level_integrates_across_hours_and_instances, levels, max_merges_by_maximum,
    tag_sets_of_every_kind_are_allocations_that_add_up, usage_delta,
};
pub use sending::{
    claims_are_oldest_first_by_scope_25_at_most, expired_leases_are_claimable_again,
    requeue_sends_a_quarantined_record_again, retries_wait_for_their_backoff,
    stale_settles_are_fenced, unsettled_hours_are_what_a_flusher_watches,
};

/// A store under test.
pub trait Harness: Send + Sync {
    /// The implementation: the protocol, and the queries the suite checks it with.
    type Ledger: Ledger + LedgerInspection;
    /// A new handle on this harness's one store, as another process would open it.
    fn open(&self) -> Self::Ledger;
}

/// Generates one `#[tokio::test]` per conformance case, each on a new harness from
/// `$harness` (an expression).
#[macro_export]
macro_rules! ledger_conformance_tests {
    ($harness:expr) => {
        $crate::ledger_conformance_tests!(@cases $harness;
            idempotent_commit, late_usage_moves_to_the_oldest_open_hour,
            month_close_sets_late_usage_aside, concurrent_seals_seal_once,
            records_keep_tags_and_decimals, claims_are_oldest_first_by_scope_25_at_most,
            expired_leases_are_claimable_again, stale_settles_are_fenced,
            retries_wait_for_their_backoff, requeue_sends_a_quarantined_record_again,
            unsettled_hours_are_what_a_flusher_watches,
            customer_seal_closes_one_customer_now, product_and_licence_in_one_hour_are_quarantined,
            status_counts_every_state_and_hour, state_survives_reopening,
            usage_no_record_can_hold_is_set_aside, requeued_set_aside_usage_counts_in_an_open_hour,
            zero_usage_is_a_record_only_alone, max_merges_by_maximum, distinct_counts_the_union,
            level_integrates_across_hours_and_instances, a_kind_other_than_the_keys_is_set_aside,
            tag_sets_of_every_kind_are_allocations_that_add_up);
    };
    (@cases $harness:expr; $($case:ident),* $(,)?) => {$(
        #[::tokio::test]
        async fn $case() {
            $crate::ledger::conformance::$case(&$harness).await;
        }
    )*};
}

/// A retried checkpoint applies once, from any handle; a lower number is ignored.
pub async fn idempotent_commit(harness: &impl Harness) {
    let (one, two) = (harness.open(), harness.open());
    let key = key(&customer("111111111111"), "calls", &[]);
    let now = at("2026-11-26T10:30:00Z");
    let instance = InstanceId::random();
    let first = checkpoint(
        instance,
        7,
        vec![delta(&key, "2026-11-26T10:05:00Z", "2.5")],
    );
    assert!(one.commit(&first, now).await.unwrap().applied);
    assert!(!one.commit(&first, now).await.unwrap().applied);
    assert!(!two.commit(&first, now).await.unwrap().applied);
    let older = checkpoint(
        instance,
        6,
        vec![delta(&key, "2026-11-26T10:05:00Z", "100")],
    );
    assert!(!two.commit(&older, now).await.unwrap().applied);
    let next = checkpoint(instance, 8, vec![delta(&key, "2026-11-26T10:50:00Z", "1")]);
    assert!(two.commit(&next, now).await.unwrap().applied);
    let other = checkpoint(InstanceId::random(), 7, first.deltas.clone());
    assert!(one.commit(&other, now).await.unwrap().applied);
    one.seal(at("2026-11-26T11:00:00Z"), now).await.unwrap();
    assert_eq!(
        sealed(&two).await,
        [(
            customer("111111111111"),
            "calls".into(),
            at("2026-11-26T10:00:00Z"),
            quantity("6")
        )]
    );
}

/// Usage for a sealed hour goes to the oldest open hour of its month, counted as late.
pub async fn late_usage_moves_to_the_oldest_open_hour(harness: &impl Harness) {
    let ledger = harness.open();
    let key = key(&customer("111111111111"), "calls", &[]);
    let now = at("2026-11-26T13:10:00Z");
    let instance = InstanceId::random();
    let early = checkpoint(instance, 1, vec![delta(&key, "2026-11-26T10:20:00Z", "5")]);
    ledger.commit(&early, now).await.unwrap();
    // Grace of 10 minutes: hours up to 12:00 (ending 13:00) are sealed.
    ledger.seal(at("2026-11-26T13:00:00Z"), now).await.unwrap();
    // With usage of the oldest open hour itself, which is not late.
    let deltas = vec![
        delta(&key, "2026-11-26T10:40:00Z", "3"),
        delta(&key, "2026-11-26T13:05:00Z", "1"),
    ];
    let report = ledger
        .commit(&checkpoint(instance, 2, deltas), now)
        .await
        .unwrap();
    assert_eq!((report.late, report.set_aside), (1, 0));
    ledger.seal(at("2026-11-26T14:00:00Z"), now).await.unwrap();
    let records = ledger.records(None).await.unwrap();
    let found: Vec<_> = records
        .iter()
        .map(|r| (r.record.timestamp(), r.record.quantity(), r.late))
        .collect();
    assert_eq!(
        found,
        [
            (at("2026-11-26T10:00:00Z"), quantity("5"), Quantity::ZERO),
            (at("2026-11-26T13:00:00Z"), quantity("4"), quantity("3")),
        ]
    );
    assert!(ledger.set_aside().await.unwrap().is_empty());
}

/// A zero delta (a pair registered for a record every hour) makes a record of 0 in an hour
/// without usage, and nothing beside usage: no zero allocation beside tagged usage.
pub async fn zero_usage_is_a_record_only_alone(harness: &impl Harness) {
    let ledger = harness.open();
    let who = customer("111111111111");
    let untagged = key(&who, "calls", &[]);
    let tagged = key(&who, "calls", &[("env", "prod")]);
    let now = at("2026-11-26T12:30:00Z");
    let deltas = vec![
        delta(&untagged, "2026-11-26T10:05:00Z", "0"),
        delta(&untagged, "2026-11-26T11:05:00Z", "0"),
        delta(&tagged, "2026-11-26T11:10:00Z", "4"),
    ];
    let zeros = checkpoint(InstanceId::random(), 1, deltas);
    ledger.commit(&zeros, now).await.unwrap();
    ledger.seal(at("2026-11-26T12:00:00Z"), now).await.unwrap();
    let records = ledger.records(None).await.unwrap();
    let found: Vec<_> = records
        .iter()
        .map(|r| {
            let allocations = r.record.allocations().map(|a| (a.len(), a[0].quantity));
            (r.record.timestamp(), r.record.quantity(), allocations)
        })
        .collect();
    assert_eq!(
        found,
        [
            (at("2026-11-26T10:00:00Z"), Quantity::ZERO, None),
            (
                at("2026-11-26T11:00:00Z"),
                quantity("4"),
                Some((1, quantity("4")))
            ),
        ]
    );
}

/// Late usage whose month has no open hour left is set aside, visible, never dropped; until
/// then it stays in its own month.
pub async fn month_close_sets_late_usage_aside(harness: &impl Harness) {
    let ledger = harness.open();
    let key = key(&customer("111111111111"), "calls", &[("env", "prod")]);
    let instance = InstanceId::random();
    let last_day = checkpoint(instance, 1, vec![delta(&key, "2026-11-30T20:10:00Z", "1")]);
    ledger
        .commit(&last_day, at("2026-11-30T20:30:00Z"))
        .await
        .unwrap();
    let now = at("2026-11-30T22:40:00Z");
    ledger.seal(at("2026-11-30T22:30:00Z"), now).await.unwrap();
    let still_november = checkpoint(instance, 2, vec![delta(&key, "2026-11-30T20:50:00Z", "2")]);
    let report = ledger.commit(&still_november, now).await.unwrap();
    assert_eq!((report.late, report.set_aside), (1, 0));

    // 00:30 on the 1st: every November hour is sealed.
    let now = at("2026-12-01T00:30:00Z");
    ledger.seal(at("2026-12-01T00:00:00Z"), now).await.unwrap();
    let too_late = checkpoint(instance, 3, vec![delta(&key, "2026-11-30T23:59:00Z", "4")]);
    let report = ledger.commit(&too_late, now).await.unwrap();
    assert_eq!((report.late, report.set_aside), (0, 1));
    let aside = ledger.set_aside().await.unwrap();
    assert_eq!(aside.len(), 1);
    assert_eq!(aside[0].key, *key);
    assert_eq!(aside[0].quantity, quantity("4"));
    assert_eq!(aside[0].hour, hour("2026-11-30T23:00:00Z"));
    assert_eq!(aside[0].at, now);
    assert!(
        aside[0].reason.contains("2026-11-30T23:00:00Z"),
        "{}",
        aside[0].reason
    );
    let hours: Vec<_> = sealed(&ledger)
        .await
        .into_iter()
        .map(|r| (r.2, r.3))
        .collect();
    assert_eq!(
        hours,
        [
            (at("2026-11-30T20:00:00Z"), quantity("1")),
            (at("2026-11-30T22:00:00Z"), quantity("2")),
        ]
    );
    assert_eq!(ledger.status().await.unwrap().set_aside, 1);
}

/// Two handles sealing at the same moment make each record once.
pub async fn concurrent_seals_seal_once(harness: &impl Harness) {
    let (one, two) = (harness.open(), harness.open());
    let now = at("2026-11-26T12:30:00Z");
    let customers: Vec<_> = (0..40)
        .map(|i| customer(&format!("{:012}", 100 + i)))
        .collect();
    for (n, instance) in [InstanceId::random(), InstanceId::random()]
        .into_iter()
        .enumerate()
    {
        let handle = if n == 0 { &one } else { &two };
        let deltas = customers
            .iter()
            .flat_map(|c| {
                ["2026-11-26T10:10:00Z", "2026-11-26T11:10:00Z"]
                    .map(|hour| delta(&key(c, "calls", &[]), hour, "1.5"))
            })
            .collect();
        handle
            .commit(&checkpoint(instance, 1, deltas), now)
            .await
            .unwrap();
    }
    let until = at("2026-11-26T12:00:00Z");
    let (a, b) = tokio::join!(one.seal(until, now), two.seal(until, now));
    assert_eq!(a.unwrap().sealed + b.unwrap().sealed, 80);
    let records = sealed(&one).await;
    assert_eq!(records.len(), 80);
    assert!(records.iter().all(|r| r.3 == quantity("3")));
    assert_eq!(one.status().await.unwrap().open_keys, 0);
}

/// A sealed record holds its tag sets as allocations (untagged usage first) and exact
/// decimals, and reads back as the identical record every time.
pub async fn records_keep_tags_and_decimals(harness: &impl Harness) {
    let ledger = harness.open();
    let buyer = customer("111111111111");
    let prod = key(&buyer, "calls", &[("env", "prod"), ("app", "x")]);
    let same = key(&buyer, "calls", &[("app", "x"), ("env", "prod")]);
    let bare = key(&buyer, "calls", &[]);
    let now = at("2026-11-26T11:30:00Z");
    let deltas = vec![
        delta(&prod, "2026-11-26T10:00:00Z", "1.25"),
        delta(&same, "2026-11-26T10:59:59Z", "0.000001"),
        delta(&bare, "2026-11-26T10:30:00Z", "7"),
    ];
    ledger
        .commit(&checkpoint(InstanceId::random(), 1, deltas), now)
        .await
        .unwrap();
    ledger.seal(now, now).await.unwrap();
    let expected = UsageRecord::with_allocations(
        buyer,
        DimensionKey::new("calls").unwrap(),
        at("2026-11-26T10:00:00Z"),
        vec![
            UsageAllocation::untagged(quantity("7")),
            UsageAllocation::new(quantity("1.250001"), prod.tags().unwrap().clone()),
        ],
    )
    .unwrap();
    let first = ledger.records(None).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].record, expected);
    assert_eq!(first[0].state, RecordState::Unsent);
    let claim = ledger
        .claim("f", now, Duration::from_mins(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.records[0].record, expected);
    assert_eq!(
        harness.open().records(None).await.unwrap()[0].record,
        expected
    );
}

/// Sealing one customer closes their hours up to now; others stay open, and the customer's
/// later usage for those hours is late.
pub async fn customer_seal_closes_one_customer_now(harness: &impl Harness) {
    let ledger = harness.open();
    let (leaving, staying) = (customer("111111111111"), customer("222222222222"));
    let now = at("2026-11-26T10:45:00Z");
    let instance = InstanceId::random();
    let deltas = vec![
        delta(&key(&leaving, "calls", &[]), "2026-11-26T09:10:00Z", "1"),
        delta(&key(&leaving, "calls", &[]), "2026-11-26T10:40:00Z", "2"),
        delta(&key(&staying, "calls", &[]), "2026-11-26T10:40:00Z", "5"),
    ];
    ledger
        .commit(&checkpoint(instance, 1, deltas), now)
        .await
        .unwrap();
    let report = ledger.seal_customer(&leaving, now).await.unwrap();
    assert_eq!(report.sealed, 2);
    let late = checkpoint(
        instance,
        2,
        vec![delta(
            &key(&leaving, "calls", &[]),
            "2026-11-26T10:50:00Z",
            "4",
        )],
    );
    assert_eq!(ledger.commit(&late, now).await.unwrap().late, 1);
    let status = ledger.status().await.unwrap();
    assert_eq!(status.open_keys, 2);
    ledger.seal(at("2026-11-26T12:00:00Z"), now).await.unwrap();
    let records: Vec<_> = sealed(&ledger)
        .await
        .into_iter()
        .map(|r| (r.0, r.2, r.3))
        .collect();
    assert_eq!(
        records,
        [
            (leaving.clone(), at("2026-11-26T09:00:00Z"), quantity("1")),
            (leaving.clone(), at("2026-11-26T10:00:00Z"), quantity("2")),
            (staying, at("2026-11-26T10:00:00Z"), quantity("5")),
            (leaving, at("2026-11-26T11:00:00Z"), quantity("4")),
        ]
    );
}

/// One account under a product code and under a licence in one hour would be billed twice:
/// both records are quarantined with a reason naming both, and others are untouched.
pub async fn product_and_licence_in_one_hour_are_quarantined(harness: &impl Harness) {
    let ledger = harness.open();
    let now = at("2026-11-26T12:00:00Z");
    let deltas = vec![
        delta(
            &key(&customer("333333333333"), "calls", &[]),
            "2026-11-26T10:10:00Z",
            "1",
        ),
        delta(
            &key(&licensed("333333333333"), "calls", &[]),
            "2026-11-26T10:20:00Z",
            "1",
        ),
        delta(
            &key(&licensed("333333333333"), "calls", &[]),
            "2026-11-26T09:20:00Z",
            "1",
        ),
        delta(
            &key(&customer("444444444444"), "calls", &[]),
            "2026-11-26T10:20:00Z",
            "1",
        ),
    ];
    ledger
        .commit(&checkpoint(InstanceId::random(), 1, deltas), now)
        .await
        .unwrap();
    let report = ledger.seal(now, now).await.unwrap();
    assert_eq!((report.sealed, report.quarantined), (4, 2));
    let quarantined = ledger
        .records(Some(RecordState::Quarantined))
        .await
        .unwrap();
    assert_eq!(quarantined.len(), 2);
    for record in &quarantined {
        assert_eq!(record.record.timestamp(), at("2026-11-26T10:00:00Z"));
        let detail = record.detail.as_deref().unwrap();
        assert!(
            detail.contains("333333333333")
                && detail.contains("prod-a")
                && detail.contains("license:l-333333333333"),
            "{detail}"
        );
    }
    assert_eq!(
        ledger
            .records(Some(RecordState::Unsent))
            .await
            .unwrap()
            .len(),
        2
    );
}

/// The status counts every state, the open keys, the set-aside entries and the oldest hour
/// not settled; the hours count their records per state; a record reads back by its id.
pub async fn status_counts_every_state_and_hour(harness: &impl Harness) {
    let ledger = harness.open();
    let empty = ledger.status().await.unwrap();
    assert_eq!(empty.records.len(), RecordState::ALL.len());
    assert!(empty.records.iter().all(|(_, n)| *n == 0));
    assert_eq!(
        (empty.oldest_unsent_hour, empty.sealed_before),
        (None, None)
    );
    let start = at("2026-11-26T05:00:00Z");
    seal_hours(&ledger, &customer("111111111111"), start, 5).await;
    let now = at("2026-11-26T10:00:00Z");
    let lease = Duration::from_mins(1);
    let claim = ledger.claim("a", now, lease).await.unwrap().unwrap();
    let outcomes = [
        Settlement::Success {
            metering_record_id: "m".into(),
        },
        Settlement::NotSubscribed,
        Settlement::Duplicate,
        Settlement::Quarantined { reason: "r".into() },
    ];
    let settled: Vec<_> = claim
        .records
        .iter()
        .zip(outcomes)
        .map(|(r, s)| (r.id, s))
        .collect();
    ledger.settle(&claim, &settled, now).await.unwrap();
    let open = key(&customer("111111111111"), "calls", &[]);
    let commit = checkpoint(
        InstanceId::random(),
        1,
        vec![delta(&open, "2026-11-26T10:10:00Z", "1")],
    );
    ledger.commit(&commit, now).await.unwrap();
    let status = ledger.status().await.unwrap();
    for (state, count) in [
        (RecordState::Unsent, 0),
        (RecordState::Leased, 1),
        (RecordState::Success, 1),
        (RecordState::NotSubscribed, 1),
        (RecordState::Duplicate, 1),
        (RecordState::Quarantined, 1),
    ] {
        assert_eq!(status.count(state), count, "{state}");
    }
    assert_eq!(status.open_keys, 1);
    assert_eq!(
        status.oldest_unsent_hour,
        Some(hour("2026-11-26T08:00:00Z"))
    );
    assert_eq!(status.sealed_before, Some(hour("2026-11-26T10:00:00Z")));
    // 05:00 success, 06:00 not subscribed, 07:00 duplicate, 08:00 quarantined, 09:00 leased.
    let hours = |since| {
        let ledger = &ledger;
        async move {
            let hours = ledger.hours(hour(since)).await.unwrap();
            hours
                .iter()
                .map(|status| {
                    let counted: Vec<_> = RecordState::ALL
                        .into_iter()
                        .filter(|&state| status.count(state) > 0)
                        .map(|state| (state, status.count(state)))
                        .collect();
                    (status.hour, counted)
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(hours("2026-11-26T05:00:00Z").await.len(), 5);
    let (seven, eight, nine) = (
        hour("2026-11-26T07:00:00Z"),
        hour("2026-11-26T08:00:00Z"),
        hour("2026-11-26T09:00:00Z"),
    );
    let (duplicate, quarantined, leased) = (
        vec![(RecordState::Duplicate, 1)],
        vec![(RecordState::Quarantined, 1)],
        vec![(RecordState::Leased, 1)],
    );
    assert_eq!(
        hours("2026-11-26T07:00:00Z").await,
        [
            (seven, duplicate),
            (eight, quarantined.clone()),
            (nine, leased.clone())
        ]
    );
    // Earlier hours still to settle come too, however old.
    assert_eq!(
        hours("2026-11-26T12:00:00Z").await,
        [(eight, quarantined), (nine, leased)]
    );
    let billed = ledger.record(claim.records[0].id).await.unwrap().unwrap();
    assert_eq!(billed.state, RecordState::Success);
    assert_eq!(billed.metering_record_id.as_deref(), Some("m"));
    assert_eq!(billed.record, claim.records[0].record);
    let last = claim.records.iter().map(|r| r.id.0).max().unwrap();
    assert_eq!(ledger.record(RecordId(last + 1)).await.unwrap(), None);
}

/// Usage set aside that a person requeues counts, as late usage, in the hour of the requeue
/// (or its customer's first open hour); the entry goes, once. An entry that would push the
/// hour past the largest quantity stays.
pub async fn requeued_set_aside_usage_counts_in_an_open_hour(harness: &impl Harness) {
    let (ledger, other) = (harness.open(), harness.open());
    let (staying, leaving) = (customer("111111111111"), customer("222222222222"));
    let (calls, leaving_calls) = (key(&staying, "calls", &[]), key(&leaving, "calls", &[]));
    let instance = InstanceId::random();
    // 00:30 on the 1st: every November hour is sealed, so November usage is set aside.
    let now = at("2026-12-01T00:30:00Z");
    ledger.seal(at("2026-12-01T00:00:00Z"), now).await.unwrap();
    let max = Quantity::MAX.to_string();
    let late = vec![
        delta(&calls, "2026-11-30T23:10:00Z", &max),
        delta(&calls, "2026-11-30T23:20:00Z", "4"),
        delta(&leaving_calls, "2026-11-30T23:30:00Z", "2"),
    ];
    let report = ledger
        .commit(&checkpoint(instance, 1, late), now)
        .await
        .unwrap();
    assert_eq!(report.set_aside, 3);
    let aside = ledger.set_aside().await.unwrap();
    let ids: Vec<_> = aside.iter().map(|entry| entry.id).collect();
    assert_eq!(
        ledger.requeue_set_aside(ids[0], now).await.unwrap(),
        SetAsideRequeue::Requeued {
            hour: hour("2026-12-01T00:00:00Z")
        }
    );
    assert_eq!(
        other.requeue_set_aside(ids[0], now).await.unwrap(),
        SetAsideRequeue::NotFound
    );
    assert_eq!(
        other.requeue_set_aside(ids[1], now).await.unwrap(),
        SetAsideRequeue::TooLarge
    );
    ledger.seal_customer(&leaving, now).await.unwrap();
    assert_eq!(
        ledger.requeue_set_aside(ids[2], now).await.unwrap(),
        SetAsideRequeue::Requeued {
            hour: hour("2026-12-01T01:00:00Z")
        }
    );
    let left: Vec<_> = other.set_aside().await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].id, left[0].quantity), (ids[1], quantity("4")));
    let later = at("2026-12-01T02:30:00Z");
    ledger
        .seal(at("2026-12-01T02:00:00Z"), later)
        .await
        .unwrap();
    let records: Vec<_> = ledger
        .records(None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.record.customer().clone(),
                r.record.timestamp(),
                r.record.quantity(),
                r.late,
            )
        })
        .collect();
    assert_eq!(
        records,
        [
            (
                staying,
                at("2026-12-01T00:00:00Z"),
                Quantity::MAX,
                Quantity::MAX
            ),
            (
                leaving,
                at("2026-12-01T01:00:00Z"),
                quantity("2"),
                quantity("2")
            ),
        ]
    );
}

/// Everything committed, sealed and settled survives dropping every handle.
pub async fn state_survives_reopening(harness: &impl Harness) {
    let key = key(&customer("111111111111"), "calls", &[]);
    let instance = InstanceId::random();
    let now = at("2026-11-26T12:00:00Z");
    {
        let ledger = harness.open();
        let deltas = vec![
            delta(&key, "2026-11-26T10:10:00Z", "1"),
            delta(&key, "2026-11-26T11:10:00Z", "2"),
            delta(&key, "2026-11-26T12:10:00Z", "3"),
        ];
        ledger
            .commit(&checkpoint(instance, 1, deltas), now)
            .await
            .unwrap();
        ledger.seal(now, now).await.unwrap();
        let claim = ledger
            .claim("a", now, Duration::from_mins(1))
            .await
            .unwrap()
            .unwrap();
        let first = vec![(claim.records[0].id, Settlement::Duplicate)];
        ledger.settle(&claim, &first, now).await.unwrap();
    }
    let ledger = harness.open();
    let deltas = vec![delta(&key, "2026-11-26T12:10:00Z", "100")];
    assert!(
        !ledger
            .commit(&checkpoint(instance, 1, deltas), now)
            .await
            .unwrap()
            .applied
    );
    let status = ledger.status().await.unwrap();
    assert_eq!(
        (
            status.count(RecordState::Duplicate),
            status.count(RecordState::Leased),
            status.open_keys
        ),
        (1, 1, 1)
    );
    ledger.seal(at("2026-11-26T13:00:00Z"), now).await.unwrap();
    let quantities: Vec<_> = sealed(&ledger).await.into_iter().map(|r| r.3).collect();
    assert_eq!(quantities, [quantity("1"), quantity("2"), quantity("3")]);
}

/// Usage that would make a quantity above the service's largest is set aside with the
/// reason, at commit (one key's hour) or at seal (a record's tag sets together).
pub async fn usage_no_record_can_hold_is_set_aside(harness: &impl Harness) {
    let ledger = harness.open();
    let buyer = customer("111111111111");
    let (plain, a, b) = (
        key(&buyer, "calls", &[]),
        key(&buyer, "bytes", &[("env", "a")]),
        key(&buyer, "bytes", &[("env", "b")]),
    );
    let now = at("2026-11-26T10:30:00Z");
    let instance = InstanceId::random();
    let max = Quantity::MAX.to_string();
    let first = vec![
        delta(&plain, "2026-11-26T10:10:00Z", &max),
        delta(&a, "2026-11-26T10:10:00Z", &max),
        delta(&b, "2026-11-26T10:10:00Z", "1"),
    ];
    let report = ledger
        .commit(&checkpoint(instance, 1, first), now)
        .await
        .unwrap();
    assert_eq!(report.set_aside, 0);
    let more = vec![delta(&plain, "2026-11-26T10:20:00Z", "0.000001")];
    let report = ledger
        .commit(&checkpoint(instance, 2, more), now)
        .await
        .unwrap();
    assert_eq!(report.set_aside, 1);
    let report = ledger.seal(at("2026-11-26T11:00:00Z"), now).await.unwrap();
    assert_eq!((report.sealed, report.set_aside), (1, 2));
    assert_eq!(sealed(&ledger).await[0].3, Quantity::MAX);
    let aside = ledger.set_aside().await.unwrap();
    let found: Vec<_> = aside.iter().map(|s| (s.key.clone(), s.quantity)).collect();
    assert_eq!(
        found,
        [
            ((*plain).clone(), quantity("0.000001")),
            ((*a).clone(), Quantity::MAX),
            ((*b).clone(), quantity("1")),
        ]
    );
    assert!(
        aside[0].reason.contains("largest quantity"),
        "{}",
        aside[0].reason
    );
    assert!(
        aside[1].reason.contains("no valid record"),
        "{}",
        aside[1].reason
    );
}
