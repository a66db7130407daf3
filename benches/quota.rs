//! Submission under the service's quota (10 requests a second), against the emulator
//! enforcing it: 10,000 records are 400 requests, so 40 s is the least time possible.
//! Ours: the default `Submitter` (even 10 requests a second). Baseline, in the same run: a
//! plain loop over the raw SDK (its default retries: 3 attempts) at the same concurrency.
//!
//! `cargo bench --bench quota --features aws` (it runs once, about a minute and a half).

mod common;

use std::time::{Duration, Instant};

use marketplace_metering::{Submitter, aws_sdk};
use metering_emulator::{Emulator, Quota};

const RECORDS: usize = 10_000;
const CONCURRENCY: usize = 4;

#[tokio::main]
async fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return; // `cargo test --benches` builds this; only `cargo bench` runs it.
    }
    let records = common::records(RECORDS);
    let requests =
        u32::try_from(RECORDS.div_ceil(marketplace_metering::limits::MAX_RECORDS_PER_REQUEST))
            .unwrap();
    let quota_bound = Duration::from_secs_f64(f64::from(requests) / Quota::SERVICE.per_second);
    let start = || Emulator::builder().quota(Some(Quota::SERVICE)).start();

    let emulator = start().await.unwrap();
    let submitter = Submitter::new(emulator.transport());
    let started = Instant::now();
    let report = submitter.submit(records.clone()).await;
    let ours = started.elapsed();
    let summary = report.summary();
    println!(
        "ours:     {RECORDS} records in {ours:.2?} ({:.3}x the quota-bound {quota_bound:?}); {summary}; {} throttled answers",
        ours.as_secs_f64() / quota_bound.as_secs_f64(),
        emulator.throttled()
    );
    assert_eq!(summary.success, RECORDS);

    let emulator = start().await.unwrap();
    let client = aws_sdk::Client::from_conf(emulator.sdk_config());
    let started = Instant::now();
    let sent = common::raw_sdk_loop(&client, &common::sdk_requests(&records), CONCURRENCY).await;
    let baseline = started.elapsed();
    println!(
        "baseline: {RECORDS} records in {baseline:.2?}; {} billed, {} lost in {} requests that failed after the SDK's retries; {} throttled answers",
        sent.billed,
        RECORDS - sent.billed,
        sent.failed_requests,
        emulator.throttled()
    );
}
