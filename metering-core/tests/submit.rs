//! The submitter's loop against a scripted in-memory service: retries, unprocessed
//! records, bisection, stops, the rate limit and the time policy during retries.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{account, at, record};
use metering_core::submit::{
    Failure, FailureKind, RecordStatus, Response, SubmitConfig, Submitter, Transport,
};
use metering_core::{
    ManualClock, Outcome, PlannedRequest, Planner, Quantity, QuarantineReason, RecordKey,
    RequestScope, Timestamp, UsageRecord,
};

/// A service that bills first-write-wins per key and fails as scripted.
struct Script {
    throttle: f64,
    unprocessed: f64,
    /// Called before each request is answered (e.g. to move a clock).
    before: Box<dyn Fn(usize) + Send + Sync>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            throttle: 0.0,
            unprocessed: 0.0,
            before: Box::new(|_| ()),
        }
    }
}

struct FakeService {
    script: Script,
    rng: Mutex<fastrand::Rng>,
    billed: Mutex<HashMap<RecordKey, (Quantity, String)>>,
    requests: Mutex<Vec<usize>>,
}

impl FakeService {
    fn new(script: Script) -> Self {
        Self {
            script,
            rng: Mutex::new(fastrand::Rng::with_seed(7)),
            billed: Mutex::default(),
            requests: Mutex::default(),
        }
    }
    fn billed_total(&self) -> u64 {
        self.billed
            .lock()
            .unwrap()
            .values()
            .map(|(q, _)| q.micros())
            .sum()
    }
}

impl Transport for FakeService {
    async fn send(&self, request: &PlannedRequest) -> Result<Response, Failure> {
        // Whatever bisection and resending made of it, a request carries its own size.
        let alone = Planner::default().plan(request.records().to_vec(), now());
        assert_eq!(request.body_bytes(), alone.requests[0].body_bytes());
        let n = {
            let mut requests = self.requests.lock().unwrap();
            requests.push(request.records().len());
            requests.len()
        };
        (self.script.before)(n);
        let fail = |kind, code: &str| {
            Err(Failure {
                kind,
                code: Some(code.into()),
                message: "scripted".into(),
            })
        };
        if matches!(request.scope(), RequestScope::Product(p) if p.as_str() == "bad-product") {
            return fail(FailureKind::Stop, "InvalidProductCodeException");
        }
        let mut rng = self.rng.lock().unwrap();
        if rng.f64() < self.script.throttle {
            return fail(FailureKind::Retry, "ThrottlingException");
        }
        if request
            .records()
            .iter()
            .any(|r| r.dimension().as_str() == "unknown")
        {
            return fail(
                FailureKind::RejectedRecords,
                "InvalidUsageDimensionException",
            );
        }
        let mut billed = self.billed.lock().unwrap();
        let mut response = Response::default();
        for (index, record) in request.records().iter().enumerate() {
            if rng.f64() < self.script.unprocessed {
                response.unprocessed.push(index);
                continue;
            }
            let next_id = format!("id-{}", billed.len());
            let status = match billed.entry(record.key()) {
                std::collections::hash_map::Entry::Occupied(e)
                    if e.get().0 == record.quantity() =>
                {
                    RecordStatus::Success(e.get().1.clone())
                }
                std::collections::hash_map::Entry::Occupied(_) => RecordStatus::DuplicateRecord,
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert((record.quantity(), next_id.clone()));
                    RecordStatus::Success(next_id)
                }
            };
            response.results.push((index, status));
        }
        Ok(response)
    }
}

fn fast_config() -> SubmitConfig {
    SubmitConfig {
        requests_per_second: None,
        concurrency: 4,
        max_attempts: 40,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
        ..SubmitConfig::default()
    }
}

fn now() -> Timestamp {
    at("2026-11-26T12:00:00Z")
}

fn submitter(
    service: &Arc<FakeService>,
    config: SubmitConfig,
    clock: ManualClock,
) -> Submitter<Arc<FakeService>> {
    Submitter::with_config(Arc::clone(service), config, Arc::new(clock))
}

fn random_records(n: u64, seed: u64) -> Vec<UsageRecord> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|_| {
            let hour = now()
                .hour_start()
                .saturating_sub(Duration::from_hours(rng.u64(1..20)));
            record(
                account(
                    ["prod-a", "prod-b"][rng.usize(0..2)],
                    &rng.u64(1..60).to_string(),
                ),
                ["api", "gb", "seats"][rng.usize(0..3)],
                hour.saturating_add(Duration::from_secs(rng.u64(0..3600))),
                rng.u64(0..1000),
            )
        })
        .collect()
}

#[tokio::test]
async fn throttling_and_unprocessed_records_lose_nothing_and_bill_nothing_twice() {
    let service = Arc::new(FakeService::new(Script {
        throttle: 0.3,
        unprocessed: 0.2,
        ..Script::default()
    }));
    let records = random_records(3000, 1);
    let expected: u64 = records.iter().map(|r| r.quantity().micros()).sum();
    let report = submitter(&service, fast_config(), ManualClock::new(now()))
        .submit(records)
        .await;
    let summary = report.summary();
    assert_eq!(
        summary.pending + summary.quarantined + summary.duplicate,
        0,
        "{summary}"
    );
    assert_eq!(summary.success, report.outcomes.len());
    assert_eq!(
        service.billed_total(),
        expected,
        "billed exactly what was recorded"
    );
    let reported: u64 = report
        .outcomes
        .iter()
        .map(|o| o.record.quantity().micros())
        .sum();
    assert_eq!(reported, expected);
}

#[tokio::test]
async fn a_rejected_request_is_bisected_and_the_good_records_land() {
    let service = Arc::new(FakeService::new(Script::default()));
    let mut records: Vec<_> = (0..24)
        .map(|i| record(account("prod-a", &format!("{}", 100 + i)), "api", now(), 2))
        .collect();
    records.insert(13, record(account("prod-a", "7"), "unknown", now(), 5));
    let report = submitter(&service, fast_config(), ManualClock::new(now()))
        .submit(records)
        .await;
    assert_eq!(report.summary().success, 24);
    let rejected: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Quarantined(_)))
        .collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].record.dimension().as_str(), "unknown");
    assert!(matches!(&rejected[0].outcome,
        Outcome::Quarantined(QuarantineReason::Rejected { code, .. }) if code == "InvalidUsageDimensionException"));
    let sent = service.requests.lock().unwrap().len();
    assert!(
        sent <= 11,
        "bisection takes about 2·log2(25) requests, took {sent}"
    );
    assert_eq!(service.billed_total(), 48_000_000);
}

#[tokio::test]
async fn a_stop_keeps_every_record_pending() {
    let service = Arc::new(FakeService::new(Script::default()));
    let records: Vec<_> = (0..60)
        .map(|i| {
            record(
                account("bad-product", &format!("{}", 100 + i)),
                "api",
                now(),
                1,
            )
        })
        .collect();
    let config = SubmitConfig {
        concurrency: 1,
        ..fast_config()
    };
    let report = submitter(&service, config, ManualClock::new(now()))
        .submit(records)
        .await;
    assert_eq!(report.summary().pending, 60);
    assert!(
        report
            .stopped
            .as_deref()
            .unwrap()
            .contains("InvalidProductCodeException")
    );
    assert_eq!(
        service.requests.lock().unwrap().len(),
        1,
        "nothing more is sent after a stop"
    );
    assert_eq!(report.pending().count(), 60);
}

#[tokio::test]
async fn retries_give_up_as_pending_after_the_attempt_budget() {
    let service = Arc::new(FakeService::new(Script {
        throttle: 1.0,
        ..Script::default()
    }));
    let records: Vec<_> = (0..30)
        .map(|i| record(account("prod-a", &format!("{}", 100 + i)), "api", now(), 1))
        .collect();
    let config = SubmitConfig {
        max_attempts: 3,
        ..fast_config()
    };
    let report = submitter(&service, config, ManualClock::new(now()))
        .submit(records)
        .await;
    assert_eq!(report.summary().pending, 30);
    assert_eq!(
        service.requests.lock().unwrap().len(),
        6,
        "2 requests × 3 attempts"
    );
    let Outcome::Pending { last_error } = &report.outcomes[0].outcome else {
        panic!()
    };
    assert!(
        last_error.contains("ThrottlingException") && last_error.contains("after 3 attempts"),
        "{last_error}"
    );
}

#[tokio::test]
async fn records_that_expire_while_waiting_are_quarantined_not_sent() {
    let clock = ManualClock::new(now());
    let service = Arc::new(FakeService::new(Script {
        // The first request takes a day to answer: by then the other record has expired.
        before: Box::new({
            let clock = clock.clone();
            move |n| {
                if n == 1 {
                    clock.advance(Duration::from_hours(25));
                }
            }
        }),
        ..Script::default()
    }));
    let old = record(
        account("prod-a", "1"),
        "api",
        now().saturating_sub(Duration::from_hours(2)),
        1,
    );
    let fresh = record(account("prod-a", "2"), "api", now(), 1);
    let config = SubmitConfig {
        concurrency: 1,
        planner: fast_config().planner.with_max_records(1),
        ..fast_config()
    };
    let report = submitter(&service, config, clock)
        .submit([fresh.clone(), old.clone()])
        .await;
    assert!(
        matches!(outcome_of(&report, &old), Outcome::Success { .. }),
        "sent first: closest to its deadline"
    );
    assert!(
        matches!(
            outcome_of(&report, &fresh),
            Outcome::Quarantined(QuarantineReason::Time(_))
        ),
        "{:?}",
        outcome_of(&report, &fresh)
    );
    assert_eq!(
        service.requests.lock().unwrap().len(),
        1,
        "the expired record was never sent"
    );
}

fn outcome_of<'a>(report: &'a metering_core::Report, record: &UsageRecord) -> &'a Outcome {
    &report
        .outcomes
        .iter()
        .find(|o| &o.record == record)
        .unwrap()
        .outcome
}

#[tokio::test(start_paused = true)]
async fn the_rate_limit_spaces_requests_evenly() {
    let service = Arc::new(FakeService::new(Script::default()));
    let records =
        (0..1250).map(|i| record(account("prod-a", &format!("{}", 1000 + i)), "api", now(), 1));
    let config = SubmitConfig {
        requests_per_second: Some(10.0),
        ..fast_config()
    };
    let started = tokio::time::Instant::now();
    let report = submitter(&service, config, ManualClock::new(now()))
        .submit(records)
        .await;
    let elapsed = started.elapsed();
    assert_eq!(report.summary().success, 1250);
    assert_eq!(service.requests.lock().unwrap().len(), 50);
    // 50 requests at 10/s: the last starts 4.9 s after the first.
    assert!(
        elapsed >= Duration::from_millis(4900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

/// A service that throttles every request and notes when each arrived.
#[derive(Default)]
struct AlwaysThrottled(Mutex<Vec<tokio::time::Instant>>);

impl Transport for AlwaysThrottled {
    async fn send(&self, _: &PlannedRequest) -> Result<Response, Failure> {
        self.0.lock().unwrap().push(tokio::time::Instant::now());
        Err(Failure {
            kind: FailureKind::Retry,
            code: Some("ThrottlingException".into()),
            message: "scripted".into(),
        })
    }
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_longer_each_time_up_to_the_ceiling() {
    let service = Arc::new(AlwaysThrottled::default());
    let (initial, ceiling) = (Duration::from_millis(100), Duration::from_secs(20));
    let config = SubmitConfig {
        max_attempts: 16,
        initial_backoff: initial,
        max_backoff: ceiling,
        ..fast_config()
    };
    let report = Submitter::with_config(
        Arc::clone(&service),
        config,
        Arc::new(ManualClock::new(now())),
    )
    .submit([record(account("prod-a", "1"), "api", now(), 1)])
    .await;
    assert_eq!(report.summary().pending, 1);
    let sent = service.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 16);
    let waits: Vec<Duration> = sent.windows(2).map(|w| w[1] - w[0]).collect();
    // Full jitter: each wait is random below its ceiling, which doubles from 100 ms to 20 s.
    // (The timer counts whole milliseconds.)
    for (retry, wait) in waits.iter().enumerate() {
        let bound = initial.saturating_mul(1 << retry).min(ceiling) + Duration::from_millis(1);
        assert!(*wait > Duration::ZERO, "retry {retry} did not wait");
        assert!(
            *wait <= bound,
            "retry {retry} waited {wait:?}, above {bound:?}"
        );
    }
    // The last seven each wait up to 20 s: together well over the first retries' ceilings.
    let late: Duration = waits[8..].iter().sum();
    assert!(
        late > Duration::from_secs(3),
        "the waits stopped growing: {waits:?}"
    );
}
