//! Records per second submitted to the emulator on loopback, rate limit lifted: our
//! `Submitter` over `AwsTransport` beside a plain loop over the raw AWS SDK sending the same
//! requests at the same concurrency, in the same run.
//!
//! `cargo bench --bench submit`

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use metering::submit::{SubmitConfig, Submitter};
use metering::{AwsTransport, SystemClock, aws_sdk};
use metering_emulator::Emulator;
use tokio::runtime::Runtime;

const RECORDS: usize = 2_500;
const CONCURRENCY: usize = 8;

fn bench(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let emulator = runtime.block_on(Emulator::builder().start()).unwrap();
    let records = common::records(RECORDS);
    let sdk_config = || {
        common::sdk_config(emulator.endpoint_url())
            .retry_config(aws_sdk::config::retry::RetryConfig::disabled())
    };
    let raw_client = aws_sdk::Client::from_conf(sdk_config().build());
    let requests = common::sdk_requests(&records);

    let config = SubmitConfig {
        requests_per_second: None,
        concurrency: CONCURRENCY,
        ..SubmitConfig::default()
    };
    let _guard = runtime.enter();
    let submitter = Submitter::with_config(
        AwsTransport::from_config(sdk_config()),
        config,
        Arc::new(SystemClock),
    );

    let mut group = c.benchmark_group(format!("submit_{RECORDS}_records"));
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("raw_sdk_loop", |b| {
        b.iter(|| {
            let sent = runtime.block_on(common::raw_sdk_loop(&raw_client, &requests, CONCURRENCY));
            assert_eq!(sent.billed, RECORDS);
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
