//! The emulator through the real `aws-sdk-marketplacemetering` client: every status and
//! every exception the SDK models, plus `ValidationException`, as the SDK parses them.

use std::time::{Duration, Instant};

mod common;

use aws_sdk_marketplacemetering as sdk;
use common::client;
use metering_core::{ManualClock, Timestamp};
use metering_emulator::{Emulator, Faults, Quota, RunningEmulator};
use sdk::error::{ProvideErrorMetadata, SdkError};
use sdk::operation::batch_meter_usage::{BatchMeterUsageError, BatchMeterUsageOutput};
use sdk::primitives::DateTime;
use sdk::types::{Tag, UsageAllocation, UsageRecord, UsageRecordResultStatus as Status};

const NOW: &str = "2026-11-26T12:00:00Z";
const PRODUCT: &str = "prod-example123";
const ACCOUNT: &str = "123456789012";
const LICENSE: &str = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef";

type Outcome = Result<BatchMeterUsageOutput, SdkError<BatchMeterUsageError>>;

fn now() -> Timestamp {
    Timestamp::parse_rfc3339(NOW).unwrap()
}

/// A record `hours_ago` hours before [`NOW`] (minus a minute, so it is inside the window).
fn at(hours_ago: i64) -> DateTime {
    DateTime::from_secs(now().unix_seconds() - hours_ago * 3600 - 60)
}

fn record(account: &str, dimension: &str, hours_ago: i64, quantity: i32) -> UsageRecord {
    UsageRecord::builder()
        .timestamp(at(hours_ago))
        .customer_aws_account_id(account)
        .dimension(dimension)
        .quantity(quantity)
        .build()
        .unwrap()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

fn allocation(quantity: i32, tags: Vec<Tag>) -> UsageAllocation {
    UsageAllocation::builder()
        .allocated_usage_quantity(quantity)
        .set_tags(Some(tags))
        .build()
        .unwrap()
}

async fn emulator() -> RunningEmulator {
    Emulator::builder()
        .clock(ManualClock::new(now()))
        .start()
        .await
        .unwrap()
}

async fn send(
    emulator: &RunningEmulator,
    product: Option<&str>,
    records: Vec<UsageRecord>,
) -> Outcome {
    client(emulator)
        .batch_meter_usage()
        .set_product_code(product.map(str::to_owned))
        .set_usage_records(Some(records))
        .send()
        .await
}

fn statuses(output: &BatchMeterUsageOutput) -> Vec<Status> {
    output
        .results()
        .iter()
        .map(|result| result.status().unwrap().clone())
        .collect()
}

/// The error's modelled kind, status, `x-amzn-ErrorType` header and message; asserts the
/// body's `__type` matches.
fn rejected(outcome: Outcome) -> (BatchMeterUsageError, u16, String, String) {
    let error = outcome.expect_err("the request should be rejected");
    let raw = error.raw_response().expect("an HTTP answer");
    let status = raw.status().as_u16();
    let header = raw
        .headers()
        .get("x-amzn-ErrorType")
        .unwrap_or_default()
        .to_owned();
    let body: serde_json::Value = serde_json::from_slice(raw.body().bytes().unwrap()).unwrap();
    assert_eq!(body["__type"], header.as_str(), "{body}");
    let error = error.into_service_error();
    let message = error.message().unwrap_or_default().to_owned();
    assert_eq!(body["message"], message.as_str());
    assert_eq!(error.code(), Some(header.as_str()));
    (error, status, header, message)
}

#[tokio::test]
async fn success_is_billed_and_idempotent_and_other_quantities_are_duplicates() {
    let emulator = emulator().await;
    let first = send(
        &emulator,
        Some(PRODUCT),
        vec![
            record(ACCOUNT, "api", 1, 10),
            record(ACCOUNT, "storage", 1, 5),
        ],
    )
    .await
    .unwrap();
    assert_eq!(statuses(&first), [Status::Success, Status::Success]);
    let ids: Vec<_> = first
        .results()
        .iter()
        .map(|r| r.metering_record_id().unwrap().to_owned())
        .collect();
    assert_ne!(ids[0], ids[1]);
    assert_eq!(
        first.results()[0].usage_record().unwrap().quantity(),
        Some(10)
    );
    assert!(first.unprocessed_records().is_empty());

    // The same records again, and a subset: Success with the same IDs.
    let again = send(
        &emulator,
        Some(PRODUCT),
        vec![record(ACCOUNT, "storage", 1, 5)],
    )
    .await
    .unwrap();
    assert_eq!(statuses(&again), [Status::Success]);
    assert_eq!(
        again.results()[0].metering_record_id(),
        Some(ids[1].as_str())
    );
    assert_eq!(
        emulator.duplicates(),
        0,
        "an identical resend is no duplicate"
    );

    // Same customer, dimension and hour, another quantity: DuplicateRecord, not billed.
    let other = send(
        &emulator,
        Some(PRODUCT),
        vec![record(ACCOUNT, "api", 1, 11)],
    )
    .await
    .unwrap();
    assert_eq!(statuses(&other), [Status::DuplicateRecord]);
    assert_eq!(other.results()[0].metering_record_id(), None);
    assert_eq!(emulator.duplicates(), 1);

    let ledger = emulator.ledger();
    assert_eq!(ledger.len(), 2);
    let api = ledger
        .iter()
        .find(|e| e.dimension.as_str() == "api")
        .unwrap();
    assert_eq!(api.quantity.as_integer(), Some(10));
    assert_eq!(api.metering_record_id, ids[0]);

    // Another hour is another key.
    let next = send(&emulator, Some(PRODUCT), vec![record(ACCOUNT, "api", 2, 7)])
        .await
        .unwrap();
    assert_eq!(statuses(&next), [Status::Success]);
    let summary = emulator.summary();
    let api = summary
        .iter()
        .find(|r| r.dimension.as_str() == "api")
        .unwrap();
    assert_eq!((api.records, api.total.to_string()), (2, "17".to_owned()));
    assert_eq!(emulator.requests(), 4);
}

/// 32 requests at once, each with a key of its own and a record for one key they all share
/// (each with its own quantity): every own key is billed, and the shared key exactly once,
/// with the quantity of the one request answered `Success`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_lose_no_entry_and_bill_a_shared_key_once() {
    let emulator = emulator().await;
    let client = client(&emulator);
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..32 {
        let client = client.clone();
        requests.spawn(async move {
            let output = client
                .batch_meter_usage()
                .product_code(PRODUCT)
                .usage_records(record(ACCOUNT, &format!("own{i}"), 0, 1))
                .usage_records(record(ACCOUNT, "shared", 0, i))
                .send()
                .await
                .unwrap();
            (i, statuses(&output))
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = requests.join_next().await {
        let (i, statuses) = joined.unwrap();
        assert_eq!(statuses[0], Status::Success);
        match &statuses[1] {
            Status::Success => winners.push(i),
            other => assert_eq!(*other, Status::DuplicateRecord),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let ledger = emulator.ledger();
    assert_eq!(ledger.len(), 33);
    let shared = ledger
        .iter()
        .find(|entry| entry.dimension.as_str() == "shared")
        .unwrap();
    assert_eq!(shared.quantity.as_integer(), Some(winners[0]));
}

#[tokio::test]
async fn empty_request_succeeds_with_no_results() {
    let emulator = emulator().await;
    let output = send(&emulator, Some(PRODUCT), vec![]).await.unwrap();
    assert!(output.results().is_empty());
    assert!(emulator.ledger().is_empty());
}

#[tokio::test]
async fn three_customer_modes_are_three_keys() {
    let emulator = Emulator::builder()
        .clock(ManualClock::new(now()))
        .licenses([(LICENSE, ACCOUNT)])
        .start()
        .await
        .unwrap();
    let legacy = UsageRecord::builder()
        .timestamp(at(0))
        .customer_identifier("cust-legacy-1")
        .dimension("api")
        .quantity(1)
        .build()
        .unwrap();
    let licensed = UsageRecord::builder()
        .timestamp(at(0))
        .customer_aws_account_id(ACCOUNT)
        .license_arn(LICENSE)
        .dimension("api")
        .quantity(3)
        .build()
        .unwrap();
    let product = send(
        &emulator,
        Some(PRODUCT),
        vec![legacy, record(ACCOUNT, "api", 0, 2)],
    );
    assert_eq!(
        statuses(&product.await.unwrap()),
        [Status::Success, Status::Success]
    );
    // Licence-based records travel without a ProductCode; for the same account and hour they
    // are billed again (the service's documented double billing).
    let licensed = send(&emulator, None, vec![licensed]).await.unwrap();
    assert_eq!(statuses(&licensed), [Status::Success]);
    let modes: Vec<_> = emulator
        .ledger()
        .iter()
        .map(|e| {
            (
                format!("{:?}", e.customer)
                    .split(' ')
                    .next()
                    .unwrap()
                    .to_owned(),
                e.quantity.to_string(),
            )
        })
        .collect();
    assert_eq!(modes.len(), 3, "{modes:?}");
    for (mode, quantity) in [("Legacy", "1"), ("Account", "2"), ("Licensed", "3")] {
        assert!(
            modes.contains(&(mode.to_owned(), quantity.to_owned())),
            "{modes:?}"
        );
    }
}

#[tokio::test]
async fn unsubscribed_customers_are_not_billed_until_they_subscribe() {
    let emulator = Emulator::builder()
        .clock(ManualClock::new(now()))
        .subscribed([ACCOUNT])
        .start()
        .await
        .unwrap();
    let records = || {
        vec![
            record(ACCOUNT, "api", 0, 1),
            record("210987654321", "api", 0, 1),
        ]
    };
    let output = send(&emulator, Some(PRODUCT), records()).await.unwrap();
    assert_eq!(
        statuses(&output),
        [Status::Success, Status::CustomerNotSubscribed]
    );
    assert_eq!(output.results()[1].metering_record_id(), None);
    assert_eq!(emulator.ledger().len(), 1);

    emulator.subscribe("210987654321");
    let output = send(&emulator, Some(PRODUCT), records()).await.unwrap();
    assert_eq!(statuses(&output), [Status::Success, Status::Success]);
    emulator.unsubscribe(ACCOUNT);
    let output = send(&emulator, Some(PRODUCT), records()).await.unwrap();
    assert_eq!(
        statuses(&output),
        [Status::CustomerNotSubscribed, Status::Success]
    );
    assert_eq!(emulator.ledger().len(), 2);
}

#[tokio::test]
async fn catalogue_exceptions() {
    let emulator = Emulator::builder()
        .clock(ManualClock::new(now()))
        .products([PRODUCT])
        .known_dimensions(["api"])
        .licenses([(LICENSE, ACCOUNT)])
        .start()
        .await
        .unwrap();
    let ok = || record(ACCOUNT, "api", 0, 1);

    let (error, status, _, message) =
        rejected(send(&emulator, Some("prod-unknown"), vec![ok()]).await);
    assert!(error.is_invalid_product_code_exception(), "{error:?}");
    assert_eq!(status, 400);
    assert!(message.contains("prod-unknown"), "{message}");
    let (error, ..) = rejected(send(&emulator, Some("bad code!"), vec![ok()]).await);
    assert!(error.is_invalid_product_code_exception(), "{error:?}");
    let (error, ..) = rejected(send(&emulator, None, vec![ok()]).await);
    assert!(error.is_invalid_product_code_exception(), "{error:?}");

    let (error, _, header, message) = rejected(
        send(
            &emulator,
            Some(PRODUCT),
            vec![ok(), record(ACCOUNT, "cpu", 0, 1)],
        )
        .await,
    );
    assert!(error.is_invalid_usage_dimension_exception(), "{error:?}");
    assert_eq!(header, "InvalidUsageDimensionException");
    assert!(
        message.starts_with("UsageRecords[1].Dimension"),
        "{message}"
    );

    let licensed = |account: &str, license: &str| {
        UsageRecord::builder()
            .timestamp(at(0))
            .customer_aws_account_id(account)
            .license_arn(license)
            .dimension("api")
            .quantity(1)
            .build()
            .unwrap()
    };
    for (account, license) in [
        (ACCOUNT, "arn:aws:license-manager::123456789012:license/x#"),
        (
            ACCOUNT,
            "arn:aws:license-manager::123456789012:license:l-other",
        ),
        ("210987654321", LICENSE),
    ] {
        let (error, ..) = rejected(send(&emulator, None, vec![licensed(account, license)]).await);
        assert!(
            error.is_invalid_license_exception(),
            "{account} {license}: {error:?}"
        );
    }
    // A licence-based record in a request that names a product.
    let (error, ..) =
        rejected(send(&emulator, Some(PRODUCT), vec![licensed(ACCOUNT, LICENSE)]).await);
    assert!(error.is_invalid_product_code_exception(), "{error:?}");
    assert!(emulator.ledger().is_empty());
}

#[tokio::test]
async fn customer_identifier_exceptions() {
    let emulator = emulator().await;
    let no_customer = UsageRecord::builder()
        .timestamp(at(0))
        .dimension("api")
        .quantity(1)
        .build()
        .unwrap();
    let both = UsageRecord::builder()
        .timestamp(at(0))
        .customer_identifier("cust-1")
        .customer_aws_account_id(ACCOUNT)
        .dimension("api")
        .quantity(1)
        .build()
        .unwrap();
    for bad in [record("12-34", "api", 0, 1), no_customer, both] {
        let (error, status, _, message) = rejected(send(&emulator, Some(PRODUCT), vec![bad]).await);
        assert!(
            error.is_invalid_customer_identifier_exception(),
            "{error:?}"
        );
        assert_eq!(status, 400);
        assert!(message.starts_with("UsageRecords[0]."), "{message}");
    }
}

#[tokio::test]
async fn tag_and_allocation_exceptions() {
    let emulator = emulator().await;
    let with = |allocations: Vec<UsageAllocation>, quantity: i32| {
        UsageRecord::builder()
            .timestamp(at(0))
            .customer_aws_account_id(ACCOUNT)
            .dimension("api")
            .quantity(quantity)
            .set_usage_allocations(Some(allocations))
            .build()
            .unwrap()
    };
    let six_tags = (0..6).map(|i| tag(&format!("k{i}"), "v")).collect();
    for bad in [
        with(vec![allocation(1, six_tags)], 1),
        with(vec![allocation(1, vec![tag("cost-center?", "a")])], 1),
        with(
            vec![allocation(1, vec![tag("env", "x".repeat(257).as_str())])],
            1,
        ),
        with(
            vec![allocation(1, vec![tag("env", "a"), tag("env", "b")])],
            1,
        ),
        with(vec![allocation(1, vec![])], 1),
    ] {
        let (error, _, header, _) = rejected(send(&emulator, Some(PRODUCT), vec![bad]).await);
        assert!(error.is_invalid_tag_exception(), "{error:?}");
        assert_eq!(header, "InvalidTagException");
    }
    // The quirk of the model's pattern: `!"#$%&'()*,;<` are tag characters (and `"` travels
    // escaped in JSON).
    let quirky = with(vec![allocation(2, vec![tag("a!\"#$%&'()*,;<", "b/")])], 2);
    let output = send(&emulator, Some(PRODUCT), vec![quirky]).await.unwrap();
    assert_eq!(statuses(&output), [Status::Success]);

    let (error, _, _, message) = rejected(
        send(
            &emulator,
            Some(PRODUCT),
            vec![with(
                vec![
                    allocation(2, vec![tag("a", "b")]),
                    allocation(2, vec![tag("a", "c")]),
                ],
                5,
            )],
        )
        .await,
    );
    assert!(error.is_invalid_usage_allocations_exception(), "{error:?}");
    assert!(
        message.contains("sum to the record's Quantity 5"),
        "{message}"
    );
    let (error, ..) = rejected(send(&emulator, Some(PRODUCT), vec![with(vec![], 0)]).await);
    assert!(error.is_invalid_usage_allocations_exception(), "{error:?}");
    let too_many = (0..2501)
        .map(|_| allocation(0, vec![tag("a", "b")]))
        .collect();
    let (error, ..) = rejected(send(&emulator, Some(PRODUCT), vec![with(too_many, 0)]).await);
    assert!(error.is_invalid_usage_allocations_exception(), "{error:?}");

    let billed = emulator.ledger();
    assert_eq!(billed.len(), 1);
    let allocation = &billed[0].allocations.as_ref().unwrap()[0];
    assert_eq!(allocation.quantity.as_integer(), Some(2));
    let tag = &allocation.tags.as_ref().unwrap().as_slice()[0];
    assert_eq!(
        (tag.key.as_str(), tag.value.as_str()),
        ("a!\"#$%&'()*,;<", "b/")
    );
}

#[tokio::test]
async fn timestamps_out_of_bounds_reject_the_whole_request() {
    let clock = ManualClock::new(now());
    let emulator = Emulator::builder()
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let old = UsageRecord::builder()
        .timestamp(DateTime::from_secs(now().unix_seconds() - 24 * 3600))
        .customer_aws_account_id(ACCOUNT)
        .dimension("api")
        .quantity(1)
        .build()
        .unwrap();
    let (error, status, _, message) = rejected(
        send(
            &emulator,
            Some(PRODUCT),
            vec![record(ACCOUNT, "api", 0, 1), old],
        )
        .await,
    );
    assert!(error.is_timestamp_out_of_bounds_exception(), "{error:?}");
    assert_eq!(status, 400);
    assert!(
        message.starts_with("UsageRecords[1].Timestamp"),
        "{message}"
    );
    assert!(
        emulator.ledger().is_empty(),
        "no record of a rejected batch is billed"
    );
    let future = UsageRecord::builder()
        .timestamp(DateTime::from_secs(now().unix_seconds() + 3600))
        .customer_aws_account_id(ACCOUNT)
        .dimension("api")
        .quantity(1)
        .build()
        .unwrap();
    let (error, ..) = rejected(send(&emulator, Some(PRODUCT), vec![future]).await);
    assert!(error.is_timestamp_out_of_bounds_exception(), "{error:?}");

    // Month end: November's last hour is accepted until 06:00 UTC on 1 December.
    let last_hour = || {
        UsageRecord::builder()
            .timestamp(DateTime::from_secs(
                Timestamp::parse_rfc3339("2026-11-30T23:00:00Z")
                    .unwrap()
                    .unix_seconds(),
            ))
            .customer_aws_account_id(ACCOUNT)
            .dimension("api")
            .quantity(1)
            .build()
            .unwrap()
    };
    clock.set(Timestamp::parse_rfc3339("2026-12-01T06:00:00Z").unwrap());
    let (error, _, _, message) = rejected(send(&emulator, Some(PRODUCT), vec![last_hour()]).await);
    assert!(error.is_timestamp_out_of_bounds_exception(), "{error:?}");
    assert!(message.contains("previous month"), "{message}");
    clock.set(Timestamp::parse_rfc3339("2026-12-01T05:59:59Z").unwrap());
    let output = send(&emulator, Some(PRODUCT), vec![last_hour()])
        .await
        .unwrap();
    assert_eq!(statuses(&output), [Status::Success]);
}

#[tokio::test]
async fn constraints_without_an_exception_of_their_own_are_validation_exceptions() {
    let emulator = emulator().await;
    let records = (0..26)
        .map(|i| record(ACCOUNT, &format!("d{i}"), 0, 1))
        .collect();
    let (error, status, header, message) = rejected(send(&emulator, Some(PRODUCT), records).await);
    assert!(format!("{error:?}").starts_with("Unhandled"), "{error:?}");
    assert_eq!((status, header.as_str()), (400, "ValidationException"));
    assert_eq!(
        message,
        "1 validation error detected: Value '[26 usage records]' at 'usageRecords' failed to satisfy constraint: Member must have length less than or equal to 25"
    );

    let long = "d".repeat(256);
    let (_, _, header, message) = rejected(
        send(
            &emulator,
            Some(PRODUCT),
            vec![record(ACCOUNT, &long, 0, 1), record(ACCOUNT, "", 0, -1)],
        )
        .await,
    );
    assert_eq!(header, "ValidationException");
    assert!(
        message.starts_with("3 validation errors detected: "),
        "{message}"
    );
    assert!(message.contains("at 'usageRecords.1.member.dimension' failed to satisfy constraint: Member must have length less than or equal to 255"), "{message}");
    assert!(message.contains("at 'usageRecords.2.member.dimension' failed to satisfy constraint: Member must have length greater than or equal to 1"), "{message}");
    assert!(message.contains("Value -1 at 'usageRecords.2.member.quantity' failed to satisfy constraint: Member must have value greater than or equal to 0"), "{message}");

    // 25 records can pass 1 MB: a body of 1 MB or more is refused whole.
    let tags = |i: usize| {
        (0..5)
            .map(|k| {
                tag(
                    &format!("k{k}-{}", "x".repeat(90)),
                    &format!("{i}{}", "v".repeat(250)),
                )
            })
            .collect()
    };
    let big = UsageRecord::builder()
        .timestamp(at(0))
        .customer_aws_account_id(ACCOUNT)
        .dimension("api")
        .quantity(0)
        .set_usage_allocations(Some((0..800).map(|i| allocation(0, tags(i))).collect()))
        .build()
        .unwrap();
    let (_, status, header, message) = rejected(send(&emulator, Some(PRODUCT), vec![big]).await);
    assert_eq!((status, header.as_str()), (400, "ValidationException"));
    assert!(message.contains("less than 1 MB"), "{message}");
    assert!(emulator.ledger().is_empty());
}

#[tokio::test]
async fn disabled_api() {
    let emulator = Emulator::builder()
        .disabled_api(true)
        .start()
        .await
        .unwrap();
    let (error, status, ..) = rejected(send(&emulator, Some(PRODUCT), vec![]).await);
    assert!(error.is_disabled_api_exception(), "{error:?}");
    assert_eq!(status, 400);
}

async fn faulty(faults: Faults) -> RunningEmulator {
    Emulator::builder()
        .clock(ManualClock::new(now()))
        .faults(faults)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn injected_throttling_and_internal_errors() {
    let emulator = faulty(Faults {
        throttle: 1.0,
        ..Faults::none()
    })
    .await;
    let (error, status, ..) =
        rejected(send(&emulator, Some(PRODUCT), vec![record(ACCOUNT, "api", 0, 1)]).await);
    assert!(error.is_throttling_exception(), "{error:?}");
    assert_eq!(status, 400);

    emulator
        .set_faults(Faults {
            internal_error: 1.0,
            ..Faults::none()
        })
        .unwrap();
    let (error, status, ..) =
        rejected(send(&emulator, Some(PRODUCT), vec![record(ACCOUNT, "api", 0, 1)]).await);
    assert!(error.is_internal_service_error_exception(), "{error:?}");
    assert_eq!(status, 500);
    assert!(emulator.ledger().is_empty());

    emulator.set_faults(Faults::none()).unwrap();
    let output = send(&emulator, Some(PRODUCT), vec![record(ACCOUNT, "api", 0, 1)])
        .await
        .unwrap();
    assert_eq!(statuses(&output), [Status::Success]);
}

#[tokio::test]
async fn requests_beyond_the_quota_are_throttled() {
    // A slow quota, so the burst is spent long before a token comes back.
    let emulator = Emulator::builder()
        .clock(ManualClock::new(now()))
        .quota(Some(Quota {
            per_second: 0.5,
            burst: 3.0,
        }))
        .start()
        .await
        .unwrap();
    let mut throttled = 0;
    for account in 0..6 {
        let outcome = send(
            &emulator,
            Some(PRODUCT),
            vec![record(&account.to_string(), "api", 0, 1)],
        )
        .await;
        if outcome.is_err() {
            let (error, status, ..) = rejected(outcome);
            assert!(error.is_throttling_exception(), "{error:?}");
            assert_eq!(status, 400);
            throttled += 1;
        }
    }
    assert_eq!(throttled, 3, "the first three spend the burst");
    assert_eq!(emulator.throttled(), 3);
    assert_eq!(emulator.ledger().len(), 3);
}

#[tokio::test]
async fn injected_dropped_connections_answer_nothing_and_bill_nothing() {
    let emulator = faulty(Faults {
        drop_connection: 1.0,
        ..Faults::none()
    })
    .await;
    let error = send(&emulator, Some(PRODUCT), vec![record(ACCOUNT, "api", 0, 1)])
        .await
        .unwrap_err();
    assert!(error.raw_response().is_none(), "{error:?}");
    assert!(
        matches!(
            error,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_)
        ),
        "{error:?}"
    );
    assert!(emulator.ledger().is_empty());
    assert_eq!(emulator.requests(), 1);
}

#[tokio::test]
async fn injected_slow_requests_are_delayed() {
    let delay = Duration::from_millis(300);
    let emulator = faulty(Faults {
        slow: 1.0,
        slow_delay: delay,
        ..Faults::none()
    })
    .await;
    let started = Instant::now();
    let output = send(&emulator, Some(PRODUCT), vec![record(ACCOUNT, "api", 0, 1)])
        .await
        .unwrap();
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert_eq!(statuses(&output), [Status::Success]);
}

#[tokio::test]
async fn injected_unprocessed_records_are_not_billed_and_can_be_resent() {
    let emulator = faulty(Faults {
        seed: 3,
        unprocessed: 1.0,
        ..Faults::none()
    })
    .await;
    let records: Vec<_> = (0..25)
        .map(|i| record(ACCOUNT, &format!("d{i}"), 0, i))
        .collect();
    let output = send(&emulator, Some(PRODUCT), records.clone())
        .await
        .unwrap();
    let unprocessed = output.unprocessed_records();
    assert!(!unprocessed.is_empty());
    assert_eq!(output.results().len() + unprocessed.len(), 25);
    assert_eq!(emulator.ledger().len(), output.results().len());

    emulator.set_faults(Faults::none()).unwrap();
    let resent = send(&emulator, Some(PRODUCT), unprocessed.to_vec())
        .await
        .unwrap();
    assert_eq!(statuses(&resent), vec![Status::Success; unprocessed.len()]);
    assert_eq!(emulator.ledger().len(), 25);
}

/// What one request came to, for comparing runs.
fn outcome_kind(outcome: &Outcome) -> String {
    match outcome {
        Ok(output) => format!("ok {} unprocessed", output.unprocessed_records().len()),
        Err(SdkError::ServiceError(e)) => e.err().code().unwrap_or_default().to_owned(),
        Err(_) => "dropped".to_owned(),
    }
}

#[tokio::test]
async fn faults_replay_with_the_same_seed() {
    let faults = Faults {
        seed: 11,
        throttle: 0.2,
        internal_error: 0.2,
        drop_connection: 0.2,
        unprocessed: 0.2,
        slow: 0.0,
        slow_delay: Duration::ZERO,
    };
    let mut runs = Vec::new();
    for seed in [11, 11, 12] {
        let emulator = faulty(Faults { seed, ..faults }).await;
        let mut kinds = Vec::new();
        for i in 0..20 {
            let records = (0..5)
                .map(|d| record(ACCOUNT, &format!("d{d}"), 0, i))
                .collect();
            kinds.push(outcome_kind(&send(&emulator, Some(PRODUCT), records).await));
        }
        runs.push(kinds);
    }
    assert_eq!(runs[0], runs[1]);
    assert_ne!(runs[0], runs[2]);
    for kind in [
        "ThrottlingException",
        "InternalServiceErrorException",
        "dropped",
        "ok 0 unprocessed",
    ] {
        assert!(
            runs[0].iter().any(|k| k == kind),
            "{kind} missing in {:?}",
            runs[0]
        );
    }
}

#[tokio::test]
async fn non_loopback_addresses_and_bad_shares_are_refused_at_start() {
    let refused = Emulator::builder()
        .bind("0.0.0.0:0".parse().unwrap())
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(refused, metering_emulator::EmulatorError::NonLoopback(_)),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("--allow-non-loopback"),
        "{refused}"
    );
    let bad = Emulator::builder()
        .faults(Faults {
            drop_connection: 0.6,
            unprocessed: 0.6,
            ..Faults::none()
        })
        .start()
        .await
        .unwrap_err();
    assert!(bad.to_string().starts_with("faults: "), "{bad}");
}
