//! What the metrics cost the hot path: `Meter::record` and `Handle::add` on an open key,
//! with a `metrics` recorder installed (a registry-backed one, `metrics-util`'s
//! `DebuggingRecorder`, as an exporter's is) against none, in one run. The Meter is on a
//! `SQLite` file, its writer committing (and counting usage per dimension) every second in
//! the background on a multi-threaded runtime.
//!
//! `cargo bench -p metering-core --features sqlite --bench metrics`
//!
//! A global recorder cannot be removed, so the one installed has a switch: off, it hands
//! out the facade's no-op handles, as the facade does with no recorder. Criterion measures
//! each side alone; the ratio is taken round by round from alternating rounds, since this
//! shared machine's speed drifts within a minute by more than the difference measured.
//! Each side's time in a round is the least of `REPEATS` runs of about 25 ms: on a loaded
//! machine a run that lost its core for a few milliseconds says nothing about the code.
//!
//! Neither `record` nor `add` calls the facade when it succeeds: usage is counted when the
//! writer takes a checkpoint. What differs between on and off is the writer's work each
//! second (counting a checkpoint's usage per dimension, the commit's series) on another
//! thread, and whatever it takes from the recording thread.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use metering_core::{
    Customer, CustomerAwsAccountId, Dimension, Meter, ProductCode, Quantity, metrics as names,
};
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::debugging::DebuggingRecorder;

const ROUNDS: usize = 60;
const REPEATS: usize = 3;
/// Calls per run of `record` (about 50 ns each on a quiet machine) and of `add` (about 5 ns).
const RECORDS: u64 = 500_000;
const ADDS: u64 = 5_000_000;

/// A recorder that records only while switched on.
struct Switch {
    on: AtomicBool,
    inner: DebuggingRecorder,
}

impl Recorder for Switch {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }
    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }
    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description);
    }
    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        if self.on.load(Ordering::Relaxed) {
            self.inner.register_counter(key, metadata)
        } else {
            Counter::noop()
        }
    }
    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        if self.on.load(Ordering::Relaxed) {
            self.inner.register_gauge(key, metadata)
        } else {
            Gauge::noop()
        }
    }
    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        if self.on.load(Ordering::Relaxed) {
            self.inner.register_histogram(key, metadata)
        } else {
            Histogram::noop()
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct ApiCalls;

// By hand: this crate cannot use `metering-derive`, which is what implements this seal.
impl metering_core::__private::DerivedDimension for ApiCalls {}

impl Dimension for ApiCalls {
    type Kind = metering_core::kind::Sum;
    const ALL: &'static [Self] = &[Self];
    fn as_str(self) -> &'static str {
        "api_calls"
    }
}

/// The ratio of the time on to the time off, round by round, alternating which goes
/// first: quartiles and median. Each side's time is the least of `REPEATS` runs.
fn ratio(mut run: impl FnMut(bool) -> Duration) -> [f64; 3] {
    let mut run = |on| (0..REPEATS).map(|_| run(on)).min().unwrap();
    let mut ratios: Vec<f64> = (0..ROUNDS)
        .map(|round| {
            let (off, on) = if round % 2 == 0 {
                let off = run(false);
                (off, run(true))
            } else {
                let on = run(true);
                (run(false), on)
            };
            on.as_secs_f64() / off.as_secs_f64()
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    [ROUNDS / 4, ROUNDS / 2, 3 * ROUNDS / 4].map(|index| ratios[index])
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return; // `cargo test --benches` builds this; only `cargo bench` runs it.
    }
    let switch: &'static Switch = Box::leak(Box::new(Switch {
        on: AtomicBool::new(false),
        inner: DebuggingRecorder::new(),
    }));
    let snapshotter = switch.inner.snapshotter();
    metrics::set_global_recorder(switch).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let meter = runtime.block_on(async { Meter::open(dir.path().join("meter.sqlite")).unwrap() });
    let customer = Customer::Account {
        product: ProductCode::new("prod-example123").unwrap(),
        account: CustomerAwsAccountId::new("123456789012").unwrap(),
    };
    let one = Quantity::new(1).unwrap();
    let handle = meter.usage(&customer, ApiCalls).handle().unwrap();
    let record = |count: u64| {
        let started = Instant::now();
        for _ in 0..count {
            meter
                .record(black_box(&customer), ApiCalls, black_box(one))
                .unwrap();
        }
        started.elapsed()
    };
    let add = |count: u64| {
        let started = Instant::now();
        for _ in 0..count {
            handle.add(black_box(one)).unwrap();
        }
        started.elapsed()
    };
    let switched = |on: bool| switch.on.store(on, Ordering::Relaxed);

    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let mut group = criterion.benchmark_group("hot_path");
    group.throughput(Throughput::Elements(1));
    for (on, side) in [(false, "metrics_off"), (true, "metrics_on")] {
        group.bench_function(format!("record/{side}"), |b| {
            switched(on);
            b.iter_custom(record);
        });
        group.bench_function(format!("handle_add/{side}"), |b| {
            switched(on);
            b.iter_custom(add);
        });
    }
    group.finish();

    println!(
        "\ntime ratios on / off, {ROUNDS} alternating rounds, the least of {REPEATS} runs a side: median (quartiles)"
    );
    for (what, run, calls) in [
        ("record", &record as &dyn Fn(u64) -> Duration, RECORDS),
        ("handle_add", &add, ADDS),
    ] {
        let [low, median, high] = ratio(|on| {
            switched(on);
            run(calls)
        });
        println!(
            "  {what:<12} {median:.3} ({low:.3} to {high:.3}): {:+.1}% of time",
            (median - 1.0) * 100.0
        );
    }
    // The recorder saw the writer's series while on: what the run measured was recording.
    switched(true);
    runtime.block_on(meter.commit()).unwrap();
    let seen: Vec<String> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, ..)| key.key().name().to_owned())
        .collect();
    assert!(
        seen.iter().any(|name| name == names::USAGE_RECORDED),
        "{seen:?}"
    );
    println!("series recorded: {seen:?}");
    runtime.block_on(meter.close()).unwrap();
    criterion.final_summary();
}
