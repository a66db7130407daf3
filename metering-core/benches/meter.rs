//! The Meter's hot path beside its baselines, in the same run:
//! - `Handle::add` against a bare relaxed `AtomicU64::fetch_add`;
//! - `Meter::record` on an open key against a `Mutex<HashMap<UsageKey, u64>>` increment,
//!   with one thread, and the throughput of two threads against one;
//! - a checkpoint of 100,000 open keys: time, and memory per open key;
//! - `record_durable` from 64 tasks on a `SQLite` file against one `SQLite` transaction per
//!   event, with the p99 latency of `record_durable`;
//! - checkpointing and sealing 100,000 open keys on a `SQLite` file: time and peak memory,
//!   beside one `rusqlite` transaction writing as many rows;
//! - the kinds (issue 20): `Handle::observe` against a bare `AtomicU64::fetch_max`;
//!   `Handle::mark` of an identifier already seen, and of a new one, against a
//!   `Mutex<HashSet<u64>>` insert; the memory a distinct key holds per identifier
//!   (resident memory), with 1,000,000 identifiers of one key in one hour.
//!
//! `cargo bench -p metering-core --features sqlite --bench meter [-- PART]`, where `PART`
//! (`memory`, `durable`, `sqlite` or `kinds`) runs one part only.
//!
//! Ours and the baseline are measured in alternating rounds and the ratio is taken round by
//! round (the median is reported): on a shared virtual machine speed drifts within a minute.

use std::collections::{HashMap, HashSet};
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metering_core::ledger::{Ledger, SqliteLedger, UsageKey};
use metering_core::{
    Customer, CustomerAwsAccountId, Dimension, DimensionKey, Meter, MeterConfig, ProductCode,
    Quantity, Timestamp,
};

mod common;
use common::TrivialLedger;

const ROUNDS: usize = 21;

/// A dimension of one variant, as `#[derive(Dimension)]` writes it (by hand: this crate
/// cannot use `metering-derive`, which is what implements the seal).
macro_rules! dimension {
    ($name:ident, $kind:ident, $key:literal) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        struct $name;
        impl metering_core::__private::DerivedDimension for $name {}
        impl Dimension for $name {
            type Kind = metering_core::kind::$kind;
            const ALL: &'static [Self] = &[Self];
            fn as_str(self) -> &'static str {
                $key
            }
        }
    };
}

dimension!(ApiCalls, Sum, "api_calls");
dimension!(Hosts, Max, "hosts");
dimension!(Users, Distinct, "users");

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

/// Forgets the peak resident memory so far (`VmHWM` restarts from the current size).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

#[allow(clippy::cast_precision_loss, reason = "a measurement")]
fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// A `SQLite` file with the ledger's settings (WAL, `synchronous = FULL`) and one table of
/// hourly totals: what a seller writes without a meter.
fn baseline_file(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch(
        "CREATE TABLE usage (customer TEXT NOT NULL, dimension TEXT NOT NULL, \
         hour INTEGER NOT NULL, micros INTEGER NOT NULL, PRIMARY KEY (customer, dimension, hour))",
    )
    .unwrap();
    conn
}

/// Adds `micros` to a customer's hour, as the baseline does for each event.
fn baseline_upsert(tx: &rusqlite::Transaction<'_>, customer: &str, hour: i64, micros: i64) {
    tx.prepare_cached(
        "INSERT INTO usage (customer, dimension, hour, micros) VALUES (?1, 'api_calls', ?2, ?3) \
         ON CONFLICT DO UPDATE SET micros = micros + excluded.micros",
    )
    .unwrap()
    .execute(rusqlite::params![customer, hour, micros])
    .unwrap();
}

/// Events per second of one immediate transaction per event, one after another (`SQLite`
/// has one writer: concurrent callers would take turns, adding only their waits).
fn transactions_round(
    conn: &mut rusqlite::Connection,
    accounts: &[String],
    length: Duration,
) -> f64 {
    let started = Instant::now();
    let mut events = 0u64;
    while started.elapsed() < length {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        let account = &accounts[usize::try_from(events).unwrap() % accounts.len()];
        baseline_upsert(&tx, account, 0, 1_000_000);
        tx.commit().unwrap();
        events += 1;
    }
    #[allow(clippy::cast_precision_loss, reason = "a measurement")]
    let rate = events as f64 / started.elapsed().as_secs_f64();
    rate
}

/// Events per second of `record_durable` from `TASKS` tasks, each on its own customer,
/// and every call's latency.
async fn durable_round(
    meter: &Arc<Meter>,
    keys: &Arc<Vec<Customer>>,
    length: Duration,
) -> (f64, Vec<Duration>) {
    let started = Instant::now();
    let tasks: Vec<_> = (0..keys.len())
        .map(|task| {
            let (meter, keys) = (meter.clone(), keys.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while started.elapsed() < length {
                    let call = Instant::now();
                    meter
                        .record_durable(&keys[task], ApiCalls, Quantity::new(1).unwrap())
                        .await
                        .unwrap();
                    latencies.push(call.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    #[allow(clippy::cast_precision_loss, reason = "a measurement")]
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    (rate, latencies)
}

/// `record_durable` from 64 tasks on a `SQLite` file against one transaction per event on a
/// file with the same settings, alternating; and the p99 latency of `record_durable`.
fn durable_vs_transactions() {
    const TASKS: usize = 64;
    const ROUND: Duration = Duration::from_secs(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let meter = {
        let _guard = runtime.enter();
        let ledger = SqliteLedger::open(dir.path().join("meter.sqlite")).unwrap();
        Arc::new(Meter::builder().ledger(ledger).build().unwrap())
    };
    let keys = Arc::new(customers(TASKS, 500_000));
    let mut conn = baseline_file(&dir.path().join("baseline.sqlite"));
    let accounts: Vec<String> = (0..TASKS).map(|n| format!("{:012}", n + 500_000)).collect();
    let (mut ours, mut theirs, mut ratios, mut latencies) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let (rate, calls) = runtime.block_on(durable_round(&meter, &keys, ROUND));
        let baseline = transactions_round(&mut conn, &accounts, ROUND);
        ours.push(rate);
        theirs.push(baseline);
        ratios.push(rate / baseline);
        latencies.extend(calls);
    }
    latencies.sort();
    let percentile = |p: usize| latencies[latencies.len() * p / 100].as_secs_f64() * 1e3;
    println!(
        "record_durable, {TASKS} tasks vs one SQLite transaction per event: {:.0} vs {:.0} events/s, ratio (median of rounds) {:.1}x",
        median(&mut ours),
        median(&mut theirs),
        median(&mut ratios)
    );
    println!(
        "record_durable latency over {} calls: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        percentile(50),
        percentile(99),
        latencies[latencies.len() - 1].as_secs_f64() * 1e3
    );
    runtime.block_on(meter.close()).unwrap();
}

/// 100,000 open keys on a `SQLite` file: memory per key, then the checkpoint that commits
/// them and the seal that makes them records, each timed with its peak resident memory;
/// beside one `rusqlite` transaction upserting as many rows. Memory is read in the first
/// round only: later rounds reuse the heap the first one freed.
fn open_keys_on_sqlite() {
    const KEYS: usize = 100_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let keys = customers(KEYS, 1_000_000);
    let accounts: Vec<String> = (0..KEYS)
        .map(|n| format!("{:012}", n + 1_000_000))
        .collect();
    let (mut checkpoints, mut seals, mut baselines, mut memory_line) =
        (Vec::new(), Vec::new(), Vec::new(), String::new());
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(SqliteLedger::open(dir.path().join("meter.sqlite")).unwrap());
        let meter = {
            let _guard = runtime.enter();
            // No background checkpoint during the recording: the one timed takes every key.
            let config = MeterConfig::new().with_commit_interval(Duration::from_mins(10));
            Meter::builder()
                .config(config)
                .ledger(ledger.clone())
                .build()
                .unwrap()
        };
        let (before, _) = memory();
        for customer in &keys {
            meter
                .record(customer, ApiCalls, Quantity::new(1).unwrap())
                .unwrap();
        }
        let (open, _) = memory();
        reset_peak();
        let started = Instant::now();
        runtime.block_on(meter.commit()).unwrap();
        checkpoints.push(started.elapsed().as_secs_f64() * 1e3);
        let (_, checkpoint_peak) = memory();
        reset_peak();
        let (sealing, _) = memory();
        let now = Timestamp::now();
        let started = Instant::now();
        let report = runtime
            .block_on(ledger.seal(now.saturating_add(Duration::from_hours(1)), now))
            .unwrap();
        seals.push(started.elapsed().as_secs_f64() * 1e3);
        let (_, seal_peak) = memory();
        assert_eq!(report.sealed, KEYS, "{report:?}");
        runtime.block_on(meter.shutdown()).unwrap();
        if memory_line.is_empty() {
            #[allow(clippy::cast_precision_loss, reason = "a measurement")]
            let per_key = open.saturating_sub(before) as f64 / KEYS as f64;
            memory_line = format!(
                "{per_key:.0} bytes per open key; peak resident {:.0} MB in the checkpoint ({:.0} MB above the open keys), {:.0} MB in the seal ({:.0} MB above its start)",
                megabytes(checkpoint_peak),
                megabytes(checkpoint_peak.saturating_sub(open)),
                megabytes(seal_peak),
                megabytes(seal_peak.saturating_sub(sealing)),
            );
        }

        let mut conn = baseline_file(&dir.path().join("baseline.sqlite"));
        let started = Instant::now();
        let tx = conn.transaction().unwrap();
        for account in &accounts {
            baseline_upsert(&tx, account, 0, 1_000_000);
        }
        tx.commit().unwrap();
        baselines.push(started.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "100,000 open keys on SQLite: checkpoint committed in {:.0} ms, sealed into records in {:.0} ms; baseline, one transaction of 100,000 upserts, {:.0} ms (medians of 3); {memory_line}",
        median(&mut checkpoints),
        median(&mut seals),
        median(&mut baselines),
    );
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        return; // `cargo test --benches` builds this; only `cargo bench` runs it.
    }
    let part = std::env::args().skip(1).find(|arg| !arg.starts_with("--"));
    let runs = |name: &str| part.as_deref().is_none_or(|part| part == name);
    if runs("memory") {
        in_memory();
    }
    if runs("durable") {
        durable_vs_transactions();
    }
    if runs("sqlite") {
        open_keys_on_sqlite();
    }
    if runs("kinds") {
        kinds();
    }
}

/// A meter on a ledger that keeps nothing, its writer on `runtime`.
fn trivial_meter(runtime: &tokio::runtime::Runtime, config: MeterConfig) -> Meter {
    let _guard = runtime.enter();
    Meter::builder()
        .config(config)
        .ledger(TrivialLedger::default())
        .build()
        .unwrap()
}

/// The kinds' hot paths beside their baselines, and a distinct key's memory.
fn kinds() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let meter = trivial_meter(&runtime, MeterConfig::new());
    let customer = &customers(1, 0)[0];

    // Each observation a new maximum (a compare-and-swap, the worst case), and at the
    // maximum (a load).
    let hosts = meter.usage(customer, Hosts).handle().unwrap();
    let highest = AtomicU64::new(0);
    let (mut ours_from, mut baseline_from) = (0, 0);
    compare(
        "handle.observe (rising) vs AtomicU64::fetch_max (1 thread)",
        || {
            ours_from += 10_000_000;
            per_op(10_000_000, |i| {
                let level = Quantity::from_micros(ours_from + i).unwrap();
                hosts.observe(black_box(level)).unwrap();
            })
        },
        || {
            baseline_from += 10_000_000;
            per_op(10_000_000, |i| {
                highest.fetch_max(black_box(baseline_from + i), Ordering::Relaxed);
            })
        },
    );
    let level = Quantity::from_micros(1).unwrap();
    compare(
        "handle.observe (at the maximum) vs AtomicU64::fetch_max (1 thread)",
        || per_op(10_000_000, |_| hosts.observe(black_box(level)).unwrap()),
        || {
            per_op(10_000_000, |_| {
                highest.fetch_max(black_box(1), Ordering::Relaxed);
            })
        },
    );

    // Identifiers already seen, 1,000 of them, on an open key.
    let users = meter.usage(customer, Users).handle().unwrap();
    let set: Mutex<HashSet<u64>> = Mutex::new(HashSet::new());
    for id in 0..1000_u64 {
        users.mark(id).unwrap();
        set.lock().unwrap().insert(id);
    }
    compare(
        "handle.mark (seen) vs Mutex<HashSet<u64>>::insert (1 thread, 1,000 ids)",
        || per_op(10_000_000, |i| users.mark(black_box(i % 1000)).unwrap()),
        || {
            per_op(10_000_000, |i| {
                set.lock().unwrap().insert(black_box(i % 1000));
            })
        },
    );
    runtime.block_on(meter.shutdown()).unwrap();

    new_identifiers(&runtime, customer);
}

/// A meter of its own with 1,000,000 new identifiers of one key in one hour (no checkpoint
/// meanwhile: the commit interval is an hour): the time of each mark against a
/// `Mutex<HashSet<u64>>` insert, and, the first time (before this process freed memory it
/// could reuse), the resident memory held and its peak while the set grew.
fn new_identifiers(runtime: &tokio::runtime::Runtime, customer: &Customer) {
    const IDS: u64 = 1_000_000;
    let (mut ours, mut baseline, mut ratios, mut held) = (Vec::new(), Vec::new(), Vec::new(), None);
    for _ in 0..5 {
        let config = MeterConfig::new().with_commit_interval(Duration::from_hours(1));
        let meter = trivial_meter(runtime, config);
        let users = meter.usage(customer, Users).handle().unwrap();
        reset_peak();
        let (before, _) = memory();
        let x = per_op(IDS, |i| users.mark(black_box(i * 7919)).unwrap());
        let (after, peak) = memory();
        held.get_or_insert((after.saturating_sub(before), peak.saturating_sub(before)));
        let set: Mutex<HashSet<u64>> = Mutex::new(HashSet::new());
        let y = per_op(IDS, |i| {
            set.lock().unwrap().insert(black_box(i * 7919));
        });
        drop(set);
        ours.push(x);
        baseline.push(y);
        ratios.push(x / y);
        runtime.block_on(meter.shutdown()).unwrap();
    }
    println!(
        "handle.mark (new) vs Mutex<HashSet<u64>>::insert (1 thread, 1,000,000 ids): ours {:.2} ns, baseline {:.2} ns, ratio (median of rounds) {:.2}x",
        median(&mut ours),
        median(&mut baseline),
        median(&mut ratios)
    );
    let (held, peak) = held.unwrap_or_default();
    #[allow(clippy::cast_precision_loss, reason = "a measurement")]
    let per_id = held as f64 / 1e6;
    println!(
        "1,000,000 distinct ids of one key in one hour: {:.1} MB resident ({per_id:.1} bytes per id), peak {:.1} MB above the start while growing; within 64 MB: {}",
        megabytes(held),
        megabytes(peak),
        peak < 64_000_000
    );
}

/// The in-memory parts, on a ledger that keeps nothing.
#[allow(
    clippy::too_many_lines,
    reason = "one benchmark after another, in order"
)]
fn in_memory() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let meter = trivial_meter(&runtime, MeterConfig::new());
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
