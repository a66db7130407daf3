//! A scripted in-memory service for the submitter's tests: it bills first-write-wins per
//! key and fails as scripted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metering_core::submit::{
    Failure, FailureKind, RecordStatus, Response, SubmitConfig, Submitter, Transport,
};
use metering_core::{
    ManualClock, Outcome, PlannedRequest, Planner, Quantity, QuarantineReason, RecordKey,
    RequestScope, Timestamp, UsageRecord,
};

use super::{account, at, record};

/// How the service fails.
pub(crate) struct Script {
    pub(crate) throttle: f64,
    pub(crate) unprocessed: f64,
    /// Called before each request is answered (e.g. to move a clock).
    pub(crate) before: Box<dyn Fn(usize) + Send + Sync>,
    /// The code a record sinks its whole request with, if it does.
    pub(crate) reject: fn(&UsageRecord) -> Option<&'static str>,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            throttle: 0.0,
            unprocessed: 0.0,
            before: Box::new(|_| ()),
            reject: unknown_dimension,
        }
    }
}

/// The dimension `unknown` is not the product's.
pub(crate) fn unknown_dimension(record: &UsageRecord) -> Option<&'static str> {
    (record.dimension().as_str() == "unknown").then_some("InvalidUsageDimensionException")
}

/// A service that bills first-write-wins per key and fails as scripted.
pub(crate) struct FakeService {
    pub(crate) script: Script,
    pub(crate) rng: Mutex<fastrand::Rng>,
    pub(crate) billed: Mutex<HashMap<RecordKey, (Quantity, String)>>,
    pub(crate) requests: Mutex<Vec<usize>>,
}

impl FakeService {
    pub(crate) fn new(script: Script) -> Self {
        Self {
            script,
            rng: Mutex::new(fastrand::Rng::with_seed(7)),
            billed: Mutex::default(),
            requests: Mutex::default(),
        }
    }
    pub(crate) fn billed_total(&self) -> u64 {
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
        // As a network call would, let the other requests in flight go first.
        tokio::task::yield_now().await;
        // Whatever bisection and resending made of it, a request carries its own size.
        let alone = Planner::default().plan(request.records().to_vec(), now());
        assert_eq!(request.body_bytes(), alone.requests[0].body_bytes());
        let n = {
            let mut requests = self.requests.lock().unwrap();
            requests.push(request.records().len());
            requests.len()
        };
        (self.script.before)(n);
        let fail = |kind, code: &str| Err(Failure::new(kind, "scripted").with_code(code));
        if matches!(request.scope(), RequestScope::Product(p) if p.as_str() == "bad-product") {
            return fail(FailureKind::Stop, "InvalidProductCodeException");
        }
        let mut rng = self.rng.lock().unwrap();
        if rng.f64() < self.script.throttle {
            return fail(FailureKind::Retry, "ThrottlingException");
        }
        if let Some(code) = request.records().iter().find_map(self.script.reject) {
            return fail(FailureKind::RejectedRecords, code);
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

pub(crate) fn fast_config() -> SubmitConfig {
    SubmitConfig::default()
        .with_requests_per_second(None)
        .with_concurrency(4)
        .with_max_attempts(40)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(4))
}

pub(crate) fn now() -> Timestamp {
    at("2026-11-26T12:00:00Z")
}

pub(crate) fn submitter(
    service: &Arc<FakeService>,
    config: SubmitConfig,
    clock: ManualClock,
) -> Submitter<Arc<FakeService>> {
    Submitter::with_config(Arc::clone(service), config.with_clock(clock))
}

/// Submits with one request in flight, so requests go in plan order.
pub(crate) async fn one_at_a_time(
    service: &Arc<FakeService>,
    records: Vec<UsageRecord>,
) -> metering_core::Report {
    let config = fast_config().with_concurrency(1);
    submitter(service, config, ManualClock::new(now()))
        .submit(records)
        .await
}

pub(crate) fn random_records(n: u64, seed: u64) -> Vec<UsageRecord> {
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

pub(crate) fn outcome_of<'a>(
    report: &'a metering_core::Report,
    record: &UsageRecord,
) -> &'a Outcome {
    &report
        .outcomes
        .iter()
        .find(|o| &o.record == record)
        .unwrap()
        .outcome
}

/// The failure a record was quarantined with, if the service rejected it.
pub(crate) fn rejection(outcome: &Outcome) -> Option<&Failure> {
    match outcome {
        Outcome::Quarantined(QuarantineReason::Rejected(failure)) => Some(failure),
        _ => None,
    }
}

/// `records` submitted with `config` to a fresh service failing as `script`: the service
/// (the requests it got, what it billed) and the report.
pub(crate) async fn submit_to_new_service(
    script: Script,
    config: SubmitConfig,
    records: Vec<UsageRecord>,
) -> (Arc<FakeService>, metering_core::Report) {
    let service = Arc::new(FakeService::new(script));
    let report = submitter(&service, config, ManualClock::new(now()))
        .submit(records)
        .await;
    (service, report)
}
