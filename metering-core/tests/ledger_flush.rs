//! The flush loop over a real `SQLite` ledger file and a scripted service: each record is
//! sent as sealed, settled once, resent identically after failures, crashes and lost
//! leases, and kept back before the service's window closes.

mod common;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::capture;
use metering_core::ledger::conformance::{at, customer, delta, hour, key, licensed, quantity};
use metering_core::ledger::{
    Checkpoint, Delta, Flusher, InstanceId, Ledger, LedgerInspection, RecordId, RecordState,
    Settlement, SqliteLedger, StoredRecord, UsageKey,
};
use metering_core::submit::{
    Failure, FailureKind, RecordStatus, Response, SubmitConfig, Submitter, Transport,
};
use metering_core::{
    Clock, Customer, DimensionKey, ManualClock, MeterConfig, Outcome, PlannedRequest, Quantity,
    RecordKey, UsageRecord,
};

/// A service that bills like the real one (the first quantity per key wins, an identical
/// resend succeeds again), fails the requests scripted to fail, leaves unprocessed the
/// records scripted (by their place in the request), and keeps every request and record
/// sent. While a test holds `answers` for writing, a request is received (kept in `sent`)
/// but not answered.
#[derive(Default)]
struct Service {
    failures: Mutex<VecDeque<FailureKind>>,
    unprocessed: Mutex<VecDeque<Vec<usize>>>,
    requests: Mutex<Vec<Vec<UsageRecord>>>,
    sent: Mutex<Vec<UsageRecord>>,
    billed: Mutex<HashMap<RecordKey, (Quantity, String)>>,
    answers: tokio::sync::RwLock<()>,
}

/// The account the service knows no subscription for.
const UNSUBSCRIBED: &str = "000000000000";

impl Transport for Service {
    async fn send(&self, request: &PlannedRequest) -> Result<Response, Failure> {
        self.sent
            .lock()
            .unwrap()
            .extend_from_slice(request.records());
        self.requests
            .lock()
            .unwrap()
            .push(request.records().to_vec());
        let _answer = self.answers.read().await;
        if let Some(kind) = self.failures.lock().unwrap().pop_front() {
            return Err(Failure::new(kind, "scripted").with_code("ScriptedException"));
        }
        let unprocessed = self
            .unprocessed
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_default();
        let mut billed = self.billed.lock().unwrap();
        let processed = (0..request.records().len()).filter(|index| !unprocessed.contains(index));
        let results = processed.map(|index| {
            let record = &request.records()[index];
            let status = if record.customer().account().map(AsRef::as_ref) == Some(UNSUBSCRIBED) {
                RecordStatus::CustomerNotSubscribed
            } else {
                let next = format!("mr-{}", billed.len());
                let (quantity, id) = billed
                    .entry(record.key())
                    .or_insert((record.quantity(), next));
                if *quantity == record.quantity() {
                    RecordStatus::Success(id.clone())
                } else {
                    RecordStatus::DuplicateRecord
                }
            };
            (index, status)
        });
        Ok(Response {
            results: results.collect(),
            unprocessed,
        })
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    clock: ManualClock,
    service: Arc<Service>,
}

impl Fixture {
    fn new(now: &str) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            clock: ManualClock::new(at(now)),
            service: Arc::default(),
        }
    }

    /// A fixture whose ledger holds `quantity` of calls by 111111111111 at `at`.
    async fn with_calls(now: &str, at: &str, quantity: &str) -> Self {
        let fx = Self::new(now);
        fx.commit(vec![delta(&calls(&customer("111111111111")), at, quantity)])
            .await;
        fx
    }

    fn ledger(&self) -> SqliteLedger {
        SqliteLedger::open(self.dir.path().join("ledger.sqlite")).unwrap()
    }

    /// A flusher on its own connection, as another process would run it; its submitter
    /// sends each request once.
    fn flusher(&self) -> Flusher<Arc<Service>> {
        self.flusher_with(self.submitter().with_max_attempts(1))
    }

    /// A flusher whose submitter is configured by `submit`.
    fn flusher_with(&self, submit: SubmitConfig) -> Flusher<Arc<Service>> {
        let config = MeterConfig::new()
            .with_clock(self.clock.clone())
            .with_grace(Duration::from_mins(15))
            .with_lease(Duration::from_mins(1));
        let submitter = Submitter::with_config(Arc::clone(&self.service), submit);
        Flusher::new(self.ledger(), submitter, config)
    }

    /// A submitter's configuration on this fixture's clock, with no rate limit.
    fn submitter(&self) -> SubmitConfig {
        SubmitConfig::default()
            .with_requests_per_second(None)
            .with_initial_backoff(Duration::from_millis(1))
            .with_clock(self.clock.clone())
    }

    async fn commit(&self, deltas: Vec<Delta>) {
        let checkpoint = Checkpoint {
            instance: InstanceId::random(),
            number: 1,
            deltas,
        };
        self.ledger()
            .commit(&checkpoint, self.clock.now())
            .await
            .unwrap();
    }

    fn sent(&self) -> Vec<UsageRecord> {
        self.service.sent.lock().unwrap().clone()
    }

    /// Each request's records, as sent.
    fn requests(&self) -> Vec<Vec<UsageRecord>> {
        self.service.requests.lock().unwrap().clone()
    }

    fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Waits until the service has received `count` records.
    async fn until_sent(&self, count: usize) {
        until(&format!("{count} records sent"), || {
            self.sent().len() >= count
        })
        .await;
    }
}

/// Twenty flush intervals of a meter flushing every 10 ms: a loop still running would send
/// in them.
const INTERVALS: Duration = Duration::from_millis(200);

/// Waits (in real time: the background loops' intervals) until `done`, failing after 10 s.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within 10 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn calls(customer: &Customer) -> Arc<UsageKey> {
    key(customer, "calls", &[])
}

#[tokio::test]
async fn a_flush_seals_closed_hours_and_settles_each_record_once() {
    let fx = Fixture::new("2026-11-26T12:20:00Z");
    let (a, b, gone) = (
        customer("111111111111"),
        licensed("222222222222"),
        customer(UNSUBSCRIBED),
    );
    fx.commit(vec![
        delta(&calls(&a), "2026-11-26T10:10:00Z", "1.5"),
        delta(&calls(&a), "2026-11-26T11:10:00Z", "2"),
        delta(&calls(&b), "2026-11-26T11:50:00Z", "3"),
        delta(&calls(&gone), "2026-11-26T11:10:00Z", "4"),
        // 12:00 has not closed: it stays open.
        delta(&calls(&a), "2026-11-26T12:10:00Z", "5"),
    ])
    .await;
    let flusher = fx.flusher();
    let report = flusher.flush().await.unwrap();
    assert_eq!(report.sealed.sealed, 4);
    assert_eq!(report.claims, 2, "one claim per request scope");
    assert_eq!(
        (report.outcomes.success, report.outcomes.not_subscribed),
        (3, 1)
    );
    let records = fx.ledger().records(None).await.unwrap();
    let mut stored: Vec<_> = records.iter().map(|r| r.record.clone()).collect();
    let mut sent = fx.sent();
    stored.sort_by_key(UsageRecord::key);
    sent.sort_by_key(UsageRecord::key);
    assert_eq!(sent, stored, "every record sent once, as sealed");
    let status = flusher.ledger().status().await.unwrap();
    assert_eq!(
        (
            status.count(RecordState::Success),
            status.count(RecordState::NotSubscribed)
        ),
        (3, 1)
    );
    assert_eq!(status.open_keys, 1);
    assert_eq!(flusher.flush().await.unwrap().claims, 0);
    assert_eq!(fx.sent().len(), 4);
}

/// The sealed records, in the ledger's order (the order a claim takes them in).
async fn stored(ledger: &SqliteLedger) -> Vec<StoredRecord> {
    ledger.records(None).await.unwrap()
}

#[tokio::test]
async fn a_claim_of_25_records_is_sent_as_one_request_of_those_records() {
    let fx = Fixture::new("2026-11-26T12:20:00Z");
    let deltas = (0..25)
        .map(|n| {
            let account = customer(&format!("{}", 100_000_000_000_u64 + n));
            delta(&calls(&account), "2026-11-26T11:10:00Z", "1.5")
        })
        .collect();
    fx.commit(deltas).await;
    let flusher = fx.flusher();
    let report = flusher.flush().await.unwrap();
    assert_eq!((report.claims, report.outcomes.success), (1, 25));
    let stored = stored(&fx.ledger()).await;
    let claimed: Vec<UsageRecord> = stored.iter().map(|r| r.record.clone()).collect();
    assert_eq!(
        fx.requests(),
        [claimed],
        "one request: the claim, in its order"
    );
}

#[tokio::test]
async fn each_outcome_of_a_claim_lands_on_its_own_record_and_the_unprocessed_are_sent_again() {
    let fx = Fixture::new("2026-11-26T12:20:00Z");
    let (a, b, c) = (
        customer("111111111111"),
        customer("222222222222"),
        customer("333333333333"),
    );
    fx.commit(vec![
        delta(&calls(&a), "2026-11-26T11:10:00Z", "1"),
        delta(&calls(&b), "2026-11-26T11:10:00Z", "2"),
        delta(&calls(&c), "2026-11-26T11:10:00Z", "3"),
    ])
    .await;
    // The service billed another quantity for c's hour already; it leaves b unprocessed once.
    let c_hour = RecordKey {
        customer: c,
        dimension: DimensionKey::new("calls").unwrap(),
        hour: at("2026-11-26T11:00:00Z"),
    };
    fx.service
        .billed
        .lock()
        .unwrap()
        .insert(c_hour, (quantity("9"), "mr-earlier".into()));
    fx.service.unprocessed.lock().unwrap().push_back(vec![1]);
    let flusher = fx.flusher_with(fx.submitter().with_max_attempts(2));
    let report = flusher.flush().await.unwrap();
    assert_eq!(
        (
            report.claims,
            report.outcomes.success,
            report.outcomes.duplicate
        ),
        (1, 2, 1),
        "{report:?}"
    );
    let stored = stored(&fx.ledger()).await;
    let claimed: Vec<UsageRecord> = stored.iter().map(|r| r.record.clone()).collect();
    assert_eq!(
        fx.requests(),
        [claimed.clone(), vec![claimed[1].clone()]],
        "the claim, then the record left unprocessed, alone"
    );
    let billed = fx.service.billed.lock().unwrap().clone();
    let outcomes: Vec<_> = stored
        .iter()
        .map(|r| (r.state, r.metering_record_id.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                RecordState::Success,
                Some(billed[&claimed[0].key()].1.clone())
            ),
            (
                RecordState::Success,
                Some(billed[&claimed[1].key()].1.clone())
            ),
            (RecordState::Duplicate, None),
        ]
    );
    assert_ne!(outcomes[0], outcomes[1]);
}

#[tokio::test]
async fn a_keyed_send_gives_each_record_its_own_outcome_even_when_two_share_a_key() {
    let fx = Fixture::new("2026-11-26T12:20:00Z");
    let record = |account: &str, quantity: u64| {
        UsageRecord::new(
            customer(account),
            DimensionKey::new("calls").unwrap(),
            at("2026-11-26T11:00:00Z"),
            Quantity::new(quantity).unwrap(),
        )
    };
    let (first, again, other) = (
        record("111111111111", 5),
        record("111111111111", 7),
        record("222222222222", 1),
    );
    // The submitter's clock is far from the claim's hour: a claim is not checked again.
    let late = ManualClock::new(at("2027-06-01T00:00:00Z"));
    let submitter =
        Submitter::with_config(Arc::clone(&fx.service), fx.submitter().with_clock(late));
    let sent = vec![
        (RecordId(7), first.clone()),
        (RecordId(3), again.clone()),
        (RecordId(5), other.clone()),
    ];
    let report = submitter.send_keyed(first.customer().scope(), sent).await;
    assert_eq!(report.stopped, None);
    assert_eq!(
        report.outcomes,
        [
            (
                RecordId(7),
                Outcome::Success {
                    metering_record_id: "mr-0".into()
                }
            ),
            (RecordId(3), Outcome::DuplicateRecord),
            (
                RecordId(5),
                Outcome::Success {
                    metering_record_id: "mr-1".into()
                }
            ),
        ]
    );
    assert_eq!(
        fx.requests(),
        [vec![first, again, other]],
        "one request, as given: nothing merged, nothing kept back"
    );
}

#[tokio::test]
async fn a_failed_send_is_retried_identically_after_its_backoff() {
    let fx = Fixture::with_calls("2026-11-26T12:20:00Z", "2026-11-26T11:10:00Z", "2.25").await;
    fx.service
        .failures
        .lock()
        .unwrap()
        .push_back(FailureKind::Retry);
    let flusher = fx.flusher();
    let report = flusher.flush().await.unwrap();
    assert_eq!((report.outcomes.pending, report.outcomes.success), (1, 0));
    let unsent = fx
        .ledger()
        .records(Some(RecordState::Unsent))
        .await
        .unwrap();
    assert!(
        unsent[0]
            .detail
            .as_deref()
            .unwrap()
            .contains("ScriptedException")
    );
    assert_eq!(
        flusher.flush().await.unwrap().claims,
        0,
        "the backoff holds it back"
    );
    fx.advance(Duration::from_secs(6));
    // Another process, after a restart, sends it.
    let report = fx.flusher().flush().await.unwrap();
    assert_eq!(report.outcomes.success, 1);
    let sent = fx.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1], "the resend is identical");
    assert_eq!(sent[0].timestamp(), at("2026-11-26T11:00:00Z"));
    assert_eq!(sent[0].quantity(), quantity("2.25"));
}

#[tokio::test]
async fn records_of_a_flusher_that_died_are_sent_once_its_lease_expires() {
    let fx = Fixture::with_calls("2026-11-26T12:20:00Z", "2026-11-26T11:10:00Z", "1").await;
    // A process claimed the record, perhaps sent it, and was killed before settling.
    let ledger = fx.ledger();
    ledger
        .seal(at("2026-11-26T12:00:00Z"), fx.clock.now())
        .await
        .unwrap();
    let orphan = ledger
        .claim("killed", fx.clock.now(), Duration::from_mins(1))
        .await
        .unwrap()
        .unwrap();
    let living = fx.flusher();
    assert_eq!(
        living.flush().await.unwrap().claims,
        0,
        "the lease still holds"
    );
    fx.advance(Duration::from_mins(1));
    let report = living.flush().await.unwrap();
    assert_eq!(report.outcomes.success, 1);
    let record = &ledger.records(Some(RecordState::Success)).await.unwrap()[0];
    assert_eq!((record.id, record.attempt), (orphan.records[0].id, 2));
    assert_eq!(fx.sent(), [orphan.records[0].record.clone()]);
    // The dead flusher's outcome, should it come back, is refused.
    let late = [(orphan.records[0].id, Settlement::Duplicate)];
    let stale = ledger.settle(&orphan, &late, fx.clock.now()).await.unwrap();
    assert_eq!(stale.fenced, 1);
}

#[tokio::test]
async fn records_about_to_leave_the_window_are_quarantined_unsent() {
    // 05:59:30 on the 1st: November's records close at 06:00, within the one-minute lease.
    let fx = Fixture::new("2026-11-30T22:30:00Z");
    let a = customer("111111111111");
    fx.commit(vec![delta(&calls(&a), "2026-11-30T23:10:00Z", "1")])
        .await;
    fx.clock.set(at("2026-12-01T05:59:30Z"));
    let report = fx.flusher().flush().await.unwrap();
    assert_eq!(
        (report.outcomes.quarantined, report.outcomes.success),
        (1, 0)
    );
    assert!(fx.sent().is_empty());
    assert!(
        fx.requests().is_empty(),
        "no request, not even an empty one"
    );
    let quarantined = fx
        .ledger()
        .records(Some(RecordState::Quarantined))
        .await
        .unwrap();
    let detail = quarantined[0].detail.as_deref().unwrap();
    assert!(detail.contains("2026-12-01T06:00:00Z"), "{detail}");
}

#[tokio::test]
async fn a_stopped_submission_leaves_the_rest_for_the_next_flush() {
    let fx = Fixture::new("2026-11-26T12:20:00Z");
    fx.commit(vec![
        delta(
            &calls(&licensed("222222222222")),
            "2026-11-26T10:10:00Z",
            "1",
        ),
        delta(
            &calls(&customer("111111111111")),
            "2026-11-26T11:10:00Z",
            "1",
        ),
    ])
    .await;
    fx.service
        .failures
        .lock()
        .unwrap()
        .push_back(FailureKind::Stop);
    let report = fx.flusher().flush().await.unwrap();
    assert_eq!((report.claims, report.outcomes.pending), (1, 1));
    let status = fx.ledger().status().await.unwrap();
    assert_eq!(status.count(RecordState::Unsent), 2);
    assert_eq!(
        status.oldest_unsent_hour,
        Some(hour("2026-11-26T10:00:00Z"))
    );
}

#[tokio::test]
async fn a_flusher_whose_lease_ran_out_mid_send_reports_its_outcome_fenced() {
    let fx = Fixture::with_calls("2026-11-26T12:20:00Z", "2026-11-26T11:10:00Z", "1").await;
    let held = fx.service.answers.write().await;
    let (slow, other) = (fx.flusher(), fx.flusher());
    let (slow, other) = tokio::join!(slow.flush(), async {
        // The service is slow to answer: the lease runs out, and another flusher sends the
        // record again; then both are answered.
        fx.until_sent(1).await;
        fx.advance(Duration::from_mins(1));
        let ((), other) = tokio::join!(
            async {
                fx.until_sent(2).await;
                drop(held);
            },
            other.flush()
        );
        other
    });
    let (slow, other) = (slow.unwrap(), other.unwrap());
    assert_eq!((slow.outcomes.success, slow.fenced), (1, 1), "{slow:?}");
    assert_eq!((other.outcomes.success, other.fenced), (1, 0), "{other:?}");
    let sent = fx.sent();
    assert_eq!(sent[0], sent[1], "the resend is identical");
    let record = &fx.ledger().records(None).await.unwrap()[0];
    assert_eq!((record.state, record.attempt), (RecordState::Success, 2));
}

#[tokio::test]
async fn the_flush_loop_logs_each_flush_that_did_something_and_not_the_others() {
    let (capture, _guard) = capture::start();
    let fx = Fixture::with_calls("2026-11-26T12:20:00Z", "2026-11-26T11:10:00Z", "1").await;
    let flusher = fx.flusher();
    // Each run flushes once, then finds its stop already resolved.
    flusher.run(async {}).await;
    flusher.run(async {}).await;
    assert_eq!(fx.sent().len(), 1);
    let logged: Vec<_> = capture
        .events()
        .into_iter()
        .filter(|event| event.target == "metering::ledger" && event.message() == "flushed")
        .collect();
    assert_eq!(logged.len(), 1, "{logged:#?}");
    assert_eq!(logged[0].level, tracing::Level::INFO);
    let report = logged[0].fields.get("report");
    assert!(report.contains("success: 1"), "{report}");
}

/// A flusher reads its configuration's clock: a submitter given another is warned about,
/// naming both; one given the same clock, or none, is not.
#[tokio::test]
async fn a_flusher_warns_of_a_submitter_on_another_clock() {
    let (capture, _guard) = capture::start();
    let fx = Fixture::new("2026-11-26T12:20:00Z");
    fx.flusher();
    fx.flusher_with(SubmitConfig::default());
    fx.flusher_with(SubmitConfig::default().with_clock(metering_core::SystemClock));
    let warned: Vec<_> = capture
        .events()
        .into_iter()
        .filter(|event| event.target == "metering::ledger" && event.level == tracing::Level::WARN)
        .collect();
    assert_eq!(warned.len(), 1, "{warned:#?}");
    let error = warned[0].fields.get("error");
    assert!(
        error.contains("the meter's reads 2026-11-26T12:20:00Z"),
        "{error}"
    );
}

#[tokio::test]
async fn an_unsubscribing_customer_is_sealed_and_sent_now() {
    let fx = Fixture::new("2026-11-26T12:20:00Z");
    let (leaving, staying) = (customer("111111111111"), customer("333333333333"));
    fx.commit(vec![
        delta(&calls(&leaving), "2026-11-26T12:05:00Z", "2"),
        delta(&calls(&staying), "2026-11-26T12:05:00Z", "3"),
    ])
    .await;
    let report = fx.flusher().flush_customer(&leaving).await.unwrap();
    assert_eq!((report.sealed.sealed, report.outcomes.success), (1, 1));
    let sent = fx.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].customer(), &leaving);
    assert_eq!(sent[0].timestamp(), at("2026-11-26T12:00:00Z"));
    assert_eq!(fx.ledger().status().await.unwrap().open_keys, 1);
}

/// The seller's whole integration: a Meter on a ledger file, with a submitter.
mod meter {
    use metering_core::{Dimension, Meter, MeterError};

    use super::*;

    #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
    struct Calls;

    // By hand: this crate cannot use `metering-derive`, which is what implements this seal.
    impl metering_core::__private::DerivedDimension for Calls {}

    impl Dimension for Calls {
        type Kind = metering_core::kind::Sum;
        const ALL: &'static [Self] = &[Self];
        fn as_str(self) -> &'static str {
            "calls"
        }
    }

    impl Fixture {
        fn config(&self) -> MeterConfig {
            MeterConfig::new()
                .with_clock(self.clock.clone())
                .with_grace(Duration::from_mins(15))
                .with_lease(Duration::from_mins(1))
                .with_commit_interval(Duration::from_millis(10))
                .with_flush_interval(Duration::from_hours(1))
                .with_month_close_margin(Duration::from_hours(2))
        }

        fn meter(&self) -> Meter {
            self.meter_with(self.config())
        }

        fn meter_with(&self, config: MeterConfig) -> Meter {
            let submitter = Submitter::with_config(
                Arc::clone(&self.service),
                SubmitConfig::default()
                    .with_requests_per_second(None)
                    .with_max_attempts(1)
                    .with_clock(self.clock.clone()),
            );
            Meter::builder()
                .config(config)
                .ledger(SqliteLedger::open(self.dir.path().join("ledger.sqlite")).unwrap())
                .submitter(submitter)
                .build()
                .unwrap()
        }

        fn billed(&self) -> Vec<(String, Quantity)> {
            let mut billed: Vec<_> = self
                .service
                .billed
                .lock()
                .unwrap()
                .iter()
                .map(|(key, (quantity, _))| (format!("{key:?}"), *quantity))
                .collect();
            billed.sort();
            billed
        }
    }

    /// A meter that flushes every 10 ms in the background.
    fn flushing(fx: &Fixture) -> Meter {
        fx.meter_with(fx.config().with_flush_interval(Duration::from_millis(10)))
    }

    /// A meter flushing in the background whose send of 2 calls at 05:00 the service has
    /// received and not answered: it answers once the guard is dropped.
    async fn mid_send(fx: &Fixture) -> (Meter, tokio::sync::RwLockWriteGuard<'_, ()>) {
        let meter = flushing(fx);
        meter
            .record_durable(&customer("111111111111"), Calls, quantity("2"))
            .await
            .unwrap();
        let held = fx.service.answers.write().await;
        fx.advance(Duration::from_mins(70));
        fx.until_sent(1).await;
        (meter, held)
    }

    #[tokio::test]
    async fn a_meter_sends_each_closed_hour_in_the_background_until_shut_down() {
        let fx = Fixture::new("2026-12-01T05:10:00Z");
        let a = customer("111111111111");
        let meter = flushing(&fx);
        meter
            .record_durable(&a, Calls, quantity("2"))
            .await
            .unwrap();
        // No `flush` call: once the hour and the grace have passed, the meter sends it.
        fx.advance(Duration::from_mins(70));
        fx.until_sent(1).await;
        let sent = fx.sent();
        assert_eq!(
            (sent[0].quantity(), sent[0].timestamp()),
            (quantity("2"), at("2026-12-01T05:00:00Z"))
        );
        meter.shutdown().await.unwrap();

        // Shut down, it sends nothing more: what another process commits waits for a sender.
        fx.commit(vec![delta(&calls(&a), "2026-12-01T06:10:00Z", "3")])
            .await;
        fx.advance(Duration::from_hours(1));
        tokio::time::sleep(INTERVALS).await;
        assert_eq!(fx.sent().len(), 1);
        assert_eq!(fx.flusher().flush().await.unwrap().outcomes.success, 1);
    }

    #[tokio::test]
    async fn shutdown_waits_for_the_answer_to_a_send_under_way() {
        let fx = Fixture::new("2026-12-01T05:10:00Z");
        let (meter, held) = mid_send(&fx).await;
        // The service answers while the meter is shutting down (within its timeout, 10 s).
        let ((), shutdown) = tokio::join!(
            async {
                tokio::time::sleep(INTERVALS).await;
                drop(held);
            },
            meter.shutdown()
        );
        shutdown.unwrap();
        // The answer is in the ledger: billed, not left leased to be sent again.
        let status = fx.ledger().status().await.unwrap();
        assert_eq!(
            (
                status.count(RecordState::Success),
                status.count(RecordState::Leased)
            ),
            (1, 0)
        );
        assert_eq!(fx.sent().len(), 1);
    }

    #[tokio::test]
    async fn a_meter_dropped_mid_send_lets_go_of_the_transport_at_once() {
        let fx = Fixture::new("2026-12-01T05:10:00Z");
        let (meter, held) = mid_send(&fx).await;
        // Dropped without `shutdown`, it sends nothing more, not even the answer it waits for:
        // its claim expires and another process sends the record again, identical.
        drop(meter);
        until("the meter lets go of the transport", || {
            Arc::strong_count(&fx.service) == 1
        })
        .await;
        drop(held);
    }

    #[tokio::test]
    async fn the_hour_turns_on_time_and_usage_waits_for_the_commit_interval() {
        // Half a millisecond before 06:00; the next commit is 10 minutes away.
        let fx = Fixture::new("2026-12-01T05:59:59.9995Z");
        let meter = fx.meter_with(fx.config().with_commit_interval(Duration::from_mins(10)));
        fx.advance(Duration::from_secs(1));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while meter.status().await.unwrap().checkpoints_taken == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no checkpoint at the hour's turn within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // The meter read its clock at the hour's turn: this usage is 06:00's.
        let a = customer("111111111111");
        meter.record(&a, Calls, quantity("2")).unwrap();
        tokio::time::sleep(INTERVALS).await;
        assert_eq!(
            fx.ledger().status().await.unwrap().open_keys,
            0,
            "committed before the commit interval"
        );
        fx.advance(Duration::from_mins(80));
        meter.flush().await.unwrap();
        let sent: Vec<_> = fx
            .sent()
            .iter()
            .map(|r| (r.timestamp(), r.quantity()))
            .collect();
        assert_eq!(sent, [(at("2026-12-01T06:00:00Z"), quantity("2"))]);
        meter.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn a_meter_on_a_file_records_seals_and_sends_each_hour_once() {
        let fx = Fixture::new("2026-12-01T05:10:00Z");
        let (a, b) = (customer("111111111111"), customer("222222222222"));
        let meter = fx.meter();
        meter.record(&a, Calls, quantity("1.5")).unwrap();
        meter.record(&a, Calls, quantity("2")).unwrap();
        meter
            .record_durable(&b, Calls, quantity("4"))
            .await
            .unwrap();
        // The hour is open: nothing is sealed, nothing sent.
        let report = meter.flush().await.unwrap();
        assert_eq!((report.claims, fx.sent().len()), (0, 0));

        fx.advance(Duration::from_mins(70));
        let report = meter.flush().await.unwrap();
        assert_eq!(report.outcomes.success, 2, "{report:?}");
        let sent = fx.sent();
        assert_eq!(sent.len(), 2);
        let mut quantities: Vec<Quantity> = sent.iter().map(UsageRecord::quantity).collect();
        quantities.sort();
        assert_eq!(quantities, [quantity("3.5"), quantity("4")]);
        assert!(
            sent.iter()
                .all(|r| r.timestamp() == at("2026-12-01T05:00:00Z"))
        );

        // Sent once: a later flush has nothing left, and a reopened meter neither.
        assert_eq!(meter.flush().await.unwrap().claims, 0);
        meter.shutdown().await.unwrap();
        let again = fx.meter();
        fx.advance(Duration::from_hours(2));
        assert_eq!(again.flush().await.unwrap().claims, 0);
        again.shutdown().await.unwrap();
        assert_eq!(fx.sent().len(), 2);
    }

    #[tokio::test]
    async fn an_unsubscribing_customer_is_sealed_and_sent_at_once() {
        let fx = Fixture::new("2026-11-26T12:20:00Z");
        let (leaving, staying) = (customer("111111111111"), customer("222222222222"));
        let meter = fx.meter();
        meter.register(&leaving, Calls);
        meter.register(&staying, Calls);
        meter.record(&leaving, Calls, quantity("3")).unwrap();
        meter.record(&staying, Calls, quantity("5")).unwrap();
        // Sent by this call, or by the background flush it waited for: sent either way.
        meter.seal_and_flush_customer(&leaving).await.unwrap();
        let sent = fx.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].customer(), &leaving);
        assert_eq!(
            (sent[0].quantity(), sent[0].timestamp()),
            (quantity("3"), at("2026-11-26T12:00:00Z"))
        );
        assert_eq!(fx.billed().len(), 1);
        // Their registration ended with it; the other customer's goes on: 5 at 12:00, then 0.
        fx.advance(Duration::from_hours(2));
        meter.commit().await.unwrap();
        meter.flush().await.unwrap();
        let sent: Vec<_> = fx
            .sent()
            .iter()
            .map(|r| (r.customer().clone(), r.timestamp(), r.quantity()))
            .collect();
        assert_eq!(
            sent[1..],
            [
                (staying.clone(), at("2026-11-26T12:00:00Z"), quantity("5")),
                (staying, at("2026-11-26T13:00:00Z"), Quantity::ZERO),
            ]
        );
        meter.shutdown().await.unwrap();
    }

    #[tokio::test]
    async fn a_meter_without_a_submitter_says_so_when_asked_to_send() {
        let fx = Fixture::new("2026-11-26T12:20:00Z");
        let meter = Meter::builder()
            .config(fx.config())
            .ledger(SqliteLedger::open(fx.dir.path().join("ledger.sqlite")).unwrap())
            .build()
            .unwrap();
        let error = meter.flush().await.unwrap_err();
        assert!(matches!(error, MeterError::NoSubmitter), "{error}");
        assert!(error.to_string().contains(".submitter("), "{error}");
        meter.shutdown().await.unwrap();
    }
}
