//! Records per second submitted to the emulator on loopback, rate limit lifted: our
//! `Submitter` over `AwsTransport` beside a plain loop over the raw AWS SDK sending the same
//! requests at the same concurrency, in the same run.
//!
//! `cargo bench --bench submit`

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use metering::submit::{SubmitConfig, Submitter};
use metering::{
    AwsTransport, Customer, CustomerAwsAccountId, DimensionKey, Planner, ProductCode, Quantity,
    RequestScope, SystemClock, Timestamp, UsageRecord, aws_sdk,
};
use metering_emulator::Emulator;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

const RECORDS: usize = 2_500;
const CONCURRENCY: usize = 8;

fn records() -> Vec<UsageRecord> {
    let hour = Timestamp::now()
        .hour_start()
        .saturating_sub(Duration::from_hours(1));
    (0..RECORDS)
        .map(|i| {
            UsageRecord::new(
                Customer::Account {
                    product: ProductCode::new("prod-bench").unwrap(),
                    account: CustomerAwsAccountId::new(format!("{}", 100_000_000_000 + i / 5))
                        .unwrap(),
                },
                DimensionKey::new(format!("dimension_{}", i % 5)).unwrap(),
                hour,
                Quantity::new(1_000 + i as u64).unwrap(),
            )
        })
        .collect()
}

fn sdk_config(endpoint: String) -> aws_sdk::config::Builder {
    aws_sdk::Config::builder()
        .behavior_version_latest()
        .region(aws_sdk::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk::config::Credentials::new(
            "AKID", "SECRET", None, None, "bench",
        ))
        .endpoint_url(endpoint)
        .retry_config(aws_sdk::config::retry::RetryConfig::disabled())
}

/// The baseline: what a seller writes by hand, the same requests sent with the raw SDK by
/// `CONCURRENCY` tasks, and only the `Success` statuses counted.
async fn raw_sdk_loop(
    client: &aws_sdk::Client,
    requests: &Arc<Vec<Vec<aws_sdk::types::UsageRecord>>>,
) -> usize {
    let next = Arc::new(Mutex::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (client, requests, next) = (client.clone(), Arc::clone(requests), Arc::clone(&next));
        tasks.spawn(async move {
            let mut billed = 0;
            loop {
                let index = {
                    let mut next = next.lock().unwrap();
                    *next += 1;
                    *next - 1
                };
                let Some(records) = requests.get(index) else {
                    return billed;
                };
                let output = client
                    .batch_meter_usage()
                    .product_code("prod-bench")
                    .set_usage_records(Some(records.clone()))
                    .send()
                    .await
                    .unwrap();
                billed += output
                    .results()
                    .iter()
                    .filter(|r| {
                        r.status() == Some(&aws_sdk::types::UsageRecordResultStatus::Success)
                    })
                    .count();
            }
        });
    }
    tasks.join_all().await.into_iter().sum()
}

fn bench(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let emulator = runtime.block_on(Emulator::builder().start()).unwrap();
    let records = records();

    let raw_client = aws_sdk::Client::from_conf(sdk_config(emulator.endpoint_url()).build());
    let planned = Planner::default().plan(records.clone(), Timestamp::now());
    assert!(planned.quarantined.is_empty());
    let requests: Arc<Vec<Vec<_>>> = Arc::new(
        planned
            .requests
            .iter()
            .inspect(|r| assert!(matches!(r.scope(), RequestScope::Product(_))))
            .map(|r| {
                r.records()
                    .iter()
                    .map(|record| record.try_into().unwrap())
                    .collect()
            })
            .collect(),
    );

    let config = SubmitConfig {
        requests_per_second: None,
        concurrency: CONCURRENCY,
        ..SubmitConfig::default()
    };
    let _guard = runtime.enter();
    let submitter = Submitter::with_config(
        AwsTransport::from_config(sdk_config(emulator.endpoint_url())),
        config,
        Arc::new(SystemClock),
    );

    let mut group = c.benchmark_group(format!("submit_{RECORDS}_records"));
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("raw_sdk_loop", |b| {
        b.iter(|| {
            assert_eq!(
                runtime.block_on(raw_sdk_loop(&raw_client, &requests)),
                RECORDS
            );
        });
    });
    group.bench_function("metering_submitter", |b| {
        b.iter(|| {
            let report = runtime.block_on(submitter.submit(records.clone()));
            assert_eq!(report.summary().success, RECORDS);
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
