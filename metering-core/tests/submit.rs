//! The submitter's loop against a scripted in-memory service: retries, unprocessed
//! records, bisection, stops, the rate limit and the time policy during retries.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::service::{
    FakeService, Script, fast_config, now, one_at_a_time, outcome_of, random_records, submitter,
};
use common::{account, capture, record};
use metering_core::submit::{ErrorCode, Failure, FailureKind, Response, Submitter, Transport};
use metering_core::{ManualClock, Outcome, PlannedRequest, Planner, Quantity, QuarantineReason};

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
    let mut inputs: Vec<usize> = report
        .outcomes
        .iter()
        .flat_map(|o| o.inputs.iter().copied())
        .collect();
    inputs.sort_unstable();
    assert_eq!(
        inputs,
        (0..3000).collect::<Vec<_>>(),
        "each input settled once"
    );
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
    let report = one_at_a_time(&service, records).await;
    assert_eq!(report.summary().pending, 60);
    let stopped = report.stopped.as_ref().unwrap();
    assert_eq!(stopped.code(), Some(&ErrorCode::InvalidProductCode));
    assert_eq!(stopped.kind(), FailureKind::Stop);
    let attempts: Vec<u32> = report
        .outcomes
        .iter()
        .map(|o| match &o.outcome {
            Outcome::Pending {
                attempts,
                last_error,
            } if last_error == stopped => *attempts,
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(
        attempts.iter().filter(|a| **a == 1).count(),
        25,
        "the request that stopped it was sent once; the rest never: {attempts:?}"
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
    let config = fast_config().with_max_attempts(3);
    let report = submitter(&service, config, ManualClock::new(now()))
        .submit(records)
        .await;
    assert_eq!(report.summary().pending, 30);
    assert_eq!(
        service.requests.lock().unwrap().len(),
        6,
        "2 requests × 3 attempts"
    );
    let outcome = &report.outcomes[0].outcome;
    let Outcome::Pending {
        attempts,
        last_error,
    } = outcome
    else {
        panic!("{outcome}")
    };
    assert_eq!(*attempts, 3);
    assert_eq!(last_error.code(), Some(&ErrorCode::Throttling));
    assert_eq!(
        outcome.to_string(),
        "Pending (after 3 attempts: ThrottlingException: scripted)"
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
    let config = fast_config()
        .with_concurrency(1)
        .with_planner(Planner::default().with_max_records(1));
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

#[tokio::test(start_paused = true)]
async fn the_rate_limit_spaces_requests_evenly() {
    let service = Arc::new(FakeService::new(Script::default()));
    let records =
        (0..1250).map(|i| record(account("prod-a", &format!("{}", 1000 + i)), "api", now(), 1));
    let config = fast_config().with_requests_per_second(Some(10.0));
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
        Err(Failure::service(ErrorCode::Throttling, "scripted"))
    }
}

#[tokio::test(start_paused = true)]
async fn retries_back_off_longer_each_time_up_to_the_ceiling() {
    let service = Arc::new(AlwaysThrottled::default());
    let (initial, ceiling) = (Duration::from_millis(100), Duration::from_secs(20));
    let config = fast_config()
        .with_max_attempts(16)
        .with_initial_backoff(initial)
        .with_max_backoff(ceiling)
        .with_clock(ManualClock::new(now()));
    let report = Submitter::with_config(Arc::clone(&service), config)
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

#[tokio::test]
async fn a_report_round_trips_through_json_and_reads_as_a_table() {
    let service = Arc::new(FakeService::new(Script::default()));
    let licensed = metering_core::Customer::Licensed {
        account: metering_core::CustomerAwsAccountId::new("123456789012".to_owned()).unwrap(),
        license: metering_core::LicenseArn::new(
            "arn:aws:license-manager::123456789012:license:l-1".to_owned(),
        )
        .unwrap(),
    };
    let records = vec![
        record(licensed, "api", now(), 2),
        record(account("prod-a", "7"), "unknown", now(), 5),
        record(account("bad-product", "8"), "api", now(), 1),
        record(
            account("prod-a", "9"),
            "api",
            now().saturating_sub(Duration::from_hours(30)),
            1,
        ),
    ];
    let report = one_at_a_time(&service, records).await;
    let summary = report.summary();
    assert_eq!(
        (summary.success, summary.quarantined, summary.pending),
        (1, 2, 1),
        "{summary}"
    );

    let json = serde_json::to_string(&report).unwrap();
    let back: metering_core::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report, "{json}");

    let table = report.table().to_string();
    assert!(
        table.contains("under licence arn:aws:license-manager::123456789012:license:l-1"),
        "{table}"
    );
    assert!(
        table.contains("rejected by the service: InvalidUsageDimensionException: scripted"),
        "{table}"
    );
    assert!(!table.contains(&summary.to_string()), "{table}");
    assert_eq!(
        table.lines().count(),
        5,
        "a header and a row each:\n{table}"
    );
}

#[tokio::test]
async fn each_outcome_names_the_input_records_it_settles_in_input_order() {
    let service = Arc::new(FakeService::new(Script::default()));
    let hour = now().hour_start();
    let later = hour.saturating_add(Duration::from_mins(30));
    // Inputs 1 and 3 share a key (merged); 4 is rejected; 0 and 2 stand alone.
    let records = vec![
        record(account("prod-b", "1"), "api", now(), 1),
        record(account("prod-a", "2"), "api", hour, 2),
        record(account("prod-a", "3"), "gb", now(), 3),
        record(account("prod-a", "2"), "api", later, 4),
        record(account("prod-a", "4"), "unknown", now(), 5),
    ];
    let report = one_at_a_time(&service, records).await;
    let inputs: Vec<&[usize]> = report.outcomes.iter().map(|o| &o.inputs[..]).collect();
    assert_eq!(inputs, [&[0][..], &[1, 3], &[2], &[4]]);
    assert_eq!(
        report.outcomes[1].record.quantity(),
        Quantity::new(6).unwrap()
    );
    let rejected = report.outcomes[3].outcome.to_string();
    assert!(
        rejected.contains("InvalidUsageDimensionException"),
        "{rejected}"
    );
}

#[tokio::test]
async fn a_plan_can_be_inspected_then_sent() {
    let service = Arc::new(FakeService::new(Script::default()));
    let submitter = submitter(&service, fast_config(), ManualClock::new(now()));
    let records: Vec<_> = (0..30)
        .map(|i| record(account("prod-a", &format!("{}", 100 + i)), "api", now(), 1))
        .collect();
    let plan = submitter.plan(records);
    assert_eq!(plan.requests.len(), 2);
    assert!(
        service.requests.lock().unwrap().is_empty(),
        "nothing sent yet"
    );
    let report = submitter.send(plan).await;
    assert_eq!(report.summary().success, 30);
    assert_eq!(service.requests.lock().unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_retry_is_logged_inside_its_request_with_attempts_counted_from_one() {
    let (capture, _guard) = capture::start();
    let config = fast_config()
        .with_max_attempts(3)
        .with_clock(ManualClock::new(now()));
    let records = (0..2).map(|i| record(account("prod-a", &i.to_string()), "api", now(), 1));
    let report = Submitter::with_config(Arc::new(AlwaysThrottled::default()), config)
        .submit(records)
        .await;
    assert_eq!(
        report.outcomes[0].outcome.to_string(),
        "Pending (after 3 attempts: ThrottlingException: scripted)"
    );

    let events = capture.events();
    let failed: Vec<_> = events
        .iter()
        .filter(|e| e.message().starts_with("request failed"))
        .collect();
    let attempts: Vec<&str> = failed.iter().map(|e| e.fields.get("attempt")).collect();
    assert_eq!(attempts, ["1", "2", "3"], "{failed:#?}");
    assert!(
        failed[2].message().contains("out of attempts"),
        "{failed:#?}"
    );
    for event in &failed {
        assert_eq!(event.target, "metering::submit");
        assert_eq!(event.level, tracing::Level::WARN);
        assert_eq!(event.fields.get("product"), "prod-a");
        assert_eq!(event.fields.get("records"), "2");
        assert_eq!(event.fields.get("reason"), "ThrottlingException: scripted");
        let [(submit, _), (request, span)] = &event.spans[..] else {
            panic!("{event:#?}")
        };
        assert_eq!((*submit, *request), ("submit", "batch_meter_usage"));
        assert_eq!(
            span.get("attempt"),
            event.fields.get("attempt"),
            "{event:#?}"
        );
        assert_eq!(span.get("product"), "prod-a");
    }
    let done: Vec<_> = events
        .iter()
        .filter(|e| e.message().starts_with("submission done"))
        .collect();
    let [done] = &done[..] else {
        panic!("one summary: {events:#?}")
    };
    assert_eq!(done.level, tracing::Level::INFO);
    assert_eq!(
        (done.fields.get("requests"), done.fields.get("pending")),
        ("3", "2")
    );
}

#[tokio::test]
async fn quarantines_bisections_proofs_and_stops_each_tell_product_dimension_and_reason() {
    let (capture, _guard) = capture::start();
    let service = Arc::new(FakeService::new(Script::default()));
    let old = now().saturating_sub(Duration::from_hours(30));
    let records = vec![
        record(account("prod-a", "1"), "api", now(), 1),
        record(account("prod-a", "2"), "api", now(), 1),
        record(account("prod-a", "3"), "unknown", now(), 1),
        record(account("prod-a", "4"), "gb", old, 1),
        record(account("bad-product", "5"), "api", now(), 1),
    ];
    let report = one_at_a_time(&service, records).await;
    assert_eq!(report.summary().quarantined, 2, "{}", report.table());

    let events = capture.events();
    let find = |message: &str, field: &str, value: &str| {
        events
            .iter()
            .find(|e| e.message().starts_with(message) && e.fields.get(field) == value)
            .unwrap_or_else(|| panic!("no {message:?} with {field}={value}: {events:#?}"))
    };
    let bisected = find("request rejected; bisecting", "product", "prod-a");
    assert_eq!(bisected.fields.get("dimension"), "api,unknown");
    assert!(
        bisected
            .fields
            .get("reason")
            .starts_with("InvalidUsageDimensionException")
    );

    let proven = find("the service proved a dimension bad", "dimension", "unknown");
    assert_eq!(proven.fields.get("product"), "prod-a");
    assert_eq!(proven.level, tracing::Level::WARN);

    let rejected = find("record quarantined", "dimension", "unknown");
    assert_eq!(rejected.fields.get("product"), "prod-a");
    assert_eq!(rejected.fields.get("inputs"), "[2]");
    assert_eq!(
        rejected.fields.get("reason"),
        "rejected by the service: InvalidUsageDimensionException: scripted"
    );
    let late = find("record quarantined", "dimension", "gb");
    assert!(late.fields.get("reason").contains("old"), "{late:#?}");

    let stopped = find("submission stopped", "product", "bad-product");
    assert_eq!(stopped.level, tracing::Level::ERROR);
    assert_eq!(stopped.fields.get("dimension"), "api");
    assert_eq!(
        stopped.fields.get("reason"),
        "InvalidProductCodeException: scripted"
    );
    let done = find(
        "submission done",
        "stopped",
        "InvalidProductCodeException: scripted",
    );
    assert_eq!(
        (done.fields.get("success"), done.fields.get("quarantined")),
        ("2", "2")
    );
    assert!(events.iter().all(|e| e.target == "metering::submit"));
}
