//! The Meter against a ledger that keeps checkpoints in memory and can be made to fail.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::error::describe;
use super::hour::{Hour, micros};
use super::slot::AddError;
use super::*;
use crate::ledger::{
    BoxFuture, Checkpoint, Claim, CommitReport, Delta, HourStatus, Ledger, LedgerError, RecordId,
    SealReport, SettleReport, Settlement,
};
use crate::{
    CustomerAwsAccountId, ManualClock, ProductCode, Tag, TagKey, TagValue, Tags, Timestamp,
    UsageTags,
};

mod closing;
mod kinds;
mod recording;

/// Keeps every checkpoint committed; fails commits while `failing`.
#[derive(Default)]
struct MemoryLedger {
    committed: Mutex<Vec<Checkpoint>>,
    failing: AtomicBool,
    /// A bug in the ledger: its commit panics, taking the writer down.
    panicking: AtomicBool,
    attempts: Mutex<Vec<(u64, usize)>>,
}

/// A delta's sum (the meter's deltas are sums so far).
fn sum(delta: &Delta) -> Quantity {
    let crate::ledger::Usage::Sum(quantity) = delta.usage else {
        panic!("not a sum: {delta:?}");
    };
    quantity
}

impl MemoryLedger {
    /// The committed usage per (key, hour), applying each checkpoint number once.
    fn totals(&self) -> BTreeMap<(String, Timestamp), Quantity> {
        let mut totals = BTreeMap::new();
        let mut seen = std::collections::BTreeSet::new();
        for checkpoint in self.committed.lock().unwrap().iter() {
            assert!(seen.insert(checkpoint.number), "checkpoint applied twice");
            for delta in &checkpoint.deltas {
                let total: &mut Quantity = totals
                    .entry((describe(&delta.key), delta.hour.start()))
                    .or_default();
                *total = total.checked_add(sum(delta)).unwrap();
            }
        }
        totals
    }
}

impl Ledger for MemoryLedger {
    fn commit<'a>(
        &'a self,
        checkpoint: &'a Checkpoint,
        _now: Timestamp,
    ) -> BoxFuture<'a, Result<CommitReport, LedgerError>> {
        Box::pin(async move {
            self.attempts
                .lock()
                .unwrap()
                .push((checkpoint.number, checkpoint.deltas.len()));
            assert!(
                !self.panicking.load(Ordering::SeqCst),
                "a bug in the ledger"
            );
            if self.failing.load(Ordering::SeqCst) {
                return Err(LedgerError::Storage("disk full".into()));
            }
            self.committed.lock().unwrap().push(checkpoint.clone());
            Ok(CommitReport::default())
        })
    }

    fn seal(&self, _: Timestamp, _: Timestamp) -> BoxFuture<'_, Result<SealReport, LedgerError>> {
        Box::pin(async move { Ok(SealReport::default()) })
    }

    fn seal_customer<'a>(
        &'a self,
        _: &'a Customer,
        _: Timestamp,
    ) -> BoxFuture<'a, Result<SealReport, LedgerError>> {
        Box::pin(async move { Ok(SealReport::default()) })
    }

    fn claim<'a>(
        &'a self,
        _: &'a str,
        _: Timestamp,
        _: Duration,
    ) -> BoxFuture<'a, Result<Option<Claim>, LedgerError>> {
        Box::pin(async move { Ok(None) })
    }

    fn settle<'a>(
        &'a self,
        _: &'a Claim,
        _: &'a [(RecordId, Settlement)],
        _: Timestamp,
    ) -> BoxFuture<'a, Result<SettleReport, LedgerError>> {
        Box::pin(async move { Ok(SettleReport::default()) })
    }

    fn status(&self) -> BoxFuture<'_, Result<LedgerStatus, LedgerError>> {
        Box::pin(async move { Ok(LedgerStatus::default()) })
    }

    fn unsettled(&self) -> BoxFuture<'_, Result<Vec<HourStatus>, LedgerError>> {
        Box::pin(async move { Ok(Vec::new()) })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Usage {
    ApiCalls,
    Storage,
}

// By hand: this crate cannot use `metering-derive`, which is what implements this seal.
impl crate::__private::DerivedDimension for Usage {}

impl Dimension for Usage {
    type Kind = crate::kind::Sum;
    const ALL: &'static [Self] = &[Self::ApiCalls, Self::Storage];
    fn as_str(self) -> &'static str {
        match self {
            Self::ApiCalls => "api_calls",
            Self::Storage => "storage",
        }
    }
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn customer(account: &str) -> Customer {
    Customer::Account {
        product: ProductCode::new("prod-1").unwrap(),
        account: CustomerAwsAccountId::new(account.to_owned()).unwrap(),
    }
}

/// The account `account` billed under a licence, not a product code.
fn licensed(account: &str) -> Customer {
    Customer::Licensed {
        account: CustomerAwsAccountId::new(account.to_owned()).unwrap(),
        license: crate::LicenseArn::new(format!(
            "arn:aws:license-manager::123456789012:license:l-{account}"
        ))
        .unwrap(),
    }
}

fn q(text: &str) -> Quantity {
    text.parse().unwrap()
}

fn tags(pairs: &[(&'static str, &'static str)]) -> Tags {
    Tags::new(
        pairs
            .iter()
            .map(|&(k, v)| Tag::new(TagKey::new(k).unwrap(), TagValue::new(v).unwrap()))
            .collect(),
    )
    .unwrap()
}

/// A meter on a manual clock reading `now` (the 1st of a month, just before the
/// month-end cut-off: the suite must pass on such a day), committing every 10 ms.
fn meter(ledger: &Arc<MemoryLedger>, clock: &ManualClock) -> Meter {
    meter_with(ledger, clock, |config| config)
}

/// [`meter`], its configuration changed by `change`.
fn meter_with(
    ledger: &Arc<MemoryLedger>,
    clock: &ManualClock,
    change: impl FnOnce(MeterConfig) -> MeterConfig,
) -> Meter {
    Meter::builder()
        .config(change(
            MeterConfig::new()
                .with_clock(clock.clone())
                .with_commit_interval(Duration::from_millis(10))
                .with_shutdown_timeout(Duration::from_millis(200)),
        ))
        .ledger(ledger.clone())
        .build()
        .unwrap()
}

const NOW: &str = "2026-12-01T05:30:00Z";

fn totals(entries: &[(&str, &str, &str)]) -> BTreeMap<(String, Timestamp), Quantity> {
    entries
        .iter()
        .map(|&(key, hour, quantity)| ((key.to_owned(), at(hour)), q(quantity)))
        .collect()
}

/// Hour numbers and the clock's microseconds are exact over the whole range of timestamps,
/// in and beyond the years (1677..2262) whose nanoseconds fit an i64.
#[test]
fn hours_and_microseconds_are_exact_across_the_range_of_timestamps() {
    let epoch = Timestamp::from_unix_nanos(0).unwrap();
    let (min, max) = (
        epoch.saturating_sub(Duration::MAX).unix_nanos(),
        epoch.saturating_add(Duration::MAX).unix_nanos(),
    );
    let edge = i128::from(i64::MAX);
    for nanos in [
        min,
        -edge - 2,
        -edge - 1,
        -1,
        0,
        1,
        3_599_999_999_999,
        3_600_000_000_000,
        edge,
        edge + 1,
        max,
    ] {
        let at = Timestamp::from_unix_nanos(nanos).unwrap();
        let hour = i128::from(Hour::of(at).number());
        assert_eq!(hour, nanos.div_euclid(3_600_000_000_000), "{nanos}");
        assert_eq!(i128::from(micros(at)), nanos.div_euclid(1000), "{nanos}");
    }
}

#[tokio::test]
async fn usage_is_committed_exactly_by_key_and_hour() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = meter(&ledger, &clock);
    let (a, b) = (customer("111111111111"), customer("222222222222"));
    meter.record(&a, Usage::ApiCalls, q("1.5")).unwrap();
    meter.record(&a, Usage::ApiCalls, q("0.000001")).unwrap();
    meter.record(&b, Usage::Storage, q("2")).unwrap();
    let team = tags(&[("team", "x"), ("env", "prod")]);
    meter
        .usage(&a, Usage::ApiCalls)
        .tags(&team)
        .add(q("3"))
        .unwrap();
    // The same tags in another order are the same key.
    let sorted = tags(&[("env", "prod"), ("team", "x")]);
    meter
        .usage(&a, Usage::ApiCalls)
        .tag_set(&sorted)
        .add(q("4"))
        .unwrap();
    // An event of the previous month's last hour, still in the window of the key.
    meter
        .usage(&b, Usage::Storage)
        .at(at("2026-11-30T23:59:59Z"))
        .add(q("7"))
        .unwrap();
    meter.commit().await.unwrap();
    meter.record(&a, Usage::ApiCalls, q("1")).unwrap();
    meter.commit().await.unwrap();
    assert_eq!(
        ledger.totals(),
        totals(&[
            (
                "prod-1/111111111111 api_calls",
                "2026-12-01T05:00:00Z",
                "2.500001"
            ),
            (
                "prod-1/111111111111 api_calls [env=prod, team=x]",
                "2026-12-01T05:00:00Z",
                "7"
            ),
            ("prod-1/222222222222 storage", "2026-11-30T23:00:00Z", "7"),
            ("prod-1/222222222222 storage", "2026-12-01T05:00:00Z", "2"),
        ])
    );
    let status = meter.status().await.unwrap();
    assert_eq!(status.open_keys, 3);
    assert_eq!(status.checkpoints_committed, status.checkpoints_taken);
    meter.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_hour_turns_and_late_events_keep_their_hour() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = meter(&ledger, &clock);
    let a = customer("111111111111");
    let handle = meter.usage(&a, Usage::ApiCalls).handle().unwrap();
    handle.add(q("1")).unwrap();
    clock.advance(Duration::from_hours(1));
    meter.commit().await.unwrap();
    handle.add(q("2")).unwrap();
    meter.record(&a, Usage::ApiCalls, q("3")).unwrap();
    // Three hours late: outside the key's window, kept aside in its own hour.
    handle.add_at(q("4"), at("2026-12-01T03:10:00Z")).unwrap();
    clock.advance(Duration::from_hours(3));
    meter.commit().await.unwrap();
    // The old hours left the window; their events still count in their own hour.
    handle.add_at(q("5"), at("2026-12-01T06:59:00Z")).unwrap();
    handle.add(q("6")).unwrap();
    // 1024 hours back: the slot and tag of a current hour, but not its hour.
    handle.add_at(q("8"), at("2026-10-19T17:10:00Z")).unwrap();
    meter.shutdown().await.unwrap();
    let key = "prod-1/111111111111 api_calls";
    assert_eq!(
        ledger.totals(),
        totals(&[
            (key, "2026-10-19T17:00:00Z", "8"),
            (key, "2026-12-01T03:00:00Z", "4"),
            (key, "2026-12-01T05:00:00Z", "1"),
            (key, "2026-12-01T06:00:00Z", "10"),
            (key, "2026-12-01T09:00:00Z", "6"),
        ])
    );
    // After shutdown every add is refused, whichever path it takes.
    assert!(matches!(handle.add(q("1")), Err(MeterError::Closed)));
    assert!(matches!(
        handle.add_at(q("1"), at("2026-12-01T01:00:00Z")),
        Err(MeterError::Closed)
    ));
}

/// The hot path: an event of an hour a key's window holds (the previous hour through two
/// ahead) is counted on the key's ring, without the meter's lock; others are kept aside,
/// under the lock, each in its own hour, even one whose slot and tag are the current hour's.
#[tokio::test]
async fn events_near_the_current_hour_are_counted_without_the_lock() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = meter_with(&ledger, &clock, |config| {
        config.with_future_bound(Duration::from_hours(1100))
    });
    let handle = meter
        .usage(&customer("111111111111"), Usage::ApiCalls)
        .handle()
        .unwrap();
    let aside = || meter.shared.aside().usage.len();
    for event in [
        "2026-12-01T04:59:00Z",
        "2026-12-01T05:10:00Z",
        "2026-12-01T06:00:00Z",
        "2026-12-01T07:59:00Z",
    ] {
        handle.add_at(q("1"), at(event)).unwrap();
    }
    assert_eq!(aside(), 0);
    handle.add_at(q("2"), at("2026-12-01T03:59:00Z")).unwrap();
    // 1024 hours ahead: the slot and tag of the current hour.
    handle.add_at(q("3"), at("2027-01-12T21:30:00Z")).unwrap();
    assert_eq!(aside(), 2);
    meter.shutdown().await.unwrap();
    let key = "prod-1/111111111111 api_calls";
    assert_eq!(
        ledger.totals(),
        totals(&[
            (key, "2026-12-01T03:00:00Z", "2"),
            (key, "2026-12-01T04:00:00Z", "1"),
            (key, "2026-12-01T05:00:00Z", "1"),
            (key, "2026-12-01T06:00:00Z", "1"),
            (key, "2026-12-01T07:00:00Z", "1"),
            (key, "2027-01-12T21:00:00Z", "3"),
        ])
    );
}

/// A clock that jumps ahead (a machine resumed after weeks asleep) by a whole cycle of the
/// keys' hour tags (1024 hours): usage after the jump counts in the new hour, before and
/// after the next checkpoint moves the keys' windows.
#[tokio::test]
async fn usage_after_a_clock_jump_of_1024_hours_counts_in_the_new_hour() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = meter_with(&ledger, &clock, |config| {
        config.with_commit_interval(Duration::from_hours(1))
    });
    let a = customer("111111111111");
    let handle = meter.usage(&a, Usage::ApiCalls).handle().unwrap();
    handle.add(q("1")).unwrap();
    clock.advance(Duration::from_hours(1024));
    handle.add_at(q("2"), at("2027-01-12T21:30:00Z")).unwrap();
    handle.add(q("4")).unwrap();
    meter.record(&a, Usage::ApiCalls, q("8")).unwrap();
    meter.commit().await.unwrap();
    handle.add(q("16")).unwrap();
    meter.shutdown().await.unwrap();
    let key = "prod-1/111111111111 api_calls";
    assert_eq!(
        ledger.totals(),
        totals(&[
            (key, "2026-12-01T05:00:00Z", "1"),
            (key, "2027-01-12T21:00:00Z", "30"),
        ])
    );
}

#[tokio::test]
async fn registered_pairs_get_a_zero_in_every_hour_they_are_registered_in() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = meter(&ledger, &clock);
    let (a, b, c) = (
        customer("111111111111"),
        customer("222222222222"),
        customer("333333333333"),
    );
    meter.register(&a, Usage::ApiCalls);
    meter.register(&b, Usage::Storage);
    meter.record(&a, Usage::ApiCalls, q("2")).unwrap();
    meter.commit().await.unwrap();
    // Two hours pass between checkpoints: the skipped hour gets its zero too.
    clock.advance(Duration::from_hours(2));
    meter.commit().await.unwrap();
    meter.unregister(&b, Usage::Storage);
    // Registered and gone within one checkpoint: the hour still gets its zero.
    meter.register(&c, Usage::ApiCalls);
    meter.unregister(&c, Usage::ApiCalls);
    clock.advance(Duration::from_hours(1));
    meter.shutdown().await.unwrap();
    let (ka, kb, kc) = (
        "prod-1/111111111111 api_calls",
        "prod-1/222222222222 storage",
        "prod-1/333333333333 api_calls",
    );
    assert_eq!(
        ledger.totals(),
        totals(&[
            (ka, "2026-12-01T05:00:00Z", "2"),
            (ka, "2026-12-01T06:00:00Z", "0"),
            (ka, "2026-12-01T07:00:00Z", "0"),
            (ka, "2026-12-01T08:00:00Z", "0"),
            (kb, "2026-12-01T05:00:00Z", "0"),
            (kb, "2026-12-01T06:00:00Z", "0"),
            (kb, "2026-12-01T07:00:00Z", "0"),
            (kc, "2026-12-01T07:00:00Z", "0"),
        ])
    );
    // Each hour's zero is committed once, not again at every checkpoint of later hours
    // (by then its hour may be sealed, and a zero for it would be late usage).
    let mut zeros = BTreeMap::new();
    for checkpoint in ledger.committed.lock().unwrap().iter() {
        for delta in checkpoint.deltas.iter().filter(|d| d.usage.is_zero_sum()) {
            *zeros.entry((describe(&delta.key), delta.hour)).or_insert(0) += 1;
        }
    }
    assert!(zeros.values().all(|&times| times == 1), "{zeros:?}");
}

#[tokio::test]
async fn timestamps_too_far_ahead_are_refused() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = meter(&ledger, &clock);
    let a = customer("111111111111");
    let usage = || meter.usage(&a, Usage::ApiCalls);
    usage().at(at("2026-12-01T05:35:00Z")).add(q("1")).unwrap();
    let err = usage()
        .at(at("2026-12-01T05:35:01Z"))
        .add(q("1"))
        .unwrap_err();
    assert!(matches!(err, MeterError::InFuture { .. }), "{err}");
    assert!(err.to_string().contains("2026-12-01T05:35:01Z"), "{err}");
    // The bound follows the clock, read anew for such a timestamp: exactly the bound ahead
    // of it is accepted.
    clock.advance(Duration::from_mins(1));
    usage().at(at("2026-12-01T05:36:00Z")).add(q("1")).unwrap();
    meter.shutdown().await.unwrap();
    assert_eq!(
        ledger.totals(),
        totals(&[("prod-1/111111111111 api_calls", "2026-12-01T05:00:00Z", "2")])
    );
}

/// A clock that counts its readings.
#[derive(Clone)]
struct CountingClock(ManualClock, Arc<std::sync::atomic::AtomicUsize>);

impl crate::Clock for CountingClock {
    fn now(&self) -> Timestamp {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.now()
    }
}

/// Reading a clock costs more than recording: an event's timestamp within the future
/// bound of the last reading is taken without one, and one past it reads the clock once.
#[tokio::test]
async fn events_within_the_bound_of_the_last_reading_do_not_read_the_clock() {
    let ledger = Arc::new(MemoryLedger::default());
    let readings = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let manual = ManualClock::new(at(NOW));
    let clock = CountingClock(manual.clone(), readings.clone());
    let meter = meter_with(&ledger, &manual, |config| config.with_clock(clock));
    let a = customer("111111111111");
    let before = readings.load(Ordering::SeqCst);
    // Up to exactly the bound (5 minutes) past the last reading, at 05:30.
    for at_ in [
        "2026-12-01T05:30:00Z",
        "2026-12-01T04:10:00Z",
        "2026-12-01T05:35:00Z",
    ] {
        meter
            .usage(&a, Usage::ApiCalls)
            .at(at(at_))
            .add(q("1"))
            .unwrap();
    }
    assert_eq!(readings.load(Ordering::SeqCst), before);
    assert!(
        meter
            .usage(&a, Usage::ApiCalls)
            .at(at("2026-12-01T05:35:01Z"))
            .add(q("1"))
            .is_err()
    );
    assert_eq!(readings.load(Ordering::SeqCst), before + 1);
    meter.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_hours_total_above_the_service_maximum_is_refused() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = meter(&ledger, &clock);
    let a = customer("111111111111");
    meter.record(&a, Usage::Storage, Quantity::MAX).unwrap();
    meter.commit().await.unwrap();
    // Committing did not reset the hour's total.
    let err = meter.record(&a, Usage::Storage, q("0.000001")).unwrap_err();
    assert!(matches!(err, MeterError::Overflow { .. }), "{err}");
    assert!(
        err.to_string().contains("prod-1/111111111111 storage"),
        "{err}"
    );
    // The aside path has the same bound.
    let late = || {
        meter
            .usage(&a, Usage::Storage)
            .at(at("2026-11-30T01:00:00Z"))
    };
    late().add(Quantity::MAX).unwrap();
    assert!(matches!(
        late().add(q("1")),
        Err(MeterError::Overflow { .. })
    ));
    meter.shutdown().await.unwrap();
    let key = "prod-1/111111111111 storage";
    assert_eq!(
        ledger.totals(),
        BTreeMap::from([
            ((key.to_owned(), at("2026-11-30T01:00:00Z")), Quantity::MAX),
            ((key.to_owned(), at("2026-12-01T05:00:00Z")), Quantity::MAX),
        ])
    );
}

#[tokio::test]
async fn invalid_tags_are_refused_with_the_field() {
    struct Bad;
    impl UsageTags for Bad {
        fn tags(&self) -> Result<Tags, crate::ValidationError> {
            let value = TagValue::new("a?b")?;
            Tags::new(vec![Tag::new(TagKey::new("team")?, value)])
        }
    }
    let ledger = Arc::new(MemoryLedger::default());
    let meter = meter(&ledger, &ManualClock::new(at(NOW)));
    let a = customer("111111111111");
    let err = meter
        .usage(&a, Usage::ApiCalls)
        .tags(&Bad)
        .add(q("1"))
        .unwrap_err();
    assert!(matches!(err, MeterError::Validation(_)), "{err}");
    assert!(err.to_string().contains("a?b"), "{err}");
    assert!(
        meter
            .usage(&a, Usage::ApiCalls)
            .tags(&Bad)
            .handle()
            .is_err()
    );
    meter.shutdown().await.unwrap();
    assert!(ledger.totals().is_empty());
}

#[tokio::test]
async fn record_durable_and_a_handles_add_durable_resolve_once_committed() {
    let ledger = Arc::new(MemoryLedger::default());
    // Durable callers wake the writer: they do not wait a whole interval.
    let meter = meter_with(&ledger, &ManualClock::new(at(NOW)), |config| {
        config.with_commit_interval(Duration::from_hours(1))
    });
    let a = customer("111111111111");
    for n in 1..=3 {
        meter
            .record_durable(&a, Usage::ApiCalls, q("1"))
            .await
            .unwrap();
        assert_eq!(
            ledger.totals().values().copied().collect::<Vec<_>>(),
            [Quantity::new(n).unwrap()]
        );
    }
    // A handle's durable add too: resolved, its usage is in the ledger.
    let handle = meter.usage(&a, Usage::ApiCalls).handle().unwrap();
    handle.add_durable(q("2")).await.unwrap();
    assert_eq!(
        ledger.totals().values().copied().collect::<Vec<_>>(),
        [Quantity::new(5).unwrap()]
    );
    meter.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_writer_that_panicked_does_not_leave_durable_callers_waiting() {
    let ledger = Arc::new(MemoryLedger::default());
    let meter = meter(&ledger, &ManualClock::new(at(NOW)));
    ledger.panicking.store(true, Ordering::SeqCst);
    let a = customer("111111111111");
    let durable = meter.record_durable(&a, Usage::ApiCalls, q("1"));
    let answer = tokio::time::timeout(Duration::from_secs(10), durable)
        .await
        .expect("a durable caller waited for a writer that is gone");
    assert!(matches!(answer, Err(MeterError::Closed)), "{answer:?}");
    assert!(ledger.totals().is_empty());
}

#[tokio::test]
async fn a_failing_ledger_gets_the_same_checkpoint_again_and_usage_waits_within_a_bound() {
    let ledger = Arc::new(MemoryLedger::default());
    ledger.failing.store(true, Ordering::SeqCst);
    let clock = ManualClock::new(at(NOW));
    let meter = meter_with(&ledger, &clock, |config| {
        config
            .with_commit_interval(Duration::from_millis(5))
            .with_backlog_limit(2)
    });
    let (a, b) = (customer("111111111111"), customer("222222222222"));
    meter.record(&a, Usage::ApiCalls, q("1")).unwrap();
    meter.record(&b, Usage::ApiCalls, q("2")).unwrap();
    // Two deltas wait in a failed checkpoint: at the bound, recording is refused.
    let mut accepted = Quantity::ZERO;
    let refused = loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        match meter.record(&a, Usage::ApiCalls, q("10")) {
            Ok(()) => accepted = accepted.checked_add(q("10")).unwrap(),
            Err(error) => break error,
        }
    };
    assert!(
        matches!(refused, MeterError::Backlog { limit: 2, .. }),
        "{refused}"
    );
    let status = meter.status().await.unwrap();
    assert!(status.last_commit_error.unwrap().contains("disk full"));
    let attempts = ledger.attempts.lock().unwrap().clone();
    assert!(attempts.len() >= 2);
    let first = attempts[0];
    assert!(
        attempts.iter().all(|attempt| *attempt == first),
        "{attempts:?}"
    );
    ledger.failing.store(false, Ordering::SeqCst);
    // Once commits succeed, recording is accepted again.
    while meter.record(&a, Usage::ApiCalls, q("3")).is_err() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    meter.shutdown().await.unwrap();
    // Refused usage was not counted; everything accepted was, once.
    let values: Vec<Quantity> = ledger.totals().into_values().collect();
    assert_eq!(values, [accepted.checked_add(q("4")).unwrap(), q("2")]);
}

// Paused: the shutdown's timeout and retries in tokio's time, exactly.
#[tokio::test(start_paused = true)]
async fn shutdown_hands_back_what_it_could_not_commit_within_its_timeout() {
    let ledger = Arc::new(MemoryLedger::default());
    ledger.failing.store(true, Ordering::SeqCst);
    let meter = meter(&ledger, &ManualClock::new(at(NOW)));
    let a = customer("111111111111");
    meter.record(&a, Usage::ApiCalls, q("1.25")).unwrap();
    let started = tokio::time::Instant::now();
    let Err(MeterError::Unflushed {
        deltas, last_error, ..
    }) = meter.shutdown().await
    else {
        panic!("shutdown with a failing ledger must hand the usage back");
    };
    // Retried every commit interval (10 ms), given up before the timeout (200 ms).
    let took = started.elapsed();
    assert!(
        (Duration::from_millis(150)..=Duration::from_millis(200)).contains(&took),
        "{took:?}"
    );
    assert!(ledger.attempts.lock().unwrap().len() > 10);
    assert!(last_error.contains("disk full"), "{last_error}");
    let quantities: Vec<Quantity> = deltas.iter().map(sum).collect();
    assert_eq!(quantities, [q("1.25")]);
}

#[tokio::test(start_paused = true)]
async fn shutdown_commits_everything_if_the_ledger_comes_back_within_its_timeout() {
    let ledger = Arc::new(MemoryLedger::default());
    ledger.failing.store(true, Ordering::SeqCst);
    let meter = meter(&ledger, &ManualClock::new(at(NOW)));
    meter
        .record(&customer("111111111111"), Usage::ApiCalls, q("1.25"))
        .unwrap();
    let ((), shutdown) = tokio::join!(
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            ledger.failing.store(false, Ordering::SeqCst);
        },
        meter.shutdown()
    );
    shutdown.unwrap();
    let values: Vec<Quantity> = ledger.totals().into_values().collect();
    assert_eq!(values, [q("1.25")]);
}

#[tokio::test]
async fn a_dropped_meter_knows_what_it_loses() {
    let ledger = Arc::new(MemoryLedger::default());
    let meter = meter_with(&ledger, &ManualClock::new(at(NOW)), |config| {
        config.with_commit_interval(Duration::from_hours(1))
    });
    let a = customer("111111111111");
    meter.record(&a, Usage::ApiCalls, q("5")).unwrap();
    // Usage aside (an hour outside the key's window) is lost too; a registered pair's zero
    // is no loss.
    meter
        .usage(&a, Usage::ApiCalls)
        .at(at("2026-12-01T01:00:00Z"))
        .add(q("3"))
        .unwrap();
    meter.register(&customer("222222222222"), Usage::Storage);
    meter.shared.aside().zero_registered(Hour::of(at(NOW)));
    // It says so, with the usage, on standard error and as a `tracing` error.
    let errors = Arc::new(Mutex::new(Vec::new()));
    {
        use tracing_subscriber::layer::SubscriberExt as _;
        let subscriber = tracing_subscriber::registry().with(Errors(errors.clone()));
        let _default = tracing::subscriber::set_default(subscriber);
        drop(meter);
    }
    let key = "prod-1/111111111111 api_calls";
    assert_eq!(
        *errors.lock().unwrap(),
        [(
            "metering::meter".to_owned(),
            format!("  2026-12-01T05:00:00Z {key} 5\n  2026-12-01T01:00:00Z {key} 3")
        )]
    );
    assert!(ledger.totals().is_empty());
}

/// The target and the `lost` field of each `tracing` error it sees.
struct Errors(Arc<Mutex<Vec<(String, String)>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Errors {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Lost(String);
        impl tracing::field::Visit for Lost {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "lost" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        if *event.metadata().level() == tracing::Level::ERROR {
            let mut lost = Lost(String::new());
            event.record(&mut lost);
            let target = event.metadata().target().to_owned();
            self.0.lock().unwrap().push((target, lost.0));
        }
    }
}

/// What a seller's logs show of a meter and its builder.
#[tokio::test]
async fn a_meter_and_its_builder_debug_as_their_settings() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let builder = Meter::builder().config(MeterConfig::new().with_clock(clock.clone()));
    let shown = format!("{builder:?}");
    assert!(
        shown.contains("MeterBuilder") && shown.contains("commit_interval"),
        "{shown}"
    );
    let meter = meter(&ledger, &clock);
    let shown = format!("{meter:?}");
    let instance = meter.instance().to_string();
    assert!(
        shown.contains(&instance) && shown.contains("grace"),
        "{shown}"
    );
    meter.shutdown().await.unwrap();
}

#[tokio::test]
async fn idle_keys_are_forgotten_but_not_those_a_handle_holds() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at(NOW));
    let meter = meter(&ledger, &clock);
    let (a, b) = (customer("111111111111"), customer("222222222222"));
    let handle = meter.usage(&a, Usage::ApiCalls).handle().unwrap();
    meter.record(&b, Usage::ApiCalls, q("1")).unwrap();
    assert_eq!(meter.status().await.unwrap().open_keys, 2);
    for _ in 0..5 {
        clock.advance(Duration::from_hours(1));
        meter.commit().await.unwrap();
    }
    meter.commit().await.unwrap();
    assert_eq!(meter.status().await.unwrap().open_keys, 1);
    handle.add(q("1")).unwrap();
    meter.record(&b, Usage::ApiCalls, q("1")).unwrap();
    meter.shutdown().await.unwrap();
    assert_eq!(ledger.totals().len(), 3);
}

/// Many threads add through handles and `record` while checkpoints run and the hour turns:
/// the committed totals are exactly what was added.
#[tokio::test]
async fn concurrent_adds_with_checkpoints_and_turns_lose_nothing() {
    let ledger = Arc::new(MemoryLedger::default());
    let clock = ManualClock::new(at("2026-12-01T05:59:59Z"));
    let meter = Arc::new(meter_with(&ledger, &clock, |config| {
        config.with_commit_interval(Duration::from_millis(1))
    }));
    let a = customer("111111111111");
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let (meter, a, clock) = (meter.clone(), a.clone(), clock.clone());
            std::thread::spawn(move || {
                let handle = meter.usage(&a, Usage::ApiCalls).handle().unwrap();
                for i in 0..20_000u64 {
                    if thread == 0 && i % 5000 == 0 {
                        clock.advance(Duration::from_mins(20));
                    }
                    if i % 2 == 0 {
                        handle.add(q("0.000001")).unwrap();
                    } else {
                        meter.record(&a, Usage::ApiCalls, q("0.000001")).unwrap();
                    }
                }
            })
        })
        .collect();
    // The writer runs on this runtime meanwhile: wait without blocking it.
    for thread in threads {
        tokio::task::spawn_blocking(move || thread.join().unwrap())
            .await
            .unwrap();
    }
    let meter = Arc::into_inner(meter).unwrap();
    meter.shutdown().await.unwrap();
    let total = Quantity::checked_sum(ledger.totals().into_values()).unwrap();
    assert_eq!(total.micros(), 4 * 20_000);
}

/// After shutdown every add through a handle is refused, in every hour: also in the hours
/// whose ring tags (the hour modulo 1024) are those of the window the final checkpoint
/// leaves the keys in (2027-01-03T07:00 is hour 1023 modulo 1024).
#[tokio::test]
async fn adds_after_shutdown_are_refused_in_every_hour() {
    for now in [
        NOW,
        "2027-01-03T06:30:00Z",
        "2027-01-03T07:30:00Z",
        "2027-01-03T09:30:00Z",
    ] {
        let ledger = Arc::new(MemoryLedger::default());
        let clock = ManualClock::new(at(now));
        let meter = meter(&ledger, &clock);
        let handle = meter
            .usage(&customer("111111111111"), Usage::ApiCalls)
            .handle()
            .unwrap();
        handle.add(q("1")).unwrap();
        let shared = meter.shared.clone();
        meter.shutdown().await.unwrap();
        // What an add racing with the close meets once the final checkpoint took its key:
        // a ring that holds no real hour.
        shared.table.for_each(|entry| {
            let hour = Hour::of(at(now));
            for hour in hour.previous().through(hour.next().next()) {
                assert_eq!(entry.counters().add(hour, 1), Err(AddError::Moved), "{now}");
            }
        });
        let added = handle.add(q("2"));
        assert!(matches!(added, Err(MeterError::Closed)), "{now}: {added:?}");
        let added = handle.add_at(q("2"), at(now));
        assert!(matches!(added, Err(MeterError::Closed)), "{now}: {added:?}");
        assert_eq!(
            ledger.totals().into_values().collect::<Vec<_>>(),
            [q("1")],
            "{now}"
        );
    }
}

/// A meter dropped without `shutdown` reports what it loses, and refuses what handles that
/// outlive it add later, rather than accepting usage no writer will ever commit.
#[tokio::test]
async fn adds_through_a_handle_after_the_meter_was_dropped_are_refused() {
    let ledger = Arc::new(MemoryLedger::default());
    let meter = meter_with(&ledger, &ManualClock::new(at(NOW)), |config| {
        config.with_commit_interval(Duration::from_hours(1))
    });
    let handle = meter
        .usage(&customer("111111111111"), Usage::ApiCalls)
        .handle()
        .unwrap();
    handle.add(q("1")).unwrap();
    drop(meter);
    let added = handle.add(q("2"));
    assert!(matches!(added, Err(MeterError::Closed)), "{added:?}");
    let added = handle.add_at(q("2"), at("2026-12-01T01:00:00Z"));
    assert!(matches!(added, Err(MeterError::Closed)), "{added:?}");
}
