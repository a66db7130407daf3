//! End to end: `Submitter` + `AwsTransport` (the real AWS SDK client) against the emulator
//! on loopback, under injected faults. What the emulator billed must equal what was
//! recorded, exactly.

use std::collections::HashMap;
use std::error::Error as _;
use std::time::Duration;

use marketplace_metering::plan::Planner;
use marketplace_metering::{
    AwsTransport, Customer, CustomerAwsAccountId, DimensionKey, ErrorCode, Outcome, ProductCode,
    Quantity, QuarantineReason, SubmitConfig, Submitter, TimeViolation, Timestamp, UsageRecord,
    aws_sdk,
};
use metering_emulator::{Emulator, Faults, Quota, RunningEmulator};

const PRODUCT: &str = "prod-e2e";

fn transport(emulator: &RunningEmulator) -> AwsTransport {
    AwsTransport::from_conf(
        emulator
            .sdk_config()
            .to_builder()
            .timeout_config(
                aws_sdk::config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(5))
                    .build(),
            )
            .build(),
    )
}

fn submitter(emulator: &RunningEmulator) -> Submitter<AwsTransport> {
    let config = SubmitConfig::default()
        .with_requests_per_second(None)
        .with_concurrency(8)
        .with_max_attempts(40)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(20));
    Submitter::with_config(transport(emulator), config)
}

fn customer(product: &str, account: u64) -> Customer {
    Customer::Account {
        product: ProductCode::new(product.to_owned()).unwrap(),
        account: CustomerAwsAccountId::new(account.to_string()).unwrap(),
    }
}

fn record(
    product: &str,
    account: u64,
    dimension: &str,
    timestamp: Timestamp,
    quantity: u64,
) -> UsageRecord {
    UsageRecord::new(
        customer(product, account),
        DimensionKey::new(dimension.to_owned()).unwrap(),
        timestamp,
        Quantity::new(quantity).unwrap(),
    )
}

fn hours_ago(hours: u64) -> Timestamp {
    Timestamp::now()
        .hour_start()
        .saturating_sub(Duration::from_hours(hours))
}

fn billed_total(emulator: &RunningEmulator) -> u128 {
    emulator
        .ledger()
        .iter()
        .map(|entry| u128::from(entry.quantity.micros()))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_records_under_faults_bill_exactly_once() {
    let emulator = Emulator::builder()
        .faults(Faults {
            seed: 2026,
            throttle: 0.30,
            internal_error: 0.10,
            drop_connection: 0.05,
            unprocessed: 0.20,
            ..Faults::none()
        })
        .start()
        .await
        .unwrap();
    let mut rng = fastrand::Rng::with_seed(11);
    let records: Vec<UsageRecord> = (0..10_000)
        .map(|_| {
            // Up to 20 hours back, but inside this month: after 06:00 UTC on the 1st the
            // service takes nothing from the previous month, and this test runs on any day.
            let now = Timestamp::now();
            let timestamp = hours_ago(rng.u64(1..20))
                .saturating_add(Duration::from_secs(rng.u64(0..3600)))
                .max(now.month_start())
                .min(now);
            record(
                PRODUCT,
                rng.u64(1..300),
                ["api", "gb", "seats"][rng.usize(0..3)],
                timestamp,
                rng.u64(0..10_000),
            )
        })
        .collect();
    let expected: u128 = records
        .iter()
        .map(|r| u128::from(r.quantity().micros()))
        .sum();
    // What the records take without faults (fewer on the 1st of a month, when every record
    // falls in the few hours since the month began and more of them merge).
    let clean = Planner::default()
        .plan(records.clone(), Timestamp::now())
        .requests
        .len() as u64;

    let report = tokio::time::timeout(Duration::from_mins(4), submitter(&emulator).submit(records))
        .await
        .expect("the submission finishes");
    let summary = report.summary();
    let unsettled = report
        .outcomes
        .iter()
        .find(|o| !matches!(o.outcome, Outcome::Success { .. }));
    assert_eq!(
        (summary.pending, summary.quarantined, summary.duplicate),
        (0, 0, 0),
        "{summary}; stopped: {:?}; first unsettled: {unsettled:?}",
        report.stopped
    );
    assert_eq!(
        billed_total(&emulator),
        expected,
        "billed exactly what was recorded"
    );

    // Every outcome's ID is the one the emulator billed under, for that record's quantity.
    let ledger: HashMap<String, Quantity> = emulator
        .ledger()
        .into_iter()
        .map(|e| (e.metering_record_id, e.quantity))
        .collect();
    assert_eq!(ledger.len(), report.outcomes.len());
    for entry in &report.outcomes {
        let Outcome::Success { metering_record_id } = &entry.outcome else {
            panic!("{:?}", entry.outcome)
        };
        assert_eq!(ledger[metering_record_id], entry.record.quantity());
    }
    assert!(
        emulator.requests() > clean + clean / 2,
        "the faults forced retries: {} requests for {clean} without faults",
        emulator.requests()
    );
}

#[tokio::test]
async fn a_record_past_the_window_is_kept_back_and_the_others_land_in_one_request() {
    let emulator = Emulator::builder().start().await.unwrap();
    let mut records: Vec<_> = (0..24)
        .map(|i| record(PRODUCT, 100 + i, "api", hours_ago(1), 5))
        .collect();
    let stale = record(PRODUCT, 7, "api", hours_ago(25), 5);
    records.insert(10, stale.clone());
    let report = submitter(&emulator).submit(records).await;
    assert_eq!(report.summary().success, 24);
    assert_eq!(
        emulator.requests(),
        1,
        "no request was rejected and re-sent"
    );
    let kept = report.outcomes.iter().find(|o| o.record == stale).unwrap();
    assert!(matches!(
        kept.outcome,
        Outcome::Quarantined(QuarantineReason::Time(TimeViolation::TooOld { .. }))
    ));
    assert_eq!(billed_total(&emulator), 24 * 5_000_000);
}

#[tokio::test]
async fn bisection_finds_the_record_only_the_service_can_reject() {
    let emulator = Emulator::builder()
        .known_dimensions(["api", "gb"])
        .start()
        .await
        .unwrap();
    let mut records: Vec<_> = (0..24)
        .map(|i| record(PRODUCT, 100 + i, "api", hours_ago(1), 2))
        .collect();
    records.insert(17, record(PRODUCT, 7, "api_calls_typo", hours_ago(1), 9));
    let report = submitter(&emulator).submit(records).await;
    assert_eq!(report.summary().success, 24, "{}", report.table());
    let rejected: Vec<_> = report
        .outcomes
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Quarantined(_)))
        .collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].record.dimension().as_str(), "api_calls_typo");
    let Outcome::Quarantined(QuarantineReason::Rejected(failure)) = &rejected[0].outcome else {
        panic!("{}", rejected[0].outcome)
    };
    assert_eq!(failure.code(), Some(&ErrorCode::InvalidUsageDimension));
    // The service's code and message, once: not the SDK's debug dump of the response.
    let shown = rejected[0].outcome.to_string();
    assert!(shown.len() < 200, "{shown}");
    assert_eq!(shown.matches(failure.message()).count(), 1, "{shown}");
    assert_eq!(rejected[0].inputs, [17]);
    assert!(
        shown.contains("input[17].Dimension") && !shown.contains("UsageRecords[0]"),
        "the place is the caller's record, not its place in a split request: {shown}"
    );
    assert!(
        shown.contains("InvalidUsageDimensionException") && !failure.message().is_empty(),
        "{shown}"
    );
    assert!(
        failure
            .source()
            .is_some_and(|sdk| format!("{sdk:?}").contains("StatusCode(400)")),
        "the SDK error stays reachable as the source"
    );
    assert_eq!(billed_total(&emulator), 48_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelled_dimension_over_200_records_costs_a_few_requests_not_a_bisection_each() {
    // 200 customers; every tenth record carries a dimension the product lacks.
    let records = |typo: &str| -> Vec<UsageRecord> {
        (0..200)
            .map(|i| {
                let dimension = if i % 10 == 7 {
                    typo
                } else {
                    ["api", "gb"][i % 2]
                };
                record(
                    PRODUCT,
                    1000 + i as u64,
                    dimension,
                    hours_ago(1),
                    1 + i as u64,
                )
            })
            .collect()
    };
    let start = || Emulator::builder().known_dimensions(["api", "gb"]).start();
    let clean = start().await.unwrap();
    let report = submitter(&clean).submit(records("gb")).await;
    assert_eq!(report.summary().success, 200);

    let emulator = start().await.unwrap();
    let report = submitter(&emulator).submit(records("api_calls_typo")).await;
    assert!(
        emulator.requests() <= clean.requests() + 20,
        "{} requests, the clean batch {}",
        emulator.requests(),
        clean.requests()
    );
    let mut good = 0;
    for entry in &report.outcomes {
        if entry.record.dimension().as_str() != "api_calls_typo" {
            assert!(
                matches!(entry.outcome, Outcome::Success { .. }),
                "{entry:?}"
            );
            good += u128::from(entry.record.quantity().micros());
            continue;
        }
        let Outcome::Quarantined(QuarantineReason::Rejected(failure)) = &entry.outcome else {
            panic!("{entry:?}")
        };
        assert_eq!(failure.code(), Some(&ErrorCode::InvalidUsageDimension));
        let place = format!("input[{}].Dimension", entry.inputs[0]);
        assert!(
            failure.message().contains(&place)
                && failure
                    .message()
                    .contains(r#""api_calls_typo" is not a usage dimension of this product"#),
            "{failure}"
        );
    }
    assert_eq!(report.summary().quarantined, 20, "{}", report.table());
    assert_eq!(
        billed_total(&emulator),
        good,
        "every good record billed exactly"
    );
}

#[tokio::test]
async fn an_invalid_product_code_stops_and_keeps_every_record() {
    let emulator = Emulator::builder()
        .products([PRODUCT])
        .start()
        .await
        .unwrap();
    let records: Vec<_> = (0..30)
        .map(|i| record("prod-unknown", 100 + i, "api", hours_ago(1), 1))
        .collect();
    let report = submitter(&emulator).submit(records).await;
    assert_eq!(report.summary().pending, 30);
    assert_eq!(
        report.stopped.unwrap().code(),
        Some(&ErrorCode::InvalidProductCode)
    );
    assert!(emulator.ledger().is_empty());
}

#[tokio::test]
async fn decimal_quantities_are_billed_exactly() {
    let emulator = Emulator::builder().start().await.unwrap();
    let fractional = UsageRecord::new(
        customer(PRODUCT, 1),
        DimensionKey::new("gb_hours").unwrap(),
        hours_ago(1),
        "12.345678".parse().unwrap(),
    );
    let report = submitter(&emulator)
        .submit([
            fractional.clone(),
            record(PRODUCT, 2, "api", hours_ago(1), 3),
        ])
        .await;
    assert_eq!(report.summary().success, 2, "{}", report.table());
    let billed = emulator.ledger();
    let entry = billed
        .iter()
        .find(|e| e.dimension.as_str() == "gb_hours")
        .unwrap();
    assert_eq!(entry.quantity, fractional.quantity());
    assert_eq!(entry.quantity.micros(), 12_345_678);
}

#[tokio::test]
async fn a_disabled_api_stops_and_keeps_every_record() {
    let emulator = Emulator::builder()
        .disabled_api(true)
        .start()
        .await
        .unwrap();
    let records: Vec<_> = (0..30)
        .map(|i| record(PRODUCT, 100 + i, "api", hours_ago(1), 1))
        .collect();
    let report = submitter(&emulator).submit(records).await;
    assert_eq!(report.summary().pending, 30);
    assert_eq!(
        report.stopped.unwrap().code(),
        Some(&ErrorCode::DisabledApi)
    );
    assert!(emulator.ledger().is_empty());
}

#[tokio::test]
async fn statuses_come_back_per_record_and_retries_are_idempotent() {
    let emulator = Emulator::builder()
        .unsubscribed(["999"])
        .start()
        .await
        .unwrap();
    let submitter = submitter(&emulator);
    let first = record(PRODUCT, 1, "api", hours_ago(2), 5);
    let report = submitter
        .submit([first.clone(), record(PRODUCT, 999, "api", hours_ago(2), 5)])
        .await;
    let outcome = |r: &UsageRecord| {
        report
            .outcomes
            .iter()
            .find(|o| &o.record == r)
            .unwrap()
            .outcome
            .clone()
    };
    let Outcome::Success { metering_record_id } = outcome(&first) else {
        panic!()
    };
    assert_eq!(
        outcome(&record(PRODUCT, 999, "api", hours_ago(2), 5)),
        Outcome::CustomerNotSubscribed
    );

    // The same record again: the same ID, billed once.
    let again = submitter.submit([first.clone()]).await;
    assert_eq!(
        again.outcomes[0].outcome,
        Outcome::Success { metering_record_id }
    );
    // Another quantity for the same hour: not billed.
    let other = submitter
        .submit([record(PRODUCT, 1, "api", hours_ago(2), 6)])
        .await;
    assert_eq!(other.outcomes[0].outcome, Outcome::DuplicateRecord);
    assert_eq!(billed_total(&emulator), 5_000_000);
}

#[tokio::test]
async fn missing_credentials_stop_and_keep_every_record() {
    let emulator = Emulator::builder().start().await.unwrap();
    let transport = AwsTransport::from_conf(
        aws_sdk::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk::config::Region::new("us-east-1"))
            .endpoint_url(emulator.endpoint_url())
            .build(),
    );
    let report = Submitter::new(transport)
        .submit([record(PRODUCT, 1, "api", hours_ago(1), 1)])
        .await;
    assert_eq!(report.summary().pending, 1);
    let stopped = report.stopped.unwrap();
    assert_eq!(stopped.code(), None);
    assert!(
        stopped.message().contains("no identity resolver"),
        "{stopped}"
    );
    assert_eq!(emulator.requests(), 0);
}

#[tokio::test]
async fn credentials_never_show_in_debug_output_or_errors() {
    const SECRET: &str = "wJalrXUtnFEMI-not-a-real-secret";
    let emulator = Emulator::builder()
        .faults(Faults {
            throttle: 1.0,
            ..Faults::none()
        })
        .start()
        .await
        .unwrap();
    let transport = AwsTransport::from_conf(
        aws_sdk::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk::config::Credentials::new(
                "AKIDEXAMPLE",
                SECRET,
                None,
                None,
                "e2e",
            ))
            .endpoint_url(emulator.endpoint_url())
            .build(),
    );
    let config = SubmitConfig::default()
        .with_max_attempts(2)
        .with_initial_backoff(Duration::from_millis(1));
    let submitter = Submitter::with_config(transport, config);
    let report = submitter
        .submit([record(PRODUCT, 1, "api", hours_ago(1), 1)])
        .await;
    let Outcome::Pending { last_error, .. } = &report.outcomes[0].outcome else {
        panic!("{report:?}")
    };
    assert_eq!(last_error.code(), Some(&ErrorCode::Throttling));
    let shown = last_error.to_string();
    assert!(
        shown.starts_with("ThrottlingException: ") && shown.len() < 200,
        "{shown}"
    );
    for shown in [
        format!("{submitter:?}"),
        format!("{:?}", submitter.transport()),
        format!("{report:?}"),
        report.table().to_string(),
    ] {
        assert!(!shown.contains(SECRET), "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_submitters_in_one_process_share_the_accounts_quota() {
    let emulator = Emulator::builder()
        .quota(Some(Quota::SERVICE))
        .start()
        .await
        .unwrap();
    // Two products, two submitters with the default configuration, two tasks: 30 requests
    // in all. Each alone would stay under 10 a second; together they would not, unless
    // they share one budget.
    let submit = |product: &'static str| {
        let submitter = Submitter::new(transport(&emulator));
        let records: Vec<_> = (0..375)
            .map(|i| record(product, 1000 + i, "api", hours_ago(1), 1))
            .collect();
        tokio::spawn(async move { submitter.submit(records).await })
    };
    let (a, b) = (submit(PRODUCT), submit("prod-e2e-other"));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!(a.summary().success + b.summary().success, 750);
    assert_eq!(emulator.requests(), 30);
    assert_eq!(
        emulator.throttled(),
        0,
        "no request over the account's quota"
    );
}
