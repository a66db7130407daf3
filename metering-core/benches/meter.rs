//! The Meter's hot path beside its baselines, in the same run:
//! - `Handle::add` against a bare relaxed `AtomicU64::fetch_add`;
//! - `Meter::record` on an open key against a `Mutex<HashMap<UsageKey, u64>>` increment,
//!   with one thread, and the throughput of two threads against one;
//! - a checkpoint of 100,000 open keys: time, and memory per open key.
//!
//! `cargo bench -p metering-core --features meter --bench meter`
//!
//! Ours and the baseline are measured in alternating rounds and the ratio is taken round by
//! round (the median is reported): on a shared virtual machine speed drifts within a minute.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use metering_core::ledger::{
    Checkpoint, Claim, CommitReport, HourStatus, Ledger, LedgerError, LedgerStatus, RecordId,
    RecordState, SealReport, SetAside, SetAsideId, SetAsideRequeue, SettleReport, Settlement,
    StoredRecord, UsageKey,
};
use metering_core::{
    Customer, CustomerAwsAccountId, Dimension, DimensionKey, Meter, MeterConfig, ProductCode,
    Quantity, Timestamp,
};

const ROUNDS: usize = 21;

/// Accepts every commit and keeps nothing: the hot path is what is measured.
struct NullLedger;

impl Ledger for NullLedger {
    async fn commit(&self, _: &Checkpoint, _: Timestamp) -> Result<CommitReport, LedgerError> {
        Ok(CommitReport::default())
    }
    async fn seal(&self, _: Timestamp, _: Timestamp) -> Result<SealReport, LedgerError> {
        Ok(SealReport::default())
    }
    async fn seal_customer(&self, _: &Customer, _: Timestamp) -> Result<SealReport, LedgerError> {
        Ok(SealReport::default())
    }
    async fn claim(
        &self,
        _: &str,
        _: Timestamp,
        _: Duration,
    ) -> Result<Option<Claim>, LedgerError> {
        Ok(None)
    }
    async fn settle(
        &self,
        _: &Claim,
        _: &[(RecordId, Settlement)],
        _: Timestamp,
    ) -> Result<SettleReport, LedgerError> {
        Ok(SettleReport::default())
    }
    async fn status(&self) -> Result<LedgerStatus, LedgerError> {
        Ok(LedgerStatus::default())
    }
    async fn records(&self, _: Option<RecordState>) -> Result<Vec<StoredRecord>, LedgerError> {
        Ok(Vec::new())
    }
    async fn set_aside(&self) -> Result<Vec<SetAside>, LedgerError> {
        Ok(Vec::new())
    }
    async fn requeue(&self, _: RecordId, _: Timestamp) -> Result<bool, LedgerError> {
        Ok(false)
    }
    async fn record(&self, _: RecordId) -> Result<Option<StoredRecord>, LedgerError> {
        Ok(None)
    }
    async fn hours(&self, _: Timestamp) -> Result<Vec<HourStatus>, LedgerError> {
        Ok(Vec::new())
    }
    async fn requeue_set_aside(
        &self,
        _: SetAsideId,
        _: Timestamp,
    ) -> Result<SetAsideRequeue, LedgerError> {
        Ok(SetAsideRequeue::NotFound)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct ApiCalls;

// By hand: this crate cannot use `metering-derive`, which is what implements this seal.
impl metering_core::__private::DerivedDimension for ApiCalls {}

impl Dimension for ApiCalls {
    const ALL: &'static [Self] = &[Self];
    fn key(self) -> &'static str {
        "api_calls"
    }
}

fn customers(count: usize, offset: usize) -> Vec<Customer> {
    (0..count)
        .map(|n| Customer::Account {
            product: ProductCode::new("prod-abcdef1234567890").unwrap(),
            account: CustomerAwsAccountId::new(format!("{:012}", n + offset)).unwrap(),
        })
        .collect()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Nanoseconds per operation of `ours` and `baseline`, alternating, and the median ratio.
fn compare(name: &str, mut ours: impl FnMut() -> f64, mut baseline: impl FnMut() -> f64) {
    let (mut a, mut b, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (x, y) = (ours(), baseline());
        a.push(x);
        b.push(y);
        ratios.push(x / y);
    }
    println!(
        "{name}: ours {:.2} ns, baseline {:.2} ns, ratio (median of rounds) {:.2}x",
        median(&mut a),
        median(&mut b),
        median(&mut ratios)
    );
}

/// Nanoseconds per operation of `ops` calls of `f`.
fn per_op(ops: u64, mut f: impl FnMut(u64)) -> f64 {
    let started = Instant::now();
    for i in 0..ops {
        f(i);
    }
    #[allow(clippy::cast_precision_loss, reason = "a measurement")]
    let ns = started.elapsed().as_nanos() as f64 / ops as f64;
    ns
}

/// Operations per second of `threads` threads each running `work` (which returns its own
/// operation count).
fn throughput<W: Fn(usize) -> u64 + Sync>(threads: usize, work: &W) -> f64 {
    let started = Instant::now();
    let ops: u64 = std::thread::scope(|scope| {
        let running: Vec<_> = (0..threads)
            .map(|thread| scope.spawn(move || work(thread)))
            .collect();
        running.into_iter().map(|t| t.join().unwrap()).sum()
    });
    #[allow(clippy::cast_precision_loss, reason = "a measurement")]
    let rate = ops as f64 / started.elapsed().as_secs_f64();
    rate
}

/// Resident memory in bytes (`/proc/self/statm`), and the peak (`VmHWM`).
fn memory() -> (u64, u64) {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0);
    (pages * 4096, peak_kb * 1024)
}

/// Two threads against one, each thread on its own 1,000 keys.
fn two_threads(meter: &Meter, one: Quantity) {
    let index = |i: u64| usize::try_from(i % 1000).unwrap();
    let thread_keys: Vec<Vec<Customer>> = (0..2).map(|t| customers(1000, 1000 * (t + 1))).collect();
    let work = |thread: usize| {
        let keys = &thread_keys[thread];
        for i in 0..2_000_000u64 {
            meter.record(&keys[index(i)], ApiCalls, one).unwrap();
        }
        2_000_000
    };
    // The control: what two threads of work that shares nothing get on this machine now
    // (other processes take cores too).
    let control = |_: usize| {
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        20_000_000
    };
    let (mut ratios, mut singles, mut doubles, mut controls) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS / 2 {
        let (single, double) = (throughput(1, &work), throughput(2, &work));
        singles.push(single / 1e6);
        doubles.push(double / 1e6);
        ratios.push(double / single);
        controls.push(throughput(2, &control) / throughput(1, &control));
    }
    println!(
        "record, 2 threads vs 1: {:.1} vs {:.1} million/s, ratio (median of rounds) {:.2}x; control (no shared data) {:.2}x",
        median(&mut doubles),
        median(&mut singles),
        median(&mut ratios),
        median(&mut controls)
    );
}

#[allow(
    clippy::too_many_lines,
    reason = "one benchmark after another, in order"
)]
fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return; // `cargo test --benches` builds this; only `cargo bench` runs it.
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let meter = {
        let _guard = runtime.enter();
        Meter::builder()
            .config(MeterConfig::new())
            .ledger(NullLedger)
            .build()
            .unwrap()
    };
    // The writer runs on its own thread meanwhile, committing every second.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = std::thread::spawn(move || {
        runtime.block_on(async { stopped.await.ok() });
        runtime
    });
    let one = Quantity::new(1).unwrap();
    let keys = customers(1000, 0);

    // Handle add against a bare atomic add.
    let handle = meter.usage(&keys[0], ApiCalls).handle().unwrap();
    let atomic = AtomicU64::new(0);
    compare(
        "handle.add vs AtomicU64::fetch_add (1 thread)",
        || per_op(10_000_000, |_| handle.add(black_box(one)).unwrap()),
        || {
            per_op(10_000_000, |_| {
                atomic.fetch_add(black_box(1_000_000), Ordering::Relaxed);
            })
        },
    );
    let now = Timestamp::now();
    compare(
        "handle.add_at vs AtomicU64::fetch_add (1 thread)",
        || per_op(10_000_000, |_| handle.add_at(black_box(one), now).unwrap()),
        || {
            per_op(10_000_000, |_| {
                atomic.fetch_add(black_box(1_000_000), Ordering::Relaxed);
            })
        },
    );

    // record on open keys against a HashMap behind a Mutex, over the same 1,000 keys.
    let usage_keys: Vec<UsageKey> = keys
        .iter()
        .map(|customer| {
            UsageKey::new(
                customer.clone(),
                DimensionKey::new("api_calls").unwrap(),
                None,
            )
        })
        .collect();
    let map: Mutex<HashMap<UsageKey, u64>> =
        Mutex::new(usage_keys.iter().map(|key| (key.clone(), 0)).collect());
    for customer in &keys {
        meter.record(customer, ApiCalls, one).unwrap();
    }
    let index = |i: u64| usize::try_from(i % 1000).unwrap();
    compare(
        "record vs Mutex<HashMap> increment (1 thread, 1,000 keys)",
        || {
            per_op(2_000_000, |i| {
                meter.record(&keys[index(i)], ApiCalls, one).unwrap();
            })
        },
        || {
            per_op(2_000_000, |i| {
                *map.lock().unwrap().get_mut(&usage_keys[index(i)]).unwrap() += 1_000_000;
            })
        },
    );

    two_threads(&meter, one);

    // 100,000 open keys: memory per key, and the time of a checkpoint taking all of them.
    let many = customers(100_000, 10_000);
    let (before, _) = memory();
    let handles: Vec<_> = many
        .iter()
        .map(|customer| meter.usage(customer, ApiCalls).handle().unwrap())
        .collect();
    let (after, _) = memory();
    #[allow(clippy::cast_precision_loss, reason = "a measurement")]
    let per_key = (after.saturating_sub(before)) as f64 / 100_000.0;
    let runtime = {
        stop.send(()).unwrap();
        driver.join().unwrap()
    };
    let mut times = Vec::new();
    for _ in 0..5 {
        for handle in &handles {
            handle.add(one).unwrap();
        }
        let started = Instant::now();
        runtime.block_on(meter.commit()).unwrap();
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let (_, peak) = memory();
    println!(
        "100,000 open keys: {per_key:.0} bytes per key (the customers' own strings included), checkpoint and commit {:.1} ms (median of 5), peak resident memory {} MB",
        median(&mut times),
        peak / 1_000_000
    );
    drop(handles);
    runtime.block_on(meter.shutdown()).unwrap();
}
