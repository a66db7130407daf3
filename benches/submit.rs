//! Records per second submitted to the emulator on loopback, rate limit lifted: our
//! `Submitter` over `AwsTransport` beside a plain loop over the raw AWS SDK sending the same
//! requests at the same concurrency, in the same run.
//!
//! `cargo bench --bench submit --features aws`
//!
//! The two are measured in alternating rounds, and the ratio is taken round by round: on
//! this shared virtual machine the speed of everything drifts by up to 1.7x within a
//! minute, which makes two benchmarks run one after the other (criterion's way)
//! incomparable, while two runs a few milliseconds apart see the same machine.

mod common;

use std::time::{Duration, Instant};

use marketplace_metering::{SubmitConfig, Submitter, aws_sdk};
use metering_emulator::Emulator;
use tokio::runtime::Runtime;

const RECORDS: u32 = 2_500;
const CONCURRENCY: usize = 8;
const WARM_UP: usize = 20;
const ROUNDS: usize = 200;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return; // `cargo test --benches` builds this; only `cargo bench` runs it.
    }
    let runtime = Runtime::new().unwrap();
    let _guard = runtime.enter();
    let emulator = runtime.block_on(Emulator::builder().start()).unwrap();
    let records = common::records(RECORDS as usize);
    let raw_client = aws_sdk::Client::from_conf(
        emulator
            .sdk_config()
            .to_builder()
            .retry_config(aws_sdk::config::retry::RetryConfig::disabled())
            .build(),
    );
    let requests = common::sdk_requests(&records);
    let config = SubmitConfig::default()
        .with_requests_per_second(None)
        .with_concurrency(CONCURRENCY);
    // The same client (`AwsTransport` turns the SDK's retries off itself).
    let submitter = Submitter::with_config(emulator.transport(), config);

    let raw = || {
        let started = Instant::now();
        let sent = runtime.block_on(common::raw_sdk_loop(&raw_client, &requests, CONCURRENCY));
        assert_eq!(sent.billed, RECORDS as usize);
        started.elapsed()
    };
    let ours = || {
        let input = records.clone(); // `submit` takes the records: copied untimed.
        let started = Instant::now();
        let report = runtime.block_on(submitter.submit(input));
        assert_eq!(report.summary().success, RECORDS as usize);
        drop(report);
        started.elapsed()
    };
    for _ in 0..WARM_UP {
        raw();
        ours();
    }
    let (mut raw_rates, mut our_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        // Alternate which goes first, so neither always follows the other.
        let (raw_time, our_time): (Duration, Duration) = if round % 2 == 0 {
            (raw(), ours())
        } else {
            let ours = ours();
            (raw(), ours)
        };
        let rate = |time: Duration| f64::from(RECORDS) / time.as_secs_f64();
        raw_rates.push(rate(raw_time));
        our_rates.push(rate(our_time));
        ratios.push(raw_time.as_secs_f64() / our_time.as_secs_f64());
    }
    let ratio = median(&mut ratios);
    println!(
        "submit {RECORDS} records, {CONCURRENCY} in flight, {ROUNDS} alternating rounds (medians):"
    );
    println!(
        "  raw_sdk_loop        {:>9.0} records/s",
        median(&mut raw_rates)
    );
    println!(
        "  metering_submitter  {:>9.0} records/s",
        median(&mut our_rates)
    );
    println!(
        "  ratio (ours / raw, per round) {ratio:.3}; middle half {:.3}..{:.3}",
        ratios[ROUNDS / 4],
        ratios[ROUNDS * 3 / 4]
    );
}
