//! The cases of sending: claims, leases, fencing, backoff and requeue.

use std::time::Duration;

use super::Harness;
use super::fixtures::{
    all, at, checkpoint, customer, delta, key, licensed, one_claimed_record, seal_hours,
};
use crate::customer::RequestScope;
use crate::hour::Hour;
use crate::ledger::{InstanceId, Ledger, LedgerInspection, RecordState, Settlement};
use crate::strings::ProductCode;

/// Claims take one scope, the one of the oldest sendable record, oldest hour first, at
/// most 25 records.
pub async fn claims_are_oldest_first_by_scope_25_at_most(harness: &impl Harness) {
    let ledger = harness.open();
    let instance = InstanceId::random();
    let mut deltas = vec![delta(
        &key(&licensed("999999999999"), "calls", &[]),
        "2026-11-26T08:10:00Z",
        "1",
    )];
    for i in 0..30 {
        let c = customer(&format!("{:012}", 100 + i));
        deltas.push(delta(&key(&c, "calls", &[]), "2026-11-26T10:10:00Z", "1"));
        if i < 3 {
            deltas.push(delta(&key(&c, "calls", &[]), "2026-11-26T09:20:00Z", "1"));
        }
    }
    let now = at("2026-11-26T12:00:00Z");
    ledger
        .commit(&checkpoint(instance, 1, deltas), now)
        .await
        .unwrap();
    ledger.seal(now, now).await.unwrap();
    let lease = Duration::from_mins(5);
    let first = ledger.claim("a", now, lease).await.unwrap().unwrap();
    assert_eq!(first.scope, RequestScope::Licensed);
    assert_eq!(first.records.len(), 1);
    let second = ledger.claim("a", now, lease).await.unwrap().unwrap();
    assert_eq!(
        second.scope,
        RequestScope::Product(ProductCode::new("prod-a").unwrap())
    );
    assert_eq!(second.records.len(), 25);
    let hours: Vec<_> = second
        .records
        .iter()
        .map(|r| r.record.timestamp())
        .collect();
    assert!(hours.is_sorted());
    assert_eq!(hours[..3], [at("2026-11-26T09:00:00Z"); 3]);
    let third = ledger.claim("b", now, lease).await.unwrap().unwrap();
    assert_eq!(third.records.len(), 8);
    assert!(ledger.claim("b", now, lease).await.unwrap().is_none());
    let mut ids: Vec<_> = [&first, &second, &third]
        .iter()
        .flat_map(|c| c.records.iter().map(|r| r.id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        34,
        "no record is claimed twice under live leases"
    );
}

/// A lease that expired makes its records claimable again, with a higher attempt.
pub async fn expired_leases_are_claimable_again(harness: &impl Harness) {
    let (one, two) = (harness.open(), harness.open());
    let start = at("2026-11-26T08:00:00Z");
    seal_hours(&one, &customer("111111111111"), start, 2).await;
    let now = at("2026-11-26T10:00:00Z");
    let lease = Duration::from_mins(2);
    let first = one.claim("a", now, lease).await.unwrap().unwrap();
    assert_eq!(first.records.len(), 2);
    assert!(first.records.iter().all(|r| r.attempt == 1));
    assert_eq!(first.expires, at("2026-11-26T10:02:00Z"));
    let during = now.saturating_add(Duration::from_secs(119));
    assert!(two.claim("b", during, lease).await.unwrap().is_none());
    let after = now.saturating_add(lease);
    let second = two.claim("b", after, lease).await.unwrap().unwrap();
    assert_eq!(
        second
            .records
            .iter()
            .map(|r| (r.id, r.attempt))
            .collect::<Vec<_>>(),
        first.records.iter().map(|r| (r.id, 2)).collect::<Vec<_>>()
    );
    let records = one.records(Some(RecordState::Leased)).await.unwrap();
    assert!(records.iter().all(|r| r.attempt == 2));
}

/// A flusher that lost its lease cannot overwrite a newer attempt's outcome, nor settle a
/// record twice.
pub async fn stale_settles_are_fenced(harness: &impl Harness) {
    let (one, two) = (harness.open(), harness.open());
    let (now, lease) = (at("2026-11-26T10:00:00Z"), Duration::from_mins(1));
    let stale = one_claimed_record(&one, now, lease).await;
    let later = now.saturating_add(Duration::from_secs(61));
    let fresh = two.claim("b", later, lease).await.unwrap().unwrap();
    let success = Settlement::Success {
        metering_record_id: "mr-1".into(),
    };
    let report = two
        .settle(&fresh, &all(&fresh, &success), later)
        .await
        .unwrap();
    assert_eq!((report.settled, report.fenced), (1, 0));
    let report = one
        .settle(&stale, &all(&stale, &Settlement::Duplicate), later)
        .await
        .unwrap();
    assert_eq!((report.settled, report.fenced), (0, 1));
    let report = two
        .settle(&fresh, &all(&fresh, &Settlement::NotSubscribed), later)
        .await
        .unwrap();
    assert_eq!((report.settled, report.fenced), (0, 1));
    let records = one.records(None).await.unwrap();
    assert_eq!(records[0].state, RecordState::Success);
    assert_eq!(records[0].metering_record_id.as_deref(), Some("mr-1"));
    // An id the claim does not hold is refused too.
    let foreign = vec![(super::RecordId(i64::MAX), success)];
    assert_eq!(one.settle(&stale, &foreign, later).await.unwrap().fenced, 1);
    assert!(
        one.claim("c", later.saturating_add(lease), lease)
            .await
            .unwrap()
            .is_none()
    );
}

/// A retryable failure puts the record back, claimable once its backoff has passed, and
/// unchanged.
pub async fn retries_wait_for_their_backoff(harness: &impl Harness) {
    let ledger = harness.open();
    let (now, lease) = (at("2026-11-26T10:00:00Z"), Duration::from_mins(1));
    let claim = one_claimed_record(&ledger, now, lease).await;
    let retry = Settlement::Retry {
        error: "ThrottlingException: slow down".into(),
        retry_at: at("2026-11-26T10:05:00Z"),
    };
    ledger
        .settle(&claim, &all(&claim, &retry), now)
        .await
        .unwrap();
    let unsent = ledger.records(Some(RecordState::Unsent)).await.unwrap();
    assert_eq!(
        unsent[0].detail.as_deref(),
        Some("ThrottlingException: slow down")
    );
    assert!(
        ledger
            .claim("a", at("2026-11-26T10:04:59Z"), lease)
            .await
            .unwrap()
            .is_none()
    );
    let again = ledger
        .claim("a", at("2026-11-26T10:05:00Z"), lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.records[0].attempt, 2);
    assert_eq!(again.records[0].record, claim.records[0].record);
}

/// A quarantined record is visible with its reason and only `requeue` sends it again.
pub async fn requeue_sends_a_quarantined_record_again(harness: &impl Harness) {
    let ledger = harness.open();
    let (now, lease) = (at("2026-11-26T10:00:00Z"), Duration::from_mins(1));
    let claim = one_claimed_record(&ledger, now, lease).await;
    let id = claim.records[0].id;
    assert!(
        !ledger.requeue(id, now).await.unwrap(),
        "a leased record is not quarantined"
    );
    let reason = Settlement::Quarantined {
        reason: "InvalidUsageDimensionException: calls".into(),
    };
    ledger
        .settle(&claim, &all(&claim, &reason), now)
        .await
        .unwrap();
    let later = at("2026-11-26T11:00:00Z");
    assert!(ledger.claim("a", later, lease).await.unwrap().is_none());
    let quarantined = ledger
        .records(Some(RecordState::Quarantined))
        .await
        .unwrap();
    assert_eq!(
        quarantined[0].detail.as_deref(),
        Some("InvalidUsageDimensionException: calls")
    );
    assert!(harness.open().requeue(id, later).await.unwrap());
    assert!(!ledger.requeue(id, later).await.unwrap());
    let again = ledger.claim("a", later, lease).await.unwrap().unwrap();
    assert_eq!((again.records[0].id, again.records[0].attempt), (id, 2));
}

/// [`Ledger::unsettled`]: the hours with a record unsent, leased or quarantined, counted by
/// state, oldest first; hours whose records are all settled are left out.
pub async fn unsettled_hours_are_what_a_flusher_watches(harness: &impl Harness) {
    let ledger = harness.open();
    assert_eq!(ledger.unsettled().await.unwrap(), []);
    seal_hours(
        &ledger,
        &customer("111111111111"),
        at("2026-11-26T05:00:00Z"),
        4,
    )
    .await;
    let now = at("2026-11-26T10:00:00Z");
    let claim = ledger
        .claim("a", now, Duration::from_mins(1))
        .await
        .unwrap()
        .unwrap();
    // 05:00 billed, 06:00 quarantined, 07:00 to retry; 08:00 stays leased.
    let settlements = [
        Settlement::Success {
            metering_record_id: "m".into(),
        },
        Settlement::Quarantined { reason: "r".into() },
        Settlement::Retry {
            error: "e".into(),
            retry_at: now,
        },
    ];
    let settled: Vec<_> = claim
        .records
        .iter()
        .zip(settlements)
        .map(|(record, settlement)| (record.id, settlement))
        .collect();
    ledger.settle(&claim, &settled, now).await.unwrap();
    let states = [
        RecordState::Unsent,
        RecordState::Leased,
        RecordState::Quarantined,
    ];
    let unsettled: Vec<_> = ledger
        .unsettled()
        .await
        .unwrap()
        .iter()
        .map(|hour| (hour.hour, states.map(|state| hour.count(state))))
        .collect();
    assert_eq!(
        unsettled,
        [
            (Hour::of(at("2026-11-26T06:00:00Z")), [0, 0, 1]),
            (Hour::of(at("2026-11-26T07:00:00Z")), [1, 0, 0]),
            (Hour::of(at("2026-11-26T08:00:00Z")), [0, 1, 0]),
        ]
    );
}
