//! Operating the Meter: its metrics move as usage is recorded, committed, sealed and sent;
//! records near the service's deadline are a warning, then an error, once per flush and
//! hour, until they are sent or quarantined; and the health check says what is wrong.
#![allow(
    clippy::float_cmp,
    reason = "the series compared are whole seconds and counts, exact in an f64"
)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{at, capture};
use metering_core::ledger::conformance::{customer, delta, key};
use metering_core::ledger::{Checkpoint, DeadlineLevel, Flusher, InstanceId, Ledger, SqliteLedger};
use metering_core::metrics as names;
use metering_core::submit::{
    Failure, FailureKind, RecordStatus, Response, SubmitConfig, Submitter, Transport,
};
use metering_core::{Clock, ManualClock, Meter, MeterConfig, MeterError, PlannedRequest, Quantity};
use tracing::Level;

/// A service that bills every record, or fails every request while `failing`.
#[derive(Default)]
struct Service {
    failing: AtomicBool,
}

impl Transport for Service {
    async fn send(&self, request: &PlannedRequest) -> Result<Response, Failure> {
        if self.failing.load(Ordering::Relaxed) {
            return Err(Failure::new(FailureKind::Retry, "scripted outage"));
        }
        Ok(Response {
            results: (0..request.records().len())
                .map(|index| (index, RecordStatus::Success(format!("mr-{index}"))))
                .collect(),
            unprocessed: Vec::new(),
        })
    }
}

fn submitter(service: &Arc<Service>) -> Submitter<Arc<Service>> {
    let config = SubmitConfig::default()
        .with_requests_per_second(None)
        .with_max_attempts(1);
    Submitter::with_config(Arc::clone(service), config)
}

/// The series named `name` with `labels` (`"key=value"`, in order) in `read`, or 0.
fn series(read: &BTreeMap<String, f64>, name: &str, labels: &[&str]) -> f64 {
    let key = if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", labels.join(","))
    };
    read.get(&key).copied().unwrap_or(0.0)
}

/// Three customers' usage in the 31st's 21:00 hour, flushed from 00:30 on the 1st while
/// the service is down: 5h 30m before the month's cut-off, a warning per flush (not per
/// record); at 05:10, 50 minutes before, an error; at 05:59:30 the records are kept back
/// (quarantined), and nothing more is said.
#[tokio::test]
async fn records_near_the_month_cutoff_are_a_warning_then_an_error_until_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(dir.path().join("ledger.sqlite")).unwrap();
    let clock = ManualClock::new(at("2027-01-01T00:30:00Z"));
    let deltas = ["111111111111", "222222222222", "333333333333"].map(|account| {
        delta(
            &key(&customer(account), "calls", &[]),
            "2026-12-31T21:10:00Z",
            "1",
        )
    });
    let checkpoint = Checkpoint {
        instance: InstanceId::random(),
        number: 1,
        deltas: deltas.to_vec(),
    };
    ledger.commit(&checkpoint, clock.now()).await.unwrap();
    let service = Arc::new(Service::default());
    service.failing.store(true, Ordering::Relaxed);
    let config = MeterConfig::new().with_clock(clock.clone());
    let flusher = Flusher::new(ledger, submitter(&service), config);
    let (events, _events) = capture::start();
    let (metrics, _metrics) = common::metrics::start();
    let deadline_events = || -> Vec<(Level, String, String)> {
        events
            .events()
            .into_iter()
            .filter(|event| event.message().contains("service's deadline"))
            .map(|event| {
                let fields = &event.fields;
                (
                    event.level,
                    fields.get("hour").to_owned(),
                    fields.get("records").to_owned(),
                )
            })
            .collect()
    };
    let hour = "2026-12-31T21:00:00Z".to_owned();

    flusher.flush().await.unwrap();
    let read = metrics.read();
    assert_eq!(deadline_events(), [(Level::WARN, hour.clone(), "3".into())]);
    assert_eq!(series(&read, names::DEADLINE_REMAINING, &[]), 5.5 * 3600.0);
    assert_eq!(
        series(&read, names::RECORDS_NEAR_DEADLINE, &["level=warning"]),
        3.0
    );
    assert_eq!(
        series(&read, names::RECORDS_NEAR_DEADLINE, &["level=error"]),
        0.0
    );
    assert_eq!(series(&read, names::RECORDS, &["state=unsent"]), 3.0);
    assert_eq!(series(&read, names::RECORDS_SEALED, &[]), 3.0);
    assert_eq!(series(&read, names::RECORDS_SENT, &[]), 3.0);
    assert_eq!(series(&read, names::REQUESTS, &["outcome=failed"]), 1.0);
    assert_eq!(
        series(&read, names::RECORDS_SETTLED, &["outcome=pending"]),
        3.0
    );
    assert_eq!(series(&read, names::FLUSHES, &["outcome=ok"]), 1.0);
    // 21:00 is 3h 30m old at 00:30.
    assert_eq!(
        series(&read, names::OLDEST_UNSENT_HOUR_AGE, &[]),
        3.5 * 3600.0
    );

    // Flushed again at once (the records wait out their backoff): one more warning.
    flusher.flush().await.unwrap();
    assert_eq!(deadline_events().len(), 2);

    clock.set(at("2027-01-01T05:10:00Z"));
    flusher.flush().await.unwrap();
    let read = metrics.read();
    assert_eq!(
        deadline_events()[2],
        (Level::ERROR, hour.clone(), "3".into())
    );
    assert_eq!(series(&read, names::DEADLINE_REMAINING, &[]), 50.0 * 60.0);
    assert_eq!(
        series(&read, names::RECORDS_NEAR_DEADLINE, &["level=error"]),
        3.0
    );
    let health = flusher.health();
    let urgent = health.watched.as_ref().unwrap().most_urgent().unwrap();
    assert_eq!((urgent.level, urgent.records), (DeadlineLevel::Error, 3));
    assert_eq!(urgent.deadline, at("2027-01-01T06:00:00Z"));

    // Within a lease of the cut-off: kept back, for a person; no longer to send.
    clock.set(at("2027-01-01T05:59:30Z"));
    flusher.flush().await.unwrap();
    let read = metrics.read();
    assert_eq!(deadline_events().len(), 3, "nothing more to warn of");
    assert_eq!(series(&read, names::RECORDS, &["state=quarantined"]), 3.0);
    assert_eq!(series(&read, names::RECORDS, &["state=unsent"]), 0.0);
    assert_eq!(
        series(&read, names::RECORDS_QUARANTINED, &["stage=send"]),
        3.0
    );
    assert_eq!(series(&read, names::DEADLINE_REMAINING, &[]), 24.0 * 3600.0);
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Calls;

// By hand: this crate cannot use `metering-derive`, which is what implements this seal.
impl metering_core::__private::DerivedDimension for Calls {}

impl metering_core::Dimension for Calls {
    type Kind = metering_core::kind::Sum;
    const ALL: &'static [Self] = &[Self];
    fn as_str(self) -> &'static str {
        "calls"
    }
}

/// A meter's series as usage is recorded, committed, sealed and sent, refused once closed;
/// and its health, healthy, then stale, then refusing.
#[tokio::test]
async fn the_meters_series_move_and_its_health_says_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(at("2026-05-12T10:05:00Z"));
    let service = Arc::new(Service::default());
    let (metrics, _metrics) = common::metrics::start();
    let meter = Meter::builder()
        // No background flush but the first: the test flushes.
        .config(
            MeterConfig::new()
                .with_clock(clock.clone())
                .with_flush_interval(Duration::from_mins(30)),
        )
        .ledger(SqliteLedger::open(dir.path().join("usage.sqlite")).unwrap())
        .submitter(submitter(&service))
        .build()
        .unwrap();
    let customer = customer("111111111111");
    let calls = meter.usage(&customer, Calls).handle().unwrap();
    calls.add("2.5".parse().unwrap()).unwrap();
    calls.add(Quantity::new(1).unwrap()).unwrap();
    meter.commit().await.unwrap();
    let read = metrics.read();
    // 3.5 counts 3, the half carried.
    assert_eq!(
        series(&read, names::USAGE_RECORDED, &["dimension=calls"]),
        3.0
    );
    assert!(series(&read, names::COMMITS, &["outcome=ok"]) >= 1.0);
    assert!(series(&read, names::COMMIT_DURATION, &[]) >= 1.0);
    assert_eq!(series(&read, names::BACKLOG, &[]), 0.0);
    let health = meter.health();
    assert!(health.recording && health.backlog == 0);
    calls.add("0.5".parse().unwrap()).unwrap();
    meter.commit().await.unwrap();
    assert_eq!(
        series(&metrics.read(), names::USAGE_RECORDED, &["dimension=calls"]),
        1.0
    );

    clock.advance(Duration::from_mins(70)); // 11:15: 10:00's hour is sealed
    let report = meter.flush().await.unwrap();
    assert_eq!(report.outcomes.success, 1);
    let read = metrics.read();
    assert_eq!(series(&read, names::RECORDS_SEALED, &[]), 1.0);
    assert_eq!(
        series(&read, names::RECORDS_SETTLED, &["outcome=success"]),
        1.0
    );
    assert_eq!(series(&read, names::REQUESTS, &["outcome=ok"]), 1.0);
    #[allow(clippy::cast_precision_loss, reason = "a date's seconds")]
    let flushed_at = at("2026-05-12T11:15:00Z").unix_seconds() as f64;
    assert_eq!(series(&read, names::LAST_FLUSH, &[]), flushed_at);
    let health = meter.health();
    assert!(health.is_healthy(), "{health}");
    assert!(health.to_string().starts_with("healthy\n"), "{health}");
    assert!(
        health.to_string().contains("nothing left to send"),
        "{health}"
    );

    // Six hours on, before the writer's next tick or the flusher's (a commit is due within
    // a minute, a flush within ten flush intervals and a lease): both are stale.
    clock.advance(Duration::from_hours(6));
    let health = meter.health();
    assert!(!health.is_healthy());
    let text = health.to_string();
    assert!(text.starts_with("unhealthy\n"), "{text}");
    assert!(
        text.contains("problem: last committed 6h 0m 0s ago, more than 0h 1m 0s"),
        "{text}"
    );
    assert!(
        text.contains("problem: last flushed 6h 0m 0s ago, more than 5h 1m 0s"),
        "{text}"
    );
    meter.flush().await.unwrap();
    assert!(meter.health().is_healthy(), "{}", meter.health());

    meter.close().await.unwrap();
    assert!(matches!(
        calls.add(Quantity::new(1).unwrap()),
        Err(MeterError::Closed)
    ));
    assert_eq!(
        series(&metrics.read(), names::USAGE_REFUSED, &["reason=closed"]),
        1.0
    );
    let health = meter.health();
    assert!(!health.recording);
    assert!(
        health.to_string().contains("problem: recording is refused"),
        "{health}"
    );
}
